# shellcheck shell=bash
# vtun-udp - Debian's vtund 3.0.4 on both ends, UDP, no encryption, no compression.
source "$(dirname "${BASH_SOURCE[0]}")/_vtun.sh"
anchor_start() { vtun_start udp no; }
