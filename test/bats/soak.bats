#!/usr/bin/env bats
# The soak script (test/load/soak.sh, `npm run soak [-- --protocol P]` runs it for 10 minutes) in a
# short version for each protocol: data in checksummed chunks through the tunnel while the client's
# underlay drops (shorter and longer than the keep-alive window) and the server end is killed with
# SIGKILL and stopped with SIGTERM. Every disruption heals by itself within the window, every
# acknowledged chunk arrived intact, the client keeps its PID and its open files. The script makes
# and removes its own namespaces.

load ../helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

# soak WHICH_RECONNECT ARGS...: runs the script with ARGS and checks its JSON; WHICH_RECONNECT is a
# jq test of the event kinds that must have set the tunnel up again
soak() {
  local must_reconnect=$1 json=$BATS_TEST_TMPDIR/soak.json
  shift
  TMPDIR=$BATS_TEST_TMPDIR run timeout 300 bash "$PROJECT_ROOT/test/load/soak.sh" "$@" --json "$json"
  echo "$output"
  assert_success
  jq -e '(.events | length) >= 4 and ([.events[] | select(.recovery_s < 0 or .recovery_s > $w)] | length) == 0
    and ([.events[] | select((.kind | '"$must_reconnect"') and (.reconnected | not))] | length) == 0
    and .data.acked > 0 and .data.bad == 0 and .data.acked_not_verified == 0
    and .client.fds_start == .client.fds_end and .client.exit == 0 and .server_exit == 0 and .failures == []' \
    --argjson w "$(jq .window_s "$json")" "$json"
}

@test "soak, VTun (100 s): link drops and server restarts heal by themselves within the keep-alive window; acknowledged data intact; no fd growth" {
  soak '. != "link-short"' --protocol vtun --seconds 100 --keepalive 2:2 --gap 10 --rate 524288
}

@test "soak, WireGuard (60 s, timers x 0.25): the initiator alone heals a restarted responder by a new handshake within the window; link drops are survived" {
  # after a link drop the current keypair still works: the tunnel is back before (or without) a
  # new handshake; a restarted responder has no keys, so only a new handshake brings it back
  soak '. == "kill-9" or . == "sigterm"' --protocol wireguard --seconds 60 --wg-timer-scale 0.25 --keepalive 2:1 --gap 5 --rate 524288
}

@test "soak, vpn-ws (95 s): the client reconnects by itself to a restarted hub; a link drop is survived; acknowledged data intact" {
  # a link drop with the hub alive is survived by the same TCP connection: only restarts must reconnect
  soak '. == "kill-9" or . == "sigterm"' --protocol vpn-ws --seconds 95 --keepalive 1:2 --gap 10 --rate 524288
}
