#!/usr/bin/env bats
# tund check: validates a session file and its secret without touching the system. Exit 0 with a
# one-line summary on stdout, 78 with every problem as `file:line: problem` on stderr, 2 on usage
# errors. Warnings (`tund: warning: ...`) never change the exit status.

load ../helpers/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
  CONF=$TUND_CONFIG_DIR/office.conf
  cat >"$CONF" <<'EOC'
# office VPN
[Session]
Role = client
Endpoint = 198.18.0.2:5000
Transport = udp
Compress = lzo:1
Encrypt = aes128cbc

[Device]
Mode = tun
Address = 198.19.0.1
Peer = 198.19.0.2
MTU = 1400

[Route]
Mode = split
AllowedIPs = 198.19.128.0/17
EOC
  chmod 600 "$CONF"
  SECRET=very-secret-$RANDOM
  printf '%s\n' "$SECRET" >"$TUND_CONFIG_DIR/office.secret"
  chmod 600 "$TUND_CONFIG_DIR/office.secret"
}

teardown() { common_teardown; }

# session NAME TEXT: NAME.conf with TEXT and a secret, both mode 0600
session() {
  printf '%b' "$2" >"$TUND_CONFIG_DIR/$1.conf"
  printf 'x\n' >"$TUND_CONFIG_DIR/$1.secret"
  chmod 600 "$TUND_CONFIG_DIR/$1.conf" "$TUND_CONFIG_DIR/$1.secret"
}

# every non-hint line of stderr must be "tund: FILE:LINE: ..." (or "tund: FILE: ..." when whole-file)
assert_problem_lines() {
  local file=$1 line n=0
  while IFS= read -r line; do
    [[ $line == hint:* ]] && continue
    [[ $line == "tund: $file:"* ]] || { echo "not a file:line line: $line"; return 1; }
    n=$((n + 1))
  done <<<"$stderr"
  ((n > 0))
}

@test "a valid session: exit 0, summary on stdout, nothing on stderr" {
  run --separate-stderr tund check office
  assert_success
  assert_output 'office: ok (client, vtun to 198.18.0.2:5000 (the server picks tcp or udp), tun device office)'
  [ -z "$stderr" ]
}

@test "--file checks a file outside the config directory (NAME from the file name)" {
  mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
  cp "$CONF" "$BATS_TEST_TMPDIR/elsewhere/lab.conf"
  cp "$TUND_CONFIG_DIR/office.secret" "$BATS_TEST_TMPDIR/elsewhere/lab.secret"
  run --separate-stderr tund check --file "$BATS_TEST_TMPDIR/elsewhere/lab.conf"
  assert_success
  assert_output 'lab: ok (client, vtun to 198.18.0.2:5000 (the server picks tcp or udp), tun device lab)'
}

@test "a client without Transport: the summary does not claim tcp (the server picks the transport)" {
  session plain '[Session]\nRole = client\nEndpoint = 198.18.0.2\n'
  run --separate-stderr tund check plain
  assert_success
  assert_output 'plain: ok (client, vtun to 198.18.0.2:5000 (the server picks tcp or udp), tun device plain)'
  refute_output --partial 'over tcp'
}

@test "a server session summary" {
  session hub '[Session]\nRole = server\nListen = 198.18.0.1:5001\n[Device]\nMode = ether\nName = lab0\n'
  run --separate-stderr tund check hub
  assert_success
  assert_output 'hub: ok (server, vtun over tcp on 198.18.0.1:5001, tap device lab0)'
}

@test "a VTun server session with DNS: ok, with a warning at the DNS line that tund-inetd.service refuses it" {
  session srvdns '[Session]\nRole = server\n[Device]\nMode = tun\n[Route]\nDNS = 198.18.0.53\n'
  run --separate-stderr tund check srvdns
  assert_success
  [[ $stderr == "tund: warning: $TUND_CONFIG_DIR/srvdns.conf:6: DNS: tund-inetd.service (tund.socket) refuses to serve this session"*"run it as tund@srvdns.service" ]]
}

@test "every problem at once as file:line, exit 78, nothing on stdout" {
  cat >"$CONF" <<'EOC'
[Session]
Role = clinet
Endpoint = 198.18.0.2:99999
Timeout = 0
[Device]
MTU = 90000
Adress = 198.19.0.1
[Rout]
Mode = split
EOC
  run --separate-stderr tund check office
  assert_failure 78
  [ -z "$output" ]
  assert_problem_lines "$CONF"
  [[ $stderr == *"$CONF:2: Role \"clinet\" invalid (expected client|server; did you mean \"client\"?)"* ]]
  [[ $stderr == *"$CONF:3: Endpoint \"198.18.0.2:99999\" invalid: port \"99999\" out of range (1-65535)"* ]]
  [[ $stderr == *"$CONF:4: Timeout \"0\" out of range (1-3600)"* ]]
  [[ $stderr == *"$CONF:6: MTU \"90000\" out of range (576-65535)"* ]]
  [[ $stderr == *"$CONF:7: unknown key \"Adress\" in [Device] (did you mean \"Address\"?)"* ]]
  [[ $stderr == *"$CONF:8: unknown section [Rout] (did you mean [Route]?)"* ]]
  [ "$(grep -c "^tund: $CONF:" <<<"$stderr")" -eq 6 ]
}

@test "cross-key problems: client without Endpoint, Program on tun, NatHack over tcp" {
  printf '[Session]\nRole = client\nNatHack = yes\n[Device]\nProgram = cat\n' >"$CONF"
  run --separate-stderr tund check office
  assert_failure 78
  assert_problem_lines "$CONF"
  [[ $stderr == *"$CONF:2: Role = client needs an Endpoint"* ]]
  [[ $stderr == *"$CONF:3: NatHack = yes needs Transport = udp"* ]]
  [[ $stderr == *"$CONF:5: Program is only used with Mode = pipe or tty"* ]]
}

@test "warnings do not fail: zlib over udp, legacy blowfish, host bits, world-readable file" {
  sed -i 's/^Compress = .*/Compress = zlib:1/; s/^Encrypt = .*/Encrypt = yes/; s#^AllowedIPs = .*#AllowedIPs = 198.19.128.1/17#' "$CONF"
  chmod 644 "$CONF"
  run --separate-stderr tund check office
  assert_success
  assert_output --partial 'office: ok'
  [[ $stderr == *"tund: warning: $CONF: readable or writable by group/others (mode 0644; expected 0600"* ]]
  [[ $stderr == *"tund: warning: $CONF:6: zlib compression over udp is fragile"* ]]
  [[ $stderr == *"tund: warning: $CONF:7: Encrypt \"blowfish128ecb\" needs the OpenSSL legacy provider"* ]]
  [[ $stderr == *"tund: warning: $CONF:17: AllowedIPs \"198.19.128.1/17\" has host bits set (using 198.19.128.0/17)"* ]]
}

@test "a missing session: exit 78 naming the expected file" {
  run --separate-stderr tund check nosuch
  assert_failure 78
  [ -z "$output" ]
  [[ $stderr == "tund: $TUND_CONFIG_DIR/nosuch.conf: no such session (expected $TUND_CONFIG_DIR/nosuch.conf)"* ]]
}

@test "a missing secret: exit 78 with the tunauth hint" {
  rm "$TUND_CONFIG_DIR/office.secret"
  run --separate-stderr tund check office
  assert_failure 78
  [[ $stderr == *"tund: $TUND_CONFIG_DIR/office.secret: no secret file for session \"office\""* ]]
  [[ $stderr == *'hint: set the password with "tunauth passwd office"'* ]]
}

@test "a secret readable by others is refused with mode and chmod fix, and is never printed" {
  chmod 644 "$TUND_CONFIG_DIR/office.secret"
  run --separate-stderr tund check office
  assert_failure 78
  [[ $stderr == *"tund: $TUND_CONFIG_DIR/office.secret: secret file is readable by others (mode 0644; expected 0600)"* ]]
  [[ $stderr == *"hint: run \"chmod 600 $TUND_CONFIG_DIR/office.secret\""* ]]
  [[ $stderr != *"$SECRET"* && $output != *"$SECRET"* ]]
  chmod 600 "$TUND_CONFIG_DIR/office.secret"
  run --separate-stderr tund check office
  assert_success
}

@test "SecretFile may point elsewhere; a systemd credential is preferred" {
  mkdir -p "$BATS_TEST_TMPDIR/keys" "$BATS_TEST_TMPDIR/creds"
  mv "$TUND_CONFIG_DIR/office.secret" "$BATS_TEST_TMPDIR/keys/pw"
  sed -i "s#^Role = client#Role = client\nSecretFile = $BATS_TEST_TMPDIR/keys/pw#" "$CONF"
  run --separate-stderr tund check office
  assert_success
  rm "$BATS_TEST_TMPDIR/keys/pw"
  run --separate-stderr tund check office
  assert_failure 78
  printf 'cred\n' >"$BATS_TEST_TMPDIR/creds/office.secret"; chmod 400 "$BATS_TEST_TMPDIR/creds/office.secret"
  CREDENTIALS_DIRECTORY=$BATS_TEST_TMPDIR/creds run --separate-stderr tund check office
  assert_success
}

@test "usage errors exit 2: no argument, both NAME and --file, bad name, unknown flag" {
  run --separate-stderr tund check
  assert_failure 2
  [[ $stderr == *'check: give a session NAME or --file PATH (one of them)'* ]]
  run --separate-stderr tund check office --file "$CONF"
  assert_failure 2
  run --separate-stderr tund check 'bad/name'
  assert_failure 2
  [[ $stderr == *'invalid session name "bad/name"'* ]]
  run --separate-stderr tund check --bogus office
  assert_failure 2
  [ -z "$output" ]
}

@test "tund check touches nothing: no device, no route appears" {
  ns=$(make_netns c)
  run --separate-stderr in_ns "$ns" tund check office
  assert_success
  [ "$(ip -n "$ns" -j link show | jq length)" -eq 1 ]   # only lo
  [ "$(ip -n "$ns" -j route show | jq length)" -eq 0 ]
}

@test "showconf: the effective configuration (defaults filled in) on stdout, never the secret, and it reads back" {
  run --separate-stderr tund showconf office
  assert_success
  assert_equal "$stderr" ''
  assert_line 'Endpoint = 198.18.0.2:5000'
  assert_line 'Keepalive = no'
  assert_line 'Timeout = 30'
  assert_line 'Name = office'
  assert_line "SecretFile = $TUND_CONFIG_DIR/office.secret"
  assert_line 'AllowedIPs = 198.19.128.0/17'
  # a client prints what its file requires of the server (Transport, Encrypt, Compress), never Multi
  assert_line 'Transport = udp'
  assert_line 'Encrypt = aes128cbc'
  refute_line --regexp '^Multi ='
  [[ $output != *"$SECRET"* ]]
  # what it prints is a valid session file that means the same
  mkdir -p "$BATS_TEST_TMPDIR/shown"
  printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/shown/office.conf"
  chmod 600 "$BATS_TEST_TMPDIR/shown/office.conf"
  run --separate-stderr tund check --file "$BATS_TEST_TMPDIR/shown/office.conf"
  assert_success
  run --separate-stderr tund showconf --file "$BATS_TEST_TMPDIR/shown/office.conf"
  assert_success
  assert_equal "$(tail -n +2 <<<"$output")" "$(tund showconf office | tail -n +2)"
}

@test "showconf: an invalid file is 78 with every problem, a missing NAME is 2" {
  printf 'MTU = 90000\n' >>"$CONF"
  run --separate-stderr tund showconf office
  assert_failure 78
  assert_output ''
  [[ $stderr == *"tund: $CONF:"* ]]
  run --separate-stderr tund showconf
  assert_failure 2
  [[ $stderr == 'tund: showconf: give a session NAME or --file PATH (one of them)'* ]]
}
