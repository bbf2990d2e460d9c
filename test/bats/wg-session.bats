#!/usr/bin/env bats
# tund's WireGuard sessions (a wg-quick file as /etc/tund/NAME.conf, run as `tund NAME`) against
# the real Debian wireguard-go, configured with the real wg(8): tund dialing (it has the peer's
# Endpoint) and tund answering (wireguard-go dials it), ping and 20 MB with checksums; wg(8) on
# the tund session's own userspace API socket; the same file read by the real wg-quick; a preshared
# key from a key file, changed by wg set and by a reload; a handshake flood at a tund responder
# (cookie replies; the established peer and a new one unharmed).
# Each side runs in a namespace of its own with a private /run/wireguard (test/helpers/wireguard.bash):
# underlay 198.18.88.1 (wireguard-go) - 198.18.88.2 (tund), tunnel 198.19.88.1 - 198.19.88.2.

bats_require_minimum_version 1.5.0
load ../helpers/common
load ../helpers/wireguard
load ../helpers/vtun # ping_through, transfer
load ../helpers/fake-dns

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

# dialing_session_up : wireguard-go waiting, tund dialing it; connected and a ping through
dialing_session_up() {
  wg_go_peer wgt0 "$T_PUB" || return 1
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820"
  tund_wg "$NAME"
  connected || return 1
  ping_through "$NS_T" "$WG_G_TUN"
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
  # tunctl status lists the peer as wg show does, and in JSON
  local g_pub
  g_pub=$(wg_pub "$WG_G_KEY")
  run tunctl status "$NAME"
  assert_success
  assert_line --regexp '^  state: connected since '
  assert_line --regexp '^  role: client \(wireguard\), pid [0-9]+$'
  assert_line "  peer: $g_pub"
  assert_line "    endpoint: $WG_G_ADDR:51820"
  assert_line "    allowed ips: $WG_G_TUN/32"
  assert_line --regexp '^    latest handshake: (now|[0-9]+ seconds? ago)$'
  assert_line --regexp '^    transfer: [0-9.]+ MiB received, [0-9.]+ MiB sent$'
  run tunctl status "$NAME" --json
  assert_success
  assert_equal "$(jq -r '.sessions[0].protocol' <<<"$output")" wireguard
  assert_equal "$(jq -c '.sessions[0].peers | map(.public_key)' <<<"$output")" "[\"$g_pub\"]"
  assert_equal "$(jq -r '.sessions[0].peers[0].endpoint' <<<"$output")" "$WG_G_ADDR:51820"
  assert_equal "$(jq -c '.sessions[0].peers[0].allowed_ips' <<<"$output")" "[\"$WG_G_TUN/32\"]"
  assert_equal "$(jq -r '.sessions[0].peers[0].persistent_keepalive_s' <<<"$output")" null
  jq -e '.sessions[0].peers[0] | (.latest_handshake | test("Z$")) and .rx_bytes > 20 * 1048576 and .tx_bytes > 20 * 1048576' <<<"$output"
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
  dialing_session_up
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

# handshakes_seen : how many initiations wireguard-go has answered (its verbose log)
handshakes_seen() { grep -c 'Sending handshake response' "$BATS_TEST_TMPDIR/wireguard-go-wgt0.log"; }

@test "rekey: with every timer at 1/100 (a new handshake every 1.2 s of sending) ping and 20 MB go on across rekeys" {
  wg_go_peer wgt0 "$T_PUB"
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820"
  TUND_TEST_WG_TIMER_SCALE=0.01 tund_wg "$NAME"
  run connected
  assert_success
  # 5 s of pings: tund sends all the time, so its keypair is renewed every 1.2 s
  run ip netns exec "$NS_T" ping -c 25 -i 0.2 -W 1 "$WG_G_TUN"
  local received
  received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$output")
  ((received >= 23)) || { echo "$output"; false; }
  run transfer "$NS_T" "$NS_G" "$WG_G_TUN" 20
  assert_success
  local n
  n=$(handshakes_seen)
  ((n >= 4)) || { echo "only $n handshakes"; false; }
  # the last one is recent: rekeying went on to the end
  (($(date +%s) - $(wgt show "$NAME" latest-handshakes | cut -f2) <= 3))
}

# ping_then CMD... : one ping from tund's side (its sending is what makes it rekey), then CMD
ping_then() {
  ip netns exec "$NS_T" ping -c 1 -W 1 "$WG_G_TUN" >/dev/null 2>&1
  "$@"
}
# refused_more_than N : tund has logged more than N handshake responses it could not authenticate
refused_more_than() { (($(grep -c 'response refused' "$BATS_TEST_TMPDIR/tund.log") > $1)); }
# handshake_after T : tund's latest handshake with the peer completed after T (epoch seconds)
handshake_after() { (($(wgt show "$NAME" latest-handshakes | cut -f2) > $1)); }

@test "PresharedKey: the key file's key is in the handshake; wg set and a reload change it in the running interface and the next handshake uses the new one" {
  local psk1=$BATS_TEST_TMPDIR/psk1 psk2=$BATS_TEST_TMPDIR/psk2 psk3=$BATS_TEST_TMPDIR/psk3 f refused t
  for f in "$psk1" "$psk2" "$psk3"; do (umask 077 && wg genpsk >"$f"); done
  wg_go_peer wgt0 "$T_PUB" preshared-key "$psk1"
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820" "PresharedKeyFile = $psk1"
  # every timer at 1/100: tund rekeys after 1.2 s of sending, so a changed key is used at once
  TUND_TEST_WG_TIMER_SCALE=0.01 tund_wg "$NAME"
  run connected
  assert_success
  run ping_through "$NS_T" "$WG_G_TUN"
  assert_success
  run wgt show "$NAME" preshared-keys
  assert_output "$(wg_pub "$WG_G_KEY")	$(cat "$psk1")"
  # wireguard-go's key changes: tund's handshakes with the old one are refused
  refused=$(grep -c 'response refused' "$BATS_TEST_TMPDIR/tund.log" || true)
  wg_in "$HOLDER_G" wg set wgt0 peer "$T_PUB" preshared-key "$psk2"
  run wait_for 30 ping_then refused_more_than "$refused"
  assert_success
  # wg set gives tund the same key: a handshake completes with it
  t=$(date +%s)
  wgt set "$NAME" peer "$(wg_pub "$WG_G_KEY")" preshared-key "$psk2"
  run wait_for 30 ping_then handshake_after "$t"
  assert_success
  run ping_through "$NS_T" "$WG_G_TUN"
  assert_success
  # again, and this time a reload brings the new key from the file
  refused=$(grep -c 'response refused' "$BATS_TEST_TMPDIR/tund.log")
  wg_in "$HOLDER_G" wg set wgt0 peer "$T_PUB" preshared-key "$psk3"
  run wait_for 30 ping_then refused_more_than "$refused"
  assert_success
  t=$(date +%s)
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820" "PresharedKeyFile = $psk3"
  run tunctl reload -v "$NAME"
  assert_success
  assert_output --partial "applied in place"
  run wait_for 30 ping_then handshake_after "$t"
  assert_success
  run wgt show "$NAME" preshared-keys
  assert_output "$(wg_pub "$WG_G_KEY")	$(cat "$psk3")"
  run stop_tund
  assert_output 0
}

@test "roaming: tund's underlay address changes in the middle of a transfer; wireguard-go follows and the transfer completes" {
  wg_go_peer wgt0 "$T_PUB"
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820"
  # a second subnet on the same link: the address tund moves to
  ip -n "$NS_G" addr add 198.18.88.9/29 dev "${TEST_TAG}a"
  ip -n "$NS_T" addr add 198.18.88.10/29 dev "${TEST_TAG}b"
  # about 4 s for 20 MB: the change happens while data flows
  ip netns exec "$NS_T" tc qdisc add dev "${TEST_TAG}b" root tbf rate 40mbit burst 64kb latency 400ms
  tund_wg "$NAME"
  run connected
  assert_success
  assert_equal "$(wg_show_field wgt0 endpoints)" "$WG_T_ADDR:$(wgt show "$NAME" listen-port)"
  ( transfer "$NS_T" "$NS_G" "$WG_G_TUN" 20 >"$BATS_TEST_TMPDIR/xfer.result" 2>&1; echo "rc=$?" >>"$BATS_TEST_TMPDIR/xfer.result" ) &
  local xfer=$!
  sleep 1
  kill -0 "$xfer" # still running: the change comes mid-transfer
  # the old address goes: packets to wireguard-go now leave from .10
  ip -n "$NS_T" addr del "$WG_T_ADDR/30" dev "${TEST_TAG}b"
  ip -n "$NS_T" route add "$WG_G_ADDR/32" dev "${TEST_TAG}b"
  wait "$xfer"
  run cat "$BATS_TEST_TMPDIR/xfer.result"
  assert_output "rc=0"
  assert_equal "$(wg_show_field wgt0 endpoints)" "198.18.88.10:$(wgt show "$NAME" listen-port)"
  run ip netns exec "$NS_G" ping -c 2 -W 2 "$WG_T_TUN"
  assert_success
}

@test "several peers behind one tund interface: two wireguard-go peers, each routed by its allowed IPs, spoke to spoke through tund" {
  local ns2 holder2 key2 pub2
  # the second wireguard-go: its own namespace, underlay 198.18.87.1/30 - 198.18.87.2/30 (tund side)
  ns2=$(make_netns g2)
  ip link add "${TEST_TAG}c" type veth peer name "${TEST_TAG}d"
  ip link set "${TEST_TAG}c" netns "$ns2"
  ip link set "${TEST_TAG}d" netns "$NS_T"
  ip -n "$ns2" addr add 198.18.87.1/30 dev "${TEST_TAG}c"
  ip -n "$NS_T" addr add 198.18.87.2/30 dev "${TEST_TAG}d"
  ip -n "$ns2" link set "${TEST_TAG}c" up
  ip -n "$NS_T" link set "${TEST_TAG}d" up
  ip netns exec "$NS_T" sysctl -qw net.ipv4.ip_forward=1
  holder2=$(wg_private_run "$ns2")
  key2=$(wg_key_file wg-go-2)
  pub2=$(wg_pub "$key2")
  # spoke 1: the usual wireguard-go (198.19.88.1); spoke 2: 198.19.88.3; both dial tund on 51823
  wg_go_peer wgt0 "$T_PUB" endpoint "$WG_T_ADDR:51823"
  wg_in "$HOLDER_G" wg set wgt0 peer "$T_PUB" allowed-ips 198.19.88.0/24
  wg_go_start "$holder2" wgt1
  wg_in "$holder2" wg set wgt1 private-key "$key2" peer "$T_PUB" endpoint 198.18.87.2:51823 allowed-ips 198.19.88.0/24
  wg_in "$holder2" ip addr add 198.19.88.3/24 dev wgt1
  wg_in "$holder2" ip link set wgt1 up
  {
    echo "[Interface]"
    echo "PrivateKey = $(cat "$T_KEY")"
    echo "ListenPort = 51823"
    echo "Address = $WG_T_TUN/24"
    echo
    echo "[Peer]"
    echo "PublicKey = $(wg_pub "$WG_G_KEY")"
    echo "AllowedIPs = $WG_G_TUN/32"
    echo
    echo "[Peer]"
    echo "PublicKey = $pub2"
    echo "AllowedIPs = 198.19.88.3/32"
  } >"$CONF"
  chmod 600 "$CONF"
  tund_wg "$NAME"
  run connected
  assert_success
  run ping_through "$NS_G" "$WG_T_TUN"
  assert_success
  run ping_through "$ns2" "$WG_T_TUN"
  assert_success
  # spoke to spoke: in through one peer, out through the other
  run ping_through "$NS_G" 198.19.88.3
  assert_success
  run transfer "$NS_G" "$ns2" 198.19.88.3 5
  assert_success
  run wgt show "$NAME" endpoints
  assert_line "$(wg_pub "$WG_G_KEY")	$WG_G_ADDR:51820"
  assert_line "$pub2	198.18.87.1:$(wg_in "$holder2" wg show wgt1 listen-port)"
  run tunctl status "$NAME" --json
  assert_equal "$(jq '.sessions[0].peers | length' <<<"$output")" 2
  jq -e '.sessions[0].peers | all(.latest_handshake != null and .rx_bytes > 0)' <<<"$output"
}

@test "reload: a new peer and a changed keepalive go into the running interface; the handshake with the others stays; a broken file changes nothing" {
  dialing_session_up
  local before other
  before=$(wg_show_field wgt0 latest-handshakes)
  other=$(wg genkey | wg pubkey)
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820" "PersistentKeepalive = 9"
  # the new peer as a user adds it: tund peer add, then a reload
  tund peer add -q "$NAME" "$other" --allowed-ips 198.19.91.0/24
  run tunctl reload -v "$NAME"
  assert_success
  assert_output --partial "1 added, 0 removed"
  run wgt show "$NAME" peers
  assert_line "$other"
  run wgt show "$NAME" persistent-keepalive
  assert_line "$(wg_pub "$WG_G_KEY")	9"
  # the new prefix is the new peer's: nothing was reconnected, the handshake is the same one
  run wgt show "$NAME" allowed-ips
  assert_line "$other	198.19.91.0/24"
  assert_equal "$(wg_show_field wgt0 latest-handshakes)" "$before"
  run ip netns exec "$NS_T" ping -c 1 -W 2 "$WG_G_TUN"
  assert_success
  # a broken file: the reload fails with file:line, the interface keeps its peers
  echo "PublicKye = nope" >>"$CONF"
  run tunctl reload "$NAME"
  assert_failure
  assert_output --partial "$CONF:"
  run wgt show "$NAME" peers
  assert_line "$other"
}

@test "reload applies DNS added, changed and removed (a root session); one that cannot be set fails the reload and the old routes and DNS stay" {
  local fake=$BATS_TEST_TMPDIR/fake-dns
  fake_dns_backends "$fake"
  PATH=$fake:$PATH dialing_session_up
  # added by a reload
  wg_quick_file "DNS = 198.18.0.53" -- "Endpoint = $WG_G_ADDR:51820"
  run tunctl reload "$NAME"
  assert_success
  assert_equal "$(cat "$fake/$NAME.tund")" "nameserver 198.18.0.53"
  # changed
  wg_quick_file "DNS = 198.18.0.54, corp.example" -- "Endpoint = $WG_G_ADDR:51820"
  run tunctl reload "$NAME"
  assert_success
  assert_equal "$(cat "$fake/$NAME.tund")" $'nameserver 198.18.0.54\nsearch corp.example'
  # a change that cannot be set: the reload fails and says why; routes and DNS stay as they were
  echo 198.18.0.55 >"$fake/refuse"
  wg_quick_file "DNS = 198.18.0.55" -- "Endpoint = $WG_G_ADDR:51820"
  run tunctl reload "$NAME"
  assert_failure
  assert_output --partial "routes and DNS of the new configuration: resolvconf -a $NAME.tund: resolvconf: refused by the test; the previous routes and DNS are set again"
  assert_output --partial "reload failed, the session keeps its old configuration"
  rm "$fake/refuse"
  assert_equal "$(cat "$fake/$NAME.tund")" $'nameserver 198.18.0.54\nsearch corp.example'
  run tunctl status "$NAME"
  assert_line --regexp '^  dns: +resolvconf 198.18.0.54'
  run ip -n "$NS_T" route show "$WG_G_TUN/32"
  assert_output --partial "dev $NAME"
  run ip netns exec "$NS_T" ping -c 1 -W 2 "$WG_G_TUN"
  assert_success
  # the same file once the backend works again: applied by the next reload
  run tunctl reload "$NAME"
  assert_success
  assert_equal "$(cat "$fake/$NAME.tund")" "nameserver 198.18.0.55"
  # removed
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820"
  run tunctl reload "$NAME"
  assert_success
  [[ ! -e $fake/$NAME.tund ]]
  run stop_tund
  assert_output 0
}

@test "socket activation: the UDP socket systemd passes (ListenDatagram=) is the interface's" {
  wg_go_peer wgt0 "$T_PUB" endpoint "$WG_T_ADDR:51824"
  # no ListenPort in the file: the port is the passed socket's
  wg_quick_file --
  rm -f "$BATS_TEST_TMPDIR/tund.log.rc"
  spawn_bg "$BATS_TEST_TMPDIR/tund.log" nsenter -t "$HOLDER_T" -m -n -- timeout 300 \
    systemd-socket-activate --datagram -l "$WG_T_ADDR:51824" -E PATH -E TUND_CONFIG_DIR -E TUND_RUN_DIR tund "$NAME" >/dev/null
  # systemd-socket-activate starts tund on the first datagram: wireguard-go's handshake
  run wg_in "$HOLDER_G" ping -c 1 -W 5 "$WG_T_TUN"
  run connected 20
  assert_success
  run ping_through "$NS_G" "$WG_T_TUN"
  assert_success
  run wgt show "$NAME" listen-port
  assert_output 51824
}

@test "SaveConfig = true: what wg set changed is in the file after the session stops, and the file still runs" {
  wg_go_peer wgt0 "$T_PUB"
  wg_quick_file "SaveConfig = true" -- "Endpoint = $WG_G_ADDR:51820"
  tund_wg "$NAME"
  run connected
  assert_success
  local other
  other=$(wg genkey | wg pubkey)
  wgt set "$NAME" peer "$other" allowed-ips 198.19.92.0/24 persistent-keepalive 15
  run stop_tund
  assert_output 0
  run cat "$CONF"
  assert_line "PublicKey = $other"
  assert_line "AllowedIPs = 198.19.92.0/24"
  assert_line "PersistentKeepalive = 15"
  assert_line "SaveConfig = true"
  assert_line "Address = $WG_T_TUN/24"
  assert_equal "$(stat -c %a "$CONF")" 600
  run tund check "$NAME"
  assert_success
  assert_output --partial "2 peers"
}

@test "a road-warrior file (AllowedIPs = 0.0.0.0/0): a full tunnel in its own table, the endpoint kept outside; all of it gone after the stop" {
  wg_go_peer wgt0 "$T_PUB"
  wg_quick_file -- "Endpoint = $WG_G_ADDR:51820" "AllowedIPs = 0.0.0.0/0"
  tund_wg "$NAME"
  run connected
  assert_success
  # anywhere goes through the tunnel, the peer's own address does not
  run ip netns exec "$NS_T" ip -4 route get 198.18.99.99
  assert_output --partial "dev $NAME"
  run ip netns exec "$NS_T" ip -4 route get "$WG_G_ADDR"
  assert_output --partial "dev ${TEST_TAG}b"
  run ping_through "$NS_T" "$WG_G_TUN"
  assert_success
  run tunctl status "$NAME" --json
  assert_equal "$(jq -r '.sessions[0].route.mode' <<<"$output")" full
  run stop_tund
  assert_output 0
  run ip netns exec "$NS_T" ip -4 route get 198.18.99.99
  refute_output --partial "dev $NAME"
  assert_equal "$(ip -n "$NS_T" rule show | grep -c 518)" 0
}

@test "while PreUp runs the session says starting and nothing is up; handshaking and connected after it" {
  WG_G_KEY=$(wg_key_file other-side)
  # the hook waits for a file the test makes (a peer without an Endpoint: connected at once after)
  local gate=$BATS_TEST_TMPDIR/gate
  wg_quick_file "PreUp = while [ ! -e $gate ]; do sleep 0.05; done" -- "AllowedIPs = 198.19.94.0/24"
  tund_wg "$NAME"
  wait_for 30 grep -qF '[#] sh -c "while' "$BATS_TEST_TMPDIR/tund.log" || { cat "$BATS_TEST_TMPDIR/tund.log"; false; }
  run tunctl status "$NAME" --json
  assert_success
  assert_equal "$(jq -r '.sessions[0].state' <<<"$output")" starting
  run ip -n "$NS_T" link show dev "$NAME"
  assert_failure
  run tunctl status "$NAME"
  assert_line --regexp '^  state: starting since '
  touch "$gate"
  run connected
  assert_success
  # the log: the hook first, then handshaking, then connected
  local hook shaking up
  hook=$(grep -nF '[#] sh -c "while' "$BATS_TEST_TMPDIR/tund.log" | cut -d: -f1)
  shaking=$(grep -nE "^$NAME: handshaking" "$BATS_TEST_TMPDIR/tund.log" | head -n1 | cut -d: -f1)
  up=$(grep -nE "^$NAME: connected" "$BATS_TEST_TMPDIR/tund.log" | head -n1 | cut -d: -f1)
  ((hook < shaking && shaking < up)) || { cat "$BATS_TEST_TMPDIR/tund.log"; false; }
}

@test "a failing PostUp aborts the start as in wg-quick: what was set up is taken back in reverse, no down hooks, exit 1; a failing PreUp sets up nothing" {
  WG_G_KEY=$(wg_key_file other-side)
  wg_quick_file "PreUp = echo pre-up-ran" "PostUp = ip -br link show %i >$BATS_TEST_TMPDIR/post-up; exit 3" \
    "PreDown = touch $BATS_TEST_TMPDIR/pre-down" "PostDown = touch $BATS_TEST_TMPDIR/post-down" -- "AllowedIPs = 198.19.94.0/24"
  run --separate-stderr nsenter -t "$HOLDER_T" -m -n -- timeout 30 tund "$NAME"
  assert_failure 1
  # PostUp ran with the interface up and its route in place, then the route went, in that order
  grep -q "^$NAME " "$BATS_TEST_TMPDIR/post-up"
  # the order on stderr: route added, PostUp, its failure, the route taken back
  local add hook failed del
  add=$(grep -nF "[#] ip -4 route add 198.19.94.0/24 dev $NAME" <<<"$stderr" | cut -d: -f1)
  hook=$(grep -nF '[#] sh -c "ip -br link show' <<<"$stderr" | cut -d: -f1)
  failed=$(grep -nF 'exited with status 3: taking back what was set up' <<<"$stderr" | cut -d: -f1)
  del=$(grep -nF "[#] ip -4 route del 198.19.94.0/24 dev $NAME" <<<"$stderr" | cut -d: -f1)
  ((add < hook && hook < failed && failed < del)) || { echo "$stderr"; false; }
  [[ $stderr == *"$NAME: not up: hook"* ]]
  # nothing is left, and the down hooks did not run (wg-quick runs none on a failed up)
  run ip -n "$NS_T" link show dev "$NAME"
  assert_failure
  [[ -z $(ip -n "$NS_T" route show 198.19.94.0/24) ]]
  [ ! -e "$BATS_TEST_TMPDIR/pre-down" ] && [ ! -e "$BATS_TEST_TMPDIR/post-down" ]

  # a failing PreUp: the start stops there, before any device or route
  sed -i 's/^PreUp = .*/PreUp = exit 4/' "$CONF"
  rm -f "$BATS_TEST_TMPDIR/post-up"
  run --separate-stderr nsenter -t "$HOLDER_T" -m -n -- timeout 30 tund "$NAME"
  assert_failure 1
  [[ $stderr == *"$NAME: not up: hook \"exit 4\" exited with status 4"* ]]
  [[ $stderr != *'[#] ip '* ]]
  [ ! -e "$BATS_TEST_TMPDIR/post-up" ]
}

@test "a handshake flood at a tund responder gets cookie replies; the established peer keeps pinging; a new peer still gets in" {
  # tund answers (ListenPort 51821) wireguard-go, and knows a second peer that will probe it later
  local probe_key probe_pub ping_log flood_log
  probe_key=$(wg_key_file probe)
  probe_pub=$(wg_pub "$probe_key")
  wg_go_peer wgt0 "$T_PUB" endpoint "$WG_T_ADDR:51821"
  wg_quick_file "ListenPort = 51821" -- "" "[Peer]" "PublicKey = $probe_pub" "AllowedIPs = 198.19.88.3/32"
  tund_wg "$NAME"
  run connected
  assert_success
  run ping_through "$NS_G" "$WG_T_TUN"
  assert_success
  local handshake
  handshake=$(wg_show_field wgt0 latest-handshakes)
  # tunctl status counts refused handshakes: none under load yet, so no cookie reply; an
  # initiation with a wrong mac1 (random past its type) is dropped and counted
  run tunctl status "$NAME" --json
  assert_success
  assert_equal "$(jq -r '.sessions[0].cookie_replies' <<<"$output")" 0
  local drops_before
  drops_before=$(jq -r '.sessions[0].handshake_drops' <<<"$output")
  [[ $drops_before =~ ^[0-9]+$ ]]
  ip netns exec "$NS_G" node -e '
    const s = require("node:dgram").createSocket("udp4");
    const m = require("node:crypto").randomBytes(148); m.writeUInt32LE(1, 0);
    s.send(m, 51821, process.argv[1], () => s.close());' "$WG_T_ADDR"
  wait_for 10 sh -c '[ "$(tunctl status "$1" --json | jq ".sessions[0].handshake_drops")" -gt "$2" ]' sh "$NAME" "$drops_before"
  # the new peer's own session file (in wireguard-go's namespace): tund as its one peer
  {
    printf '[Interface]\nPrivateKey = %s\nAddress = 198.19.88.3/32\n\n' "$(cat "$probe_key")"
    printf '[Peer]\nPublicKey = %s\nEndpoint = %s:51821\nAllowedIPs = %s/32\n' "$T_PUB" "$WG_T_ADDR" "$WG_T_TUN"
  } >"$TUND_CONFIG_DIR/${NAME}p.conf"
  chmod 600 "$TUND_CONFIG_DIR/${NAME}p.conf"

  # 30 pings over 3 s through the established session, and while they run a flood from the same
  # namespace: initiations with a valid mac1, at most 50000 of them in at most 2.5 s
  ping_log=$BATS_TEST_TMPDIR/ping.log flood_log=$BATS_TEST_TMPDIR/flood.log
  ip netns exec "$NS_G" ping -c 30 -i 0.1 -W 1 "$WG_T_TUN" >"$ping_log" 2>&1 &
  local ping_pid=$!
  echo "$ping_pid" >>"$TEST_PIDS_LIST"
  wait_for 5 grep -q 'bytes from' "$ping_log"
  ip netns exec "$NS_G" timeout 20 node "$PROJECT_ROOT/test/helpers/wg-flood.mjs" "$WG_T_ADDR" 51821 "$T_PUB" 50000 2500 >"$flood_log" 2>&1 &
  local flood_pid=$!
  echo "$flood_pid" >>"$TEST_PIDS_LIST"
  # under load now: a new legitimate peer completes its handshake during the flood
  wait_for 10 grep -q '^cookie$' "$flood_log" || { cat "$flood_log"; false; }
  run ip netns exec "$NS_G" tunauth probe "${NAME}p" --json --timeout 5
  echo "probe: $output"
  assert_success
  assert_equal "$(jq -r '.peers[0].result' <<<"$output")" ok
  wait "$flood_pid"
  wait "$ping_pid" || true
  local answered
  answered=$(grep -c 'bytes from' "$ping_log")
  echo "flood: $(tail -n 1 "$flood_log"); pings answered: $answered of 30; probe: $output" >&3
  # the flood got cookie replies (many, not a few), and was not answered otherwise
  run awk '/^sent/ {print $4}' "$flood_log"
  ((output >= 100))
  assert_equal "$(awk '/^sent/ {print $6}' "$flood_log")" 0
  # the established session went on: at least 80% of the pings answered
  ((answered >= 24))
  # the established session needed no new handshake for it
  assert_equal "$(wg_show_field wgt0 latest-handshakes)" "$handshake"
  # tunctl status counted the replies (at least those the flood got) and the drops they answered
  local cookies
  cookies=$(awk '/^sent/ {print $4}' "$flood_log")
  run tunctl status "$NAME" --json
  assert_success
  jq -e --argjson c "$cookies" --argjson d "$drops_before" '.sessions[0] | .cookie_replies >= $c and .handshake_drops >= $d + 1 + .cookie_replies' <<<"$output"
  run tunctl status "$NAME"
  assert_line --regexp '^  handshakes: [0-9]+ dropped, [0-9]+ cookie replies sent$'
}

@test "a start that fails on the wg(8) socket another process serves leaves no UDP socket behind: each retry reports that socket, not a port in use; the interface comes up once the socket is free" {
  wg_go_peer wgt0 "$T_PUB" endpoint "$WG_T_ADDR:51825"
  wg_quick_file "ListenPort = 51825" --
  # another process serves wg(8) for an interface of this name (tund's UAPI server in a fake
  # device, as wireguard-go or a second session with this name would)
  local squat=$BATS_TEST_TMPDIR/squatter squatter log=$BATS_TEST_TMPDIR/tund.log
  mkdir -p "$squat"
  squatter=$(spawn_bg "$BATS_TEST_TMPDIR/squatter.log" nsenter -t "$HOLDER_T" -m -n -- \
    node "$PROJECT_ROOT/test/helpers/uapi-device.mjs" --name "$NAME" --dir /run/wireguard --state-dir "$squat")
  wait_for 15 test -f "$squat/ready"
  tund_wg "$NAME"
  # the first attempt fails on the socket, and so does the retry a second later (the one that
  # said "UDP port 51825 is in use" while the first attempt's socket was left open)
  wait_for 20 sh -c '[ "$(grep -c "; next attempt at " "$1")" -ge 2 ]' sh "$log" || { cat "$log"; false; }
  run grep -cxF "$NAME: wireguard: \"/run/wireguard/$NAME.sock\" is in use: another process serves interface $NAME" "$log"
  assert_output 2
  # each time followed by its hint, as the CLI prints one
  run grep -A1 -xF "$NAME: wireguard: \"/run/wireguard/$NAME.sock\" is in use: another process serves interface $NAME" "$log"
  assert_equal "$(grep -cxF 'hint: is wireguard-go or another tund session running with this name?' <<<"$output")" 2
  run grep -F 'UDP port 51825 is in use' "$log"
  assert_failure
  # between the attempts nothing holds the port
  run ip netns exec "$NS_T" ss -Hlun 'sport = :51825'
  assert_success
  assert_output ''
  # the other process goes (killed: its socket file stays behind, stale): the next attempt takes
  # the socket over and the interface comes up on its port; wireguard-go gets through it
  kill -KILL "$squatter"
  wait_for 10 sh -c "! kill -0 $squatter 2>/dev/null"
  run wg_in "$HOLDER_T" test -S "/run/wireguard/$NAME.sock"
  assert_success
  run connected 30
  assert_success
  run ping_through "$NS_G" "$WG_T_TUN"
  assert_success
  run wgt show "$NAME" listen-port
  assert_output 51825
  run grep -F 'UDP port 51825 is in use' "$log"
  assert_failure
  run stop_tund
  assert_output 0
}
