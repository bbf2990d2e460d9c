#!/usr/bin/env bash
# vtun-sessions.sh - N concurrent VTun client sessions through one `tund serve`, each in its own
# network namespace, all driven through tund's command line. Measures how long each client takes
# to connect, the memory and open files of both sides, pings through every tunnel, then stops the
# clients and checks that nothing is left behind.
#
#   bash test/load/vtun-sessions.sh [--sessions N] [--transport tcp|udp] [--interval S]
#                                   [--timeout S] [--connect-timeout S] [--max-time S] [--json FILE]
#   npm run load                     # 100 sessions
#
# Topology: namespace LT-s holds `tund serve --listen 198.18.100.1:5000` and a bridge; client
# namespace LT-cI (I = 1..N) reaches it over a veth at 198.18.100.(I+1). Session I's tunnel is
# 198.19.2.I (client) - 198.19.1.I (server); its server file is sI, its client file cI.
#
# --timeout is the handshake timeout of both sides (Timeout, tund serve --timeout; default 120 s):
# the server hands each identified connection to a session process it started ahead of need and
# then starts the next one, a Node start-up that a busy machine makes slow.
#
# Connect time: from the client's launch to its tunnel address appearing on its device (the
# kernel's timestamp, `ip -ts monitor address` in each client namespace; tund configures the device
# after the handshake). RSS and PSS come from /proc (VmRSS, smaps_rollup), open files from
# /proc/PID/fd: for the listener, each per-connection server process and each client.
#
# Leak checks after every client was stopped (SIGTERM): no server session process left, the
# listener's open files as before the clients came, no TUN device and the same links, addresses,
# routes and rules as before in every namespace, no file left in the run directories, no process
# left in any client namespace. The listener then stops on SIGTERM with status 0.
#
# Exit status 0 when every session connected and pinged and nothing leaked, 1 otherwise, 2 for a
# usage error, 77 when not root. Everything is bounded (--max-time, default 900 s) and every
# namespace and process the run made goes when it ends, also on failure or Ctrl-C.
set -uo pipefail
LT_PROG=vtun-sessions
# shellcheck source=test/load/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SESSIONS=100 TRANSPORT=tcp INTERVAL=1 HS_TIMEOUT=120 CONNECT_TIMEOUT=300 MAX_TIME=900 JSON=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --sessions) SESSIONS=${2:-} ;;
    --transport) TRANSPORT=${2:-} ;;
    --interval) INTERVAL=${2:-} ;;
    --timeout) HS_TIMEOUT=${2:-} ;;
    --connect-timeout) CONNECT_TIMEOUT=${2:-} ;;
    --max-time) MAX_TIME=${2:-} ;;
    --json) JSON=${2:-} ;;
    -h | --help) lt_usage "$0"; exit 0 ;;
    *) bad "unknown option \"$1\" (see --help)" ;;
  esac
  shift 2 || bad "$1 needs a value"
done
in_range "$SESSIONS" 1 250 || bad "--sessions \"$SESSIONS\" (expected 1-250)"
[[ $TRANSPORT == tcp || $TRANSPORT == udp ]] || bad "--transport \"$TRANSPORT\" (expected tcp or udp)"
[[ $INTERVAL =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad "--interval \"$INTERVAL\" (expected seconds)"
in_range "$HS_TIMEOUT" 1 3600 || bad "--timeout \"$HS_TIMEOUT\" (expected 1-3600 seconds)"
in_range "$CONNECT_TIMEOUT" 1 3600 || bad "--connect-timeout \"$CONNECT_TIMEOUT\" (expected 1-3600 seconds)"
in_range "$MAX_TIME" 1 3600 || bad "--max-time \"$MAX_TIME\" (expected 1-3600 seconds)"

lt_init lt
FAILURES=()
fail_check() { FAILURES+=("$*"); lt_log "FAIL: $*"; }
# the whole run is bounded: past --max-time the script ends itself (the trap cleans up)
lt_watchdog "$MAX_TIME"

SADDR=198.18.100.1
SDIR=$LT_WORK/etc-s SRUN=$LT_WORK/run-s CDIR=$LT_WORK/etc-c CRUN=$LT_WORK/run-c
mkdir -p "$SDIR" "$SRUN" "$CDIR" "$CRUN" "$LT_WORK/log"

# ------------------------------------------------------------------------------ configuration

write_sessions() {
  local i pw
  for ((i = 1; i <= SESSIONS; i++)); do
    pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    cat >"$SDIR/s$i.conf" <<EOF
[Session]
Role = server
Transport = $TRANSPORT
Keepalive = 10:3
Timeout = $HS_TIMEOUT

[Device]
Mode = tun
Address = 198.19.1.$i/32
Peer = 198.19.2.$i
EOF
    cat >"$CDIR/c$i.conf" <<EOF
[Session]
Role = client
Endpoint = $SADDR:5000
Host = s$i
Timeout = $HS_TIMEOUT

[Device]
Mode = tun
Address = 198.19.2.$i/32
Peer = 198.19.1.$i
EOF
    printf '%s\n' "$pw" >"$SDIR/s$i.secret"
    printf '%s\n' "$pw" >"$CDIR/c$i.secret"
  done
  chmod 600 "${SDIR:?}"/* "${CDIR:?}"/*
}

# ------------------------------------------------------------------------------------ network

NS_S=''
declare -a NS_C MONITOR CLIENT LAUNCHED
make_network() {
  local i
  NS_S=$(lt_netns s) || lt_die "cannot make namespaces"
  ip -n "$NS_S" link add br0 type bridge
  ip -n "$NS_S" addr add "$SADDR/24" dev br0
  ip -n "$NS_S" link set br0 up
  for ((i = 1; i <= SESSIONS; i++)); do
    NS_C[i]=$(lt_netns "c$i") || lt_die "cannot make namespaces"
    # made inside the namespaces: no name in the host's namespace, so runs never collide
    ip -n "$NS_S" link add "h$i" type veth peer name u0 netns "${NS_C[i]}"
    ip -n "$NS_S" link set "h$i" master br0 up
    ip -n "${NS_C[i]}" addr add "198.18.100.$((i + 1))/24" dev u0
    ip -n "${NS_C[i]}" link set u0 up
  done
}

# ---------------------------------------------------------------------------------- processes

LISTENER=''
start_listener() {
  ip netns exec "$NS_S" env TUND_CONFIG_DIR="$SDIR" TUND_RUN_DIR="$SRUN" \
    tund serve --listen "$SADDR:5000" --timeout "$HS_TIMEOUT" >"$LT_WORK/log/serve.log" 2>&1 </dev/null &
  LISTENER=$!
  lt_track_pid "$LISTENER"
  lt_wait 20 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN" || { cat "$LT_WORK/log/serve.log" >&2; lt_die "tund serve did not listen"; }
}

# the listener's session processes (they call themselves "tund serve: NAME") and its pre-started
# spare (still `serve --pre-started`, waiting for a connection)
server_children() { pgrep -P "$LISTENER" -f '^tund serve: ' 2>/dev/null; }
no_server_children() { [[ -z $(server_children) ]]; }
spare_of_listener() { pgrep -P "$LISTENER" -f ' serve --pre-started ' 2>/dev/null; }
one_spare() { [[ $(pgrep -P "$LISTENER" | wc -l) == 1 && -n $(spare_of_listener) ]]; }

start_clients() {
  local i
  for ((i = 1; i <= SESSIONS; i++)); do
    ip -ts -n "${NS_C[i]}" monitor address >"$LT_WORK/log/mon$i" 2>&1 </dev/null &
    MONITOR[i]=$!
    lt_track_pid "${MONITOR[i]}"
  done
  sleep 0.5 # the monitors subscribe before anything can happen (a missed event shows as "not connected")
  for ((i = 1; i <= SESSIONS; i++)); do
    LAUNCHED[i]=$EPOCHREALTIME
    ip netns exec "${NS_C[i]}" env TUND_CONFIG_DIR="$CDIR" TUND_RUN_DIR="$CRUN" \
      tund "c$i" >"$LT_WORK/log/c$i.log" 2>&1 </dev/null &
    CLIENT[i]=$!
    lt_track_pid "${CLIENT[i]}"
    sleep "$INTERVAL"
  done
}

# connected_at I -> the kernel's timestamp (epoch seconds) of session I's tunnel address
connected_at() {
  local line
  line=$(grep -m1 -F " inet 198.19.2.$1 " "$LT_WORK/log/mon$1") || return 1
  line=${line%%]*}
  date -d "${line#[}" +%s.%N
}

all_connected() {
  local i
  for ((i = 1; i <= SESSIONS; i++)); do grep -qF " inet 198.19.2.$i " "$LT_WORK/log/mon$i" || return 1; done
}

# ----------------------------------------------------------------------------------------- run

T0=$SECONDS
lt_log "run $LT_TAG: $SESSIONS sessions over $TRANSPORT, one every ${INTERVAL}s; load average $(lt_loadavg)"
LOAD_BEFORE=$(lt_loadavg)
write_sessions
make_network
start_listener
lt_wait 60 one_spare || fail_check "no pre-started session process 60 s after the listener started"
read -r L_RSS0 _ L_FDS0 < <(lt_proc "$LISTENER")
read -r SP_RSS0 SP_PSS0 _ < <(lt_proc "$(spare_of_listener)")
declare -a SNAP_C
SNAP_S=$(lt_net_snapshot "$NS_S")
for ((i = 1; i <= SESSIONS; i++)); do SNAP_C[i]=$(lt_net_snapshot "${NS_C[i]}"); done
RUN_FILES_BEFORE=$(find "$SRUN" "$CRUN" | sort)
lt_log "network and listener ready after $((SECONDS - T0)) s; starting clients"

start_clients
lt_wait "$CONNECT_TIMEOUT" all_connected || true
CONNECT_FILE=$LT_WORK/connect.txt
: >"$CONNECT_FILE"
CONNECTED=0
for ((i = 1; i <= SESSIONS; i++)); do
  if t=$(connected_at "$i"); then
    awk -v a="$t" -v b="${LAUNCHED[i]}" 'BEGIN {printf "%.3f\n", a - b}' >>"$CONNECT_FILE"
    CONNECTED=$((CONNECTED + 1))
  else
    fail_check "session $i did not connect within ${CONNECT_TIMEOUT}s: $(tail -n 3 "$LT_WORK/log/c$i.log" | tr '\n' ' ')"
  fi
done
read -r CT_MED CT_MAX _ _ < <(lt_stats <"$CONNECT_FILE")
lt_log "$CONNECTED of $SESSIONS connected; connect time median ${CT_MED}s, max ${CT_MAX}s"

# every tunnel carries a ping (in parallel, 25 at a time)
PINGED=0
ping_one() { ip netns exec "${NS_C[$1]}" ping -c 3 -i 0.2 -W 3 -q "198.19.1.$1" >/dev/null 2>&1 && echo ok >"$LT_WORK/log/ping$1"; }
PING_PIDS=()
for ((i = 1; i <= SESSIONS; i++)); do
  ping_one "$i" &
  PING_PIDS+=($!)
  if ((i % 25 == 0 || i == SESSIONS)); then
    wait "${PING_PIDS[@]}"
    PING_PIDS=()
  fi
done
for ((i = 1; i <= SESSIONS; i++)); do
  if [[ -f $LT_WORK/log/ping$i ]]; then PINGED=$((PINGED + 1)); else fail_check "session $i: no ping through its tunnel"; fi
done
lt_log "$PINGED of $SESSIONS tunnels answered a ping"

# memory and open files with every session up
mapfile -t CHILDREN < <(server_children)
: >"$LT_WORK/srv.txt"
: >"$LT_WORK/cli.txt"
for pid in "${CHILDREN[@]}"; do lt_proc "$pid" >>"$LT_WORK/srv.txt"; done
for ((i = 1; i <= SESSIONS; i++)); do lt_proc "${CLIENT[i]}" >>"$LT_WORK/cli.txt"; done
read -r L_RSS L_PSS L_FDS < <(lt_proc "$LISTENER")
# the spare: the listener's next session process, counted with the listener
read -r SP_RSS SP_PSS SP_FDS < <(lt_proc "$(spare_of_listener)") || { SP_RSS=0 SP_PSS=0 SP_FDS=0; }
L_RSS=$((L_RSS + SP_RSS)) L_PSS=$((L_PSS + SP_PSS)) L_FDS_SERVER=$((L_FDS + SP_FDS))
col() { awk -v c="$1" '{print $c}' "$2" | lt_stats; }
read -r S_RSS_MED S_RSS_MAX S_RSS_SUM S_N < <(col 1 "$LT_WORK/srv.txt")
read -r S_PSS_MED _ S_PSS_SUM _ < <(col 2 "$LT_WORK/srv.txt")
read -r S_FDS_MED S_FDS_MAX S_FDS_SUM _ < <(col 3 "$LT_WORK/srv.txt")
read -r C_RSS_MED C_RSS_MAX C_RSS_SUM C_N < <(col 1 "$LT_WORK/cli.txt")
read -r C_PSS_MED _ C_PSS_SUM _ < <(col 2 "$LT_WORK/cli.txt")
read -r C_FDS_MED C_FDS_MAX _ _ < <(col 3 "$LT_WORK/cli.txt")
LOAD_PEAK=$(lt_loadavg)
((S_N == SESSIONS)) || fail_check "$S_N server session processes for $SESSIONS sessions"

# every client stops; the server side follows
for ((i = 1; i <= SESSIONS; i++)); do kill -TERM "${CLIENT[i]}" 2>/dev/null; done
clients_gone() { local i; for ((i = 1; i <= SESSIONS; i++)); do lt_gone "${CLIENT[i]}" || return 1; done; }
lt_wait 60 clients_gone || fail_check "clients still running 60 s after SIGTERM"
lt_wait 60 no_server_children || fail_check "server session processes still running 60 s after their clients stopped: $(server_children | tr '\n' ' ')"
for ((i = 1; i <= SESSIONS; i++)); do
  kill -TERM "${MONITOR[i]}" 2>/dev/null
  wait "${MONITOR[i]}" 2>/dev/null
done

# nothing left behind
sleep 1 # the last session's kernel objects (tun device) go with its process's last fd
read -r L_RSS1 _ L_FDS1 < <(lt_proc "$LISTENER")
((L_FDS1 == L_FDS0)) || fail_check "listener: $L_FDS1 open files after the sessions, $L_FDS0 before ($(find "/proc/$LISTENER/fd" -mindepth 1 -printf '%l\n' | sort | uniq -c | tr '\n' ' '))"
[[ $(lt_tun_count "$NS_S") == 0 ]] || fail_check "server namespace: TUN devices left: $(ip -n "$NS_S" -br link show type tun | tr '\n' ' ')"
[[ $(lt_net_snapshot "$NS_S") == "$SNAP_S" ]] || fail_check "server namespace: links, addresses, routes or rules differ from before"
LEFT_NS=0
for ((i = 1; i <= SESSIONS; i++)); do
  if [[ $(lt_net_snapshot "${NS_C[i]}") != "${SNAP_C[i]}" || -n $(ip netns pids "${NS_C[i]}") ]]; then
    LEFT_NS=$((LEFT_NS + 1))
  fi
done
((LEFT_NS == 0)) || fail_check "$LEFT_NS client namespaces differ from before (device, address, route, rule or a process left)"
RUN_FILES_AFTER=$(find "$SRUN" "$CRUN" | sort)
[[ $RUN_FILES_AFTER == "$RUN_FILES_BEFORE" ]] || fail_check "files left in the run directories: $(comm -13 <(echo "$RUN_FILES_BEFORE") <(echo "$RUN_FILES_AFTER") | tr '\n' ' ')"
lt_wait 60 one_spare || fail_check "the listener's children after the sessions: $(pgrep -P "$LISTENER" | tr '\n' ' ') (expected one pre-started process)"
SPARE=$(spare_of_listener)
read -r SP_RSS1 _ _ < <(lt_proc "$SPARE")
[[ $(ip netns pids "$NS_S" | sort) == "$(printf '%s\n' "$LISTENER" "$SPARE" | sort)" ]] ||
  fail_check "server namespace: processes besides the listener and its spare: $(ip netns pids "$NS_S" | grep -vx -e "$LISTENER" -e "$SPARE" | tr '\n' ' ')"

kill -TERM "$LISTENER"
lt_wait 15 lt_gone "$LISTENER" || fail_check "the listener did not stop within 15 s of SIGTERM"
lt_wait 15 lt_gone "$SPARE" || fail_check "the pre-started process $SPARE did not end with the listener"
wait "$LISTENER"
L_RC=$?
((L_RC == 0)) || fail_check "the listener exited with status $L_RC after SIGTERM"

# ------------------------------------------------------------------------------------- report

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
cat <<EOF
vtun-sessions: $SESSIONS sessions over $TRANSPORT through one tund serve (run $LT_TAG, $((SECONDS - T0)) s)
  load average         before $LOAD_BEFORE, with all sessions up $LOAD_PEAK; $(nproc) CPUs
  connected / pinged   $CONNECTED / $PINGED of $SESSIONS (launched one every ${INTERVAL}s, handshake timeout ${HS_TIMEOUT}s)
  connect time         median ${CT_MED} s, max ${CT_MAX} s
  server per session   RSS median $(mib "$S_RSS_MED") MiB (max $(mib "$S_RSS_MAX")), PSS median $(mib "$S_PSS_MED") MiB, open files median $S_FDS_MED (max $S_FDS_MAX)
  server total         RSS $(mib $((S_RSS_SUM + L_RSS))) MiB, PSS $(mib $((S_PSS_SUM + L_PSS))) MiB, open files $((S_FDS_SUM + L_FDS_SERVER)) ($S_N session processes + listener + pre-started one)
  listener             RSS $(mib "$L_RSS0") -> $(mib "$((L_RSS - SP_RSS))") -> $(mib "$L_RSS1") MiB, open files $L_FDS0 -> $L_FDS -> $L_FDS1 (before, all up, after)
  pre-started process  RSS $(mib "${SP_RSS0:-0}") MiB (PSS $(mib "${SP_PSS0:-0}")) before the clients, $(mib "${SP_RSS1:-0}") MiB after (one, waiting)
  client per session   RSS median $(mib "$C_RSS_MED") MiB (max $(mib "$C_RSS_MAX")), PSS median $(mib "$C_PSS_MED") MiB, open files median $C_FDS_MED (max $C_FDS_MAX)
  client total         RSS $(mib "$C_RSS_SUM") MiB, PSS $(mib "$C_PSS_SUM") MiB ($C_N processes)
  leaks                $( ((${#FAILURES[@]} == 0)) && echo none || echo "${#FAILURES[@]} check(s) failed")
EOF
if [[ -n $JSON ]]; then
  jq -n --argjson sessions "$SESSIONS" --arg transport "$TRANSPORT" --argjson connected "$CONNECTED" --argjson pinged "$PINGED" \
    --argjson ct_median "$CT_MED" --argjson ct_max "$CT_MAX" \
    --argjson s_rss_median "$S_RSS_MED" --argjson s_rss_max "$S_RSS_MAX" --argjson s_rss_total "$((S_RSS_SUM + L_RSS))" \
    --argjson s_pss_total "$((S_PSS_SUM + L_PSS))" --argjson s_fds_median "$S_FDS_MED" --argjson s_fds_total "$((S_FDS_SUM + L_FDS_SERVER))" \
    --argjson l_fds_before "$L_FDS0" --argjson l_fds_up "$L_FDS" --argjson l_fds_after "$L_FDS1" \
    --argjson c_rss_median "$C_RSS_MED" --argjson c_rss_total "$C_RSS_SUM" --argjson c_fds_median "$C_FDS_MED" \
    --arg load_before "$LOAD_BEFORE" --arg load_peak "$LOAD_PEAK" --argjson server_processes "$S_N" \
    --argjson listener_rc "$L_RC" --args '{sessions: $sessions, transport: $transport, connected: $connected, pinged: $pinged,
      connect_seconds: {median: $ct_median, max: $ct_max},
      server: {processes: $server_processes, rss_kib_median: $s_rss_median, rss_kib_max: $s_rss_max, rss_kib_total: $s_rss_total,
        pss_kib_total: $s_pss_total, fds_median: $s_fds_median, fds_total: $s_fds_total,
        listener_fds: {before: $l_fds_before, up: $l_fds_up, after: $l_fds_after}, listener_exit: $listener_rc},
      client: {rss_kib_median: $c_rss_median, rss_kib_total: $c_rss_total, fds_median: $c_fds_median},
      load_average: {before: $load_before, up: $load_peak}, failures: $ARGS.positional}' "${FAILURES[@]}" >"$JSON"
fi
if ((${#FAILURES[@]} > 0)); then
  printf '  failed: %s\n' "${FAILURES[@]}"
  exit 1
fi
exit 0
