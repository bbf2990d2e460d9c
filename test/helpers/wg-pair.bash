# shellcheck shell=bash
# Engine-to-engine WireGuard tunnels without a handshake (the test writes the keys): one
# test/helpers/wg-pair.mjs per end, each in its namespace, with its stats file. Used by
# wg-transport.bats and engine-offload.bats. Load after common.bash.

hex32() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# wg_end NAME NS BIND PORT CONFIG_JSON: starts one end (its dir is $BATS_TEST_TMPDIR/NAME, its tun
# ${TEST_TAG}wNAME).
wg_end() {
  local name=$1 ns=$2 bind=$3 port=$4 config=$5 dir=$BATS_TEST_TMPDIR/$1
  mkdir -p "$dir"
  (umask 077; echo "$config" >"$dir/config.json")
  spawn_bg "$BATS_TEST_TMPDIR/$name.log" ip netns exec "$ns" node "$PROJECT_ROOT/test/helpers/wg-pair.mjs" \
    --tun "${TEST_TAG}w$name" --bind "$bind" --port "$port" --dir "$dir" --config "$dir/config.json" >/dev/null
  wait_for 20 test -f "$dir/ready" || { cat "$BATS_TEST_TMPDIR/$name.log"; return 1; }
}

# tun_up NS DEV ADDR/PLEN
tun_up() {
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$1" link set "$2" up
}

# stat NAME JQ: a value from that end's stats file
stat() { jq -r "$2" "$BATS_TEST_TMPDIR/$1/stats"; }

# keypair SEND RECV LOCAL REMOTE INITIATOR -> JSON
keypair() {
  jq -nc --arg s "$1" --arg r "$2" --argjson l "$3" --argjson m "$4" --argjson i "$5" \
    '{sendKey: $s, recvKey: $r, localIndex: $l, remoteIndex: $m, initiator: $i}'
}

# peer ID ENDPOINT_ADDR ENDPOINT_PORT ALLOWED_JSON KEYPAIR_JSON -> JSON
peer() {
  jq -nc --argjson id "$1" --arg a "$2" --argjson p "$3" --argjson ips "$4" --argjson kp "$5" \
    '{id: $id, endpoint: (if $a == "" then null else {address: $a, port: $p} end), allowedIps: $ips, keypair: $kp}'
}

# pair_up N PLEN BIND_A: namespaces NS_A and NS_B joined by a veth (198.18.N.1 and .2, /PLEN), one
# end in each: A (peer 7 of B's) initiated, bound to BIND_A:51820; B (peer 9 of A's) responds from
# 198.18.N.2:51821; tuns 198.19.N.1/24 and .2/24; both started.
pair_up() {
  local n=$1 plen=$2 bind_a=$3 k1 k2
  NS_A=$(make_netns a)
  NS_B=$(make_netns b)
  veth_pair "$NS_A" "198.18.$n.1/$plen" "$NS_B" "198.18.$n.2/$plen"
  k1=$(hex32) k2=$(hex32)
  # A initiated the (imaginary) handshake: its keypair is current; B's waits for A's first packet
  wg_end a "$NS_A" "$bind_a" 51820 "{\"peers\": [$(peer 9 "198.18.$n.2" 51821 "[\"198.19.$n.2/32\"]" "$(keypair "$k1" "$k2" 101 202 true)")]}"
  wg_end b "$NS_B" "198.18.$n.2" 51821 "{\"peers\": [$(peer 7 "198.18.$n.1" 51820 "[\"198.19.$n.0/24\"]" "$(keypair "$k2" "$k1" 202 101 false)")]}"
  tun_up "$NS_A" "${TEST_TAG}wa" "198.19.$n.1/24"
  tun_up "$NS_B" "${TEST_TAG}wb" "198.19.$n.2/24"
  touch "$BATS_TEST_TMPDIR/a/go" "$BATS_TEST_TMPDIR/b/go"
}

