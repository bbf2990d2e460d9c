# shellcheck shell=bash
# _tund-wg-engine.sh - shared by the tund-wg-engine anchors: tund's WireGuard data path (the
# native WgEngine) on both ends, driven by test/helpers/wg-pair.mjs with keys written by the
# benchmark (no handshake; `tund-wg-udp` measures the whole session).
# What it measures is the engine: device, ChaCha20-Poly1305, socket; the same wire format as
# WireGuard, so it compares with wireguard-go.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh
COMPARE_TO="wireguard-go wireguard-go-offload"
WG_ENGINE_PAIR=$TUND_ROOT/test/helpers/wg-pair.mjs
WGE_PORT=51820

anchor_notes() { echo "WgEngine, static keys (no handshake), mtu $TUN_MTU"; }

# wge_end SIDE NS BIND PEER_ADDR CONFIG_JSON
wge_end() {
  local side=$1 ns=$2 dir=$RUN_DIR/$1
  mkdir -p "$dir"
  (umask 077 && echo "$5" >"$dir/config.json")
  spawn "$ns" "$RUN_DIR/$side.log" node "$WG_ENGINE_PAIR" --tun "tbwge-$side" --bind "$3" --port "$WGE_PORT" \
    --dir "$dir" --config "$dir/config.json" --mtu "$TUN_MTU" >/dev/null
  wait_until 20 test -f "$dir/ready" || { echo "wg-pair $side not ready"; tail -n 20 "$RUN_DIR/$side.log"; return 1; }
}

# wge_peer ID ENDPOINT ALLOWED SEND RECV LOCAL REMOTE INITIATOR -> JSON
wge_peer() {
  jq -nc --argjson id "$1" --arg a "$2" --argjson p "$WGE_PORT" --arg ips "$3" --arg s "$4" --arg r "$5" \
    --argjson l "$6" --argjson m "$7" --argjson i "$8" \
    '{id: $id, endpoint: {address: $a, port: $p}, allowedIps: [$ips],
      keypair: {sendKey: $s, recvKey: $r, localIndex: $l, remoteIndex: $m, initiator: $i}}'
}

wge_start() {
  local k1 k2 s ns addr peer
  k1=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  k2=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  wge_end b "$NS_B" "$UNDER_B" "$UNDER_A" "{\"peers\": [$(wge_peer 1 "$UNDER_A" "$INNER_A/32" "$k2" "$k1" 202 101 false)]}" || return 1
  wge_end a "$NS_A" "$UNDER_A" "$UNDER_B" "{\"peers\": [$(wge_peer 1 "$UNDER_B" "$INNER_B/32" "$k1" "$k2" 101 202 true)]}" || return 1
  for s in a b; do
    if [[ $s == a ]]; then ns=$NS_A addr=$INNER_A peer=$INNER_B; else ns=$NS_B addr=$INNER_B peer=$INNER_A; fi
    ip -n "$ns" addr add "$addr" peer "$peer" dev "tbwge-$s" && ip -n "$ns" link set "tbwge-$s" mtu "$TUN_MTU" up || return 1
  done
  touch "$RUN_DIR/a/go" "$RUN_DIR/b/go"
}
