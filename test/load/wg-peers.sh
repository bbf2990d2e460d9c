#!/usr/bin/env bash
# wg-peers.sh - N WireGuard peers on one tund WireGuard responder: one session, one device, one UDP
# port, cryptokey routing by AllowedIPs. The peers are virtual, all in one Node process
# (test/load/wg-load-peers.mjs: the addon's WireGuard handshake code and one UDP socket per peer),
# because one tund session per peer would cost a Node process each. Every peer completes a
# handshake with the responder and sends PINGS echo requests through the tunnel to the
# responder's tunnel address; the responder's kernel answers them through its TUN device.
#
#   bash test/load/wg-peers.sh [--peers N] [--pings N] [--timeout S] [--json FILE]
#   npm run load:wg                  # 100 peers
#
# Topology: namespace LT-r holds the responder (`tund NAME`, ListenPort 51820, 198.19.200.1/24
# inside), namespace LT-p the load generator (198.18.101.2 over a veth to 198.18.101.1); peer I
# has the tunnel address 198.19.200.(I+1) and AllowedIPs = that /32 on the responder.
#
# Reports handshakes completed, cookie replies, ping loss, the responder's RSS before and after
# and its CPU time during the run (utime+stime from /proc). Exit status 0 when every peer
# completed its handshake and got every reply, 1 otherwise, 2 for a usage error, 77 when not
# root. Bounded (--timeout for the peers, 3 x that for the whole run); namespaces and processes
# go when it ends.
set -uo pipefail
LT_PROG=wg-peers
# shellcheck source=test/load/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PEERS=100 PINGS=5 TIMEOUT=60 JSON=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --peers) PEERS=${2:-} ;;
    --pings) PINGS=${2:-} ;;
    --timeout) TIMEOUT=${2:-} ;;
    --json) JSON=${2:-} ;;
    -h | --help) lt_usage "$0"; exit 0 ;;
    *) bad "unknown option \"$1\" (see --help)" ;;
  esac
  shift 2
done
in_range "$PEERS" 1 250 || bad "--peers \"$PEERS\" (expected 1-250)"
in_range "$PINGS" 1 100 || bad "--pings \"$PINGS\" (expected 1-100)"
in_range "$TIMEOUT" 5 600 || bad "--timeout \"$TIMEOUT\" (expected 5-600)"

lt_init lw
lt_watchdog $((TIMEOUT * 3))
NS_R=$(lt_netns r) || lt_die "cannot make namespaces"
NS_P=$(lt_netns p) || lt_die "cannot make namespaces"
veth_join "$NS_R" lr 198.18.101.1/30 "$NS_P" lp 198.18.101.2/30 || lt_die "cannot make the veth pair"

# keys: the responder's and one per peer, 0600; wg(8) when it is there (a C program: 200 tunauth
# runs would be 200 Node start-ups), else tunauth
if command -v wg >/dev/null; then genkey() { wg genkey; }; pubkey() { wg pubkey; }; else genkey() { tunauth genkey; }; pubkey() { tunauth pubkey; }; fi
CONF=$LT_WORK/etc RUN=$LT_WORK/run KEYS=$LT_WORK/keys
mkdir -p "$CONF" "$RUN" "$KEYS"
chmod 700 "$KEYS"
NAME=$LT_TAG
(umask 077; genkey >"$KEYS/responder.key")
{
  printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 198.19.200.1/24\n' "$(cat "$KEYS/responder.key")"
  for i in $(seq "$PEERS"); do
    (umask 077; genkey >"$KEYS/$i.key")
    printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.19.200.%d/32\n' "$(pubkey <"$KEYS/$i.key")" $((i + 1))
  done
} >"$CONF/$NAME.conf"
chmod 600 "$CONF/$NAME.conf"
SERVER_PUB=$(pubkey <"$KEYS/responder.key")

TUND_CONFIG_DIR=$CONF TUND_RUN_DIR=$RUN ip netns exec "$NS_R" tund "$NAME" >"$LT_WORK/responder.log" 2>&1 &
lt_track_pid $!
lt_wait 90 sh -c "ip netns exec $NS_R ss -Huan 'sport = :51820' | grep -q ." || lt_die "the responder did not bind 51820 (see $LT_WORK/responder.log)"
RESPONDER=$(ip netns pids "$NS_R" | head -n1)
cpu() { awk '{print $14 + $15}' "/proc/$RESPONDER/stat"; }
read -r rss0 _ fds0 < <(lt_proc "$RESPONDER")
cpu0=$(cpu)
lt_log "run $LT_TAG: $PEERS peers, $PINGS pings each; responder pid $RESPONDER, RSS $rss0 KiB; load average $(lt_loadavg)"

ip netns exec "$NS_P" node "$LT_ROOT/test/load/wg-load-peers.mjs" --keys "$KEYS" --count "$PEERS" --server-pub "$SERVER_PUB" \
  --endpoint 198.18.101.1:51820 --bind 198.18.101.2 --src-prefix 198.19.200. --src-first 2 --dst 198.19.200.1 \
  --pings "$PINGS" --timeout "$TIMEOUT" >"$LT_WORK/peers.json" 2>"$LT_WORK/peers.log"
peers_rc=$?
read -r rss1 _ fds1 < <(lt_proc "$RESPONDER")
cpu1=$(cpu)
hz=$(getconf CLK_TCK)
handshakes=$(ip netns exec "$NS_R" env TUND_RUN_DIR="$RUN" tunctl status "$NAME" --json 2>/dev/null |
  jq '[.sessions[0].peers[] | select(.latest_handshake != null)] | length' 2>/dev/null || echo null)
report=$(jq -c --argjson rss0 "$rss0" --argjson rss1 "$rss1" --argjson fds0 "$fds0" --argjson fds1 "$fds1" \
  --argjson cpu "$(( (cpu1 - cpu0) * 1000 / hz ))" --argjson seen "${handshakes:-null}" --arg load "$(lt_loadavg)" \
  '. + {responder: {rss_kib_before: $rss0, rss_kib_after: $rss1, fds_before: $fds0, fds_after: $fds1, cpu_ms: $cpu, peers_with_handshake: $seen}, load_average: $load}' \
  "$LT_WORK/peers.json" 2>/dev/null) || report='{}'
echo "$report" | jq .
[[ -n $JSON ]] && echo "$report" >"$JSON"
if ((peers_rc != 0)); then
  LT_KEEP_WORK=1
  lt_log "not every peer completed (see $LT_WORK)"
  exit 1
fi
exit 0
