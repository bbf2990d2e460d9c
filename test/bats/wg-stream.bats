#!/usr/bin/env bats
# WireGuard over TCP between tund peers (Transport = tcp, tund.conf(5)): two tund WireGuard
# sessions in namespaces whose underlay drops every UDP packet (nftables), so only TCP can carry
# the tunnel. Handshake, ping, 20 MB each way with checksums, the connection killed (ss -K) and
# the tunnel back by itself; one responder with two initiators; a hostile connection; config errors.
# Underlay 198.18.90.1 (responder R) - 198.18.90.2 (initiator A), 198.18.91.1 (R) - 198.18.91.2
# (initiator B); tunnel 198.19.90.1 (R), .2 (A), .3 (B).

load ../helpers/common
load ../helpers/wireguard # wg_private_run, wg_key_file, wg_pub, show_logs
load ../helpers/vtun      # ping_through, transfer
load ../helpers/wg-stream # no_udp, wg_file, run_wg, connected, listening

PORT=51830

setup() {
  common_setup
  NS_R=$(make_netns r)
  NS_A=$(make_netns a)
  veth_pair "$NS_R" 198.18.90.1/30 "$NS_A" 198.18.90.2/30 1
  no_udp "$NS_R"
  no_udp "$NS_A"
  R_KEY=$(wg_key_file r)
  A_KEY=$(wg_key_file a)
}
teardown() {
  show_logs
  common_teardown
}

# the responder R (ListenPort) and the initiator A (Endpoint), both over TCP
pair_up() {
  R=${TEST_TAG}r A=${TEST_TAG}a
  wg_file "$R" "$R_KEY" 198.19.90.1 "ListenPort = $PORT" "Transport = tcp" -- "$A_KEY" 198.19.90.2
  wg_file "$A" "$A_KEY" 198.19.90.2 "Transport = tcp" -- "$R_KEY" 198.19.90.1 "Endpoint = 198.18.90.1:$PORT"
  run_wg "$NS_R" "$R" || return 1
  wait_for 10 sh -c "ip netns exec $NS_R ss -Hltn 'sport = :$PORT' | grep -q LISTEN" || return 1
  run_wg "$NS_A" "$A" || return 1
  connected "$A" || return 1
}

@test "wg over tcp with UDP blocked: handshake, ping both ways, 20 MB each way with checksums; a killed connection comes back by itself" {
  pair_up
  run ping_through "$NS_A" 198.19.90.1
  assert_success
  run ping_through "$NS_R" 198.19.90.2
  assert_success
  run transfer "$NS_A" "$NS_R" 198.19.90.1 20
  assert_success
  run transfer "$NS_R" "$NS_A" 198.19.90.2 20
  assert_success
  # nothing went over UDP (it would have been dropped and counted), one TCP connection carried it
  run ip netns exec "$NS_A" ss -Htn state established "( dport = :$PORT )"
  assert_success
  assert_equal "$(wc -l <<<"$output")" 1
  local before=$output
  # the connection killed under the tunnel: A dials again, the handshake goes on the new one
  ip netns exec "$NS_R" ss -K "( sport = :$PORT )" >/dev/null
  run wait_for 20 grep -q "dialing again" "$BATS_TEST_TMPDIR/$A.log"
  assert_success
  run wait_for 20 sh -c "ip netns exec $NS_A ss -Htn state established '( dport = :$PORT )' | grep -q ."
  assert_success
  [[ $(ip netns exec "$NS_A" ss -Htn state established "( dport = :$PORT )") != "$before" ]]
  run ping_through "$NS_R" 198.19.90.2 20
  assert_success
  run ping_through "$NS_A" 198.19.90.1 20
  assert_success
  run transfer "$NS_A" "$NS_R" 198.19.90.1 2
  assert_success
}

@test "wg over tcp: one responder, two initiators, each routed by its allowed IPs; a hostile connection is closed and changes nothing" {
  NS_B=$(make_netns b)
  veth_pair "$NS_R" 198.18.91.1/30 "$NS_B" 198.18.91.2/30 2
  no_udp "$NS_B"
  local b_key
  b_key=$(wg_key_file b)
  R=${TEST_TAG}r A=${TEST_TAG}a B=${TEST_TAG}b
  wg_file "$R" "$R_KEY" 198.19.90.1 "ListenPort = $PORT" "Transport = tcp" -- "$A_KEY" 198.19.90.2 -- "$b_key" 198.19.90.3
  wg_file "$A" "$A_KEY" 198.19.90.2 "Transport = tcp" -- "$R_KEY" 198.19.90.1 "Endpoint = 198.18.90.1:$PORT"
  wg_file "$B" "$b_key" 198.19.90.3 "Transport = tcp" -- "$R_KEY" 198.19.90.1 "Endpoint = 198.18.91.1:$PORT"
  run_wg "$NS_R" "$R"
  wait_for 10 sh -c "ip netns exec $NS_R ss -Hltn 'sport = :$PORT' | grep -q LISTEN"
  run_wg "$NS_A" "$A"
  run_wg "$NS_B" "$B"
  run connected "$A"
  assert_success
  run connected "$B"
  assert_success
  run ping_through "$NS_R" 198.19.90.2
  assert_success
  run ping_through "$NS_R" 198.19.90.3
  assert_success
  # a broken stream (a zero length) and garbage after it: that connection is closed, nothing else
  run ip netns exec "$NS_B" sh -c "printf '\\000\\000garbage' | timeout 10 socat -t 5 - TCP:198.18.91.1:$PORT"
  run wait_for 10 grep -q "message length of 0" "$BATS_TEST_TMPDIR/$R.log"
  assert_success
  run ping_through "$NS_A" 198.19.90.1
  assert_success
  run ping_through "$NS_B" 198.19.90.1
  assert_success
  run tunctl status "$R" --json
  assert_success
  assert_equal "$(jq -r '.sessions[0].peers | length' <<<"$output")" 2
}

@test "Transport: a bad value and tcp without ListenPort for a peer that must dial in are file:line errors" {
  local f=$TUND_CONFIG_DIR/bad.conf
  wg_file bad "$R_KEY" 198.19.90.1 "Transport = quic" -- "$A_KEY" 198.19.90.2
  run tund check bad
  assert_failure 78
  assert_output --partial "$f:4: Transport \"quic\""
  assert_output --partial "tcp"
  wg_file bad "$R_KEY" 198.19.90.1 "Transport = tcp" -- "$A_KEY" 198.19.90.2
  run tund check bad
  assert_failure 78
  assert_output --partial "$f:4: Transport = tcp without ListenPort: the peer at line 6 has no Endpoint"
  # a good one: tund showconf shows the transport; wg-quick's own keys stay as wg(8) reads them
  wg_file bad "$R_KEY" 198.19.90.1 "Transport = tcp" "ListenPort = $PORT" -- "$A_KEY" 198.19.90.2
  run tund check bad
  assert_success
  run tund showconf bad
  assert_success
  assert_line "Transport = tcp"
}

@test "wg over tcp, socket-activated: the responder takes the listening socket systemd passed (LISTEN_FDS) and serves the tunnel on it; FwMark marks both ends' sockets" {
  R=${TEST_TAG}r A=${TEST_TAG}a
  wg_file "$R" "$R_KEY" 198.19.90.1 "ListenPort = $PORT" "Transport = tcp" "FwMark = 0x2c" -- "$A_KEY" 198.19.90.2
  wg_file "$A" "$A_KEY" 198.19.90.2 "Transport = tcp" "FwMark = 0x2d" -- "$R_KEY" 198.19.90.1 "Endpoint = 198.18.90.1:$PORT"
  local holder
  holder=$(wg_private_run "$NS_R")
  spawn_bg "$BATS_TEST_TMPDIR/$R.log" nsenter -t "$holder" -m -n -- timeout 120 \
    systemd-socket-activate -l "198.18.90.1:$PORT" -E TUND_CONFIG_DIR -E TUND_RUN_DIR -E PATH tund "$R" >/dev/null
  listening "$NS_R" $PORT
  run_wg "$NS_A" "$A"
  run connected "$A"
  assert_success
  run ping_through "$NS_R" 198.19.90.2
  assert_success
  grep -q "listening on TCP port $PORT" "$BATS_TEST_TMPDIR/$R.log"
  # tund did not listen itself: the one listener is the socket systemd-socket-activate made
  run ip netns exec "$NS_R" ss -Hltnp "sport = :$PORT"
  assert_equal "$(wc -l <<<"$output")" 1
  run ip netns exec "$NS_R" ss -Htne state established "( sport = :$PORT )"
  assert_output --partial 'fwmark:0x2c'
  run ip netns exec "$NS_A" ss -Htne state established "( dport = :$PORT )"
  assert_output --partial 'fwmark:0x2d'
}

@test "wg over tcp: at most 64 connections without an authenticated peer (the rest refused at once), each closed after the deadline" {
  R=${TEST_TAG}r
  wg_file "$R" "$R_KEY" 198.19.90.1 "ListenPort = $PORT" "Transport = tcp" -- "$A_KEY" 198.19.90.2
  # the test timer scale makes the 10 s deadline 2 s
  run_wg "$NS_R" "$R" TUND_TEST_WG_TIMER_SCALE=0.2
  listening "$NS_R" $PORT
  run ip netns exec "$NS_A" timeout 30 node "$PROJECT_ROOT/test/helpers/idle-connections.mjs" 198.18.90.1 $PORT 70 idle 12
  assert_success
  assert_line 'opened 70'
  assert_line 'left 0'
  # the six over the cap closed before the deadline, the 64 others not before it (2 s, swept each second)
  local sixth seventh last
  sixth=$(sed -n 's/^closed 6 at //p' <<<"$output")
  seventh=$(sed -n 's/^closed 7 at //p' <<<"$output")
  last=$(sed -n 's/^closed 70 at //p' <<<"$output")
  ((sixth < 1500)) || fail "the sixth connection closed only at $sixth ms"
  ((seventh >= 1500)) || fail "the seventh connection closed already at $seventh ms (the cap is 64)"
  ((last < 8000)) || fail "the last connection closed only at $last ms (the deadline is 2 s)"
  run wait_for 5 grep -q 'too many connections without an authenticated peer (64)' "$BATS_TEST_TMPDIR/$R.log"
  assert_success
}
