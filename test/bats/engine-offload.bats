#!/usr/bin/env bats
# The packet engine's offloads (docs/engine.md, "Offloads") end to end, with every optimisation on
# and with each one switched off (TUND_NO_TUN_OFFLOAD, TUND_NO_TUN_GRO, TUND_NO_UDP_GSO,
# TUND_NO_UDP_GRO, TUND_NO_SOCKET_BUFFERS, TUND_NO_SEND_THREAD, TUND_NO_INLINE_SEND, TUND_NO_CUT_INLINE,
# TUND_NO_RX_SEND, TUND_NO_SINGLE_LOOP, TUND_NO_LONE_PATH, TUND_NO_COMPACT_LONE_PATH, TUND_NO_WG_LOOKUP_CACHE, TUND_NO_WG_CHECKSUM_TRUST, TUND_NO_WG_DIRECT_AEAD, TUND_NO_SIMD_CHECKSUM): a
# bounded TCP transfer with a checksum through
#   - tund to tund over VTun UDP and TCP (the real CLI, tun devices with IFF_VNET_HDR),
#   - tund to Debian's vtund (the wire format did not change),
#   - two WireGuard engines (test/helpers/wg-pair.mjs), whose counters show each offload at work
#     when it is on and idle when it is off.
# Namespaces per test; addresses from 198.18.0.0/15 only.

load ../helpers/common
load ../helpers/vtun
load ../helpers/wg-pair

setup() { common_setup; vtun_setup; }
teardown() { vtun_teardown; common_teardown; }

SWITCHES=(none TUND_NO_TUN_OFFLOAD TUND_NO_TUN_GRO TUND_NO_UDP_GSO TUND_NO_UDP_GRO TUND_NO_SOCKET_BUFFERS TUND_NO_SEND_THREAD
  TUND_NO_INLINE_SEND TUND_NO_CUT_INLINE TUND_NO_RX_SEND TUND_NO_SINGLE_LOOP TUND_NO_LONE_PATH TUND_NO_COMPACT_LONE_PATH)
# (switches of the WireGuard transform alone: its tests only; and the checksum loop's, once end to
# end here: the fuzz target offload_sum checks it byte by byte)
WG_SWITCHES=(TUND_NO_WG_LOOKUP_CACHE TUND_NO_WG_CHECKSUM_TRUST TUND_NO_WG_DIRECT_AEAD TUND_NO_SIMD_CHECKSUM)

# switch_off NAME: the optimisation NAME off for everything this test starts ("none": all on).
switch_off() { [[ $1 == none ]] || export "$1=1"; }

# thread_names NS: the names of the threads of every process in NS (tund-tx, tund-send, ...)
thread_names() {
  local p
  for p in $(ip netns pids "$1"); do cat /proc/"$p"/task/*/comm 2>/dev/null; done
}

# send_thread NS OFF: the engine in NS has its send thread unless OFF switched it off.
send_thread() {
  if [[ $2 == TUND_NO_SEND_THREAD ]]; then ! thread_names "$1" | grep -qx tund-send
  else thread_names "$1" | grep -qx tund-send; fi
}

# vnet_hdr NS DEV: the tun was opened with IFF_VNET_HDR (sysfs tun_flags, 0x4000).
vnet_hdr() {
  local flags
  flags=$(ip netns exec "$1" cat "/sys/class/net/$2/tun_flags") || return 1
  (( flags & 0x4000 ))
}

# t2t PROTO OFF: tund to tund over VTun, the optimisation OFF switched off.
t2t() {
  local proto=$1 off=$2
  switch_off "$off"
  tund_conf "$SDIR" vts server "$proto" tun no no
  tund_conf "$CDIR" vtc client "$proto" tun no no
  # ([Device] is the last section) an inner MTU whose datagrams fit the 1500-byte underlay
  echo "MTU = 1400" >>"$SDIR/vts.conf"
  echo "MTU = 1400" >>"$CDIR/vtc.conf"
  start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/server.log" vts >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/client.log" vtc >/dev/null
  run ping_through "$NS_C" "$VT_TS" 20
  assert_success
  if [[ $off == TUND_NO_TUN_OFFLOAD ]]; then
    ! vnet_hdr "$NS_S" vts && ! vnet_hdr "$NS_C" vtc
  else
    vnet_hdr "$NS_S" vts && vnet_hdr "$NS_C" vtc
  fi
  send_thread "$NS_S" "$off"
  send_thread "$NS_C" "$off"
  run transfer "$NS_C" "$NS_S" "$VT_TS" 20
  assert_success
  run transfer "$NS_S" "$NS_C" "$VT_TC" 5
  assert_success
}

for proto in udp tcp; do
  for off in "${SWITCHES[@]}"; do
    [[ $proto == tcp && $off == TUND_NO_UDP_* ]] && continue
    [[ $proto == tcp && $off == TUND_NO_SOCKET_BUFFERS ]] && continue
    bats_test_function --description "offloads: tund <-> tund, VTun $proto, switched off: $off" -- t2t "$proto" "$off"
  done
done

# vtund PROTO: tund (every offload on) as the client of Debian's vtund.
vtund_peer() {
  local proto=$1
  vtund_server --proto "$proto" --type tun --encrypt no --compress no --keepalive yes \
    --local-ip "$VT_TS/32" --remote-ip "$VT_TC"
  tund_conf "$CDIR" vtc client "$proto" tun no no
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
  run ping_through "$NS_C" "$VT_TS" 20
  assert_success
  vnet_hdr "$NS_C" vtc
  run transfer "$NS_C" "$NS_S" "$VT_TS" 20
  assert_success
  run transfer "$NS_S" "$NS_C" "$VT_TC" 5
  assert_success
}

bats_test_function --description "offloads: tund (all on) <-> vtund, VTun udp" -- vtund_peer udp
bats_test_function --description "offloads: tund (all on) <-> vtund, VTun tcp" -- vtund_peer tcp

# wg_pair_up N: two WireGuard engines (pair_up N) with tun MTUs of 1420, a ping through.
wg_pair_up() {
  pair_up "$1" 30 "198.18.$1.1"
  ip -n "$NS_A" link set "${TEST_TAG}wa" mtu 1420
  ip -n "$NS_B" link set "${TEST_TAG}wb" mtu 1420
  run ping_through "$NS_A" "198.19.$1.2"
  assert_success
}

# wg OFF: two WireGuard engines, OFF switched off; the counters of the offloads.
wg() {
  local off=$1
  switch_off "$off"
  wg_pair_up 68
  send_thread "$NS_A" "$off"
  run transfer "$NS_A" "$NS_B" 198.19.68.2 20
  assert_success
  run transfer "$NS_B" "$NS_A" 198.19.68.1 5
  assert_success
  # the stats files are rewritten every 200 ms: wait until they show the whole transfer
  wait_for 5 sh -c "[ \$(jq .rxBytes '$BATS_TEST_TMPDIR/b/stats') -gt $((20 * 1048576)) ]"
  assert_equal "$(stat a '.badMessages + .replayDrops + .authFailures')" 0
  assert_equal "$(stat b '.badMessages + .replayDrops + .authFailures')" 0
  assert_equal "$(stat a .event)" null
  local reads writes gso gro cut
  reads=$(stat a .tunSuperReads) writes=$(stat b .tunSuperWrites) gso=$(stat a .udpGsoSends) gro=$(stat b .udpGroReads)
  cut=$(stat a .cutInlineSends)
  echo "# $off: tunSuperReads=$reads tunSuperWrites=$writes udpGsoSends=$gso udpGroReads=$gro cutInlineSends=$cut" >&3
  if [[ $off == TUND_NO_TUN_OFFLOAD ]]; then assert_equal "$reads" 0; else ((reads > 0)); fi
  if [[ $off == TUND_NO_TUN_OFFLOAD || $off == TUND_NO_TUN_GRO ]]; then assert_equal "$writes" 0; else ((writes > 0)); fi
  if [[ $off == TUND_NO_UDP_GSO ]]; then assert_equal "$gso" 0; else ((gso > 0)); fi
  # a coalesced read needs the sender's GSO (the veth passes its super-datagrams on whole)
  if [[ $off == TUND_NO_UDP_GRO ]]; then assert_equal "$gro" 0; elif [[ $off != TUND_NO_UDP_GSO ]]; then ((gro > 0)); fi
  # rounds cut from super-packets go out on the tx thread while the send thread is idle (and only
  # those with a send thread are counted)
  case $off in
    TUND_NO_CUT_INLINE | TUND_NO_INLINE_SEND | TUND_NO_SEND_THREAD | TUND_NO_TUN_OFFLOAD) assert_equal "$cut" 0 ;;
    *) ((cut > 0)) ;;
  esac
}

for off in "${SWITCHES[@]}" "${WG_SWITCHES[@]}"; do
  [[ $off == TUND_NO_LONE_PATH || $off == TUND_NO_COMPACT_LONE_PATH ]] && continue  # (VTun's alone: WireGuard's packets take the rounds)
  bats_test_function --description "offloads: WireGuard engine <-> engine, switched off: $off" -- wg "$off"
done

# udp_gro OFF: UDP coalescing on tun writes (USO): bursts of 16 datagrams leave A's namespace in one
# UDP_SEGMENT send (test/helpers/udp-burst.py), cross the WireGuard engines in one round each, and
# B's engine writes each burst to its tun as USO super-packets; every datagram arrives whole and
# in its own right. With OFF (TUND_NO_TUN_UDP_GRO) switched off, nothing is coalesced.
udp_gro() {
  local off=$1 port=$((7000 + RANDOM % 1000)) result
  # USO on tun writes came with Linux 6.2
  [[ $(printf '%s\n' 6.2 "$(uname -r | cut -d. -f1,2)" | sort -V | head -1) == 6.2 ]] || skip "kernel before 6.2: no USO"
  switch_off "$off"
  wg_pair_up 70
  ip netns exec "$NS_B" timeout 70 python3 "$BATS_TEST_DIRNAME/../helpers/udp-burst.py" recv 198.19.70.2 "$port" 1024 20 \
    >"$BATS_TEST_TMPDIR/udp.json" 2>"$BATS_TEST_TMPDIR/udp.err" &
  local rpid=$!
  wait_for 5 sh -c "ip netns exec $NS_B ss -Hlun 'sport = :$port' | grep -q ."
  ip netns exec "$NS_A" timeout 60 python3 "$BATS_TEST_DIRNAME/../helpers/udp-burst.py" send 198.19.70.2 "$port" 64 1200
  wait "$rpid"
  result=$(cat "$BATS_TEST_TMPDIR/udp.json")
  wait_for 5 sh -c "[ \$(jq .rxPackets '$BATS_TEST_TMPDIR/b/stats') -ge $(jq .received <<<"$result") ]"
  local writes
  writes=$(stat b .tunSuperWrites)
  echo "# $off: $result tunSuperWrites=$writes" >&3
  assert_equal "$(jq '.received == .intact and .received >= 512' <<<"$result")" true
  assert_equal "$(stat b '.badMessages + .replayDrops + .authFailures')" 0
  if [[ $off == none ]]; then ((writes > 0)); else assert_equal "$writes" 0; fi
}

bats_test_function --description "offloads: UDP datagrams of one flow coalesce on the far tun (WireGuard engines)" -- udp_gro none
bats_test_function --description "offloads: UDP datagrams are not coalesced with TUND_NO_TUN_UDP_GRO" -- udp_gro TUND_NO_TUN_UDP_GRO

# The latency rule (docs/engine.md, "Latency"): nothing waits for a batch to fill. After the
# tunnel is up and quiet, one ping crosses it, and the counters show how: every round that moved
# a device packet moved exactly one (the echo request read, sealed and sent alone by A, written
# alone by B; the reply the same way back). A batch timer or a fill threshold would show here as
# a round of several packets or as no round at all; nothing is timed.
# With inline sends on, the echo request's tx round on A is sent by the tx thread itself
# (inlineSends), not handed to the send thread (a wake-up more per hop); TUND_NO_INLINE_SEND=1 hands
# such rounds on. The reply, which B's kernel makes while B's rx thread writes the request to the
# tun, is read and sent by that rx thread (rxThreadSends: no wake-up of B's tx thread);
# TUND_NO_RX_SEND=1 leaves it to whoever watches B's tun. At light load that is the rx thread too
# (the single loop): A's echo request is read and sent by A's rx thread (singleLoopRounds), and so is
# B's reply with TUND_NO_RX_SEND; TUND_NO_SINGLE_LOOP=1 leaves the tun to the tx threads.
# one_ping_in_rounds_of_one OFF: one ping, then the counters' deltas; fails when a round moved more
# than one packet (or none moved), or when the tx rounds were not sent by the thread OFF says
one_ping_in_rounds_of_one() {
  local off=$1 a0 b0 a1 b1 k d inl ok=0
  a0=$(cat "$BATS_TEST_TMPDIR/a/stats") b0=$(cat "$BATS_TEST_TMPDIR/b/stats")
  ip netns exec "$NS_A" ping -n -c 1 -W 10 198.19.69.2 >/dev/null || return 1
  # the stats files are rewritten every 200 ms: wait until both show the reply
  wait_for 5 sh -c "[ \$(jq .rxPackets '$BATS_TEST_TMPDIR/a/stats') -gt $(jq .rxPackets <<<"$a0") ]" || return 1
  wait_for 5 sh -c "[ \$(jq .txPackets '$BATS_TEST_TMPDIR/b/stats') -gt $(jq .txPackets <<<"$b0") ]" || return 1
  a1=$(cat "$BATS_TEST_TMPDIR/a/stats") b1=$(cat "$BATS_TEST_TMPDIR/b/stats")
  for k in a:tx b:rx b:tx a:rx; do
    if [[ ${k%%:*} == a ]]; then d=$(jq -n --argjson x "$a0" --argjson y "$a1" "[\$y.${k#*:}Packets - \$x.${k#*:}Packets, \$y.${k#*:}Batches - \$x.${k#*:}Batches]")
    else d=$(jq -n --argjson x "$b0" --argjson y "$b1" "[\$y.${k#*:}Packets - \$x.${k#*:}Packets, \$y.${k#*:}Batches - \$x.${k#*:}Batches]"); fi
    echo "# $k: [packets, batches] = $(jq -c . <<<"$d")" >&3
    # at least the ping's packet, and one round per packet
    (($(jq '.[0]' <<<"$d") >= 1)) && [[ $(jq '.[1]' <<<"$d") == "$(jq '.[0]' <<<"$d")" ]] || ok=1
  done
  local deltas='[$y.inlineSends - $x.inlineSends, $y.rxThreadSends - $x.rxThreadSends,
    $y.singleLoopRounds - $x.singleLoopRounds, $y.txBatches - $x.txBatches]'
  for k in a b; do
    if [[ $k == a ]]; then inl=$(jq -n --argjson x "$a0" --argjson y "$a1" "$deltas")
    else inl=$(jq -n --argjson x "$b0" --argjson y "$b1" "$deltas"); fi
    echo "# $k: [inlineSends, rxThreadSends, singleLoopRounds, txBatches] = $(jq -c . <<<"$inl")" >&3
    local inline rxsent single rounds
    read -r inline rxsent single rounds < <(jq -r '@sh' <<<"$inl")
    # every round went out on the thread that read it: none was handed on
    [[ $off == TUND_NO_INLINE_SEND ]] || ((inline + rxsent + single >= rounds)) || ok=1
    [[ $off != TUND_NO_INLINE_SEND ]] || ((inline == 0)) || ok=1
    # the reply went out on B's rx thread, unless switched off
    if [[ $off == TUND_NO_RX_SEND ]]; then ((rxsent == 0)) || ok=1
    elif [[ $k == b ]]; then ((rxsent >= 1)) || ok=1; fi
    # the request on A's rx thread (the single loop; B's reply too without the turnaround), unless
    # switched off
    if [[ $off == TUND_NO_SINGLE_LOOP ]]; then ((single == 0)) || ok=1
    elif [[ $k == a || $off == TUND_NO_RX_SEND ]]; then ((single >= 1)) || ok=1; fi
  done
  return $ok
}

# lone_packet OFF: the latency rule with every optimisation on, or with OFF switched off.
lone_packet() {
  switch_off "$1"
  pair_up 69 30 198.18.69.1
  run ping_through "$NS_A" 198.19.69.2
  assert_success
  # another packet of the kernel's own (IPv6 neighbour discovery, say) may share a round with the
  # ping by chance on a busy machine: three tries, one clean one is the proof
  local try
  for try in 1 2 3; do
    one_ping_in_rounds_of_one "$1" && return 0
  done
  fail "every try had a round of more than one packet (or none), or tx rounds not sent as the switch says"
}

bats_test_function --description "latency: a lone packet after idle crosses in rounds of one packet, the reply sent by the rx thread (WireGuard engines, offloads on)" -- lone_packet none
bats_test_function --description "latency: a lone packet after idle crosses in rounds of one packet, switched off: TUND_NO_INLINE_SEND" -- lone_packet TUND_NO_INLINE_SEND
bats_test_function --description "latency: a lone packet after idle crosses in rounds of one packet, switched off: TUND_NO_RX_SEND" -- lone_packet TUND_NO_RX_SEND
bats_test_function --description "latency: a lone packet after idle crosses in rounds of one packet, switched off: TUND_NO_SINGLE_LOOP" -- lone_packet TUND_NO_SINGLE_LOOP

# The single loop under load: a TCP transfer hands each tun to its tx thread (loopSwitches: A's
# super-packets, B's coalesced receive rounds), and once the tunnel is quiet again the next pings
# are read and sent by the rx threads (singleLoopRounds grows again, a switch back). With
# TUND_NO_SINGLE_LOOP=1 neither counter moves.
# single_loop_load OFF
single_loop_load() {
  local off=$1 a0 b0 tries
  switch_off "$off"
  pair_up 71 30 198.18.71.1
  run ping_through "$NS_A" 198.19.71.2
  assert_success
  a0=$(cat "$BATS_TEST_TMPDIR/a/stats") b0=$(cat "$BATS_TEST_TMPDIR/b/stats")
  run transfer "$NS_A" "$NS_B" 198.19.71.2 8
  assert_success
  wait_for 5 sh -c "[ \$(jq .rxBytes '$BATS_TEST_TMPDIR/b/stats') -gt $((8 * 1048576)) ]"
  # (each process rewrites its stats file every 200 ms, and the transfer takes less: A's file too
  # must show it before its counters are compared)
  wait_for 5 sh -c "[ \$(jq .txBytes '$BATS_TEST_TMPDIR/a/stats') -gt $(($(jq .txBytes <<<"$a0") + 8 * 1048576)) ]"
  local switched
  switched=$(jq -n --argjson x "$a0" --argjson y "$(cat "$BATS_TEST_TMPDIR/a/stats")" --argjson u "$b0" \
    --argjson v "$(cat "$BATS_TEST_TMPDIR/b/stats")" '[$y.loopSwitches - $x.loopSwitches, $v.loopSwitches - $u.loopSwitches]')
  echo "# $off: loopSwitches during the transfer [a, b] = $(jq -c . <<<"$switched")" >&3
  if [[ $off == TUND_NO_SINGLE_LOOP ]]; then
    assert_equal "$(jq -c . <<<"$switched")" "[0,0]"
  else
    (($(jq '.[0]' <<<"$switched") >= 1 && $(jq '.[1]' <<<"$switched") >= 1))
  fi
  # quiet again: a ping or two later, A's rx thread has the tun again (a switch back) and sends the
  # next request itself
  a0=$(cat "$BATS_TEST_TMPDIR/a/stats")
  for tries in 1 2 3 4 5; do
    ip netns exec "$NS_A" ping -n -c 2 -i 0.2 -W 5 198.19.71.2 >/dev/null
  done
  # (the stats files are rewritten every 200 ms: wait until A's shows the ten replies)
  wait_for 5 sh -c "[ \$(jq .rxPackets '$BATS_TEST_TMPDIR/a/stats') -ge $(($(jq .rxPackets <<<"$a0") + 10)) ]"
  local back
  back=$(jq -n --argjson x "$a0" --argjson y "$(cat "$BATS_TEST_TMPDIR/a/stats")" \
    '[$y.loopSwitches - $x.loopSwitches, $y.singleLoopRounds - $x.singleLoopRounds, $y.singleLoopRounds]')
  echo "# $off: after the transfer, A's [loopSwitches, singleLoopRounds, total singleLoopRounds] = $(jq -c . <<<"$back")" >&3
  if [[ $off == TUND_NO_SINGLE_LOOP ]]; then
    assert_equal "$(jq -c . <<<"$back")" "[0,0,0]"
  else
    (($(jq '.[0]' <<<"$back") >= 1 && $(jq '.[1]' <<<"$back") >= 1))
  fi
}

bats_test_function --description "latency: the single loop hands the tun to the tx thread under load and takes it back when quiet" -- single_loop_load none
bats_test_function --description "latency: no single loop with TUND_NO_SINGLE_LOOP" -- single_loop_load TUND_NO_SINGLE_LOOP
