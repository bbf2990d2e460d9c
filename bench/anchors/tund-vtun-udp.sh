# shellcheck shell=bash
# tund-vtun-udp - tund on both ends, VTun 3.0 over UDP, encrypt no, no compression.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh: the summary compares this anchor with these
COMPARE_TO="vtun-udp"
anchor_start() { tund_start udp no; }
