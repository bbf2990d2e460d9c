#!/usr/bin/env bats
# tund against the real Debian vtund 3.0.4 (test/helpers/vtund-peer.sh), both roles:
#   tund client -> vtund server, vtund client -> tund serve,
# for proto tcp|udp x type tun|ether x encrypt no|yes (Blowfish-128-ECB, vtund with the OpenSSL
# legacy provider) x compress no|lzo:1 (and zlib:1 over tcp), keepalive on. Each case pings
# through the tunnel, then sends 20 MB over TCP inside it and compares sha256 on both ends, and
# checks with the kernel that tund's device has the right kind and address.

load ../helpers/common
load ../helpers/vtun

setup() { common_setup; vtun_setup; }
teardown() { vtun_teardown; common_teardown; }

VT_MB=${VT_MB:-20}

# ROLE PROTO TYPE ENC COMP
interop_case() {
  local role=$1 proto=$2 type=$3 enc=$4 comp=$5 legacy=() dev
  [[ $enc == yes ]] && legacy=(--openssl-legacy)
  local vtip=$VT_TS/32
  if [[ $role == client ]]; then
    # the server decides everything: tund's own settings are deliberately different
    local my_proto=udp my_type=tun
    [[ $proto == udp ]] && my_proto=tcp
    [[ $type == tun ]] && my_type=ether
    [[ $type == ether ]] && vtip=$VT_TS/24
    vtund_server --proto "$proto" --type "$type" --encrypt "$enc" --compress "$comp" --keepalive yes \
      --local-ip "$vtip" --remote-ip "$VT_TC" "${legacy[@]}"
    tund_conf "$CDIR" vtc client "$my_proto" "$my_type" no no
    # a Transport in a client's file is a requirement on the server (issue 13): leave it out, so
    # the server's choice is what the client takes
    sed -i '/^Transport = /d' "$CDIR/vtc.conf"
    # tund's Mode must match what the server sends for the addresses to make sense: rewrite it
    sed -i "s/^Mode = .*/Mode = $([[ $type == ether ]] && echo tap || echo tun)/" "$CDIR/vtc.conf"
    if [[ $type == ether ]]; then sed -i -e '/^Peer = /d' -e "s|^Address = .*|Address = $VT_TC/24|" "$CDIR/vtc.conf"; fi
    start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
    dev=vtc
    run ping_through "$NS_C" "$VT_TS" 20
    assert_success
    assert_equal "$(link_kind "$NS_C" vtc)" "$([[ $type == ether ]] && echo tap || echo tun)"
    has_addr "$NS_C" vtc "$VT_TC"
    grep -q "flags <$([[ $proto == udp ]] && echo U || echo T)$([[ $type == ether ]] && echo e || echo u)" "$BATS_TEST_TMPDIR/tund.log"
    run transfer "$NS_C" "$NS_S" "$VT_TS" "$VT_MB"
    assert_success
  else
    tund_conf "$SDIR" vts server "$proto" "$type" "$enc" "$comp"
    start_tund "$NS_S" "$SDIR" "$SRUN" "$BATS_TEST_TMPDIR/tund.log" serve --listen "$VT_SADDR:5000" --timeout 5 >/dev/null
    wait_for 10 sh -c "ip netns exec $NS_S ss -Hltn 'sport = :5000' | grep -q LISTEN"
    vtip=$VT_TC
    [[ $type == ether ]] && vtip=$VT_TC/24
    vtund_client --type "$type" --local-ip "$vtip" --remote-ip "$VT_TS" "${legacy[@]}"
    run ping_through "$NS_S" "$VT_TC" 20
    assert_success
    assert_equal "$(link_kind "$NS_S" vts)" "$([[ $type == ether ]] && echo tap || echo tun)"
    has_addr "$NS_S" vts "$VT_TS"
    run transfer "$NS_S" "$NS_C" "$VT_TC" "$VT_MB"
    assert_success
  fi
}

for role in client server; do
  for proto in tcp udp; do
    for type in tun ether; do
      for enc in no yes; do
        comps=(no lzo:1)
        [[ $proto == tcp ]] && comps+=(zlib:1)
        for comp in "${comps[@]}"; do
          if [[ $role == client ]]; then d="tund client -> vtund server"; else d="vtund client -> tund serve"; fi
          bats_test_function --description "$d: $proto $type encrypt=$enc compress=$comp" -- interop_case "$role" "$proto" "$type" "$enc" "$comp"
        done
      done
    done
  done
done

@test "nat_hack: vtund server with nat_hack server waits for tund's first datagram (udp)" {
  vtund_server --proto udp --type tun --encrypt no --compress no --keepalive yes \
    --local-ip "$VT_TS/32" --remote-ip "$VT_TC" --extra-session 'nat_hack server;'
  tund_conf "$CDIR" vtc client udp tun no no
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
  run ping_through "$NS_C" "$VT_TS" 20
  assert_success
}

@test "nat_hack: tund client with NatHack = yes connects its UDP socket to vtund's first datagram" {
  vtund_server --proto udp --type tun --encrypt no --compress no --keepalive yes \
    --local-ip "$VT_TS/32" --remote-ip "$VT_TC"
  tund_conf "$CDIR" vtc client udp tun no no "NatHack = yes"
  start_tund "$NS_C" "$CDIR" "$CRUN" "$BATS_TEST_TMPDIR/tund.log" vtc >/dev/null
  run ping_through "$NS_C" "$VT_TS" 20
  assert_success
  # tund's UDP socket ended up connected to vtund's port 5000
  run ip netns exec "$NS_C" ss -Hun state established "dport = :5000"
  assert_output --partial "$VT_SADDR:5000"
}
