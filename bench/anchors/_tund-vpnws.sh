# shellcheck shell=bash
# _tund-vpnws.sh - shared by the tund-vpnws anchors: a tund vpn-ws client (its TAP has $INNER_A)
# in $NS_A through a tund hub in $NS_B whose own TAP has $INNER_B (docs/vpn-ws.md). The traffic
# crosses the client's packet engine, one WebSocket connection and the hub's switch to its TAP.
# Besides the common measurements: the hub's memory per connected client (rss_per_client_kib,
# docs/benchmark.md), from VPNWS_EXTRA_CLIENTS (default 20) idle clients connected at the end.
source "$(dirname "${BASH_SOURCE[0]}")/_tund.sh"
# shellcheck disable=SC2034 # read by bench/measure.sh: no other WebSocket tunnel in the bench
COMPARE_TO=""
VPNWS_PORT=8080
VPNWS_EXTRA_CLIENTS=${VPNWS_EXTRA_CLIENTS:-20}
VPNWS_RAW_PEERS=$TUND_ROOT/test/helpers/vpnws-raw-peers.mjs

# vpnws_start ws|wss: the hub (with TLS for wss: a throw-away PKI), then the client
vpnws_start() {
  VPNWS_URL="$1://$UNDER_B:$VPNWS_PORT/"
  VPNWS_CA=()
  local hub_tls=() client_tls=() side
  if [[ $1 == wss ]]; then
    bash "$TUND_ROOT/test/helpers/make-certs.sh" "$RUN_DIR/pki" hub.bench "$UNDER_B" || return 1
    hub_tls=("Certificate = $RUN_DIR/pki/server.pem" "PrivateKey = $RUN_DIR/pki/server.key")
    client_tls=("CA = $RUN_DIR/pki/ca.pem")
    VPNWS_CA=(--ca "$RUN_DIR/pki/ca.pem")
  fi
  for side in server client; do mkdir -p "$RUN_DIR/$side/etc" "$RUN_DIR/$side/run"; done
  {
    printf '[Session]\nProtocol = vpn-ws\nRole = server\nListen = %s:%s\n' "$UNDER_B" "$VPNWS_PORT"
    ((${#hub_tls[@]} == 0)) || printf '%s\n' "${hub_tls[@]}"
    printf '\n[Device]\nMode = tap\nName = tbvwb\nAddress = %s/24\nMTU = %s\n' "$INNER_B" "$TUN_MTU"
  } >"$RUN_DIR/server/etc/$TUND_SESSION.conf"
  {
    printf '[Session]\nProtocol = vpn-ws\nRole = client\nEndpoint = %s\n' "$VPNWS_URL"
    ((${#client_tls[@]} == 0)) || printf '%s\n' "${client_tls[@]}"
    printf '\n[Device]\nMode = tap\nName = tbvwa\nAddress = %s/24\nMTU = %s\n' "$INNER_A" "$TUN_MTU"
  } >"$RUN_DIR/client/etc/$TUND_SESSION.conf"
  chmod 600 "${RUN_DIR:?}"/*/etc/*
  VPNWS_HUB_PID=$(spawn "$NS_B" "$RUN_DIR/server.log" env TUND_CONFIG_DIR="$RUN_DIR/server/etc" TUND_RUN_DIR="$RUN_DIR/server/run" \
    "$TUND_BIN" "$TUND_SESSION")
  wait_until 15 listening "$NS_B" tcp "$VPNWS_PORT" || { echo "tund hub not listening"; tail -n 20 "$RUN_DIR/server.log"; return 1; }
  spawn "$NS_A" "$RUN_DIR/client.log" env TUND_CONFIG_DIR="$RUN_DIR/client/etc" TUND_RUN_DIR="$RUN_DIR/client/run" \
    "$TUND_BIN" "$TUND_SESSION" >/dev/null
  if ! wait_until 15 has_addr "$NS_A" "$INNER_A" || ! wait_until 10 has_addr "$NS_B" "$INNER_B"; then
    echo "the TAP devices did not come up"; tail -n 20 "$RUN_DIR/server.log" "$RUN_DIR/client.log"; return 1
  fi
}

anchor_notes() { grep -ho 'connected to .*' "$RUN_DIR/client.log" | head -1 | grep . || echo "not connected?"; }

# The hub's RSS growth when VPNWS_EXTRA_CLIENTS more clients (TCP or TLS connections that
# upgraded and read what comes, test/helpers/vpnws-raw-peers.mjs) join after the load, per client.
anchor_measure() {
  local before after
  # (rss_kib prints "TOTAL LARGEST": of one process, both are its RSS)
  read -r before _ < <(rss_kib "$VPNWS_HUB_PID")
  num hub_rss_mib "$(calc "$before / 1024" 1)"
  spawn "$NS_A" "$RUN_DIR/extra-clients.log" node "$VPNWS_RAW_PEERS" --url "$VPNWS_URL" --count "$VPNWS_EXTRA_CLIENTS" \
    ${VPNWS_CA[@]+"${VPNWS_CA[@]}"} --timeout 120 >/dev/null
  if ! wait_until 30 grep -q '^upgraded' "$RUN_DIR/extra-clients.log"; then
    problem "the $VPNWS_EXTRA_CLIENTS extra clients did not connect: $(tail -n 2 "$RUN_DIR/extra-clients.log" | tr '\n' ' ')"
    return 0
  fi
  sleep 1 # what the hub allocates for a new client happens within its first second
  read -r after _ < <(rss_kib "$VPNWS_HUB_PID")
  num clients "$((VPNWS_EXTRA_CLIENTS + 1))"
  num rss_per_client_kib "$(((after - before) / VPNWS_EXTRA_CLIENTS))"
}
