# shellcheck shell=bash
# _vtun.sh - shared by the vtun-* anchors: Debian's vtund on both ends, in the foreground (-n),
# server (-s) in $NS_B, client in $NS_A, the same session settings as tund's anchors (_tund.sh):
# tun, keep-alive on, multi killold, no compression.
# shellcheck disable=SC2034 # PACKAGES is read by bench/install.sh
PACKAGES="vtun"
VTUN_PORT=5000
VTUN_SESSION=tbench

anchor_version() { echo "vtun $(dpkg-query -W -f='${Version}' vtun)"; }

# vtun_conf LOCAL PEER PROTO ENCRYPT: one side's vtund.conf (the client takes proto and encrypt
# from the server during the handshake; its own values do not matter)
vtun_conf() {
  cat <<CONF
options {
  port $VTUN_PORT;
  ip $(command -v ip);
  timeout 10;
}
$VTUN_SESSION {
  passwd bench-only-secret;
  type tun;
  proto $3;
  encrypt $4;
  compress no;
  keepalive yes;
  multi killold;
  stat no;
  up {
    ip "link set %d mtu $TUN_MTU up";
    ip "addr add $1 peer $2 dev %d";
  };
}
CONF
}

# vtund_in NS LOG ARGS...: vtund with a private tmpfs on /run (its PID and lock files stay out of
# the host's /run; `ip netns exec` gives it a mount namespace of its own) and OpenSSL's legacy
# provider loaded, which Debian's vtund needs for Blowfish ("encrypt yes"); without it vtund
# crashes after the handshake.
vtund_in() {
  local ns=$1 logf=$2
  shift 2
  [[ -f $RUN_DIR/openssl.cnf ]] || printf '%s\n' 'openssl_conf = init' '[init]' 'providers = providers' \
    '[providers]' 'default = on' 'legacy = on' '[on]' 'activate = 1' >"$RUN_DIR/openssl.cnf"
  # shellcheck disable=SC2016 # expanded by the inner shell
  spawn "$ns" "$logf" env OPENSSL_CONF="$RUN_DIR/openssl.cnf" \
    sh -c 'mount -t tmpfs bench-run /run && mkdir -p /run/lock/vtund && exec vtund "$@"' vtund "$@" >/dev/null
}

# vtun_start PROTO ENCRYPT
vtun_start() {
  vtun_conf "$INNER_B" "$INNER_A" "$1" "$2" >"$RUN_DIR/server.conf"
  vtun_conf "$INNER_A" "$INNER_B" "$1" "$2" >"$RUN_DIR/client.conf"
  vtund_in "$NS_B" "$RUN_DIR/server.log" -n -s -f "$RUN_DIR/server.conf"
  wait_until 10 listening "$NS_B" tcp "$VTUN_PORT" || { echo "vtund server not listening"; return 1; }
  vtund_in "$NS_A" "$RUN_DIR/client.log" -n -f "$RUN_DIR/client.conf" "$VTUN_SESSION" "$UNDER_B"
  # vtund forwards while its up {} commands still run, and a packet for a device that is not up
  # yet ends its session: only return once both ends are configured
  if ! wait_until 15 has_addr "$NS_B" "$INNER_B" || ! wait_until 15 has_addr "$NS_A" "$INNER_A"; then
    echo "vtund devices not configured"
    return 1
  fi
}

anchor_notes() { grep -ho '[A-Za-z0-9-]* encryption initialized' "$RUN_DIR/client.log" | head -n1 | grep . || echo "no encryption"; }
anchor_stop() { kill_spawned; }
