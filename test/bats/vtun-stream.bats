#!/usr/bin/env bats
# VTun's byte-stream types, pipe (a socketpair) and tty (a pseudo-terminal), with the [Device]
# Program on the other end: tund client -> real vtund server, real vtund client -> tund serve, and
# tund to tund. Each side's program sends a file of random data and stores what it receives; the
# sha256 of both directions is compared. Also: the program ending ends the session (data sent
# before it ended arrives), without disturbing another session of the same `tund serve`; and a
# client without a Program refuses a pipe session from the server, and one whose Mode differs refuses it too.
#
# vtund leaves its pty in cooked mode, so the programs there start with `stty raw -echo`;
# tund's pty is raw already (the tund-side programs run stty anyway, as pppd would).

load ../helpers/common
load ../helpers/vtun

setup() {
  common_setup
  vtun_setup
  S_SEND=$BATS_TEST_TMPDIR/s.send S_RECV=$BATS_TEST_TMPDIR/s.recv
  C_SEND=$BATS_TEST_TMPDIR/c.send C_RECV=$BATS_TEST_TMPDIR/c.recv
  head -c $((1536 * 1024)) /dev/urandom >"$S_SEND"
  head -c $((1024 * 1024 + 777)) /dev/urandom >"$C_SEND"
}
teardown() { vtun_teardown; common_teardown; }

# the shell command of a program that sends SEND and writes what it receives to RECV; with ENV
# it first records what it was given (environment, its controlling terminal per the kernel)
stream_prog() {
  local type=$1 send=$2 recv=$3 envf=${4:-}
  local p=""
  [[ $type == tty ]] && p="stty raw -echo; "
  [[ -n $envf ]] && p+="echo \$TUND_SESSION \$TUND_DEVICE \$TUND_PEER \$TUND_REMOTE_ADDR \$TUND_LOCAL_PORT > $envf; ps -o tty= -p \$\$ >> $envf; echo \$\$ >> $envf; "
  echo "${p}cat $send & exec cat > $recv"
}

# the same as a vtund up {} line
vtund_prog() { echo "program /bin/sh \"-c '$1'\";"; }

# stream_conf DIR NAME ROLE TYPE PROGRAM [extra [Session] lines...]
stream_conf() {
  local dir=$1 name=$2 role=$3 type=$4 prog=$5
  shift 5
  {
    echo "[Session]"
    echo "Protocol = vtun"
    echo "Role = $role"
    if [[ $role == client ]]; then echo "Endpoint = $VT_SADDR:5000"; else echo "Listen = $VT_SADDR:5000"; fi
    echo "Host = ${STREAM_HOST:-$VT_HOST}"
    echo "Keepalive = 10:3"
    echo "Timeout = 5"
    local l
    for l in "$@"; do echo "$l"; done
    echo
    echo "[Device]"
    echo "Mode = $type"
    echo "Program = $prog"
  } >"$dir/$name.conf"
  printf '%s' "$VT_PW" >"$dir/$name.secret"
  chmod 600 "$dir/$name.conf" "$dir/$name.secret"
}

size_is() { [[ -f $1 && $(stat -c %s "$1") -eq $2 ]]; }

# both files arrived whole (bounded wait), and are byte-for-byte what was sent
both_ways() {
  local secs=${1:-60}
  wait_for "$secs" size_is "$C_RECV" "$(stat -c %s "$S_SEND")" || { echo "server -> client: $(stat -c %s "$C_RECV" 2>/dev/null || echo none) of $(stat -c %s "$S_SEND") bytes" >&2; return 1; }
  wait_for "$secs" size_is "$S_RECV" "$(stat -c %s "$C_SEND")" || { echo "client -> server: $(stat -c %s "$S_RECV" 2>/dev/null || echo none) of $(stat -c %s "$C_SEND") bytes" >&2; return 1; }
  [[ $(sha256sum <"$S_SEND") == "$(sha256sum <"$C_RECV")" ]] || { echo "server -> client: sha256 differs" >&2; return 1; }
  [[ $(sha256sum <"$C_SEND") == "$(sha256sum <"$S_RECV")" ]] || { echo "client -> server: sha256 differs" >&2; return 1; }
}

# ENVFILE TYPE SESSION: what the tund-side program was given
check_env() {
  local f=$1 type=$2 session=$3 dev tty
  wait_for 10 test -s "$f"
  read -r s dev _ <"$f"
  assert_equal "$s" "$session"
  if [[ $type == pipe ]]; then
    assert_equal "$dev" pipe
  else
    [[ $dev == /dev/pts/* ]] || { echo "TUND_DEVICE '$dev' is not a pty" >&2; return 1; }
    # the kernel says the pty is the program's controlling terminal
    tty=$(sed -n 2p "$f" | tr -d ' ')
    assert_equal "/dev/$tty" "$dev"
  fi
}

client_vs_vtund() {
  local type=$1
  vtund_server --type "$type" --keepalive yes --extra-up "$(vtund_prog "$(stream_prog "$type" "$S_SEND" "$S_RECV")")"
  # the client's Mode is a requirement (issue 13): it matches the server's type here
  stream_conf "$CDIR" vtc client "$type" "$(stream_prog "$type" "$C_SEND" "$C_RECV" "$BATS_TEST_TMPDIR/c.env")"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
  run both_ways 60
  assert_success
  grep -q "flags <T$([[ $type == pipe ]] && echo p || echo t)K>" "$BATS_TEST_TMPDIR/tund.log"
  run grep -q "the server asked for" "$BATS_TEST_TMPDIR/tund.log"
  assert_failure
  check_env "$BATS_TEST_TMPDIR/c.env" "$type" vtc
  # the session is still up (nothing ended it)
  run cat "$BATS_TEST_TMPDIR/tund.log.rc"
  assert_failure
}

server_vs_vtund() {
  local type=$1
  stream_conf "$SDIR" vts server "$type" "$(stream_prog "$type" "$S_SEND" "$S_RECV" "$BATS_TEST_TMPDIR/s.env")"
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/tund.log" serve --listen "$VT_SADDR:5000" --timeout 5 >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  vtund_client --type "$type" --extra-up "$(vtund_prog "$(stream_prog "$type" "$C_SEND" "$C_RECV")")"
  run both_ways 60
  assert_success
  check_env "$BATS_TEST_TMPDIR/s.env" "$type" vts
}

t2t() {
  local type=$1 proto=$2 shaping=()
  # a byte stream over UDP has no retransmission: a datagram dropped by a full socket buffer is a
  # hole in the stream; shape both directions well below what the receivers absorb
  # (bursts of one second's quota must fit the receiver's socket buffer: 400 kbit/s, smaller files)
  if [[ $proto == udp ]]; then
    shaping=("Speed = 400:400")
    head -c $((300 * 1024)) /dev/urandom >"$S_SEND"
    head -c $((200 * 1024 + 77)) /dev/urandom >"$C_SEND"
  fi
  stream_conf "$SDIR" vts server "$type" "$(stream_prog "$type" "$S_SEND" "$S_RECV" "$BATS_TEST_TMPDIR/s.env")" "Transport = $proto" "Compress = lzo:1" "Encrypt = aes128cbc" "${shaping[@]}"
  stream_conf "$CDIR" vtc client "$type" "$(stream_prog "$type" "$C_SEND" "$C_RECV" "$BATS_TEST_TMPDIR/c.env")"
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  CLIENT_PID=$(start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc)
  run both_ways 60
  assert_success
  check_env "$BATS_TEST_TMPDIR/s.env" "$type" vts
  check_env "$BATS_TEST_TMPDIR/c.env" "$type" vtc
  # status: the device is the pipe / the pty
  local want=pipe
  [[ $type == tty ]] && want=$(awk '{print $2; exit}' "$BATS_TEST_TMPDIR/c.env")
  run env TUND_RUN_DIR="$CRUN" ip netns exec "$NS_C" tunctl status vtc --json
  assert_success
  assert_equal "$(jq -r '(.sessions[0] // .).device.kind' <<<"$output")" "$type"
  assert_equal "$(jq -r '(.sessions[0] // .).device.ifname' <<<"$output")" "$want"
  # stopping the client (SIGTERM) stops both programs; the server keeps listening, and the next
  # connection gets a new program
  local cpid spid node
  cpid=$(sed -n 3p "$BATS_TEST_TMPDIR/c.env") spid=$(sed -n 3p "$BATS_TEST_TMPDIR/s.env")
  kill -0 "$cpid" && kill -0 "$spid"
  node=$(node_of "$CLIENT_PID")
  kill -TERM "$node"
  run tund_rc "$BATS_TEST_TMPDIR/client.log" 20
  assert_output 0
  run wait_for 10 sh -c "! kill -0 $cpid 2>/dev/null && ! kill -0 $spid 2>/dev/null"
  assert_success
  grep -q "vts: program stopped (was killed by SIGTERM)" "$BATS_TEST_TMPDIR/server.log"
  rm -f "$BATS_TEST_TMPDIR/s.env"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client2.log" vtc >/dev/null
  wait_for 20 sh -c "test \$(wc -l < $BATS_TEST_TMPDIR/s.env) -ge 3"
  local spid2
  spid2=$(sed -n 3p "$BATS_TEST_TMPDIR/s.env")
  [[ $spid2 != "$spid" ]]
  kill -0 "$spid2"
}

for type in pipe tty; do
  bats_test_function --description "$type: tund client (Mode = $type) -> vtund server, data both ways (sha256)" -- client_vs_vtund "$type"
  bats_test_function --description "$type: vtund client -> tund serve, data both ways (sha256)" -- server_vs_vtund "$type"
  for proto in tcp udp; do
    d="$type: tund to tund over $proto (lzo, aes128cbc"
    [[ $proto == udp ]] && d+=", shaped to 400 kbit/s"
    bats_test_function --description "$d), data both ways (sha256), status" -- t2t "$type" "$proto"
  done
done

# the program ends after sending: everything it sent arrives, the session ends, tund exits
program_exit_client() {
  local type=$1
  vtund_server --type "$type" --keepalive yes --extra-up "$(vtund_prog "$([[ $type == tty ]] && echo 'stty raw -echo; ')exec cat > $S_RECV")"
  stream_conf "$CDIR" vtc client "$type" "$([[ $type == tty ]] && echo 'stty raw -echo; ')cat $C_SEND; sleep 1"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
  # an orderly end: exit status 0
  run tund_rc "$BATS_TEST_TMPDIR/tund.log" 60
  assert_output 0
  grep -q "vtc: program exited with status 0" "$BATS_TEST_TMPDIR/tund.log"
  grep -q "vtc: session ended: program exited with status 0" "$BATS_TEST_TMPDIR/tund.log"
  # vtund saw the end of the session
  wait_for 10 grep -q "Session vtdemo closed" "$VTUND_LOG"
  run size_is "$S_RECV" "$(stat -c %s "$C_SEND")"
  assert_success
  [[ $(sha256sum <"$C_SEND") == "$(sha256sum <"$S_RECV")" ]]
}

for type in pipe tty; do
  bats_test_function --description "$type: the program exiting ends a tund client's session after its data arrived" -- program_exit_client "$type"
done

@test "pipe: a program exiting ends its tund serve session only; another session keeps running" {
  # session A: the tund-side program stops after 3 s; session B: a long transfer both ways
  STREAM_HOST=vtdemo stream_conf "$SDIR" vtsa server pipe "sleep 3"
  STREAM_HOST=vtdemo2 stream_conf "$SDIR" vtsb server pipe "$(stream_prog pipe "$S_SEND" "$S_RECV")"
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/tund.log" serve --listen "$VT_SADDR:5000" --timeout 5 >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  vtund_client --session vtdemo2 --type pipe --extra-up "$(vtund_prog "$(stream_prog pipe "$C_SEND" "$C_RECV")")"
  vtund_client --session vtdemo --type pipe --extra-up "$(vtund_prog "exec cat > /dev/null")"
  local pa
  pa=$(cat "$VTUND_PIDFILE")
  # A ends: tund logs it, the vtund client (no persist) exits
  wait_for 30 grep -q "vtsa: program exited with status 0" "$BATS_TEST_TMPDIR/tund.log"
  wait_for 30 grep -q "vtsa: session ended: program exited with status 0" "$BATS_TEST_TMPDIR/tund.log"
  run wait_for 20 sh -c "! kill -0 $pa"
  assert_success
  # B is unaffected: its data arrives whole both ways, and its tund child still runs it
  run both_ways 90
  assert_success
  run grep -c "vtsb: session ended" "$BATS_TEST_TMPDIR/tund.log"
  assert_output 0
  ip netns exec "$NS_S" ss -Hltn "sport = :5000" | grep -q LISTEN
}

@test "pipe: a client whose config has no Program refuses a pipe session (exit 78, hint)" {
  vtund_server --type pipe --keepalive yes --extra-up "$(vtund_prog "exec cat > /dev/null")"
  tund_conf "$CDIR" vtc client tcp tun no no
  sed -i '/^Mode = /d' "$CDIR/vtc.conf" # no Mode: the server's type is taken, and pipe needs a Program
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
  run tund_rc "$BATS_TEST_TMPDIR/tund.log" 30
  assert_output 78
  grep -q "asked for a VTun pipe session, but this config has Mode = tun and no \[Device\] Program" "$BATS_TEST_TMPDIR/tund.log"
  grep -q "hint: set \"Mode = pipe\" and \"Program = COMMAND\"" "$BATS_TEST_TMPDIR/tund.log"
  # no tun device was created
  run ip -n "$NS_C" -j link show dev vtc
  assert_failure
}

@test "pipe: a client with Mode = tty refuses a vtund server that offers pipe (a requirement, issue 13)" {
  vtund_server --type pipe --keepalive yes --extra-up "$(vtund_prog "exec cat > /dev/null")"
  stream_conf "$CDIR" vtc client tty "cat > /dev/null"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
  wait_for 20 grep -q "server offered device type pipe; this session requires Mode = tty" "$BATS_TEST_TMPDIR/tund.log"
  # nothing was started for it: no program ran, no device was made
  run grep -q "the server asked for" "$BATS_TEST_TMPDIR/tund.log"
  assert_failure
}
