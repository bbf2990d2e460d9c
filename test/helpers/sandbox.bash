# shellcheck shell=bash
# bats helpers for tests under a real systemd (test/helpers/systemd-sandbox.sh): systemd as PID 1
# in its own namespaces (private network, overlay root discarded at stop). tund is installed inside
# with `make install PREFIX=/usr/local`, as a user would.
#
#   load ../helpers/common
#   load ../helpers/sandbox
#   setup_file()    { sandbox_start systemd; sandbox_install; }
#   teardown_file() { sandbox_stop; }
#   sb systemctl start tund@office       # any command inside (stdin/stdout/exit code pass through)

TUND_SANDBOX_SH=$PROJECT_ROOT/test/helpers/systemd-sandbox.sh

# Why the sandbox cannot run here (empty when it can): the suites fail with this message.
sandbox_problem() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "the systemd sandbox needs root"
  elif [[ ! -x /lib/systemd/systemd ]]; then
    echo "the systemd sandbox needs systemd installed (apt-get install systemd; it need not be running)"
  fi
}

# sandbox_start TAG: a sandbox unique to this run (name tund-TAG-PID), /tmp and the project shared.
sandbox_start() {
  export SANDBOX_NAME="tund-$1-$$"
  "$TUND_SANDBOX_SH" start "$SANDBOX_NAME" /tmp "$PROJECT_ROOT"
}

sandbox_stop() {
  [[ -n ${SANDBOX_NAME:-} ]] || return 0
  "$TUND_SANDBOX_SH" stop "$SANDBOX_NAME"
}

# Inside, commands see a user's environment: the installed /usr/local/bin first, not the repo's
# bin/ that common.bash puts on PATH, and no TUND_* test overrides.
SB_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
sb() { "$TUND_SANDBOX_SH" exec "$SANDBOX_NAME" env -u TUND_CONFIG_DIR -u TUND_RUN_DIR PATH="$SB_PATH" "$@"; }

# make install inside, under the lock the addon builders take, so that a concurrent rebuild of
# native/ by someone else never hands us a half-written .node file.
sandbox_install() {
  sb flock -w 600 /tmp/tund-native.lock make -C "$PROJECT_ROOT" install PREFIX=/usr/local
}

# sandbox_deb PKG: install a Debian package inside the sandbox only (its root is a throw-away
# overlay; the host never gets it). The .deb is downloaded once into /var/cache/tund-test.
TUND_DEB_CACHE=/var/cache/tund-test
sandbox_deb() {
  mkdir -p "$TUND_DEB_CACHE"
  compgen -G "$TUND_DEB_CACHE/${1}_*.deb" >/dev/null || (cd "$TUND_DEB_CACHE" && timeout 120 apt-get download "$1") || return 1
  sb sh -c "DEBIAN_FRONTEND=noninteractive dpkg -i --force-depends $TUND_DEB_CACHE/${1}_*.deb"
}

# sb_until SECONDS 'shell condition': poll inside the sandbox every 0.2 s (one nsenter, bounded).
sb_until() {
  local secs=$1 cond=$2
  sb timeout "$secs" sh -c "until $cond; do sleep 0.2; done" >/dev/null 2>&1
}

# sb_write PATH MODE [OWNER] < content: write a file inside the sandbox
sb_write() { sb sh -c "mkdir -p \"\$(dirname '$1')\" && cat >'$1' && chmod $2 '$1'${3:+ && chown $3 '$1'}"; }

# sb_session_file PATH < content: a session file or secret as an admin makes it for tund@.service:
# mode 0600, owned by the system user tund that the unit runs the session as
sb_session_file() { sb_write "$1" 0600 tund:tund; }

# The network inside the sandbox (198.18.0.0/15 only): the sandbox's own namespace is the server
# side; a namespace "cli" joined by a veth is the client side, and tund@NAME.service instances of
# client sessions are moved into it by a drop-in (NetworkNamespacePath=/run/netns/cli).
#   server side 198.18.50.1/30 (sb0), client side 198.18.50.2/30 (sb1 in cli)
SB_SRV_ADDR=198.18.50.1
SB_CLI_ADDR=198.18.50.2
sandbox_net() {
  sb ip link set lo up
  sandbox_netns cli sb0 198.18.50.1/30 sb1 198.18.50.2/30
}

# sandbox_netns NAME SERVER_LINK SERVER_ADDR CLIENT_LINK CLIENT_ADDR: one more client-side
# namespace inside the sandbox, joined to the sandbox's own by a veth pair
sandbox_netns() {
  sb sh -ec "
    ip netns add $1
    ip link add $2 type veth peer name $4
    ip link set $4 netns $1
    ip addr add $3 dev $2
    ip link set $2 up
    ip -n $1 link set lo up
    ip -n $1 addr add $5 dev $4
    ip -n $1 link set $4 up"
}

# in_cli NAME: run tund@NAME.service in the client namespace
in_cli() {
  printf '[Service]\nNetworkNamespacePath=/run/netns/cli\n' | sb_write "/etc/systemd/system/tund@$1.service.d/netns.conf" 0644
}

# server_conf NAME HOST TUN_LOCAL TUN_PEER [extra [Session] lines...]
server_conf() {
  local name=$1 host=$2 lo=$3 pe=$4
  shift 4
  {
    printf '[Session]\nRole = server\nHost = %s\nTimeout = 5\n' "$host"
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
    printf '\n[Device]\nMode = tun\nAddress = %s/32\nPeer = %s\n' "$lo" "$pe"
  } | sb_session_file "/etc/tund/$name.conf"
  printf 'pw-%s' "$host" | sb_session_file "/etc/tund/$name.secret"
}

# client_conf NAME HOST ENDPOINT TUN_LOCAL TUN_PEER [extra lines appended after [Device]...]
client_conf() {
  local name=$1 host=$2 ep=$3 lo=$4 pe=$5
  shift 5
  {
    printf '[Session]\nRole = client\nEndpoint = %s\nHost = %s\nTimeout = 5\nPersist = yes\n' "$ep" "$host"
    printf '\n[Device]\nMode = tun\nAddress = %s/32\nPeer = %s\n' "$lo" "$pe"
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } | sb_session_file "/etc/tund/$name.conf"
  printf 'pw-%s' "$host" | sb_session_file "/etc/tund/$name.secret"
}
