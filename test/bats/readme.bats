#!/usr/bin/env bats
# The quick start of README.md, run as written: its commands are taken from the file (the fenced
# blocks after <!-- quickstart:server -->, <!-- quickstart:client --> and the rest) and pasted
# into two fresh hosts, so that README and reality cannot drift apart. A host is a network namespace of its
# own (the README's 198.18.0.1 and 198.18.0.2 on a veth pair) with a private /etc/tund, /run/tund
# and /run/wireguard, and no TUND_* test overrides; the public keys are copied across as a user
# pastes them.
bats_require_minimum_version 1.5.0

load ../helpers/common

setup() {
  common_setup
  # mount points for each host's private /etc/tund, /run/tund and /run/wireguard (made here
  # only when missing)
  MADE_DIRS=()
  for d in /etc/tund /run/tund /run/wireguard; do
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

# on_host NS SCRIPT: SCRIPT pasted into a root shell on the host NS. The host keeps its /etc/tund,
# /run/tund and /run/wireguard from one paste to the next (directories of the test, bind-mounted
# in a mount namespace of each paste's own).
on_host() {
  local host=$BATS_TEST_TMPDIR/host-$1
  mkdir -p "$host/etc" "$host/run" "$host/wg"
  ip netns exec "$1" unshare --mount --propagation private -- env -u TUND_CONFIG_DIR -u TUND_RUN_DIR bash -c '
    mount --bind "$1/etc" /etc/tund && mount --bind "$1/run" /run/tund && mount --bind "$1/wg" /run/wireguard || exit 97
    exec bash -e -c "$2"' sh "$host" "$2" </dev/null
}

# the public key a `tund new` block printed: its one line of stdout
printed_key() {
  [[ $(wc -l <"$1") -eq 1 ]] && grep -E '^[A-Za-z0-9+/]{43}=$' "$1"
}

@test "README quick start, by hand: pasted into two namespaces, keys copied across, the WireGuard tunnel comes up and pings" {
  local server client server_run client_run server_key client_key
  server=$(quickstart server)
  client=$(quickstart client)
  server_run=$(quickstart server-run)
  client_run=$(quickstart client-run)
  # the blocks are there and are what a user pastes (no test scaffolding in them)
  [[ $server == 'tund new hq '* && $client == *'--peer SERVER_KEY'* && $server_run == *'tund peer add hq CLIENT_KEY'* ]]
  [[ $server_run == *'tund hq &'* && $client_run == *'ping -c 3 198.19.0.1'* ]]
  ns_s=$(make_netns server)
  ns_c=$(make_netns client)
  veth_pair "$ns_s" 198.18.0.1/24 "$ns_c" 198.18.0.2/24

  # each tund new prints its public key alone on stdout; the user copies it into the other side's
  # block (the placeholder replaced, as a paste would)
  on_host "$ns_s" "$server" >"$BATS_TEST_TMPDIR/server-new.out" 2>"$BATS_TEST_TMPDIR/server-new.err" || { cat "$BATS_TEST_TMPDIR"/server-new.*; false; }
  server_key=$(printed_key "$BATS_TEST_TMPDIR/server-new.out")
  on_host "$ns_c" "${client//SERVER_KEY/$server_key}" >"$BATS_TEST_TMPDIR/client-new.out" 2>"$BATS_TEST_TMPDIR/client-new.err" || { cat "$BATS_TEST_TMPDIR"/client-new.*; false; }
  client_key=$(printed_key "$BATS_TEST_TMPDIR/client-new.out")
  [[ $client_key != "$server_key" ]]
  # what to do next is on stderr, the private keys nowhere but in the files
  grep -q 'next:' "$BATS_TEST_TMPDIR/server-new.err"
  ! grep -rq "$(sed -n 's/^PrivateKey = //p' "$BATS_TEST_TMPDIR/host-$ns_s/etc/hq.conf")" "$BATS_TEST_TMPDIR"/*.out "$BATS_TEST_TMPDIR"/*.err
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/host-$ns_s/etc/hq.conf")" = 600 ]

  # (the sessions started with "&" keep their output: to files, not to a pipe bats waits on)
  on_host "$ns_s" "${server_run//CLIENT_KEY/$client_key}" >"$BATS_TEST_TMPDIR/server.out" 2>&1 || { cat "$BATS_TEST_TMPDIR/server.out"; false; }
  # as a user would, start the client once the server listens
  wait_for 15 sh -c "ip netns exec $ns_s ss -Hlun 'sport = :51820' | grep -q ."

  on_host "$ns_c" "$client_run" >"$BATS_TEST_TMPDIR/client.out" 2>&1 || { cat "$BATS_TEST_TMPDIR/client.out"; false; }
  run cat "$BATS_TEST_TMPDIR/client.out"
  assert_output --partial '3 packets transmitted, 3 received'
  assert_line 'session: hq'
  assert_line --regexp '^  state: connected since '
  assert_line "  peer: $server_key"
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
