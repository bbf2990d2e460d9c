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

# a listening server session vts (tund vts) with Timeout = 5 and the given extra [Session] lines
start_listening_server() {
  tund_conf "$SDIR" vts server tcp tun no no "$@"
  SERVER_PID=$(start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts)
  wait_for 15 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
}

IDLE=$PROJECT_ROOT/test/helpers/idle-connections.mjs

# established connections to the server's port, seen from the server's namespace
server_conns() { ip netns exec "$NS_S" ss -Htn state established "( sport = :5000 )" | wc -l; }

@test "one deadline per handshake: 40 idle and 5 stalled connections are all closed by about Timeout (5 s)" {
  start_listening_server "MaxHandshakes = 64" "MaxHandshakesPerSource = 64"
  spawn_bg "$BATS_TEST_TMPDIR/idle.out" ip netns exec "$NS_C" timeout 60 node "$IDLE" "$VT_SADDR" 5000 40 idle 30
  spawn_bg "$BATS_TEST_TMPDIR/stall.out" ip netns exec "$NS_C" timeout 60 node "$IDLE" "$VT_SADDR" 5000 5 stall 30
  wait_for 15 grep -q '^opened 40' "$BATS_TEST_TMPDIR/idle.out"
  wait_for 15 grep -q '^opened 5' "$BATS_TEST_TMPDIR/stall.out"
  # the last close comes by Timeout plus the ERR's best-effort second plus slack for a loaded machine
  wait_for 20 grep -q '^left 0' "$BATS_TEST_TMPDIR/idle.out"
  wait_for 20 grep -q '^left 0' "$BATS_TEST_TMPDIR/stall.out"
  local last
  for f in idle stall; do
    last=$(grep '^closed' "$BATS_TEST_TMPDIR/$f.out" | tail -n1 | awk '{print $4}')
    echo "$f: last close at $last ms after all opened"
    (( last < 9000 ))
    grep -q '^greeted' "$BATS_TEST_TMPDIR/$f.out"
  done
  run grep '^greeted' "$BATS_TEST_TMPDIR/stall.out"
  assert_output 'greeted 5'
  wait_for 10 test "$(server_conns)" -eq 0
  grep -q 'timed out' "$BATS_TEST_TMPDIR/server.log"
  kill -0 "$SERVER_PID"
}

@test "the caps: over MaxHandshakesPerSource a connection is closed at once, without a greeting; a real client still gets in" {
  start_listening_server "MaxHandshakes = 8" "MaxHandshakesPerSource = 3"
  spawn_bg "$BATS_TEST_TMPDIR/idle.out" ip netns exec "$NS_C" timeout 60 node "$IDLE" "$VT_SADDR" 5000 5 idle 30
  # 2 of 5 are refused at once: closed without the greeting, well before the Timeout
  wait_for 4 sh -c "grep -c '^closed' '$BATS_TEST_TMPDIR/idle.out' | grep -qx 2"
  wait_for 15 grep -q 'refused 2 connections before their handshake: 3 handshakes from 198.18.77.2 already running (MaxHandshakesPerSource = 3)' "$BATS_TEST_TMPDIR/server.log"
  # the three that hold places time out; then a real client connects
  wait_for 20 grep -q '^left 0' "$BATS_TEST_TMPDIR/idle.out"
  grep -qx 'greeted 3' "$BATS_TEST_TMPDIR/idle.out"
  grep -qx 'refused 2' "$BATS_TEST_TMPDIR/idle.out"
  tund_conf "$CDIR" vtc client tcp tun no no
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  ping_through "$NS_C" "$VT_TS" 20
}

# tund serve on the server side (Timeout = 5 in the files; the listener's own --timeout 5), its
# node process in SERVE_NODE; the flood comes from a second client address, 198.18.78.2
FLOOD_ADDR=198.18.78.2
start_serve() {
  tund_conf "$SDIR" vts server tcp tun no no
  local wrapper
  wrapper=$(start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" serve --listen "$VT_SADDR:5000" --timeout 5 "$@")
  wait_for 15 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  SERVE_NODE=$(node_of "$wrapper")
  ip -n "$NS_C" addr add "$FLOOD_ADDR/32" dev "${TEST_TAG}b"
  ip -n "$NS_S" route add "$FLOOD_ADDR/32" dev "${TEST_TAG}a"
}
# tund serve's children: all of them (the spare included), those serving a session (they call
# themselves "tund serve: NAME"), and the spare's pid (the pre-started one, still waiting)
serve_children() { pgrep -P "$SERVE_NODE" | wc -l; }
serve_sessions() { pgrep -P "$SERVE_NODE" -f '^tund serve: ' | wc -l; }
serve_spare() { pgrep -P "$SERVE_NODE" -f ' serve --pre-started '; }

@test "tund serve: 50 idle connections start no process; over MaxHandshakesPerSource closed at once; a real client gets in meanwhile" {
  start_serve --max-handshakes-per-source 40
  spawn_bg "$BATS_TEST_TMPDIR/idle.out" ip netns exec "$NS_C" timeout 60 node "$IDLE" "$VT_SADDR" 5000 50 idle 30 "$FLOOD_ADDR"
  wait_for 15 grep -q '^opened 50' "$BATS_TEST_TMPDIR/idle.out"
  # 10 over the per-source cap are closed at once, without a greeting
  wait_for 4 sh -c "grep -c '^closed' '$BATS_TEST_TMPDIR/idle.out' | grep -qx 10"
  wait_for 10 grep -q 'serve: refused 10 connections before their handshake: 40 handshakes from 198.18.78.2 already running (MaxHandshakesPerSource = 40)' "$BATS_TEST_TMPDIR/server.log"
  # the 40 others wait for their greeting's answer: no process for any of them (the one child is
  # the spare, started with the listener)
  assert_equal "$(server_conns)" 40
  assert_equal "$(serve_children)" 1
  assert_equal "$(serve_sessions)" 0
  # a real client from the other address gets in during the flood: one session process, for it
  tund_conf "$CDIR" vtc client tcp tun no no
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  ping_through "$NS_C" "$VT_TS" 20
  assert_equal "$(serve_sessions)" 1
  # the idle ones time out by the one deadline, in the listener
  wait_for 20 grep -q '^left 0' "$BATS_TEST_TMPDIR/idle.out"
  grep -qx 'greeted 40' "$BATS_TEST_TMPDIR/idle.out"
  grep -q "serve: denied connection from $FLOOD_ADDR:[0-9]*: timed out" "$BATS_TEST_TMPDIR/server.log"
  ping_through "$NS_C" "$VT_TS" 5
}

@test "tund serve: an unknown session is refused after its response, by the listener (no process); MaxHandshakes caps every source" {
  start_serve --max-handshakes 3 --max-handshakes-per-source 3
  tund_conf "$CDIR" vtc client tcp tun no no
  sed -i 's/^Host = .*/Host = nosuch/' "$CDIR/vtc.conf"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  wait_for 15 grep -q 'authentication failed' "$BATS_TEST_TMPDIR/client.log"
  grep -q "serve: denied connection from $VT_CADDR:[0-9]*: unknown session \"nosuch\"" "$BATS_TEST_TMPDIR/server.log"
  assert_equal "$(serve_children)" 1
  assert_equal "$(serve_sessions)" 0
  # 3 idle from one address hold every place: the next connection, from another one, is refused
  spawn_bg "$BATS_TEST_TMPDIR/idle.out" ip netns exec "$NS_C" timeout 60 node "$IDLE" "$VT_SADDR" 5000 3 idle 30 "$FLOOD_ADDR"
  wait_for 15 grep -q '^opened 3' "$BATS_TEST_TMPDIR/idle.out"
  wait_for 5 test "$(server_conns)" -eq 3
  run ip netns exec "$NS_C" timeout 5 node "$IDLE" "$VT_SADDR" 5000 1 idle 4
  assert_line 'refused 1'
  wait_for 10 grep -q 'serve: refused 1 connection before their handshake: 3 handshakes already running (MaxHandshakes = 3)' "$BATS_TEST_TMPDIR/server.log"
  kill -0 "$SERVE_NODE"
}

@test "tund serve: the pre-started process serves the session; a crashed spare is replaced; the spare ends with the listener" {
  start_serve -v
  wait_for 15 grep -q 'serve: session process pid [0-9]* pre-started in' "$BATS_TEST_TMPDIR/server.log"
  local first second third
  first=$(serve_spare)
  [[ $first =~ ^[0-9]+$ ]]
  # a spare that dies is replaced, and the listener says so
  kill -KILL "$first"
  wait_for 10 grep -q "serve: pre-started session process pid $first ended (signal SIGKILL) before it had a connection" "$BATS_TEST_TMPDIR/server.log"
  wait_for 15 sh -c "pgrep -P $SERVE_NODE -f ' serve --pre-started ' | grep -qvx $first"
  second=$(serve_spare)
  # ready (past its start-up) before the client comes: otherwise the listener hands the connection
  # to it "still starting", which is correct but not what this test is about
  wait_for 15 grep -q "serve: session process pid $second pre-started in" "$BATS_TEST_TMPDIR/server.log"
  # the client's session runs in that process, which was running before the client came
  tund_conf "$CDIR" vtc client tcp tun no no
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  ping_through "$NS_C" "$VT_TS" 20
  grep -q "serve: connection from $VT_CADDR:[0-9]* for \"vts\": pid $second (pre-started)" "$BATS_TEST_TMPDIR/server.log"
  run env TUND_RUN_DIR="$SRUN" ip netns exec "$NS_S" tunctl status vts --json
  assert_success
  assert_equal "$(jq -r '.sessions[0].pid' <<<"$output")" "$second"
  assert_equal "$(tr '\0' ' ' <"/proc/$second/cmdline" | sed 's/ *$//')" 'tund serve: vts'
  # the next spare is up; killed with the listener, it goes too (its fd 3 reads end of stream)
  wait_for 15 sh -c "pgrep -P $SERVE_NODE -f ' serve --pre-started ' | grep -q ."
  third=$(serve_spare)
  assert_equal "$(serve_children)" 2
  kill -KILL "$SERVE_NODE"
  wait_for 10 sh -c "! kill -0 $third"
}
