#!/usr/bin/env bats
# tunauth probe on a WireGuard session (a wg-quick file) against the real wireguard-go: it
# answers (and wireguard-go saw the initiation); a silent port, a closed port, a key the peer does
# not know and a preshared key mismatch are each reported as what they are, exit 1; --peer and
# --json; no device is created.

load ../helpers/common
load ../helpers/wireguard

setup() {
  common_setup
  wg_two_sides
  T_KEY=$(wg_key_file tund-side)
  cp "$T_KEY" "$TUND_CONFIG_DIR/office.key"
  wg_go_peer wgt0 "$(wg_pub "$T_KEY")"
  G_PUB=$(wg_pub "$WG_G_KEY")
}
teardown() {
  show_logs
  common_teardown
}

# session NAME PORT [extra [Peer] lines] : a wg-quick session file for the tund side
session() {
  local name=$1 port=$2; shift 2
  {
    printf '[Interface]\nPrivateKeyFile = office.key\nAddress = %s/32\n\n' "$WG_T_TUN"
    printf '[Peer]\nPublicKey = %s\nEndpoint = %s:%s\nAllowedIPs = 198.19.88.0/24\n' "$G_PUB" "$WG_G_ADDR" "$port"
    printf '%s\n' "$@"
  } >"$TUND_CONFIG_DIR/$name.conf"
  chmod 600 "$TUND_CONFIG_DIR/$name.conf"
}

probe() { ip netns exec "$NS_T" tunauth probe "$@"; }

@test "a peer that answers: ok with the time; wireguard-go saw the initiation from the probe's port" {
  session office 51820
  run probe office
  echo "$output"
  assert_success
  assert_line "session: office (WireGuard)"
  assert_line "peer: $G_PUB"
  assert_line "  endpoint: $WG_G_ADDR:51820"
  assert_line "  result: ok"
  assert_line --regexp '^  time: [0-9.]+ ms$'
  # wireguard-go took the probe's address as the peer's endpoint (it authenticated the initiation)
  run wg_show_field wgt0 endpoints
  assert_output --regexp "^$WG_T_ADDR:[0-9]+$"
  # no device was made on the tund side
  run ip -n "$NS_T" -o link show
  refute_output --partial wgt
  run ip -n "$NS_T" -o link show type tun
  assert_output ''
}

@test "--json: one document, every key present" {
  session office 51820
  run probe office --json
  assert_success
  jq -e --arg pub "$G_PUB" '.format == 1 and .protocol == "wireguard" and .session == "office"
    and (.peers | length == 1) and .peers[0].public_key == $pub and .peers[0].result == "ok"
    and .peers[0].elapsed_ms >= 0 and .peers[0].initiations == 1 and .peers[0].cookie == false
    and .peers[0].address == "198.18.88.1:51820"' <<<"$output"
}

@test "a silent port: no answer within the timeout, exit 1" {
  spawn_bg "$BATS_TEST_TMPDIR/silent.log" ip netns exec "$NS_G" socat -u UDP4-RECV:51999,bind="$WG_G_ADDR" /dev/null >/dev/null
  wait_for 10 sh -c "ip netns exec $NS_G ss -Hlun 'sport = :51999' | grep -q 51999"
  session office 51999
  local t0=$SECONDS
  run probe office --timeout 2
  assert_failure 1
  assert_line "  result: no answer"
  assert_output --partial 'within 2 s'
  assert_output --partial 'hint:'
  ((SECONDS - t0 <= 6))
}

@test "a closed port: refused (ICMP port unreachable), exit 1" {
  session office 51998
  run probe office --timeout 3
  assert_failure 1
  assert_line "  result: refused"
}

@test "a key the peer does not know gets no answer; a preshared key mismatch is a bad response" {
  session office 51820
  # another private key for the tund side: wireguard-go stays silent
  (umask 077 && wg genkey >"$TUND_CONFIG_DIR/office.key")
  run probe office --timeout 2
  assert_failure 1
  assert_line "  result: no answer"
  # the right key, but wireguard-go has a preshared key for us that the session lacks
  cp "$T_KEY" "$TUND_CONFIG_DIR/office.key"
  (umask 077 && wg genpsk >"$BATS_TEST_TMPDIR/psk")
  wg_in "$HOLDER_G" wg set wgt0 peer "$(wg_pub "$T_KEY")" preshared-key "$BATS_TEST_TMPDIR/psk"
  run probe office --timeout 3
  assert_failure 1
  assert_line "  result: bad response"
  assert_output --partial 'preshared keys differ'
  # with the same preshared key in the session file it answers
  session office 51820 "PresharedKey = $(cat "$BATS_TEST_TMPDIR/psk")"
  run probe office --timeout 3
  assert_success
}

@test "--peer picks one peer; an unknown one is a usage error; peers without Endpoint are skipped" {
  local other
  other=$(wg genkey | wg pubkey)
  session hub 51820 '' '[Peer]' "PublicKey = $other" 'AllowedIPs = 198.19.99.0/24'
  run probe hub --peer "$G_PUB"
  assert_success
  run probe hub
  assert_success
  assert_output --partial "peer $other has no Endpoint, not probed"
  run probe hub --peer "$(wg genkey | wg pubkey)"
  assert_failure 2
  assert_output --partial 'no [Peer] with public key'
  run probe hub --peer "$other"
  assert_failure 78
  assert_output --partial 'has no Endpoint'
}
