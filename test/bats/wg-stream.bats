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
