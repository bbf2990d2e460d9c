#!/usr/bin/env bats
# tunroute end to end, inside network namespaces: a client namespace with a TUN device (the
# tunnel) and a veth underlay whose default gateway lives in a second namespace, which also holds
# the peer's endpoint 198.18.9.1. Assertions compare `ip -j route/rule` snapshots (jq -S) taken
# before and after, and ask the kernel (`ip route get`, ping) where packets go.

bats_require_minimum_version 1.5.0
load ../helpers/common

setup() {
  common_setup
  NS=$(make_netns c)
  GW=$(make_netns g)
  # no DAD: link-local addresses must not appear half-way through a snapshot comparison
  in_ns "$NS" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  in_ns "$GW" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  veth_pair "$NS" 198.18.0.2/24 "$GW" 198.18.0.1/24
  ip -n "$GW" addr add 198.18.9.1/32 dev lo
  ip -n "$NS" route add default via 198.18.0.1
  in_ns "$NS" ip tuntap add dev tr0 mode tun
  ip -n "$NS" addr add 198.18.100.2/24 dev tr0
  ip -n "$NS" link set tr0 up
  UNDERLAY="${TEST_TAG}a"
  # the underlay settles before any snapshot: carrier on (its routes lose "linkdown") and the
  # IPv6 link-local address in place, which a loaded machine can take a moment to get to
  wait_for 10 sh -c "ip -n $NS -j route show dev $UNDERLAY | jq -e 'length > 0 and all(.[]; (.flags // []) | index(\"linkdown\") | not)'"
  wait_for 10 sh -c "ip -n $NS -6 -j addr show dev $UNDERLAY scope link | jq -e '.[0].addr_info | length > 0'"
}

teardown() { common_teardown; }

# tables NS: every route (v4+v6, all tables) and rule, sorted keys, one JSON document
tables() {
  { ip -n "$1" -j -4 route show table all; ip -n "$1" -j -6 route show table all; ip -n "$1" -j -4 rule show; ip -n "$1" -j -6 rule show; } | jq -S -s .
}

# session config NAME with [Device] Name = tr0 and the given [Route] lines
write_conf() {
  local name=$1; shift
  {
    printf '[Session]\nRole = client\nEndpoint = 198.18.9.1:5000\n[Device]\nName = tr0\n[Route]\n'
    printf '%s\n' "$@"
  } >"$TUND_CONFIG_DIR/$name.conf"
  chmod 600 "$TUND_CONFIG_DIR/$name.conf"
}

tr() { in_ns "$NS" tunroute "$@"; }

# count_ours JSON: distinct objects tagged with our protocol (`ip -6 route show table all` may list a route twice)
count_ours() { jq 'map(select(.protocol == "250" or .protocol == "tunroute")) | unique | length'; }
our_routes() { echo $(( $(ip -n "$NS" -j -4 route show table all | count_ours) + $(ip -n "$NS" -j -6 route show table all | count_ours) )); }
our_rules() { echo $(( $(ip -n "$NS" -j -4 rule show | count_ours) + $(ip -n "$NS" -j -6 rule show | count_ours) )); }

@test "split: up adds tagged routes, down restores the exact tables" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24, 198.19.20.0/24' 'Metric = 30'
  before=$(tables "$NS")
  run --separate-stderr tr up office
  assert_success
  [[ $stderr == *"[#] ip -4 route add 198.19.10.0/24 dev tr0 metric 30 proto 250"* ]]
  run ip -n "$NS" -j route show proto 250
  assert_equal "$(jq -c '[.[] | [.dst, .dev, .metric]] | sort' <<<"$output")" '[["198.19.10.0/24","tr0",30],["198.19.20.0/24","tr0",30]]'
  run ip -n "$NS" -j route get 198.19.20.7
  assert_equal "$(jq -r '.[0].dev' <<<"$output")" tr0
  [[ -f $TUND_RUN_DIR/routes/office.json ]]
  run --separate-stderr tr down office
  assert_success
  assert_equal "$(tables "$NS")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/office.json ]]
}

@test "split with Table = N: routes in table N plus a tagged rule, down restores" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24' 'Table = 200'
  before=$(tables "$NS")
  tr up office
  run ip -n "$NS" -j route show table 200
  assert_equal "$(jq -c '[.[] | [.dst, .dev, .protocol]]' <<<"$output")" '[["198.19.10.0/24","tr0","250"]]'
  assert_equal "$(ip -n "$NS" -j rule show | jq -c '[.[] | select(.protocol == "250") | [.priority, .table]]')" '[[31002,"200"]]'
  assert_equal "$(ip -n "$NS" -j route get 198.19.10.9 | jq -r '.[0].dev')" tr0
  tr down office
  assert_equal "$(tables "$NS")" "$before"
}

@test "full: ordinary traffic goes into the tunnel, the endpoint through the underlay, ping works" {
  write_conf office 'Mode = full' 'Exclude = 198.19.100.0/24'
  before=$(tables "$NS")
  run --separate-stderr tr up office
  assert_success
  [[ $stderr != *warning* ]]
  # the kernel's decision, not our output
  run ip -n "$NS" -j route get 198.19.200.1
  assert_equal "$(jq -r '.[0].dev' <<<"$output")" tr0
  run ip -n "$NS" -j route get 198.18.9.1
  assert_equal "$(jq -r '.[0].dev + " " + .[0].gateway' <<<"$output")" "$UNDERLAY 198.18.0.1"
  run ip -n "$NS" -j route get 198.19.100.5
  assert_equal "$(jq -r '.[0].dev' <<<"$output")" "$UNDERLAY"
  # the connected underlay subnet stays reachable (suppress_prefixlength 0)
  assert_equal "$(ip -n "$NS" -j route get 198.18.0.1 | jq -r '.[0].dev')" "$UNDERLAY"
  in_ns "$NS" ping -c 1 -W 3 198.18.9.1
  # IPv6 as well: a default route in the tunnel table and the rules
  table=$(jq -r .table "$TUND_RUN_DIR/routes/office.json")
  [[ $table -ge 51820 ]]
  assert_equal "$(ip -n "$NS" -j -6 route show table "$table" | jq -c '[.[] | [.dst, .dev, .protocol]]')" '[["default","tr0","250"]]'
  assert_equal "$(ip -n "$NS" -j -6 rule show | jq -c "[.[] | select(.protocol == \"250\") | .priority]")" '[31001,31002]'
  # the main table was not touched
  assert_equal "$(ip -n "$NS" -j route show table main proto 250)" "[]"
  tr down office
  assert_equal "$(tables "$NS")" "$before"
  assert_equal "$(ip -n "$NS" -j route get 198.19.200.1 | jq -r '.[0].dev')" "$UNDERLAY"
}

@test "full (ad-hoc verb): --endpoint and --exclude, then cleanup restores the tables" {
  before=$(tables "$NS")
  run --separate-stderr tr full tr0 --endpoint 198.18.9.1:5000 --exclude 198.19.100.0/24 --exclude 198.19.101.0/24
  assert_success
  assert_equal "$(ip -n "$NS" -j route get 198.19.101.1 | jq -r '.[0].dev')" "$UNDERLAY"
  assert_equal "$(ip -n "$NS" -j route get 198.19.102.1 | jq -r '.[0].dev')" tr0
  assert_equal "$(ip -n "$NS" -j route get 198.18.9.1 | jq -r '.[0].dev')" "$UNDERLAY"
  in_ns "$NS" ping -c 1 -W 3 198.18.9.1
  [[ $(our_rules) -eq 7 ]]
  run --separate-stderr tr cleanup tr0
  assert_success
  assert_equal "$(tables "$NS")" "$before"
}

@test "up then cleanup restores the tables; cleanup twice exits 0 and says nothing" {
  write_conf office 'Mode = full'
  before=$(tables "$NS")
  tr up office
  [[ $(our_routes) -eq 2 && $(our_rules) -eq 5 ]]
  run --separate-stderr tr cleanup office
  assert_success
  assert_equal "$(tables "$NS")" "$before"
  run --separate-stderr tr cleanup office
  assert_success
  assert_equal "$stderr" ""
  assert_equal "$output" ""
  run tr cleanup never-was
  assert_success
  assert_equal "$(tables "$NS")" "$before"
}

@test "a conflicting route makes up fail and roll back: tables as before" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24, 198.19.11.0/24, 198.19.12.0/24'
  ip -n "$NS" route add 198.19.12.0/24 via 198.18.0.1
  before=$(tables "$NS")
  run --separate-stderr tr up office
  assert_failure 1
  [[ $stderr == *'cannot add route "198.19.12.0/24": route exists in table main; rolled back'* ]]
  [[ $stderr == *"[#] ip -4 route del 198.19.11.0/24 dev tr0 proto 250"* ]]
  assert_equal "$(tables "$NS")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/office.json ]]
}

@test "a conflicting rule in full mode rolls back routes and rules" {
  write_conf office 'Mode = full' 'Table = 51900'
  # someone else's identical switch-over rule, tagged like ours (e.g. another full tunnel)
  ip -n "$NS" rule add lookup 51900 priority 31002 protocol 250
  before=$(tables "$NS")
  run --separate-stderr tr up office
  assert_failure 1
  [[ $stderr == *"rolled back"* ]]
  assert_equal "$(tables "$NS")" "$before"
}

@test "cleanup leaves hand-made routes alone, even with the same prefix or on the same device" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24'
  tr up office
  ip -n "$NS" route add 198.19.10.0/24 via 198.18.0.1 metric 100
  ip -n "$NS" route add 198.19.77.0/24 dev tr0
  hand=$(ip -n "$NS" -j route show | jq -S -c '[.[] | select(.protocol != "250")]')
  run --separate-stderr tr cleanup office
  assert_success
  assert_equal "$(ip -n "$NS" -j route show | jq -S -c '[.[] | select(.protocol != "250")]')" "$hand"
  assert_equal "$(ip -n "$NS" -j route show | jq -c '[.[] | select(.dst == "198.19.10.0/24") | .gateway]')" '["198.18.0.1"]'
  assert_equal "$(ip -n "$NS" -j route show | jq -c '[.[] | select(.dst == "198.19.77.0/24") | .dev]')" '["tr0"]'
  [[ $(our_routes) -eq 0 ]]
}

@test "cleanup without a state file still removes our tagged routes on the device, and only those" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24'
  ip -n "$NS" route add 198.19.77.0/24 dev tr0
  before=$(tables "$NS")
  tr up office
  rm "$TUND_RUN_DIR/routes/office.json"
  run --separate-stderr tr cleanup office
  assert_success
  assert_equal "$(tables "$NS")" "$before"
}

@test "kill -9 in the middle of up, then cleanup restores the tables" {
  write_conf office 'Mode = full' 'Exclude = 198.19.100.0/24'
  before=$(tables "$NS")
  real_ip=$(command -v ip)
  shim=$BATS_TEST_TMPDIR/shim
  mkdir -p "$shim"
  # an `ip` that stops (sleeping) on the 4th "add": two routes and a rule are in by then
  cat >"$shim/ip" <<SHIM
#!/bin/bash
if [[ " \$* " == *" add "* ]]; then
  n=\$(( \$(cat "$shim/count" 2>/dev/null || echo 0) + 1 )); echo \$n >"$shim/count"
  if (( n == 4 )); then echo \$\$ >"$shim/paused"; exec sleep 30; fi
fi
exec $real_ip "\$@"
SHIM
  chmod +x "$shim/ip"
  pid=$(PATH="$shim:$PATH" spawn_bg "$BATS_TEST_TMPDIR/up.log" ip netns exec "$NS" tunroute up office)
  wait_for 30 test -s "$shim/paused"
  [[ $(our_routes) -eq 2 && $(our_rules) -eq 1 ]]
  kill -KILL "$pid"
  sleep_pid=$(cat "$shim/paused")
  kill -KILL "$sleep_pid"
  [[ "$(tables "$NS")" != "$before" ]]
  [[ -f $TUND_RUN_DIR/routes/office.json ]]
  run --separate-stderr tr cleanup office
  assert_success
  assert_equal "$(tables "$NS")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/office.json ]]
  run tr cleanup office
  assert_success
}

@test "SIGTERM in the middle of up rolls back by itself (exit 143)" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24, 198.19.11.0/24, 198.19.12.0/24'
  before=$(tables "$NS")
  real_ip=$(command -v ip)
  shim=$BATS_TEST_TMPDIR/shim
  mkdir -p "$shim"
  # stop (sleeping) in the 2nd "add", which then does nothing
  cat >"$shim/ip" <<SHIM
#!/bin/bash
if [[ " \$* " == *" add "* ]]; then
  n=\$(( \$(cat "$shim/count" 2>/dev/null || echo 0) + 1 )); echo \$n >"$shim/count"
  if (( n == 2 )); then echo \$\$ >"$shim/paused"; exec sleep 30; fi
fi
exec $real_ip "\$@"
SHIM
  chmod +x "$shim/ip"
  # started here (not through spawn_bg's subshell) so that `wait` gets its exit status
  PATH="$shim:$PATH" ip netns exec "$NS" tunroute up office >"$BATS_TEST_TMPDIR/up.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >>"$TEST_PIDS_LIST"
  wait_for 30 test -s "$shim/paused"
  [[ $(our_routes) -eq 1 ]]
  kill -TERM "$pid"
  # tunroute took the signal: now let the step under way end
  wait_for 10 grep -q 'SIGTERM: finishing the current step, then rolling back' "$BATS_TEST_TMPDIR/up.log"
  kill -KILL "$(cat "$shim/paused")"
  rc=0
  wait "$pid" || rc=$?
  cat "$BATS_TEST_TMPDIR/up.log"
  [[ $rc -eq 143 ]]
  grep -q 'interrupted by SIGTERM; rolled back' "$BATS_TEST_TMPDIR/up.log"
  assert_equal "$(tables "$NS")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/office.json ]]
}

@test "--dry-run changes nothing and prints the plan" {
  write_conf office 'Mode = full' 'Exclude = 198.19.100.0/24'
  before=$(tables "$NS")
  run --separate-stderr tr up office --dry-run
  assert_success
  [[ $stderr == *"[#] ip -4 route add default dev tr0 table 51820 proto 250"* ]]
  [[ $stderr == *"[#] ip -4 rule add to 198.18.9.1/32 lookup main priority 31000 protocol 250"* ]]
  [[ $stderr == *"[#] ip -4 rule add to 198.19.100.0/24 lookup main priority 31000 protocol 250"* ]]
  [[ $stderr == *"[#] ip -4 rule add lookup 51820 priority 31002 protocol 250"* ]]
  assert_equal "$(tables "$NS")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/office.json ]]
  run --separate-stderr tr full tr0 --endpoint 198.18.9.1 -n -q
  assert_success
  [[ $stderr == *"[#] ip -4 rule add lookup main suppress_prefixlength 0 priority 31001 protocol 250"* ]]
  run --separate-stderr tr add tr0 198.19.30.0/24 --dry-run
  assert_success
  assert_equal "$stderr" "[#] ip -4 route add 198.19.30.0/24 dev tr0 proto 250"
  assert_equal "$(tables "$NS")" "$before"
  # and for removals
  tr up office
  applied=$(tables "$NS")
  for verb in down cleanup; do
    run --separate-stderr tr "$verb" office --dry-run
    assert_success
    [[ $stderr == *"[#] ip -4 rule del lookup 51820 priority 31002 protocol 250"* ]]
    assert_equal "$(tables "$NS")" "$applied"
  done
  tr cleanup office
  assert_equal "$(tables "$NS")" "$before"
}

@test "add and del: ad-hoc routes through the session's device (device = NAME without config)" {
  before=$(tables "$NS")
  run --separate-stderr tr add tr0 198.19.30.0/24 198.19.31.7/24 --metric 40
  assert_success
  [[ $stderr == *'has host bits set (using 198.19.31.0/24)'* ]]
  assert_equal "$(ip -n "$NS" -j route show proto 250 | jq -c '[.[] | [.dst, .dev, .metric]] | sort')" '[["198.19.30.0/24","tr0",40],["198.19.31.0/24","tr0",40]]'
  run --separate-stderr tr add tr0 198.19.32.0/24 --via 198.18.100.1 --table 300
  assert_success
  assert_equal "$(ip -n "$NS" -j route show table 300 | jq -c '[.[] | [.dst, .gateway, .dev, .protocol]]')" '[["198.19.32.0/24","198.18.100.1","tr0","250"]]'
  run --separate-stderr tr del tr0 198.19.30.0/24
  assert_success
  assert_equal "$(ip -n "$NS" -j route show proto 250 | jq -c '[.[] | .dst]')" '["198.19.31.0/24"]'
  run --separate-stderr tr del tr0 198.19.99.0/24
  assert_failure 1
  [[ $stderr == *'no route "198.19.99.0/24" recorded'* ]]
  run --separate-stderr tr add tr0 198.19.31.0/24 --metric 40
  assert_failure 1
  tr cleanup tr0
  assert_equal "$(tables "$NS")" "$before"
}

@test "down keeps ad-hoc routes; a session config's [Device] Name is used by add" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24'
  tr up office
  tr add office 198.19.40.0/24
  assert_equal "$(ip -n "$NS" -j route show proto 250 | jq -c '[.[] | [.dst, .dev]] | sort')" '[["198.19.10.0/24","tr0"],["198.19.40.0/24","tr0"]]'
  tr down office
  assert_equal "$(ip -n "$NS" -j route show proto 250 | jq -c '[.[] | .dst]')" '["198.19.40.0/24"]'
  tr cleanup office
  [[ $(our_routes) -eq 0 ]]
}

@test "show: text and --json (format 1, every key present), exit 3 for an unknown session" {
  write_conf office 'Mode = full'
  tr up office
  run --separate-stderr tr show office --json
  assert_success
  jq -e '.format == 1 and (.sessions | length == 1)' <<<"$output"
  jq -e '.sessions[0] | keys == ["device","dns","endpoints","mode","name","routes","rules","table","updated"]' <<<"$output"
  jq -e '.sessions[0] | .mode == "full" and .device == "tr0" and .endpoints == ["198.18.9.1"] and .dns == null' <<<"$output"
  jq -e '[.sessions[0].routes[] | keys] | unique == [["dev","dst","family","gateway","metric","origin","present","protocol","table"]]' <<<"$output"
  jq -e '[.sessions[0].routes[], .sessions[0].rules[] | .present] | all' <<<"$output"
  # a rule removed behind our back is reported missing
  ip -n "$NS" rule del priority 31000 to 198.18.9.1 lookup main protocol 250
  run --separate-stderr tr show office --json
  jq -e '[.sessions[0].rules[] | select(.present == false) | .dst] == ["198.18.9.1/32"]' <<<"$output"
  run --separate-stderr tr show
  assert_success
  [[ $output == *"session: office"* && $output == *"mode: full (table 51820)"* && $output == *"(missing)"* ]]
  run --separate-stderr tr show nosuch
  assert_failure 3
  assert_equal "$(jq -c . <<<"$(tr show nosuch --json 2>/dev/null)")" '{"format":1,"sessions":[]}'
  tr cleanup office
}

@test "DNS without systemd-resolved or resolvconf: exit 69, nothing changed" {
  if [[ -d /run/systemd/resolve ]] || command -v resolvconf >/dev/null; then
    skip "this host has a DNS backend (the sandbox suite tests them)"
  fi
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24' 'DNS = 198.18.0.53' 'DNSDomains = corp.example'
  before=$(tables "$NS")
  run --separate-stderr tr up office
  assert_failure 69
  [[ $stderr == *"neither systemd-resolved (running) nor resolvconf found"* ]]
  assert_equal "$(tables "$NS")" "$before"
}

@test "usage errors exit 2 and change nothing" {
  before=$(tables "$NS")
  run --separate-stderr tr add tr0 198.19.300.0/24
  assert_failure 2
  run --separate-stderr tr add 'bad/name' 198.19.30.0/24
  assert_failure 2
  run --separate-stderr tr full tr0
  assert_failure 2
  run --separate-stderr tr full tr0 --endpoint 198.18.9.1 --table main
  assert_failure 2
  run --separate-stderr tr add tr0 198.19.30.0/24 --table 255
  assert_failure 2
  assert_equal "$(tables "$NS")" "$before"
}

@test "up with Mode = full and Table = off is a config error (78)" {
  write_conf office 'Mode = full' 'Table = off'
  run --separate-stderr tr up office
  assert_failure 78
  [[ $stderr == *"needs its own routing table"* ]]
}

@test "a missing or down device: clear error, nothing left behind" {
  before=$(tables "$NS")
  run --separate-stderr tr add nosuch 198.19.30.0/24
  assert_failure 1
  [[ $stderr == *'device "nosuch" does not exist; rolled back'* ]]
  ip -n "$NS" link set tr0 down
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24'
  run --separate-stderr tr up office
  assert_failure 1
  [[ $stderr == *'device "tr0" is down; rolled back'* ]]
  ip -n "$NS" link set tr0 up
  assert_equal "$(tables "$NS")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/office.json && ! -e $TUND_RUN_DIR/routes/nosuch.json ]]
}

@test "full: an endpoint without a route outside the tunnel gets a warning" {
  ip -n "$NS" route del default via 198.18.0.1
  run --separate-stderr tr full tr0 --endpoint 198.19.250.1
  assert_success
  [[ $stderr == *'warning: tr0: the endpoint 198.19.250.1 has no route outside "tr0" in the main table'* ]]
  tr cleanup tr0
}

@test "without CAP_NET_ADMIN: exit 77, nothing recorded" {
  command -v setpriv >/dev/null || skip "setpriv not installed"
  before=$(tables "$NS")
  run --separate-stderr in_ns "$NS" setpriv --bounding-set=-net_admin --inh-caps=-net_admin "$PROJECT_ROOT/bin/tunroute" add tr0 198.19.30.0/24
  assert_failure 77
  [[ $stderr == *"Operation not permitted"* && $stderr == *"hint: this needs CAP_NET_ADMIN"* ]]
  assert_equal "$(tables "$NS")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/tr0.json ]]
}
