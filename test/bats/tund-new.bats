#!/usr/bin/env bats
# tund new and tund peer add: the session files tund's own tools write. WireGuard by default, the
# private key made here and kept in the file only (mode 0600), the public key alone on stdout;
# files never replaced; the same validators as the file parser; VTun as the migration path. The
# files are read back by the real wg(8)/wg-quick and by tund check. No namespace needed: nothing
# here touches the network (the README quick start, readme.bats, runs them for real).
bats_require_minimum_version 1.5.0

load ../helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

conf() { echo "$TUND_CONFIG_DIR/$1.conf"; }

@test "tund new: a WireGuard file with a fresh key, the public key alone on stdout, next steps on stderr; never replaced" {
  local peer
  peer=$(wg genkey | wg pubkey)
  run --separate-stderr tund new hq --listen-port 51820 --address 198.19.0.1/24 --address 2001:2::1/64 --dns 198.19.0.53 \
    --peer "$peer" --endpoint 198.18.0.2:51820 --allowed-ips 198.19.0.2/32,2001:2::2/128 --persistent-keepalive 25
  assert_success
  # stdout: the public key of the private key in the file, as wg(8) derives it
  local private
  private=$(sed -n 's/^PrivateKey = //p' "$(conf hq)")
  assert_equal "$output" "$(wg pubkey <<<"$private")"
  [[ $stderr == *'next:'* && $stderr == *"tund hq"* ]]
  [[ $stderr != *"$private"* ]]
  assert_equal "$(stat -c %a "$(conf hq)")" 600
  # what wg-quick and tund read back
  run wg-quick strip "$(conf hq)"
  assert_success
  assert_line "ListenPort = 51820"
  assert_line "PublicKey = $peer"
  assert_line "AllowedIPs = 198.19.0.2/32, 2001:2::2/128"
  assert_line "Endpoint = 198.18.0.2:51820"
  assert_line "PersistentKeepalive = 25"
  run tund check hq
  assert_success
  assert_output --partial "hq: ok (wireguard, device hq, UDP port 51820, 1 peer)"
  # a second tund new never replaces it
  local before
  before=$(sha256sum <"$(conf hq)")
  run --separate-stderr tund new hq
  assert_failure 1
  [[ $stderr == *"$(conf hq) already exists; nothing was written"* ]]
  assert_equal "$(sha256sum <"$(conf hq)")" "$before"
  # every run makes its own key
  tund new -q other >/dev/null
  [[ $(sed -n 's/^PrivateKey = //p' "$(conf other)") != "$private" ]]
}

@test "tund new: bad options are usage errors (exit 2) with the file parser's words, and write nothing" {
  run --separate-stderr tund new a --endpoint 198.18.0.2
  assert_failure 2
  [[ $stderr == *'invalid value for --endpoint: "198.18.0.2" has no port'* ]]
  run --separate-stderr tund new a --allowed-ips 198.19.0.0/33
  assert_failure 2
  [[ $stderr == *'--allowed-ips: "198.19.0.0/33"'* ]]
  run --separate-stderr tund new a --endpoint 198.18.0.2:51820
  assert_failure 2
  [[ $stderr == *'--endpoint describes a peer: give its public key with --peer'* ]]
  run --separate-stderr tund new a --peer 198.19.0.2
  assert_failure 2
  run --separate-stderr tund new a --protocol vtun --allowed-ips 198.19.0.2/32
  assert_failure 2
  [[ $stderr == *'WireGuard options'* ]]
  run --separate-stderr tund new 'a name'
  assert_failure 2
  [ ! -e "$(conf a)" ]
}

@test "tund new --protocol vtun: a VTun session that needs its secret (tunauth passwd), then checks" {
  run --separate-stderr tund new legacy --protocol vtun --endpoint 198.18.0.1:5000 --address 198.19.1.2/32 --peer 198.19.1.1
  assert_success
  assert_output ''
  [[ $stderr == *'tunauth passwd legacy'* ]]
  assert_equal "$(stat -c %a "$(conf legacy)")" 600
  run tund check legacy
  assert_failure 78
  tunauth passwd legacy <<<"legacy-$RANDOM"
  run tund check legacy
  assert_success
  assert_output --partial 'legacy: ok'
  run tund showconf legacy
  assert_line 'Role = client'
  assert_line 'Endpoint = 198.18.0.1:5000'
  assert_line 'Peer = 198.19.1.1'
}

@test "tund peer add: appends a [Peer] and keeps the rest of the file; refuses a known peer, a VTun file, a broken file, no file" {
  tund new -q hq --listen-port 51820 --address 198.19.0.1/24 >/dev/null
  sed -i '1i # hand-written comment, kept' "$(conf hq)"
  local first second
  first=$(wg genkey | wg pubkey) second=$(wg genkey | wg pubkey)
  run --separate-stderr tund peer add hq "$first" --allowed-ips 198.19.0.2/32
  assert_success
  [[ $stderr == *"added peer $first"* && $stderr == *'tunctl reload hq'* ]]
  tund peer add -q hq "$second" --allowed-ips 198.19.0.3/32 --endpoint '[2001:2::3]:51820'
  run head -n1 "$(conf hq)"
  assert_output '# hand-written comment, kept'
  run wg-quick strip "$(conf hq)"
  assert_line "PublicKey = $first"
  assert_line "PublicKey = $second"
  assert_line "Endpoint = [2001:2::3]:51820"
  assert_equal "$(stat -c %a "$(conf hq)")" 600
  run tund check hq
  assert_output --partial '2 peers'
  # a peer it has: exit 1, the file as it was
  local before
  before=$(sha256sum <"$(conf hq)")
  run --separate-stderr tund peer add hq "$first"
  assert_failure 1
  [[ $stderr == *"already has peer $first"* ]]
  assert_equal "$(sha256sum <"$(conf hq)")" "$before"
  # a broken file: its problems (exit 78), nothing written
  echo 'PublicKye = x' >>"$(conf hq)"
  run --separate-stderr tund peer add hq "$(wg genkey | wg pubkey)"
  assert_failure 78
  [[ $stderr == *"$(conf hq):"*'PublicKye'* ]]
  # a VTun session, no session
  tund new -q v --protocol vtun 2>/dev/null
  run --separate-stderr tund peer add v "$first"
  assert_failure 1
  [[ $stderr == *'not a WireGuard session'* ]]
  run --separate-stderr tund peer add nosuch "$first"
  assert_failure 1
  [[ $stderr == *'tund new nosuch'* ]]
}
