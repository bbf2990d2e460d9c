#!/usr/bin/env bats
# The benchmark's vpn-ws anchor end to end (bench/anchors/_tund-vpnws.sh through bench/run.sh, one
# short repetition): a tund client through a tund hub, and the hub's memory per connected client
# (anchor_measure: 20 more raw vpn-ws clients join after the loads). Namespaces are the bench's own,
# named per run; addresses from 198.18.0.0/15 only.
bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/bench

@test "bench: the tund-vpnws anchor measures the hub's memory per client" {
  bench_run REPS=1 TCP_SECS=1 UDP_SECS=1 PING_COUNT=5 IDLE_SECS=1 \
    RESULTS_DIR="$BATS_TEST_TMPDIR/results" bash "$PROJECT_ROOT/bench/run.sh" tund-vpnws
  assert_success
  local line
  line=$(cat "$BATS_TEST_TMPDIR"/results/run-*.jsonl)
  echo "# $(jq -c '{ok, errors, hub_rss_mib, clients, rss_per_client_kib}' <<<"$line")" >&3
  assert_equal "$(jq '.ok and (.errors | length == 0)' <<<"$line")" true
  # the hub is one node process: tens of MiB, not the two numbers rss_kib prints run together
  assert_equal "$(jq '.hub_rss_mib > 10 and .hub_rss_mib < 200' <<<"$line")" true
  assert_equal "$(jq '.clients' <<<"$line")" 21
  assert_equal "$(jq '.rss_per_client_kib | type == "number" and . >= 0 and . < 10240' <<<"$line")" true
}
