#!/usr/bin/env bats
# WireGuard over WebSocket between tund peers (Transport = websocket, tund.conf(5)): two tund
# WireGuard sessions in namespaces whose underlay drops every UDP packet (nftables), so only
# HTTP(S) can carry the tunnel: ws:// directly, wss:// with the responder's own certificate (a CA,
# client certificates), and wss:// through nginx as TLS reverse proxy (the set-up of
# docs/vpn-ws.md). Hostile upgrades are refused and change nothing; FwMark marks the sockets.
# Underlay 198.18.92.1 (responder R) - 198.18.92.2 (initiator A); tunnel 198.19.92.1 (R), .2 (A).

load ../helpers/common
load ../helpers/wireguard # wg_private_run, wg_key_file, wg_pub, show_logs
load ../helpers/vtun      # ping_through
load ../helpers/wg-stream # no_udp, wg_file, run_wg, connected, listening

PORT=51840
R_IP=198.18.92.1
HELPERS=$PROJECT_ROOT/test/helpers

setup() {
  common_setup
  NS_R=$(make_netns r)
  NS_A=$(make_netns a)
  veth_pair "$NS_R" $R_IP/30 "$NS_A" 198.18.92.2/30 1
  no_udp "$NS_R"
  no_udp "$NS_A"
  R_KEY=$(wg_key_file r)
  A_KEY=$(wg_key_file a)
  R=${TEST_TAG}r A=${TEST_TAG}a
}
teardown() {
  show_logs
  common_teardown
}

pki() {
  PKI=$BATS_TEST_TMPDIR/pki
  bash "$HELPERS/make-certs.sh" "$PKI" wg.test "$R_IP"
}

# responder R with its [Interface] lines, initiator A dialing URL with its lines; both up
pair_up() { # pair_up URL 'R lines' 'A lines' (lines separated by ';')
  local url=$1 r_lines a_lines
  IFS=';' read -ra r_lines <<<"$2"
  IFS=';' read -ra a_lines <<<"$3"
  wg_file "$R" "$R_KEY" 198.19.92.1 "ListenPort = $PORT" "Transport = websocket" "${r_lines[@]}" -- "$A_KEY" 198.19.92.2
  wg_file "$A" "$A_KEY" 198.19.92.2 "Transport = websocket" "${a_lines[@]}" -- "$R_KEY" 198.19.92.1 "Endpoint = $url"
  run_wg "$NS_R" "$R" || return 1
  listening "$NS_R" $PORT || return 1
  run_wg "$NS_A" "$A" || return 1
  connected "$A" || return 1
}

pings_both_ways() {
  ping_through "$NS_A" 198.19.92.1 && ping_through "$NS_R" 198.19.92.2
}

# upgrade PATH [HEAD...]: an HTTP request to R's port from A's namespace; prints the status line
upgrade() {
  local path=$1; shift
  local req="GET $path HTTP/1.1\r\nHost: $R_IP\r\n"
  local h
  for h in "$@"; do req+="$h\r\n"; done
  ip netns exec "$NS_A" sh -c "printf '$req\r\n' | timeout 10 socat -t 3 - TCP:$R_IP:$PORT" | head -n 1 | tr -d '\r'
}

WS_HEADERS=('Upgrade: websocket' 'Connection: Upgrade' 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' 'Sec-WebSocket-Version: 13')

@test "ws:// with UDP blocked: ping both ways on one connection; a wrong path, a request that is no upgrade and a text message are refused and change nothing; FwMark marks both sockets" {
  pair_up "ws://$R_IP:$PORT/wg" "WebSocketPath = /wg;FwMark = 0x2a" "FwMark = 0x2b"
  run pings_both_ways
  assert_success
  run ip netns exec "$NS_A" ss -Htn state established "( dport = :$PORT )"
  assert_success
  assert_equal "$(wc -l <<<"$output")" 1
  run ip netns exec "$NS_A" ss -Htne state established "( dport = :$PORT )"
  assert_output --partial 'fwmark:0x2b'
  run ip netns exec "$NS_R" ss -Htne state established "( sport = :$PORT )"
  assert_output --partial 'fwmark:0x2a'
  # another path: 404; no upgrade at all: 400 (the engine answers, the session goes on)
  run upgrade /other "${WS_HEADERS[@]}"
  assert_output 'HTTP/1.1 404 Not Found'
  run upgrade /wg 'Accept: */*'
  assert_output --regexp '^HTTP/1.1 4[0-9][0-9] '
  run wait_for 10 grep -q 'refused the WebSocket upgrade: HTTP 404' "$BATS_TEST_TMPDIR/$R.log"
  assert_success
  # the right path upgrades, then a text message (masked, "hi"): closed with 1003
  local key='Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
  run ip netns exec "$NS_A" sh -c "{ printf 'GET /wg HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n$key\r\nSec-WebSocket-Version: 13\r\n\r\n'; sleep 0.5; printf '\201\202\000\000\000\000hi'; } | timeout 10 socat -t 3 - TCP:$R_IP:$PORT | od -An -c | tr -d ' \n'"
  assert_output --partial 'HTTP/1.1101SwitchingProtocols'
  assert_output --regexp '210.003353'   # then a close frame (0x88, its length) with code 1003 (0x03eb)
  run ping_through "$NS_A" 198.19.92.1
  assert_success
  run ping_through "$NS_R" 198.19.92.2
  assert_success
  run tunctl status "$R" --json
  assert_success
  assert_equal "$(jq -r '.sessions[0].state' <<<"$output")" connected
}

@test "wss:// with the responder's own certificate, a CA and client certificates, through an HTTP CONNECT proxy that wants basic auth (ProxyUser); a connection killed comes back by itself" {
  pki
  printf 'carol pr0xy-s3cret\n' >"$BATS_TEST_TMPDIR/proxy-auth"
  install -m 600 /dev/stdin "$BATS_TEST_TMPDIR/a.proxy" <<<'pr0xy-s3cret'
  spawn_bg "$BATS_TEST_TMPDIR/proxy.log" ip netns exec "$NS_R" bash "$HELPERS/tinyproxy-run.sh" "$BATS_TEST_TMPDIR/proxy" \
    --listen $R_IP --port 8888 --allow 198.18.0.0/15 --connect-port $PORT --basic-auth-file "$BATS_TEST_TMPDIR/proxy-auth" >/dev/null
  listening "$NS_R" 8888 15
  pair_up "wss://$R_IP:$PORT/" "Certificate = $PKI/server.pem;CertificateKey = $PKI/server.key;ClientCA = $PKI/ca.pem" \
    "CA = $PKI/ca.pem;Certificate = $PKI/client.pem;CertificateKey = $PKI/client.key;Proxy = http://$R_IP:8888;ProxyUser = carol;ProxySecretFile = $BATS_TEST_TMPDIR/a.proxy"
  run pings_both_ways
  assert_success
  grep -q 'websocket: connected to' "$BATS_TEST_TMPDIR/$A.log"
  # A's one connection is to the proxy
  run ip netns exec "$NS_A" ss -Htn state established "( dport = :8888 )"
  assert_equal "$(wc -l <<<"$output")" 1
  # the connection killed under the tunnel: A dials again
  ip netns exec "$NS_R" ss -K "( sport = :$PORT )" >/dev/null
  run wait_for 20 grep -q "dialing again" "$BATS_TEST_TMPDIR/$A.log"
  assert_success
  run ping_through "$NS_R" 198.19.92.2 20
  assert_success
  run ping_through "$NS_A" 198.19.92.1 20
  assert_success
  run grep -q 'pr0xy-s3cret' "$BATS_TEST_TMPDIR/$A.log" "$BATS_TEST_TMPDIR/$R.log"
  assert_failure
  run grep -qa 'pr0xy-s3cret' /proc/[0-9]*/cmdline
  assert_failure
}

@test "wss:// through nginx as TLS reverse proxy (the responder plain on its port); a wrong CA is refused and retried" {
  pki
  spawn_bg "$BATS_TEST_TMPDIR/nginx.log" ip netns exec "$NS_R" bash "$HELPERS/nginx-ws-proxy.sh" "$BATS_TEST_TMPDIR/nginx" \
    --listen "$R_IP:8443" --upstream "127.0.0.1:$PORT" --cert "$PKI/server.pem" --key "$PKI/server.key" --path /wg --run >/dev/null
  listening "$NS_R" 8443 15
  # first with a CA that did not sign nginx's certificate: the dial fails at TLS
  pair_up_wrong_ca() {
    wg_file "$R" "$R_KEY" 198.19.92.1 "ListenPort = $PORT" "Transport = websocket" "WebSocketPath = /wg" -- "$A_KEY" 198.19.92.2
    wg_file "$A" "$A_KEY" 198.19.92.2 "Transport = websocket" "CA = $PKI/other-ca.pem" -- "$R_KEY" 198.19.92.1 "Endpoint = wss://$R_IP:8443/wg"
    run_wg "$NS_R" "$R" && listening "$NS_R" $PORT && run_wg "$NS_A" "$A"
  }
  pair_up_wrong_ca
  run wait_for 15 grep -q 'websocket: cannot connect to wss://.*tls' "$BATS_TEST_TMPDIR/$A.log"
  assert_success
  # the right CA: A restarted with it
  kill "$(tail -n 1 "$TEST_PIDS_LIST")"
  wait_for 10 sh -c "! tunctl status $A --json 2>/dev/null | jq -e '.sessions[0]' >/dev/null"
  sed -i "s|other-ca.pem|ca.pem|" "$TUND_CONFIG_DIR/$A.conf"
  run_wg "$NS_A" "$A"
  run connected "$A"
  assert_success
  run pings_both_ways
  assert_success
  # nginx carries it: the responder's one connection comes from nginx on the loopback
  run ip netns exec "$NS_R" ss -Htn state established "( sport = :$PORT )"
  assert_success
  assert_equal "$(wc -l <<<"$output")" 1
  assert_output --regexp '127\.0\.0\.1\]?:[0-9]+ *$'
  run ip netns exec "$NS_A" ss -Htn state established "( dport = :$PORT )"
  assert_equal "$output" ""
}

@test "Transport = websocket: a HOST:PORT Endpoint, a URL for tcp, TLS keys without websocket and a lone Certificate are file:line errors; showconf keeps the URL" {
  local f=$TUND_CONFIG_DIR/bad.conf
  wg_file bad "$R_KEY" 198.19.92.1 "Transport = websocket" -- "$A_KEY" 198.19.92.2 "Endpoint = $R_IP:$PORT"
  run tund check bad
  assert_failure 78
  assert_output --partial "$f:9: Endpoint \"$R_IP:$PORT\" is no WebSocket URL"
  wg_file bad "$R_KEY" 198.19.92.1 "Transport = tcp" "CA = /dev/null" -- "$A_KEY" 198.19.92.2 "Endpoint = wss://$R_IP/wg"
  run tund check bad
  assert_failure 78
  assert_output --partial "$f:5: CA applies to Transport = websocket only"
  assert_output --partial "$f:10: Endpoint \"wss://...\" is a WebSocket URL"
  wg_file bad "$R_KEY" 198.19.92.1 "Transport = websocket" "ListenPort = $PORT" "Certificate = /x.pem" "WebSocketPath = wg" -- "$A_KEY" 198.19.92.2
  run tund check bad
  assert_failure 78
  assert_output --partial "$f:6: Certificate without CertificateKey"
  assert_output --partial "$f:7: WebSocketPath \"wg\" is not a request path"
  wg_file bad "$R_KEY" 198.19.92.1 "Transport = websocket" "Webocketpath = /wg" -- "$A_KEY" 198.19.92.2 "Endpoint = ws://$R_IP:$PORT/wg"
  run tund check bad
  assert_failure 78
  assert_output --partial 'did you mean "WebSocketPath"'
  wg_file bad "$R_KEY" 198.19.92.1 "Transport = websocket" -- "$A_KEY" 198.19.92.2 "Endpoint = wss://wg.test:8443/wg"
  run tund check bad
  assert_success
  run tund showconf bad
  assert_success
  assert_line "Transport = websocket"
  assert_line "Endpoint = wss://wg.test:8443/wg"
}

# IPv6 underlay (2001:2::/48, the IPv6 benchmarking range) on the same veth: the responder at R6
R6=2001:2:92::1
v6_underlay() {
  ip -n "$NS_R" addr add $R6/64 dev "${TEST_TAG}1a" nodad
  ip -n "$NS_A" addr add 2001:2:92::2/64 dev "${TEST_TAG}1b" nodad
}

# kill_sessions: everything this test started so far ends (SIGTERM), and is waited for
kill_sessions() {
  local pid
  while read -r pid; do
    [[ -n $pid ]] || continue
    kill -TERM "$pid" 2>/dev/null
    wait_for 15 sh -c "! kill -0 $pid" || return 1
  done <"$TEST_PIDS_LIST"
}

@test "IPv6 underlay: WireGuard over ws:// to [$R6] and over tcp to [$R6]:port, ping both ways" {
  v6_underlay
  pair_up "ws://[$R6]:$PORT/" "" ""
  run pings_both_ways
  assert_success
  run ip netns exec "$NS_A" ss -Htn state established "( dport = :$PORT )"
  assert_output --partial "[$R6]:$PORT"
  kill_sessions
  wg_file "$R" "$R_KEY" 198.19.92.1 "ListenPort = $PORT" "Transport = tcp" -- "$A_KEY" 198.19.92.2
  wg_file "$A" "$A_KEY" 198.19.92.2 "Transport = tcp" -- "$R_KEY" 198.19.92.1 "Endpoint = [$R6]:$PORT"
  run_wg "$NS_R" "$R"
  listening "$NS_R" $PORT
  run_wg "$NS_A" "$A"
  connected "$A"
  run pings_both_ways
  assert_success
  run ip netns exec "$NS_A" ss -Htn state established "( dport = :$PORT )"
  assert_output --partial "[$R6]:$PORT"
}

# a_up_with_hosts: A's session started in a private mount namespace whose /etc/hosts is
# $BATS_TEST_TMPDIR/hosts (the name in A's URL resolves there), connected and pinging both ways;
# HOLDER: the namespaces' holder process, for wg(8) inside them
a_up_with_hosts() {
  HOLDER=$(wg_private_run "$NS_A")
  wg_in "$HOLDER" mount --bind "$BATS_TEST_TMPDIR/hosts" /etc/hosts
  spawn_bg "$BATS_TEST_TMPDIR/$A.log" nsenter -t "$HOLDER" -m -n -- timeout 300 tund "$A" >/dev/null
  connected "$A"
  run pings_both_ways
  assert_success
}

@test "wg set moves a peer whose URL names a host: the dial goes to the new address, still with the URL's path (WebSocketPath)" {
  # R answers on a second address; A knows R by the name wg.test (its own /etc/hosts, private to
  # A's mount namespace) at the first one
  ip netns exec "$NS_R" ip addr add 198.18.92.9/32 dev "${TEST_TAG}1a"
  ip netns exec "$NS_A" ip route add 198.18.92.9/32 dev "${TEST_TAG}1b"
  printf '127.0.0.1 localhost\n%s wg.test\n' "$R_IP" >"$BATS_TEST_TMPDIR/hosts"
  wg_file "$R" "$R_KEY" 198.19.92.1 "ListenPort = $PORT" "Transport = websocket" "WebSocketPath = /wg" -- "$A_KEY" 198.19.92.2
  wg_file "$A" "$A_KEY" 198.19.92.2 "Transport = websocket" -- "$R_KEY" 198.19.92.1 "Endpoint = ws://wg.test:$PORT/wg"
  run_wg "$NS_R" "$R"
  listening "$NS_R" $PORT
  a_up_with_hosts
  local holder=$HOLDER
  run ip netns exec "$NS_A" ss -Htn state established "( dst = $R_IP )"
  assert_equal "$(wc -l <<<"$output")" 1
  # the real wg(8), through tund's UAPI: the peer moves to R's second address
  wg_in "$holder" wg set "$A" peer "$(wg_pub "$R_KEY")" endpoint 198.18.92.9:$PORT
  run wg_in "$holder" wg show "$A" endpoints
  assert_output --partial "198.18.92.9:$PORT"
  # the connection ends under the tunnel: A dials again, at the new address
  ip netns exec "$NS_R" ss -K "( sport = :$PORT )" >/dev/null
  wait_for 20 sh -c "ip netns exec $NS_A ss -Htn state established '( dst = 198.18.92.9 )' | grep -q ."
  run ping_through "$NS_A" 198.19.92.1 20
  assert_success
  run ip netns exec "$NS_A" ss -Htn state established "( dst = $R_IP )"
  assert_output ''
}

@test "wg set moves a wss:// peer whose URL names a host, behind nginx that serves that name only: the dial goes to the new address with the URL's TLS server name, Host and path" {
  # a certificate for wg.test alone (its IP entry is 127.0.0.1): verifying another name fails
  PKI=$BATS_TEST_TMPDIR/pki
  bash "$HELPERS/make-certs.sh" "$PKI" wg.test
  ip netns exec "$NS_R" ip addr add 198.18.92.9/32 dev "${TEST_TAG}1a"
  ip netns exec "$NS_A" ip route add 198.18.92.9/32 dev "${TEST_TAG}1b"
  printf '127.0.0.1 localhost\n%s wg.test\n' "$R_IP" >"$BATS_TEST_TMPDIR/hosts"
  # nginx on both of R's addresses, for wg.test only: another TLS server name (or none) fails the
  # handshake, another Host gets 421
  spawn_bg "$BATS_TEST_TMPDIR/nginx.log" ip netns exec "$NS_R" bash "$HELPERS/nginx-ws-proxy.sh" "$BATS_TEST_TMPDIR/nginx" \
    --listen 8443 --server-name wg.test --upstream "127.0.0.1:$PORT" --cert "$PKI/server.pem" --key "$PKI/server.key" --path /wg --run >/dev/null
  listening "$NS_R" 8443 15
  wg_file "$R" "$R_KEY" 198.19.92.1 "ListenPort = $PORT" "Transport = websocket" "WebSocketPath = /wg" -- "$A_KEY" 198.19.92.2
  wg_file "$A" "$A_KEY" 198.19.92.2 "Transport = websocket" "CA = $PKI/ca.pem" -- "$R_KEY" 198.19.92.1 "Endpoint = wss://wg.test:8443/wg"
  run_wg "$NS_R" "$R"
  listening "$NS_R" $PORT
  a_up_with_hosts
  local holder=$HOLDER
  run ip netns exec "$NS_A" ss -Htn state established "( dst = $R_IP and dport = :8443 )"
  assert_equal "$(wc -l <<<"$output")" 1
  # what a dial that named the new address would meet there: no handshake for its server name,
  # 421 for its Host; the URL's name and Host are served at that address
  run ip netns exec "$NS_A" timeout 10 curl -sS -o /dev/null --cacert "$PKI/ca.pem" https://198.18.92.9:8443/wg
  assert_failure
  run ip netns exec "$NS_A" timeout 10 curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" \
    --connect-to wg.test:8443:198.18.92.9:8443 -H 'Host: 198.18.92.9:8443' https://wg.test:8443/wg
  assert_output 421
  run ip netns exec "$NS_A" timeout 10 curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" \
    --connect-to wg.test:8443:198.18.92.9:8443 https://wg.test:8443/wg
  assert_success
  refute_output 421
  # the real wg(8), through tund's UAPI: the peer moves to R's second address
  wg_in "$holder" wg set "$A" peer "$(wg_pub "$R_KEY")" endpoint 198.18.92.9:8443
  run wg_in "$holder" wg show "$A" endpoints
  assert_output --partial "198.18.92.9:8443"
  # the connection ends under the tunnel: A dials again, at the new address, and gets through nginx
  ip netns exec "$NS_A" ss -K "( dport = :8443 )" >/dev/null
  wait_for 20 sh -c "ip netns exec $NS_A ss -Htn state established '( dst = 198.18.92.9 and dport = :8443 )' | grep -q ."
  run ping_through "$NS_A" 198.19.92.1 20
  assert_success
  run ping_through "$NS_R" 198.19.92.2 20
  assert_success
  run ip netns exec "$NS_A" ss -Htn state established "( dst = $R_IP )"
  assert_output ''
  run grep -c 'websocket: cannot connect' "$BATS_TEST_TMPDIR/$A.log"
  assert_output 0
}
