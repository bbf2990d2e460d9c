# shellcheck shell=bash
# The peers of vpn-ws tests, each run per test inside the test's namespaces and killed in
# teardown (load after common.bash):
#
#   vpnws_topology            namespaces HUB_NS, A_NS, B_NS; the hub answers on $HUB_IP
#                             (198.18.20.254, on its lo) through one veth per client; each client
#                             has a TAP vw0 with MAC 02:00:5e:20:00:0{a,b}, 198.19.20.{1,2}/24 and
#                             2001:2:0:20::{a,b}/64
#   vpnws_pki                 certificates for hub.test and $HUB_IP in $PKI (make-certs.sh)
#   start_fake_hub NS LOG ARGS...    test/helpers/vpnws-fake-hub.mjs; waits for "listening"
#   start_fake_peer NS LOG ARGS...   test/helpers/vpnws-fake-peer.mjs (no waiting)
#   start_nginx NS PREFIX ARGS...    nginx as TLS reverse proxy (nginx-ws-proxy.sh); waits for the port
#   start_tinyproxy NS DIR ARGS...   an HTTP CONNECT proxy (tinyproxy-run.sh); waits for the port
#   wait_line SECONDS FILE REGEX     until a line of FILE matches
#   pings NS TARGET                  three pings through the tunnel, after a first answer
#   vpnws_tund_conf, vpnws_hub_conf  tund client and hub sessions; start_tund_ns NS LOG NAME
#   second_tap_client NS NAME ENDPOINT [LINE...]  a client session on a fresh TAP vw1 of NS

HUB_IP=198.18.20.254
HELPERS=$PROJECT_ROOT/test/helpers

vpnws_topology() {
  HUB_NS=$(make_netns h)
  A_NS=$(make_netns a)
  B_NS=$(make_netns b)
  veth_pair "$HUB_NS" 198.18.20.1/30 "$A_NS" 198.18.20.2/30 1
  veth_pair "$HUB_NS" 198.18.20.5/30 "$B_NS" 198.18.20.6/30 2
  ip -n "$HUB_NS" addr add "$HUB_IP/32" dev lo
  ip -n "$A_NS" route add "$HUB_IP/32" via 198.18.20.1
  ip -n "$B_NS" route add "$HUB_IP/32" via 198.18.20.5
  local ns n=0
  for ns in "$A_NS" "$B_NS"; do
    n=$((n + 1))
    # no duplicate address detection: the IPv6 addresses are usable at once
    in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
    local id=$([[ $n -eq 1 ]] && echo a || echo b)
    in_ns "$ns" tunctl add vw0 --mode tap --mac "02:00:5e:20:00:0$id" -q
    in_ns "$ns" tunctl up vw0 --address "198.19.20.$n/24" --address "2001:2:0:20::$id/64" -q
  done
}

vpnws_pki() {
  PKI=$BATS_TEST_TMPDIR/pki
  bash "$HELPERS/make-certs.sh" "$PKI" hub.test "$HUB_IP"
}

wait_line() { # wait_line SECONDS FILE REGEX
  wait_for "$1" grep -qE -- "$3" "$2"
}

# pings NS TARGET: three pings through the tunnel (after the first answer: ARP/ND done)
pings() {
  local ns=$1 target=$2
  wait_for 20 in_ns "$ns" ping -c 1 -W 1 "$target" || return 1
  in_ns "$ns" ping -c 3 -i 0.2 -W 2 "$target"
}

# port_open NS ADDR PORT: something listens there
port_open() { in_ns "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }

start_fake_hub() { # start_fake_hub NS LOG ARGS...
  local ns=$1 log=$2; shift 2
  spawn_bg "$log" ip netns exec "$ns" node "$HELPERS/vpnws-fake-hub.mjs" "$@" >/dev/null
  wait_line 15 "$log" '^listening [0-9]+' || { cat "$log" >&2; return 1; }
}

start_fake_peer() { # start_fake_peer NS LOG ARGS...
  local ns=$1 log=$2; shift 2
  spawn_bg "$log" ip netns exec "$ns" node "$HELPERS/vpnws-fake-peer.mjs" "$@" >/dev/null
}

start_nginx() { # start_nginx NS PREFIX --listen ADDR:PORT ARGS...
  local ns=$1 prefix=$2; shift 2
  local listen=$2
  spawn_bg "$prefix.log" ip netns exec "$ns" bash "$HELPERS/nginx-ws-proxy.sh" "$prefix" "$@" --run >/dev/null
  wait_for 15 port_open "$ns" "${listen%:*}" "${listen##*:}" || { cat "$prefix.log" >&2; return 1; }
}

start_tinyproxy() { # start_tinyproxy NS DIR --listen ADDR --port PORT ARGS...
  local ns=$1 dir=$2; shift 2
  spawn_bg "$dir.log" ip netns exec "$ns" bash "$HELPERS/tinyproxy-run.sh" "$dir" "$@" >/dev/null
  wait_for 15 port_open "$ns" "$2" "$4" || { cat "$dir.log" >&2; return 1; }
}

# vpnws_tund_conf NAME ENDPOINT [LINE...]: a tund vpn-ws client session NAME in $TUND_CONFIG_DIR
# that attaches to the namespace's TAP vw0 (made by vpnws_topology; addresses already there);
# extra [Session] lines follow. Persist = yes: it reconnects by itself.
vpnws_tund_conf() {
  local name=$1 endpoint=$2
  shift 2
  {
    echo "[Session]"
    echo "Protocol = vpn-ws"
    echo "Role = client"
    echo "Endpoint = $endpoint"
    echo "Persist = yes"
    echo "Timeout = 5"
    local l
    for l in "$@"; do echo "$l"; done
    echo
    echo "[Device]"
    echo "Mode = tap"
    echo "Name = vw0"
  } >"$TUND_CONFIG_DIR/$name.conf"
  chmod 600 "$TUND_CONFIG_DIR/$name.conf"
}

# start_tund_ns NS LOG NAME: `tund NAME` in NS (killed in teardown).
start_tund_ns() {
  local ns=$1 log=$2 name=$3
  spawn_bg "$log" ip netns exec "$ns" timeout 300 tund "$name" >/dev/null
}

# vpnws_hub_conf NAME LISTEN [LINE...] [-- DEVICE-LINE...]: a tund vpn-ws hub session NAME; lines
# after "--" make a [Device] section (the hub's own TAP).
vpnws_hub_conf() {
  local name=$1 listen=$2
  shift 2
  local device=() l
  {
    echo "[Session]"
    echo "Protocol = vpn-ws"
    echo "Role = server"
    echo "Listen = $listen"
    echo "Timeout = 5"
    while (($#)); do
      if [[ $1 == -- ]]; then shift; device=("$@"); break; fi
      echo "$1"
      shift
    done
    if ((${#device[@]})); then
      echo
      echo "[Device]"
      for l in "${device[@]}"; do echo "$l"; done
    fi
  } >"$TUND_CONFIG_DIR/$name.conf"
  chmod 600 "$TUND_CONFIG_DIR/$name.conf"
}

# second_tap_client NS NAME ENDPOINT [LINE...]: a client session NAME on a new TAP vw1 in NS
# (vw0 is taken by the namespace's first client), written but not started.
second_tap_client() {
  local ns=$1 name=$2
  shift 2
  in_ns "$ns" tunctl add vw1 --mode tap -q
  vpnws_tund_conf "$name" "$@"
  sed -i 's/^Name = vw0/Name = vw1/' "$TUND_CONFIG_DIR/$name.conf"
}
