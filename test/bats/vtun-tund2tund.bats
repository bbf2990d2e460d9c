#!/usr/bin/env bats
# tund to tund: a server session listening itself (`tund NAME`, Role = server) and a client, for the
# same matrix as vtun-interop.bats (proto tcp|udp x type tun|ether x encrypt no|yes x compress
# no|lzo:1, zlib:1 over tcp, keepalive on) plus two newer ciphers. Each case pings through the
# tunnel and moves 20 MB over TCP inside it (sha256 compared), and checks the devices in the kernel.

load ../helpers/common
load ../helpers/vtun

setup() { common_setup; vtun_setup; }
teardown() { vtun_teardown; common_teardown; }

VT_MB=${VT_MB:-20}

# PROTO TYPE ENC COMP
t2t_case() {
  local proto=$1 type=$2 enc=$3 comp=$4 kind=tun
  [[ $type == ether ]] && kind=tap
  tund_conf "$SDIR" vts server "$proto" "$type" "$enc" "$comp"
  tund_conf "$CDIR" vtc client "$proto" "$type" no no
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  run ping_through "$NS_C" "$VT_TS" 20
  assert_success
  assert_equal "$(link_kind "$NS_S" vts)" "$kind"
  assert_equal "$(link_kind "$NS_C" vtc)" "$kind"
  has_addr "$NS_S" vts "$VT_TS"
  has_addr "$NS_C" vtc "$VT_TC"
  run transfer "$NS_C" "$NS_S" "$VT_TS" "$VT_MB"
  assert_success
  # the other direction too, smaller
  run transfer "$NS_S" "$NS_C" "$VT_TC" 2
  assert_success
}

for proto in tcp udp; do
  for type in tun ether; do
    for enc in no yes; do
      comps=(no lzo:1)
      [[ $proto == tcp ]] && comps+=(zlib:1)
      for comp in "${comps[@]}"; do
        bats_test_function --description "tund client -> tund server: $proto $type encrypt=$enc compress=$comp" -- t2t_case "$proto" "$type" "$enc" "$comp"
      done
    done
  done
done
bats_test_function --description "tund client -> tund server: udp tun encrypt=aes128cbc compress=lzo:1" -- t2t_case udp tun aes128cbc lzo:1
bats_test_function --description "tund client -> tund server: tcp ether encrypt=aes256ofb compress=zlib:9" -- t2t_case tcp ether aes256ofb zlib:9

@test "[Route] split: routes come up with the link, stay across a reconnect with Persist = keep, go on stop" {
  tund_conf "$SDIR" vts server tcp tun no no
  tund_conf "$CDIR" vtc client tcp tun no no "Persist = keep"
  printf '\n[Route]\nMode = split\nAllowedIPs = 198.19.100.0/24\nTable = off\n' >>"$CDIR/vtc.conf"
  local spid cpid
  spid=$(start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts)
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  cpid=$(start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc)
  ping_through "$NS_C" "$VT_TS" 20
  wait_for 10 sh -c "ip -n $NS_C -j route show 198.19.100.0/24 | jq -e '.[0].dev == \"vtc\"'"
  # the server goes away: with keep the route stays while the client reconnects
  kill -TERM "$(node_of "$spid")"
  wait_for 10 grep -q reconnecting "$BATS_TEST_TMPDIR/client.log"
  run sh -c "ip -n $NS_C -j route show 198.19.100.0/24 | jq -r '.[0].dev'"
  assert_output vtc
  kill -TERM "$(node_of "$cpid")"
  assert_equal "$(tund_rc "$BATS_TEST_TMPDIR/client.log")" 0
  run sh -c "ip -n $NS_C -j route show 198.19.100.0/24 | jq length"
  assert_output 0
}

@test "status: both ends publish state, flags, device and counters on their control socket" {
  tund_conf "$SDIR" vts server tcp tun no lzo:1
  tund_conf "$CDIR" vtc client tcp tun no no
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  ping_through "$NS_C" "$VT_TS" 20
  ip netns exec "$NS_C" ping -c 5 -i 0.2 -q "$VT_TS" >/dev/null
  run env TUND_RUN_DIR="$CRUN" TUND_CONFIG_DIR="$CDIR" tunctl status vtc --json
  assert_success
  echo "$output" | jq -e '.sessions[0] | .state == "connected" and .role == "client" and .flags == "<TuL1K>"
    and .device.kind == "tun" and .rx_packets >= 5 and .tx_packets >= 5 and .endpoint == "198.18.77.1:5000"'
  run env TUND_RUN_DIR="$SRUN" TUND_CONFIG_DIR="$SDIR" tunctl status vts --json
  assert_success
  echo "$output" | jq -e '.sessions[0] | .state == "connected" and .role == "server" and .flags == "<TuL1K>" and .rx_packets >= 5'
}

# Every routing table and rule of a namespace, sorted, for before/after comparisons.
route_snapshot() {
  local ns=$1
  {
    ip -n "$ns" -j -4 route show table all
    ip -n "$ns" -j -6 route show table all
    ip -n "$ns" -j -4 rule show
    ip -n "$ns" -j -6 rule show
  } | jq -S -s .
}

@test "[Route] full: a session killed with SIGKILL is cleaned up to the exact previous tables" {
  # the client's "previous gateway": a default route over the underlay
  ip -n "$NS_C" route add default via "$VT_SADDR"
  # the underlay's IPv6 link-local address settles first (DAD), or it would show up as a difference
  wait_for 10 sh -c "ip -n $NS_C -j -6 addr show dev ${TEST_TAG}b | jq -e '[.[0].addr_info[] | select(.scope == \"link\" and (.tentative | not))] | length > 0'"
  tund_conf "$SDIR" vts server udp tun no no
  tund_conf "$CDIR" vtc client udp tun no no
  printf '\n[Route]\nMode = full\nExclude = 198.19.150.0/24\n' >>"$CDIR/vtc.conf"
  local before spid cpid
  before=$(route_snapshot "$NS_C")
  spid=$(start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts)
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  cpid=$(start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc)
  ping_through "$NS_C" "$VT_TS" 20
  # full tunnel in force: ordinary destinations go into the tunnel, the endpoint and the excluded
  # prefix through the underlay, and the endpoint still answers a real ping over the underlay
  wait_for 10 sh -c "ip -n $NS_C -j route get 198.19.200.1 | jq -e '.[0].dev == \"vtc\"'"
  run sh -c "ip -n $NS_C -j route get $VT_SADDR | jq -r '.[0].dev'"
  assert_output "${TEST_TAG}b"
  run sh -c "ip -n $NS_C -j route get 198.19.150.1 | jq -r '.[0].dev'"
  assert_output "${TEST_TAG}b"
  ip netns exec "$NS_C" ping -c 2 -W 2 "$VT_SADDR" >/dev/null
  run sh -c "ip -n $NS_C -j rule show | jq '[.[] | select(.protocol == \"250\" or .protocol == \"tunroute\")] | length'"
  refute_output 0
  # a crash: no chance to clean up
  kill -KILL "$(node_of "$cpid")"
  wait_for 10 sh -c "! ip -n $NS_C link show vtc"
  refute [ "$(route_snapshot "$NS_C")" = "$before" ]   # the rules and the table outlived tund
  run env TUND_CONFIG_DIR="$CDIR" TUND_RUN_DIR="$CRUN" ip netns exec "$NS_C" tunroute cleanup vtc
  assert_success
  assert_equal "$(route_snapshot "$NS_C")" "$before"
  # idempotent
  run env TUND_CONFIG_DIR="$CDIR" TUND_RUN_DIR="$CRUN" ip netns exec "$NS_C" tunroute cleanup vtc
  assert_success
  assert_equal "$(route_snapshot "$NS_C")" "$before"
}
