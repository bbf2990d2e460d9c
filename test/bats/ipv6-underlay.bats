#!/usr/bin/env bats
# Every transport over an IPv6-only underlay: the veth between the namespaces carries addresses
# from 2001:2::/48 and no IPv4 address at all, the tunnels inside carry 198.19.77.0/24. Each case
# pings through the tunnel and moves a small file each way over TCP inside it (sha256 compared),
# and checks from the kernel's socket table that the underlay connection really is IPv6.
#   VTun over TCP and UDP: tund to tund (a session listening itself, and `tund serve`), tund
#   client to the real vtund server (vtund -6) and the real vtund client to a tund server.
#   WireGuard: two tund engines (test/helpers/wg-pair.mjs: keys installed, no handshake), and the
#   handshake of test/helpers/wg-peer.mjs with the real wireguard-go over IPv6.

load ../helpers/common
load ../helpers/vtun
load ../helpers/wireguard
load ../helpers/wg-pair # hex32, wg_end

# the server side's and the client side's underlay addresses (2001:2:0:77::/64)
V6_S=2001:2:0:77::1
V6_C=2001:2:0:77::2

setup() {
  common_setup
  NS_S=$(make_netns s)
  NS_C=$(make_netns c)
  V6_VS="${TEST_TAG}a" V6_VC="${TEST_TAG}b"
  ip link add "$V6_VS" type veth peer name "$V6_VC"
  ip link set "$V6_VS" netns "$NS_S"
  ip link set "$V6_VC" netns "$NS_C"
  # nodad: usable at once (no duplicate address detection to wait for)
  ip -n "$NS_S" addr add "$V6_S/64" dev "$V6_VS" nodad
  ip -n "$NS_C" addr add "$V6_C/64" dev "$V6_VC" nodad
  ip -n "$NS_S" link set "$V6_VS" up
  ip -n "$NS_C" link set "$V6_VC" up
  wait_for 10 ip netns exec "$NS_C" ping -6 -c 1 -W 1 "$V6_S"
  # the helpers of vtun.bash (tund_conf, vtund_server/client) take the server's address from here
  VT_SADDR=$V6_S
  vtun_dirs
}

teardown() {
  vtun_teardown
  common_teardown
}

# no IPv4 on the underlay: whatever crossed it was IPv6
underlay_is_v6_only() {
  assert_equal "$(ip -n "$NS_S" -j -4 addr show dev "$V6_VS" | jq '[.[].addr_info[]] | length')" 0
  assert_equal "$(ip -n "$NS_C" -j -4 addr show dev "$V6_VC" | jq '[.[].addr_info[]] | length')" 0
}

# v6_socket NS tcp|udp : the client namespace has a socket of that kind connected to the server's
# IPv6 address
v6_socket() {
  local ns=$1 proto=$2 flag=-t
  [[ $proto == udp ]] && flag=-u
  ip netns exec "$ns" ss -Hn "$flag" state established | grep -qF "[$V6_S]:"
}

# both directions through the tunnel: ping, then a small transfer each way with sha256
through_tunnel() {
  run ping_through "$NS_C" "$VT_TS" 20
  assert_success
  run ping_through "$NS_S" "$VT_TC" 10
  assert_success
  run transfer "$NS_C" "$NS_S" "$VT_TS" 2
  assert_success
  run transfer "$NS_S" "$NS_C" "$VT_TC" 1
  assert_success
}

listening_v6() { ip netns exec "$NS_S" ss -Hltn "sport = :5000" | grep -qF "[$V6_S]:5000"; }

# PROTO TYPE [LISTEN]: `tund NAME` server (on LISTEN, default [V6_S]:5000) and tund client
t2t_case() {
  local proto=$1 type=$2 listen=${3:-}
  tund_conf "$SDIR" vts server "$proto" "$type" aes128cbc lzo:1
  tund_conf "$CDIR" vtc client "$proto" "$type" no no
  grep -qF "Endpoint = [$V6_S]:5000" "$CDIR/vtc.conf"
  [[ -z $listen ]] || sed -i "s/^Listen = .*/Listen = $listen/" "$SDIR/vts.conf"
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  through_tunnel
  underlay_is_v6_only
  run v6_socket "$NS_C" "$proto"
  assert_success
}

# PROTO: two server sessions behind one `tund serve --listen [V6]:5000`, each with its own tunnel
serve_case() {
  local proto=$1
  tund_conf "$SDIR" vts server "$proto" tun no lzo:1
  tund_conf "$CDIR" vtc client "$proto" tun no no
  # a second session on 198.19.78.0/24 served by the same listener
  sed -e 's/198\.19\.77\./198.19.78./g' "$SDIR/vts.conf" | sed -e 's/^Host = .*/Host = vtsecond/' >"$SDIR/vts2.conf"
  sed -e 's/198\.19\.77\./198.19.78./g' "$CDIR/vtc.conf" | sed -e 's/^Host = .*/Host = vtsecond/' >"$CDIR/vtc2.conf"
  cp "$SDIR/vts.secret" "$SDIR/vts2.secret"
  cp "$CDIR/vtc.secret" "$CDIR/vtc2.secret"
  chmod 600 "$SDIR"/vts2.* "$CDIR"/vtc2.*
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/serve.log" serve --listen "[$V6_S]:5000" >/dev/null
  wait_for 10 listening_v6
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client2.log" vtc2 >/dev/null
  through_tunnel
  run ping_through "$NS_C" 198.19.78.1 20
  assert_success
  underlay_is_v6_only
  run v6_socket "$NS_C" "$proto"
  assert_success
  grep -q "serve: listening on \[\?$V6_S\]\?:5000" "$BATS_TEST_TMPDIR/serve.log"
}

# PROTO: tund client, the real vtund as the server (vtund -6)
t2v_case() {
  local proto=$1
  vtund_server --ipv6 --proto "$proto" --type tun --compress lzo:1 --local-ip "$VT_TS" --remote-ip "$VT_TC"
  tund_conf "$CDIR" vtc client "$proto" tun no no
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  through_tunnel
  underlay_is_v6_only
  run v6_socket "$NS_C" "$proto"
  assert_success
}

# PROTO: the real vtund client (vtund -6), tund as the server
v2t_case() {
  local proto=$1
  tund_conf "$SDIR" vts server "$proto" tun no lzo:1
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts >/dev/null
  wait_for 10 listening_v6
  vtund_client --ipv6 --type tun --local-ip "$VT_TC" --remote-ip "$VT_TS"
  through_tunnel
  underlay_is_v6_only
  run v6_socket "$NS_C" "$proto"
  assert_success
}

for proto in tcp udp; do
  bats_test_function --description "IPv6 underlay: tund client -> tund server, VTun over $proto" -- t2t_case "$proto" tun
  bats_test_function --description "IPv6 underlay: tund client -> tund server on [::]:5000, VTun over $proto, ether" -- t2t_case "$proto" ether "[::]:5000"
  bats_test_function --description "IPv6 underlay: two tund clients -> tund serve, VTun over $proto" -- serve_case "$proto"
  bats_test_function --description "IPv6 underlay: tund client -> vtund -6 server, VTun over $proto" -- t2v_case "$proto"
  bats_test_function --description "IPv6 underlay: vtund -6 client -> tund server, VTun over $proto" -- v2t_case "$proto"
done

# wg_peer_json ID ENDPOINT_ADDR PORT ALLOWED SEND RECV LOCAL_INDEX REMOTE_INDEX INITIATOR
wg_peer_json() {
  jq -nc --argjson id "$1" --arg a "$2" --argjson p "$3" --arg ip "$4" --arg s "$5" --arg r "$6" \
    --argjson l "$7" --argjson m "$8" --argjson i "$9" \
    '{peers: [{id: $id, endpoint: {address: $a, port: $p}, allowedIps: [$ip],
      keypair: {sendKey: $s, recvKey: $r, localIndex: $l, remoteIndex: $m, initiator: $i}}]}'
}

@test "IPv6 underlay: two tund WireGuard engines, ping both ways and a transfer each way" {
  local k1 k2
  k1=$(hex32) k2=$(hex32)
  wg_end a "$NS_C" "$V6_C" 51820 "$(wg_peer_json 9 "$V6_S" 51821 198.19.77.1/32 "$k1" "$k2" 101 202 true)"
  wg_end b "$NS_S" "$V6_S" 51821 "$(wg_peer_json 7 "$V6_C" 51820 198.19.77.2/32 "$k2" "$k1" 202 101 false)"
  ip -n "$NS_C" addr add "$VT_TC/24" dev "${TEST_TAG}wa"
  ip -n "$NS_S" addr add "$VT_TS/24" dev "${TEST_TAG}wb"
  ip -n "$NS_C" link set "${TEST_TAG}wa" up
  ip -n "$NS_S" link set "${TEST_TAG}wb" up
  touch "$BATS_TEST_TMPDIR/a/go" "$BATS_TEST_TMPDIR/b/go"
  through_tunnel
  underlay_is_v6_only
  wait_for 5 sh -c "jq -e '.peers[\"7\"].endpoint.address == \"$V6_C\"' $BATS_TEST_TMPDIR/b/stats"
  assert_equal "$(jq -r '.badMessages + .replayDrops + .authFailures' "$BATS_TEST_TMPDIR/b/stats")" 0
}

@test "IPv6 underlay: WireGuard handshake with wireguard-go, the echo through its device answers" {
  local holder key gkey
  holder=$(wg_private_run "$NS_S")
  key=$(wg_key_file tund-side)
  gkey=$(wg_key_file wg-go)
  wg_go_start "$holder" wgt0
  wg_in "$holder" wg set wgt0 private-key "$gkey" listen-port 51820 peer "$(wg_pub "$key")" allowed-ips "$VT_TC/32"
  wg_in "$holder" ip addr add "$VT_TS/24" dev wgt0
  wg_in "$holder" ip link set wgt0 up
  run ip netns exec "$NS_C" node "$PROJECT_ROOT/test/helpers/wg-peer.mjs" initiate --key "$key" --peer "$(wg_pub "$gkey")" \
    --endpoint "[$V6_S]:51820" --bind "[$V6_C]:40001" --src "$VT_TC" --dst "$VT_TS" --timeout 15
  echo "$output"
  assert_success
  assert_equal "$(jq -c 'select(.event == "echo_reply") | .src' <<<"$output" | tr -d '"')" "$VT_TS"
  assert_equal "$(wg_in "$holder" wg show wgt0 endpoints | awk -F'\t' '{print $2}')" "[$V6_C]:40001"
  underlay_is_v6_only
}
