#!/usr/bin/env bash
# soak.sh - a VTun session under trouble for a while: a client with Persist = keep and Keepalive
# moves data in checksummed chunks (test/load/chunks.mjs) through its tunnel to a `tund serve`,
# while the underlay link is dropped (shorter and longer than the keep-alive window) and the
# server is killed with SIGKILL or stopped with SIGTERM and started again, over and over.
#
#   bash test/load/soak.sh [--seconds S] [--keepalive INTERVAL:COUNT] [--transport tcp|udp]
#                          [--gap S] [--rate BYTES_PER_S] [--json FILE]
#   npm run soak                     # 600 s
#
# Topology: namespace SOAK-s holds `tund serve --listen 198.18.101.1:5000` (session vts, Multi =
# killold) and the chunk receiver; SOAK-c holds the client session vtc (tunnel 198.19.101.2 ->
# 198.19.101.1) and the sender; a veth joins them (198.18.101.1/30 - .2/30).
#
# The events, in turn, each --gap seconds (default 20) after the tunnel recovered from the last one
# (at least 10: tund resets its reconnect back-off only after a link that held 10 s):
#   link-short  the client's underlay down for INTERVAL s (less than the keep-alive window), up
#   kill-9      SIGKILL to the server's process group (listener and session), started again 2 s later
#   link-long   the underlay down for the keep-alive window + 3 s: the client must notice by itself
#   sigterm     SIGTERM to the listener (an orderly stop), started again 1 s later
# The keep-alive window is W = (COUNT + 2) x (INTERVAL + 1) s (the peer is declared dead after it).
# For each event: the time from the end of the disruption (link up, server listening) until a
# ping crosses the tunnel again ("recovery", must be <= W), and whether the session reconnected
# (a new server session process). The client is never touched: its PID must stay the same.
#
# Checked at the end: every chunk the sender saw acknowledged was verified by the receiver with the
# same SHA-256 (and none arrived corrupted), every event recovered within W, the client's open
# files are the same as after its first connection and its RSS grew by less than 25 % + 8 MiB
# (samples of /proc every 5 s, the server's too), both ends stop on SIGTERM with status 0 and
# leave no TUN device. Exit status 0 when all holds, 1 otherwise, 2 usage, 77 not root.
set -uo pipefail
LT_PROG=soak
# shellcheck source=test/load/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOAK_SECONDS=600 KEEPALIVE=3:2 TRANSPORT=tcp GAP=20 RATE=1048576 JSON=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) SOAK_SECONDS=${2:-} ;;
    --keepalive) KEEPALIVE=${2:-} ;;
    --transport) TRANSPORT=${2:-} ;;
    --gap) GAP=${2:-} ;;
    --rate) RATE=${2:-} ;;
    --json) JSON=${2:-} ;;
    -h | --help) lt_usage "$0"; exit 0 ;;
    *) bad "unknown option \"$1\" (see --help)" ;;
  esac
  shift 2 || bad "$1 needs a value"
done
in_range "$SOAK_SECONDS" 30 3600 || bad "--seconds \"$SOAK_SECONDS\" (expected 30-3600)"
KA_INTERVAL=${KEEPALIVE%%:*} KA_COUNT=${KEEPALIVE#*:}
if ! in_range "$KA_INTERVAL" 1 60 || ! in_range "$KA_COUNT" 1 10; then
  bad "--keepalive \"$KEEPALIVE\" (expected INTERVAL:COUNT, 1-60:1-10)"
fi
[[ $TRANSPORT == tcp || $TRANSPORT == udp ]] || bad "--transport \"$TRANSPORT\" (expected tcp or udp)"
in_range "$GAP" 10 600 || bad "--gap \"$GAP\" (expected 10-600 seconds)"
in_range "$RATE" 1024 104857600 || bad "--rate \"$RATE\" (expected 1024-104857600 bytes per second)"
WINDOW=$(((KA_COUNT + 2) * (KA_INTERVAL + 1)))

lt_init sk
FAILURES=()
fail_check() { FAILURES+=("$*"); lt_log "FAIL: $*"; }
lt_watchdog $((SOAK_SECONDS + 4 * WINDOW + 180))

SADDR=198.18.101.1 CADDR=198.18.101.2 TS=198.19.101.1 TC=198.19.101.2 DATA_PORT=7101
SDIR=$LT_WORK/etc-s SRUN=$LT_WORK/run-s CDIR=$LT_WORK/etc-c CRUN=$LT_WORK/run-c LOG=$LT_WORK/log
mkdir -p "$SDIR" "$SRUN" "$CDIR" "$CRUN" "$LOG"

PW=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$SDIR/vts.conf" <<EOF
[Session]
Role = server
Transport = $TRANSPORT
Keepalive = $KEEPALIVE
Multi = killold
Timeout = 10

[Device]
Mode = tun
Address = $TS/32
Peer = $TC
EOF
cat >"$CDIR/vtc.conf" <<EOF
[Session]
Role = client
Endpoint = $SADDR:5000
Host = vts
Keepalive = $KEEPALIVE
Persist = keep
Timeout = 5

[Device]
Mode = tun
Address = $TC/32
Peer = $TS
EOF
printf '%s\n' "$PW" >"$SDIR/vts.secret"
printf '%s\n' "$PW" >"$CDIR/vtc.secret"
chmod 600 "$SDIR"/* "$CDIR"/*

NS_S=$(lt_netns s) || lt_die "cannot make namespaces"
NS_C=$(lt_netns c) || lt_die "cannot make namespaces"
veth_join "$NS_S" us "$SADDR/30" "$NS_C" uc "$CADDR/30" || lt_die "cannot make the veth pair"

# ------------------------------------------------------------------------------------ server

SERVER='' SERVER_STARTS=0
listening() { ip netns exec "$NS_S" ss -Hltn 'sport = :5000' | grep -q LISTEN; }
# its own process group (setsid), so that a SIGKILL takes the listener and its sessions at once
start_server() {
  setsid ip netns exec "$NS_S" env TUND_CONFIG_DIR="$SDIR" TUND_RUN_DIR="$SRUN" \
    tund serve --listen "$SADDR:5000" --timeout 10 >>"$LOG/serve.log" 2>&1 </dev/null &
  SERVER=$!
  SERVER_STARTS=$((SERVER_STARTS + 1))
  lt_track_pid "$SERVER"
  echo "$SERVER" >"$LT_WORK/server.pid"
  lt_wait 30 listening || { tail -n 20 "$LOG/serve.log" >&2; lt_die "tund serve did not listen"; }
  [[ $(ps -o pgid= -p "$SERVER" | tr -d ' ') == "$SERVER" ]] || lt_die "tund serve did not get its own process group"
}
session_pid() { pgrep -P "$SERVER" 2>/dev/null | head -n1; }

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
  after=$(session_pid)
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
  before=$(session_pid)
  t0=$EPOCHREALTIME
  ip -n "$NS_C" link set uc down
  sleep "$2"
  ip -n "$NS_C" link set uc up
  t1=$EPOCHREALTIME
  record "$1" "$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')" "$(recovery "$t1" "$WINDOW")" "$before"
}

server_restart() { # KIND SIGNAL PAUSE
  local before t0 t1
  before=$(session_pid)
  t0=$EPOCHREALTIME
  if [[ $2 == KILL ]]; then kill -KILL -- "-$SERVER"; else kill -TERM "$SERVER"; fi
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
lt_log "run $LT_TAG: ${SOAK_SECONDS}s over $TRANSPORT, Keepalive $KEEPALIVE (window ${WINDOW}s), an event every ${GAP}s; load average $LOAD_BEFORE"
start_server
ip netns exec "$NS_C" env TUND_CONFIG_DIR="$CDIR" TUND_RUN_DIR="$CRUN" tund vtc >"$LOG/client.log" 2>&1 </dev/null &
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
read -r S_RSS_MIN S_RSS_MAX S_FDS_MIN S_FDS_MAX < <(awk '$7 == 2 {if (!s) {a = b = $5; c = d = $6; s = 1} if ($5 < a) a = $5; if ($5 > b) b = $5; if ($6 < c) c = $6; if ($6 > d) d = $6} END {print a + 0, b + 0, c + 0, d + 0}' "$LOG/samples")

CLIENT_RC=-1 SERVER_RC=-1
kill -TERM "$CLIENT"
lt_wait 15 lt_gone "$CLIENT" && { wait "$CLIENT"; CLIENT_RC=$?; }
((CLIENT_RC == 0)) || fail_check "the client exited with status $CLIENT_RC after SIGTERM"
kill -TERM "$SERVER"
lt_wait 15 lt_gone "$SERVER" && { wait "$SERVER"; SERVER_RC=$?; }
((SERVER_RC == 0)) || fail_check "the server exited with status $SERVER_RC after SIGTERM"
sleep 0.5
for ns in "$NS_S" "$NS_C"; do
  [[ $(lt_tun_count "$ns") == 0 ]] || fail_check "$ns: TUN devices left: $(ip -n "$ns" -br link show type tun | tr '\n' ' ')"
done

# -------------------------------------------------------------------------------------- report

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
RECOVERIES=$(awk '{print $3}' "$EVENTS_FILE" | lt_stats)
read -r REC_MED REC_MAX _ _ <<<"$RECOVERIES"
RECONNECTS=$(grep -c ' yes$' "$EVENTS_FILE")
cat <<EOF
soak: ${SOAK_SECONDS}s over $TRANSPORT, Keepalive $KEEPALIVE (window ${WINDOW}s), run $LT_TAG, $((SECONDS - T0)) s in all
  load average         before $LOAD_BEFORE, at the end $(lt_loadavg); $(nproc) CPUs
  events               $n ($(awk '{print $1}' "$EVENTS_FILE" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')server started $SERVER_STARTS times), $RECONNECTS reconnects
  recovery             median ${REC_MED}s, max ${REC_MAX}s after the disruption ended (limit ${WINDOW}s)
  data                 $ACKED chunks acknowledged ($(mib $(($(jq -r .bytes <<<"$SUMMARY") / 1024))) MiB), $(jq -r .attempts <<<"$SUMMARY") attempts, $(jq -r .failures <<<"$SUMMARY") failed attempts retried, $(jq -r .bad <<<"$SUMMARY") corrupted, $MISSING acknowledged but not verified; longest wait for an ack $(jq -r .longest_gap_s <<<"$SUMMARY")s
  client               RSS $(mib "$C_RSS0") MiB after connecting, $(mib "$C_RSS1") MiB at the end (max $(mib "$C_RSS_MAX"), trend ${SLOPE} KiB/min over the second half); open files $C_FDS0 -> $C_FDS1 (samples $C_FDS_MIN-$C_FDS_MAX)
  server               listener + session RSS $(mib "$S_RSS_MIN")-$(mib "$S_RSS_MAX") MiB, open files $S_FDS_MIN-$S_FDS_MAX (samples with a session up)
  exit on SIGTERM      client $CLIENT_RC, server $SERVER_RC
  result               $( ((${#FAILURES[@]} == 0)) && echo ok || echo "${#FAILURES[@]} check(s) failed")
EOF
awk '{printf "    %-10s disrupted %5ss  recovered after %5ss  reconnected %s\n", $1, $2, $3, $4}' "$EVENTS_FILE"
if [[ -n $JSON ]]; then
  jq -n --argjson seconds "$SOAK_SECONDS" --arg transport "$TRANSPORT" --arg keepalive "$KEEPALIVE" --argjson window "$WINDOW" \
    --argjson events "$(awk '{printf "%s{\"kind\":\"%s\",\"disrupted_s\":%s,\"recovery_s\":%s,\"reconnected\":%s}", (NR > 1 ? "," : "["), $1, $2, $3, ($4 == "yes") ? "true" : "false"} END {if (NR == 0) printf "["; print "]"}' "$EVENTS_FILE")" \
    --argjson data "$SUMMARY" --argjson missing "$MISSING" \
    --argjson c_rss0 "$C_RSS0" --argjson c_rss1 "${C_RSS1:-0}" --argjson c_rss_max "${C_RSS_MAX:-0}" --argjson slope "$SLOPE" \
    --argjson c_fds0 "$C_FDS0" --argjson c_fds1 "${C_FDS1:-0}" --argjson client_rc "$CLIENT_RC" --argjson server_rc "$SERVER_RC" \
    --arg load_before "$LOAD_BEFORE" --args '{seconds: $seconds, transport: $transport, keepalive: $keepalive, window_s: $window,
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
