# Helpers for WireGuard over stream transports between tund peers (wg-stream.bats: tcp,
# wg-websocket.bats: websocket): a namespace without UDP, session files, sessions in the background.
# Needs common.bash and wireguard.bash loaded first.

# no_udp NS : the namespace drops every UDP packet in and out (what a UDP-hostile network does)
no_udp() {
  ip netns exec "$1" nft -f - <<'NFT'
table inet noudp {
  chain in { type filter hook input priority 0; meta l4proto udp counter drop; }
  chain out { type filter hook output priority 0; meta l4proto udp counter drop; }
}
NFT
}

# wg_file NAME KEY ADDRESS [Interface lines...] -- PEER_KEY ALLOWED [Peer lines...] [-- ...]
wg_file() {
  local name=$1 key=$2 addr=$3; shift 3
  {
    echo "[Interface]"
    echo "PrivateKey = $(cat "$key")"
    echo "Address = $addr/24"
    while (($#)); do
      if [[ $1 == -- ]]; then
        printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' "$(wg_pub "$2")" "$3"
        shift 3
        continue
      fi
      echo "$1"
      shift
    done
  } >"$TUND_CONFIG_DIR/$name.conf"
  chmod 600 "$TUND_CONFIG_DIR/$name.conf"
}

# run_wg NS NAME [ENV=VALUE...] : the session in NS, with a private /run/wireguard, in the background
run_wg() {
  local ns=$1 name=$2 holder; shift 2
  holder=$(wg_private_run "$ns") || return 1
  spawn_bg "$BATS_TEST_TMPDIR/$name.log" nsenter -t "$holder" -m -n -- env "$@" timeout 300 tund "$name" >/dev/null
}

connected() { tunctl wait "$1" --state connected --timeout "${2:-20}s"; }

# listening NS PORT : something listens on TCP PORT in NS
listening() { wait_for "${3:-10}" sh -c "ip netns exec $1 ss -Hltn 'sport = :$2' | grep -q LISTEN"; }
