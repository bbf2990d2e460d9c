#!/usr/bin/env bats
# tund's WireGuard sessions (a wg-quick file as /etc/tund/NAME.conf, run as `tund NAME`) against
# the real Debian wireguard-go, configured with the real wg(8): tund dialing (it has the peer's
# Endpoint) and tund answering (wireguard-go dials it), ping and 20 MB with checksums; wg(8) on
# the tund session's own userspace API socket; the same file read by the real wg-quick.
# Each side runs in a namespace of its own with a private /run/wireguard (test/helpers/wireguard.bash):
# underlay 198.18.88.1 (wireguard-go) - 198.18.88.2 (tund), tunnel 198.19.88.1 - 198.19.88.2.

load ../helpers/common
load ../helpers/wireguard
load ../helpers/vtun # ping_through, transfer

setup() {
  common_setup
  wg_two_sides
  HOLDER_T=$(wg_private_run "$NS_T")
  T_KEY=$(wg_key_file tund-side)
  T_PUB=$(wg_pub "$T_KEY")
  # the session and its interface: unique per run, at most 15 characters
  NAME=${TEST_TAG}wg
  CONF=$TUND_CONFIG_DIR/$NAME.conf
}
teardown() {
  show_logs
  common_teardown
}

# tund_wg ARGS... : tund in the tund side's namespaces (network, and the mount namespace with its
# private /run/wireguard), in the background; killed in teardown. Its exit status lands in
# tund.log.rc.
tund_wg() {
  rm -f "$BATS_TEST_TMPDIR/tund.log.rc"
  spawn_bg "$BATS_TEST_TMPDIR/tund.log" sh -c 'log=$1; shift; "$@"; echo $? >"$log.rc"' sh "$BATS_TEST_TMPDIR/tund.log" \
    nsenter -t "$HOLDER_T" -m -n -- timeout 300 tund "$@" >/dev/null
}

# wgt ARGS... : the real wg(8) beside the tund session
wgt() { wg_in "$HOLDER_T" wg "$@"; }

connected() { tunctl wait "$NAME" --state connected --timeout "${1:-20}s"; }

# stop_tund : SIGTERM to the session (its pid from its own status), then its exit status
stop_tund() {
  local pid
  pid=$(tunctl status "$NAME" --json | jq -r '.sessions[0].pid')
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -TERM "$pid"
  wait_for 15 test -s "$BATS_TEST_TMPDIR/tund.log.rc" || return 1
  cat "$BATS_TEST_TMPDIR/tund.log.rc"
}

# wg_quick_file [Interface lines...] -- [Peer lines...] : the tund side's wg-quick file, written as
# people write them (comments, spacing, %i in hooks)
wg_quick_file() {
  local section=interface l
  {
    echo "# written for wg-quick(8); tund runs it unchanged"
    echo "[Interface]"
    echo "PrivateKey = $(cat "$T_KEY")   # this side"
    echo "Address = $WG_T_TUN/24"
    for l in "$@"; do
      if [[ $l == -- ]]; then
        section=peer
        echo
        echo "[Peer]"
        echo "# the wireguard-go side"
        echo "PublicKey = $(wg_pub "$WG_G_KEY")"
        echo "AllowedIPs = $WG_G_TUN/32"
        continue
      fi
      echo "$l"
    done
    [[ $section == peer ]] || { echo; echo "[Peer]"; echo "PublicKey = $(wg_pub "$WG_G_KEY")"; echo "AllowedIPs = $WG_G_TUN/32"; }
  } >"$CONF"
  chmod 600 "$CONF"
}

@test "tund dials wireguard-go: handshake, connected, ping both ways, 20 MB each way with checksums" {
  wg_go_peer wgt0 "$T_PUB"
  wg_quick_file "MTU = 1400" -- "Endpoint = $WG_G_ADDR:51820"
  tund_wg "$NAME"
  run connected
  assert_success
  # connected means the handshake is done: wireguard-go has seen it
  [[ $(wg_show_field wgt0 latest-handshakes) -gt 0 ]]
  run ping_through "$NS_T" "$WG_G_TUN"
  assert_success
  run ping_through "$NS_G" "$WG_T_TUN"
  assert_success
  run transfer "$NS_T" "$NS_G" "$WG_G_TUN" 20
  assert_success
  run transfer "$NS_G" "$NS_T" "$WG_T_TUN" 20
  assert_success
  # the device as the file says: MTU, address, the peer's allowed IPs routed through it
  assert_equal "$(ip -n "$NS_T" -j link show dev "$NAME" | jq '.[0].mtu')" 1400
  run ip -n "$NS_T" route show "$WG_G_TUN/32"
  assert_output --partial "dev $NAME"
  # wireguard-go counted more than 20 MB each way
  run wg_in "$HOLDER_G" wg show wgt0 transfer
  local rx tx
  rx=$(awk '{print $2}' <<<"$output") tx=$(awk '{print $3}' <<<"$output")
  ((rx > 20 * 1048576 && tx > 20 * 1048576))
  # an orderly stop: exit 0, device and route gone
  run stop_tund
  assert_output 0
  run ip -n "$NS_T" link show dev "$NAME"
  assert_failure
}

@test "wireguard-go dials tund: tund answers on its ListenPort, ping, 20 MB with checksums" {
  wg_go_peer wgt0 "$T_PUB" endpoint "$WG_T_ADDR:51821"
  wg_quick_file "ListenPort = 51821" --
  tund_wg "$NAME"
  # no peer to dial: ready as soon as it listens
  run connected
  assert_success
  run ping_through "$NS_G" "$WG_T_TUN"
  assert_success
  [[ $(wg_show_field wgt0 latest-handshakes) -gt 0 ]]
  run transfer "$NS_G" "$NS_T" "$WG_T_TUN" 20
  assert_success
  run ping_through "$NS_T" "$WG_G_TUN"
  assert_success
  # tund learned wireguard-go's endpoint from its packets
  run wgt show "$NAME" endpoints
  assert_output "$(wg_pub "$WG_G_KEY")	$WG_G_ADDR:51820"
  run stop_tund
  assert_output 0
}

@test "wg(8) on the tund session: wg show, showconf, wg set adds, changes and removes peers on the running interface" {
  wg_go_peer wgt0 "$T_PUB"
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820"
  tund_wg "$NAME"
  run connected
  assert_success
  run ping_through "$NS_T" "$WG_G_TUN"
  assert_success
  run wgt show interfaces
  assert_output "$NAME"
  run wgt show "$NAME"
  assert_success
  assert_line "interface: $NAME"
  assert_line "  public key: $T_PUB"
  assert_line "peer: $(wg_pub "$WG_G_KEY")"
  assert_line "  endpoint: $WG_G_ADDR:51820"
  assert_line "  allowed ips: $WG_G_TUN/32"
  assert_line --regexp '^  latest handshake: [0-9]+ seconds? ago$|^  latest handshake: Now$'
  assert_line --regexp '^  transfer: [0-9.]+ [KM]?i?B received, [0-9.]+ [KM]?i?B sent$'
  run wg_in "$HOLDER_T" stat -c %a "/run/wireguard/$NAME.sock"
  assert_output 600
  # showconf reads back what the file says
  run wgt showconf "$NAME"
  assert_line "PrivateKey = $(cat "$T_KEY")"
  assert_line "AllowedIPs = $WG_G_TUN/32"
  # a new peer, then a change to the existing one, then the new one removed
  local other
  other=$(wg genkey | wg pubkey)
  wgt set "$NAME" peer "$other" allowed-ips 198.19.89.0/24 endpoint 198.18.88.9:51820
  run wgt show "$NAME" allowed-ips
  assert_line "$other	198.19.89.0/24"
  wgt set "$NAME" peer "$(wg_pub "$WG_G_KEY")" persistent-keepalive 7 allowed-ips "$WG_G_TUN/32,198.19.90.0/24"
  run wgt show "$NAME" persistent-keepalive
  assert_line "$(wg_pub "$WG_G_KEY")	7"
  run wgt show "$NAME" allowed-ips
  assert_line --regexp "^$(wg_pub "$WG_G_KEY" | sed 's/[+/]/\\&/g')	($WG_G_TUN/32 198.19.90.0/24|198.19.90.0/24 $WG_G_TUN/32)$"
  wgt set "$NAME" peer "$other" remove
  run wgt show "$NAME" peers
  assert_output "$(wg_pub "$WG_G_KEY")"
  # the tunnel kept working through all of it (the handshake was not redone)
  run ip netns exec "$NS_T" ping -c 1 -W 2 "$WG_G_TUN"
  assert_success
  # a change wg(8) cannot make on a running tund interface is an error, and changes nothing
  run wgt set "$NAME" listen-port 51999
  assert_failure
  run wgt show "$NAME" listen-port
  refute_output 51999
}

@test "the same file is a valid wg-quick file: wg-quick strip reads it; tund check accepts it" {
  wg_go_peer wgt0 "$T_PUB"
  wg_quick_file "ListenPort = 51822" "MTU = 1400" "PostUp = touch $BATS_TEST_TMPDIR/up-%i" "PreDown = touch $BATS_TEST_TMPDIR/down-%i" -- "Endpoint = $WG_G_ADDR:51820" "PersistentKeepalive = 25"
  run wg-quick strip "$CONF"
  assert_success
  assert_line "ListenPort = 51822"
  run tund check "$NAME"
  assert_success
  tund_wg "$NAME"
  run connected
  assert_success
  # the hooks ran with %i as the interface name
  wait_for 5 test -f "$BATS_TEST_TMPDIR/up-$NAME"
  run wgt show "$NAME" persistent-keepalive
  assert_output "$(wg_pub "$WG_G_KEY")	25"
  run stop_tund
  assert_output 0
  test -f "$BATS_TEST_TMPDIR/down-$NAME"
}
