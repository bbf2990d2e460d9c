#!/usr/bin/env bats
# The independent vpn-ws peers that tund's vpn-ws client and hub will be tested against, proven
# here on their own: the ws-based fake hub and fake clients with real TAP devices in separate
# namespaces (ARP, IPv4 and IPv6 neighbour discovery across the hub), nginx as TLS reverse proxy
# in front of the hub (with basic auth and client certificates), tinyproxy as HTTP CONNECT
# proxy, and a hub restart that the clients survive by reconnecting.
bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/vpnws

setup() { common_setup; vpnws_topology; }
teardown() { common_teardown; }


@test "fake hub and two fake clients: IPv4 and IPv6 between the TAPs, MACs learned from the header" {
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" --listen "$HUB_IP:8080" --path /vpn
  start_fake_peer "$A_NS" "$BATS_TEST_TMPDIR/a.log" --tap vw0 --url "ws://$HUB_IP:8080/vpn"
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "ws://$HUB_IP:8080/vpn"
  wait_connected "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log"
  grep -q 'mac=02:00:5e:20:00:0a bridge=false path=/vpn' "$BATS_TEST_TMPDIR/hub.log"
  grep -q 'mac=02:00:5e:20:00:0b bridge=false path=/vpn' "$BATS_TEST_TMPDIR/hub.log"
  run pings_a_b
  assert_success
  assert_equal "$(in_ns "$A_NS" ip -j neigh show 198.19.20.2 | jq -r '.[0].lladdr')" 02:00:5e:20:00:0b
  # a frame with a source MAC the client does not own is dropped by the hub (anti-spoofing)
  in_ns "$A_NS" ip link set dev vw0 address 02:00:5e:20:00:99
  in_ns "$A_NS" ip neigh flush dev vw0
  run in_ns "$A_NS" ping -c 1 -W 1 198.19.20.2
  assert_failure
  wait_line 10 "$BATS_TEST_TMPDIR/hub.log" '^drop [0-9]+ spoofed'
}

@test "through nginx: TLS reverse proxy with basic auth; refused without the password" {
  password_file
  fake_hub_behind_nginx --path /vpn --user alice --password-file "$PASSWORD_FILE"
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/nopass.log" --tap vw0 --url "wss://$HUB_IP:8443/vpn" --ca "$PKI/ca.pem"
  wait_line 15 "$BATS_TEST_TMPDIR/nopass.log" '^refused 401'
  wait_line 15 "$BATS_TEST_TMPDIR/nopass.log" '^done' # the TAP is free again
  start_fake_peer "$A_NS" "$BATS_TEST_TMPDIR/a.log" --tap vw0 --url "wss://$HUB_IP:8443/vpn" --ca "$PKI/ca.pem" \
    --user alice --password-file "$PASSWORD_FILE"
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "wss://$HUB_IP:8443/vpn" --ca "$PKI/ca.pem" \
    --user alice --password-file "$PASSWORD_FILE"
  wait_connected "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log"
  run pings "$A_NS" 198.19.20.2
  assert_success
  # nginx passed the credentials along, and refused (and logged) the client without them; an
  # upgraded connection is logged when it ends
  grep -q 'user=yes' "$BATS_TEST_TMPDIR/hub.log"
  grep -qE '"GET /vpn HTTP/1.1" 401' "$BATS_TEST_TMPDIR/nginx/access.log"
  # another path is not proxied
  in_ns "$B_NS" tunctl add vw1 --mode tap -q
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/path.log" --tap vw1 --url "wss://$HUB_IP:8443/other" --ca "$PKI/ca.pem"
  wait_line 15 "$BATS_TEST_TMPDIR/path.log" '^refused 404'
}

@test "through nginx with client certificates: the CA's client gets in, another CA's does not" {
  vpnws_pki
  fake_hub_behind_nginx --client-ca "$PKI/ca.pem"
  start_fake_peer "$A_NS" "$BATS_TEST_TMPDIR/a.log" --tap vw0 --url "wss://$HUB_IP:8443/" --ca "$PKI/ca.pem" \
    --cert "$PKI/client.pem" --key "$PKI/client.key"
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "wss://$HUB_IP:8443/" --ca "$PKI/ca.pem" \
    --cert "$PKI/other-client.pem" --key "$PKI/other-client.key"
  wait_connected "$BATS_TEST_TMPDIR/a.log"
  wait_line 15 "$BATS_TEST_TMPDIR/b.log" '^refused 400'
  grep -q 'client SSL certificate verify error' "$BATS_TEST_TMPDIR/nginx.log"
}

@test "through tinyproxy: HTTP CONNECT to nginx's TLS port; the proxy refuses other ports" {
  fake_hub_behind_nginx
  start_tinyproxy "$HUB_NS" "$BATS_TEST_TMPDIR/proxy" --listen "$HUB_IP" --port 8888 --allow 198.18.0.0/15 --connect-port 8443
  start_fake_peer "$A_NS" "$BATS_TEST_TMPDIR/a.log" --tap vw0 --url "wss://$HUB_IP:8443/" --ca "$PKI/ca.pem" \
    --proxy "http://$HUB_IP:8888"
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "ws://$HUB_IP:8080/" --proxy "http://$HUB_IP:8888"
  wait_connected "$BATS_TEST_TMPDIR/a.log"
  wait_line 15 "$BATS_TEST_TMPDIR/b.log" '^error proxy answered 403'
  grep -q "CONNECT.*$HUB_IP:8443" "$BATS_TEST_TMPDIR/proxy.log"
}

@test "a hub with its own TAP; clients reconnect by themselves after a hub restart" {
  in_ns "$HUB_NS" tunctl add hub0 --mode tap --mac 02:00:5e:20:00:01 -q
  in_ns "$HUB_NS" tunctl up hub0 --address 198.19.20.254/24 -q
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" --listen "$HUB_IP:8080" --tap hub0
  start_fake_peer "$A_NS" "$BATS_TEST_TMPDIR/a.log" --tap vw0 --url "ws://$HUB_IP:8080/" --reconnect
  wait_line 15 "$BATS_TEST_TMPDIR/a.log" '^connected'
  run pings "$A_NS" 198.19.20.254
  assert_success
  # restart the hub: kill it, start another on the same port
  kill -TERM "$(head -1 "$TEST_PIDS_LIST")"
  wait_line 15 "$BATS_TEST_TMPDIR/a.log" '^closed'
  start_fake_hub "$HUB_NS" "$BATS_TEST_TMPDIR/hub2.log" --listen "$HUB_IP:8080" --tap hub0
  wait_line 20 "$BATS_TEST_TMPDIR/hub2.log" '^client [0-9]+ mac=02:00:5e:20:00:0a'
  in_ns "$HUB_NS" ip neigh flush dev hub0
  run pings "$A_NS" 198.19.20.254
  assert_success
}
