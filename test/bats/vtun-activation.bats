#!/usr/bin/env bats
# Socket activation and inetd: the three ways a VTun server gets its connection, driven
# by systemd-socket-activate (the same LISTEN_FDS protocol as systemd) and by a pipe-free inetd
# stand-in, with the real vtund as the client.

load ../helpers/common
load ../helpers/vtun

setup() { common_setup; vtun_setup; }
teardown() { vtun_teardown; common_teardown; }

activate() { # LOG ARGS... : systemd-socket-activate inside the server namespace, tund as the program
  local log=$1
  shift
  spawn_bg "$log" env TUND_CONFIG_DIR="$SDIR" TUND_RUN_DIR="$SRUN" ip netns exec "$NS_S" timeout 120 \
    systemd-socket-activate -l "$VT_SADDR:5000" -E TUND_CONFIG_DIR -E TUND_RUN_DIR -E PATH "$@" >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
}

@test "Accept=yes: tund serve serves the connected socket on fd 3 (one process per connection)" {
  tund_conf "$SDIR" vts server udp tun no lzo:1
  activate "$BATS_TEST_TMPDIR/activate.log" --accept "$PROJECT_ROOT/bin/tund" serve
  vtund_client --type tun --local-ip "$VT_TC" --remote-ip "$VT_TS"
  run ping_through "$NS_S" "$VT_TC" 20
  assert_success
  grep -q 'vts: accepted connection from 198.18.77.2' "$BATS_TEST_TMPDIR/activate.log"
  # not listening itself: the only listener on 5000 is systemd-socket-activate
  run sh -c "ip netns exec $NS_S ss -Hltnp 'sport = :5000'"
  assert_output --partial 'systemd-socket'
}

@test "Accept=no: tund serve listens on the passed socket and spawns a session per connection" {
  tund_conf "$SDIR" vts server tcp ether no no
  activate "$BATS_TEST_TMPDIR/activate.log" "$PROJECT_ROOT/bin/tund" serve
  vtund_client --type ether --local-ip "$VT_TC/24" --remote-ip "$VT_TS"
  run ping_through "$NS_S" "$VT_TC" 20
  assert_success
  grep -q 'serve: listening on fd 3' "$BATS_TEST_TMPDIR/activate.log"
  assert_equal "$(link_kind "$NS_S" vts)" tap
}

@test "Accept=no: a server session (tund NAME) listens on the passed socket" {
  tund_conf "$SDIR" vts server tcp tun no no
  activate "$BATS_TEST_TMPDIR/activate.log" "$PROJECT_ROOT/bin/tund" vts
  vtund_client --type tun --local-ip "$VT_TC" --remote-ip "$VT_TS"
  run ping_through "$NS_S" "$VT_TC" 20
  assert_success
  grep -q 'vts: listening: fd 3' "$BATS_TEST_TMPDIR/activate.log"
}

@test "inetd: tund serve --inetd serves the connection on stdin" {
  tund_conf "$SDIR" vts server tcp tun no no
  # socat plays inetd: accept, then run the program with the connection as stdin/stdout
  spawn_bg "$BATS_TEST_TMPDIR/inetd.log" env TUND_CONFIG_DIR="$SDIR" TUND_RUN_DIR="$SRUN" ip netns exec "$NS_S" timeout 120 \
    socat "TCP-LISTEN:5000,bind=$VT_SADDR,reuseaddr" "EXEC:$PROJECT_ROOT/bin/tund serve --inetd,nofork" >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  vtund_client --type tun --local-ip "$VT_TC" --remote-ip "$VT_TS"
  run ping_through "$NS_S" "$VT_TC" 20
  assert_success
  grep -q 'vts: accepted connection' "$BATS_TEST_TMPDIR/inetd.log"
}

@test "Accept=yes: a server session (tund NAME) serves the passed connection and exits when it ends" {
  tund_conf "$SDIR" vts server tcp tun no no
  activate "$BATS_TEST_TMPDIR/activate.log" --accept "$PROJECT_ROOT/bin/tund" vts
  vtund_client --type tun --local-ip "$VT_TC" --remote-ip "$VT_TS"
  run ping_through "$NS_S" "$VT_TC" 20
  assert_success
  grep -q 'vts: accepted connection from 198.18.77.2' "$BATS_TEST_TMPDIR/activate.log"
  # the peer goes: the per-connection process ends, its device with it
  kill -KILL -- "-$(cat "$VTUND_PIDFILE")"
  wait_for 10 sh -c "! ip -n $NS_S link show dev vts"
}
