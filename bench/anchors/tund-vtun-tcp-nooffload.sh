# shellcheck shell=bash
# tund-vtun-tcp-nooffload - tund-vtun-tcp with every offload of the packet engine switched off.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh: the summary compares this anchor with these
COMPARE_TO="vtun-tcp tund-vtun-tcp"
anchor_start() { tund_no_offloads; tund_start tcp no; }
