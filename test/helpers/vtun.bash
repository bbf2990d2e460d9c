# shellcheck shell=bash
# Helpers for the VTun suites (vtun-interop, vtun-tund2tund, vtun-faults): two namespaces joined by
# a veth pair (underlay 198.18.77.1/30 server - 198.18.77.2/30 client), tunnel 198.19.77.1 (server)
# - 198.19.77.2 (client); tund sessions written into per-side config dirs; the real Debian vtund
# through test/helpers/vtund-peer.sh. Load after common.bash:
#
#   load ../helpers/common
#   load ../helpers/vtun
#   setup()    { common_setup; vtun_setup; }
#   teardown() { vtun_teardown; common_teardown; }

VTUND_PEER=$PROJECT_ROOT/test/helpers/vtund-peer.sh
VT_SADDR=198.18.77.1
VT_CADDR=198.18.77.2
VT_TS=198.19.77.1
VT_TC=198.19.77.2
VT_PW=interop-pw
VT_HOST=vtdemo

vtun_setup() {
  NS_S=$(make_netns s) || return 1
  NS_C=$(make_netns c) || return 1
  veth_pair "$NS_S" "$VT_SADDR/30" "$NS_C" "$VT_CADDR/30"
  vtun_dirs
}

# vtun_dirs: each side's config and run directory, and the list of vtund PID files
vtun_dirs() {
  SDIR=$BATS_TEST_TMPDIR/etc-s CDIR=$BATS_TEST_TMPDIR/etc-c
  SRUN=$BATS_TEST_TMPDIR/run-s CRUN=$BATS_TEST_TMPDIR/run-c
  mkdir -p "$SDIR" "$CDIR" "$SRUN" "$CRUN"
  VTUND_PIDFILES=$BATS_TEST_TMPDIR/vtund.pids
  : >"$VTUND_PIDFILES"
}

vtun_teardown() {
  local f
  if [[ -f ${VTUND_PIDFILES:-/nonexistent} ]]; then
    # vtund-peer.sh's PID file names the process-group leader of that vtund and its children; a
    # graceful `vtund-peer.sh stop` waits for vtund, which adds up over a matrix, so kill the group.
    while read -r f; do
      [[ -n $f && -f $f ]] || continue
      local pg
      pg=$(cat "$f" 2>/dev/null)
      [[ $pg =~ ^[0-9]+$ ]] && kill -KILL -- "-$pg" 2>/dev/null
    done <"$VTUND_PIDFILES"
  fi
  # the logs of everything that ran (bats shows them only when the test failed)
  if true; then
    {
      for f in "$BATS_TEST_TMPDIR"/*.log; do
        [[ -f $f ]] && { echo "---- $f"; tail -n 40 "$f"; }
      done
      if [[ -f ${VTUND_PIDFILES:-/nonexistent} ]]; then
        while read -r f; do
          [[ -f $(dirname "$f")/vtund.log ]] && { echo "---- vtund: $(dirname "$f")/vtund.log"; tail -n 20 "$(dirname "$f")/vtund.log"; }
        done <"$VTUND_PIDFILES"
      fi
    } 2>/dev/null || true
  fi
}

# tund_conf DIR NAME ROLE PROTO TYPE(tun|ether) ENCRYPT COMPRESS [extra [Session] lines...]
# The server end of the tunnel is 198.19.77.1, the client end .2.
tund_conf() {
  local dir=$1 name=$2 role=$3 proto=$4 type=$5 enc=$6 comp=$7
  shift 7
  local mode=tun local_ip peer_ip saddr=$VT_SADDR
  [[ $type == ether ]] && mode=tap
  [[ $saddr == *:* ]] && saddr="[$saddr]" # an IPv6 underlay (ipv6-underlay.bats)
  if [[ $role == server ]]; then local_ip=$VT_TS peer_ip=$VT_TC; else local_ip=$VT_TC peer_ip=$VT_TS; fi
  {
    echo "[Session]"
    echo "Protocol = vtun"
    echo "Role = $role"
    if [[ $role == client ]]; then echo "Endpoint = $saddr:5000"; else echo "Listen = $saddr:5000"; fi
    echo "Host = $VT_HOST"
    echo "Transport = $proto"
    echo "Encrypt = $enc"
    echo "Compress = $comp"
    echo "Keepalive = 10:3"
    echo "Timeout = 5"
    local l
    for l in "$@"; do echo "$l"; done
    echo
    echo "[Device]"
    echo "Mode = $mode"
    if [[ $mode == tun ]]; then
      echo "Address = $local_ip/32"
      echo "Peer = $peer_ip"
    else
      echo "Address = $local_ip/24"
    fi
  } >"$dir/$name.conf"
  printf '%s' "${VT_SECRET:-$VT_PW}" >"$dir/$name.secret"
  chmod 600 "$dir/$name.conf" "$dir/$name.secret"
}

# start_tund NS DIR RUNDIR LOG ARGS... : tund in the background inside NS; prints the PID of the
# wrapper (killed in teardown). Its exit status lands in LOG.rc; node_of PID finds the tund process.
start_tund() {
  local ns=$1 dir=$2 run=$3 log=$4
  shift 4
  rm -f "$log.rc"
  spawn_bg "$log" env TUND_CONFIG_DIR="$dir" TUND_RUN_DIR="$run" \
    sh -c 'log=$1 ns=$2; shift 2; ip netns exec "$ns" timeout 300 tund "$@"; echo $? >"$log.rc"' sh "$log" "$ns" "$@"
}

# start_tund_pair SERVER CLIENT: the sessions written by tund_conf, the server listening before the
# client starts; logs server.log and client.log in the test's directory.
start_tund_pair() {
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" "$1" >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" "$2" >/dev/null
}

# tund_rc LOG [SECONDS]: waits for the tund started with that LOG to exit and prints its status.
tund_rc() {
  wait_for "${2:-15}" test -s "$1.rc" || { echo timeout; return 1; }
  cat "$1.rc"
}

# node_of PID: the tund (node) process below a start_tund wrapper.
node_of() {
  local pid=$1 c depth
  for depth in 1 2 3 4 5; do
    [[ $(ps -o comm= -p "$pid" 2>/dev/null) == node ]] && { echo "$pid"; return 0; }
    c=$(pgrep -P "$pid" | head -n1)
    [[ -n $c ]] || return 1
    pid=$c
  done
  return 1
}

# The capability sets of a process as one line, hex without leading zeros:
# "CapInh=0 CapPrm=1000 CapEff=1000 CapBnd=1000 CapAmb=0" (bit 12 = CAP_NET_ADMIN).
caps_of() {
  awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { v = $2; sub(/^0+/, "", v); if (v == "") v = "0"; printf "%s%s=%s", sep, substr($1, 1, 6), v; sep = " " } END { print "" }' "/proc/$1/status"
}

# vtund_server ARGS... / vtund_client ARGS...: the real vtund via the harness (session vtdemo).
vtund_server() {
  local pf
  pf=$("$VTUND_PEER" server --netns "$NS_S" --session "$VT_HOST" --password "${VT_SECRET:-$VT_PW}" \
    --server-addr "$VT_SADDR" --lifetime 300 "$@") || return 1
  echo "$pf" >>"$VTUND_PIDFILES"
  VTUND_LOG=$(dirname "$pf")/vtund.log
}

vtund_client() {
  local pf
  pf=$("$VTUND_PEER" client --netns "$NS_C" --session "$VT_HOST" --password "${VT_SECRET:-$VT_PW}" \
    --server-addr "$VT_SADDR" --lifetime 300 "$@") || return 1
  echo "$pf" >>"$VTUND_PIDFILES"
  VTUND_LOG=$(dirname "$pf")/vtund.log
  VTUND_PIDFILE=$pf
}

# ping_through NS ADDR [SECONDS]: waits until ADDR answers through the tunnel.
ping_through() {
  local ns=$1 addr=$2 secs=${3:-15}
  wait_for "$secs" ip netns exec "$ns" ping -c 1 -W 1 "$addr"
}

# transfer NS_FROM NS_TO TO_ADDR MB: MB of random data through the tunnel over TCP (socat), the
# sha256 of what arrived must equal what was sent.
transfer() {
  local from=$1 to=$2 addr=$3 mb=$4 port=$((7000 + RANDOM % 1000))
  local src=$BATS_TEST_TMPDIR/xfer.in dst=$BATS_TEST_TMPDIR/xfer.out
  head -c "${mb}M" /dev/urandom >"$src"
  rm -f "$dst"
  ip netns exec "$to" timeout 90 socat -u "TCP-LISTEN:$port,bind=$addr,reuseaddr" "CREATE:$dst" &
  local lpid=$!
  wait_for 5 sh -c "ip netns exec $to ss -Hltn 'sport = :$port' | grep -q LISTEN" || { kill "$lpid" 2>/dev/null; return 1; }
  if ! ip netns exec "$from" timeout 90 socat -u "OPEN:$src" "TCP:$addr:$port,connect-timeout=10"; then
    kill "$lpid" 2>/dev/null
    echo "transfer: sender failed" >&2
    return 1
  fi
  wait "$lpid" || { echo "transfer: receiver failed" >&2; return 1; }
  local a b
  a=$(sha256sum <"$src" | cut -d' ' -f1)
  b=$(sha256sum <"$dst" | cut -d' ' -f1)
  [[ $a == "$b" ]] || { echo "transfer: checksum mismatch ($(stat -c %s "$dst") of $((mb * 1048576)) bytes arrived)" >&2; return 1; }
}

# link_kind NS DEV -> tun | tap (from the kernel)
link_kind() { ip -n "$1" -j -d link show dev "$2" | jq -r '.[0].linkinfo.info_data.type'; }

# has_addr NS DEV ADDR: the kernel has ADDR on DEV
has_addr() { ip -n "$1" -j addr show dev "$2" | jq -e --arg a "$3" '[.[0].addr_info[] | select(.local == $a)] | length == 1' >/dev/null; }
