# shellcheck shell=bash
# tund-vpnws - a tund vpn-ws client through a tund hub to the hub's own TAP, ws:// (see _tund-vpnws.sh).
source "$(dirname "${BASH_SOURCE[0]}")/_tund-vpnws.sh"
anchor_start() { vpnws_start ws; }
