#!/usr/bin/env bats
# tund's vpn-ws hub (Protocol = vpn-ws, Role = server): tund clients and independent ws-based
# clients (test/helpers/vpnws-fake-peer.mjs; Debian 12 packages no vpn-ws) pinging each other
# through it over ws:// and wss://, behind nginx, with the hub's own TAP in a Linux bridge, client
# certificates, and `tunctl status` listing the clients.
bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/vpnws

setup() { common_setup; vpnws_topology; }
teardown() { common_teardown; }


start_hub() { # start_hub NAME: `tund NAME` in the hub's namespace, waits until it listens
  start_tund_ns "$HUB_NS" "$BATS_TEST_TMPDIR/hub.log" "$1"
  in_ns "$HUB_NS" tunctl wait "$1" --state listening --timeout 15 || { cat "$BATS_TEST_TMPDIR/hub.log" >&3; return 1; }
}

# two_tund_clients ENDPOINT [LINE...]: tund clients vwa (in A) and vwb (in B), connected
two_tund_clients() {
  vpnws_tund_conf vwa "$@"
  vpnws_tund_conf vwb "$@"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  start_tund_ns "$B_NS" "$BATS_TEST_TMPDIR/b.log" vwb
  in_ns "$A_NS" tunctl wait vwa --timeout 15
  in_ns "$B_NS" tunctl wait vwb --timeout 15
}

hub_clients() { tunctl status "$1" --json | jq -c '.sessions[0].clients'; }

@test "ws:// hub: two tund clients ping each other (IPv4, IPv6); tunctl status lists both with MACs and counters" {
  vpnws_hub_conf hub "$HUB_IP:8080" "Path = /vpn"
  start_hub hub
  two_tund_clients "ws://$HUB_IP:8080/vpn"
  run pings_a_b
  assert_success
  local c
  c=$(hub_clients hub)
  assert_equal "$(jq length <<<"$c")" 2
  assert_equal "$(jq -r '[.[].macs[0]] | sort | join(" ")' <<<"$c")" "02:00:5e:20:00:0a 02:00:5e:20:00:0b"
  assert_equal "$(jq -r '[.[].bridge] | unique | join(" ")' <<<"$c")" false
  [[ $(jq '[.[].rx_packets] | min' <<<"$c") -ge 4 ]]
  run tunctl status hub
  assert_success
  assert_output --partial 'client: 198.18.20.'
  assert_output --partial 'mac: 02:00:5e:20:00:0a'
  # another path is refused (404) and said so in the hub's log
  second_tap_client "$B_NS" vwx "ws://$HUB_IP:8080/other"
  start_tund_ns "$B_NS" "$BATS_TEST_TMPDIR/x.log" vwx
  wait_line 15 "$BATS_TEST_TMPDIR/x.log" 'upgrade: HTTP 404'
  wait_line 5 "$BATS_TEST_TMPDIR/hub.log" 'refused \(HTTP 404'
}

@test "a reload of a hub: an unchanged file is fine; a changed one fails and says to restart, and the clients go on" {
  vpnws_hub_conf hub "$HUB_IP:8080" "Path = /vpn"
  start_hub hub
  two_tund_clients "ws://$HUB_IP:8080/vpn"
  run --separate-stderr tunctl reload hub
  assert_success
  grep -q '^hub: reloaded: configuration unchanged$' "$BATS_TEST_TMPDIR/hub.log"
  # a changed path would reach no connection while the hub runs: the reload fails (exit 1) and
  # the hub keeps serving with what it started with
  vpnws_hub_conf hub "$HUB_IP:8080" "Path = /elsewhere"
  run --separate-stderr tunctl reload hub
  assert_failure 1
  [[ $stderr == *'a vpn-ws hub serves every connection with the configuration it started with; restart the session'*'systemctl restart tund@hub'* ]]
  wait_line 5 "$BATS_TEST_TMPDIR/hub.log" '^hub: reload failed, keeping the old configuration: a vpn-ws hub serves every connection'
  run grep -c '^hub: reloaded: configuration changed' "$BATS_TEST_TMPDIR/hub.log"
  assert_output 0
  run pings_a_b
  assert_success
  in_ns "$HUB_NS" tunctl wait hub --state listening --timeout 5
}

@test "ten tund clients through one hub: each reaches the next over IPv4 (ARP) and the one before over IPv6 (ND), all at once" {
  local n=10 i
  vpnws_add_clients "$n"
  vpnws_hub_conf hub "$HUB_IP:8080"
  start_hub hub
  for ((i = 1; i <= n; i++)); do
    vpnws_tund_conf "vw$i" "ws://$HUB_IP:8080/"
    start_tund_ns "${CLIENT_NS[i - 1]}" "$BATS_TEST_TMPDIR/c$i.log" "vw$i"
  done
  # connected: from the logs (a tunctl per client costs a node start each on a loaded machine)
  for ((i = 1; i <= n; i++)); do wait_line 60 "$BATS_TEST_TMPDIR/c$i.log" 'connected to'; done
  # a ring, every client at the same time (bounded: pings gives up after 20 s)
  local runs=() run_pid failed=0
  for ((i = 1; i <= n; i++)); do
    pings "${CLIENT_NS[i - 1]}" "$(vpnws_client_ip $((i % n + 1)))" >"$BATS_TEST_TMPDIR/ping4-$i.log" 2>&1 &
    runs+=($!)
    pings "${CLIENT_NS[i - 1]}" "$(vpnws_client_ip6 $(((i + n - 2) % n + 1)))" >"$BATS_TEST_TMPDIR/ping6-$i.log" 2>&1 &
    runs+=($!)
  done
  for run_pid in "${runs[@]}"; do wait "$run_pid" || failed=$((failed + 1)); done
  ((failed == 0)) || { tail -n 3 "$BATS_TEST_TMPDIR"/ping*.log >&3; fail "$failed of ${#runs[@]} ping runs failed"; }
  # the hub knows every client by its own MAC, and every client sent and received
  local c
  c=$(hub_clients hub)
  assert_equal "$(jq '[.[].macs[0]] | unique | length' <<<"$c")" "$n"
  [[ $(jq '[.[].rx_packets] | min' <<<"$c") -ge 4 && $(jq '[.[].tx_packets] | min' <<<"$c") -ge 4 ]]
}

@test "a client that stops reading never blocks the others: its bounded queue drops and counts (tx_dropped), the others go on" {
  vpnws_add_clients 3
  local slow_ns=${CLIENT_NS[2]}
  # the stalled client's receive window stays small: the hub's queue for it fills soon
  in_ns "$slow_ns" sysctl -qw net.ipv4.tcp_rmem="4096 4096 4096"
  vpnws_hub_conf hub "$HUB_IP:8080"
  start_hub hub
  two_tund_clients "ws://$HUB_IP:8080/"
  spawn_bg "$BATS_TEST_TMPDIR/slow.log" ip netns exec "$slow_ns" timeout 120 \
    node "$HELPERS/vpnws-raw-peers.mjs" --url "ws://$HUB_IP:8080/" --mac 02:00:5e:20:00:99 --stall >/dev/null
  wait_line 15 "$BATS_TEST_TMPDIR/slow.log" '^upgraded 1'
  # A sends 4000 datagrams of 1200 bytes to the stalled client's MAC (far more than its queue of
  # 512 frames and the socket buffers hold)
  in_ns "$A_NS" ip neigh replace 198.19.20.99 lladdr 02:00:5e:20:00:99 dev vw0 nud permanent
  in_ns "$A_NS" timeout 30 node -e '
    const s = require("node:dgram").createSocket("udp4"), b = Buffer.alloc(1200);
    let n = 0;
    const burst = () => {
      for (let i = 0; i < 50 && n < 4000; i++, n++) s.send(b, 9, "198.19.20.99", () => {});
      if (n < 4000) setTimeout(burst, 1); else setTimeout(() => process.exit(0), 200);
    };
    burst();'
  wait_for 15 bash -c "tunctl status hub --json | jq -e '.sessions[0].clients[] | select(.macs[0] == \"02:00:5e:20:00:99\") | .tx_dropped > 0'"
  # with that queue full, A and B still reach each other (ARP and ND are flooded to the full
  # queue too, and dropped there)
  in_ns "$A_NS" ip neigh flush dev vw0
  run pings_a_b
  assert_success
  local c
  c=$(hub_clients hub)
  assert_equal "$(jq length <<<"$c")" 3 # the slow client stays connected
  assert_equal "$(jq '[.[] | select(.macs[0] != "02:00:5e:20:00:99") | .tx_dropped] | add' <<<"$c")" 0
  run tunctl status hub
  assert_output --regexp 'dropped 0 in, [1-9][0-9]* out'
}

@test "independent clients (ws package) through the tund hub: ARP/ND, anti-spoofing, a hub restart they survive" {
  vpnws_hub_conf hub "$HUB_IP:8080"
  start_hub hub
  start_fake_peer "$A_NS" "$BATS_TEST_TMPDIR/a.log" --tap vw0 --url "ws://$HUB_IP:8080/vpn" --reconnect
  start_fake_peer "$B_NS" "$BATS_TEST_TMPDIR/b.log" --tap vw0 --url "ws://$HUB_IP:8080/vpn" --reconnect
  wait_connected "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log"
  run pings_a_b
  assert_success
  # a source MAC the client does not own is dropped by the hub
  in_ns "$A_NS" ip link set dev vw0 address 02:00:5e:20:00:99
  in_ns "$A_NS" ip neigh flush dev vw0
  run in_ns "$A_NS" ping -c 2 -W 1 198.19.20.2
  assert_failure
  [[ $(hub_clients hub | jq '[.[].rx_dropped] | max') -ge 1 ]]
  in_ns "$A_NS" ip link set dev vw0 address 02:00:5e:20:00:0a
  # the hub goes and comes back: the clients reconnect by themselves
  local pid
  pid=$(sed -n 1p "$TEST_PIDS_LIST")
  kill "$pid"
  wait_for 10 bash -c "! kill -0 $pid"
  start_hub hub
  wait_for 20 bash -c "[[ \$(grep -c '^connected' $BATS_TEST_TMPDIR/a.log) -ge 2 && \$(grep -c '^connected' $BATS_TEST_TMPDIR/b.log) -ge 2 ]]"
  in_ns "$A_NS" ip neigh flush dev vw0
  run pings "$A_NS" 198.19.20.2
  assert_success
}

@test "wss:// hub with its own certificate and ClientCA: tund clients with certificates get in, one without is refused" {
  vpnws_pki
  vpnws_hub_conf hub "$HUB_IP:8443" "Certificate = $PKI/server.pem" "PrivateKey = $PKI/server.key" "ClientCA = $PKI/ca.pem"
  start_hub hub
  two_tund_clients "wss://$HUB_IP:8443/" "CA = $PKI/ca.pem" "Certificate = $PKI/client.pem" "PrivateKey = $PKI/client.key"
  run pings "$A_NS" 198.19.20.2
  assert_success
  assert_equal "$(hub_clients hub | jq -r '.[0].tls_subject')" "$(openssl x509 -in "$PKI/client.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  # no client certificate: the TLS handshake fails, the hub says why
  second_tap_client "$B_NS" vwx "wss://$HUB_IP:8443/" "CA = $PKI/ca.pem"
  start_tund_ns "$B_NS" "$BATS_TEST_TMPDIR/x.log" vwx
  wait_line 15 "$BATS_TEST_TMPDIR/hub.log" 'refused \(TLS handshake failed'
  ! in_ns "$B_NS" tunctl wait vwx --timeout 2
}

@test "plain hub behind nginx (TLS, Upgrade headers): tund clients over wss:// to nginx ping each other" {
  vpnws_pki
  vpnws_hub_conf hub "127.0.0.1:8080" "Path = /vpn"
  start_hub hub
  start_nginx "$HUB_NS" "$BATS_TEST_TMPDIR/nginx" --listen "$HUB_IP:8443" --upstream 127.0.0.1:8080 \
    --cert "$PKI/server.pem" --key "$PKI/server.key" --path /vpn
  two_tund_clients "wss://$HUB_IP:8443/vpn" "CA = $PKI/ca.pem"
  run pings_a_b
  assert_success
  # both came through nginx
  assert_equal "$(hub_clients hub | jq -r '[.[].remote | startswith("127.0.0.1:")] | all')" true
}

@test "the hub's own TAP in a Linux bridge (Bridge =): clients reach an address on the bridge" {
  ip -n "$HUB_NS" link add br0 type bridge
  ip -n "$HUB_NS" addr add 198.19.20.100/24 dev br0
  ip -n "$HUB_NS" link set br0 up
  vpnws_hub_conf hub "$HUB_IP:8080" -- "Mode = tap" "Name = hubtap" "MAC = 02:00:5e:20:00:fe" "Bridge = br0"
  start_hub hub
  assert_equal "$(ip -n "$HUB_NS" -j link show hubtap | jq -r '.[0].master')" br0
  vpnws_tund_conf vwa "ws://$HUB_IP:8080/"
  start_tund_ns "$A_NS" "$BATS_TEST_TMPDIR/a.log" vwa
  in_ns "$A_NS" tunctl wait vwa --timeout 15
  run pings "$A_NS" 198.19.20.100
  assert_success
  run pings "$HUB_NS" 198.19.20.1
  assert_success
}

@test "IPv6 underlay: two tund clients reach the hub at [2001:2:20::fe] and ping each other through it" {
  local hub6=2001:2:20::fe i
  ip -n "$HUB_NS" addr add "$hub6/128" dev lo
  for i in 1 2; do
    # the veth of client i (TAG<i>a on the hub's side, TAG<i>b in the client) gets 2001:2:20:<i>::/64
    ip -n "$HUB_NS" addr add "2001:2:20:$i::1/64" dev "${TEST_TAG}${i}a" nodad
    ip -n "${CLIENT_NS[i - 1]}" addr add "2001:2:20:$i::2/64" dev "${TEST_TAG}${i}b" nodad
    ip -n "${CLIENT_NS[i - 1]}" route add "$hub6/128" via "2001:2:20:$i::1"
  done
  vpnws_hub_conf hub "[$hub6]:8080"
  start_hub hub
  two_tund_clients "ws://[$hub6]:8080/"
  run pings_a_b
  assert_success
  run in_ns "$A_NS" ss -Htn state established "( dport = :8080 )"
  assert_output --partial "[$hub6]:8080"
}
