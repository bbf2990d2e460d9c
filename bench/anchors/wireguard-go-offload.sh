# shellcheck shell=bash
# wireguard-go-offload - wireguard-go 0.0.20231211 from bookworm-backports (the binary calls
# itself v0.0.20230223): TUN TSO/GRO, UDP GSO/GRO and batched I/O, what current userspace
# WireGuard does. bench/run.sh fetches and unpacks it (bench/install.sh) and passes its path in
# WG_GO_OFFLOAD; everything else is the wireguard-go anchor.
# shellcheck disable=SC2034 # read by _wireguard-go.sh
WG_GO=${WG_GO_OFFLOAD:-/nonexistent/wireguard-go-offload}
source "$(dirname "${BASH_SOURCE[0]}")/_wireguard-go.sh"
