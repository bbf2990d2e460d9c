#!/usr/bin/env bats
# bench/hops.mjs (the analysis of bench/hops.sh) on a small trace written here: each hop of a ping's
# round trip from the tracepoints' times, each end's syscalls and wake-ups per round trip, and a
# round trip the trace lost a step of left out; and the probe itself through a real tunnel, alone and
# in two overlapping runs.
bats_require_minimum_version 1.5.0

load ../helpers/common

# ev TASK-TID CPU SECONDS EVENT...: one line as ftrace's text output writes it
ev() { printf '%16s [%s] ..... %s: %s\n' "$1" "$2" "$3" "$4"; }

# One whole round trip from t0 (seconds, in ms steps below): A (threads 11 and 12) pings through
# its tun "tuna" and veth "vetha"; B (thread 22) answers through "tunb"/"vethb". 89 bytes: the
# echo request and reply; 143: them on the wire.
round() {
  local t=$1
  ev ping-100 000 "$t.000000" "sys_sendto(fd: 3, buff: 0x1, len: 0x45, flags: 0, addr: 0x2, addr_len: 0x10)"
  ev ping-100 000 "$t.000010" "net_dev_xmit: dev=tuna skbaddr=00000000 len=89 rc=0"
  ev tund-tx-11 000 "$t.000012" "sys_enter: NR 0 (16, 0, 10000, 0, 0, 0)"
  ev tund-tx-11 000 "$t.000020" "sys_enter: NR 46 (15, 0, 0, 0, 0, 0)"
  ev tund-tx-11 000 "$t.000030" "netif_rx: dev=vethb skbaddr=00000000 len=143"
  ev tund-tx-11 000 "$t.000031" "netif_rx: dev=vetha skbaddr=00000000 len=52"
  ev tund-tx-11 000 "$t.000040" "sched_waking: comm=tund-rx pid=22 prio=120 target_cpu=001"
  ev '<idle>-0' 001 "$t.000045" "sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=tund-rx next_pid=22 next_prio=120"
  ev tund-rx-22 001 "$t.000060" "netif_receive_skb: dev=tunb skbaddr=00000000 len=89"
  ev tund-rx-22 001 "$t.000070" "net_dev_xmit: dev=tunb skbaddr=00000000 len=89 rc=0"
  ev tund-rx-22 001 "$t.000080" "netif_rx: dev=vetha skbaddr=00000000 len=143"
  ev tund-rx-22 001 "$t.000085" "sched_waking: comm=tund-rx pid=12 prio=120 target_cpu=000"
  ev node-30 001 "$t.000086" "sys_enter: NR 202 (0, 0, 0, 0, 0, 0)"
  ev tund-rx-12 000 "$t.000090" "sys_exit: NR 7 = 1"
  ev tund-rx-12 000 "$t.000100" "netif_receive_skb: dev=tuna skbaddr=00000000 len=89"
  ev ping-100 000 "$t.000120" "sys_recvmsg -> 0x59"
}

hops() {
  printf '%s\n' "11 a tund-tx" "12 a tund-rx" "22 b tund-rx" "30 b node" >"$BATS_TEST_TMPDIR/threads"
  run -0 node "$PROJECT_ROOT/bench/hops.mjs" "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/threads" tuna tunb vetha vethb 89
}

# hop NAME: "median p90" of that row
hop() { awk -v n="$1" 'index($0, n) == 1 { print $(NF - 1), $NF }' <<<"$output"; }

@test "hops: each step of a round trip, and each end's syscalls and wake-ups" {
  { round 1000; round 1001; } >"$BATS_TEST_TMPDIR/trace"
  hops
  assert_line --index 0 --partial "2 of 2 round trips traced whole"
  [ "$(hop "ping -> A's tun")" = "10.0 10.0" ]
  [ "$(hop "A: tun -> B's veth")" = "20.0 20.0" ]
  [ "$(hop "B kernel: veth -> its reader woken")" = "10.0 10.0" ]
  [ "$(hop "B: woken -> running")" = "5.0 5.0" ]
  [ "$(hop "B: running -> tun written")" = "15.0 15.0" ]
  [ "$(hop "B kernel: echo reply made")" = "10.0 10.0" ]
  [ "$(hop "B: tun -> A's veth")" = "10.0 10.0" ]
  [ "$(hop "A kernel: veth -> its reader woken")" = "5.0 5.0" ]
  # (the trace lost A's switch: its first event counts as running)
  [ "$(hop "A: woken -> running")" = "5.0 5.0" ]
  [ "$(hop "A: running -> tun written")" = "10.0 10.0" ]
  [ "$(hop "A kernel: tun -> ping")" = "20.0 20.0" ]
  [ "$(hop "round trip")" = "120.0 120.0" ]
  assert_line "# per round trip, A's packet threads: read 1.00, sendmsg 1.00, wake-ups 1.00; other threads: 0.00 syscalls"
  assert_line "# per round trip, B's packet threads: switches in 1.00, wake-ups 1.00; other threads: 1.00 syscalls"
}

@test "hops: a round trip the trace lost a step of is left out" {
  # the second round's reply never reaches A's tun (a dropped event): only the first counts
  { round 1000; round 1001 | grep -v 'netif_receive_skb: dev=tuna'; } >"$BATS_TEST_TMPDIR/trace"
  hops
  assert_line --index 0 --partial "1 of 2 round trips traced whole"
  [ "$(hop "round trip")" = "120.0 120.0" ]
}

@test "hops: an end whose thread did not sleep (vtund's loop) has no wake-up, it runs at once" {
  # A's reader is still runnable when the reply arrives: no wake-up; it runs at its next event
  round 1000 | grep -v 'comm=tund-rx pid=12' >"$BATS_TEST_TMPDIR/trace"
  hops
  assert_line --index 0 --partial "1 of 1 round trips traced whole"
  [ "$(hop "A kernel: veth -> its reader woken")" = "0.0 0.0" ]
  [ "$(hop "A: woken -> running")" = "10.0 10.0" ]
  [ "$(hop "A: running -> tun written")" = "10.0 10.0" ]
}

# The probe itself, end to end, on a machine without tracefs mounted (a container or a minimal VM):
# hops.sh mounts it for its run. A mount namespace of the test's own, where tracefs is unmounted
# first, keeps the host's mounts and tracing untouched.
@test "hops: a real tunnel traced where tracefs was not mounted" {
  run timeout 120 unshare -m --propagation private bash -c '
    while mountpoint -q /sys/kernel/tracing; do umount /sys/kernel/tracing || exit 9; done
    bash "$1/bench/hops.sh" tund-vtun-udp 20 || exit
    ! mountpoint -q /sys/kernel/tracing' hops "$PROJECT_ROOT"
  assert_success
  assert_output --partial "20 of 20 round trips traced whole"
  assert_output --regexp "round trip \(ping send -> reply read\) +[0-9]+\.[0-9]"
  # each end reads the socket once per round trip: a read that emptied it is followed by a wait,
  # not by a read that finds nothing (the system calls as the kernel traced them)
  assert_line --regexp "A's packet threads: .*recvmmsg 1\.[0-4][0-9],"
  assert_line --regexp "B's packet threads: .*recvmmsg 1\.[0-4][0-9],"
}

# Two runs that overlap where tracefs was not mounted: the first mounts it, and the mount stays
# until the second, still tracing when the first ends, ends too.
@test "hops: overlapping runs share the tracefs mount; the last to end unmounts it" {
  run timeout 180 unshare -m --propagation private bash -c '
    while mountpoint -q /sys/kernel/tracing; do umount /sys/kernel/tracing || exit 9; done
    bash "$1/bench/hops.sh" tund-vtun-udp 100 >"$2/first.log" 2>&1 & first=$!
    for i in $(seq 300); do mountpoint -q /sys/kernel/tracing && break; sleep 0.1; done
    bash "$1/bench/hops.sh" tund-vtun-udp 400 >"$2/second.log" 2>&1 & second=$!
    # (the second holds its share of the lock: the kernel lists it on the descriptor)
    for i in $(seq 300); do grep -q "^lock:" "/proc/$second/fdinfo/9" 2>/dev/null && break; sleep 0.1; done
    wait $first || { echo "first run failed"; exit 1; }
    kill -0 $second 2>/dev/null || { echo "the second run ended before the first: no overlap"; exit 1; }
    mountpoint -q /sys/kernel/tracing && echo "after the first: mounted"
    wait $second || { echo "second run failed"; exit 1; }
    mountpoint -q /sys/kernel/tracing || echo "after the second: unmounted"' hops "$PROJECT_ROOT" "$BATS_TEST_TMPDIR"
  assert_success
  assert_line "after the first: mounted"
  assert_line "after the second: unmounted"
  run cat "$BATS_TEST_TMPDIR/second.log"
  assert_output --regexp "[0-9]+ of [0-9]+ round trips traced whole"
}
