#!/usr/bin/env bash
# threads.sh NAME [LOAD] - where one tunnel spends its CPU: starts anchor NAME in namespaces of its
# own, puts one bounded load on it and prints the CPU of every thread of the tunnel's processes
# (from /proc/PID/task/*/stat), so that one can see which threads carry a session and whether
# both cores work. Not a benchmark (one short run, no repetitions): see docs/benchmark.md.
#
#   bash bench/threads.sh tund-vtun-udp            one TCP stream for SECS seconds
#   bash bench/threads.sh tund-wg-udp udp64        64-byte UDP packets, as fast as they go
#   PERF=1 bash bench/threads.sh tund-vtun-udp     also `perf record` the tunnel's processes
#   BYTES=2G STAT=1 bash bench/threads.sh tund-wg-udp
#                                                 a fixed transfer, and `perf stat` of the tunnel's
#                                                 processes: cycles, instructions, context switches
#                                                 and CPU seconds per GB that arrived (robust when
#                                                 other work shares the cores; compare runs of one
#                                                 BYTES, e.g. with and without a TUND_NO_* switch)
#
# LOAD: tcp1 (default), tcp4 or udp64. Knobs: SECS=5, BYTES (iperf3 -n: a fixed amount instead of
# SECS; tcp loads), PERF=1 (a perf report of the hottest symbols, and per-thread, in
# $RUN_DIR/perf.txt), STAT=1 (perf stat per GB), KEEP=1 (keep $RUN_DIR).
set -euo pipefail
BENCH_TAG=t$$
export BENCH_TAG
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=${1:?usage: threads.sh NAME [tcp1|tcp4|udp64]}
LOAD=${2:-tcp1}
SECS=${SECS:-5}
IPERF_PORT=5201
[[ $SECS =~ ^[1-9][0-9]?$ ]] || die "SECS \"$SECS\" (expected 1 to 99)"
LENGTH=(-t "$SECS")
if [[ -n ${BYTES:-} ]]; then
  [[ $BYTES =~ ^[1-9][0-9]{0,2}[MG]$ && $LOAD != udp64 ]] || die "BYTES \"$BYTES\" (expected 1M to 999G, with a tcp load)"
  LENGTH=(-n "$BYTES")
fi
case $LOAD in
  tcp1) IPERF_ARGS=(-P 1) ;;
  tcp4) IPERF_ARGS=(-P 4) ;;
  udp64) IPERF_ARGS=(-u -l 64 -b 0) ;;
  *) die "LOAD \"$LOAD\" (expected tcp1, tcp4 or udp64)" ;;
esac
ANCHOR=$(anchor_file "$NAME") || die "no anchor \"$NAME\" (bench/run.sh --list)"
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, TUN devices)"

RUN_DIR=$(mktemp -d /tmp/tund-threads.XXXXXX)
: >"$RUN_DIR/pids"
TARGET=$INNER_B
anchor_stop() { kill_spawned; }
# shellcheck source=/dev/null
source "$ANCHOR"
trap 'probe_down threads' EXIT
trap 'exit 130' INT TERM
probe_up

# task_ticks: "PID TID COMM TICKS WAIT_NS" for every thread of the tunnel's processes: CPU
# clock ticks, and the nanoseconds it spent runnable but waiting for a CPU (schedstat)
task_ticks() {
  local p t stat f sched
  for p in $(tunnel_pids); do
    for t in /proc/"$p"/task/*; do
      stat=$(cat "$t/stat" 2>/dev/null) || continue
      read -r -a f <<<"${stat##*) }"
      read -r -a sched <"$t/schedstat" 2>/dev/null || sched=(0 0)
      echo "$p ${t##*/} $(cat "$t/comm" 2>/dev/null | tr ' ' _) $((f[11] + f[12])) ${sched[1]}"
    done
  done
}

spawn "$NS_B" "$RUN_DIR/iperf3-server.log" iperf3 -s -1 -p "$IPERF_PORT" >/dev/null
wait_until 5 listening "$NS_B" tcp "$IPERF_PORT" || die "iperf3 server did not start"
mapfile -t PIDS < <(tunnel_pids)
if [[ -n ${PERF:-} ]]; then
  perf record -q -g -o "$RUN_DIR/perf.data" -p "$(IFS=,; echo "${PIDS[*]}")" -- sleep $((SECS + 1)) \
    >"$RUN_DIR/perf.log" 2>&1 &
  PERF_PID=$!
fi
if [[ -n ${STAT:-} ]]; then
  perf stat -x, -e cycles,instructions,context-switches,task-clock -o "$RUN_DIR/stat.csv" \
    -p "$(IFS=,; echo "${PIDS[*]}")" >/dev/null 2>&1 &
  STAT_PID=$!
fi
task_ticks >"$RUN_DIR/t0"
w0=$(date +%s.%N)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
timeout $((SECS + 120)) ip netns exec "$NS_A" iperf3 -c "$TARGET" -p "$IPERF_PORT" -J "${LENGTH[@]}" "${IPERF_ARGS[@]}" \
  >"$RUN_DIR/iperf3.json" 2>>"$RUN_DIR/iperf3.log" || log "threads: iperf3 exited with status $?"
w1=$(date +%s.%N)
task_ticks >"$RUN_DIR/t1"
if [[ -n ${STAT_PID:-} ]]; then
  kill -INT "$STAT_PID" 2>/dev/null || true
  wait "$STAT_PID" || true
fi
[[ -z ${PERF_PID:-} ]] || wait "$PERF_PID" || true

if [[ $LOAD == udp64 ]]; then
  packets=$(jq -r '.end.sum_received | .packets - .lost_packets' "$RUN_DIR/iperf3.json")
  result="$(jq -r '.end.sum_received | (.packets - .lost_packets) / .seconds / 1000 | floor' "$RUN_DIR/iperf3.json") kpps received"
else
  packets=0
  result="$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$RUN_DIR/iperf3.json") Mbit/s"
fi
if [[ -n ${BYTES:-} ]]; then
  result="$result, $(jq -r '.end.sum_received.bytes' "$RUN_DIR/iperf3.json") bytes in $(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", b - a }')s"
fi
echo "# $NAME, $LOAD for ${BYTES:-${SECS}s}: $result; load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# CPU of each thread, % of one core (threads under 1% left out); wait: % of the time it was runnable but" \
  "no CPU was free$( ((packets)) && echo "; CPU us per packet that arrived");" \
  "pid side: $(for p in "${PIDS[@]}"; do printf '%s=%s ' "$p" "$(ip netns identify "$p" | sed 's/.*-//')"; done)"
awk -v secs="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" -v hz="$CLK_TCK" -v packets="$packets" '
  function line(pid, tid, comm, pct, wait) {
    printf "%-8s %-8s %-16s %5.0f", pid, tid, comm, pct
    if (wait != "") printf "  wait %3.0f", wait
    if (packets > 0) printf "  %6.2f us/packet", pct / 100 * secs * 1e6 / packets
    printf "\n"
  }
  NR == FNR { t0[$2] = $4; w0[$2] = $5; next }
  { pct = ($4 - t0[$2]) * 100 / hz / secs; total[$1] += pct
    if (pct >= 1) line($1, $2, $3, pct, ($5 - w0[$2]) / 1e7 / secs) }
  END { for (p in total) line(p, "total", "", total[p], "") }
' "$RUN_DIR/t0" "$RUN_DIR/t1"
if [[ -n ${STAT:-} ]]; then
  # perf stat -x, lines: value,unit,event,...; per GB (1e9 bytes) that arrived
  awk -F, -v bytes="$(jq -r '.end.sum_received.bytes' "$RUN_DIR/iperf3.json")" '
    $3 ~ /^(cycles|instructions|context-switches|task-clock)/ && $1 ~ /^[0-9.]+$/ { v[$3] = $1 }
    END {
      gb = bytes / 1e9
      printf "# perf stat, both tunnel processes, per GB that arrived: %.2f CPU s, %.0f context switches", v["task-clock"] / 1e3 / gb, v["context-switches"] / gb
      if (v["cycles"] > 0) printf ", %.2f Gcycles, %.2f Ginstructions (IPC %.2f)", v["cycles"] / 1e9 / gb, v["instructions"] / 1e9 / gb, v["instructions"] / v["cycles"]
      else printf " (no cycle counters here)"
      printf "\n# = %.3f cores per Gbit/s\n", v["task-clock"] / 1e3 / gb / 8
    }' "$RUN_DIR/stat.csv"
fi
if [[ -n ${PERF:-} ]]; then
  perf report -i "$RUN_DIR/perf.data" --stdio --no-children --sort comm,tid,dso,sym 2>/dev/null |
    grep -v '^#' | grep -v '^$' | grep '%' | head -n 40 >"$RUN_DIR/perf.txt" || true
  KEEP=1
  cat "$RUN_DIR/perf.txt"
fi
