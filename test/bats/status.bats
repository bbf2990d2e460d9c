#!/usr/bin/env bats
# tunctl status tells the truth about a session run by hand (not under systemd): no unit in the
# human view when JSON says "unit": null, no journalctl in hints, the flags decoded as tunauth
# probe decodes them, a keepalive line, and the routes added with tunroute add.
bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/vtun

setup() { common_setup; vtun_setup; export NO_COLOR=1; }
teardown() { vtun_teardown; common_teardown; }

# tunctl/tunroute on the client side (its namespace, config and run directories)
client() { env TUND_RUN_DIR="$CRUN" TUND_CONFIG_DIR="$CDIR" ip netns exec "$NS_C" "$@"; }

@test "a client run by hand: no unit, decoded flags, keepalive, ad-hoc routes; hints without journalctl" {
  tund_conf "$SDIR" vts server tcp tun no lzo:1
  tund_conf "$CDIR" vtc client tcp tun no no
  start_tund_pair vts vtc
  run client tunctl wait vtc --state connected --timeout 20s
  assert_success
  run --separate-stderr client tunroute add vtc 198.19.88.0/24 -q
  assert_success

  run --separate-stderr client tunctl status vtc --json
  assert_success
  jq -e '.sessions[0] | .unit == null and .flags == "<TuL1K>" and .route.mode == "ad-hoc" and .route.prefixes == ["198.19.88.0/24"]' <<<"$output"

  run --separate-stderr client tunctl status vtc
  assert_success
  assert_line --index 0 'session: vtc'
  refute_output --partial 'tund@'
  assert_line --regexp '^  state: connected since '
  # the same words as tunauth probe
  assert_line '  flags: <TuL1K> tcp, tun, lzo level 1, no encryption, keepalive on'
  assert_line --regexp '^  keepalive: '
  refute_line --regexp '^  keepalive: off'
  assert_line '  routes: ad-hoc 198.19.88.0/24'

  # a hint for a session outside systemd points at its own output, not at the journal
  run --separate-stderr client tunctl wait vtc --state stopped --timeout 1
  assert_failure 1
  [[ $stderr == *'hint: see the log of "tund vtc" (its standard error), and "tunctl status vtc"'* ]]
  [[ $stderr != *journalctl* ]]
}
