#!/usr/bin/env bats
# The quick start of README.md, run as written: its commands are taken from the file (the fenced
# blocks after <!-- quickstart:server --> and <!-- quickstart:client -->) and pasted into two
# fresh hosts, so that README and reality cannot drift apart. A host is a network namespace of its
# own (the README's 198.18.0.1 and 198.18.0.2 on a veth pair) with a private /etc/tund and
# /run/tund (tmpfs in a mount namespace of its own), and no TUND_* test overrides.
bats_require_minimum_version 1.5.0

load ../helpers/common

setup() {
  common_setup
  SECRET=readme-$RANDOM$RANDOM
  # mount points for the private /etc/tund and /run/tund (made here only when missing)
  MADE_DIRS=()
  for d in /etc/tund /run/tund; do
    [[ -d $d ]] || { mkdir -p "$d" && MADE_DIRS+=("$d"); }
  done
}

teardown() {
  common_teardown
  local d
  for d in "${MADE_DIRS[@]}"; do rmdir "$d" 2>/dev/null || true; done
}

# quickstart NAME: the commands of the block after <!-- quickstart:NAME --> in README.md
quickstart() {
  awk -v tag="<!-- quickstart:$1 -->" '
    $0 == tag { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$PROJECT_ROOT/README.md"
}

# on_host NS SCRIPT: SCRIPT pasted into a root shell on the host NS; what tunauth asks for comes
# from stdin, as typed
on_host() {
  ip netns exec "$1" unshare --mount --propagation private -- env -u TUND_CONFIG_DIR -u TUND_RUN_DIR bash -c '
    mount -t tmpfs -o mode=0755 readme-etc /etc/tund && mount -t tmpfs -o mode=0755 readme-run /run/tund || exit 97
    exec bash -e -c "$1"' sh "$2" <<<"$SECRET"
}

@test "README quick start, by hand: pasted into two namespaces, the tunnel comes up and pings" {
  server=$(quickstart server)
  client=$(quickstart client)
  # the blocks are there and are what a user pastes (no test scaffolding in them)
  [[ $server == *'tund hq &'* && $client == *'ping -c 3 198.19.0.1'* ]]
  ns_s=$(make_netns server)
  ns_c=$(make_netns client)
  veth_pair "$ns_s" 198.18.0.1/24 "$ns_c" 198.18.0.2/24

  # (the sessions started with "&" keep their output: to files, not to a pipe bats waits on)
  on_host "$ns_s" "$server" >"$BATS_TEST_TMPDIR/server.out" 2>&1 || { cat "$BATS_TEST_TMPDIR/server.out"; false; }
  # as a user would, start the client once the server listens
  wait_for 15 sh -c "ip netns exec $ns_s ss -Hltn 'sport = :5000' | grep -q LISTEN"

  on_host "$ns_c" "$client" >"$BATS_TEST_TMPDIR/client.out" 2>&1 || { cat "$BATS_TEST_TMPDIR/client.out"; false; }
  run cat "$BATS_TEST_TMPDIR/client.out"
  assert_output --partial '3 packets transmitted, 3 received'
  assert_line 'session: hq'
  assert_line --regexp '^  state: connected since '
  # the tunnel is the README's: both ends have their address
  ip -n "$ns_s" -j addr show dev hq | jq -e '[.[0].addr_info[] | select(.local == "198.19.0.1")] | length == 1'
  ip -n "$ns_c" -j addr show dev hq | jq -e '[.[0].addr_info[] | select(.local == "198.19.0.2")] | length == 1'
  # nothing of it reached the host's /etc/tund
  [ ! -e /etc/tund/hq.conf ]
}

@test "README quick start, under systemd: the unit it names exists, its tunctl line parses" {
  block=$(quickstart systemd)
  [[ -n $block ]]
  # systemctl enable --now tund@hq: the template exists (make install installs every file of
  # units/, systemd-install.bats checks that)
  unit=$(grep -o 'tund@[a-z]*' <<<"$block" | head -n1)
  [ "$unit" = tund@hq ]
  [ -f "$PROJECT_ROOT/units/tund@.service" ]
  # every tunctl command of the block is a valid command line: with no such session it says so
  # (exit 3), never a usage error (exit 2)
  while IFS= read -r cmd; do
    read -ra words <<<"$cmd"
    TUND_CONFIG_DIR=$BATS_TEST_TMPDIR/none run --separate-stderr "${words[@]}"
    [ "$status" -eq 3 ] || { echo "$cmd: exit $status: $stderr"; false; }
  done < <(grep -o 'tunctl [^&]*' <<<"$block" | sed 's/ *$//')
}
