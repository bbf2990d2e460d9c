#!/usr/bin/env bats
# tunauth end to end: passwd (stdin and a real pty), check, and probe against the real vtund.

load ../helpers/common
bats_require_minimum_version 1.5.0

PEER=$PROJECT_ROOT/test/helpers/vtund-peer.sh

setup() {
  common_setup
  PEER_PIDFILES=()
}

teardown() {
  local f
  for f in "${PEER_PIDFILES[@]}"; do "$PEER" stop "$f" >/dev/null 2>&1 || true; done
  common_teardown
}

# A pty driver: runs CMD on a fresh pseudo-terminal, answers each PROMPT with its reply once the
# prompt has appeared (so nothing is typed before the program turned echo off), prints everything
# the terminal showed, exits with CMD's status. Bounded by 20 s.
pty_run() { # pty_run "reply1" "reply2" -- CMD...
  python3 - "$@" <<'PY'
import os, pty, sys, time, select
args = sys.argv[1:]
sep = args.index('--')
replies, cmd = args[:sep], args[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b''
deadline = time.time() + 20
prompts = [b'Secret for session', b'Again:']
i = 0
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if i < len(replies) and prompts[min(i, len(prompts) - 1)] in out:
        time.sleep(0.1)
        os.write(fd, replies[i].encode() + b'\r')
        i += 1
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
PY
}

write_client_conf() { # NAME ENDPOINT [HOST]
  cat >"$TUND_CONFIG_DIR/$1.conf" <<EOC
[Session]
Role = client
Endpoint = $2
Host = ${3:-vtpeer}
Timeout = 5
EOC
  chmod 600 "$TUND_CONFIG_DIR/$1.conf"
}

# two namespaces joined by a veth: server side 198.18.61.1, client side 198.18.61.2
two_namespaces() {
  NS_S=$(make_netns s)
  NS_C=$(make_netns c)
  veth_pair "$NS_S" 198.18.61.1/30 "$NS_C" 198.18.61.2/30
}

start_vtund_server() { # PASSWORD [extra peer options...]
  local pw=$1; shift
  local pidfile
  pidfile=$("$PEER" server --netns "$NS_S" --session vtpeer --password "$pw" --server-addr 198.18.61.1 \
    --port 5000 --type tun --lifetime 120 "$@")
  PEER_PIDFILES+=("$pidfile")
  echo "$pidfile"
}

tun_count() { ip -n "$1" -j -d link show | jq '[.[] | select(.linkinfo.info_kind == "tun")] | length'; }

@test "passwd reads one line from stdin and writes it 0600 with the right content" {
  run bash -c 'printf "s3cret-pw\n" | tunauth passwd office'
  assert_success
  refute_output --partial 's3cret-pw'
  f=$TUND_CONFIG_DIR/office.secret
  [ -f "$f" ]
  [ "$(stat -c %a "$f")" = 600 ]
  [ "$(cat "$f")" = s3cret-pw ]
  # no temporary file left behind
  [ "$(ls -A "$TUND_CONFIG_DIR")" = office.secret ]
  # a second run replaces it
  run bash -c 'printf "other-pw" | tunauth passwd office'
  assert_success
  [ "$(cat "$f")" = other-pw ]
  [ "$(stat -c %a "$f")" = 600 ]
}

@test "passwd writes [Session] SecretFile of the config" {
  cat >"$TUND_CONFIG_DIR/office.conf" <<EOC
[Session]
Role = client
Endpoint = 198.18.61.1:5000
SecretFile = keys/office.pw
EOC
  chmod 600 "$TUND_CONFIG_DIR/office.conf"
  run bash -c 'printf "pw-in-secretfile\n" | tunauth passwd office'
  assert_success
  [ "$(cat "$TUND_CONFIG_DIR/keys/office.pw")" = pw-in-secretfile ]
  [ "$(stat -c %a "$TUND_CONFIG_DIR/keys/office.pw")" = 600 ]
  [ ! -e "$TUND_CONFIG_DIR/office.secret" ]
}

@test "passwd never takes the secret on the command line" {
  run tunauth passwd office s3cret-pw </dev/null
  assert_failure 2
  [ ! -e "$TUND_CONFIG_DIR/office.secret" ]
  run tunauth passwd office --password s3cret-pw </dev/null
  assert_failure 2
  [ ! -e "$TUND_CONFIG_DIR/office.secret" ]
}

@test "passwd refuses an empty secret and more than one line" {
  run bash -c 'printf "\n" | tunauth passwd office'
  assert_failure 1
  run bash -c 'printf "a\nb\n" | tunauth passwd office'
  assert_failure 1
  [ ! -e "$TUND_CONFIG_DIR/office.secret" ]
}

@test "passwd on a terminal asks twice and does not echo the secret" {
  run pty_run 'Typed-Secret-42' 'Typed-Secret-42' -- tunauth passwd office
  assert_success
  assert_output --partial 'Secret for session office:'
  assert_output --partial 'Again:'
  refute_output --partial 'Typed-Secret-42'
  [ "$(cat "$TUND_CONFIG_DIR/office.secret")" = Typed-Secret-42 ]
  [ "$(stat -c %a "$TUND_CONFIG_DIR/office.secret")" = 600 ]
}

@test "passwd on a terminal writes nothing when the two secrets differ" {
  run pty_run 'first-secret' 'second-secret' -- tunauth passwd office
  assert_failure 1
  assert_output --partial 'differ'
  refute_output --partial 'first-secret'
  [ ! -e "$TUND_CONFIG_DIR/office.secret" ]
}

@test "check finds a world-readable and a missing secret and prints the fixing commands" {
  write_client_conf good 198.18.61.1:5000
  write_client_conf loose 198.18.61.1:5000
  write_client_conf absent 198.18.61.1:5000
  printf 'pw\n' | tunauth passwd good
  printf 'pw\n' | tunauth passwd loose
  chmod 644 "$TUND_CONFIG_DIR/loose.secret"
  run tunauth check
  assert_failure 1
  assert_line "good: ok ($TUND_CONFIG_DIR/good.secret)"
  assert_line "loose: $TUND_CONFIG_DIR/loose.secret: secret file is readable by others (mode 0644; expected 0600)"
  assert_line "  fix: chmod 600 $TUND_CONFIG_DIR/loose.secret"
  assert_line "absent: $TUND_CONFIG_DIR/absent.secret: no secret file"
  assert_line "  fix: tunauth passwd absent"
  run tunauth check good
  assert_success
  run tunauth check --json
  assert_failure 1
  [ "$(jq -r '.sessions[] | select(.session=="loose") | .problems[0].fix' <<<"$output")" = "chmod 600 $TUND_CONFIG_DIR/loose.secret" ]
  [ "$(jq -r '.ok' <<<"$output")" = false ]
  # applying the fixes makes it pass
  chmod 600 "$TUND_CONFIG_DIR/loose.secret"
  printf 'pw\n' | tunauth passwd absent
  run tunauth check
  assert_success
}

@test "check reports a secret not owned by root" {
  printf 'pw\n' | tunauth passwd office
  chown 1234:1234 "$TUND_CONFIG_DIR/office.secret"
  run tunauth check office
  assert_failure 1
  assert_line "  fix: chown root: $TUND_CONFIG_DIR/office.secret"
}

@test "tund check and tunauth check agree: a symlinked or foreign-owned secret fails both, a proper one passes both" {
  write_client_conf office 198.18.61.1:5000
  printf 'pw\n' | tunauth passwd office
  run tund check office
  assert_success
  run tunauth check office
  assert_success
  # a symbolic link to a good file
  mv "$TUND_CONFIG_DIR/office.secret" "$TUND_CONFIG_DIR/real.secret"
  ln -s "$TUND_CONFIG_DIR/real.secret" "$TUND_CONFIG_DIR/office.secret"
  run --separate-stderr tund check office
  assert_failure 78
  [[ $stderr == *"$TUND_CONFIG_DIR/office.secret: secret file is a symbolic link (expected a regular file)"* ]]
  run tunauth check office
  assert_failure 1
  assert_line "office: $TUND_CONFIG_DIR/office.secret: secret file is a symbolic link (expected a regular file)"
  # a regular file of another user
  rm "$TUND_CONFIG_DIR/office.secret"
  mv "$TUND_CONFIG_DIR/real.secret" "$TUND_CONFIG_DIR/office.secret"
  chown 1234:1234 "$TUND_CONFIG_DIR/office.secret"
  run --separate-stderr tund check office
  assert_failure 78
  [[ $stderr == *"$TUND_CONFIG_DIR/office.secret: secret file is owned by uid 1234 (expected root)"* ]]
  [[ $stderr == *"hint: run \"chown root: $TUND_CONFIG_DIR/office.secret\""* ]]
  run tunauth check office
  assert_failure 1
  assert_line "office: $TUND_CONFIG_DIR/office.secret: secret file is owned by uid 1234 (expected root)"
  # the session itself refuses it the same way (exit 78 before touching anything)
  run --separate-stderr tund office
  assert_failure 78
  [[ $stderr == *"secret file is owned by uid 1234 (expected root)"* ]]
}

@test "probe against the real vtund: success shows the flags and creates no device" {
  two_namespaces
  start_vtund_server probe-pw --compress lzo:1 --encrypt aes128cbc >/dev/null
  write_client_conf office 198.18.61.1:5000
  printf 'probe-pw\n' | tunauth passwd office
  before=$(ip -n "$NS_C" -j link show | jq length)
  run in_ns "$NS_C" tunauth probe office
  assert_success
  assert_line '  result: ok (authenticated as "vtpeer")'
  assert_line '  flags: <TuL1KE10>'
  assert_line '  transport: tcp'
  assert_line '  type: tun'
  assert_line '  compression: lzo level 1'
  assert_line '  cipher: aes128cbc'
  assert_line '  keepalive: on'
  assert_line --regexp '^  time: [0-9]+ ms$'
  refute_output --partial probe-pw
  [ "$(tun_count "$NS_C")" -eq 0 ]
  [ "$(ip -n "$NS_C" -j link show | jq length)" -eq "$before" ]
  run in_ns "$NS_C" tunauth probe office --json
  assert_success
  [ "$(jq -r .result <<<"$output")" = ok ]
  [ "$(jq -r .flags.raw <<<"$output")" = '<TuL1KE10>' ]
  [ "$(jq -r .flags.cipher <<<"$output")" = aes128cbc ]
  [ "$(jq -r .flags.compression_level <<<"$output")" = 1 ]
  [ "$(jq -r '.elapsed_ms | type' <<<"$output")" = number ]
  [ "$(jq -r .format <<<"$output")" = 1 ]
  [ "$(tun_count "$NS_C")" -eq 0 ]
}

@test "probe with a wrong secret: authentication failed" {
  two_namespaces
  start_vtund_server right-pw >/dev/null
  write_client_conf office 198.18.61.1:5000
  printf 'wrong-pw\n' | tunauth passwd office
  run --separate-stderr in_ns "$NS_C" tunauth probe office
  assert_failure 1
  [ -z "$output" ]
  [[ $stderr == *"authentication failed or session busy (the server does not say which)"* ]]
  [[ $stderr != *wrong-pw* ]]
  run in_ns "$NS_C" tunauth probe office --json
  assert_failure 1
  [ "$(jq -r .result <<<"$output")" = auth_failed ]
  [ "$(jq -r .flags <<<"$output")" = null ]
}

@test "probe with nothing listening: refused" {
  two_namespaces
  write_client_conf office 198.18.61.1:5001
  printf 'pw\n' | tunauth passwd office
  run in_ns "$NS_C" tunauth probe office
  assert_failure 1
  assert_output --partial 'connection refused'
  run in_ns "$NS_C" tunauth probe office --json
  [ "$(jq -r .result <<<"$output")" = refused ]
}

@test "probe against a listener that never answers: timeout" {
  two_namespaces
  spawn_bg "$BATS_TEST_TMPDIR/socat.log" ip netns exec "$NS_S" \
    socat -u TCP-LISTEN:5002,bind=198.18.61.1,reuseaddr OPEN:/dev/null >/dev/null
  wait_for 5 bash -c "ip netns exec $NS_S ss -Hltn 'sport = :5002' | grep -q LISTEN"
  write_client_conf office 198.18.61.1:5002
  printf 'pw\n' | tunauth passwd office
  start=$SECONDS
  run in_ns "$NS_C" tunauth probe office --timeout 2 --json
  assert_failure 1
  [ "$(jq -r .result <<<"$output")" = timeout ]
  [ "$(jq -r .elapsed_ms <<<"$output")" -ge 1900 ]
  (( SECONDS - start < 15 ))
}

@test "probe: bad config is 78, unreadable secret is 77" {
  run tunauth probe nosuch
  assert_failure 78
  printf '[Session]\nRole = client\nEndpoint = 198.18.61.1:99999\n' >"$TUND_CONFIG_DIR/bad.conf"
  run tunauth probe bad
  assert_failure 78
  # an unprivileged user can read the config but not the root-owned 0600 secret
  d=$(mktemp -d /tmp/tunauth-perm.XXXXXX)
  chmod 755 "$d"
  TUND_CONFIG_DIR=$d write_client_conf office 198.18.61.1:5000
  chmod 644 "$d/office.conf"
  printf 'pw\n' | TUND_CONFIG_DIR=$d tunauth passwd office
  run "$AS_ANY_USER" setpriv --reuid=65534 --regid=65534 --clear-groups env TUND_CONFIG_DIR="$d" \
    node "$PROJECT_ROOT/bin/tunauth" probe office
  rm -rf "$d"
  assert_failure 77
}

@test "probe while the session is connected and the server says multi no: busy, and the session survives" {
  two_namespaces
  start_vtund_server busy-pw --multi no --local-ip 198.19.61.1 --remote-ip 198.19.61.2 >/dev/null
  cpid=$("$PEER" client --netns "$NS_C" --session vtpeer --password busy-pw --server-addr 198.18.61.1 \
    --local-ip 198.19.61.2 --remote-ip 198.19.61.1 --wait-tunnel 15 --lifetime 120)
  PEER_PIDFILES+=("$cpid")
  in_ns "$NS_C" ping -c 1 -W 5 198.19.61.1
  write_client_conf office 198.18.61.1:5000
  printf 'busy-pw\n' | tunauth passwd office
  run --separate-stderr in_ns "$NS_C" tunauth probe office
  assert_failure 1
  [[ $stderr == *"authentication failed or session busy (the server does not say which)"* ]]
  # the running vtund session is still there and passes traffic
  in_ns "$NS_C" ping -c 1 -W 5 198.19.61.1
}
