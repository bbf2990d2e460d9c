# shellcheck shell=bash
# vtun-udp-enc - Debian's vtund 3.0.4 on both ends, UDP, "encrypt yes" (Blowfish-128-ECB), no
# compression.
source "$(dirname "${BASH_SOURCE[0]}")/_vtun.sh"
anchor_start() { vtun_start udp yes; }
