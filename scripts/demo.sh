#!/usr/bin/env bash
# demo.sh - the main job of tund, shown end to end on one machine (as root): two network
# namespaces joined by a veth pair, a tund VTun server in one and a tund client in the other,
# a ping across the tunnel, the session state and counters, then everything torn down.
# Set-up (Debian packages, npm ci, native build) runs first and is idempotent.
set -euo pipefail
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

# Each host has its own configuration directory and runtime directory.
mkdir -p "$WORK/server/etc" "$WORK/server/run" "$WORK/client/etc" "$WORK/client/run"
cat >"$WORK/server/etc/demo.conf" <<CONF
# VTun server side: UDP transport, LZO compression, AES-128-CBC (vtund-compatible)
[Session]
Role = server
Listen = $UNDER_S:5000
Transport = udp
Compress = lzo:1
Encrypt = aes128cbc
Keepalive = 10:3

[Device]
Mode = tun
Address = $TUN_S/32
Peer = $TUN_C
MTU = 1400
CONF
cat >"$WORK/client/etc/demo.conf" <<CONF
# VTun client side: the server decides transport, compression and cipher
[Session]
Role = client
Endpoint = $UNDER_S:5000
Keepalive = 10:3
Persist = yes

[Device]
Mode = tun
Address = $TUN_C/32
Peer = $TUN_S
MTU = 1400
CONF
umask 077
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/server/etc/demo.secret"
cp "$WORK/server/etc/demo.secret" "$WORK/client/etc/demo.secret"
umask 022
chmod 600 "$WORK"/*/etc/*

in_host() { # in_host server|client CMD... ; exec, so that "in_host ... &" gives $! = the command's PID
  local side=$1; shift
  local ns=$NS_S; [[ $side == client ]] && ns=$NS_C
  (exec ip netns exec "$ns" env TUND_CONFIG_DIR="$WORK/$side/etc" TUND_RUN_DIR="$WORK/$side/run" "$@")
}
start_in_host() { # start_in_host server|client LOG CMD... : in the background, PID recorded
  local side=$1 log=$2; shift 2
  local ns=$NS_S; [[ $side == client ]] && ns=$NS_C
  ip netns exec "$ns" env TUND_CONFIG_DIR="$WORK/$side/etc" TUND_RUN_DIR="$WORK/$side/run" "$@" >"$log" 2>&1 &
  PIDS+=($!)
}

step "configuration check (tund check demo)"
in_host server tund check demo
in_host client tund check demo

step "start the server (tund demo, role server) and the client (tund demo, role client)"
start_in_host server "$WORK/server.log" tund demo
for _ in $(seq 50); do ip netns exec "$NS_S" ss -Hltn "sport = :5000" | grep -q . && break; sleep 0.1; done
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

step "stop the client (SIGTERM: it sends VTun's close frame), then tear everything down"
kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null || true
for _ in $(seq 30); do grep -q 'closed\|ended\|lost' "$WORK/server.log" && break; sleep 0.1; done
tail -n 3 "$WORK/server.log" | sed 's/^/  server| /'
echo "demo done"
