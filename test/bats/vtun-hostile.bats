#!/usr/bin/env bats
# VTun on a hostile network (issue 13): a fake server that downgrades the link, and bounded
# pre-authentication work (one deadline per handshake, caps on unauthenticated connections).

load ../helpers/common
load ../helpers/vtun

setup() { common_setup; vtun_setup; }
teardown() { vtun_teardown; common_teardown; }

FAKE=$PROJECT_ROOT/test/helpers/vtun-fake-server.mjs

# start_fake FLAGS: the fake server on the server side's address, port 5000
start_fake() {
  FAKE_LOG=$BATS_TEST_TMPDIR/fake.out
  spawn_bg "$FAKE_LOG" ip netns exec "$NS_S" timeout 120 node "$FAKE" "$VT_SADDR" 5000 "$1" >/dev/null
  wait_for 10 grep -q '^listening' "$FAKE_LOG"
}

client_status() { env TUND_RUN_DIR="$CRUN" ip netns exec "$NS_C" tunctl status vtc --json | jq -e "$1"; }

@test "downgrade: a fake server answering <TuK> to a client with Encrypt is refused; nothing goes out; status says why" {
  start_fake '<TuK>'
  tund_conf "$CDIR" vtc client tcp tun aes128cbc no "Persist = yes"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  wait_for 20 grep -q '^offered <TuK>' "$FAKE_LOG"
  # the client hangs up on the fake server without sending one byte after OK FLAGS
  wait_for 20 grep -q '^closed after 0 bytes' "$FAKE_LOG"
  run grep -c '^received' "$FAKE_LOG"
  assert_output 0
  wait_for 10 grep -q 'server offered no encryption; this session requires aes128cbc' "$BATS_TEST_TMPDIR/client.log"
  # a link failure: with Persist the session goes on trying (back-off) and shows the reason
  wait_for 10 client_status '.sessions[0] | .state == "reconnecting" and (.reason | contains("server offered no encryption; this session requires aes128cbc"))'
  # no device came up for the fake link
  run ip -n "$NS_C" link show dev vtc
  assert_failure
}

@test "downgrade: Compress and Mode set in the client's file are held to as well" {
  start_fake '<TuKE10>'
  tund_conf "$CDIR" vtc client tcp ether aes128cbc lzo:1
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  wait_for 20 grep -q '^closed after 0 bytes' "$FAKE_LOG"
  wait_for 10 grep -q 'server offered no compression; this session requires lzo:1; server offered device type tun; this session requires Mode = tap' "$BATS_TEST_TMPDIR/client.log"
}

@test "a client without Encrypt keeps today's behaviour and logs what it accepted" {
  start_fake '<TuK>'
  tund_conf "$CDIR" vtc client tcp tun no no
  sed -i -e '/^Encrypt = /d' -e '/^Compress = /d' "$CDIR/vtc.conf"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  wait_for 20 grep -q "Encrypt is not set: accepting what $VT_SADDR:5000 offered (no encryption, no compression, transport tcp, device type tun)" "$BATS_TEST_TMPDIR/client.log"
  # and it does send (its first frame, ECHO_REQ): exactly what a fake server reads
  wait_for 20 grep -q '^received' "$FAKE_LOG"
}
