# shellcheck shell=bash
# wireguard-go - Debian 12's userspace WireGuard (0.0.20220316: no offloads, no batching).
source "$(dirname "${BASH_SOURCE[0]}")/_wireguard-go.sh"
