# shellcheck shell=bash
# _wireguard-go.sh - shared by the wireguard-go anchors: userspace WireGuard on both ends, keys
# and peer set with wg(8). Each wireguard-go runs with a private tmpfs on /run (its UAPI socket
# lives in /run/wireguard), which wg reaches by entering the daemon's mount namespace.
# shellcheck disable=SC2034 # PACKAGES is read by bench/install.sh
PACKAGES="wireguard-go wireguard-tools"
WG_PORT=51820
WG_GO=${WG_GO:-wireguard-go}

anchor_version() { echo "$("$WG_GO" --version | head -n1), wireguard-tools $(wg --version | cut -d' ' -f2)"; }

# wg_go_serves PID DEVICE: process PID is the wireguard-go binary (no longer the shell before it)
# and serves DEVICE's UAPI socket in its own /run
wg_go_serves() {
  local comm
  comm=$(basename "$WG_GO")
  [[ $(comm_of "$1") == "${comm:0:15}" ]] && nsenter -t "$1" -m test -S "/run/wireguard/$2.sock"
}

# wg_end NS DEVICE ADDRESS PEER_ADDRESS PRIVATE_KEY_FILE PEER_PUBLIC_KEY PEER_ENDPOINT
wg_end() {
  local ns=$1 dev=$2 pid
  # shellcheck disable=SC2016 # expanded by the inner shell
  pid=$(spawn "$ns" "$RUN_DIR/$dev.log" env WG_PROCESS_FOREGROUND=1 \
    sh -c 'mount -t tmpfs bench-run /run && exec "$0" -f "$1"' "$WG_GO" "$dev")
  # the socket in the daemon's /run once the daemon runs: before its exec the shell may not have
  # mounted that /run yet, and the host's /run/wireguard may hold a socket of the same name (a tund
  # WireGuard session's, bench/latency.sh runs them side by side)
  wait_until 10 wg_go_serves "$pid" "$dev" || { echo "$dev: no UAPI socket"; return 1; }
  nsenter -t "$pid" -m -n wg set "$dev" listen-port "$WG_PORT" private-key "$5" \
    peer "$6" allowed-ips "$4/32" endpoint "$7" || return 1
  ip -n "$ns" addr add "$3" peer "$4" dev "$dev" && ip -n "$ns" link set "$dev" mtu "$TUN_MTU" up
}

anchor_start() {
  local s
  for s in a b; do
    (umask 077 && wg genkey >"$RUN_DIR/$s.key")
    wg pubkey <"$RUN_DIR/$s.key" >"$RUN_DIR/$s.pub"
  done
  wg_end "$NS_B" tbwg-b "$INNER_B" "$INNER_A" "$RUN_DIR/b.key" "$(<"$RUN_DIR/a.pub")" "$UNDER_A:$WG_PORT" &&
    wg_end "$NS_A" tbwg-a "$INNER_A" "$INNER_B" "$RUN_DIR/a.key" "$(<"$RUN_DIR/b.pub")" "$UNDER_B:$WG_PORT"
}

anchor_stop() { kill_spawned; } # wireguard-go removes its device when it ends
