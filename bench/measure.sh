#!/usr/bin/env bash
# measure.sh NAME - one measurement of one anchor in the namespaces bench/run.sh made: start the
# tunnel, wait until a ping crosses it, measure, stop it; one JSON line on stdout (and appended to
# $RESULTS_FILE). Progress and problems go to stderr; a failed measurement is recorded in the
# line's "errors", it does not end the run. Called by run.sh; see docs/benchmark.md.
set -uo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=${1:?usage: measure.sh NAME}
: "${RESULTS_FILE:?}" "${RUN_ROOT:?}"
REP=${REP:-1}
TCP_SECS=${TCP_SECS:-8}
UDP_SECS=${UDP_SECS:-4}
PING_COUNT=${PING_COUNT:-100}
IDLE_SECS=${IDLE_SECS:-3}
IPERF_PORT=5201

ANCHOR=$(anchor_file "$NAME") || die "no anchor \"$NAME\" (bench/anchors/NAME.sh or ANCHORS_PATH)"

# ---- the anchor interface, with defaults an anchor file may override
TARGET=$INNER_B   # the address iperf3 and ping measure
COMPARE_TO=''     # the same-protocol anchors this one is compared with in the summary
anchor_version() { echo unknown; }
anchor_notes() { :; }
anchor_pids() { tunnel_pids; }
anchor_start() { echo "anchor $NAME has no anchor_start"; return 1; }
anchor_stop() { kill_spawned; }
anchor_measure() { :; } # more fields of its own (num KEY VALUE), after the common ones
# shellcheck source=/dev/null
source "$ANCHOR"

RUN_DIR=$RUN_ROOT/$NAME-$REP
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
: >"$RUN_DIR/pids"

# ---- the JSON line: fields collected as jq arguments
FIELDS=() ERRORS=()
str() { FIELDS+=(--arg "$1" "$2"); }
num() { # num KEY VALUE: a number, or null when VALUE is not one
  if [[ ${2:-} =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then FIELDS+=(--argjson "$1" "$2"); else FIELDS+=(--argjson "$1" null); fi
}
problem() { ERRORS+=("$*"); log "$NAME: $*"; }
emit() {
  local errors
  errors=$(printf '%s\n' ${ERRORS[@]+"${ERRORS[@]}"} | jq -R . | jq -sc 'map(select(length > 0))')
  jq -cn "${FIELDS[@]}" --argjson errors "$errors" '$ARGS.named + {ok: ($errors | length == 0)}' | tee -a "$RESULTS_FILE"
}

STOPPED=0
stop_anchor() {
  ((STOPPED)) && return 0
  STOPPED=1
  anchor_stop >>"$RUN_DIR/stop.log" 2>&1 || log "$NAME: anchor_stop failed (see $RUN_DIR/stop.log)"
  # nothing of this anchor survives it: no process in the namespaces, no link but lo and the veth
  local pids ns link
  mapfile -t pids < <(ns_pids)
  ((${#pids[@]} == 0)) || { log "$NAME: killing leftovers ${pids[*]}"; kill_pids "${pids[@]}"; }
  for ns in "$NS_A" "$NS_B"; do
    for link in $(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
      case $link in lo | "$VETH_A" | "$VETH_B") ;; *) ip -n "$ns" link del "$link" 2>/dev/null ;; esac
    done
  done
}
trap stop_anchor EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; } # calc EXPR [DECIMALS]

# ---- CPU and memory of the tunnel processes
# ticks PID...: user+system clock ticks of these processes (all their threads)
ticks() {
  local p stat total=0 f
  for p in "$@"; do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    read -r -a f <<<"${stat##*) }" # the fields after "pid (comm) "
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
# rss_kib PID...: "TOTAL LARGEST": resident memory (VmRSS) of these processes together and of the
# largest one alone (one session: tund runs a session per process), KiB
rss_kib() {
  local p total=0 largest=0 kb
  for p in "$@"; do
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${kb:-0}))
    ((${kb:-0} > largest)) && largest=$kb
  done
  echo "$total $largest"
}
PIDS=()
cpu_start() { mapfile -t PIDS < <(anchor_pids); CPU_T0=$(ticks ${PIDS[@]+"${PIDS[@]}"}); CPU_W0=$(now); }
cpu_stop() { # cpu_stop KEY -> KEY_cpu: % of one core, all tunnel processes of both ends together
  local t1 w1
  t1=$(ticks ${PIDS[@]+"${PIDS[@]}"})
  w1=$(now)
  if ((${#PIDS[@]})); then num "${1}_cpu" "$(calc "($t1 - $CPU_T0) * 100 / $CLK_TCK / ($w1 - $CPU_W0)" 0)"; else num "${1}_cpu" ''; fi
}
# rss_sampler FILE: the tunnel processes' RSS every 0.5 s into FILE (until killed)
rss_sampler() {
  while :; do
    rss_kib ${PIDS[@]+"${PIDS[@]}"} >>"$1"
    sleep 0.5
  done
}

# ---- the loads (each bounded by its own duration and an outer timeout)
IPERF_SERVER=''
iperf_server() { # a fresh single-test iperf3 server in $NS_B
  [[ -z $IPERF_SERVER ]] || kill_pids "$IPERF_SERVER"
  IPERF_SERVER=$(spawn "$NS_B" "$RUN_DIR/iperf3-server.log" iperf3 -s -1 -p "$IPERF_PORT")
  wait_until 5 listening "$NS_B" tcp "$IPERF_PORT" || problem "iperf3 server did not start"
}
iperf() { # iperf KEY SECONDS ARGS...: iperf3 client in $NS_A, JSON in $RUN_DIR/KEY.json
  local key=$1 secs=$2 msg
  shift 2
  iperf_server
  cpu_start
  timeout $((secs + 30)) ip netns exec "$NS_A" iperf3 -c "$TARGET" -p "$IPERF_PORT" -J -t "$secs" "$@" \
    >"$RUN_DIR/$key.json" 2>>"$RUN_DIR/iperf3-client.log" || problem "$key: iperf3 exited with status $?"
  cpu_stop "$key"
  msg=$(jq -r '.error // empty' "$RUN_DIR/$key.json" 2>/dev/null)
  [[ -z $msg ]] || problem "$key: $msg"
}
from_json() { jq -r "$1 // empty" "$RUN_DIR/$2.json" 2>/dev/null; }

# The median of the replies is the latency compared (summarize.sh): a few replies delayed by
# milliseconds while the machine does something else move the average far more than the tunnel.
measure_ping() {
  local rtt n median
  timeout 60 ip netns exec "$NS_A" ping -n -c "$PING_COUNT" -i 0.01 -W 1 "$TARGET" >"$RUN_DIR/ping.txt" 2>&1 ||
    problem "ping exited with status $?"
  rtt=$(sed -n 's|^rtt min/avg/max/mdev = \([0-9./]*\) ms.*|\1|p' "$RUN_DIR/ping.txt")
  read -r n _ median _ < <(sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' "$RUN_DIR/ping.txt" | quantiles)
  if ((n > 0)); then num ping_median_ms "$median"; else num ping_median_ms ''; fi
  num ping_avg_ms "$(cut -d/ -f2 <<<"$rtt")"
  num ping_mdev_ms "$(cut -d/ -f4 <<<"$rtt")"
  num ping_loss_pct "$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$RUN_DIR/ping.txt")"
}
measure_tcp() { # KEY STREAMS
  iperf "$1" "$TCP_SECS" -P "$2"
  num "${1}_mbps" "$(from_json '.end.sum_received.bits_per_second / 1e6 * 10 | floor / 10' "$1")"
  num "${1}_retr" "$(from_json '.end.sum_sent.retransmits' "$1")"
}
measure_udp64() {
  iperf udp64 "$UDP_SECS" -u -l 64 -b 0
  num udp64_tx_pps "$(from_json '.end.sum_sent | .packets / .seconds | floor' udp64)"
  num udp64_rx_pps "$(from_json '.end.sum_received | (.packets - .lost_packets) / .seconds | floor' udp64)"
}

# ---- one measurement
str name "$NAME"
num rep "$REP"
str ts "$(date -u +%FT%TZ)"
str version "$(anchor_version 2>/dev/null | head -n1)"
str compare_to "$COMPARE_TO"
num load1 "$(cut -d' ' -f1 /proc/loadavg)"

log "$NAME (rep $REP): starting"
t0=$(now)
if ! anchor_start >>"$RUN_DIR/start.log" 2>&1; then
  problem "anchor_start failed: $(tail -n 3 "$RUN_DIR/start.log" | tr '\n' ' ')(logs in $RUN_DIR)"
elif ! wait_until "$UP_TIMEOUT" in_a ping -c 1 -W 1 "$TARGET"; then
  problem "no ping through the tunnel within ${UP_TIMEOUT}s (logs in $RUN_DIR)"
fi
if ((${#ERRORS[@]})); then
  emit
  exit 1
fi
num setup_s "$(calc "$(now) - $t0" 2)"
dev=$(ip -n "$NS_A" route get "$TARGET" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
str device "$dev"
num mtu "$(cat "/sys/class/net/$dev/mtu" 2>/dev/null || ip -n "$NS_A" -o link show "$dev" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')"
str notes "$(anchor_notes 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')"

# idle: the session up and quiet for IDLE_SECS (no fixed sleep matters here: it is the quiet
# period being measured)
sleep "$IDLE_SECS"
mapfile -t PIDS < <(anchor_pids)
num tunnel_procs "${#PIDS[@]}"
if ((${#PIDS[@]})); then
  read -r total largest < <(rss_kib "${PIDS[@]}")
  num rss_idle_mib "$(calc "$total / 1024" 1)"
  num rss_idle_proc_mib "$(calc "$largest / 1024" 1)"
else
  num rss_idle_mib ''
  num rss_idle_proc_mib ''
fi

log "$NAME (rep $REP): tunnel up, measuring"
measure_ping
measure_tcp tcp1 1
# busy: the largest RSS sampled while four streams load the tunnel (all processes; the largest one)
rss_sampler "$RUN_DIR/rss-busy.txt" &
sampler=$!
measure_tcp tcp4 4
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
busy=$(sort -n -k1,1 "$RUN_DIR/rss-busy.txt" 2>/dev/null | tail -n1 | cut -d' ' -f1)
busy_proc=$(sort -n -k2,2 "$RUN_DIR/rss-busy.txt" 2>/dev/null | tail -n1 | cut -d' ' -f2)
if ((${#PIDS[@]})) && [[ -n $busy ]]; then
  num rss_busy_mib "$(calc "$busy / 1024" 1)"
  num rss_busy_proc_mib "$(calc "$busy_proc / 1024" 1)"
else
  num rss_busy_mib ''
  num rss_busy_proc_mib ''
fi
measure_udp64
anchor_measure
emit
((${#ERRORS[@]} == 0))
