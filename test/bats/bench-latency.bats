#!/usr/bin/env bats
# bench/latency.sh through real tunnels side by side: the rows and their numbers, the order of the
# tunnels rotated every turn (from ping's own time stamps of every reply), a second checkout's
# anchor as a row of its own (NAME=DIR), usage errors before anything is made, and clean-up after
# an anchor that fails to start and after a TERM in the middle of the pings.
bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/bench

LATENCY=$PROJECT_ROOT/bench/latency.sh

setup() {
  common_setup
  # every `ip` the script runs, logged (usage errors must run none)
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  printf '#!/bin/sh\necho "$*" >>"%s"\nexec %s "$@"\n' "$BATS_TEST_TMPDIR/ip.log" "$(command -v ip)" >"$BATS_TEST_TMPDIR/bin/ip"
  chmod +x "$BATS_TEST_TMPDIR/bin/ip"
}

# The namespaces a run made ("up (NS_A, NS_B)" on its stderr): gone after it, or removed here.
run_namespaces() { grep -o 'tund-bench-l[0-9]*-[0-9]-[ab]' <<<"$output" | sort -u; }
teardown() {
  local ns
  for ns in $(run_namespaces 2>/dev/null); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  common_teardown
}

assert_no_namespace_left() {
  local made
  made=$(run_namespaces)
  [ -n "$made" ]
  for ns in $made; do
    if ip netns list | grep -q "^$ns\( \|$\)"; then echo "namespace $ns left behind" >&2; return 1; fi
  done
}

# row LABEL: that row's fields after the label: pings ping veth added p10 p90 vs...
row() { awk -v l="$1" '$1 == l { $1 = ""; print substr($0, 2) }' <<<"$output"; }

# kept_dir: the run directory a KEEP=1 run kept
kept_dir() { sed -n 's/.*latency: kept \(\/tmp\/tund-latency\.[A-Za-z0-9]*\) .*/\1/p' <<<"$output"; }

@test "latency: tund-vtun-udp and vtun-udp side by side, added latency per tunnel" {
  bench_run COUNT=10 TURNS=4 timeout 120 bash "$LATENCY" tund-vtun-udp vtun-udp
  assert_success
  assert_line --regexp "^tunnel +pings +ping +veth +added +p10 +p90 +vs tund-vtun-udp$"
  assert_line --regexp "latency: load average at the start [0-9.]+ [0-9.]+ [0-9.]+$"
  assert_line --regexp "latency: load average before the pings [0-9. ]+, after [0-9.]+ [0-9.]+ [0-9.]+$"
  local label n ping veth added p10 p90 vs
  for label in tund-vtun-udp vtun-udp; do
    read -r n ping veth added p10 p90 vs <<<"$(row "$label")"
    [ "$n" = 40 ] # COUNT x TURNS replies
    # sane: the veth alone is faster than the tunnel over it, the tunnel adds less than 5 ms
    awk -v p="$ping" -v v="$veth" -v a="$added" -v lo="$p10" -v hi="$p90" 'BEGIN {
      exit !(v > 0 && p > v && a > 0 && a < 5 && lo <= a && a <= hi && (p - v - a) ^ 2 < 4e-6) }'
  done
  [ "$(row tund-vtun-udp | awk '{ print $7 }')" = ref ]
  row vtun-udp | cut -d' ' -f7- | grep -Eqx '[+-][0-9]+\.[0-9]{3} \([0-9]+\.[0-9]{2}x\)'
  assert_no_namespace_left
}

# The order has to rotate: three tunnels, six turns; ping's time stamps (-D) of every reply in the
# kept pings.tsv say which row was pinged when. In each turn every veth comes before every tunnel,
# and the first tunnel of turn T is row T mod 3: each tunnel first twice.
@test "latency: each turn the veths first, then the tunnels in an order shifted by one" {
  bench_run KEEP=1 COUNT=3 TURNS=6 timeout 120 bash "$LATENCY" tund-vtun-udp vtun-udp vtun-tcp
  assert_success
  local dir
  dir=$(kept_dir)
  [ -f "$dir/pings.tsv" ]
  # per turn: the first and last reply of each kind, and each tunnel's first reply
  run awk -F'\t' '
    { t = $1; k = $2; s = $5 + 0; n[t]++
      if (!((t, k) in lo) || s < lo[t, k]) lo[t, k] = s
      if (!((t, k) in hi) || s > hi[t, k]) hi[t, k] = s
      if (k == "tunnel" && (!((t, $3) in first) || s < first[t, $3])) first[t, $3] = s }
    END {
      for (t = 0; t < 6; t++) {
        if (hi[t, "veth"] >= lo[t, "tunnel"]) { print "turn " t ": a veth pinged after a tunnel"; bad = 1 }
        best = 0
        for (r = 1; r < 3; r++) if (first[t, r] < first[t, best]) best = r
        print "turn " t ": row " best " first, " n[t] " replies"
      }
      exit bad }' "$dir/pings.tsv"
  rm -rf "$dir"
  assert_success
  for t in 0 1 2 3 4 5; do assert_line "turn $t: row $((t % 3)) first, 18 replies"; done
}

@test "latency: NAME=DIR runs that checkout's anchor, in a row of its own" {
  bench_run COUNT=5 TURNS=2 timeout 120 bash "$LATENCY" tund-vtun-udp "tund-vtun-udp=$PROJECT_ROOT"
  assert_success
  assert_line --partial "latency: tund-vtun-udp=$PROJECT_ROOT up ("
  [ "$(row tund-vtun-udp | awk '{ print $1, $7 }')" = "10 ref" ]
  row "tund-vtun-udp=$PROJECT_ROOT" | awk '{ exit !($1 == 10 && $4 > 0 && $7 ~ /^[+-]/) }'
  assert_no_namespace_left
}

@test "latency: the same argument twice gets a second label" {
  bench_run COUNT=2 TURNS=2 timeout 120 bash "$LATENCY" vtun-udp vtun-udp
  assert_success
  [ "$(row vtun-udp | awk '{ print $1 }')" = 4 ]
  [ "$(row 'vtun-udp#2' | awk '{ print $1 }')" = 4 ]
}

@test "latency: without TURNS, the turns are the first multiple of the tunnels from 20 on" {
  bench_run COUNT=1 INTERVAL=0.002 timeout 120 bash "$LATENCY" vtun-udp vtun-udp vtun-udp
  assert_success
  assert_line --partial 'latency: 3 tunnel(s), 21 turns of 1 pings'
  refute_line --partial 'is no multiple'
  [ "$(row vtun-udp | awk '{ print $1 }')" = 21 ]
  [ "$(row 'vtun-udp#3' | awk '{ print $1 }')" = 21 ]
}

# tund's WireGuard session serves wg(8) on the host's /run/wireguard/tbwg-b.sock; wireguard-go's
# anchor, started after it, must wait for its own daemon's socket in its private /run, not take
# that one for it.
@test "latency: tund-wg-udp and wireguard-go side by side" {
  bench_run COUNT=3 TURNS=2 timeout 120 bash "$LATENCY" tund-wg-udp wireguard-go
  assert_success
  [ "$(row tund-wg-udp | awk '{ print $1, $7 }')" = "6 ref" ]
  [ "$(row wireguard-go | awk '{ print $1 }')" = 6 ]
  assert_no_namespace_left
}

@test "latency: usage errors exit 2 with a clear message, before anything is made" {
  local p=$BATS_TEST_TMPDIR/bin:$PATH
  run -2 env PATH="$p" COUNT=x bash "$LATENCY" vtun-udp
  assert_output 'bench/latency.sh: COUNT: not a whole number "x" (expected 1-1000)'
  run -2 env PATH="$p" TURNS=1001 bash "$LATENCY" vtun-udp
  assert_output 'bench/latency.sh: TURNS: out of range "1001" (expected 1-1000)'
  run -2 env PATH="$p" INTERVAL=0 bash "$LATENCY" vtun-udp
  assert_output 'bench/latency.sh: INTERVAL: out of range "0" (expected 0.002-1)'
  run -2 env PATH="$p" COUNT=1000 TURNS=1000 bash "$LATENCY" vtun-udp
  assert_output --partial "COUNT x TURNS x INTERVAL: about 20000 s of pings"
  run -2 env PATH="$p" bash "$LATENCY" vtun-udp no-such-anchor
  assert_output --regexp '^bench/latency.sh: no anchor "no-such-anchor" \(known: .*vtun-udp'
  run -2 env PATH="$p" bash "$LATENCY" veth
  assert_output --partial "veth: no tunnel"
  run -2 env PATH="$p" bash "$LATENCY" "vtun-udp=$BATS_TEST_TMPDIR/none"
  assert_output --partial "no directory \"$BATS_TEST_TMPDIR/none\""
  run -2 env PATH="$p" bash "$LATENCY" "vtun-udp=$BATS_TEST_TMPDIR"
  assert_output --partial "no anchor \"vtun-udp\" in that checkout"
  run -2 env PATH="$p" bash "$LATENCY" tund-wg-udp vtun-udp "tund-wg-udp=$PROJECT_ROOT"
  assert_output --partial "tund-wg-udp: one at a time"
  run -2 env PATH="$p" bash "$LATENCY" --count 3 vtun-udp
  assert_output --partial 'unknown option "--count"'
  run -0 bash "$LATENCY" --help
  assert_line --index 0 --partial "latency.sh NAME[=DIR]..."
  [ ! -e "$BATS_TEST_TMPDIR/ip.log" ]
}

# An anchor that fails to start (one of the test's own, through ANCHORS_PATH): the run fails with
# its message, and the tunnel already up is taken down with its namespaces and processes.
@test "latency: an anchor that does not start; what was up is taken down" {
  mkdir -p "$BATS_TEST_TMPDIR/anchors"
  printf '%s\n' 'anchor_start() { echo "broken on purpose"; return 1; }' >"$BATS_TEST_TMPDIR/anchors/broken.sh"
  bench_run ANCHORS_PATH="$BATS_TEST_TMPDIR/anchors" KEEP=1 timeout 120 bash "$LATENCY" vtun-udp broken
  assert_failure 1
  assert_line "broken on purpose"
  assert_line --partial "bench: broken did not start"
  local dir
  dir=$(kept_dir)
  [ -d "$dir/0" ]
  assert_no_namespace_left
  run -1 pgrep -f "$dir/"
  rm -rf "$dir"
}

@test "latency: a TERM in the middle of the pings: everything made goes" {
  local log=$BATS_TEST_TMPDIR/run.log pid status=0
  # (bounded: the TERM comes once the pings have begun; the lock waited for as bench_run does)
  BENCH_LOCK_WAIT=600 KEEP=1 COUNT=30 TURNS=200 bash "$LATENCY" tund-vtun-udp vtun-udp >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 7000); do
    grep -q "turns of 30 pings\|another benchmark run holds" "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  output=$(cat "$log")
  if [[ $output == *"another benchmark run holds"* ]]; then wait "$pid" || true; skip "a benchmark is running on this machine"; fi
  assert_output --partial "turns of 30 pings"
  kill -TERM "$pid"
  wait "$pid" || status=$?
  [ "$status" = 130 ]
  output=$(cat "$log")
  local dir
  dir=$(kept_dir)
  [ -d "$dir" ]
  run -1 pgrep -f "$dir/"
  rm -rf "$dir"
  output=$(cat "$log")
  assert_no_namespace_left
}

# bench/run.sh's last step: each tund target mode it measured, side by side with those of its
# COMPARE_TO anchors it measured too; the rows go to the results, and the targets table takes the
# added latency from them.
@test "latency: bench/run.sh measures a tund mode side by side with its anchor after the runs" {
  bench_run REPS=1 TCP_SECS=1 UDP_SECS=1 PING_COUNT=5 IDLE_SECS=0 COUNT=5 TURNS=2 \
    RESULTS_DIR="$BATS_TEST_TMPDIR/results" timeout 600 bash "$PROJECT_ROOT/bench/run.sh" tund-vtun-udp vtun-udp
  assert_success
  assert_line --partial "bench: side by side: tund-vtun-udp vtun-udp"
  local rows
  rows=$(jq -c 'select(.kind == "latency")' "$BATS_TEST_TMPDIR"/results/run-*.jsonl)
  echo "$rows"
  assert_equal "$(jq -sc 'map(.name)' <<<"$rows")" '["tund-vtun-udp","vtun-udp"]'
  assert_equal "$(jq -s 'all(.pings == 10 and .added_ms > 0 and .added_ms < 5 and .veth_ms > 0 and
    (.side_by_side == ["tund-vtun-udp", "vtun-udp"]))' <<<"$rows")" true
  assert_line --regexp '^\| added ping ms, side by side +\| tund-vtun-udp +\| vtun-udp +\| +[0-9.]+ \| +<= [0-9.]+ \| (met|not met) +\|$'
  assert_line --regexp '^\| vtun-udp +\| tund-vtun-udp +\| +10 \|'
  assert_no_namespace_left
}
