# shellcheck shell=bash
# tund-vpnws-tls - the same as tund-vpnws over wss:// (the hub's own TLS, TLS 1.3; see _tund-vpnws.sh).
source "$(dirname "${BASH_SOURCE[0]}")/_tund-vpnws.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh: what TLS costs
COMPARE_TO="tund-vpnws"
anchor_start() { vpnws_start wss; }
