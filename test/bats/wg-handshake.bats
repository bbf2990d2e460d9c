#!/usr/bin/env bats
# The WireGuard handshake and cookies (native/src/wg_noise.*, wg_cookie.*) against the real
# Debian wireguard-go, without tund's engine: test/helpers/wg-peer.mjs is a minimal peer made of
# the addon's bindings and one UDP socket. wireguard-go is configured with the real wg(8).
#   tund side initiates: wireguard-go answers, counts the keepalive and the echo, replies;
#   wireguard-go initiates (a ping into its device): the helper answers and the ping succeeds;
#   under load: wireguard-go's initiation gets a cookie reply, its retry carries a valid mac2.

load ../helpers/common
load ../helpers/wireguard

setup() {
  common_setup
  wg_two_sides
  T_KEY=$(wg_key_file tund-side)
  T_PUB=$(wg_pub "$T_KEY")
}
teardown() {
  show_logs
  common_teardown
}

peer() { ip netns exec "$NS_T" node "$PROJECT_ROOT/test/helpers/wg-peer.mjs" "$@"; }

# event NAME : the JSON lines of the helper's output with that event
event() { jq -c "select(.event == \"$1\")" <<<"$output"; }

# respond_to_ping PORT PING_WAIT [helper options...] : the helper answers on PORT, wireguard-go
# pings through its device (which starts the handshake); output = the helper's events
respond_to_ping() {
  local port=$1 wait=$2; shift 2
  wg_go_peer wgt0 "$T_PUB" endpoint "$WG_T_ADDR:$port"
  spawn_bg "$BATS_TEST_TMPDIR/peer.out" ip netns exec "$NS_T" node "$PROJECT_ROOT/test/helpers/wg-peer.mjs" \
    respond --key "$T_KEY" --peer "$(wg_pub "$WG_G_KEY")" --bind "$WG_T_ADDR:$port" --timeout 30 "$@" >/dev/null
  wait_for 10 grep -q '"listening"' "$BATS_TEST_TMPDIR/peer.out"
  wg_in "$HOLDER_G" ping -c 1 -W "$wait" "$WG_T_TUN" || return 1
  wait_for 10 grep -q '"done"' "$BATS_TEST_TMPDIR/peer.out"
  output=$(cat "$BATS_TEST_TMPDIR/peer.out")
  echo "$output"
}

@test "tund side initiates: wireguard-go answers, shows the handshake and the bytes, the echo reply decrypts" {
  wg_go_peer wgt0 "$T_PUB"
  run peer initiate --key "$T_KEY" --peer "$(wg_pub "$WG_G_KEY")" --endpoint "$WG_G_ADDR:51820" \
    --bind "$WG_T_ADDR:40001" --src "$WG_T_TUN" --dst "$WG_G_TUN" --timeout 15
  echo "$output"
  assert_success
  assert_equal "$(event keypair | jq -r .initiator)" true
  assert_equal "$(event echo_reply | jq -r .src)" "$WG_G_TUN"
  # wireguard-go's view: a handshake just now, the keepalive and the echo received, the reply sent
  local latest rx tx
  latest=$(wg_show_field wgt0 latest-handshakes)
  ((latest > 0 && $(date +%s) - latest < 60))
  read -r rx tx < <(wg_in "$HOLDER_G" wg show wgt0 transfer | awk -F'\t' '{print $2, $3}')
  ((rx >= 32 + 48)) # keepalive (32 bytes) + the echo (16 + 32 + 16)
  ((tx > 0))
  assert_equal "$(wg_show_field wgt0 endpoints)" "$WG_T_ADDR:40001"
}

@test "wireguard-go initiates: the helper responds, decrypts its echo request and answers it (ping succeeds)" {
  respond_to_ping 40002 10
  assert_equal "$(event initiation_received | head -1 | jq -r .verdict)" accept
  assert_equal "$(event keypair | jq -r .initiator)" false
  assert_equal "$(event echo_request | jq -r .src)" "$WG_G_TUN"
  (($(wg_show_field wgt0 latest-handshakes) > 0))
}

@test "under load: wireguard-go's initiation gets a cookie reply, its retry carries a valid mac2 and completes" {
  # the first initiation is refused with a cookie; wireguard-go retries after REKEY_TIMEOUT (5 s)
  respond_to_ping 40003 20 --under-load
  local first last
  first=$(event initiation_received | head -1)
  last=$(event initiation_received | tail -1)
  assert_equal "$(jq -r .verdict <<<"$first")" cookie_reply
  assert_equal "$(jq -r .mac2 <<<"$first")" false
  assert_equal "$(jq -r .verdict <<<"$last")" accept
  assert_equal "$(jq -r .mac2 <<<"$last")" true
  [[ -n $(event echo_request) ]]
}
