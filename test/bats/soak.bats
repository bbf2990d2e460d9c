#!/usr/bin/env bats
# The soak script (test/load/soak.sh, `npm run soak` runs it for 10 minutes) in a short version:
# a VTun client with Persist = keep and Keepalive 2:2 moves checksummed chunks through its tunnel
# to `tund serve` while the underlay drops (shorter and longer than the keep-alive window) and the
# server is killed with SIGKILL and stopped with SIGTERM. Every disruption heals by itself within
# the keep-alive window, every acknowledged chunk arrived intact, the client keeps its PID and its
# open files. The script makes and removes its own namespaces.

load ../helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

@test "soak (130 s): link drops and server restarts heal by themselves within the keep-alive window; acknowledged data intact; no fd growth" {
  local json=$BATS_TEST_TMPDIR/soak.json
  TMPDIR=$BATS_TEST_TMPDIR run timeout 400 bash "$PROJECT_ROOT/test/load/soak.sh" --seconds 130 --keepalive 2:2 --gap 10 --rate 524288 --json "$json"
  echo "$output"
  assert_success
  jq -e '(.events | length) >= 4 and ([.events[] | select(.recovery_s < 0 or .recovery_s > $w)] | length) == 0
    and ([.events[] | select(.kind != "link-short" and (.reconnected | not))] | length) == 0
    and .data.acked > 0 and .data.bad == 0 and .data.acked_not_verified == 0
    and .client.fds_start == .client.fds_end and .client.exit == 0 and .server_exit == 0 and .failures == []' \
    --argjson w "$(jq .window_s "$json")" "$json"
}
