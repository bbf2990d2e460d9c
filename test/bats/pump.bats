#!/usr/bin/env bats
# The native VTun pump end to end, without the VTun handshake: two namespaces joined by a veth
# (198.18.61.1/30 - .2), a tun in each (opened by the addon, 198.19.61.1 <-> .2), a TCP connection
# or a connected UDP socket pair between them, one Pump per side (test/helpers/pump-pair.mjs).
# Each case pings across and moves 20 MB over TCP inside the tunnel (sha256 compared on both
# ends), for tcp|udp x compression x cipher; plus the EIO-while-down rule, CONN_CLOSE, nat_hack
# and a throughput figure (iperf3, printed, with a generous floor).

load ../helpers/common

UA=198.18.61.1 UB=198.18.61.2
TA=198.19.61.1 TB=198.19.61.2
PP_MB=${PP_MB:-20}

setup() {
  common_setup
  NS_A=$(make_netns a)
  NS_B=$(make_netns b)
  veth_pair "$NS_A" "$UA/30" "$NS_B" "$UB/30"
  DIR_A=$BATS_TEST_TMPDIR/a
  DIR_B=$BATS_TEST_TMPDIR/b
  mkdir -p "$DIR_A" "$DIR_B"
  TUN_A="${TEST_TAG}pa"
  TUN_B="${TEST_TAG}pb"
}

teardown() { common_teardown; }

# start_pair TRANSPORT COMPRESS CIPHER [extra args for A] -- [extra args for B]
# Starts both ends, waits until both are ready, configures the tuns (B stays down with
# PP_B_DOWN=1), then lets the pumps start.
start_pair() {
  local transport=$1 comp=$2 cipher=$3
  shift 3
  local a_extra=() b_extra=() side=a
  for x in "$@"; do
    if [[ $x == -- ]]; then side=b; continue; fi
    if [[ $side == a ]]; then a_extra+=("$x"); else b_extra+=("$x"); fi
  done
  local common=(--transport "$transport" --compress "$comp" --cipher "$cipher" --port 5061)
  PID_A=$(spawn_bg "$BATS_TEST_TMPDIR/a.log" ip netns exec "$NS_A" node "$PROJECT_ROOT/test/helpers/pump-pair.mjs" \
    --role listen --local "$UA" --peer "$UB" --tun "$TUN_A" --dir "$DIR_A" "${common[@]}" "${a_extra[@]}")
  PID_B=$(spawn_bg "$BATS_TEST_TMPDIR/b.log" ip netns exec "$NS_B" node "$PROJECT_ROOT/test/helpers/pump-pair.mjs" \
    --role connect --local "$UB" --peer "$UA" --tun "$TUN_B" --dir "$DIR_B" "${common[@]}" "${b_extra[@]}")
  wait_for 20 test -f "$DIR_A/ready" -a -f "$DIR_B/ready" || { cat "$BATS_TEST_TMPDIR"/[ab].log; return 1; }
  # the kernel has the tun devices
  [[ $(ip -n "$NS_A" -j -d link show dev "$TUN_A" | jq -r '.[0].linkinfo.info_data.type') == tun ]]
  [[ $(ip -n "$NS_B" -j -d link show dev "$TUN_B" | jq -r '.[0].linkinfo.info_data.type') == tun ]]
  ip -n "$NS_A" addr add "$TA" peer "$TB" dev "$TUN_A"
  ip -n "$NS_B" addr add "$TB" peer "$TA" dev "$TUN_B"
  ip -n "$NS_A" link set "$TUN_A" up
  [[ ${PP_B_DOWN:-0} == 1 ]] || ip -n "$NS_B" link set "$TUN_B" up
  touch "$DIR_A/go" "$DIR_B/go"
}

# stat_of DIR KEY -> the pump's counter from its stats file
stat_of() { jq -r ".$2" "$1/stats"; }

ping_across() { wait_for "${2:-15}" ip netns exec "$NS_B" ping -c 1 -W 1 "${1:-$TA}"; }

# transfer FROM_NS TO_NS TO_ADDR MB: random data over TCP through the tunnel, sha256 on both ends.
transfer() {
  local from=$1 to=$2 addr=$3 mb=$4 port=$((7100 + RANDOM % 800))
  local src=$BATS_TEST_TMPDIR/xfer.in sumfile=$BATS_TEST_TMPDIR/xfer.sum
  head -c "${mb}M" /dev/urandom >"$src"
  rm -f "$sumfile"
  ip netns exec "$to" timeout 120 socat -u "TCP-LISTEN:$port,bind=$addr,reuseaddr" "SYSTEM:sha256sum >$sumfile" &
  local lpid=$!
  wait_for 5 sh -c "ip netns exec $to ss -Hltn 'sport = :$port' | grep -q LISTEN" || { kill "$lpid"; return 1; }
  local t0=$EPOCHREALTIME
  if ! ip netns exec "$from" timeout 120 socat -u "OPEN:$src" "TCP:$addr:$port,connect-timeout=10"; then
    kill "$lpid" 2>/dev/null
    echo "transfer: sender failed" >&2
    return 1
  fi
  wait "$lpid" || { echo "transfer: receiver failed" >&2; return 1; }
  local t1=$EPOCHREALTIME
  local a b
  a=$(sha256sum <"$src" | cut -d' ' -f1)
  b=$(cut -d' ' -f1 <"$sumfile")
  echo "# ${mb} MB in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s" >&3
  [[ $a == "$b" ]] || { echo "transfer: checksum mismatch: sent $a, received $b" >&2; return 1; }
}

pump_case() {
  local transport=$1 comp=$2 cipher=$3
  start_pair "$transport" "$comp" "$cipher"
  run ping_across
  assert_success
  run transfer "$NS_B" "$NS_A" "$TA" "$PP_MB"
  assert_success
  run transfer "$NS_A" "$NS_B" "$TB" 2
  assert_success
  # the stats files (rewritten every 200 ms) have caught up with the transfers
  wait_for 10 sh -c "[ \$(jq -r .txBytes '$DIR_B/stats') -gt $((PP_MB * 1048576)) ] && [ \$(jq -r .rxBytes '$DIR_A/stats') -gt $((PP_MB * 1048576)) ]"
  # the pumps carried it (the kernel's counters on the tun agree with the pump's; a super-packet
  # the pump coalesced (docs/engine.md, "Offloads") counts once in the kernel, with one set of
  # headers for its segments: up to 1/20 fewer bytes for full-size TCP segments)
  local tx_b rx_a kernel_rx_a slack=0
  tx_b=$(stat_of "$DIR_B" txBytes)
  rx_a=$(stat_of "$DIR_A" rxBytes)
  kernel_rx_a=$(ip -n "$NS_A" -j -s link show dev "$TUN_A" | jq '.[0].stats64.rx.bytes')
  if (($(stat_of "$DIR_A" tunSuperWrites) > 0)); then slack=$((rx_a / 20)); fi
  ((tx_b > PP_MB * 1048576))
  ((rx_a > PP_MB * 1048576))
  ((kernel_rx_a >= rx_a - 100000 - slack && kernel_rx_a <= rx_a + 100000))
  assert_equal "$(stat_of "$DIR_A" event)" null
  assert_equal "$(stat_of "$DIR_B" event)" null
  (($(stat_of "$DIR_A" echoRepliesReceived) >= 1))
  (($(stat_of "$DIR_B" echoRepliesReceived) >= 1))
  [[ $transport == udp ]] || assert_equal "$(stat_of "$DIR_A" badFrames)" 0
}

for transport in tcp udp; do
  comps=(none lzo:1)
  [[ $transport == tcp ]] && comps+=(zlib:1)
  for comp in "${comps[@]}"; do
    for cipher in 0 10 999; do
      bats_test_function --description "pump $transport compress=$comp cipher=$cipher: ping + ${PP_MB} MB both ends" -- pump_case "$transport" "$comp" "$cipher"
    done
  done
done

@test "pump: packets for a tun that is not up yet are dropped (EIO), the session survives" {
  PP_B_DOWN=1 start_pair tcp none 0
  # A's side is up: pings from A go to B's down tun -> EIO there
  run ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 1 "$TB"
  assert_failure
  wait_for 10 sh -c "[ \$(jq -r .deviceDownDrops '$DIR_B/stats') -ge 3 ]"
  assert_equal "$(stat_of "$DIR_B" event)" null
  kill -0 "$PID_B"
  ip -n "$NS_B" link set "$TUN_B" up
  run ping_across
  assert_success
}

# conn_close_case TRANSPORT COMPRESS CIPHER
conn_close_case() {
  start_pair "$1" "$2" "$3"
  run ping_across
  assert_success
  # the lone path's compact form serves A once only B can send to it (over UDP: once its socket
  # has been emptied; a few pings): the CONN_CLOSE, a control frame, comes in there and goes the
  # general way (the round's Open; over TCP through the stream's buffer)
  run ip netns exec "$NS_B" ping -n -c 3 -i 0.2 -W 5 "$TA"
  assert_success
  wait_for 5 jq -e '.loneCompact == true' "$DIR_A/stats"
  kill -USR1 "$PID_B"
  wait_for 10 sh -c "jq -e '.event.reason == \"peer_closed\"' '$DIR_A/stats'" || {
    cat "$BATS_TEST_TMPDIR"/[ab].log "$DIR_A/stats" "$DIR_B/stats"
    false
  }
  # A answers with its own CONN_CLOSE as vtund does; B then sees it too (or EOF)
  wait_for 10 sh -c "jq -e '.event.reason == \"peer_closed\" or .event.reason == \"eof\"' '$DIR_B/stats'"
  wait_for 5 sh -c "! kill -0 $PID_A 2>/dev/null"
}

bats_test_function --description "pump: CONN_CLOSE from one side ends the other with peer_closed (tcp lzo:1 aes128cbc)" -- conn_close_case tcp lzo:1 10
bats_test_function --description "pump: CONN_CLOSE from one side ends the other with peer_closed (udp)" -- conn_close_case udp none 0

@test "pump: TCP EOF when the other side stops ends with eof" {
  start_pair tcp none 999
  run ping_across
  assert_success
  kill -TERM "$PID_B"
  wait_for 10 sh -c "jq -e '.event.reason == \"eof\"' '$DIR_A/stats'"
}

@test "pump: udp nat_hack side connects to the first datagram's source" {
  start_pair udp lzo:1 0 -- --nat-hack
  run ping_across
  assert_success
  # stats files are rewritten every 200 ms
  wait_for 5 jq -e '.echoRequestsReceived >= 1 and .rxPackets >= 1' "$DIR_B/stats" || { cat "$DIR_A/stats" "$DIR_B/stats"; false; }
  # B (nat_hack) sent no initial ECHO_REQ, so A never received one
  assert_equal "$(stat_of "$DIR_B" echoRequestsSent)" 0
  assert_equal "$(stat_of "$DIR_A" echoRequestsReceived)" 0
}

# iperf_case TRANSPORT COMPRESS CIPHER: one TCP stream through the tunnel for 5 s; prints Mbit/s.
iperf_case() {
  command -v iperf3 >/dev/null || skip "iperf3 not installed"
  start_pair "$1" "$2" "$3"
  run ping_across
  assert_success
  spawn_bg "$BATS_TEST_TMPDIR/iperf-s.log" ip netns exec "$NS_A" iperf3 -s -B "$TA" -1 >/dev/null
  wait_for 5 sh -c "ip netns exec $NS_A ss -Hltn 'sport = :5201' | grep -q LISTEN"
  run ip netns exec "$NS_B" timeout 30 iperf3 -c "$TA" -t 5 -J
  assert_success
  local bps
  bps=$(jq '.end.sum_received.bits_per_second' <<<"$output")
  echo "# pump $1 compress=$2 cipher=$3 throughput: $(jq -n "$bps / 1000000 | floor") Mbit/s" >&3
  # generous floor: others run tests on this 2-core machine at the same time
  (($(jq -n "$bps | floor") > 20000000))
  assert_equal "$(stat_of "$DIR_A" event)" null
}

bats_test_function --description "pump: throughput tcp (iperf3 through the tunnel, 5 s)" -- iperf_case tcp none 0
bats_test_function --description "pump: throughput udp (iperf3 through the tunnel, 5 s)" -- iperf_case udp none 0
bats_test_function --description "pump: throughput tcp lzo:1 aes128cbc (iperf3, 5 s)" -- iperf_case tcp lzo:1 10
bats_test_function --description "pump: throughput udp legacy blowfish (iperf3, 5 s)" -- iperf_case udp none 999

# The lone-packet path (docs/engine.md, "Latency"): at light load the single loop reads, seals and
# sends a ping's request and its reply without a round (loneTx, the reply right after the write
# that made it), and receives, opens and writes them so (loneRx; over TCP a frame that came in
# one read). Its compact form serves once only the peer can send (loneCompact). Nothing is timed.
# TUND_NO_LONE_PATH=1: every packet goes through the rounds; TUND_NO_COMPACT_LONE_PATH=1: the lone
# path's general form (LoneTx, LoneRx) serves.
# lone_case TRANSPORT CIPHER OFF
lone_case() {
  local transport=$1 cipher=$2 off=$3
  [[ $off == none ]] || export "$off=1"
  start_pair "$transport" none "$cipher"
  run ping_across
  assert_success
  local a0 b0
  a0=$(cat "$DIR_A/stats") b0=$(cat "$DIR_B/stats")
  run ip netns exec "$NS_B" ping -n -c 5 -i 0.2 -W 5 "$TA"
  assert_success
  # (the stats files are rewritten every 200 ms: wait until both show the five replies)
  wait_for 5 sh -c "[ \$(jq .rxPackets '$DIR_B/stats') -ge $(($(jq .rxPackets <<<"$b0") + 5)) ] && \
    [ \$(jq .txPackets '$DIR_A/stats') -ge $(($(jq .txPackets <<<"$a0") + 5)) ]"
  local d k
  for k in a b; do
    local x y
    if [[ $k == a ]]; then x=$a0 y=$(cat "$DIR_A/stats"); else x=$b0 y=$(cat "$DIR_B/stats"); fi
    d=$(jq -n -c --argjson x "$x" --argjson y "$y" '[$y.loneTx - $x.loneTx, $y.loneRx - $x.loneRx, $y.loneTx, $y.loneRx]')
    # (every counter's change, shown when the test fails)
    jq -n -c --argjson x "$x" --argjson y "$y" '$y | to_entries | map(select(.value | type == "number") | {(.key): (.value - $x[.key])}) | add'
    echo "# $transport cipher=$cipher $off: $k's [loneTx, loneRx, total loneTx, total loneRx] = $d" >&3
    # its compact form, once only the peer can send (over UDP: the connected socket was emptied)
    local compact=false
    [[ $off == none ]] && compact=true
    assert_equal "$(jq .loneCompact <<<"$y")" "$compact"
    if [[ $off == TUND_NO_LONE_PATH ]]; then
      assert_equal "$(jq -c '.[2:]' <<<"$d")" "[0,0]"
    else
      # B's requests went out without a round, and A's replies too (right after the write that
      # made them), each received so at the other end (over TCP: a frame that came in one read)
      (($(jq '.[0]' <<<"$d") >= 1 && $(jq '.[1]' <<<"$d") >= 1))
    fi
  done
  # and a bulk transfer after it (the lone path hands bursts to the rounds) arrives whole
  run transfer "$NS_B" "$NS_A" "$TA" 8
  assert_success
  assert_equal "$(stat_of "$DIR_A" event)" null
  assert_equal "$(stat_of "$DIR_B" event)" null
}

bats_test_function --description "pump: a lone ping's packets skip the rounds (udp)" -- lone_case udp 0 none
bats_test_function --description "pump: a lone ping's packets skip the rounds (udp, blowfish)" -- lone_case udp 999 none
bats_test_function --description "pump: a lone ping's packets skip the rounds (tcp)" -- lone_case tcp 0 none
bats_test_function --description "pump: a lone ping's packets skip the rounds without the compact form (udp)" -- lone_case udp 0 TUND_NO_COMPACT_LONE_PATH
bats_test_function --description "pump: a lone ping's packets skip the rounds without the compact form (tcp)" -- lone_case tcp 0 TUND_NO_COMPACT_LONE_PATH
bats_test_function --description "pump: every packet goes through the rounds with TUND_NO_LONE_PATH (udp)" -- lone_case udp 0 TUND_NO_LONE_PATH
