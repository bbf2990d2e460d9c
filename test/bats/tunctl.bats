#!/usr/bin/env bats
# tunctl end to end: every verb, each test in its own network namespace, checked against what the
# kernel reports (`ip -j -d link` info_data, `ip -j addr`), not only against tunctl's own output.
bats_require_minimum_version 1.5.0

load ../helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

# info NS DEV KEY -> linkinfo.info_data.KEY as ip reports it
info() { link_json "$1" "$2" | jq -c ".linkinfo.info_data.$3"; }

# links NS -> the interface names of the namespace, sorted, one per line
links() { ip -n "$1" -j link show | jq -r '.[].ifname' | sort; }

# addrs NS DEV -> "local/prefixlen" (or "local peer/prefixlen") per line, sorted
addrs() {
  ip -n "$1" -j addr show dev "$2" |
    jq -r '.[0].addr_info[] | select(.family == "inet" or (.family == "inet6" and .scope == "global")) |
      if .address and .address != .local then "\(.local) peer \(.address)/\(.prefixlen)" else "\(.local)/\(.prefixlen)" end' | sort
}

@test "add: creates a persistent TUN device with no packet info that stays after tunctl exits" {
  ns=$(make_netns a)
  run --separate-stderr in_ns "$ns" tunctl add tn0 --mode tun
  assert_success
  assert_output ''
  assert_equal "$(link_json "$ns" tn0 | jq -r .linkinfo.info_kind)" tun
  assert_equal "$(info "$ns" tn0 type)" '"tun"'
  assert_equal "$(info "$ns" tn0 pi)" false
  assert_equal "$(info "$ns" tn0 multi_queue)" false
  assert_equal "$(info "$ns" tn0 persist)" true
  # no tunctl process is left in the namespace: the device lives on by itself
  assert_equal "$(ip netns pids "$ns" | wc -l)" 0
  assert_equal "$(link_json "$ns" tn0 | jq -r .ifname)" tn0
  # the change was echoed, ioctl by ioctl
  [[ $stderr == *"[#] TUNSETIFF tn0 tun no_pi"* ]]
  [[ $stderr == *"[#] TUNSETPERSIST tn0 1"* ]]
}

@test "add: TAP device with --multi-queue" {
  ns=$(make_netns a)
  run in_ns "$ns" tunctl add tp0 --mode tap --multi-queue -q
  assert_success
  assert_output ''
  assert_equal "$(info "$ns" tp0 type)" '"tap"'
  assert_equal "$(info "$ns" tp0 multi_queue)" true
  assert_equal "$(info "$ns" tp0 persist)" true
  assert_equal "$(info "$ns" tp0 pi)" false
  assert_equal "$(link_json "$ns" tp0 | jq -r .link_type)" ether
}

@test "add: --owner and --group by name and by number" {
  ns=$(make_netns a)
  run in_ns "$ns" tunctl add own0 --mode tun --owner nobody --group nogroup
  assert_success
  assert_equal "$(info "$ns" own0 user)" '"nobody"'
  assert_equal "$(info "$ns" own0 group)" '"nogroup"'
  run in_ns "$ns" tunctl add own1 --mode tap --owner 65534
  assert_success
  assert_equal "$(info "$ns" own1 user)" '"nobody"'
  assert_equal "$(info "$ns" own1 group)" null
  # the owner may open the device without any capability
  run in_ns "$ns" "$AS_ANY_USER" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
    node "$PROJECT_ROOT/test/helpers/tun-attach.mjs" own0
  assert_success
  assert_output --partial 'attached own0 tun'
}

@test "add: unknown owner is a usage error and nothing is created" {
  ns=$(make_netns a)
  run --separate-stderr in_ns "$ns" tunctl add own0 --mode tun --owner no-such-user-xyz
  assert_failure 2
  assert_output ''
  [[ $stderr == *'unknown user "no-such-user-xyz"'* ]]
  assert_equal "$(links "$ns")" lo
}

@test "add: an existing device is a clear error unless --exist-ok with the same kind" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add dup0 --mode tun -q
  ifindex=$(link_json "$ns" dup0 | jq .ifindex)
  run --separate-stderr in_ns "$ns" tunctl add dup0 --mode tun
  assert_failure 1
  assert_output ''
  [[ $stderr == *'"dup0" already exists'* ]]
  [[ $stderr == *'hint: '*'--exist-ok'* ]]
  run in_ns "$ns" tunctl add dup0 --mode tun --exist-ok
  assert_success
  run --separate-stderr in_ns "$ns" tunctl add dup0 --mode tap --exist-ok
  assert_failure 1
  [[ $stderr == *'exists as a tun device (expected a tap device)'* ]]
  run --separate-stderr in_ns "$ns" tunctl add dup0 --mode tun --multi-queue --exist-ok
  assert_failure 1
  [[ $stderr == *'(expected a tun device (multi-queue))'* ]]
  # still the same device, untouched
  assert_equal "$(link_json "$ns" dup0 | jq .ifindex)" "$ifindex"
  assert_equal "$(info "$ns" dup0 type)" '"tun"'
}

@test "add: a name taken by another kind of interface is refused" {
  ns=$(make_netns a)
  ip -n "$ns" link add dm0 type veth peer name dm1
  run --separate-stderr in_ns "$ns" tunctl add dm0 --mode tun --exist-ok
  assert_failure 1
  [[ $stderr == *'dm0'*'veth interface'* ]]
  assert_equal "$(link_json "$ns" dm0 | jq -r .linkinfo.info_kind)" veth
}

@test "del: removes the device; missing device fails clearly unless --missing-ok" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add gone0 --mode tap -q
  run --separate-stderr in_ns "$ns" tunctl del gone0
  assert_success
  [[ $stderr == *'[#] ip link del dev gone0'* ]]
  assert_equal "$(links "$ns")" lo
  run --separate-stderr in_ns "$ns" tunctl del gone0
  assert_failure 1
  assert_output ''
  [[ $stderr == *'gone0: cannot delete device: no such device'* ]]
  run in_ns "$ns" tunctl del gone0 --missing-ok
  assert_success
}

@test "del: refuses an interface that is not TUN/TAP" {
  ns=$(make_netns a)
  ip -n "$ns" link add dm0 type veth peer name dm1
  run --separate-stderr in_ns "$ns" tunctl del dm0
  assert_failure 1
  [[ $stderr == *'"dm0" is a veth interface, not a TUN/TAP device'* ]]
  assert_equal "$(link_json "$ns" dm0 | jq -r .ifname)" dm0
}

@test "up: addresses, peer and MTU are applied; running it twice is fine" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add up0 --mode tun -q
  run --separate-stderr in_ns "$ns" tunctl up up0 --address 198.18.0.1/24 --address 2001:2:0:18::1/64 --mtu 1400
  assert_success
  assert_output ''
  [[ $stderr == *'[#] ip link set dev up0 mtu 1400'* ]]
  [[ $stderr == *'[#] ip addr replace 198.18.0.1/24 dev up0'* ]]
  [[ $stderr == *'[#] ip link set dev up0 up'* ]]
  assert_equal "$(link_json "$ns" up0 | jq .mtu)" 1400
  assert_equal "$(link_json "$ns" up0 | jq '.flags | index("UP") != null')" true
  assert_equal "$(addrs "$ns" up0)" "$(printf '%s\n' 198.18.0.1/24 2001:2:0:18::1/64)"
  # again: same state, no duplicate, no error, nothing echoed with -q
  run --separate-stderr in_ns "$ns" tunctl up up0 --address 198.18.0.1/24 --address 2001:2:0:18::1/64 --mtu 1400 -q
  assert_success
  assert_equal "$stderr" ''
  assert_equal "$(addrs "$ns" up0)" "$(printf '%s\n' 198.18.0.1/24 2001:2:0:18::1/64)"
  # a point-to-point peer
  in_ns "$ns" tunctl add up1 --mode tun -q
  run in_ns "$ns" tunctl up up1 --address 198.18.1.1/30 --peer 198.18.1.2 -q
  assert_success
  assert_equal "$(addrs "$ns" up1)" '198.18.1.1 peer 198.18.1.2/30'
  run in_ns "$ns" tunctl up up1 --address 198.18.1.1/30 --peer 198.18.1.2 -q
  assert_success
  assert_equal "$(addrs "$ns" up1)" '198.18.1.1 peer 198.18.1.2/30'
}

@test "up: a missing device fails clearly and a non-TUN interface is refused" {
  ns=$(make_netns a)
  run --separate-stderr in_ns "$ns" tunctl up nope0 --address 198.18.0.1/24
  assert_failure 1
  [[ $stderr == *'nope0: cannot bring device up: no such device'* ]]
  ip -n "$ns" link add dm0 type veth peer name dm1
  run --separate-stderr in_ns "$ns" tunctl up dm0 --address 198.18.0.1/24
  assert_failure 1
  [[ $stderr == *'not a TUN/TAP device'* ]]
  assert_equal "$(ip -n "$ns" -j addr show dev dm0 | jq '.[0].addr_info | length')" 0
}

@test "down: the link goes down, addresses stay; twice is fine" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add dn0 --mode tun -q
  in_ns "$ns" tunctl up dn0 --address 198.18.2.1/24 -q
  assert_equal "$(link_json "$ns" dn0 | jq '.flags | index("UP") != null')" true
  run --separate-stderr in_ns "$ns" tunctl down dn0
  assert_success
  [[ $stderr == *'[#] ip link set dev dn0 down'* ]]
  assert_equal "$(link_json "$ns" dn0 | jq '.flags | index("UP") != null')" false
  assert_equal "$(addrs "$ns" dn0)" 198.18.2.1/24
  run in_ns "$ns" tunctl down dn0 -q
  assert_success
  run in_ns "$ns" tunctl down nope0
  assert_failure 1
}

@test "show --json agrees with ip -j" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add sj0 --mode tap --multi-queue --owner nobody --group nogroup -q
  in_ns "$ns" tunctl add sj1 --mode tun -q
  in_ns "$ns" tunctl up sj1 --address 198.18.3.1/30 --peer 198.18.3.2 --mtu 1280 -q
  ip -n "$ns" link add dm0 type veth peer name dm1
  run --separate-stderr in_ns "$ns" tunctl show --json
  assert_success
  doc=$output
  assert_equal "$(jq .format <<<"$doc")" 1
  assert_equal "$(jq -c '[.devices[].ifname]' <<<"$doc")" '["sj0","sj1"]'
  # every key, always, with fixed types
  assert_equal "$(jq -c '[.devices[] | keys] | unique | length' <<<"$doc")" 1
  for dev in sj0 sj1; do
    d=$(jq -c --arg n "$dev" '.devices[] | select(.ifname == $n)' <<<"$doc")
    k=$(link_json "$ns" "$dev")
    assert_equal "$(jq .ifindex <<<"$d")" "$(jq .ifindex <<<"$k")"
    assert_equal "$(jq .mtu <<<"$d")" "$(jq .mtu <<<"$k")"
    assert_equal "$(jq -r .kind <<<"$d")" "$(jq -r .linkinfo.info_data.type <<<"$k")"
    for key in pi vnet_hdr multi_queue persist user group; do
      assert_equal "$(jq -c ".$key" <<<"$d")" "$(jq -c ".linkinfo.info_data.$key" <<<"$k")"
    done
    assert_equal "$(jq '.up' <<<"$d")" "$(jq '.flags | index("UP") != null' <<<"$k")"
    assert_equal "$(jq -r '.operstate' <<<"$d")" "$(jq -r .operstate <<<"$k")"
  done
  assert_equal "$(jq -c '.devices[] | select(.ifname == "sj1") | .addresses' <<<"$doc")" \
    "$(ip -n "$ns" -j addr show dev sj1 | jq -c '[.[0].addr_info[] | select(.family == "inet") | {family, local, prefixlen, peer: .address, scope}]')"
  assert_equal "$(jq -c '.devices[] | select(.ifname == "sj0") | [.user, .group, .multi_queue, .kind]' <<<"$doc")" '["nobody","nogroup",true,"tap"]'
  assert_equal "$(jq -c '.devices[] | select(.ifname == "sj1") | .mtu' <<<"$doc")" 1280
  # one device by name
  run in_ns "$ns" tunctl show sj1 --json
  assert_success
  assert_equal "$(jq -c '[.devices[].ifname]' <<<"$output")" '["sj1"]'
  # counters are the kernel's: a ping out of the device, which no process has open, is dropped
  in_ns "$ns" ping -c 1 -W 1 198.18.3.2 >/dev/null 2>&1 || true
  d=$(in_ns "$ns" tunctl show sj1 --json | jq -c '.devices[0]')
  k=$(ip -n "$ns" -j -s link show dev sj1 | jq -c '.[0].stats64')
  assert_equal "$(jq .tx_packets <<<"$d")" "$(jq .tx.packets <<<"$k")"
  assert_equal "$(jq .rx_packets <<<"$d")" "$(jq .rx.packets <<<"$k")"
  (($(jq .tx_dropped <<<"$d") >= 1))
  (($(jq .tx.dropped <<<"$k") >= $(jq .tx_dropped <<<"$d")))
}

@test "show: human view, a header per device and indented key: value lines; missing device exits 1" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add hv0 --mode tun -q
  in_ns "$ns" tunctl up hv0 --address 198.18.4.1/24 --mtu 1300 -q
  run --separate-stderr in_ns "$ns" tunctl show hv0
  assert_success
  assert_line --index 0 'device: hv0'
  assert_line '  kind: tun'
  assert_line '  mtu: 1300'
  assert_line '  persistent: yes'
  assert_line '  addresses: 198.18.4.1/24'
  assert_line --regexp '^  state: up'
  assert_line --regexp '^  received: .*packets$'
  run --separate-stderr in_ns "$ns" tunctl show nope0
  assert_failure 1
  assert_output ''
  [[ $stderr == *'nope0: no such TUN/TAP device'* ]]
}

@test "add --mac: a TAP device with that Ethernet address, set before it is made persistent" {
  ns=$(make_netns a)
  run --separate-stderr in_ns "$ns" tunctl add lp0 --mode tap --mac 02:00:5E:10:00:01
  assert_success
  assert_equal "$(link_json "$ns" lp0 | jq -r .address)" 02:00:5e:10:00:01
  assert_equal "$(info "$ns" lp0 persist)" true
  # the order of the echo is the order of the calls: the address before TUNSETPERSIST
  assert_equal "$stderr" "$(printf '%s\n' '[#] TUNSETIFF lp0 tap no_pi' "[#] ip link set dev lp0 address '02:00:5e:10:00:01'" '[#] TUNSETPERSIST lp0 1')"
  # --exist-ok: the same address is fine, another is refused and nothing changes
  run in_ns "$ns" tunctl add lp0 --mode tap --mac 02:00:5e:10:00:01 --exist-ok -q
  assert_success
  run --separate-stderr in_ns "$ns" tunctl add lp0 --mode tap --mac 02:00:5e:10:00:02 --exist-ok
  assert_failure 1
  [[ $stderr == *'lp0: device exists with Ethernet address "02:00:5e:10:00:01" (expected "02:00:5e:10:00:02")'* ]]
  assert_equal "$(link_json "$ns" lp0 | jq -r .address)" 02:00:5e:10:00:01
}

@test "add --mac: multicast, zero or malformed addresses and TUN devices are usage errors; nothing is created" {
  ns=$(make_netns a)
  for mac in 01:00:5e:00:00:01 00:00:00:00:00:00 02:00:5e:10:00 zz:00:5e:10:00:01; do
    run --separate-stderr in_ns "$ns" tunctl add lp0 --mode tap --mac "$mac"
    assert_failure 2
    [[ $stderr == *"--mac"*"\"$mac\""* ]] || { echo "$mac: $stderr"; false; }
  done
  run --separate-stderr in_ns "$ns" tunctl add tn0 --mode tun --mac 02:00:5e:10:00:01
  assert_failure 2
  [[ $stderr == *'tn0: --mac needs a TAP device (a TUN device has no Ethernet address)'* ]]
  assert_equal "$(links "$ns")" lo
}

@test "up --bridge: the TAP becomes a port of a real bridge and frames cross it both ways; --nobridge takes it out" {
  ns=$(make_netns a)
  ip -n "$ns" link add br0 type bridge
  ip -n "$ns" addr add 198.18.5.1/24 dev br0
  ip -n "$ns" link set br0 up
  in_ns "$ns" tunctl add lp0 --mode tap --mac 02:00:5e:10:00:01 -q
  # a host behind the TAP, with its own MAC and 198.18.5.2
  spawn_bg "$BATS_TEST_TMPDIR/host.log" ip netns exec "$ns" node "$PROJECT_ROOT/test/helpers/tap-host.mjs" \
    --name lp0 --mac 02:00:5e:10:00:99 --ip 198.18.5.2 --timeout 60 >/dev/null
  wait_for 10 grep -q '^ready lp0' "$BATS_TEST_TMPDIR/host.log"
  # outside any bridge the host is unreachable (no route to 198.18.5.2 but through br0)
  run in_ns "$ns" ping -c 1 -W 1 198.18.5.2
  assert_failure
  run --separate-stderr in_ns "$ns" tunctl up lp0 --bridge br0
  assert_success
  assert_equal "$stderr" "$(printf '[#] ip link set dev lp0 master br0\n[#] ip link set dev lp0 up')"
  assert_equal "$(link_json "$ns" lp0 | jq -r '.master + " " + .linkinfo.info_slave_kind')" 'br0 bridge'
  # ARP and ICMP go through the bridge port and back (the bridge forwards after the port is up)
  wait_for 15 in_ns "$ns" ping -c 1 -W 1 198.18.5.2
  run in_ns "$ns" ping -c 3 -i 0.2 -W 2 198.18.5.2
  assert_success
  grep -q '^arp$' "$BATS_TEST_TMPDIR/host.log"
  grep -q '^echo$' "$BATS_TEST_TMPDIR/host.log"
  assert_equal "$(in_ns "$ns" ip -j neigh show 198.18.5.2 dev br0 | jq -r '.[0].lladdr')" 02:00:5e:10:00:99
  # show: the MAC and the bridge, as text and JSON
  run in_ns "$ns" tunctl show lp0
  assert_line '  mac: 02:00:5e:10:00:01'
  assert_line '  bridge: br0'
  assert_equal "$(in_ns "$ns" tunctl show lp0 --json | jq -c '.devices[0] | [.mac, .bridge]')" '["02:00:5e:10:00:01","br0"]'
  # twice: nothing to change but the (idempotent) up
  run --separate-stderr in_ns "$ns" tunctl up lp0 --bridge br0
  assert_success
  assert_equal "$stderr" '[#] ip link set dev lp0 up'
  # --nobridge: out of the bridge, and the host is unreachable again
  run --separate-stderr in_ns "$ns" tunctl up lp0 --nobridge
  assert_success
  [[ $stderr == *'[#] ip link set dev lp0 nomaster'* ]]
  assert_equal "$(link_json "$ns" lp0 | jq -r .master)" null
  assert_equal "$(in_ns "$ns" tunctl show lp0 --json | jq -c '.devices[0].bridge')" null
  in_ns "$ns" ip neigh flush dev br0
  run in_ns "$ns" ping -c 1 -W 1 198.18.5.2
  assert_failure
  run --separate-stderr in_ns "$ns" tunctl up lp0 --nobridge
  assert_equal "$stderr" '[#] ip link set dev lp0 up'
}

@test "up --bridge: a missing bridge, an interface that is no bridge, a TUN device, or both flags: refused before any change" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add lp0 --mode tap -q
  in_ns "$ns" tunctl add tn0 --mode tun -q
  ip -n "$ns" link add br0 type bridge
  ip -n "$ns" link add vx0 type veth peer name vx1
  run --separate-stderr in_ns "$ns" tunctl up lp0 --bridge nobr0 --address 198.18.5.1/24 --mtu 1400
  assert_failure 1
  [[ $stderr == *'lp0: cannot join bridge "nobr0": no such device'* ]]
  [[ $stderr == *'hint: create it first: "ip link add nobr0 type bridge"'* ]]
  [[ $stderr != *'[#]'* ]]
  run --separate-stderr in_ns "$ns" tunctl up lp0 --bridge vx0
  assert_failure 1
  [[ $stderr == *'lp0: cannot join bridge "vx0": it is a veth interface, not a bridge'* ]]
  run --separate-stderr in_ns "$ns" tunctl up tn0 --bridge br0
  assert_failure 2
  [[ $stderr == *'tn0: cannot join bridge "br0" (--bridge): a TUN device carries IP packets'* ]]
  run --separate-stderr in_ns "$ns" tunctl up lp0 --bridge br0 --nobridge
  assert_failure 2
  [[ $stderr == *'--bridge "br0" and --nobridge contradict each other'* ]]
  # nothing changed: no MTU, no address, not up, no master
  assert_equal "$(link_json "$ns" lp0 | jq -c '[.mtu, .master, (.flags | index("UP"))]')" '[1500,null,null]'
  assert_equal "$(addrs "$ns" lp0)" ''
}

@test "list: one TUN/TAP name per line, other interfaces left out" {
  ns=$(make_netns a)
  run in_ns "$ns" tunctl list
  assert_success
  assert_output ''
  in_ns "$ns" tunctl add lb0 --mode tap -q
  in_ns "$ns" tunctl add la0 --mode tun -q
  ip -n "$ns" link add dm0 type veth peer name dm1
  run --separate-stderr in_ns "$ns" tunctl list
  assert_success
  assert_equal "$output" "$(printf '%s\n' la0 lb0)"
  run in_ns "$ns" tunctl list --json
  assert_success
  assert_equal "$(jq -c '[.format, [.devices[].ifname]]' <<<"$output")" '[1,["la0","lb0"]]'
}

@test "invalid or too long names: exit 2, message on stderr, nothing created" {
  ns=$(make_netns a)
  for name in 'bad/name' 'abcdefghijklmnop' 'a b' ''; do
    for verb in add del up down show; do
      extra=()
      [[ $verb == add ]] && extra=(--mode tun)
      [[ $verb == up ]] && extra=(--address 198.18.0.1/24)
      run --separate-stderr in_ns "$ns" tunctl "$verb" "$name" "${extra[@]}"
      assert_failure 2
      assert_output ''
      [[ $stderr == "tunctl: invalid device name \"$name\""* ]] || { echo "verb=$verb name=$name stderr=$stderr"; false; }
    done
  done
  assert_equal "$(links "$ns")" lo
}

@test "bad CIDR, peer or MTU: exit 2 and nothing is changed" {
  ns=$(make_netns a)
  in_ns "$ns" tunctl add bc0 --mode tun -q
  for args in '--address 198.18.0.1/33' '--address 198.18.0.300/24' '--address nonsense' '--mtu 100' '--mtu 70000' '--mtu abc' \
    '--peer 198.18.0.2/30 --address 198.18.0.1/30' '--peer 198.18.0.2'; do
    # shellcheck disable=SC2086
    run --separate-stderr in_ns "$ns" tunctl up bc0 $args
    assert_failure 2
    assert_output ''
    [[ -n $stderr ]]
  done
  assert_equal "$(link_json "$ns" bc0 | jq .mtu)" 1500
  assert_equal "$(link_json "$ns" bc0 | jq '.flags | index("UP") != null')" false
  assert_equal "$(ip -n "$ns" -j addr show dev bc0 | jq '.[0].addr_info | length')" 0
  run --separate-stderr in_ns "$ns" tunctl add bc1 --mode bridge
  assert_failure 2
  assert_equal "$(links "$ns")" "$(printf '%s\n' bc0 lo)"
}

@test "without CAP_NET_ADMIN: exit 77 with a message that says what is needed" {
  ns=$(make_netns a)
  unpriv=("$AS_ANY_USER" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all)
  # precondition: the unprivileged user can run node and read the project (else we test nothing)
  run in_ns "$ns" "${unpriv[@]}" node -e "require('fs').accessSync('$PROJECT_ROOT/dist/commands/tunctl/index.js', require('fs').constants.R_OK)"
  assert_success
  run --separate-stderr in_ns "$ns" "${unpriv[@]}" tunctl add np0 --mode tun
  assert_failure 77
  assert_output ''
  [[ $stderr == *'CAP_NET_ADMIN'* ]]
  [[ $stderr == *'operation not permitted'* ]]
  assert_equal "$(links "$ns")" lo
  # changing a device needs it too
  in_ns "$ns" tunctl add np1 --mode tun -q
  run --separate-stderr in_ns "$ns" "${unpriv[@]}" tunctl up np1 --address 198.18.5.1/24
  assert_failure 77
  [[ $stderr == *'CAP_NET_ADMIN'* ]]
  run --separate-stderr in_ns "$ns" "${unpriv[@]}" tunctl del np1
  assert_failure 77
  [[ $stderr == *'CAP_NET_ADMIN'* ]]
  assert_equal "$(ip -n "$ns" -j addr show dev np1 | jq '.[0].addr_info | length')" 0
  assert_equal "$(link_json "$ns" np1 | jq -r .ifname)" np1
}

@test "no /dev/net/tun: exit 69 with a hint" {
  ns=$(make_netns a)
  run --separate-stderr in_ns "$ns" unshare -m sh -c 'mount -t tmpfs tunctl-test /dev/net && exec tunctl add nt0 --mode tun'
  assert_failure 69
  assert_output ''
  [[ $stderr == *'/dev/net/tun is missing'* ]]
  [[ $stderr == *'hint: '*'modprobe tun'* ]]
  assert_equal "$(links "$ns")" lo
  # the real node is untouched outside that mount namespace
  [[ -c /dev/net/tun ]]
}

@test "--help: every verb listed with its description; each verb's --help has a description and >= 2 examples" {
  run --separate-stderr tunctl --help
  assert_success
  assert_line --index 0 --partial 'tunctl — TUN/TAP devices and tund sessions'
  for verb in add del up down show list; do
    assert_line --regexp "^  tunctl $verb( |$)"
  done
  assert_output --partial 'create a persistent TUN/TAP device'
  assert_output --partial 'remove a TUN/TAP device'
  for verb in add del up down show list; do
    run --separate-stderr tunctl "$verb" --help
    assert_success
    assert_equal "$stderr" ''
    [[ ${lines[0]} =~ ^[A-Z][a-z] ]] || { echo "$verb: no description: ${lines[0]}"; false; }
    assert_line 'Examples'
    n=$(grep -c '^  \$ tunctl ' <<<"$output")
    ((n >= 2)) || { echo "$verb: $n examples"; false; }
  done
}
