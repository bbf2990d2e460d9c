#!/usr/bin/env bats
# A packet engine whose threads cannot start takes back what its start set on the device, as a
# stop does: the tun's offloads (TUNSETOFFLOAD) are off again, for the next reader of a persistent
# device may not speak virtio_net_hdr. The threads fail for real: the engine's process is put in a
# cgroup of its own whose pids.max allows no new task. The offloads are read from the kernel
# (ETHTOOL_GTSO, the tun's TSO follows TUN_F_TSO4/6). test/helpers/engine-start-fail.mjs.

load ../helpers/common

setup() {
  common_setup
  NS=$(make_netns e)
  TUN=${TEST_TAG}es
  DIR=$BATS_TEST_TMPDIR/engine
  mkdir -p "$DIR"
  CG=
}

teardown() {
  common_teardown
  # the cgroup goes once the killed process has left it (bounded)
  if [[ -n $CG ]]; then
    wait_for 10 rmdir "$CG" || echo "cannot remove $CG" >&2
  fi
}

# pids_cgroup_root : where a pids cgroup can be made (cgroup v1 pids hierarchy, or v2 with pids
# enabled for the root's children); fails when there is none
pids_cgroup_root() {
  if [[ -f /sys/fs/cgroup/pids/cgroup.procs ]]; then echo /sys/fs/cgroup/pids
  elif grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then echo /sys/fs/cgroup
  else return 1; fi
}

# tso : 1 when the tun has TSO on (its offloads as the engine set them), 0 when off
tso() {
  ip netns exec "$NS" python3 -c '
import array, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_GTSO = 0x8946, 0x1e
value = array.array("I", [ETHTOOL_GTSO, 0])
ifreq = struct.pack("16sP", sys.argv[1].encode(), value.buffer_info()[0]).ljust(40, b"\0")
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
print(value[1])' "$TUN"
}

@test "engine: a start whose threads cannot start turns the tun's offloads off again, as a stop does" {
  local root pid
  root=$(pids_cgroup_root) || skip "no pids cgroup controller to limit the engine's threads with"
  pid=$(spawn_bg "$BATS_TEST_TMPDIR/engine.log" ip netns exec "$NS" node "$PROJECT_ROOT/test/helpers/engine-start-fail.mjs" --tun "$TUN" --dir "$DIR")
  wait_for 20 test -f "$DIR/a-started" || { cat "$BATS_TEST_TMPDIR/engine.log"; return 1; }
  # a running engine has the offloads on (what this test looks at is there to see), a stop turns them off
  run tso
  assert_output 1
  touch "$DIR/stop-a"
  wait_for 10 test -f "$DIR/a-stopped"
  run tso
  assert_output 0
  # no new task in the process's cgroup: the next engine's threads cannot start
  CG=$root/${TEST_TAG}-engine
  mkdir "$CG"
  echo "$pid" >"$CG/cgroup.procs"
  cat "$CG/pids.current" >"$CG/pids.max"
  touch "$DIR/start-b"
  wait_for 20 test -f "$DIR/b-result" || { cat "$BATS_TEST_TMPDIR/engine.log"; return 1; }
  run cat "$DIR/b-result"
  assert_output --partial "cannot start the engine's threads"
  run tso
  assert_output 0
}
