# shellcheck shell=bash
# lib.sh - settings and helpers of the benchmark, sourced by bench/run.sh, bench/measure.sh and
# every anchor file (bench/anchors/*.sh). See docs/benchmark.md.
#
# Topology (198.18.0.0/15 only, nothing in the root namespace):
#   $NS_A (client side: iperf3 -c, ping)  --veth $UNDER_A <-> $UNDER_B--  $NS_B (server side)
#   the tunnel: $INNER_A in $NS_A <====> $INNER_B in $NS_B
# shellcheck disable=SC2034 # the variables are for the scripts that source this file

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_ROOT=$(cd "$BENCH_DIR/.." && pwd)

# Names unique to one bench run (run.sh exports BENCH_TAG, its PID); interface names stay under
# the kernel's 15 characters.
BENCH_TAG=${BENCH_TAG:-$$}
NS_A=tund-bench-$BENCH_TAG-a
NS_B=tund-bench-$BENCH_TAG-b
VETH_A=tbv${BENCH_TAG}a
VETH_B=tbv${BENCH_TAG}b
UNDER_A=198.18.0.1
UNDER_B=198.18.0.2
INNER_A=198.19.0.1
INNER_B=198.19.0.2
TUN_MTU=${TUN_MTU:-1420}   # every tunnel's inner MTU: fits a 1500-byte underlay for all of them
UP_TIMEOUT=${UP_TIMEOUT:-30}
CLK_TCK=$(getconf CLK_TCK)

# anchor_file NAME: bench/anchors/NAME.sh, or NAME.sh in a directory of ANCHORS_PATH (colon-separated,
# searched first). Files whose name starts with "_" are shared helpers, not anchors.
anchor_dirs() {
  local dirs=() d
  IFS=: read -r -a dirs <<<"${ANCHORS_PATH:-}"
  for d in ${dirs[@]+"${dirs[@]}"} "$BENCH_DIR/anchors"; do [[ -n $d ]] && echo "$d"; done
}
anchor_file() {
  local d
  [[ $1 != _* ]] || return 1
  while read -r d; do
    [[ -f $d/$1.sh ]] && { echo "$d/$1.sh"; return 0; }
  done < <(anchor_dirs)
  return 1
}
# anchor_var NAME VARIABLE: the value anchor NAME's file gives VARIABLE (PACKAGES, COMPARE_TO),
# empty when it sets none; the file is sourced in a subshell, nothing of it stays.
anchor_var() {
  (
    declare "$2="
    # shellcheck source=/dev/null
    source "$(anchor_file "$1")" >/dev/null 2>&1
    echo "${!2}"
  )
}
anchor_names() {
  local d f
  while read -r d; do
    for f in "$d"/[!_]*.sh; do [[ -f $f ]] && basename "$f" .sh; done
  done < <(anchor_dirs) | awk '!seen[$0]++'
}

# The tund modes held to issue 14's targets (summarize.sh), and measured side by side with the
# anchors their COMPARE_TO names for the latency they add (run.sh, latency.sh).
TARGET_MODES="tund-vtun-udp tund-vtun-tcp tund-vtun-udp-enc tund-wg-udp"

# quantiles: "n p10 median p90" of the numbers on stdin, one per line (each between the two
# closest ranks; "0 0 0 0" when there are none)
quantiles() {
  sort -g | awk '
    function q(p,  h, l) { h = (n - 1) * p; l = int(h); return v[l] + (h - l) * (v[l + (l + 1 < n)] - v[l]) }
    { v[n++] = $1 }
    END { if (n) printf "%d %.4f %.4f %.4f\n", n, q(0.1), q(0.5), q(0.9); else print "0 0 0 0" }'
}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# bench_lock PROG: the machine's benchmark lock, /run/tund-bench.lock, held on descriptor 8 until
# the process ends: one measurement at a time (bench/run.sh, bench/latency.sh), since two would
# measure each other. It waits BENCH_LOCK_WAIT seconds (default 0) for a run that holds it, then
# says who does and exits 1. The owner note it writes goes with bench_unlock (at exit). A step of
# a run (run.sh's side-by-side latency) holds it already, on the descriptor 8 it inherited.
BENCH_LOCK=/run/tund-bench.lock
BENCH_LOCK_OWNER=0
bench_lock() {
  [[ ${BENCH_LOCK_WAIT:-0} =~ ^[0-9]+$ ]] || die "BENCH_LOCK_WAIT \"$BENCH_LOCK_WAIT\" (expected seconds, 0 or more)"
  # (flock on the description that holds the lock succeeds; on another one, only if it is free)
  if [[ $(readlink "/proc/$$/fd/8" 2>/dev/null) == "$BENCH_LOCK" ]] && flock -n 8; then return 0; fi
  exec 8>>"$BENCH_LOCK"
  if ! flock -w "${BENCH_LOCK_WAIT:-0}" 8; then
    echo "$1: another benchmark run holds $BENCH_LOCK ($(cat "$BENCH_LOCK.owner" 2>/dev/null || echo 'owner unknown'));" \
      "numbers taken side by side with it would be worthless, so this run does not start. Try again when it has finished." >&2
    exit 1
  fi
  echo "PID $$ ($1), started $(date -u +%FT%TZ) in $PROJECT_ROOT" >"$BENCH_LOCK.owner"
  BENCH_LOCK_OWNER=1
}
bench_unlock() { ((BENCH_LOCK_OWNER == 0)) || rm -f "$BENCH_LOCK.owner"; }

in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# spawn NS LOGFILE CMD... : CMD in namespace NS in the background, in the foreground itself (no
# daemon mode). Its PID is recorded for kill_spawned and printed. `ip netns exec` execs CMD, so
# the PID is CMD's.
spawn() {
  local ns=$1 logf=$2
  shift 2
  ip netns exec "$ns" "$@" </dev/null >>"$logf" 2>&1 &
  echo $! >>"$RUN_DIR/pids"
  echo $!
}

# wait_until SECONDS CMD... : CMD every 0.1 s until it succeeds; fails after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# has_addr NS ADDR: ADDR is configured on some device in NS.
has_addr() { ip -n "$1" -o -4 addr show | grep -qE " inet ${2//./\\.}[/ ]"; }

# listening NS PROTO PORT: a socket of PROTO (tcp|udp) is bound to PORT in NS.
listening() {
  local flag=-Hltn
  [[ $2 == udp ]] && flag=-Hlun
  ip netns exec "$1" ss "$flag" "sport = :$3" | grep -q .
}

# The processes of a namespace, by PID (ip netns pids).
ns_pids() { ip netns pids "$NS_A" 2>/dev/null; ip netns pids "$NS_B" 2>/dev/null; }

comm_of() { cat "/proc/$1/comm" 2>/dev/null; }

# tunnel_pids: the tunnel's processes, everything in the namespaces but the load generators.
tunnel_pids() {
  local p
  for p in $(ns_pids); do
    case $(comm_of "$p") in iperf3 | ping | perf | '') ;; *) echo "$p" ;; esac
  done
}

# kill_pids PID...: TERM, then KILL after 3 s for what is still there.
kill_pids() {
  local p i
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    for p in "$@"; do [[ -e /proc/$p ]] && break; done
    [[ -e /proc/$p ]] || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
}

# kill_spawned: every process spawn started, and their children.
kill_spawned() {
  local pids=() p
  [[ -f $RUN_DIR/pids ]] || return 0
  while read -r p; do
    [[ -n $p ]] || continue
    pids+=("$p")
    mapfile -t -O "${#pids[@]}" pids < <(pgrep -P "$p")
  done <"$RUN_DIR/pids"
  kill_pids ${pids[@]+"${pids[@]}"}
  : >"$RUN_DIR/pids"
}

# netns_up: the two namespaces and the veth pair between them (see the topology above).
netns_up() {
  local side ns_var veth_var addr_var ns
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip link add "$VETH_A" type veth peer name "$VETH_B"
  ip link set "$VETH_A" netns "$NS_A"
  ip link set "$VETH_B" netns "$NS_B"
  for side in A B; do
    ns_var=NS_$side veth_var=VETH_$side addr_var=UNDER_$side
    ns=${!ns_var}
    ip -n "$ns" addr add "${!addr_var}/30" dev "${!veth_var}"
    ip -n "$ns" link set "${!veth_var}" up
    ip -n "$ns" link set lo up
    # no IPv6 in the namespaces: no router solicitation enters a tunnel before its far end is up
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
}

# probe_up: for the probes (threads.sh, hops.sh; $NAME's anchor file sourced, $RUN_DIR made): the
# namespaces, the anchor started and a first ping across it, or the start log and an exit.
probe_up() {
  netns_up
  anchor_start >"$RUN_DIR/start.log" 2>&1 || { cat "$RUN_DIR/start.log" >&2; die "$NAME did not start"; }
  wait_until "$UP_TIMEOUT" in_a ping -c 1 -W 1 "$INNER_B" || die "no ping through $NAME"
}

# probe_down PROBE: undoes probe_up; $RUN_DIR goes too, unless KEEP is set.
probe_down() {
  anchor_stop >/dev/null 2>&1 || true
  netns_down
  if [[ -z ${KEEP:-} ]]; then rm -rf "$RUN_DIR"; else log "$1: kept $RUN_DIR"; fi
}

# netns_down: whatever still runs in the namespaces is killed, the namespaces (and the veth) go.
netns_down() {
  local ns pids
  for ns in "$NS_A" "$NS_B"; do
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
    ((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
