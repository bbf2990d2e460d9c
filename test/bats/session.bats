#!/usr/bin/env bats
# The session lifecycle, tund to tund in two namespaces (vtun.bash): one instance per session,
# honest reload, readiness (a packet sent when `connected` is delivered at once), routes that fail
# closed, status that tells the truth (a listening server, the back-off, keep-alive), a probe that
# leaves no trace, and a flood sent with the handshake.

bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/vtun
load ../helpers/fake-dns

setup() { common_setup; vtun_setup; }
teardown() { vtun_teardown; common_teardown; }

RAW=$PROJECT_ROOT/test/helpers/vtun-raw-client.mjs

# tunctl / tund on one side: cli_c ARGS..., cli_s ARGS...
cli_c() { env TUND_CONFIG_DIR="$CDIR" TUND_RUN_DIR="$CRUN" ip netns exec "$NS_C" "$@"; }
cli_s() { env TUND_CONFIG_DIR="$SDIR" TUND_RUN_DIR="$SRUN" ip netns exec "$NS_S" "$@"; }
status_c() { cli_c tunctl status vtc --json | jq '.sessions[0]'; }
status_s() { cli_s tunctl status vts --json | jq '.sessions[0]'; }

start_server() {
  SPID=$(start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts)
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
}
start_client() { CPID=$(start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc); }

# connected_pair PROTO [extra client [Session] lines...]: server vts and client vtc (tun, no
# encryption or compression), connected
connected_pair() {
  local proto=$1
  shift
  tund_conf "$SDIR" vts server "$proto" tun no no
  tund_conf "$CDIR" vtc client "$proto" tun no no "$@"
  start_server
  start_client
  cli_c tunctl wait vtc --state connected --timeout 20s
}

# first_ping NS ADDR: the round trip of one ping in ms (the reply may take up to 3 s)
first_ping() { ip netns exec "$1" ping -c 1 -W 3 "$2" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p'; }

@test "a second tund NAME is refused before it touches anything; the live tunnel does not notice" {
  connected_pair tcp "Persist = yes"
  local hs cnode snode
  hs=$(status_c | jq -r .latest_handshake)
  cnode=$(node_of "$CPID")
  snode=$(node_of "$SPID")
  run cli_c timeout 20 tund vtc
  assert_failure 1
  assert_output "tund: vtc: already running (pid $cnode)
hint: see \"tunctl status vtc\"; stop it first to start it again"
  run cli_s timeout 20 tund vts
  assert_failure 1
  assert_line --index 0 "tund: vts: already running (pid $snode)"
  refute_output --partial EADDRINUSE
  # nothing reached the server: one connection, the same handshake, the tunnel carries packets
  assert_equal "$(grep -c 'accepted connection' "$BATS_TEST_TMPDIR/server.log")" 1
  assert_equal "$(status_c | jq -r .latest_handshake)" "$hs"
  ip netns exec "$NS_C" ping -c 1 -W 2 "$VT_TS"
}

@test "tunctl reload: a broken file prints its file:line problems and exits 1; the old configuration stays; one log line" {
  connected_pair tcp
  local hs line
  hs=$(status_c | jq -r .latest_handshake)
  echo 'Bogus = 1' >>"$CDIR/vtc.conf"
  line=$(wc -l <"$CDIR/vtc.conf")
  run --separate-stderr cli_c tunctl reload vtc
  assert_failure 1
  assert_output ''
  [[ $stderr == *"$CDIR/vtc.conf:$line: unknown key \"Bogus\""* ]]
  [[ $stderr == *'tunctl: vtc: reload failed, the session keeps its old configuration'* ]]
  # one honest line in the session's log, and no "reloaded"
  run grep reload "$BATS_TEST_TMPDIR/client.log"
  assert_output --regexp "^vtc: reload failed, keeping the old configuration: $CDIR/vtc.conf:$line: unknown key \"Bogus\""
  assert_equal "${#lines[@]}" 1
  # the link was not touched
  assert_equal "$(status_c | jq -r '.state + " " + .latest_handshake')" "connected $hs"
  ip netns exec "$NS_C" ping -c 1 -W 2 "$VT_TS"
  # fixed: reload says so and exits 0
  sed -i '/^Bogus = 1$/d' "$CDIR/vtc.conf"
  run --separate-stderr cli_c tunctl reload vtc -v
  assert_success
  [[ $stderr == *'vtc: reloaded: configuration unchanged, the link stays up'* ]]
  grep -q '^vtc: reloaded: configuration unchanged, the link stays up$' "$BATS_TEST_TMPDIR/client.log"
}

@test "tunctl reload: DNS added, changed and removed reach the system with the new link (a root session)" {
  local fake=$BATS_TEST_TMPDIR/fake-dns
  fake_dns_backends "$fake"
  PATH=$fake:$PATH connected_pair tcp "Persist = yes"
  printf '\n[Route]\nDNS = 198.18.0.53\n' >>"$CDIR/vtc.conf"
  run cli_c tunctl reload vtc
  assert_success
  wait_for 20 test -e "$fake/vtc.tund"
  assert_equal "$(cat "$fake/vtc.tund")" "nameserver 198.18.0.53"
  sed -i 's/^DNS = 198.18.0.53$/DNS = 198.18.0.54\nDNSDomains = corp.example/' "$CDIR/vtc.conf"
  run cli_c tunctl reload vtc
  assert_success
  wait_for 20 grep -qx 'nameserver 198.18.0.54' "$fake/vtc.tund"
  assert_equal "$(cat "$fake/vtc.tund")" $'nameserver 198.18.0.54\nsearch corp.example'
  cli_c tunctl wait vtc --state connected --timeout 20s
  sed -i '/^\[Route\]$/d; /^DNS = /d; /^DNSDomains = /d' "$CDIR/vtc.conf"
  run cli_c tunctl reload vtc
  assert_success
  wait_for 20 sh -c "! test -e '$fake/vtc.tund'"
  cli_c tunctl wait vtc --state connected --timeout 20s
  ip netns exec "$NS_C" ping -c 1 -W 2 "$VT_TS"
}

@test "tunctl reload of a listening server that renames [Device] Name and changes DNS: the current link stays, the next connection gets the new device and DNS (a root session)" {
  local fake=$BATS_TEST_TMPDIR/fake-dns
  fake_dns_backends "$fake"
  tund_conf "$SDIR" vts server tcp tun no no
  printf 'Name = vts1\n\n[Route]\nDNS = 198.18.0.53\n' >>"$SDIR/vts.conf"
  tund_conf "$CDIR" vtc client tcp tun no no "Persist = yes"
  PATH=$fake:$PATH start_server
  start_client
  cli_c tunctl wait vtc --state connected --timeout 20s
  wait_for 20 test -e "$fake/vts1.tund"
  assert_equal "$(cat "$fake/vts1.tund")" "nameserver 198.18.0.53"
  sed -i 's/^Name = vts1$/Name = vts2/; s/^DNS = 198.18.0.53$/DNS = 198.18.0.54/' "$SDIR/vts.conf"
  run cli_s tunctl reload vts
  assert_success
  run grep -c 'vts: reloaded: configuration changed; it applies to the next connection$' "$BATS_TEST_TMPDIR/server.log"
  assert_output 1
  # the current link keeps its device and DNS
  ip netns exec "$NS_C" ping -c 1 -W 2 "$VT_TS"
  run ip -n "$NS_S" link show dev vts1
  assert_success
  assert_equal "$(cat "$fake/vts1.tund")" "nameserver 198.18.0.53"
  # the connection ends under it: the client comes back, to the new device with the new DNS
  ip netns exec "$NS_S" ss -K "( sport = :5000 )" >/dev/null
  wait_for 20 test -e "$fake/vts2.tund"
  cli_c tunctl wait vtc --state connected --timeout 20s
  assert_equal "$(cat "$fake/vts2.tund")" "nameserver 198.18.0.54"
  run test -e "$fake/vts1.tund"
  assert_failure
  run ip -n "$NS_S" link show dev vts1
  assert_failure
  run ip -n "$NS_S" link show dev vts2
  assert_success
  ip netns exec "$NS_C" ping -c 1 -W 2 "$VT_TS"
  assert_equal "$(grep -c 'reload failed' "$BATS_TEST_TMPDIR/server.log")" 0
}

# PROTO SIDE: once `tunctl wait --state connected` returns on SIDE, its first ping is answered at once
readiness_case() {
  local proto=$1 side=$2 ms
  tund_conf "$SDIR" vts server "$proto" tun no no
  tund_conf "$CDIR" vtc client "$proto" tun no no
  start_server
  start_client
  if [[ $side == client ]]; then
    cli_c tunctl wait vtc --state connected --timeout 20s
    ms=$(first_ping "$NS_C" "$VT_TS")
  else
    cli_s tunctl wait vts --state connected --timeout 20s
    ms=$(first_ping "$NS_S" "$VT_TC")
  fi
  echo "first ping from the $side: ${ms:-none} ms"
  [[ -n $ms ]]
  awk -v t="$ms" 'BEGIN { exit !(t < 100) }'
}

for proto in tcp udp; do
  for side in client server; do
    bats_test_function --description "readiness ($proto): the first ping from the $side right after tunctl wait returns within 100 ms" -- readiness_case "$proto" "$side"
  done
done

@test "readiness with the real vtund as server: tund waits out vtund's up {}, then the first ping is answered at once" {
  vtund_server --proto tcp --type tun --keepalive yes --local-ip "$VT_TS/32" --remote-ip "$VT_TC"
  tund_conf "$CDIR" vtc client tcp tun no no
  start_client
  cli_c tunctl wait vtc --state connected --timeout 20s
  local ms
  ms=$(first_ping "$NS_C" "$VT_TS")
  echo "first ping: ${ms:-none} ms"
  [[ -n $ms ]] && awk -v t="$ms" 'BEGIN { exit !(t < 100) }'
  grep -q 'the server may be vtund: data waits a moment after the start' "$BATS_TEST_TMPDIR/client.log"
}

@test "readiness with the real vtund as client: the first ping from tund right after tunctl wait is answered at once" {
  tund_conf "$SDIR" vts server tcp tun no no
  start_server
  vtund_client --type tun --local-ip "$VT_TC" --remote-ip "$VT_TS"
  cli_s tunctl wait vts --state connected --timeout 20s
  local ms
  ms=$(first_ping "$NS_S" "$VT_TC")
  echo "first ping: ${ms:-none} ms"
  [[ -n $ms ]] && awk -v t="$ms" 'BEGIN { exit !(t < 100) }'
  # vtund is still there: the early packets did not end its session
  ip netns exec "$NS_S" ping -c 2 -i 0.2 -W 2 "$VT_TC"
}

@test "routes fail closed: never connected without them; the reason in status; a later attempt gets them" {
  tund_conf "$SDIR" vts server tcp tun no no
  tund_conf "$CDIR" vtc client tcp tun no no "Persist = yes"
  printf '\n[Route]\nMode = split\nAllowedIPs = 198.19.100.0/24\nTable = off\n' >>"$CDIR/vtc.conf"
  # someone else's route for the same prefix: adding ours fails
  ip -n "$NS_C" route add 198.19.100.0/24 dev lo
  start_server
  start_client
  wait_for 20 sh -c "env TUND_RUN_DIR=$CRUN ip netns exec $NS_C tunctl status vtc --json | jq -e '.sessions[0] | .state == \"reconnecting\" and (.reason | startswith(\"routes: \"))'"
  run cli_c tunctl wait vtc --state connected --timeout 3s
  assert_failure 1
  refute grep -q 'vtc: connected' "$BATS_TEST_TMPDIR/client.log"
  # the route is fixed: the next attempt comes up, with its route
  ip -n "$NS_C" route del 198.19.100.0/24 dev lo
  cli_c tunctl wait vtc --state connected --timeout 30s
  run sh -c "ip -n $NS_C -j route show 198.19.100.0/24 | jq -r '.[0].dev'"
  assert_output vtc
}

@test "routes fail closed without Persist: exit 1, the device and the routes are gone" {
  tund_conf "$SDIR" vts server udp tun no no
  tund_conf "$CDIR" vtc client udp tun no no
  printf '\n[Route]\nMode = split\nAllowedIPs = 198.19.100.0/24\nTable = off\n' >>"$CDIR/vtc.conf"
  ip -n "$NS_C" route add 198.19.100.0/24 dev lo
  start_server
  run cli_c timeout 30 tund vtc
  assert_failure 1
  assert_output --partial 'vtc: routes: '
  refute_output --partial 'vtc: connected'
  run ip -n "$NS_C" link show dev vtc
  assert_failure
  run sh -c "ip -n $NS_C -j route show proto 250 | jq length"
  assert_output 0
}

@test "status: a server that listens again shows no peer: no endpoint, flags, handshake or counters" {
  connected_pair tcp
  ip netns exec "$NS_C" ping -c 3 -i 0.2 -W 2 "$VT_TS" >/dev/null
  status_s | jq -e '.state == "connected" and .endpoint != null and .flags == "<TuK>" and .rx_packets >= 3'
  kill -TERM "$(node_of "$CPID")"
  wait_for 10 sh -c "env TUND_RUN_DIR=$SRUN ip netns exec $NS_S tunctl status vts --json | jq -e '.sessions[0].state == \"listening\"'"
  run status_s
  echo "$output" | jq -e '.endpoint == null and .flags == null and .latest_handshake == null and .latest_keepalive == null
    and .keepalive == null and .rx_bytes == 0 and .tx_bytes == 0 and .rx_packets == 0 and .tx_packets == 0'
  run cli_s tunctl status vts
  assert_line '  endpoint: none'
  assert_line '  latest handshake: never'
}

@test "status: the keep-alive settings and the last echo are published (JSON and the human view)" {
  # Keepalive = 10:3 on both sides (tund_conf); the server's K flag turns it on
  connected_pair tcp
  # the answer to the ECHO_REQ every VTun link starts with
  wait_for 10 sh -c "env TUND_RUN_DIR=$CRUN ip netns exec $NS_C tunctl status vtc --json | jq -e '.sessions[0].keepalive.last_echo != null'"
  status_c | jq -e '.keepalive.interval_s == 10 and .keepalive.count == 3'
  status_s | jq -e '.keepalive.interval_s == 10 and .keepalive.count == 3'
  run cli_c tunctl status vtc
  assert_line --regexp '^  keepalive: every 10 s, dead after 3 missed, last echo (now|[0-9]+ seconds? ago)$'
}

@test "back-off: the delay starts again at 1 s after a connected link" {
  tund_conf "$SDIR" vts server tcp tun no no
  tund_conf "$CDIR" vtc client tcp tun no no "Persist = yes"
  start_client
  # no server yet: 1 s, then 5 s
  wait_for 15 sh -c "test \$(grep -c 'vtc: cannot connect to' '$BATS_TEST_TMPDIR/client.log') -ge 2"
  status_c | jq -e '.state == "reconnecting" and ((.next_attempt | fromdate) - (.since | fromdate)) >= 4'
  start_server
  cli_c tunctl wait vtc --state connected --timeout 20s
  # follow the state changes: the reconnect after the good link says when its next attempt is
  local events=$BATS_TEST_TMPDIR/events.ndjson
  cli_c timeout 30 tunctl watch vtc --json >"$events" &
  wait_for 10 grep -q '"connected"' "$events"
  kill -TERM "$(node_of "$SPID")"
  wait_for 10 grep -q 'connection closed by the peer; next attempt at' "$events"
  local event at next
  event=$(grep 'connection closed by the peer; next attempt at' "$events" | head -n1)
  at=$(date -d "$(jq -r .time <<<"$event")" +%s)
  next=$(date -d "$(date -d "@$at" +%F) $(jq -r '.status | capture("next attempt at (?<t>[0-9:]+)").t' <<<"$event")" +%s)
  echo "reconnecting at $at, next attempt at $next"
  (( next - at <= 2 ))
}

# PROTO: tunauth probe authenticates and closes; the server sets nothing up and logs no error
probe_case() {
  local proto=$1
  tund_conf "$SDIR" vts server "$proto" tun no no
  tund_conf "$CDIR" vtc client "$proto" tun no no
  start_server
  run cli_c tunauth probe vtc
  assert_success
  # the server is done with the probe (whatever it made of it) ...
  wait_for 10 grep -qE 'closed the connection right after the handshake|session ended|network error' "$BATS_TEST_TMPDIR/server.log"
  wait_for 10 sh -c "env TUND_RUN_DIR=$SRUN ip netns exec $NS_S tunctl status vts --json | jq -e '.sessions[0].state == \"listening\"'"
  # ... and it set nothing up and saw nothing wrong
  run ip -n "$NS_S" link show dev vts
  assert_failure
  run grep -E 'network error|session ended|cannot' "$BATS_TEST_TMPDIR/server.log"
  assert_failure
  status_s | jq -e '.device == null'
  grep -q 'closed the connection right after the handshake (a probe?): nothing was set up' "$BATS_TEST_TMPDIR/server.log"
  # and a real client right after it gets its tunnel
  start_client
  cli_c tunctl wait vtc --state connected --timeout 20s
  ip netns exec "$NS_C" ping -c 1 -W 2 "$VT_TS"
}

for proto in tcp udp; do
  bats_test_function --description "tunauth probe ($proto): the server brings no device up and logs no network error" -- probe_case "$proto"
done

@test "a flood sent with the challenge response stays out of the handshake; the session works" {
  tund_conf "$SDIR" vts server tcp tun no no
  start_server
  printf '%s' "$VT_PW" >"$BATS_TEST_TMPDIR/pw"
  run ip netns exec "$NS_C" timeout 60 node "$RAW" "$VT_SADDR" 5000 vtdemo "$BATS_TEST_TMPDIR/pw" flood
  assert_success
  assert_line 'flags <TuK>'
  assert_line 'alive'
  run grep -E 'cannot start the packet pump|denied' "$BATS_TEST_TMPDIR/server.log"
  assert_failure
}

@test "SIGTERM while a peer is half-way through its handshake: the server stops at once, exit 0" {
  tund_conf "$SDIR" vts server tcp tun no no
  sed -i 's/^Timeout = .*/Timeout = 60/' "$SDIR/vts.conf"
  start_server
  # a client that connects and never says HOST: the server waits for it (up to Timeout)
  ip netns exec "$NS_C" timeout 60 socat -u "TCP:$VT_SADDR:5000" /dev/null &
  wait_for 10 sh -c "ip netns exec $NS_S ss -Htn state established 'sport = :5000' | grep -q ."
  local t0=$SECONDS
  kill -TERM "$(node_of "$SPID")"
  assert_equal "$(tund_rc "$BATS_TEST_TMPDIR/server.log" 10)" 0
  (( SECONDS - t0 <= 3 ))
}

@test "a listening server has one peer: a new one replaces it (Multi = killold or yes), Multi = no refuses it" {
  connected_pair tcp
  printf '%s' "$VT_PW" >"$BATS_TEST_TMPDIR/pw"
  # a second client of the same session (the raw test client, no device): it takes over
  run ip netns exec "$NS_C" timeout 30 node "$RAW" "$VT_SADDR" 5000 vtdemo "$BATS_TEST_TMPDIR/pw" badflags
  assert_success
  assert_line 'alive'
  grep -q 'vts: new connection from 198.18.77.2:[0-9]* replaces the current one' "$BATS_TEST_TMPDIR/server.log"
  # the first client was told (CONN_CLOSE) and, without Persist, is done
  assert_equal "$(tund_rc "$BATS_TEST_TMPDIR/client.log")" 0
  wait_for 10 sh -c "env TUND_RUN_DIR=$SRUN ip netns exec $NS_S tunctl status vts --json | jq -e '.sessions[0].state == \"listening\"'"
  # Multi = no (a reload applies it to the next connection): a connected session refuses another
  sed -i 's/^Keepalive = 10:3$/&\nMulti = no/' "$SDIR/vts.conf"
  cli_s tunctl reload vts
  start_client
  cli_c tunctl wait vtc --state connected --timeout 20s
  run ip netns exec "$NS_C" timeout 30 node "$RAW" "$VT_SADDR" 5000 vtdemo "$BATS_TEST_TMPDIR/pw" badflags
  assert_failure
  assert_output --partial 'authentication failed'
  grep -q 'is already connected and Multi = no' "$BATS_TEST_TMPDIR/server.log"
  ip netns exec "$NS_C" ping -c 1 -W 2 "$VT_TS"
}
