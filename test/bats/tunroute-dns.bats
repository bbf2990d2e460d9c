#!/usr/bin/env bats
# tunroute's DNS backends under a real systemd (test/helpers/systemd-sandbox.sh): one sandbox runs
# systemd-resolved, the other has Debian's resolvconf. Neither package is installed on the host
# (their postinst rewrites /etc/resolv.conf): the .debs are downloaded once into
# /var/cache/tund-test/ and installed with dpkg *inside* the sandboxes, whose root is a throw-away
# overlay. Each sandbox has its own network namespace with a TUN device tr0 as the tunnel.

bats_require_minimum_version 1.5.0
load ../helpers/common

SB=$PROJECT_ROOT/test/helpers/systemd-sandbox.sh
DEB_CACHE=/var/cache/tund-test

fetch_debs() {
  mkdir -p "$DEB_CACHE"
  local pkg
  for pkg in systemd-resolved resolvconf; do
    compgen -G "$DEB_CACHE/${pkg}_*.deb" >/dev/null && continue
    (cd "$DEB_CACHE" && timeout 120 apt-get download "$pkg") >&2 || return 1
  done
}

# sb NAME CMD...: run CMD inside sandbox NAME
sb() { local name=$1; shift; "$SB" exec "$name" "$@"; }

start_sandbox() { # start_sandbox NAME PACKAGE
  local name=$1 pkg=$2
  "$SB" start "$name" /tmp "$PROJECT_ROOT" >&2 || return 1
  sb "$name" sh -c "DEBIAN_FRONTEND=noninteractive dpkg -i --force-depends $DEB_CACHE/${pkg}_*.deb" >&2 || return 1
  sb "$name" sh -c 'ip tuntap add dev tr0 mode tun && ip addr add 198.18.100.2/24 dev tr0 && ip link set tr0 up' >&2 || return 1
}

setup_file() {
  # A sandbox that cannot run is a broken test set-up, not a reason to skip: fail in setup().
  [[ -x /lib/systemd/systemd ]] || { export SETUP_FAILURE="the systemd sandbox needs systemd installed (apt-get install systemd)"; return 0; }
  fetch_debs || { export SKIP_REASON="cannot download systemd-resolved/resolvconf .debs (no apt network and nothing in $DEB_CACHE)"; return 0; }
  export SB_RESOLVED="trdns$$r" SB_RESOLVCONF="trdns$$c"
  export HOST_RESOLV_SUM
  HOST_RESOLV_SUM=$(sha256sum /etc/resolv.conf | cut -d' ' -f1)
  start_sandbox "$SB_RESOLVED" systemd-resolved
  sb "$SB_RESOLVED" systemctl start systemd-resolved.service >&2
  start_sandbox "$SB_RESOLVCONF" resolvconf
}

teardown_file() {
  [[ -n ${SB_RESOLVED:-} ]] && "$SB" stop "$SB_RESOLVED" >&2
  [[ -n ${SB_RESOLVCONF:-} ]] && "$SB" stop "$SB_RESOLVCONF" >&2
  # the host's resolver configuration was never touched
  if [[ -n ${HOST_RESOLV_SUM:-} ]]; then
    [[ $(sha256sum /etc/resolv.conf | cut -d' ' -f1) == "$HOST_RESOLV_SUM" ]]
  fi
}

setup() {
  [[ -z ${SETUP_FAILURE:-} ]] || fail "$SETUP_FAILURE"
  [[ -z ${SKIP_REASON:-} ]] || skip "$SKIP_REASON"
  common_setup
}
teardown() { common_teardown; }

write_conf() {
  local name=$1; shift
  {
    printf '[Session]\nRole = client\nEndpoint = 198.18.9.1:5000\n[Device]\nName = tr0\n[Route]\n'
    printf '%s\n' "$@"
  } >"$TUND_CONFIG_DIR/$name.conf"
  chmod 600 "$TUND_CONFIG_DIR/$name.conf"
}

# trs SANDBOX ARGS...: tunroute inside a sandbox, with this test's config and run dirs
trs() { local name=$1; shift; sb "$name" env TUND_CONFIG_DIR="$TUND_CONFIG_DIR" TUND_RUN_DIR="$TUND_RUN_DIR" "$PROJECT_ROOT/bin/tunroute" "$@"; }

tables_in() { sb "$1" sh -c 'ip -j -4 route show table all; ip -j -6 route show table all; ip -j -4 rule; ip -j -6 rule' | jq -S -s .; }

@test "resolved: split tunnel sets link DNS and a routing domain; down reverts them" {
  sb "$SB_RESOLVED" test -d /run/systemd/resolve
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24' 'DNS = 198.18.0.53' 'DNSDomains = corp.example'
  before=$(tables_in "$SB_RESOLVED")
  link_before=$(sb "$SB_RESOLVED" readlink /etc/resolv.conf)
  run --separate-stderr trs "$SB_RESOLVED" up office
  assert_success
  [[ $stderr == *"[#] resolvectl dns tr0 198.18.0.53"* ]]
  assert_equal "$(sb "$SB_RESOLVED" resolvectl dns tr0)" "Link 2 (tr0): 198.18.0.53"
  assert_equal "$(sb "$SB_RESOLVED" resolvectl domain tr0)" "Link 2 (tr0): ~corp.example"
  assert_equal "$(sb "$SB_RESOLVED" resolvectl default-route tr0)" "Link 2 (tr0): no"
  assert_equal "$(jq -c '.dns | [.backend, .link, .servers, .domains, .defaultRoute]' "$TUND_RUN_DIR/routes/office.json")" '["resolved","tr0",["198.18.0.53"],["~corp.example"],false]'
  assert_equal "$(sb "$SB_RESOLVED" ip -j route show proto 250 | jq -c '[.[].dst]')" '["198.19.10.0/24"]'
  run --separate-stderr trs "$SB_RESOLVED" down office
  assert_success
  [[ $stderr == *"[#] resolvectl revert tr0"* ]]
  assert_equal "$(sb "$SB_RESOLVED" resolvectl dns tr0)" "Link 2 (tr0):"
  assert_equal "$(sb "$SB_RESOLVED" resolvectl domain tr0)" "Link 2 (tr0):"
  assert_equal "$(tables_in "$SB_RESOLVED")" "$before"
  assert_equal "$(sb "$SB_RESOLVED" readlink /etc/resolv.conf)" "$link_before"
}

@test "resolved: full tunnel uses ~. and default-route; cleanup removes it, twice is fine" {
  write_conf office 'Mode = full' 'DNS = 198.18.0.53, 198.18.0.54' 'DNSDomains = corp.example'
  before=$(tables_in "$SB_RESOLVED")
  run --separate-stderr trs "$SB_RESOLVED" up office
  assert_success
  assert_equal "$(sb "$SB_RESOLVED" resolvectl dns tr0)" "Link 2 (tr0): 198.18.0.53 198.18.0.54"
  assert_equal "$(sb "$SB_RESOLVED" resolvectl domain tr0)" "Link 2 (tr0): ~. corp.example"
  assert_equal "$(sb "$SB_RESOLVED" resolvectl default-route tr0)" "Link 2 (tr0): yes"
  run --separate-stderr trs "$SB_RESOLVED" show office --json
  jq -e '.sessions[0].dns == {"backend":"resolved","link":"tr0","servers":["198.18.0.53","198.18.0.54"],"domains":["~.","corp.example"],"default_route":true,"record":null}' <<<"$output"
  run --separate-stderr trs "$SB_RESOLVED" cleanup office
  assert_success
  assert_equal "$(sb "$SB_RESOLVED" resolvectl dns tr0)" "Link 2 (tr0):"
  assert_equal "$(sb "$SB_RESOLVED" resolvectl domain tr0)" "Link 2 (tr0):"
  assert_equal "$(tables_in "$SB_RESOLVED")" "$before"
  run --separate-stderr trs "$SB_RESOLVED" cleanup office
  assert_success
  assert_equal "$stderr" ""
}

@test "resolved: a DNS failure half-way rolls back the DNS and the routes" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24, 198.19.11.0/24' 'DNS = 198.18.0.53' 'DNSDomains = corp.example'
  # a resolvectl that refuses "domain" (after "dns" went through)
  real=$(sb "$SB_RESOLVED" sh -c 'command -v resolvectl')
  shim=$BATS_TEST_TMPDIR/shim
  mkdir -p "$shim"
  printf '#!/bin/sh\nif [ "$1" = domain ]; then echo "Failed to set domain configuration: injected" >&2; exit 1; fi\nexec %s "$@"\n' "$real" >"$shim/resolvectl"
  chmod +x "$shim/resolvectl"
  before=$(tables_in "$SB_RESOLVED")
  run --separate-stderr sb "$SB_RESOLVED" env PATH="$shim:/usr/sbin:/usr/bin:/sbin:/bin" TUND_CONFIG_DIR="$TUND_CONFIG_DIR" TUND_RUN_DIR="$TUND_RUN_DIR" "$PROJECT_ROOT/bin/tunroute" up office
  assert_failure 1
  [[ $stderr == *"injected"* ]]
  [[ $stderr == *"[#] resolvectl revert tr0"* ]]
  assert_equal "$(sb "$SB_RESOLVED" resolvectl dns tr0)" "Link 2 (tr0):"
  assert_equal "$(tables_in "$SB_RESOLVED")" "$before"
  [[ ! -e $TUND_RUN_DIR/routes/office.json ]]
}

# a session that is not root (tund@.service, TUND_DNS=delegate) only writes dnsRequest into its
# state; root's `tunroute dns` applies it. The state is written here as such a session writes it.
# Last of the resolved tests: it makes tr0 again (a new ifindex), as a reconnect does.
ask_dns() { # ask_dns REQUEST_JSON|null: what the session writes, root's "dns" left as it is
  local f=$TUND_RUN_DIR/routes/office.json
  { [[ -e $f ]] && cat "$f" || echo '{"format":1,"name":"office","device":"tr0","mode":"split","table":null,"endpoints":[],"entries":[],"dns":null}'; } |
    jq --argjson r "$1" '.dnsRequest = $r' >"$f.new" && mv "$f.new" "$f"
}

@test "resolved: tunroute dns applies what a delegating session asks for, reverts it when withdrawn, and again on a device made anew" {
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24' 'DNS = 198.18.0.53' 'DNSDomains = corp.example'
  mkdir -p "$TUND_RUN_DIR/routes"
  local req='{"link":"tr0","servers":["198.18.0.53"],"domains":["corp.example"],"mode":"split"}'
  ask_dns "$req"
  run --separate-stderr trs "$SB_RESOLVED" dns office
  assert_success
  [[ $stderr == *"[#] resolvectl dns tr0 198.18.0.53"* ]]
  assert_equal "$(sb "$SB_RESOLVED" resolvectl domain tr0)" "Link 2 (tr0): ~corp.example"
  assert_equal "$(jq -c '.dns | [.backend, .link, .servers]' "$TUND_RUN_DIR/routes/office.json")" '["resolved","tr0",["198.18.0.53"]]'
  # the link goes down: the session withdraws, root reverts and the state is gone
  ask_dns null
  run --separate-stderr trs "$SB_RESOLVED" dns office
  assert_success
  [[ $stderr == *"[#] resolvectl revert tr0"* ]]
  assert_equal "$(sb "$SB_RESOLVED" resolvectl dns tr0)" "Link 2 (tr0):"
  [[ ! -e $TUND_RUN_DIR/routes/office.json ]]
  # a reconnect makes the device anew (resolved forgot the old one's DNS with it) and asks again
  sb "$SB_RESOLVED" sh -c 'ip link del tr0 && ip tuntap add dev tr0 mode tun && ip link set tr0 up'
  ask_dns "$req"
  run --separate-stderr trs "$SB_RESOLVED" dns office
  assert_success
  run sb "$SB_RESOLVED" resolvectl dns tr0
  assert_output --regexp '^Link [0-9]+ \(tr0\): 198.18.0.53$'
  refute_output --partial 'Link 2 '
  run --separate-stderr trs "$SB_RESOLVED" cleanup office
  assert_success
  assert_equal "$(sb "$SB_RESOLVED" resolvectl dns tr0 | sed 's/.*: *//')" ''
}

@test "resolvconf: up adds the record LINK.tund, down removes it; /etc/resolv.conf is resolvconf's" {
  sb "$SB_RESOLVCONF" test ! -d /run/systemd/resolve
  write_conf office 'Mode = split' 'AllowedIPs = 198.19.10.0/24' 'DNS = 198.18.0.53' 'DNSDomains = corp.example'
  before=$(tables_in "$SB_RESOLVCONF")
  run --separate-stderr trs "$SB_RESOLVCONF" up office
  assert_success
  [[ $stderr == *"[#] resolvconf -a tr0.tund"* ]]
  assert_equal "$(sb "$SB_RESOLVCONF" cat /run/resolvconf/interface/tr0.tund)" $'nameserver 198.18.0.53\nsearch corp.example'
  sb "$SB_RESOLVCONF" grep -qx 'nameserver 198.18.0.53' /etc/resolv.conf
  assert_equal "$(sb "$SB_RESOLVCONF" readlink /etc/resolv.conf)" "../run/resolvconf/resolv.conf"
  run --separate-stderr trs "$SB_RESOLVCONF" down office
  assert_success
  sb "$SB_RESOLVCONF" test ! -e /run/resolvconf/interface/tr0.tund
  run sb "$SB_RESOLVCONF" grep -c '198.18.0.53' /etc/resolv.conf
  assert_output 0
  assert_equal "$(tables_in "$SB_RESOLVCONF")" "$before"
}

@test "resolvconf: cleanup after up removes the record; again exits 0" {
  write_conf office 'Mode = full' 'DNS = 198.18.0.53'
  before=$(tables_in "$SB_RESOLVCONF")
  trs "$SB_RESOLVCONF" up office
  sb "$SB_RESOLVCONF" test -e /run/resolvconf/interface/tr0.tund
  run --separate-stderr trs "$SB_RESOLVCONF" cleanup office
  assert_success
  sb "$SB_RESOLVCONF" test ! -e /run/resolvconf/interface/tr0.tund
  assert_equal "$(tables_in "$SB_RESOLVCONF")" "$before"
  run trs "$SB_RESOLVCONF" cleanup office
  assert_success
}
