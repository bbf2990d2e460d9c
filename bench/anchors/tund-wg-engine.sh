# shellcheck shell=bash
# tund-wg-engine - tund's WireGuard engine on both ends (see _tund-wg-engine.sh), every offload on.
source "$(dirname "${BASH_SOURCE[0]}")/_tund-wg-engine.sh"
anchor_start() { wge_start; }
