# shellcheck shell=bash
# tund-vtun-tcp - tund on both ends, VTun 3.0 over TCP, encrypt no, no compression.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
anchor_start() { tund_start tcp no; }
