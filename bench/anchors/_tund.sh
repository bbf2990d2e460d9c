# shellcheck shell=bash
# _tund.sh - shared by the tund-vtun-* anchors (files starting with "_" are helpers, not NAMEs).
# tund on both ends, speaking VTun 3.0 with the same settings as the vtun-* anchors of the bench
# (keepalive on, multi killold, no compression), server in $NS_B, client in $NS_A, foreground.
# The tund of this working tree (bin/tund; bench/run.sh runs scripts/setup.sh first).
TUND_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TUND_BIN=$TUND_ROOT/bin/tund
TUND_PORT=5000
TUND_SESSION=tbtund

anchor_version() { echo "tund $(node -p "require('$TUND_ROOT/package.json').version") ($(git -C "$TUND_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))"; }

# tund_conf ROLE LOCAL PEER PROTO ENCRYPT DEVICE
tund_conf() {
  cat <<CONF
[Session]
Role = $1
$( [[ $1 == server ]] && echo "Listen = $UNDER_B:$TUND_PORT" || echo "Endpoint = $UNDER_B:$TUND_PORT" )
Transport = $4
Encrypt = $5
Compress = no
Keepalive = yes
Multi = killold

[Device]
Mode = tun
Name = $6
Address = $2/32
Peer = $3
MTU = $TUN_MTU
CONF
}

# tund_start PROTO ENCRYPT
tund_start() {
  local side
  for side in server client; do
    mkdir -p "$RUN_DIR/$side/etc" "$RUN_DIR/$side/run"
    (umask 077; echo "tb-bench-only" >"$RUN_DIR/$side/etc/$TUND_SESSION.secret")
  done
  tund_conf server "$INNER_B" "$INNER_A" "$1" "$2" tbtund-b >"$RUN_DIR/server/etc/$TUND_SESSION.conf"
  tund_conf client "$INNER_A" "$INNER_B" "$1" "$2" tbtund-a >"$RUN_DIR/client/etc/$TUND_SESSION.conf"
  chmod 600 "${RUN_DIR:?}"/*/etc/*
  spawn "$NS_B" "$RUN_DIR/server.log" env TUND_CONFIG_DIR="$RUN_DIR/server/etc" TUND_RUN_DIR="$RUN_DIR/server/run" \
    "$TUND_BIN" "$TUND_SESSION" >/dev/null
  wait_until 10 bash -c "ip netns exec $NS_B ss -Hltn 'sport = :$TUND_PORT' | grep -q ." \
    || { echo "tund server not listening"; tail -n 20 "$RUN_DIR/server.log"; return 1; }
  spawn "$NS_A" "$RUN_DIR/client.log" env TUND_CONFIG_DIR="$RUN_DIR/client/etc" TUND_RUN_DIR="$RUN_DIR/client/run" \
    "$TUND_BIN" "$TUND_SESSION" >/dev/null
  if ! wait_until 15 has_addr "$NS_A" "$INNER_A" || ! wait_until 10 has_addr "$NS_B" "$INNER_B"; then
    echo "tund tunnel interfaces did not come up"; tail -n 20 "$RUN_DIR/server.log" "$RUN_DIR/client.log"; return 1
  fi
}

anchor_notes() { grep -ho 'flags <[^>]*>' "$RUN_DIR/client.log" | head -1 | grep . || echo "flags unknown"; }
anchor_stop() { kill_spawned; }

# tund_no_offloads: every offload of the packet engine off (docs/engine.md, "Offloads") for what
# this measurement starts: the *-nooffload anchors measure tund without them, in the same run.
tund_no_offloads() { export TUND_NO_TUN_OFFLOAD=1 TUND_NO_TUN_GRO=1 TUND_NO_UDP_GSO=1 TUND_NO_UDP_GRO=1 TUND_NO_SOCKET_BUFFERS=1; }
