# shellcheck shell=bash
# wireguard-go-offload - wireguard-go from bookworm-backports, 0.0.20231211 or newer (that build
# calls itself v0.0.20230223): TUN TSO/GRO, UDP GSO/GRO and batched I/O, what current userspace
# WireGuard does. bench/run.sh fetches and unpacks it (bench/install.sh) and passes its path in
# WG_GO_OFFLOAD, or in WG_GO_OFFLOAD_PROBLEM why there is none (then this row fails with that
# reason and the others run); everything else is the wireguard-go anchor.
# shellcheck disable=SC2034 # read by _wireguard-go.sh
WG_GO=${WG_GO_OFFLOAD:-/nonexistent/wireguard-go-offload}
source "$(dirname "${BASH_SOURCE[0]}")/_wireguard-go.sh"

if [[ -z ${WG_GO_OFFLOAD:-} ]]; then
  anchor_version() { echo "none (not fetched)"; }
  anchor_start() {
    echo "no offload-capable wireguard-go: ${WG_GO_OFFLOAD_PROBLEM:-WG_GO_OFFLOAD is not set (bench/run.sh sets it)}"
    return 1
  }
fi
