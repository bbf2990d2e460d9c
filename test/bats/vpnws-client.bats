#!/usr/bin/env bats
# tund's vpn-ws client (Protocol = vpn-ws, Role = client) against an independent hub: the ws-based
# fake hub of test/helpers (Debian 12 packages no vpn-ws server), alone and behind nginx as TLS
# reverse proxy (basic auth, client certificates), through tinyproxy (HTTP CONNECT), with a fake
# vpn-ws client on the other side. The frames move on the engine's threads (WsLink).
bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/vpnws

setup() { common_setup; vpnws_topology; }
teardown() { common_teardown; }

status_json() { in_ns "$1" tunctl status "$2" --json; }

@test "ws://: tund client and a fake vpn-ws client ping each other through the hub (IPv4, IPv6); the hub learns tund's MAC from the header" {
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" --listen "$HUB_IP:8080" --path /vpn
  vpnws_tund_conf vwa "ws://$HUB_IP:8080/vpn"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "ws://$HUB_IP:8080/vpn"
  wait_connected "$BATS_TEST_TMPDIR/b.log"
  in_ns "$A_NS" tunctl wait vwa --state connected --timeout 15
  grep -q 'mac=02:00:5e:20:00:0a bridge=false path=/vpn' "$BATS_TEST_TMPDIR/hub.log"
  run pings_a_b
  assert_success
  run status_json "$A_NS" vwa
  assert_success
  local s
  s=$(jq '.sessions[0]' <<<"$output")
  assert_equal "$(jq -r .protocol <<<"$s")" vpn-ws
  assert_equal "$(jq -r .state <<<"$s")" connected
  assert_equal "$(jq -r .endpoint <<<"$s")" "$HUB_IP:8080"
  assert_equal "$(jq -r .flags <<<"$s")" ws
  [[ $(jq -r .rx_packets <<<"$s") -ge 3 ]]
}

@test "wss:// through nginx with basic auth (User and the secret file) and CA; refused without the password" {
  password_file
  fake_hub_behind_nginx --path /vpn --user alice --password-file "$PASSWORD_FILE"
  # no credentials: 401, said in the log, and tried again later
  vpnws_tund_conf vwn "wss://$HUB_IP:8443/vpn" "CA = $PKI/ca.pem"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/nopass.log" vwn
  wait_line 15 "$BATS_TEST_TMPDIR/nopass.log" 'upgrade: HTTP 401'
  stop_last_spawned
  # with the password from the secret file
  vpnws_tund_conf vwa "wss://$HUB_IP:8443/vpn" "CA = $PKI/ca.pem" "User = alice"
  install -m 600 "$PASSWORD_FILE" "$TUND_CONFIG_DIR/vwa.secret"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "wss://$HUB_IP:8443/vpn" --ca "$PKI/ca.pem" \
    --user alice --password-file "$PASSWORD_FILE"
  in_ns "$A_NS" tunctl wait vwa --state connected --timeout 15
  wait_connected "$BATS_TEST_TMPDIR/b.log"
  run pings "$A_NS" 198.19.20.2
  assert_success
  grep -q 'TLSv1.3 CN=hub.test' "$BATS_TEST_TMPDIR/a.log"
  # the password is nowhere in tund's output or argv
  # (run + assert_failure: a "! cmd" that is not the last line of a bats test checks nothing)
  run grep -q 's3cret' "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/nopass.log"
  assert_failure
  run grep -qa 's3cret' /proc/[0-9]*/cmdline
  assert_failure
}

@test "wss:// with a client certificate through nginx (ssl_verify_client); a wrong CA for the hub is refused" {
  vpnws_pki
  fake_hub_behind_nginx --client-ca "$PKI/ca.pem"
  # the system CAs do not know the test CA: the certificate check fails
  vpnws_tund_conf vwx "wss://$HUB_IP:8443/"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/x.log" vwx
  wait_line 15 "$BATS_TEST_TMPDIR/x.log" 'tls: .*the server certificate was refused' || { cat "$BATS_TEST_TMPDIR/x.log" >&3; false; }
  stop_last_spawned
  vpnws_tund_conf vwa "wss://$HUB_IP:8443/" "CA = $PKI/ca.pem" "Certificate = $PKI/client.pem" "PrivateKey = $PKI/client.key"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "wss://$HUB_IP:8443/" --ca "$PKI/ca.pem" \
    --cert "$PKI/client.pem" --key "$PKI/client.key"
  in_ns "$A_NS" tunctl wait vwa --state connected --timeout 15
  run pings "$B_NS" 198.19.20.1
  assert_success
}

@test "Proxy = http://...: through tinyproxy (HTTP CONNECT) to nginx's TLS port" {
  fake_hub_behind_nginx
  start_tinyproxy "$HUB_NS" "$BATS_TEST_TMPDIR/proxy" --listen "$HUB_IP" --port 8888 --allow 198.18.0.0/15 --connect-port 8443
  vpnws_tund_conf vwa "wss://$HUB_IP:8443/" "CA = $PKI/ca.pem" "Proxy = http://$HUB_IP:8888"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "wss://$HUB_IP:8443/" --ca "$PKI/ca.pem"
  in_ns "$A_NS" tunctl wait vwa --state connected --timeout 15
  run pings "$A_NS" 198.19.20.2
  assert_success
  grep -q "through $HUB_IP:8888" "$BATS_TEST_TMPDIR/a.log"
  grep -q "CONNECT.*$HUB_IP:8443" "$BATS_TEST_TMPDIR/proxy.log"
  # a port the proxy does not allow: refused by the proxy, said so
  second_tap_client "$B_NS" vwb "ws://$HUB_IP:8080/" "Proxy = http://$HUB_IP:8888"
  start_tund_ns "$B_NS" "$BATS_TEST_TMPDIR/refused.log" vwb
  wait_line 15 "$BATS_TEST_TMPDIR/refused.log" 'proxy: the proxy refused CONNECT .*403'
}

@test "keepalive: a WebSocket ping on connect, answered (status shows it); a hub restart is survived by reconnecting" {
  # a quiet TAP: without IPv6 the kernel sends no router solicitations (which it repeats with
  # back-off for ever) and no MLD reports
  in_ns "$A_NS" sysctl -qw net.ipv6.conf.vw0.disable_ipv6=1
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" --listen "$HUB_IP:8080"
  vpnws_tund_conf vwa "ws://$HUB_IP:8080/"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  in_ns "$A_NS" tunctl wait vwa --state connected --timeout 15
  wait_line 30 "$BATS_TEST_TMPDIR/hub.log" "^ping [0-9]+"
  # the hub answered (ws does): status shows when
  wait_for 10 bash -c "tunctl status vwa --json | jq -e '.sessions[0].keepalive.last_echo != null'"
  # the hub goes away (its process is killed) and comes back: tund reconnects by itself
  local hub_pid
  hub_pid=$(head -n 1 "$TEST_PIDS_LIST")
  kill "$hub_pid"
  wait_for 10 bash -c "! kill -0 $hub_pid"
  wait_for 15 bash -c "tunctl status vwa --json 2>/dev/null | jq -e '.state != \"connected\"'" || true
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub2.log" --listen "$HUB_IP:8080"
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "ws://$HUB_IP:8080/"
  wait_line 30 "$BATS_TEST_TMPDIR/hub2.log" 'mac=02:00:5e:20:00:0a'
  run pings "$B_NS" 198.19.20.1
  assert_success
}

# silent_path NS on|off: the namespace drops (or stops dropping) every TCP segment to the hub's
# port 8080, without a RST: a firewall that goes silent
silent_path() {
  if [[ $2 == on ]]; then
    in_ns "$1" nft add table inet silent
    in_ns "$1" nft add chain inet silent input '{ type filter hook input priority 0; }'
    in_ns "$1" nft add rule inet silent input tcp dport 8080 drop
  else
    in_ns "$1" nft delete table inet silent
  fi
}

# ended_within SECONDS LOG N: the log says "session ended" the N-th time within SECONDS
ended_within() {
  wait_for "$1" bash -c "(( \$(grep -c 'session ended' '$2') >= $3 ))" || { cat "$2" >&3; return 1; }
}

@test "keepalive: while traffic flows one way, a silent hub is noticed within INTERVAL x COUNT (path dropped, hub stopped, a hub that never pongs)" {
  local log=$BATS_TEST_TMPDIR/a.log hub_pid
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" --listen "$HUB_IP:8080"
  hub_pid=$(tail -n 1 "$TEST_PIDS_LIST")
  # one-way traffic from before the first connection on: pings to a neighbour that never answers
  in_ns "$A_NS" ip neigh replace 198.19.20.99 lladdr 02:00:5e:20:00:99 dev vw0 nud permanent
  spawn_bg "$BATS_TEST_TMPDIR/ping.log" ip netns exec "$A_NS" timeout 90 ping -q -i 0.2 -W 1 198.19.20.99 >/dev/null
  vpnws_tund_conf vwa "ws://$HUB_IP:8080/" "Keepalive = 2:3"
  start_tund_ns "$A_NS" "$log" vwa
  in_ns "$A_NS" tunctl wait vwa --state connected --timeout 15
  # the hub learns that we ping right away, and the frames flow one way
  wait_line 10 "$BATS_TEST_TMPDIR/hub.log" '^ping [0-9]+'
  wait_for 10 bash -c "tunctl status vwa --json | jq -e '.sessions[0].tx_packets >= 5 and .sessions[0].keepalive.interval_s == 2 and .sessions[0].keepalive.count == 3'"
  # 1. the path drops everything silently: noticed within 2 x 3 s (and a check's slack)
  silent_path "$HUB_NS" on
  ended_within 9 "$log" 1
  grep -q 'hub silent for [0-9]* s although it answered pings before' "$log"
  silent_path "$HUB_NS" off
  wait_for 30 bash -c "(( \$(grep -c 'connected to ws://' '$log') >= 2 ))"
  # 2. the hub stops (SIGSTOP: its kernel still acknowledges, the hub answers nothing)
  kill -STOP "$hub_pid"
  ended_within 9 "$log" 2
  kill -CONT "$hub_pid"
  kill "$hub_pid"
  wait_for 10 bash -c "! kill -0 $hub_pid"
  # 3. a hub that never answers pings (as a real vpn-ws server): TCP_USER_TIMEOUT notices the
  # unacknowledged frames
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub2.log" --listen "$HUB_IP:8080" --no-pong
  wait_for 30 bash -c "(( \$(grep -c 'connected to ws://' '$log') >= 3 ))"
  wait_line 10 "$BATS_TEST_TMPDIR/hub2.log" '^ping [0-9]+'
  silent_path "$HUB_NS" on
  ended_within 12 "$log" 3
  tail -n 3 "$log" | grep -q 'session ended: .*time'
}

@test "Proxy with ProxyUser: Proxy-Authorization from a 0600 file; a proxy that needs it answers 407 without; the password is nowhere else" {
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" --listen "$HUB_IP:8080"
  printf 'carol pr0xy-s3cret\n' >"$BATS_TEST_TMPDIR/proxy-auth"
  start_tinyproxy "$HUB_NS" "$BATS_TEST_TMPDIR/proxy" --listen "$HUB_IP" --port 8888 --allow 198.18.0.0/15 --connect-port 8080 \
    --basic-auth-file "$BATS_TEST_TMPDIR/proxy-auth"
  # without credentials: 407, said so
  vpnws_tund_conf vwn "ws://$HUB_IP:8080/" "Proxy = http://$HUB_IP:8888"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/noauth.log" vwn
  wait_line 15 "$BATS_TEST_TMPDIR/noauth.log" 'proxy: the proxy refused CONNECT .*407'
  stop_last_spawned
  # a password file others may read is refused, naming the file
  printf 'pr0xy-s3cret\n' >"$BATS_TEST_TMPDIR/vwa.proxy"
  chmod 644 "$BATS_TEST_TMPDIR/vwa.proxy"
  vpnws_tund_conf vwa "ws://$HUB_IP:8080/" "Proxy = http://$HUB_IP:8888" "ProxyUser = carol" "ProxySecretFile = $BATS_TEST_TMPDIR/vwa.proxy"
  run in_ns "$A_NS" tund check vwa
  assert_failure 78
  assert_output --partial "vwa.proxy: secret file is readable by others"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/mode.log" vwa
  wait_line 15 "$BATS_TEST_TMPDIR/mode.log" "vwa.proxy.*expected 0600"
  # a config problem: tund ends by itself (78), it does not dial on without the password
  wait_for 10 bash -c "! kill -0 $(tail -n 1 "$TEST_PIDS_LIST")"
  chmod 600 "$BATS_TEST_TMPDIR/vwa.proxy"
  run in_ns "$A_NS" tund check vwa
  assert_success
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  in_ns "$A_NS" tunctl wait vwa --state connected --timeout 15
  grep -q "through $HUB_IP:8888" "$BATS_TEST_TMPDIR/a.log"
  wait_line 10 "$BATS_TEST_TMPDIR/hub.log" 'mac=02:00:5e:20:00:0a'
  run grep -q 'pr0xy-s3cret' "$BATS_TEST_TMPDIR"/a.log "$BATS_TEST_TMPDIR"/noauth.log "$BATS_TEST_TMPDIR"/mode.log
  assert_failure
  run grep -qa 'pr0xy-s3cret' /proc/[0-9]*/cmdline
  assert_failure
}
