#!/usr/bin/env bash
# capture-wg.sh - seeds for the native WireGuard fuzz targets from real traffic with the Debian
# wireguard-go, in two network namespaces this script makes and removes (as root; the set-up of
# test/bats/wg-handshake.bats, with the fixed keys of test/fuzz/native/wg_fixture.h so that the
# messages open in the fuzz targets):
#   1. wireguard-go (key I) initiates to test/helpers/wg-peer.mjs (key R): its type-1 messages,
#      and, with the helper "under load", the retry that carries a mac2 made from our cookie;
#   2. the helper (key I) sends the fixed initiation of wg_fixture.h to wireguard-go (key R):
#      wireguard-go's type-2 response to it, then its transport data.
# Writes test/fuzz/corpus/{wg_initiation,wg_response,wg_cookie,wg_transport}/wireguard-go-*; the output is
# committed. Needs `npm run build` and the packages scripts/setup.sh installs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CORPUS=$ROOT/test/fuzz/corpus

# the fixed keys and initiation of test/fuzz/native/wg_fixture.h
KEY_R=ULsSbJ1PqhOc8x5P0hlAL0w0pvl1lXlSa2LCm8yk0m0=
KEY_I=cA7mEYGx0R2kkC1nBPtnHpJ0vNHCU6Q5pO6xTxpvM1s=
EPHEMERAL=281a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f748
TIMESTAMP=400000006955b90000000000
INDEX=$((0x1e2d3c4b))

# the bats helpers, outside bats
BATS_TEST_TMPDIR=$(mktemp -d /tmp/tund-capture-wg.XXXXXX)
load() { source "$1.bash"; }
source "$ROOT/test/helpers/common.bash"
source "$ROOT/test/helpers/wireguard.bash"
common_setup
trap 'common_teardown; rm -rf "$BATS_TEST_TMPDIR"' EXIT
wg_two_sides

key_file() { (umask 077 && echo "$2" >"$BATS_TEST_TMPDIR/$1.key") && echo "$BATS_TEST_TMPDIR/$1.key"; }
R=$(key_file r "$KEY_R")
I=$(key_file i "$KEY_I")
PUB_R=$(wg_pub "$R")
PUB_I=$(wg_pub "$I")
peer() { ip netns exec "$NS_T" node "$ROOT/test/helpers/wg-peer.mjs" "$@"; }

# wg_go DEVICE KEY PEER_PUB [options] : a wireguard-go device like wg_go_peer's, with this key
wg_go() {
  local dev=$1 key=$2 pub=$3; shift 3
  wg_go_start "$HOLDER_G" "$dev"
  wg_in "$HOLDER_G" wg set "$dev" private-key "$key" listen-port 51820 peer "$pub" allowed-ips "$WG_T_TUN/32" "$@"
  wg_in "$HOLDER_G" ip addr add "$WG_G_TUN/24" dev "$dev"
  wg_in "$HOLDER_G" ip link set "$dev" up
}

save() { # save TARGET NAME FILE : the datagram as a raw-mode seed (first byte 0)
  mkdir -p "$CORPUS/$1"
  { printf '\0'; cat "$3"; } >"$CORPUS/$1/$2"
  echo "capture-wg: $1/$2 ($(stat -c %s "$3") bytes)"
}

# 1. wireguard-go initiates (normal, then with the helper under load)
n=0
for load in "" --under-load; do
  n=$((n + 1))
  rec=$BATS_TEST_TMPDIR/rx$n && mkdir -p "$rec"
  port=$((40010 + n))
  wg_go "wgc$n" "$I" "$PUB_R" endpoint "$WG_T_ADDR:$port"
  spawn_bg "$BATS_TEST_TMPDIR/peer$n.out" ip netns exec "$NS_T" node "$ROOT/test/helpers/wg-peer.mjs" \
    respond --key "$R" --peer "$PUB_I" --bind "$WG_T_ADDR:$port" --timeout 30 --record "$rec" $load >/dev/null
  wait_for 10 grep -q '"listening"' "$BATS_TEST_TMPDIR/peer$n.out"
  wg_in "$HOLDER_G" ping -c 1 -W 10 "$WG_T_TUN" >/dev/null
  wait_for 10 grep -q '"done"' "$BATS_TEST_TMPDIR/peer$n.out"
  wg_in "$HOLDER_G" ip link del "wgc$n"
  for f in "$rec"/rx-*-type1; do
    save wg_initiation "wireguard-go${load:+-under-load}-$(basename "$f")" "$f"
    save wg_cookie "wireguard-go${load:+-under-load}-$(basename "$f")" "$f"
    save wg_transport "wireguard-go${load:+-under-load}-$(basename "$f")" "$f"
  done
  f=$(ls "$rec"/rx-*-type4 | head -1)
  save wg_cookie "wireguard-go-transport" "$f"
  save wg_transport "wireguard-go-transport" "$f"
done

# 2. our fixed initiation, answered by wireguard-go
rec=$BATS_TEST_TMPDIR/rx-response && mkdir -p "$rec"
wg_go wgr "$R" "$PUB_I"
peer initiate --key "$I" --peer "$PUB_R" --endpoint "$WG_G_ADDR:51820" --bind "$WG_T_ADDR:40001" \
  --src "$WG_T_TUN" --dst "$WG_G_TUN" --timeout 15 --record "$rec" \
  --ephemeral "$EPHEMERAL" --timestamp "$TIMESTAMP" --index "$INDEX" >"$BATS_TEST_TMPDIR/initiate.out"
for f in "$rec"/rx-*-type2; do
  save wg_response "wireguard-go-$(basename "$f")" "$f"
  save wg_cookie "wireguard-go-$(basename "$f")" "$f"
  save wg_transport "wireguard-go-$(basename "$f")" "$f"
done
