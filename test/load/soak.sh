#!/usr/bin/env bash
# soak.sh - a tund tunnel under trouble for a while: the client end moves data in checksummed
# chunks (test/load/chunks.mjs) through its tunnel to the server end, while the client's underlay
# link is dropped (shorter and longer than the keep-alive window) and the server end is killed
# with SIGKILL or stopped with SIGTERM and started again, over and over. One script for every
# protocol tund speaks (--protocol):
#
#   vtun       a client session (Persist = keep, Keepalive) and `tund serve --listen
#              198.18.101.1:5000` (session vts, Multi = killold); tunnel 198.19.101.2 -> .1
#   wireguard  two tund WireGuard sessions (wg-quick files): the initiator with the responder's
#              Endpoint and PersistentKeepalive = INTERVAL, the responder on ListenPort 51821;
#              each in its own namespace with a private /run/wireguard; tunnel 198.19.101.2 -> .1
#   vpn-ws     a tund vpn-ws client (Persist = keep, Keepalive, TAP vw0, 198.19.20.1) and a tund
#              hub (ws://198.18.20.254:8080/) with its own TAP (198.19.20.100)
#
#   bash test/load/soak.sh [--protocol vtun|wireguard|vpn-ws] [--seconds S]
#                          [--keepalive INTERVAL:COUNT] [--transport tcp|udp] [--gap S]
#                          [--rate BYTES_PER_S] [--wg-timer-scale F] [--json FILE]
#   npm run soak                                  # VTun, 600 s
#   npm run soak -- --protocol wireguard          # WireGuard, 600 s
#
# The events, in turn, each --gap seconds (default 20) after the tunnel recovered from the last one
# (at least 10 for VTun and vpn-ws: tund resets its reconnect back-off only after a link that held
# 10 s; at least 5 for WireGuard):
#   link-short  the client's underlay down for INTERVAL s (less than the keep-alive window), up
#               (vpn-ws: the hub's end of the client's veth, so that the client keeps its route)
#   kill-9      SIGKILL to the server's process group and to its children (VTun: `tund serve`'s
#               session processes are in process groups of their own), started again 2 s later
#   link-long   the underlay down for the keep-alive window + 3 s: the client must notice by itself
#   sigterm     SIGTERM to the server (an orderly stop), started again 1 s later
# The keep-alive window W is the longest a tunnel may take to heal by itself after a disruption
# ended, from the protocol's own timers:
#   vtun, vpn-ws  (COUNT + 2) x (INTERVAL + 1) s: the peer is declared dead after it (VTun), and
#                 with Keepalive set tund's reconnect back-off waits at most W - (INTERVAL + 1) s,
#                 leaving one step for the attempt (both)
#   wireguard     KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + the retry jitter + tund's timer poll
#                 (10 + 5 + 0.334 + 1 s) rounded up, + 1 s for the handshake and the ping: 18 s.
#                 An initiator that sent data and heard nothing for 15 s starts a new handshake and
#                 retries it every REKEY_TIMEOUT (5 s): a restarted responder (no keys) or a link
#                 that was down for longer is healed by the initiator alone. --wg-timer-scale F
#                 multiplies every WireGuard timer, and W with it (tund's TUND_TEST_WG_TIMER_SCALE
#                 test seam; the suite's short run uses it, the real soak does not).
# For each event: the time from the end of the disruption (link up, server ready) until a ping
# crosses the tunnel again ("recovery", must be <= W), and whether it reconnected (VTun: a new
# server session process; WireGuard: a new handshake, read right after the recovery: after a link
# drop the current keypair works again at once and the new handshake may come later; vpn-ws: a new
# connection of the client). The client is never touched: its PID must stay the same.
#
# Checked at the end: every chunk the sender saw acknowledged was verified by the receiver with the
# same SHA-256 (and none arrived corrupted), every event recovered within W, the client's open
# files are the same as after its first connection and its RSS grew by less than 25 % + 8 MiB
# (samples of /proc every 5 s, the server's too), both ends stop on SIGTERM with status 0 and
# leave no TUN device they made. Exit status 0 when all holds, 1 otherwise, 2 usage, 77 not root.
set -uo pipefail
LT_PROG=soak
# shellcheck source=test/load/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROTOCOL=vtun SOAK_SECONDS=600 KEEPALIVE=3:2 TRANSPORT=tcp GAP=20 RATE=1048576 WG_SCALE=1 JSON=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --protocol) PROTOCOL=${2:-} ;;
    --seconds) SOAK_SECONDS=${2:-} ;;
    --keepalive) KEEPALIVE=${2:-} ;;
    --transport) TRANSPORT=${2:-} ;;
    --gap) GAP=${2:-} ;;
    --rate) RATE=${2:-} ;;
    --wg-timer-scale) WG_SCALE=${2:-} ;;
    --json) JSON=${2:-} ;;
    -h | --help) lt_usage "$0"; exit 0 ;;
    *) bad "unknown option \"$1\" (see --help)" ;;
  esac
  shift 2 || bad "$1 needs a value"
done
[[ $PROTOCOL =~ ^(vtun|wireguard|vpn-ws)$ ]] || bad "--protocol \"$PROTOCOL\" (expected vtun, wireguard or vpn-ws)"
in_range "$SOAK_SECONDS" 30 3600 || bad "--seconds \"$SOAK_SECONDS\" (expected 30-3600)"
KA_INTERVAL=${KEEPALIVE%%:*} KA_COUNT=${KEEPALIVE#*:}
if ! in_range "$KA_INTERVAL" 1 60 || ! in_range "$KA_COUNT" 1 10; then
  bad "--keepalive \"$KEEPALIVE\" (expected INTERVAL:COUNT, 1-60:1-10)"
fi
[[ $TRANSPORT == tcp || $TRANSPORT == udp ]] || bad "--transport \"$TRANSPORT\" (expected tcp or udp)"
[[ $TRANSPORT == tcp || $PROTOCOL == vtun ]] || bad "--transport is VTun's (WireGuard runs over UDP, vpn-ws over TCP)"
MIN_GAP=10
[[ $PROTOCOL == wireguard ]] && MIN_GAP=5
in_range "$GAP" "$MIN_GAP" 600 || bad "--gap \"$GAP\" (expected $MIN_GAP-600 seconds)"
in_range "$RATE" 1024 104857600 || bad "--rate \"$RATE\" (expected 1024-104857600 bytes per second)"
awk -v f="$WG_SCALE" 'BEGIN {exit !(f ~ /^[0-9]*\.?[0-9]+$/ && f >= 0.05 && f <= 1)}' ||
  bad "--wg-timer-scale \"$WG_SCALE\" (expected a factor from 0.05 to 1)"
[[ $WG_SCALE == 1 || $PROTOCOL == wireguard ]] || bad "--wg-timer-scale is WireGuard's"
if [[ $PROTOCOL == wireguard ]]; then
  # (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter + poll) x scale (core/wireguard/timers.ts), rounded up, + 1
  WINDOW=$(awk -v f="$WG_SCALE" 'BEGIN {w = f * (10 + 5 + 0.334 + 1); printf "%d", (w == int(w) ? w : int(w) + 1) + 1}')
else
  WINDOW=$(((KA_COUNT + 2) * (KA_INTERVAL + 1)))
fi

lt_init sk
FAILURES=()
fail_check() { FAILURES+=("$*"); lt_log "FAIL: $*"; }
lt_watchdog $((SOAK_SECONDS + 4 * WINDOW + 180))
LOG=$LT_WORK/log
mkdir -p "$LOG"

# the suites' helpers this script reuses (vpnws.bash names PROJECT_ROOT)
PROJECT_ROOT=$LT_ROOT HELPERS=$LT_ROOT/test/helpers

# Each protocol's set-up defines:
#   NS_S NS_C TS    the server's and the client's namespace; the server end's tunnel address (the
#                   chunk receiver listens there, the client pings it)
#   ULINK_NS ULINK  the client's underlay link (dropped by the link events) and its namespace
#   SERVER_CMD CLIENT_CMD   the two tund processes; CLIENT_RUN runs a command beside the client
#   server_ready, session_mark   the server can take the client; a value that changes when the
#                   tunnel was set up again (reconnect, new handshake)

setup_vtun() {
  local pw
  local saddr=198.18.101.1 caddr=198.18.101.2 tc=198.19.101.2
  local sdir=$LT_WORK/etc-s srun=$LT_WORK/run-s cdir=$LT_WORK/etc-c crun=$LT_WORK/run-c
  TS=198.19.101.1
  mkdir -p "$sdir" "$srun" "$cdir" "$crun"
  pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  cat >"$sdir/vts.conf" <<EOF
[Session]
Role = server
Transport = $TRANSPORT
Keepalive = $KEEPALIVE
Multi = killold
Timeout = 10

[Device]
Mode = tun
Address = $TS/32
Peer = $tc
EOF
  cat >"$cdir/vtc.conf" <<EOF
[Session]
Role = client
Endpoint = $saddr:5000
Host = vts
Keepalive = $KEEPALIVE
Persist = keep
Timeout = 5

[Device]
Mode = tun
Address = $tc/32
Peer = $TS
EOF
  printf '%s\n' "$pw" >"$sdir/vts.secret"
  printf '%s\n' "$pw" >"$cdir/vtc.secret"
  chmod 600 "${sdir:?}"/* "${cdir:?}"/*
  NS_S=$(make_netns s) && NS_C=$(make_netns c) || lt_die "cannot make namespaces"
  veth_pair "$NS_S" "$saddr/30" "$NS_C" "$caddr/30"
  ULINK_NS=$NS_C ULINK=${LT_TAG}b
  SERVER_CMD=(ip netns exec "$NS_S" env TUND_CONFIG_DIR="$sdir" TUND_RUN_DIR="$srun" tund serve --listen "$saddr:5000" --timeout 10)
  CLIENT_RUN=(ip netns exec "$NS_C" env TUND_CONFIG_DIR="$cdir" TUND_RUN_DIR="$crun")
  CLIENT_CMD=("${CLIENT_RUN[@]}" tund vtc)
  server_ready() { ip netns exec "$NS_S" ss -Hltn 'sport = :5000' | grep -q LISTEN; }
  # a new server session process: the client connected again
  session_mark() { pgrep -P "$SERVER" 2>/dev/null | head -n1; }
}

# WireGuard: two tund sessions from wg-quick files, keys made by the real wg(8); each session in its
# namespace with a private /run/wireguard for its userspace API socket (wireguard.bash)
setup_wireguard() {
  # shellcheck source=test/helpers/wireguard.bash
  source "$HELPERS/wireguard.bash"
  local saddr=198.18.101.1 caddr=198.18.101.2 tc=198.19.101.2 rkey ikey holder_s holder_c env=()
  local sdir=$LT_WORK/etc-s srun=$LT_WORK/run-s cdir=$LT_WORK/etc-c crun=$LT_WORK/run-c
  TS=198.19.101.1
  mkdir -p "$sdir" "$srun" "$cdir" "$crun"
  NS_S=$(make_netns s) && NS_C=$(make_netns c) || lt_die "cannot make namespaces"
  veth_pair "$NS_S" "$saddr/30" "$NS_C" "$caddr/30"
  ULINK_NS=$NS_C ULINK=${LT_TAG}b
  holder_s=$(wg_private_run "$NS_S") && holder_c=$(wg_private_run "$NS_C") || lt_die "cannot make a private /run/wireguard"
  rkey=$(wg_key_file responder) && ikey=$(wg_key_file initiator) || lt_die "wg genkey failed"
  # the session names are the interfaces' (at most 15 characters)
  WG_S=${LT_TAG}r WG_C=${LT_TAG}i
  (
    umask 077
    printf '[Interface]\nPrivateKey = %s\nListenPort = 51821\nAddress = %s/24\n\n[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' \
      "$(cat "$rkey")" "$TS" "$(wg_pub "$ikey")" "$tc" >"$sdir/$WG_S.conf"
    printf '[Interface]\nPrivateKey = %s\nAddress = %s/24\n\n[Peer]\nPublicKey = %s\nEndpoint = %s:51821\nAllowedIPs = %s/32\nPersistentKeepalive = %s\n' \
      "$(cat "$ikey")" "$tc" "$(wg_pub "$rkey")" "$saddr" "$TS" "$KA_INTERVAL" >"$cdir/$WG_C.conf"
  )
  rm -f "$rkey" "$ikey"
  [[ $WG_SCALE == 1 ]] || env=(TUND_TEST_WG_TIMER_SCALE="$WG_SCALE")
  SERVER_RUN=(nsenter -t "$holder_s" -m -n -- env TUND_CONFIG_DIR="$sdir" TUND_RUN_DIR="$srun" "${env[@]}")
  SERVER_CMD=("${SERVER_RUN[@]}" tund "$WG_S")
  CLIENT_RUN=(nsenter -t "$holder_c" -m -n -- env TUND_CONFIG_DIR="$cdir" TUND_RUN_DIR="$crun" "${env[@]}")
  CLIENT_CMD=("${CLIENT_RUN[@]}" tund "$WG_C")
  # a responder is ready as soon as it listens
  server_ready() { "${SERVER_RUN[@]}" tunctl wait "$WG_S" --state connected --timeout 1s; }
  # the initiator's latest handshake: a new one after the disruption
  session_mark() { "${CLIENT_RUN[@]}" tunctl status "$WG_C" --json 2>/dev/null | jq -r '.sessions[0].peers[0].latest_handshake // ""'; }
}

# vpn-ws: the topology, TAP and session files of the vpn-ws suites (vpnws.bash) with one client
setup_vpnws() {
  # shellcheck source=test/helpers/vpnws.bash
  source "$HELPERS/vpnws.bash"
  local etc=$LT_WORK/etc run=$LT_WORK/run
  mkdir -p "$etc" "$run"
  TUND_CONFIG_DIR=$etc vpnws_topology 1 >/dev/null || lt_die "cannot make the vpn-ws topology"
  NS_S=$HUB_NS NS_C=$A_NS TS=198.19.20.100
  # the hub's end of the client's veth: the client's end loses its carrier. (Down on the client's
  # end would delete the client's route to the hub's address, a static one, for good.)
  ULINK_NS=$NS_S ULINK=${LT_TAG}1a
  TUND_CONFIG_DIR=$etc vpnws_hub_conf vwhub "$HUB_IP:8080" -- "Mode = tap" "Name = hubtap" "MAC = 02:00:5e:20:00:fe" "Address = $TS/24"
  TUND_CONFIG_DIR=$etc vpnws_tund_conf vwc "ws://$HUB_IP:8080/" "Keepalive = $KEEPALIVE"
  sed -i 's/^Persist = yes$/Persist = keep/' "$etc/vwc.conf"
  SERVER_RUN=(ip netns exec "$NS_S" env TUND_CONFIG_DIR="$etc" TUND_RUN_DIR="$run")
  SERVER_CMD=("${SERVER_RUN[@]}" tund vwhub)
  CLIENT_RUN=(ip netns exec "$NS_C" env TUND_CONFIG_DIR="$etc" TUND_RUN_DIR="$run")
  CLIENT_CMD=("${CLIENT_RUN[@]}" tund vwc)
  server_ready() { "${SERVER_RUN[@]}" tunctl wait vwhub --state listening --timeout 1s; }
  # the client's connection: "since" changes with each new one
  session_mark() { "${CLIENT_RUN[@]}" tunctl status vwc --json 2>/dev/null | jq -r '.sessions[0] | "\(.state) \(.since)"'; }
}

case $PROTOCOL in
  vtun) setup_vtun ;;
  wireguard) setup_wireguard ;;
  vpn-ws) setup_vpnws ;;
esac
case $PROTOCOL in
  wireguard) KEEPALIVE_TEXT="PersistentKeepalive $KA_INTERVAL s$([[ $WG_SCALE == 1 ]] || echo ", timers x $WG_SCALE")" ;;
  *) KEEPALIVE_TEXT="Keepalive $KEEPALIVE" ;;
esac

# ------------------------------------------------------------------------------------ server

SERVER='' SERVER_STARTS=0
# its own process group (setsid), so that a SIGKILL takes the server and whatever it started at once
start_server() {
  setsid "${SERVER_CMD[@]}" >>"$LOG/server.log" 2>&1 </dev/null &
  SERVER=$!
  SERVER_STARTS=$((SERVER_STARTS + 1))
  lt_track_pid "$SERVER"
  echo "$SERVER" >"$LT_WORK/server.pid"
  lt_wait 30 server_ready || { tail -n 20 "$LOG/server.log" >&2; lt_die "the server did not get ready"; }
  [[ $(ps -o pgid= -p "$SERVER" | tr -d ' ') == "$SERVER" ]] || lt_die "the server did not get its own process group"
}

# ------------------------------------------------------------------------------ measurements

# one line every 5 s: seconds client_rss client_pss client_fds server_rss server_fds server_procs
sampler() {
  local t0=$EPOCHREALTIME client=$1 srv pid r p f sr sf n
  while :; do
    read -r r p f < <(lt_proc "$client") || break
    srv=$(cat "$LT_WORK/server.pid" 2>/dev/null)
    sr=0 sf=0 n=0
    for pid in $srv $(pgrep -P "$srv" 2>/dev/null); do
      read -r rr _ ff < <(lt_proc "$pid") || continue
      sr=$((sr + rr)) sf=$((sf + ff)) n=$((n + 1))
    done
    awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN {printf "%.1f ", a - b}'
    echo "$r $p $f $sr $sf $n"
    sleep 5
  done
}

DATA_PORT=7101
ping_ok() { ip netns exec "$NS_C" ping -c 1 -W 1 -q "$TS" >/dev/null 2>&1; }
# recovery T_END LIMIT: seconds from T_END until a ping crosses the tunnel (LIMIT + 30 at most)
recovery() {
  local since=$1 limit=$2
  local deadline=$((SECONDS + limit + 30))
  until ping_ok; do
    ((SECONDS >= deadline)) && { echo -1; return; }
    sleep 0.2
  done
  awk -v a="$EPOCHREALTIME" -v b="$since" 'BEGIN {printf "%.1f", a - b}'
}

EVENTS_FILE=$LT_WORK/events.txt
: >"$EVENTS_FILE"
# record KIND DISRUPTION_S RECOVERY_S SESSION_BEFORE
record() {
  local kind=$1 down=$2 rec=$3 before=$4 after reconnected=no
  after=$(session_mark)
  [[ $after != "$before" ]] && reconnected=yes
  echo "$kind $down $rec $reconnected" >>"$EVENTS_FILE"
  lt_log "$(printf '%-10s disrupted %5ss, recovered %5ss after, reconnected: %s' "$kind" "$down" "$rec" "$reconnected")"
  if [[ $rec == -1 ]]; then
    fail_check "$kind: the tunnel did not come back"
  elif awk -v r="$rec" -v w="$WINDOW" 'BEGIN {exit !(r > w)}'; then
    fail_check "$kind: recovered after $rec s, more than the keep-alive window ($WINDOW s)"
  fi
  lt_gone "$CLIENT" && fail_check "$kind: the client process ended"
}

link_drop() { # KIND SECONDS
  local before t0 t1
  before=$(session_mark)
  t0=$EPOCHREALTIME
  ip -n "$ULINK_NS" link set "$ULINK" down
  sleep "$2"
  ip -n "$ULINK_NS" link set "$ULINK" up
  t1=$EPOCHREALTIME
  record "$1" "$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')" "$(recovery "$t1" "$WINDOW")" "$before"
}

server_restart() { # KIND SIGNAL PAUSE
  local before t0 t1
  before=$(session_mark)
  t0=$EPOCHREALTIME
  if [[ $2 == KILL ]]; then
    # the whole server end crashes: a session process of `tund serve` outlives a killed listener
    # (its own process group, as sshd's sessions outlive sshd), so it is killed by its pid too
    local children
    children=$(pgrep -P "$SERVER" 2>/dev/null | tr '\n' ' ')
    kill -KILL -- "-$SERVER"
    # shellcheck disable=SC2086 # a list of pids
    [[ -z $children ]] || kill -KILL $children 2>/dev/null
  else
    kill -TERM "$SERVER"
  fi
  lt_wait 20 lt_gone "$SERVER" || fail_check "$1: the server did not stop on SIG$2"
  wait "$SERVER" 2>/dev/null
  sleep "$3"
  start_server
  t1=$EPOCHREALTIME
  record "$1" "$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')" "$(recovery "$t1" "$WINDOW")" "$before"
}

# ---------------------------------------------------------------------------------------- run

T0=$SECONDS
LOAD_BEFORE=$(lt_loadavg)
# TUN/TAP devices the set-up made (vpn-ws: the client's TAP); the sessions must leave no other
declare -A TUNS_BEFORE
for ns in "$NS_S" "$NS_C"; do TUNS_BEFORE[$ns]=$(lt_tun_count "$ns"); done
lt_log "run $LT_TAG: $PROTOCOL, ${SOAK_SECONDS}s, $KEEPALIVE_TEXT (window ${WINDOW}s), an event every ${GAP}s; load average $LOAD_BEFORE"
start_server
"${CLIENT_CMD[@]}" >"$LOG/client.log" 2>&1 </dev/null &
CLIENT=$!
lt_track_pid "$CLIENT"
lt_wait 60 ping_ok || { tail -n 20 "$LOG/client.log" >&2; lt_die "the tunnel did not come up"; }
ip netns exec "$NS_S" node "$LT_ROOT/test/load/chunks.mjs" receive --port "$DATA_PORT" --log "$LOG/received" >"$LOG/receiver.log" 2>&1 &
RECEIVER=$!
lt_track_pid "$RECEIVER"
lt_wait 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :$DATA_PORT' | grep -q LISTEN" || lt_die "the chunk receiver did not listen"
sleep 1
read -r C_RSS0 _ C_FDS0 < <(lt_proc "$CLIENT")
C_FD_LIST0=$(find "/proc/$CLIENT/fd" -mindepth 1 -printf '%l\n' | sed 's/[0-9]\+/N/g' | sort)
sampler "$CLIENT" >"$LOG/samples" &
lt_track_pid $!
ip netns exec "$NS_C" node "$LT_ROOT/test/load/chunks.mjs" send --to "$TS:$DATA_PORT" --seconds "$SOAK_SECONDS" \
  --rate "$RATE" --log "$LOG/sent" >"$LOG/sender.json" 2>"$LOG/sender.err" &
SENDER=$!
lt_track_pid "$SENDER"
SEND_T0=$SECONDS

# each event, with a recovery as long as the window (and 5 s to start a server), must fit before
# the sender ends
EVENTS=(link-short kill-9 link-long sigterm)
n=0
while :; do
  kind=${EVENTS[n % 4]}
  case $kind in
    link-short) need=$((GAP + KA_INTERVAL + WINDOW)) ;;
    link-long) need=$((GAP + 2 * WINDOW + 3)) ;;
    *) need=$((GAP + 7 + WINDOW)) ;;
  esac
  ((SECONDS + need < SEND_T0 + SOAK_SECONDS)) || break
  sleep "$GAP"
  case $kind in
    link-short) link_drop link-short "$KA_INTERVAL" ;;
    kill-9) server_restart kill-9 KILL 2 ;;
    link-long) link_drop link-long $((WINDOW + 3)) ;;
    sigterm) server_restart sigterm TERM 1 ;;
  esac
  n=$((n + 1))
done
lt_log "$n events; the sender runs until its ${SOAK_SECONDS}s are up"
wait "$SENDER"
SENDER_RC=$?

# -------------------------------------------------------------------------------------- checks

((n >= 4)) || fail_check "only $n events fitted in ${SOAK_SECONDS}s (use more --seconds or a shorter --gap)"
((SENDER_RC == 0)) || fail_check "the sender exited with $SENDER_RC: $(tail -n 3 "$LOG/sender.err")"
SUMMARY=$(tail -n 1 "$LOG/sender.json")
jq -e . >/dev/null 2>&1 <<<"$SUMMARY" || SUMMARY='{"acked":0,"bytes":0,"attempts":0,"failures":0,"bad":0,"longest_gap_s":0}'
ACKED=$(jq -r .acked <<<"$SUMMARY")
((ACKED > 0)) || fail_check "no chunk was acknowledged"
[[ $(jq -r .bad <<<"$SUMMARY") == 0 ]] || fail_check "$(jq -r .bad <<<"$SUMMARY") chunks arrived corrupted"
# every acknowledged chunk was verified by the receiver with the same hash
MISSING=$(comm -23 <(jq -r 'select(.result == "OK") | "\(.index) \(.sha)"' "$LOG/sent" | sort -u) <(sort -u "$LOG/received") | wc -l)
((MISSING == 0)) || fail_check "$MISSING acknowledged chunks are not among the receiver's verified ones"

lt_wait 30 ping_ok || fail_check "no ping through the tunnel at the end"
sleep 1
read -r C_RSS1 _ C_FDS1 < <(lt_proc "$CLIENT") || fail_check "the client is gone at the end"
C_FD_LIST1=$(find "/proc/$CLIENT/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | sed 's/[0-9]\+/N/g' | sort)
((C_FDS1 == C_FDS0)) || fail_check "client open files: $C_FDS0 after the first connection, $C_FDS1 at the end (new: $(comm -13 <(echo "$C_FD_LIST0") <(echo "$C_FD_LIST1") | tr '\n' ' '))"
RSS_LIMIT=$((C_RSS0 + C_RSS0 / 4 + 8192))
((C_RSS1 <= RSS_LIMIT)) || fail_check "client RSS grew from $C_RSS0 to $C_RSS1 KiB (limit $RSS_LIMIT)"
read -r C_RSS_MAX < <(awk '{print $2}' "$LOG/samples" | sort -n | tail -n1)
read -r C_FDS_MIN C_FDS_MAX < <(awk 'NR == 1 {lo = hi = $4} {if ($4 < lo) lo = $4; if ($4 > hi) hi = $4} END {print lo + 0, hi + 0}' "$LOG/samples")
# the RSS trend over the second half of the samples, KiB per minute (least squares)
SLOPE=$(awk '{t[NR] = $1; r[NR] = $2} END {h = int(NR / 2) + 1; n = 0; for (i = h; i <= NR; i++) {n++; st += t[i]; sr += r[i]; stt += t[i] * t[i]; str += t[i] * r[i]}
  d = n * stt - st * st; if (n < 3 || d == 0) {print 0; exit} printf "%.0f", (n * str - st * sr) / d * 60}' "$LOG/samples")
read -r S_RSS_MIN S_RSS_MAX S_FDS_MIN S_FDS_MAX < <(awk -v up="$([[ $PROTOCOL == vtun ]] && echo 2 || echo 1)" '$7 == up {if (!s) {a = b = $5; c = d = $6; s = 1} if ($5 < a) a = $5; if ($5 > b) b = $5; if ($6 < c) c = $6; if ($6 > d) d = $6} END {print a + 0, b + 0, c + 0, d + 0}' "$LOG/samples")

CLIENT_RC=-1 SERVER_RC=-1
kill -TERM "$CLIENT"
lt_wait 15 lt_gone "$CLIENT" && { wait "$CLIENT"; CLIENT_RC=$?; }
((CLIENT_RC == 0)) || fail_check "the client exited with status $CLIENT_RC after SIGTERM"
kill -TERM "$SERVER"
lt_wait 15 lt_gone "$SERVER" && { wait "$SERVER"; SERVER_RC=$?; }
((SERVER_RC == 0)) || fail_check "the server exited with status $SERVER_RC after SIGTERM"
sleep 0.5
for ns in "$NS_S" "$NS_C"; do
  [[ $(lt_tun_count "$ns") == "${TUNS_BEFORE[$ns]}" ]] || fail_check "$ns: TUN devices left: $(ip -n "$ns" -br link show type tun | tr '\n' ' ')"
done

# -------------------------------------------------------------------------------------- report

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
RECOVERIES=$(awk '{print $3}' "$EVENTS_FILE" | lt_stats)
read -r REC_MED REC_MAX _ _ <<<"$RECOVERIES"
RECONNECTS=$(grep -c ' yes$' "$EVENTS_FILE")
cat <<EOF
soak: $PROTOCOL, ${SOAK_SECONDS}s$([[ $PROTOCOL == vtun ]] && echo " over $TRANSPORT"), $KEEPALIVE_TEXT (window ${WINDOW}s), run $LT_TAG, $((SECONDS - T0)) s in all
  load average         before $LOAD_BEFORE, at the end $(lt_loadavg); $(nproc) CPUs
  events               $n ($(awk '{print $1}' "$EVENTS_FILE" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')server started $SERVER_STARTS times), $RECONNECTS reconnects
  recovery             median ${REC_MED}s, max ${REC_MAX}s after the disruption ended (limit ${WINDOW}s)
  data                 $ACKED chunks acknowledged ($(mib $(($(jq -r .bytes <<<"$SUMMARY") / 1024))) MiB), $(jq -r .attempts <<<"$SUMMARY") attempts, $(jq -r .failures <<<"$SUMMARY") failed attempts retried, $(jq -r .bad <<<"$SUMMARY") corrupted, $MISSING acknowledged but not verified; longest wait for an ack $(jq -r .longest_gap_s <<<"$SUMMARY")s
  client               RSS $(mib "$C_RSS0") MiB after connecting, $(mib "$C_RSS1") MiB at the end (max $(mib "$C_RSS_MAX"), trend ${SLOPE} KiB/min over the second half); open files $C_FDS0 -> $C_FDS1 (samples $C_FDS_MIN-$C_FDS_MAX)
  server               $([[ $PROTOCOL == vtun ]] && echo "listener + session" || echo "process") RSS $(mib "$S_RSS_MIN")-$(mib "$S_RSS_MAX") MiB, open files $S_FDS_MIN-$S_FDS_MAX (samples with a session up)
  exit on SIGTERM      client $CLIENT_RC, server $SERVER_RC
  result               $( ((${#FAILURES[@]} == 0)) && echo ok || echo "${#FAILURES[@]} check(s) failed")
EOF
awk '{printf "    %-10s disrupted %5ss  recovered after %5ss  reconnected %s\n", $1, $2, $3, $4}' "$EVENTS_FILE"
if [[ -n $JSON ]]; then
  jq -n --arg protocol "$PROTOCOL" --argjson seconds "$SOAK_SECONDS" --arg transport "$TRANSPORT" --arg keepalive "$KEEPALIVE" --argjson window "$WINDOW" \
    --argjson events "$(awk '{printf "%s{\"kind\":\"%s\",\"disrupted_s\":%s,\"recovery_s\":%s,\"reconnected\":%s}", (NR > 1 ? "," : "["), $1, $2, $3, ($4 == "yes") ? "true" : "false"} END {if (NR == 0) printf "["; print "]"}' "$EVENTS_FILE")" \
    --argjson data "$SUMMARY" --argjson missing "$MISSING" \
    --argjson c_rss0 "$C_RSS0" --argjson c_rss1 "${C_RSS1:-0}" --argjson c_rss_max "${C_RSS_MAX:-0}" --argjson slope "$SLOPE" \
    --argjson c_fds0 "$C_FDS0" --argjson c_fds1 "${C_FDS1:-0}" --argjson client_rc "$CLIENT_RC" --argjson server_rc "$SERVER_RC" \
    --arg load_before "$LOAD_BEFORE" --args '{protocol: $protocol, seconds: $seconds, transport: $transport, keepalive: $keepalive, window_s: $window,
      events: $events, data: ($data + {acked_not_verified: $missing}),
      client: {rss_kib_start: $c_rss0, rss_kib_end: $c_rss1, rss_kib_max: $c_rss_max, rss_trend_kib_per_min: $slope,
        fds_start: $c_fds0, fds_end: $c_fds1, exit: $client_rc},
      server_exit: $server_rc, load_average_before: $load_before, failures: $ARGS.positional}' "${FAILURES[@]}" >"$JSON"
fi
if ((${#FAILURES[@]} > 0)); then
  printf '  failed: %s\n' "${FAILURES[@]}"
  exit 1
fi
exit 0
