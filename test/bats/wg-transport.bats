#!/usr/bin/env bats
# WireGuard's transport on the native engine (WgEngine), end to end without a handshake: the test
# writes the keys. Against a hand-made peer (test/helpers/wg-crafted.mjs: replay, forgery,
# truncation, window, roaming, staging, expiry, handshake messages and their mac1/cookie checks),
# and engine to engine over veth pairs (test/helpers/wg-pair.mjs): pings and a transfer with
# checksums, roaming when an address changes, and one engine serving several peers routed by
# their allowed IPs.
# Namespaces made per test; addresses from 198.18.0.0/15 and 2001:2::/48 only.

load ../helpers/common
load ../helpers/vtun # ping_through, transfer
load ../helpers/wg-pair

setup() { common_setup; }
teardown() { common_teardown; }

# crafted MODE: the engine against the hand-made peer, in a namespace of its own.
crafted() {
  local ns
  ns=$(make_netns w)
  ip -n "$ns" addr add 198.18.64.1/32 dev lo
  ip -n "$ns" addr add 2001:2:0:64::1/128 dev lo nodad
  run timeout 60 ip netns exec "$ns" node "$PROJECT_ROOT/test/helpers/wg-crafted.mjs" "${TEST_TAG}w" "$1"
  sed 's/^/# /' <<<"$output" >&3
  assert_success
}

@test "wg transport: replayed, forged, truncated, unknown-index, out-of-window and misrouted packets are dropped and counted" {
  crafted drops
}

@test "wg transport: a peer roams between IPv4 and IPv6 endpoints with its authenticated packets only" {
  crafted roaming
}

@test "wg transport: staged packets wait for a keypair (bounded), handshake_needed, keepalives, removePeer" {
  crafted staging
}

@test "wg transport: REKEY_AFTER_MESSAGES asks for a handshake; past REJECT_AFTER_TIME nothing is sealed or opened" {
  crafted expiry
}

@test "wg transport: handshake messages go up to JS with their endpoint (mac1, cookie replies under load); JS sends any message" {
  crafted messages
}

@test "wg transport: two engines over a veth, ping both ways and 20 MB each way with checksums" {
  pair_up 65 30 198.18.65.1
  run ping_through "$NS_A" 198.19.65.2
  assert_success
  # (the event reaches the helper's JS thread, which appends it to the file, after the ping got through)
  wait_for 5 grep -q keypair_confirmed "$BATS_TEST_TMPDIR/b/events"
  run ping_through "$NS_B" 198.19.65.1
  assert_success
  run transfer "$NS_A" "$NS_B" 198.19.65.2 20
  assert_success
  run transfer "$NS_B" "$NS_A" 198.19.65.1 20
  assert_success
  sleep 0.5
  (($(stat a '.peers["9"].txBytes') > 20 * 1048576))
  (($(stat b '.peers["7"].rxBytes') > 20 * 1048576))
  (($(stat b '.peers["7"].txPackets') > 10000))
  assert_equal "$(stat a '.badMessages + .replayDrops + .authFailures')" 0
  assert_equal "$(stat b '.badMessages + .replayDrops + .authFailures')" 0
  assert_equal "$(stat a .event)" null
}

@test "wg transport: the initiator's underlay address changes mid-ping and the responder follows (roaming)" {
  # A's socket is bound to the wildcard address: its source follows its addresses
  pair_up 66 29 0.0.0.0
  run ping_through "$NS_A" 198.19.66.2
  assert_success
  wait_for 5 sh -c "jq -e '.peers[\"7\"].endpoint.address == \"198.18.66.1\"' $BATS_TEST_TMPDIR/b/stats"
  # a ping runs while A's address changes from .1 to .5 (.5 stays when .1, the primary, goes)
  ip netns exec "$NS_A" sysctl -qw "net.ipv4.conf.${TEST_TAG}a.promote_secondaries=1"
  ip netns exec "$NS_A" ping -c 30 -i 0.1 -W 1 198.19.66.2 >"$BATS_TEST_TMPDIR/ping.log" 2>&1 &
  local pid=$!
  sleep 0.5
  ip -n "$NS_A" addr add 198.18.66.5/29 dev "${TEST_TAG}a"
  ip -n "$NS_A" addr del 198.18.66.1/29 dev "${TEST_TAG}a"
  wait "$pid" || true
  wait_for 5 sh -c "jq -e '.peers[\"7\"].endpoint.address == \"198.18.66.5\"' $BATS_TEST_TMPDIR/b/stats" || { cat "$BATS_TEST_TMPDIR/b/stats"; false; }
  # replies follow the new endpoint: the tunnel works from the new address
  run ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 1 198.19.66.2
  assert_success
  (($(grep -c 'bytes from' "$BATS_TEST_TMPDIR/ping.log") >= 20))
}

@test "wg transport: one engine serves several peers (IPv4 and IPv6 underlay) routed by their allowed IPs" {
  local ns_h ns_1 ns_2 kh1 k1h kh2 k2h
  ns_h=$(make_netns h)
  ns_1=$(make_netns s1)
  ns_2=$(make_netns s2)
  # two veths into the hub: spoke 1 over IPv4, spoke 2 over IPv6
  ip link add "${TEST_TAG}h1" type veth peer name "${TEST_TAG}p1"
  ip link add "${TEST_TAG}h2" type veth peer name "${TEST_TAG}p2"
  ip link set "${TEST_TAG}h1" netns "$ns_h"
  ip link set "${TEST_TAG}h2" netns "$ns_h"
  ip link set "${TEST_TAG}p1" netns "$ns_1"
  ip link set "${TEST_TAG}p2" netns "$ns_2"
  ip -n "$ns_h" addr add 198.18.67.1/30 dev "${TEST_TAG}h1"
  ip -n "$ns_1" addr add 198.18.67.2/30 dev "${TEST_TAG}p1"
  ip -n "$ns_h" addr add 2001:2:0:67::1/64 dev "${TEST_TAG}h2" nodad
  ip -n "$ns_2" addr add 2001:2:0:67::2/64 dev "${TEST_TAG}p2" nodad
  local l
  for l in "$ns_h ${TEST_TAG}h1" "$ns_h ${TEST_TAG}h2" "$ns_1 ${TEST_TAG}p1" "$ns_2 ${TEST_TAG}p2"; do
    ip -n "${l% *}" link set "${l#* }" up
  done
  ip netns exec "$ns_h" sysctl -qw net.ipv4.ip_forward=1
  kh1=$(hex32) k1h=$(hex32) kh2=$(hex32) k2h=$(hex32)
  # the hub binds [::] (both families); each spoke's allowed IPs are its own tunnel address; the
  # spokes initiated (their keypairs are current), the hub's wait for each spoke's first packet
  wg_end h "$ns_h" :: 51820 "{\"peers\": [
    $(peer 1 198.18.67.2 51821 '["198.19.67.11/32"]' "$(keypair "$kh1" "$k1h" 1001 1101 false)"),
    $(peer 2 2001:2:0:67::2 51822 '["198.19.67.12/32", "2001:2:0:167::12/128"]' "$(keypair "$kh2" "$k2h" 1002 1102 false)")]}"
  wg_end s1 "$ns_1" 198.18.67.2 51821 "{\"peers\": [$(peer 5 198.18.67.1 51820 '["198.19.67.0/24"]' "$(keypair "$k1h" "$kh1" 1101 1001 true)")]}"
  wg_end s2 "$ns_2" 2001:2:0:67::2 51822 "{\"peers\": [$(peer 5 2001:2:0:67::1 51820 '["198.19.67.0/24", "2001:2:0:167::/64"]' "$(keypair "$k2h" "$kh2" 1102 1002 true)")]}"
  tun_up "$ns_h" "${TEST_TAG}wh" 198.19.67.1/24
  ip -n "$ns_h" addr add 2001:2:0:167::1/64 dev "${TEST_TAG}wh" nodad
  tun_up "$ns_1" "${TEST_TAG}ws1" 198.19.67.11/24
  tun_up "$ns_2" "${TEST_TAG}ws2" 198.19.67.12/24
  ip -n "$ns_2" addr add 2001:2:0:167::12/64 dev "${TEST_TAG}ws2" nodad
  touch "$BATS_TEST_TMPDIR"/{h,s1,s2}/go
  # each spoke reaches the hub; the hub's replies go to the right peer
  run ping_through "$ns_1" 198.19.67.1
  assert_success
  run ping_through "$ns_2" 198.19.67.1
  assert_success
  run wait_for 15 ip netns exec "$ns_2" ping -6 -c 1 -W 1 2001:2:0:167::1
  assert_success
  # spoke to spoke through the hub: in by one peer, out by the other
  run ping_through "$ns_1" 198.19.67.12
  assert_success
  run transfer "$ns_1" "$ns_2" 198.19.67.12 5
  assert_success
  sleep 0.5
  (($(stat h '.peers["1"].rxBytes') > 5 * 1048576))
  (($(stat h '.peers["2"].txBytes') > 5 * 1048576))
  assert_equal "$(stat h '.peers["2"].endpoint.address')" 2001:2:0:67::2
  assert_equal "$(stat h '.peers["1"].endpoint.address')" 198.18.67.2
  assert_equal "$(stat h '.sourceDrops + .authFailures + .replayDrops')" 0
  # spoke 1 pretending to be spoke 2 (a source it does not own) is dropped at the hub
  ip -n "$ns_1" addr add 198.19.67.12/32 dev "${TEST_TAG}ws1"
  ip netns exec "$ns_1" ping -c 2 -i 0.2 -W 1 -I 198.19.67.12 198.19.67.1 >/dev/null 2>&1 || true
  wait_for 5 sh -c "jq -e '.peers[\"1\"].sourceDrops >= 2' $BATS_TEST_TMPDIR/h/stats" || { cat "$BATS_TEST_TMPDIR/h/stats"; false; }
}

@test "wg transport: engines started and stopped in a loop while packets flow (one stop event each, no fd leak)" {
  local ns
  ns=$(make_netns u)
  ip -n "$ns" addr add 198.18.68.1/32 dev lo
  run timeout 60 ip netns exec "$ns" node "$PROJECT_ROOT/test/helpers/wg-updown.mjs" 150
  sed 's/^/# /' <<<"$output" >&3
  assert_success
}

@test "wg transport: the wg-pair helper's signals work from READY on (a keepalive asked before the engine runs is sent; SIGTERM before go stops cleanly)" {
  # The tests and the benchmark signal a helper once it is ready: a handler installed after that
  # (after the engine started) left a window in which a signal got Node's default (SIGUSR1 starts
  # the inspector, SIGTERM kills without the last stats).
  local ns dir=$BATS_TEST_TMPDIR/s pid rc=0
  ns=$(make_netns s)
  ip -n "$ns" addr add 198.18.69.1/32 dev lo
  wg_end s "$ns" 198.18.69.1 51820 "{\"peers\": [$(peer 1 198.18.69.1 51821 '["198.19.69.2/32"]' "$(keypair "$(hex32)" "$(hex32)" 1 2 true)")]}"
  pid=$(pgrep -f -- "--dir $dir " | head -n1)
  kill -USR1 "$pid"
  touch "$dir/go"
  wait_for 10 sh -c "jq -e '.peers[\"1\"].keepalivesSent >= 1' '$dir/stats'" || { cat "$BATS_TEST_TMPDIR/s.log" "$dir/stats"; false; }
  refute grep -q Debugger "$BATS_TEST_TMPDIR/s.log"
  # a second helper, stopped between READY and go: it exits 0 with its "stopped" line
  dir=$BATS_TEST_TMPDIR/t
  mkdir -p "$dir"
  echo '{"peers": []}' >"$dir/config.json"
  ip netns exec "$ns" node "$PROJECT_ROOT/test/helpers/wg-pair.mjs" --tun "${TEST_TAG}wt" --bind 198.18.69.1 --port 51822 \
    --dir "$dir" --config "$dir/config.json" >"$BATS_TEST_TMPDIR/t.log" 2>&1 &
  pid=$!
  echo "$pid" >>"$TEST_PIDS_LIST"
  wait_for 20 test -f "$dir/ready" || { cat "$BATS_TEST_TMPDIR/t.log"; false; }
  kill -TERM "$pid"
  wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
  wait "$pid" || rc=$?
  cat "$BATS_TEST_TMPDIR/t.log"
  assert_equal "$rc" 0
  grep -q '^\[wg-pair\] stopped' "$BATS_TEST_TMPDIR/t.log"
}
