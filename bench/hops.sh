#!/usr/bin/env bash
# hops.sh NAME [COUNT] - where a ping's round trip through one tunnel spends its time: starts anchor
# NAME in namespaces of its own, sends COUNT pings (default 300) at 10 ms across it while kernel
# tracepoints (an ftrace instance of its own: net device, scheduler and syscall events, no function
# tracing) record each packet's way, and prints the median and 90th percentile of every hop:
#
#   ping -> A's tun -> A's end sends -> B's veth -> B's end woken, writes B's tun -> echo reply
#   -> B's end sends -> A's veth -> A's end woken, writes A's tun -> ping
#
# and, per round trip, each end's syscalls and thread wake-ups. The kernel's own steps (a
# segment's receive processing until the reader is woken) barely move with the machine's load;
# the wake-up and run steps do. Not a benchmark (one run, tracing costs a few microseconds per
# event): compare anchors, or one anchor with and without a TUND_NO_* switch, run after run.
#
#   bash bench/hops.sh tund-vtun-tcp
#   bash bench/hops.sh vtun-tcp 500
#   TUND_NO_RX_SEND=1 bash bench/hops.sh tund-vtun-udp
#
# Knobs: INTERVAL=0.01 (ping -i; below 0.01 iputils' ping spins on the CPU it shares with the
# tunnel), KEEP=1 (keep $RUN_DIR with the raw trace).
set -euo pipefail
BENCH_TAG=h$$
export BENCH_TAG
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=${1:?usage: hops.sh NAME [COUNT]}
COUNT=${2:-300}
INTERVAL=${INTERVAL:-0.01}
# an echo payload of an unusual size: the tun events of this ping are told by their length (89 bytes)
PING_SIZE=61
[[ $COUNT =~ ^[1-9][0-9]{0,3}$ ]] || die "COUNT \"$COUNT\" (expected 1 to 9999)"
[[ $INTERVAL =~ ^0?\.[0-9]+$|^[1-9]$ ]] || die "INTERVAL \"$INTERVAL\" (expected seconds, e.g. 0.01)"
ANCHOR=$(anchor_file "$NAME") || die "no anchor \"$NAME\" (bench/run.sh --list)"
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, TUN devices, tracefs)"
TRACEFS=/sys/kernel/tracing
# Where systemd has not mounted tracefs, a run mounts it; runs that overlap share that mount, and
# the last one to end unmounts it: every run holds TRACEFS_LOCK shared, and only a run that can
# make it exclusive at its end (no other run left) unmounts what TRACEFS_MARK says a run mounted.
TRACEFS_LOCK=/run/tund-hops.lock  # (beside run.sh's /run/tund-bench.lock)
TRACEFS_MARK=/run/tund-hops.tracefs-mounted

RUN_DIR=$(mktemp -d /tmp/tund-hops.XXXXXX)
: >"$RUN_DIR/pids"
INSTANCE=$TRACEFS/instances/tund-hops-$$
EVENTS=(net/net_dev_xmit net/netif_rx net/netif_receive_skb sched/sched_waking sched/sched_switch
  raw_syscalls/sys_enter raw_syscalls/sys_exit syscalls/sys_enter_sendto syscalls/sys_exit_recvmsg)
anchor_stop() { kill_spawned; }
# shellcheck source=/dev/null
source "$ANCHOR"
cleanup() {
  if [[ -d $INSTANCE ]]; then
    echo 0 >"$INSTANCE/tracing_on" 2>/dev/null || true
    for e in "${EVENTS[@]}"; do echo 0 >"$INSTANCE/events/$e/enable" 2>/dev/null || true; done
    rmdir "$INSTANCE" 2>/dev/null || true
  fi
  if [[ -e $TRACEFS_MARK ]] && flock -n -x 9 2>/dev/null; then
    umount "$TRACEFS" 2>/dev/null || true
    rm -f "$TRACEFS_MARK"
  fi
  probe_down hops
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# systemd mounts tracefs at boot; a machine booted without it (a container, a minimal VM) has the
# directory only: mounted for this run
exec 9>>"$TRACEFS_LOCK"
flock -s 9
if [[ ! -d $TRACEFS/instances ]]; then
  mount -t tracefs tracefs "$TRACEFS" 2>/dev/null && : >"$TRACEFS_MARK"
  [[ -d $TRACEFS/instances ]] || die "no tracefs at $TRACEFS, and mounting it failed"
fi
probe_up

# The tunnel's threads, by side (TID SIDE COMM), and its devices: the one each side routes the
# other's inner address through (vtund names both tun0: the trace tells them apart by order).
: >"$RUN_DIR/threads"
for side in a b; do
  ns=$NS_A
  [[ $side == b ]] && ns=$NS_B
  for p in $(ip netns pids "$ns"); do
    for t in /proc/"$p"/task/*; do echo "${t##*/} $side $(tr ' ' _ <"$t/comm")" >>"$RUN_DIR/threads"; done
  done
done
TUN_A=$(ip -n "$NS_A" route get "$INNER_B" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
TUN_B=$(ip -n "$NS_B" route get "$INNER_A" | sed -n 's/.* dev \([^ ]*\).*/\1/p')

mkdir "$INSTANCE"
echo 16384 >"$INSTANCE/buffer_size_kb"
tids=$(awk '{ printf "%s%s", (n++ ? " || " : ""), "common_pid == " $1 }' "$RUN_DIR/threads")
wakees=$(awk '{ printf " || pid == %s", $1 }' "$RUN_DIR/threads")
runs=$(awk '{ printf " || next_pid == %s", $1 }' "$RUN_DIR/threads")
for e in net/net_dev_xmit net/netif_rx net/netif_receive_skb; do
  echo "name == \"$TUN_A\" || name == \"$TUN_B\" || name == \"$VETH_A\" || name == \"$VETH_B\"" >"$INSTANCE/events/$e/filter"
done
echo "comm == \"ping\"$wakees" >"$INSTANCE/events/sched/sched_waking/filter"
echo "next_comm == \"ping\"$runs" >"$INSTANCE/events/sched/sched_switch/filter"
echo "$tids" >"$INSTANCE/events/raw_syscalls/sys_enter/filter"
echo "$tids" >"$INSTANCE/events/raw_syscalls/sys_exit/filter"
# (this ping's sends and replies by their size: other pings may run on the machine)
echo "comm == \"ping\" && len == $((PING_SIZE + 8))" >"$INSTANCE/events/syscalls/sys_enter_sendto/filter"
echo "comm == \"ping\" && (ret == $((PING_SIZE + 8)) || ret == $((PING_SIZE + 28)))" >"$INSTANCE/events/syscalls/sys_exit_recvmsg/filter"
for e in "${EVENTS[@]}"; do echo 1 >"$INSTANCE/events/$e/enable"; done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo 1 >"$INSTANCE/tracing_on"
in_a timeout $((COUNT / 50 + 30)) ping -q -n -c "$COUNT" -i "$INTERVAL" -s "$PING_SIZE" "$INNER_B" >"$RUN_DIR/ping.txt" || log "hops: ping exited with status $?"
echo 0 >"$INSTANCE/tracing_on"
cat "$INSTANCE/trace" >"$RUN_DIR/trace"
echo "# $NAME, $COUNT pings at ${INTERVAL}s: $(tail -n 1 "$RUN_DIR/ping.txt"); load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)"
node "$BENCH_DIR/hops.mjs" "$RUN_DIR/trace" "$RUN_DIR/threads" "$TUN_A" "$TUN_B" "$VETH_A" "$VETH_B" $((PING_SIZE + 28))
