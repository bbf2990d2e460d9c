#!/usr/bin/env bats
# tunauth genkey / pubkey / genpsk against the real wg(8) from wireguard-tools: each tool reads the
# other's keys and derives the same public keys; both refuse the same malformed keys; keys never
# leave through argv or stderr; files are written 0600.

load ../helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

@test "tunauth genkey -> wg pubkey and tunauth pubkey agree (20 keys)" {
  for _ in $(seq 20); do
    key=$(tunauth genkey)
    [[ $key =~ ^[A-Za-z0-9+/]{43}=$ ]]
    assert_equal "$(tunauth pubkey <<<"$key")" "$(wg pubkey <<<"$key")"
  done
}

@test "wg genkey -> tunauth pubkey and wg pubkey agree (20 keys)" {
  for _ in $(seq 20); do
    key=$(wg genkey)
    assert_equal "$(tunauth pubkey <<<"$key")" "$(wg pubkey <<<"$key")"
  done
}

@test "genpsk: 32 random bytes in base64, readable by wg; wg genpsk readable by tunauth" {
  a=$(tunauth genpsk)
  b=$(tunauth genpsk)
  [[ $a =~ ^[A-Za-z0-9+/]{43}=$ && $a != "$b" ]]
  assert_equal "$(printf '%s' "$a" | base64 -d | wc -c)" 32
  run wg pubkey <<<"$a"
  assert_success
  run tunauth pubkey <<<"$(wg genpsk)"
  assert_success
}

@test "pubkey refuses what wg pubkey refuses (length, alphabet, stray bits), exit 1, key not echoed" {
  local good
  good=$(wg genkey)
  for bad in "" "${good%?}" "${good}A" "${good:0:42}B=" "${good:0:20}*${good:21}" "$good $good"; do
    run wg pubkey <<<"$bad"
    assert_failure
    run tunauth pubkey <<<"$bad"
    assert_failure 1
    assert_output --partial 'not a WireGuard key'
    [[ -z $bad || $output != *"$bad"* ]]
  done
  # whitespace after a key is fine for both (tunauth also allows it before)
  assert_equal "$(printf '%s \n\n' "$good" | tunauth pubkey)" "$(printf '%s \n\n' "$good" | wg pubkey)"
  assert_equal "$(printf '  %s\n' "$good" | tunauth pubkey)" "$(wg pubkey <<<"$good")"
}

@test "no keys on argv: pubkey KEY is a usage error" {
  run tunauth pubkey "$(wg genkey)"
  assert_failure 2
}

@test "--output writes 0600 atomically even under umask 022; a readable stdout file gets a warning" {
  umask 022
  run tunauth genkey --output "$BATS_TEST_TMPDIR/k/office.key"
  assert_success
  assert_equal "$(stat -c %a "$BATS_TEST_TMPDIR/k/office.key")" 600
  run wg pubkey <"$BATS_TEST_TMPDIR/k/office.key"
  assert_success
  tunauth genpsk --output "$BATS_TEST_TMPDIR/k/office.psk"
  assert_equal "$(stat -c %a "$BATS_TEST_TMPDIR/k/office.psk")" 600
  tunauth genkey >"$BATS_TEST_TMPDIR/plain.key" 2>"$BATS_TEST_TMPDIR/err"
  grep -q 'warning: stdout is a file accessible by group and others' "$BATS_TEST_TMPDIR/err"
  ! grep -qF "$(cat "$BATS_TEST_TMPDIR/plain.key")" "$BATS_TEST_TMPDIR/err"
  (umask 077 && tunauth genkey >"$BATS_TEST_TMPDIR/private.key" 2>"$BATS_TEST_TMPDIR/err2")
  [[ ! -s $BATS_TEST_TMPDIR/err2 ]]
}
