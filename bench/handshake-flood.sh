#!/usr/bin/env bash
# handshake-flood.sh - issue 13, fix 2, measured: a tund server (Timeout = 5, default
# MaxHandshakes/MaxHandshakesPerSource) under a flood of COUNT idle TCP connections from one
# address, while a real client from another address connects. SERVER is `session` (a listening
# server session, `tund NAME`) or `serve` (`tund serve`, a pre-started session process per identified peer). Prints the
# client's connect time (until its status says connected), the flood's outcome, the server's RSS
# (with its children) sampled every 0.2 s, its process count, the kernel's listen-queue overflows
# and the load average. Namespaces and processes are its own, named per run, removed on exit.
#   bash bench/handshake-flood.sh [COUNT] [SERVER]       (default 500 session; root)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
COUNT=${1:-500}
SERVER=${2:-session}
[[ $SERVER == session || $SERVER == serve ]] || { echo "handshake-flood.sh: SERVER \"$SERVER\" (expected session or serve)" >&2; exit 2; }
ID=hf$$
NS_S=$ID-s NS_C=$ID-c
WORK=$(mktemp -d "/tmp/tund-flood.XXXXXX")
PIDS=()
cleanup() {
  local p
  # our processes and their children (tund below `timeout`, tund serve's session processes)
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do pkill -KILL -P "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  rm -rf -- "$WORK"
}
trap cleanup EXIT
ip netns add "$NS_S"; ip netns add "$NS_C"
ip -n "$NS_S" link set lo up; ip -n "$NS_C" link set lo up
ip link add "$ID-a" netns "$NS_S" type veth peer name "$ID-b" netns "$NS_C"
ip -n "$NS_S" addr add 198.18.79.1/29 dev "$ID-a"; ip -n "$NS_S" link set "$ID-a" up
ip -n "$NS_C" addr add 198.18.79.2/29 dev "$ID-b"; ip -n "$NS_C" addr add 198.18.79.3/29 dev "$ID-b"; ip -n "$NS_C" link set "$ID-b" up
mkdir -p "$WORK/s" "$WORK/c" "$WORK/rs" "$WORK/rc"
printf '[Session]\nRole = server\nListen = 198.18.79.1:5000\nHost = flood\nTimeout = 5\n[Device]\nMode = tun\nAddress = 198.19.79.1/32\nPeer = 198.19.79.2\n' >"$WORK/s/fs.conf"
printf '[Session]\nRole = client\nEndpoint = 198.18.79.1:5000\nHost = flood\nTimeout = 5\n[Device]\nMode = tun\nAddress = 198.19.79.2/32\nPeer = 198.19.79.1\n' >"$WORK/c/fc.conf"
printf 'flood-pw' >"$WORK/s/fs.secret"; printf 'flood-pw' >"$WORK/c/fc.secret"
chmod 600 "$WORK"/s/* "$WORK"/c/*
# each log line with the ms since the client started (t0), to see where its connect time goes
stamp() {
  local line t0
  while IFS= read -r line; do
    t0=$(cat "$WORK/t0" 2>/dev/null || date +%s%N)
    printf '%6d ms  %s\n' $(( ($(date +%s%N) - t0) / 1000000 )) "$line"
  done
}
# run_bg NS LOG PIDFILE ARGS...: tund ARGS in NS, its log stamped; PIDFILE names `timeout`, whose child is tund
run_bg() {
  local ns=$1 log=$2 pidfile=$3 dir=$4 run=$5
  shift 5
  ( echo "$BASHPID" >"$pidfile"; exec env TUND_CONFIG_DIR="$dir" TUND_RUN_DIR="$run" ip netns exec "$ns" timeout 120 tund "$@" 2>&1 ) | stamp >"$log" &
  PIDS+=($!)
  for _ in $(seq 50); do [[ -s $pidfile ]] && break; sleep 0.1; done
  PIDS+=("$(cat "$pidfile")")
}
if [[ $SERVER == serve ]]; then
  run_bg "$NS_S" "$WORK/server.log" "$WORK/server.pid" "$WORK/s" "$WORK/rs" serve --listen 198.18.79.1:5000 --timeout 5 -v
else
  run_bg "$NS_S" "$WORK/server.log" "$WORK/server.pid" "$WORK/s" "$WORK/rs" fs
fi
for _ in $(seq 100); do ip netns exec "$NS_S" ss -Hltn 'sport = :5000' | grep -q LISTEN && break; sleep 0.1; done
server=$(pgrep -P "$(cat "$WORK/server.pid")" | head -n1)
procs() { echo "$server" $(pgrep -P "$server"); }
# RSS of the server and its children, kB
rss() { local p t=0 v; for p in $(procs); do v=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null) && t=$((t + ${v:-0})); done; echo "$t"; }
rss_of() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# tund serve's pre-started session process (its child that still waits for a connection)
spare() { pgrep -P "$server" -f ' serve --pre-started ' | head -n1; }
if [[ $SERVER == serve ]]; then for _ in $(seq 100); do grep -q 'pre-started in' "$WORK/server.log" && break; sleep 0.1; done; fi
echo "server ($SERVER) pid $server, RSS before the flood: $(rss) kB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -z $(spare) ]] || echo "  of which: listener $(rss_of "$server") kB, pre-started session process (pid $(spare)) $(rss_of "$(spare)") kB"
overflows() { ip netns exec "$NS_S" nstat -az TcpExtListenOverflows TcpExtListenDrops 2>/dev/null | awk '/TcpExt/ {printf "%s=%s ", $1, $2}'; }
overflows >/dev/null
( for _ in $(seq 300); do echo "$(rss) $(procs | wc -w)"; sleep 0.2; done ) >"$WORK/rss" &
PIDS+=($!)
ip netns exec "$NS_C" timeout 60 node "$ROOT/test/helpers/idle-connections.mjs" 198.18.79.1 5000 "$COUNT" idle 20 198.18.79.3 >"$WORK/flood.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do grep -q '^opened' "$WORK/flood.out" && break; sleep 0.1; done
echo "flood: $(grep '^opened' "$WORK/flood.out" || echo "not all $COUNT opened") from 198.18.79.3"
date +%s%N >"$WORK/t0"
run_bg "$NS_C" "$WORK/client.log" "$WORK/client.pid" "$WORK/c" "$WORK/rc" fc
connected=no
# the client's own log says when it is connected (no status polling: each tunctl is a Node
# start-up, which would both load the machine and blur the figure)
for _ in $(seq 200); do
  grep -q 'connected to 198.18.79.1:5000' "$WORK/client.log" && { connected=yes; break; }
  sleep 0.1
done
if [[ $connected == yes ]]; then
  at() { grep -m1 "$1" "$WORK/client.log" | awk '{print $1}'; }
  echo "legitimate client (198.18.79.2) connected in $(at 'connected to 198.18.79.1:5000') ms during the flood (its log), $(( $(at 'connected to 198.18.79.1:5000') - $(at 'connecting: ') )) ms of it from its TCP connect on (the rest is its own start-up)"
else
  echo "legitimate client did NOT connect within 20 s"; tail -n 5 "$WORK/client.log"
fi
for _ in $(seq 250); do grep -q '^left' "$WORK/flood.out" && break; sleep 0.1; done
echo "flood outcome: $(grep -E '^(greeted|refused|left)' "$WORK/flood.out" | tr '\n' ' ')"
echo "last close $(grep '^closed' "$WORK/flood.out" | tail -n1 | awk '{print $4}') ms after all were opened"
grep 'refused .* before their handshake' "$WORK/server.log" | head -n 3 | sed 's/^/server: /'
sort -n "$WORK/rss" | awk 'NR==1{min=$1} {max=$1; n++} END {printf "server RSS over %d samples: min %d kB, max %d kB\n", n, min, max}'
sort -k2 -n "$WORK/rss" | tail -n1 | awk '{printf "server processes at most: %d (the listener and its children)\n", $2}'
echo "server RSS after the flood: $(rss) kB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -z $(spare) ]] || echo "  of which: listener $(rss_of "$server") kB, next pre-started session process (pid $(spare)) $(rss_of "$(spare)") kB"
echo "kernel, server side: $(overflows)"
if [[ -n ${FLOOD_LOGS:-} ]]; then echo "---- server"; tail -n 15 "$WORK/server.log"; echo "---- client"; tail -n 10 "$WORK/client.log"; fi
