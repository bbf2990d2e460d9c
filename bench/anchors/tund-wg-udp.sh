# shellcheck shell=bash
# tund-wg-udp - tund's WireGuard session on both ends: `tund NAME` running a wg-quick file (real
# Noise handshake, timers, the native engine with every offload on), as a user runs it.
# It speaks WireGuard on the wire, so it compares with wireguard-go.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh
COMPARE_TO="wireguard-go wireguard-go-offload"
TWG_PORT=51820

anchor_notes() { echo "wg-quick files, mtu $TUN_MTU"; }

# twg_conf PRIVATE_KEY ADDRESS PEER_PUBLIC_KEY PEER_ADDRESS [ENDPOINT]: a wg-quick file
twg_conf() {
  cat <<CONF
[Interface]
PrivateKey = $1
ListenPort = $TWG_PORT
Address = $2/32
MTU = $TUN_MTU

[Peer]
PublicKey = $3
AllowedIPs = $4/32
$( [[ -n ${5:-} ]] && echo "Endpoint = $5:$TWG_PORT" )
CONF
}

anchor_start() {
  local s
  for s in a b; do
    mkdir -p "$RUN_DIR/$s/etc" "$RUN_DIR/$s/run"
    (umask 077 && wg genkey >"$RUN_DIR/$s.key")
    wg pubkey <"$RUN_DIR/$s.key" >"$RUN_DIR/$s.pub"
  done
  (umask 077
    twg_conf "$(<"$RUN_DIR/a.key")" "$INNER_A" "$(<"$RUN_DIR/b.pub")" "$INNER_B" "$UNDER_B" >"$RUN_DIR/a/etc/tbwg-a.conf"
    twg_conf "$(<"$RUN_DIR/b.key")" "$INNER_B" "$(<"$RUN_DIR/a.pub")" "$INNER_A" >"$RUN_DIR/b/etc/tbwg-b.conf")
  spawn "$NS_B" "$RUN_DIR/b.log" env TUND_CONFIG_DIR="$RUN_DIR/b/etc" TUND_RUN_DIR="$RUN_DIR/b/run" "$TUND_BIN" tbwg-b >/dev/null
  spawn "$NS_A" "$RUN_DIR/a.log" env TUND_CONFIG_DIR="$RUN_DIR/a/etc" TUND_RUN_DIR="$RUN_DIR/a/run" "$TUND_BIN" tbwg-a >/dev/null
  if ! wait_until 15 has_addr "$NS_A" "$INNER_A" || ! wait_until 15 has_addr "$NS_B" "$INNER_B"; then
    echo "tund WireGuard interfaces did not come up"; tail -n 20 "$RUN_DIR/a.log" "$RUN_DIR/b.log"; return 1
  fi
  # the first packet starts the handshake: have it done before anything is measured
  wait_until 10 ip netns exec "$NS_A" ping -c 1 -W 1 "$INNER_B" >/dev/null ||
    { echo "no handshake"; tail -n 20 "$RUN_DIR/a.log" "$RUN_DIR/b.log"; return 1; }
}
