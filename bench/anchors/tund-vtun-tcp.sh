# shellcheck shell=bash
# tund-vtun-tcp - tund on both ends, VTun 3.0 over TCP, encrypt no, no compression.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh: the summary compares this anchor with these
COMPARE_TO="vtun-tcp"
anchor_start() { tund_start tcp no; }
