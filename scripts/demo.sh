#!/usr/bin/env bash
# demo.sh [wireguard|vtun] - the main job of tund, shown end to end on one machine (as root): two
# network namespaces joined by a veth pair, a WireGuard session in each made with `tund new`
# (the public keys copied across), a ping across the tunnel, the session state and counters,
# then everything torn down. `demo.sh vtun` shows the VTun migration path instead.
# Set-up (Debian packages, npm ci, native build) runs first and is idempotent.
set -euo pipefail
PROTOCOL=${1:-wireguard}
[[ $PROTOCOL == wireguard || $PROTOCOL == vtun ]] || { echo "usage: demo.sh [wireguard|vtun]" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
export PATH="$ROOT/bin:$PATH"

TAG=d$(printf '%x' $$)              # unique per run: two demos never collide
NS_S=$TAG-server NS_C=$TAG-client
VETH_S=${TAG}s VETH_C=${TAG}c
UNDER_S=198.18.10.1 UNDER_C=198.18.10.2   # benchmark range only (RFC 2544)
TUN_S=198.19.10.1 TUN_C=198.19.10.2
WORK=$(mktemp -d /tmp/tund-demo.XXXXXX)
PIDS=()

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
  local pid ns
  # Everything running in our two namespaces was started by this demo.
  for ns in "$NS_S" "$NS_C"; do
    [[ -e /run/netns/$ns ]] && PIDS+=($(ip netns pids "$ns" 2>/dev/null))
  done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "two hosts: network namespaces $NS_S and $NS_C, joined by a veth pair"
ip netns add "$NS_S"; ip netns add "$NS_C"
ip link add "$VETH_S" type veth peer name "$VETH_C"
ip link set "$VETH_S" netns "$NS_S"; ip link set "$VETH_C" netns "$NS_C"
ip -n "$NS_S" addr add $UNDER_S/30 dev "$VETH_S"; ip -n "$NS_C" addr add $UNDER_C/30 dev "$VETH_C"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$VETH_S" up; ip -n "$NS_C" link set "$VETH_C" up

# Each host has its own configuration directory, runtime directory and /run/wireguard (wg's
# socket directory: a tmpfs of a mount namespace of its own, see in_host).
mkdir -p "$WORK/server/etc" "$WORK/server/run" "$WORK/server/wg" "$WORK/client/etc" "$WORK/client/run" "$WORK/client/wg"

host_argv() { # host_argv server|client : HOST=(the command prefix that runs in that host)
  local ns=$NS_S; [[ $1 == client ]] && ns=$NS_C
  HOST=(ip netns exec "$ns" unshare -m --propagation private sh -c 'mount --bind "$1" /run/wireguard && shift && exec "$@"' sh "$WORK/$1/wg"
    env TUND_CONFIG_DIR="$WORK/$1/etc" TUND_RUN_DIR="$WORK/$1/run")
}
in_host() { # in_host server|client CMD... : in that host's network and mount namespaces
  host_argv "$1"; shift
  "${HOST[@]}" "$@"
}
start_in_host() { # start_in_host server|client LOG CMD... : in the background; $! is the command's PID (exec all the way)
  local log=$2
  host_argv "$1"; shift 2
  "${HOST[@]}" "$@" >"$log" 2>&1 &
  PIDS+=($!)
}
mkdir -p /run/wireguard

if [[ $PROTOCOL == wireguard ]]; then
  step "WireGuard sessions: tund new on each side, the public keys copied across"
  echo "server# tund new demo --listen-port 51820 --address $TUN_S/24"
  SERVER_KEY=$(in_host server tund new -q demo --listen-port 51820 --address "$TUN_S/24")
  echo "$SERVER_KEY"
  echo "client# tund new demo --address $TUN_C/24 --peer $SERVER_KEY --endpoint $UNDER_S:51820 --allowed-ips $TUN_S/32"
  CLIENT_KEY=$(in_host client tund new -q demo --address "$TUN_C/24" --peer "$SERVER_KEY" --endpoint "$UNDER_S:51820" --allowed-ips "$TUN_S/32")
  echo "$CLIENT_KEY"
  echo "server# tund peer add demo $CLIENT_KEY --allowed-ips $TUN_C/32"
  in_host server tund peer add -q demo "$CLIENT_KEY" --allowed-ips "$TUN_C/32"
  LISTENING="ss -Hlun sport = :51820"
else
  step "VTun sessions (the migration path): tund new --protocol vtun, one shared secret"
  in_host server tund new -q demo --protocol vtun --listen-port 5000 --address "$TUN_S/32" --peer "$TUN_C"
  in_host client tund new -q demo --protocol vtun --endpoint "$UNDER_S:5000" --address "$TUN_C/32" --peer "$TUN_S"
  SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  in_host server tunauth passwd demo <<<"$SECRET"
  in_host client tunauth passwd demo <<<"$SECRET"
  LISTENING="ss -Hltn sport = :5000"
fi
sed 's/^PrivateKey = .*/PrivateKey = (the server'"'"'s private key: only in this file)/; s/^/  server| /' "$WORK/server/etc/demo.conf"

step "configuration check (tund check demo)"
in_host server tund check demo
in_host client tund check demo

step "start the server side and the client side (tund demo)"
start_in_host server "$WORK/server.log" tund demo
for _ in $(seq 50); do ip netns exec "$NS_S" $LISTENING | grep -q . && break; sleep 0.1; done
start_in_host client "$WORK/client.log" tund demo

if ! in_host client tunctl wait demo --state connected --timeout 20; then
  echo "the session did not connect; logs:"; cat "$WORK/server.log" "$WORK/client.log"; exit 1
fi

step "ping across the tunnel: $TUN_C -> $TUN_S"
ip netns exec "$NS_C" ping -c 3 -i 0.3 -W 2 $TUN_S

step "session state and counters (tunctl status demo), client side"
in_host client tunctl status demo
step "the same, server side, as JSON"
in_host server tunctl status demo --json

step "the device as the kernel sees it (tunctl show demo)"
in_host client tunctl show demo

step "logs"
sed 's/^/  server| /' "$WORK/server.log"
sed 's/^/  client| /' "$WORK/client.log"

step "stop the client (SIGTERM: an orderly stop), then tear everything down"
kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null || true
tail -n 3 "$WORK/client.log" | sed 's/^/  client| /'
echo "demo done"
