# shellcheck shell=bash
# Helpers for the WireGuard suites: the real Debian wireguard-go and wg(8) in a namespace of their
# own, with a private /run/wireguard (wireguard-go 0.0.20220316 and wg 1.0.20210914 both use the
# fixed /var/run/wireguard, no WG_SOCKET_DIR), so tests never see each other's or the host's
# sockets. Load after common.bash:
#
#   load ../helpers/common
#   load ../helpers/wireguard
#   holder=$(wg_private_run "$ns")      # a process in $ns with its own tmpfs on /run/wireguard
#   wg_in "$holder" wg show             # run in its network and mount namespace
#   wg_go_start "$holder" wgt0          # wireguard-go in the foreground, killed in teardown
#   key=$(wg_key_file name)             # `wg genkey` into a 0600 file; prints the path
#
# Underlay 198.18.88.1/30 (wireguard-go side) - 198.18.88.2/30 (tund side); tunnel
# 198.19.88.1 (wireguard-go) - 198.19.88.2 (tund side).

WG_G_ADDR=198.18.88.1
WG_T_ADDR=198.18.88.2
WG_G_TUN=198.19.88.1
WG_T_TUN=198.19.88.2

# wg_private_run NS -> PID of a process in NS whose mount namespace has a private tmpfs on
# /run/wireguard (ip netns exec makes mounts slave; unshare makes ours private).
wg_private_run() {
  local ns=$1 pid
  mkdir -p /run/wireguard
  pid=$(spawn_bg "$BATS_TEST_TMPDIR/holder-$ns.log" ip netns exec "$ns" \
    unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=0700 tmpfs /run/wireguard && exec sleep 3600')
  wait_for 10 grep -q ' /run/wireguard ' "/proc/$pid/mountinfo" || return 1
  echo "$pid"
}

# wg_in HOLDER CMD... : run CMD in the holder's network and mount namespaces.
wg_in() { local pid=$1; shift; nsenter -t "$pid" -m -n -- "$@"; }

# wg_go_start HOLDER IFNAME : wireguard-go in the foreground; waits for its UAPI socket.
wg_go_start() {
  local holder=$1 ifname=$2
  spawn_bg "$BATS_TEST_TMPDIR/wireguard-go-$ifname.log" \
    nsenter -t "$holder" -m -n -- env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose wireguard-go -f "$ifname" >/dev/null
  wait_for 10 wg_in "$holder" test -S "/run/wireguard/$ifname.sock"
}

# wg_key_file NAME -> path of a new private key (0600), made by the real `wg genkey`.
wg_key_file() {
  local f=$BATS_TEST_TMPDIR/$1.key
  (umask 077 && wg genkey >"$f")
  echo "$f"
}

wg_pub() { wg pubkey <"$1"; }

# wg_two_sides : namespaces NS_G (wireguard-go) and NS_T (tund side) joined by a veth pair, and
# a private /run/wireguard holder in NS_G (HOLDER_G).
wg_two_sides() {
  NS_G=$(make_netns g) || return 1
  NS_T=$(make_netns t) || return 1
  veth_pair "$NS_G" "$WG_G_ADDR/30" "$NS_T" "$WG_T_ADDR/30"
  HOLDER_G=$(wg_private_run "$NS_G") || return 1
}

# wg_go_peer IFNAME PEER_PUB [wg set peer options...] : a wireguard-go device at 198.19.88.1/24
# listening on 51820 with one peer (allowed-ips 198.19.88.2/32 and the options given).
wg_go_peer() {
  local ifname=$1 peer=$2; shift 2
  WG_G_KEY=$(wg_key_file "wg-go-$ifname")
  wg_go_start "$HOLDER_G" "$ifname" || return 1
  wg_in "$HOLDER_G" wg set "$ifname" private-key "$WG_G_KEY" listen-port 51820 \
    peer "$peer" allowed-ips "$WG_T_TUN/32" "$@" || return 1
  wg_in "$HOLDER_G" ip addr add "$WG_G_TUN/24" dev "$ifname"
  wg_in "$HOLDER_G" ip link set "$ifname" up
}

# wg_show_field IFNAME FIELD : the value column of `wg show IFNAME FIELD` for the single peer.
wg_show_field() { wg_in "$HOLDER_G" wg show "$1" "$2" | awk -F'\t' 'NR==1 {print $2}'; }

# show_logs : the tail of every log of the test (bats prints it when the test failed)
show_logs() {
  local f
  for f in "$BATS_TEST_TMPDIR"/*.log; do [[ -f $f ]] && { echo "---- $f"; tail -n 30 "$f"; }; done
  return 0
}
