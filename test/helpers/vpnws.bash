# shellcheck shell=bash
# The peers of vpn-ws tests, each run per test inside the test's namespaces and killed in
# teardown (load after common.bash):
#
#   vpnws_topology [N]        namespaces HUB_NS and N clients (default 2) CLIENT_NS[], the first
#                             two also A_NS, B_NS; the hub answers on $HUB_IP (198.18.20.254, on
#                             its lo) through one veth per client; client i has a TAP vw0 with MAC
#                             02:00:5e:20:00:(9+i in hex: 0a, 0b, ...), 198.19.20.i/24 and
#                             2001:2:0:20::(9+i)/64 (vpnws_client_id/_ip/_ip6 I)
#   vpnws_add_clients N       more clients of the same kind, up to N in all
#   vpnws_pki                 certificates for hub.test and $HUB_IP in $PKI (make-certs.sh)
#   start_fake_hub NS LOG ARGS...    test/helpers/vpnws-fake-hub.mjs; waits for "listening"
#   start_fake_peer NS LOG ARGS...   test/helpers/vpnws-fake-peer.mjs (no waiting)
#   start_nginx NS PREFIX ARGS...    nginx as TLS reverse proxy (nginx-ws-proxy.sh); waits for the port
#   fake_hub_behind_nginx [ARGS...]  the PKI, a fake hub on the hub's 127.0.0.1:8080 and nginx with
#                             TLS on $HUB_IP:8443 in front of it (ARGS: more nginx-ws-proxy.sh options)
#   password_file             $PASSWORD_FILE (mode 600): the basic-auth password of the tests
#   start_tinyproxy NS DIR ARGS...   an HTTP CONNECT proxy (tinyproxy-run.sh); waits for the port
#   wait_line SECONDS FILE REGEX     until a line of FILE matches
#   pings NS TARGET                  three pings through the tunnel, after a first answer
#   pings_a_b                        A pings B over IPv4, B pings A over IPv6
#   wait_connected LOG...            until each fake peer's LOG says "connected"
#   stop_last_spawned                ends what spawn_bg started last, waits until it is gone
#   vpnws_tund_conf, vpnws_hub_conf  tund client and hub sessions; start_tund_ns NS LOG NAME
#   second_tap_client NS NAME ENDPOINT [LINE...]  a client session on a fresh TAP vw1 of NS

HUB_IP=198.18.20.254
HELPERS=$PROJECT_ROOT/test/helpers

vpnws_topology() { # vpnws_topology [N]: the hub and N clients (default 2)
  HUB_NS=$(make_netns h)
  CLIENT_NS=()
  ip -n "$HUB_NS" addr add "$HUB_IP/32" dev lo
  vpnws_add_clients "${1:-2}"
  A_NS=${CLIENT_NS[0]}
  B_NS=${CLIENT_NS[1]:-}
}

vpnws_add_clients() { # vpnws_add_clients N: more clients, up to N in all
  local i ns
  for ((i = ${#CLIENT_NS[@]} + 1; i <= $1; i++)); do
    case $i in 1) ns=$(make_netns a) ;; 2) ns=$(make_netns b) ;; *) ns=$(make_netns "c$i") ;; esac
    CLIENT_NS+=("$ns")
    # client i: 198.18.20.(4i-2)/30, the hub's end 198.18.20.(4i-3)
    veth_pair "$HUB_NS" "198.18.20.$((4 * i - 3))/30" "$ns" "198.18.20.$((4 * i - 2))/30" "$i"
    ip -n "$ns" route add "$HUB_IP/32" via "198.18.20.$((4 * i - 3))"
    # no duplicate address detection: the IPv6 addresses are usable at once
    in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
    if ((i <= 2)); then
      in_ns "$ns" tunctl add vw0 --mode tap --mac "02:00:5e:20:00:$(vpnws_client_id "$i")" -q
      in_ns "$ns" tunctl up vw0 --address "$(vpnws_client_ip "$i")/24" --address "$(vpnws_client_ip6 "$i")/64" -q
    else
      # the same with ip(8): a node start less per command, which counts with ten clients
      ip -n "$ns" tuntap add dev vw0 mode tap
      ip -n "$ns" link set dev vw0 address "02:00:5e:20:00:$(vpnws_client_id "$i")" up
      ip -n "$ns" addr add "$(vpnws_client_ip "$i")/24" dev vw0
      ip -n "$ns" addr add "$(vpnws_client_ip6 "$i")/64" dev vw0
    fi
  done
}

# client i's MAC suffix (0a, 0b, 0c, ...), IPv4 and IPv6 address on its TAP
vpnws_client_id() { printf '%02x' $((9 + $1)); }
vpnws_client_ip() { echo "198.19.20.$1"; }
vpnws_client_ip6() { printf '2001:2:0:20::%x' $((9 + $1)); }

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

# pings_a_b: the two first clients reach each other, IPv4 one way (ARP), IPv6 the other (ND)
pings_a_b() {
  pings "$A_NS" "$(vpnws_client_ip 2)" && pings "$B_NS" "$(vpnws_client_ip6 1)"
}

wait_connected() { # wait_connected LOG...: fake peers (vpnws-fake-peer.mjs) that said "connected"
  local log
  for log in "$@"; do wait_line 15 "$log" '^connected' || { cat "$log" >&2; return 1; }; done
}

# stop_last_spawned: ends what spawn_bg started last (a tund) and waits until it is gone
stop_last_spawned() {
  local pid
  pid=$(tail -n 1 "$TEST_PIDS_LIST")
  kill "$pid"
  wait_for 10 bash -c "! kill -0 $pid"
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

fake_hub_behind_nginx() { # fake_hub_behind_nginx [NGINX-PROXY-ARG...] (after vpnws_pki, or it makes the PKI)
  [[ -n ${PKI:-} ]] || vpnws_pki
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" --listen 127.0.0.1:8080
  start_nginx "$HUB_NS" "$BATS_TEST_TMPDIR/nginx" --listen "$HUB_IP:8443" --upstream 127.0.0.1:8080 \
    --cert "$PKI/server.pem" --key "$PKI/server.key" "$@"
}

password_file() {
  PASSWORD_FILE=$BATS_TEST_TMPDIR/password
  printf 's3cret pass\n' >"$PASSWORD_FILE"
  chmod 600 "$PASSWORD_FILE"
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
