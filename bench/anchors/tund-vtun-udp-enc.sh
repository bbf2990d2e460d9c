# shellcheck shell=bash
# tund-vtun-udp-enc - tund on both ends, VTun 3.0 over UDP, encrypt yes (Blowfish-128-ECB, as vtun-udp-enc), no compression.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
anchor_start() { tund_start udp yes; }
