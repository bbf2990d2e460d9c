# shellcheck shell=bash
# vtun-tcp - Debian's vtund 3.0.4 on both ends, TCP (the iperf3 TCP loads run TCP in TCP), no
# encryption, no compression.
source "$(dirname "${BASH_SOURCE[0]}")/_vtun.sh"
anchor_start() { vtun_start tcp no; }
