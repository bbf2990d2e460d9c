# shellcheck shell=bash
# tund-vtun-udp-enc - tund on both ends, VTun 3.0 over UDP, encrypt yes (Blowfish-128-ECB, as vtun-udp-enc), no compression.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh: the summary compares this anchor with these
COMPARE_TO="vtun-udp-enc"
anchor_start() { tund_start udp yes; }
