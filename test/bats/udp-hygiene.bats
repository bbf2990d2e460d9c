#!/usr/bin/env bats
# UDP hijack (issue "hostile networks", point 3): a VTun UDP link's socket cannot be shared by
# another local user, datagrams strangers queued before connect() never reach the device, and
# with nat_hack only a valid frame picks the peer. Namespaces made per test, 198.18.0.0/15 only.

load ../helpers/common

HELPER=$PROJECT_ROOT/test/helpers/udp-hygiene.mjs

setup() { common_setup; }
teardown() { common_teardown; }

@test "udp: another user cannot bind beside a link's socket (SO_REUSEADDR or SO_REUSEPORT) to take its datagrams" {
  local ns dir=$BATS_TEST_TMPDIR/hold
  ns=$(make_netns u)
  ip -n "$ns" addr add 198.18.62.1/32 dev lo
  mkdir -p "$dir"
  spawn_bg "$BATS_TEST_TMPDIR/hold.log" ip netns exec "$ns" node "$HELPER" hold 198.18.62.1 5062 "$dir"
  wait_for 10 test -f "$dir/ready"
  # nobody, with both reuse options: before the fix its bind succeeded and it got the datagrams
  local thief
  thief=$(spawn_bg "$BATS_TEST_TMPDIR/thief.log" ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups \
    socat -u UDP4-RECV:5062,bind=198.18.62.1,reuseaddr,reuseport STDOUT)
  # it either fails to bind (and exits) or shows up as a second socket on the port
  wait_for 10 sh -c "! kill -0 $thief 2>/dev/null || [ \$(ip netns exec $ns ss -Hlun 'sport = :5062' | wc -l) -ge 2 ]"
  run ip netns exec "$ns" ss -Hlun 'sport = :5062'
  assert_equal "${#lines[@]}" 1
  printf 'for-the-link\n' | ip netns exec "$ns" socat -u STDIN UDP4-SENDTO:198.18.62.1:5062,bind=198.18.62.1:5069
  wait_for 5 grep -q for-the-link "$dir/got"
  run cat "$BATS_TEST_TMPDIR/thief.log"
  refute_output --partial for-the-link
  assert_output --partial 'Address already in use'
}

# in_lo_ns MODE: the helper's MODE in a namespace of its own where lo has 198.18.62.1.
in_lo_ns() {
  local ns
  ns=$(make_netns "$1")
  ip -n "$ns" addr add 198.18.62.1/32 dev lo
  run ip netns exec "$ns" node "$HELPER" "$1" 198.18.62.1
  assert_success
}

@test "udp: datagrams a stranger queued before connect() are discarded by udpSocketConnect" {
  in_lo_ns drain
  assert_equal "$(jq -c .got <<<"$output")" '["peer"]'
}

@test "udp: the pump on a connected socket drops a stranger's datagram queued behind the peer's" {
  in_lo_ns filter
  assert_equal "$(jq -c .device <<<"$output")" '["from-peer","from-peer-2"]'
  assert_equal "$(jq .foreignDrops <<<"$output")" 1
}

# hex_bytes HEX: the bytes
hex_bytes() { printf "$(sed 's/../\\x&/g' <<<"$1")"; }

# nat_hack_case COMPRESS CIPHER GARBAGE...: B waits unconnected; the garbage (hex datagrams) comes
# first from another port of A's address, then A's real traffic.
nat_hack_case() {
  local comp=$1 cipher=$2
  shift 2
  local ua=198.18.63.1 ub=198.18.63.2 ta=198.19.63.1 tb=198.19.63.2
  local ns_a ns_b da=$BATS_TEST_TMPDIR/a db=$BATS_TEST_TMPDIR/b
  ns_a=$(make_netns a)
  ns_b=$(make_netns b)
  veth_pair "$ns_a" "$ua/30" "$ns_b" "$ub/30"
  mkdir -p "$da" "$db"
  local common=(--transport udp --compress "$comp" --cipher "$cipher" --port 5063)
  spawn_bg "$BATS_TEST_TMPDIR/b.log" ip netns exec "$ns_b" node "$PROJECT_ROOT/test/helpers/pump-pair.mjs" \
    --role listen --local "$ub" --peer "$ua" --tun "${TEST_TAG}hb" --dir "$db" --nat-hack "${common[@]}" >/dev/null
  spawn_bg "$BATS_TEST_TMPDIR/a.log" ip netns exec "$ns_a" node "$PROJECT_ROOT/test/helpers/pump-pair.mjs" \
    --role connect --local "$ua" --peer "$ub" --tun "${TEST_TAG}ha" --dir "$da" "${common[@]}" >/dev/null
  wait_for 20 test -f "$da/ready" -a -f "$db/ready" || { cat "$BATS_TEST_TMPDIR"/[ab].log; return 1; }
  ip -n "$ns_a" addr add "$ta" peer "$tb" dev "${TEST_TAG}ha"
  ip -n "$ns_b" addr add "$tb" peer "$ta" dev "${TEST_TAG}hb"
  ip -n "$ns_a" link set "${TEST_TAG}ha" up
  ip -n "$ns_b" link set "${TEST_TAG}hb" up
  touch "$db/go"
  wait_for 10 test -f "$db/stats"
  local bad
  for bad in "$@"; do
    hex_bytes "$bad" | ip netns exec "$ns_a" socat -u STDIN "UDP4-SENDTO:$ub:5063,bind=$ua:5099"
  done
  wait_for 10 sh -c "jq -e '.badFrames >= $#' '$db/stats'" || { cat "$db/stats"; return 1; }
  assert_equal "$(jq -r .event "$db/stats")" null
  touch "$da/go"
  run wait_for 15 ip netns exec "$ns_a" ping -c 1 -W 1 "$tb"
  assert_success
  wait_for 5 sh -c "jq -e '.rxPackets >= 1 and .event == null' '$db/stats'"
}

# Not frames: a bad header, a length that does not match the datagram, a stranger's CONN_CLOSE
# (ends nothing). Frames that do not decode: lzo that does not decompress (before: codec_error),
# aes128cbc without its side-band.
NOT_FRAMES=(ffff0001020304 0005abcd 1000)
UNDECODABLE=0028$(printf 'ff%.0s' {1..40})
bats_test_function --description "udp nat_hack: garbage first does not pick the peer (no compression, no cipher)" -- nat_hack_case none 0 "${NOT_FRAMES[@]}"
bats_test_function --description "udp nat_hack: garbage first neither picks the peer nor ends the session (lzo)" -- nat_hack_case lzo:1 0 "${NOT_FRAMES[@]}" "$UNDECODABLE"
bats_test_function --description "udp nat_hack: garbage first does not pick the peer (aes128cbc)" -- nat_hack_case none 10 "${NOT_FRAMES[@]}" "$UNDECODABLE"
