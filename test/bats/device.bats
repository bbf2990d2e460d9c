#!/usr/bin/env bats
# The Device batch path for real: a node script opens a TUN device through TunDevice, reads the
# kernel's ICMP echo requests with readBatch and writes echo replies with writeBatch, so that
# `ping` through the device succeeds, which needs both directions to work.
bats_require_minimum_version 1.5.0

load ../helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

ECHO=$PROJECT_ROOT/test/helpers/tun-echo.mjs

# ready_name LOG -> the device name once the script has printed "ready NAME ..."
ready_name() { grep -m1 '^ready ' "$1" | awk '{print $2}'; }

# finished LOG SECONDS: wait until the script has printed its final "done ..." line
finished() { wait_for "$2" grep -q '^done ' "$1" || { cat "$1"; false; }; }

@test "ping through a TUN device answered by readBatch/writeBatch" {
  ns=$(make_netns d)
  log=$BATS_TEST_TMPDIR/echo.log
  spawn_bg "$log" ip netns exec "$ns" node "$ECHO" --name dv0 --replies 3 --timeout 30 --hold-ms 3000 >/dev/null
  wait_for 15 grep -q '^ready dv0' "$log" || { cat "$log"; false; }
  grep -q 'no_pi=true' "$log"
  ip -n "$ns" addr add 198.18.10.1/24 dev dv0
  ip -n "$ns" link set dev dv0 up
  run in_ns "$ns" ping -n -c 3 -i 0.2 -W 5 198.18.10.2
  assert_success
  assert_output --partial '3 packets transmitted, 3 received'
  # the kernel counted them too: requests sent out of the device, replies received from it
  stats=$(ip -n "$ns" -j -s link show dev dv0 | jq -c '.[0].stats64')
  (($(jq .tx.packets <<<"$stats") >= 3))
  (($(jq .rx.packets <<<"$stats") == 3))
  finished "$log" 15
  run cat "$log"
  assert_line --regexp '^done requests=3 replies=3 '
  # not persistent: the device went away with the script's fd
  wait_for 5 bash -c "! ip -n $ns link show dev dv0"
}

@test "a burst of pings is read as one batch, and every reply is written back" {
  ns=$(make_netns d)
  log=$BATS_TEST_TMPDIR/echo.log
  # slow polling so that the burst queues up in the device between two reads
  spawn_bg "$log" ip netns exec "$ns" node "$ECHO" --name 'dvb%d' --replies 16 --timeout 30 --poll-ms 200 >/dev/null
  wait_for 15 grep -q '^ready ' "$log" || { cat "$log"; false; }
  dev=$(ready_name "$log")
  [[ $dev =~ ^dvb[0-9]+$ ]] # the kernel chose the name from the pattern
  ip -n "$ns" addr add 198.18.11.1/24 dev "$dev"
  ip -n "$ns" link set dev "$dev" up
  # -l 16: send 16 requests at once, without waiting for replies
  run in_ns "$ns" ping -n -l 16 -c 16 -W 5 198.18.11.2
  assert_success
  assert_output --partial '16 packets transmitted, 16 received'
  finished "$log" 15
  run cat "$log"
  assert_line --regexp '^done requests=16 replies=16 max_batch=([2-9]|[1-9][0-9])$'
}

@test "attach to a persistent device made by tunctl; it stays after the script exits" {
  ns=$(make_netns d)
  in_ns "$ns" tunctl add dvp0 --mode tun -q
  in_ns "$ns" tunctl up dvp0 --address 198.18.12.1/30 --peer 198.18.12.2 -q
  log=$BATS_TEST_TMPDIR/echo.log
  spawn_bg "$log" ip netns exec "$ns" node "$ECHO" --name dvp0 --attach --replies 2 --timeout 30 >/dev/null
  wait_for 15 grep -q '^ready dvp0' "$log" || { cat "$log"; false; }
  run in_ns "$ns" ping -n -c 2 -i 0.2 -W 5 198.18.12.2
  assert_success
  assert_output --partial '2 packets transmitted, 2 received'
  finished "$log" 15
  # the script has closed the device and exited: the device is still there
  wait_for 10 sh -c "! ip netns pids $ns | grep -q ."
  assert_equal "$(link_json "$ns" dvp0 | jq -c '[.linkinfo.info_data.persist, .linkinfo.info_data.type]')" '[true,"tun"]'
}

@test "no peer script: pings through the device get no answer (the test above can fail)" {
  ns=$(make_netns d)
  in_ns "$ns" tunctl add dvn0 --mode tun -q
  in_ns "$ns" tunctl up dvn0 --address 198.18.13.1/24 -q
  run in_ns "$ns" ping -n -c 2 -i 0.2 -W 1 198.18.13.2
  assert_failure
  assert_output --partial ', 0 received'
}

@test "a single-queue device held by a process is busy (exit 1, clear); a multi-queue one takes several fds" {
  ns=$(make_netns d)
  log=$BATS_TEST_TMPDIR/echo.log
  spawn_bg "$log" ip netns exec "$ns" node "$ECHO" --name dvs0 --replies 1 --timeout 30 >/dev/null
  wait_for 15 grep -q '^ready dvs0' "$log" || { cat "$log"; false; }
  run --separate-stderr in_ns "$ns" node "$PROJECT_ROOT/test/helpers/tun-attach.mjs" dvs0
  assert_failure 1
  [[ $stderr == *'dvs0: cannot open TUN/TAP device: device is busy'* ]]
  [[ $stderr == *'hint: '*'multi-queue'* ]]

  in_ns "$ns" tunctl add dvm0 --mode tap --multi-queue -q
  alog=$BATS_TEST_TMPDIR/attach.log
  spawn_bg "$alog" ip netns exec "$ns" node "$PROJECT_ROOT/test/helpers/tun-attach.mjs" dvm0 --queues 3 --hold-ms 20000 >/dev/null
  wait_for 15 grep -q '^attached dvm0 tap' "$alog" || { cat "$alog"; false; }
  grep -q 'queues=3' "$alog"
  # the kernel sees three attached queues
  assert_equal "$(link_json "$ns" dvm0 | jq .linkinfo.info_data.numqueues)" 3
}
