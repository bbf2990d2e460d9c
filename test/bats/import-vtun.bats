#!/usr/bin/env bats
# tund import-vtun: real vtund.conf files (test/fixtures/vtund) become NAME.conf + NAME.secret
# (mode 0600) that `tund check` accepts; problems as file:line on stderr; summary on stdout;
# nothing overwritten without --force; a bad session does not stop the others.

load ../helpers/common
load ../helpers/vtun
bats_require_minimum_version 1.5.0

FIX=$BATS_TEST_DIRNAME/../fixtures/vtund

setup() {
  common_setup
  FIX=$(cd "$BATS_TEST_DIRNAME/../fixtures/vtund" && pwd)
}

teardown() {
  [[ -n ${VTUND_PIDFILES:-} ]] && vtun_teardown
  common_teardown
}

mode_of() { stat -c %a "$1"; }

@test "server sessions: one conf + secret per session, mode 0600, summary on stdout, tund check accepts each" {
  run --separate-stderr tund import-vtun "$FIX/server-site.conf"
  assert_success
  # stdout: exactly one line per written session, nothing else
  [ "${#lines[@]}" -eq 4 ]
  assert_line --index 0 "branch: wrote $TUND_CONFIG_DIR/branch.conf and $TUND_CONFIG_DIR/branch.secret (server, vtun over udp on 198.18.0.1:5000, tun device branch)"
  assert_line --index 1 --partial "lab: wrote $TUND_CONFIG_DIR/lab.conf"
  assert_line --index 2 --partial "kiosk: wrote"
  assert_line --index 3 --partial "backup: wrote"
  for s in branch lab kiosk backup; do
    [ "$(mode_of "$TUND_CONFIG_DIR/$s.conf")" = 600 ]
    [ "$(mode_of "$TUND_CONFIG_DIR/$s.secret")" = 600 ]
    run --separate-stderr tund check "$s"
    assert_success
    assert_output --partial "$s: ok (server, vtun over"
  done
  # the session without passwd and the duplicate were skipped, with warnings naming their lines
  [ ! -e "$TUND_CONFIG_DIR/unfinished.conf" ]
  ls -A "$TUND_CONFIG_DIR" | grep -v '\.\(conf\|secret\)$' && false
  [ "$(cat "$TUND_CONFIG_DIR/branch.secret")" = 'Br4nch&^pw' ]
  [ "$(cat "$TUND_CONFIG_DIR/lab.secret")" = 'l4b#secret' ]
}

@test "warnings name the vtund.conf line; stdout carries no diagnostics" {
  run --separate-stderr tund import-vtun "$FIX/server-site.conf"
  assert_success
  [[ $stderr == *"tund: warning: $FIX/server-site.conf:90: session \"unfinished\" has no passwd; ignored"* ]]
  [[ $stderr == *"tund: warning: $FIX/server-site.conf:96: session \"branch\" is defined again"* ]]
  [[ $stderr == *"tund: warning: $FIX/server-site.conf:55: session \"lab\": route \"add -net 198.19.200.0 netmask 255.255.255.0 gw 198.19.2.2\" kept as a hook: Up = /sbin/route add"* ]]
  [[ $stderr == *"tund: warning: $FIX/server-site.conf:52: session \"lab\": stat is not supported"* ]]
  # every stderr line is "tund: warning: FILE:LINE: ..." or "tund: note: FILE:LINE: ..."
  while IFS= read -r l; do
    [[ $l =~ ^tund:\ (warning|note):\ $FIX/server-site\.conf:[0-9]+:\  ]] || { echo "bad line: $l"; false; }
  done <<<"$stderr"
  [[ $output != *warning* ]]
}

@test "the converted settings are what the session needs (addresses, peer, MTU, routes, hooks)" {
  run --separate-stderr tund import-vtun "$FIX/server-site.conf"
  assert_success
  c=$TUND_CONFIG_DIR/branch.conf
  grep -qx 'Role = server' "$c"
  grep -qx 'Listen = 198.18.0.1:5000' "$c"
  grep -qx 'Transport = udp' "$c"
  grep -qx 'Encrypt = aes128cbc' "$c"
  grep -qx 'Compress = lzo:9' "$c"
  grep -qx 'Keepalive = 10:3' "$c"
  grep -qx 'Multi = killold' "$c"
  grep -qx 'Address = 198.19.1.1/32' "$c"
  grep -qx 'Peer = 198.19.1.2' "$c"
  grep -qx 'MTU = 1450' "$c"
  grep -qx 'Mode = split' "$c"
  grep -qx 'AllowedIPs = 198.19.100.0/24' "$c"
  grep -qx 'Up = /sbin/ip link set dev "${TUND_DEVICE}" multicast off' "$c"
  grep -qx 'Name = tap7' "$TUND_CONFIG_DIR/lab.conf"
  grep -qx 'Mode = tap' "$TUND_CONFIG_DIR/lab.conf"
  grep -qx "Program = /bin/sh -c 'tar cf - /srv/export'" "$TUND_CONFIG_DIR/backup.conf"
}

@test "--client SERVER: client sessions; a session with a bad name fails alone (exit 78), the others are written" {
  run --separate-stderr tund import-vtun "$FIX/client-site.conf" --client 198.18.0.1
  assert_failure 78
  assert_line --index 0 "branch: wrote $TUND_CONFIG_DIR/branch.conf and $TUND_CONFIG_DIR/branch.secret (client, vtun to 198.18.0.1:5005 (the server picks tcp or udp), tun device tun3)"
  assert_line --index 1 --partial "kiosk: wrote"
  [ "${#lines[@]}" -eq 2 ]
  [[ $stderr == *"tund: $FIX/client-site.conf:40: session \"a-very-long-session-name\": cannot be a tund session name"* ]]
  [[ $stderr == *"import-vtun: 2 sessions written, 1 not"* ]]
  [ ! -e "$TUND_CONFIG_DIR/a-very-long-session-name.conf" ]
  grep -qx 'Role = client' "$TUND_CONFIG_DIR/branch.conf"
  grep -qx 'Endpoint = 198.18.0.1:5005' "$TUND_CONFIG_DIR/branch.conf"
  for s in branch kiosk; do
    run --separate-stderr tund check "$s"
    assert_success
    assert_output --partial "$s: ok (client, vtun to "
  done
}

@test "--client with an explicit port, and --out DIR" {
  out=$BATS_TEST_TMPDIR/review
  run --separate-stderr tund import-vtun "$FIX/harness.conf" --client 198.18.0.1:6000 --out "$out"
  assert_success
  grep -qx 'Endpoint = 198.18.0.1:6000' "$out/vtpeer.conf"
  [ "$(mode_of "$out/vtpeer.secret")" = 600 ]
  [ -z "$(ls -A "$TUND_CONFIG_DIR")" ]
  run --separate-stderr tund check --file "$out/vtpeer-tap.conf"
  assert_success
  assert_output 'vtpeer-tap: ok (client, vtun to 198.18.0.1:6000 (the server picks tcp or udp), tap device vtpeer-tap)'
}

@test "existing files are not overwritten without --force (exit 1, content intact); --force replaces them" {
  printf 'old secret\n' >"$TUND_CONFIG_DIR/vtpeer.secret"; chmod 600 "$TUND_CONFIG_DIR/vtpeer.secret"
  run --separate-stderr tund import-vtun "$FIX/harness.conf"
  assert_failure 1
  [[ $stderr == *"vtpeer: $TUND_CONFIG_DIR/vtpeer.secret already exists; not overwritten (use --force to replace)"* ]]
  [[ $stderr == *'hint: use --force to replace existing files'* ]]
  [ "$(cat "$TUND_CONFIG_DIR/vtpeer.secret")" = 'old secret' ]
  [ ! -e "$TUND_CONFIG_DIR/vtpeer.conf" ]
  assert_line --partial 'vtpeer-tap: wrote'
  run --separate-stderr tund import-vtun "$FIX/harness.conf" --force
  assert_success
  [ "$(cat "$TUND_CONFIG_DIR/vtpeer.secret")" = 'vtpeer-secret' ]
  [ "$(mode_of "$TUND_CONFIG_DIR/vtpeer.secret")" = 600 ]
  [ "$(mode_of "$TUND_CONFIG_DIR/vtpeer.conf")" = 600 ]
  ls -A "$TUND_CONFIG_DIR" | grep -q '\.tmp$' && false
  true
}

@test "a broken vtund.conf: every problem as file:line, exit 78, nothing written" {
  run --separate-stderr tund import-vtun "$FIX/broken.conf"
  assert_failure 78
  [ -z "$output" ]
  [[ $stderr == *"tund: $FIX/broken.conf:3: unknown keyword \"persist\" in options"* ]]
  [[ $stderr == *"tund: $FIX/broken.conf:7: unknown keyword \"comp\" in session \"one\" (vtund does not accept abbreviations; write \"compress\")"* ]]
  [[ $stderr == *"tund: $FIX/broken.conf:10: a session may not be named \"speed\""* ]]
  [[ $stderr == *"tund: $FIX/broken.conf:16: unterminated string"* ]]
  [ "$(grep -c "^tund: $FIX/broken.conf:[0-9]*: " <<<"$stderr")" -eq 7 ]
  [ -z "$(ls -A "$TUND_CONFIG_DIR")" ]
}

@test "usage and input errors: missing FILE (2), bad --client (2), no such file (78)" {
  run --separate-stderr tund import-vtun
  assert_failure 2
  run --separate-stderr tund import-vtun "$FIX/harness.conf" --client 'bad host!'
  assert_failure 2
  [[ $stderr == *'--client "bad host!"'* ]]
  run --separate-stderr tund import-vtun "$BATS_TEST_TMPDIR/none.conf"
  assert_failure 78
  [[ $stderr == *"tund: $BATS_TEST_TMPDIR/none.conf: no such file"* ]]
  [ -z "$(ls -A "$TUND_CONFIG_DIR")" ]
}

@test "the Debian example files import and every written file passes tund check" {
  [ -r /usr/share/doc/vtun/examples/vtund-server.conf ] || skip "Debian's vtun examples are not installed"
  run --separate-stderr tund import-vtun /usr/share/doc/vtun/examples/vtund-server.conf
  assert_success
  n=0
  for f in "$TUND_CONFIG_DIR"/*.conf; do
    run --separate-stderr tund check --file "$f"
    assert_success
    n=$((n + 1))
  done
  [ "$n" -ge 4 ]
  out=$BATS_TEST_TMPDIR/clients
  run --separate-stderr tund import-vtun /usr/share/doc/vtun/examples/vtund-client.conf --client 198.18.0.1 --out "$out"
  assert_success
  for f in "$out"/*.conf; do
    run --separate-stderr tund check --file "$f"
    assert_success
  done
}

# run_vtund_parse NS FILE: the real vtund reads FILE as a stand-alone server for at most 3 s
# (private /run, inside NS); its log goes to stdout.
run_vtund_parse() {
  local ns=$1 file=$2 rundir=$BATS_TEST_TMPDIR/vtrun
  mkdir -p "$rundir"
  ip netns exec "$ns" unshare --mount --propagation private -- \
    sh -c 'mount --bind "$1" /run || exit 97; shift; exec timeout 3 vtund -n -s -P 5999 -f "$1"' sh "$rundir" "$file" 2>&1
}

@test "the fixtures are real vtund.conf files: Debian's vtund reads them (and stops at broken.conf:3)" {
  command -v vtund >/dev/null || fail "vtund is not installed (scripts/setup.sh installs it)"
  ns=$(make_netns v)
  ip -n "$ns" addr add 198.18.0.1/32 dev lo
  for f in server-site client-site harness; do
    run run_vtund_parse "$ns" "$FIX/$f.conf"
    [[ $output == *"waiting for connections on port 5999"* ]] || { echo "$f: $output"; false; }
    [[ $output != *"syntax error"* && $output != *"Unknown"* ]]
  done
  run run_vtund_parse "$ns" "$FIX/server-site.conf"
  [[ $output == *"Ignored incomplete session definition 'unfinished'"* ]]
  run run_vtund_parse "$ns" "$FIX/broken.conf"
  [[ $output == *"syntax error line 3"* ]]
  # tund reports that line too (and every later problem)
  run --separate-stderr tund import-vtun "$FIX/broken.conf"
  assert_failure 78
  [[ $stderr == *"broken.conf:3: "* ]]
}

# vtund_conf ROLE ARGS...: the vtund.conf the vtund peer helper would run (its --dry-run output)
vtund_conf() {
  local role=$1; shift
  "$VTUND_PEER" "$role" --session "$VT_HOST" --password "$VT_PW" --server-addr "$VT_SADDR" "$@" --dry-run
}

@test "an imported server session runs against the real vtund client (ping through the tunnel)" {
  command -v vtund >/dev/null || fail "vtund is not installed (scripts/setup.sh installs it)"
  vtun_setup
  vtund_conf server --local-ip "$VT_TS" --remote-ip "$VT_TC" --proto udp --encrypt aes128cbc --compress lzo:1 >"$BATS_TEST_TMPDIR/vtund-server.conf"
  run --separate-stderr tund import-vtun "$BATS_TEST_TMPDIR/vtund-server.conf" --out "$SDIR"
  assert_success
  assert_output "$VT_HOST: wrote $SDIR/$VT_HOST.conf and $SDIR/$VT_HOST.secret (server, vtun over udp on $VT_SADDR:5000, tun device $VT_HOST)"
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/tund-server.log" "$VT_HOST" >/dev/null
  wait_for 15 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  vtund_client --local-ip "$VT_TC" --remote-ip "$VT_TS" --wait-tunnel 15
  ping_through "$NS_C" "$VT_TS" 20
  # the kernel has what the imported file says: tun device, address and peer, the hook ran
  [ "$(link_kind "$NS_S" "$VT_HOST")" = tun ]
  has_addr "$NS_S" "$VT_HOST" "$VT_TS"
  [ "$(ip netns exec "$NS_S" sysctl -n "net.ipv6.conf.$VT_HOST.disable_ipv6")" = 1 ]
}

@test "an imported client session (--client) runs against the real vtund server" {
  command -v vtund >/dev/null || fail "vtund is not installed (scripts/setup.sh installs it)"
  vtun_setup
  vtund_conf client --local-ip "$VT_TC" --remote-ip "$VT_TS" >"$BATS_TEST_TMPDIR/vtund-client.conf"
  run --separate-stderr tund import-vtun "$BATS_TEST_TMPDIR/vtund-client.conf" --client "$VT_SADDR" --out "$CDIR"
  assert_success
  grep -qx "Endpoint = $VT_SADDR:5000" "$CDIR/$VT_HOST.conf"
  vtund_server --local-ip "$VT_TS" --remote-ip "$VT_TC" --proto udp --compress lzo:1 --encrypt aes256ecb
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund-client.log" "$VT_HOST" >/dev/null
  ping_through "$NS_C" "$VT_TS" 20
  [ "$(link_kind "$NS_C" "$VT_HOST")" = tun ]
  has_addr "$NS_C" "$VT_HOST" "$VT_TC"
}

# one_line_conf ROLE LOCAL REMOTE: the vtund peer helper's vtund.conf for ROLE, with the tunnel addresses set
# by the statement of the issue (two commands on one line), then the whole file on one line.
one_line_conf() {
  local role=$1 local_ip=$2 remote_ip=$3
  vtund_conf "$role" --extra-up "ip \"addr add $local_ip peer $remote_ip dev %%\"; ip \"link set %% up\";" |
    grep -v '^#' | tr '\n' ' '
}

@test "a vtund.conf written on one line imports as a server session that runs against the real vtund client" {
  command -v vtund >/dev/null || fail "vtund is not installed (scripts/setup.sh installs it)"
  vtun_setup
  one_line_conf server "$VT_TS" "$VT_TC" >"$BATS_TEST_TMPDIR/one-line.conf"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/one-line.conf")" -eq 0 ]   # no newline at all
  grep -q 'dev %%"; ip "link set %% up"; *}; *}' "$BATS_TEST_TMPDIR/one-line.conf"
  run --separate-stderr tund import-vtun "$BATS_TEST_TMPDIR/one-line.conf" --out "$SDIR"
  assert_success
  # the two commands became settings, not one broken hook
  grep -qx "Address = $VT_TS/32" "$SDIR/$VT_HOST.conf"
  grep -qx "Peer = $VT_TC" "$SDIR/$VT_HOST.conf"
  ! grep -q '^Up = .*addr add' "$SDIR/$VT_HOST.conf"
  [[ $stderr == *"one-line.conf:1: vtund 3.0.4 reads the quoted strings on this line as one"* ]]
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/tund-server.log" "$VT_HOST" >/dev/null
  wait_for 15 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  vtund_client --local-ip "$VT_TC" --remote-ip "$VT_TS" --wait-tunnel 15
  ping_through "$NS_C" "$VT_TS" 20
  has_addr "$NS_S" "$VT_HOST" "$VT_TS"
}

@test "a vtund.conf written on one line imports as a client session (--client) that runs against the real vtund server" {
  command -v vtund >/dev/null || fail "vtund is not installed (scripts/setup.sh installs it)"
  vtun_setup
  one_line_conf client "$VT_TC" "$VT_TS" >"$BATS_TEST_TMPDIR/one-line.conf"
  run --separate-stderr tund import-vtun "$BATS_TEST_TMPDIR/one-line.conf" --client "$VT_SADDR" --out "$CDIR"
  assert_success
  grep -qx "Address = $VT_TC/32" "$CDIR/$VT_HOST.conf"
  grep -qx "Peer = $VT_TS" "$CDIR/$VT_HOST.conf"
  vtund_server --local-ip "$VT_TS" --remote-ip "$VT_TC" --proto udp --compress lzo:1
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund-client.log" "$VT_HOST" >/dev/null
  ping_through "$NS_C" "$VT_TS" 20
  has_addr "$NS_C" "$VT_HOST" "$VT_TC"
}
