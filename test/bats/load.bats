#!/usr/bin/env bats
# The load script (test/load/vtun-sessions.sh, `npm run load` runs it with 100 sessions) in a small
# version: 10 VTun client sessions over TCP and 5 over UDP through one `tund serve`, each in its own
# namespace; every one connects and pings through its tunnel, and after they all stop nothing is
# left (server session processes, the listener's open files, devices, addresses, routes, rules,
# run-directory files, processes). The script makes and removes its own namespaces.

load ../helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

# SESSIONS TRANSPORT: runs the script, prints its report; output = the JSON document
load_run() {
  local json=$BATS_TEST_TMPDIR/load.json
  TMPDIR=$BATS_TEST_TMPDIR run timeout 600 bash "$PROJECT_ROOT/test/load/vtun-sessions.sh" --sessions "$1" --transport "$2" \
    --interval 0.2 --connect-timeout 240 --max-time 550 --json "$json"
  echo "$output"
  assert_success
  output=$(cat "$json")
  jq -e --argjson n "$1" '.connected == $n and .pinged == $n and .server.processes == $n
    and .server.listener_fds.before == .server.listener_fds.after and .server.listener_exit == 0
    and .failures == [] and .connect_seconds.max > 0 and .server.rss_kib_median > 0' <<<"$output"
}

@test "load: 10 concurrent VTun sessions over TCP through tund serve connect, ping, and leave nothing behind" {
  load_run 10 tcp
}

@test "load: 5 concurrent VTun sessions over UDP through tund serve connect, ping, and leave nothing behind" {
  load_run 5 udp
}

@test "load: 10 WireGuard peers on one tund responder (test/load/wg-peers.sh) all handshake and get every ping answered" {
  local json=$BATS_TEST_TMPDIR/wg.json
  TMPDIR=$BATS_TEST_TMPDIR run timeout 120 bash "$PROJECT_ROOT/test/load/wg-peers.sh" --peers 10 --pings 3 --timeout 30 --json "$json"
  echo "$output"
  assert_success
  # the responder's own view agrees: every peer has a handshake
  jq -e '.handshakes == 10 and .pings_answered == 30 and .responder.peers_with_handshake == 10' "$json"
}
