# shellcheck shell=bash
# tund-wg-engine-nooffload - tund-wg-engine with every offload of the packet engine switched off.
source "$(dirname "${BASH_SOURCE[0]}")/_tund-wg-engine.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh
COMPARE_TO="wireguard-go wireguard-go-offload tund-wg-engine"
anchor_start() { tund_no_offloads; wge_start; }
