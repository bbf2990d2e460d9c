#!/usr/bin/env bash
# run.sh [NAME...] - the benchmark (`npm run bench`): tund's modes next to the tunnels Debian ships,
# in one run, on this machine, in namespaces of its own. See docs/benchmark.md.
#
#   npm run bench                                  every anchor, REPS times
#   REPS=1 TCP_SECS=3 npm run bench -- veth tund-vtun-udp vtun-udp
#   bash bench/run.sh --list                       the anchors there are
#
# Knobs (environment): REPS=3, TCP_SECS=8, UDP_SECS=4, PING_COUNT=100, IDLE_SECS=3, UP_TIMEOUT=30,
# LATENCY=1 (0: no side-by-side latency step after the runs),
# TUN_MTU=1420, RESULTS_DIR=bench/results, ANCHORS_PATH (more anchor directories, searched first),
# BENCH_NO_INSTALL=1 (never run apt; anchors whose programs are missing then fail),
# BENCH_LOCK_WAIT=SECS (while another run holds the machine, wait up to SECS for it instead of
# refusing at once: the tests' short runs, which may overlap),
# WG_OFFLOAD_VERSION (the wireguard-go-offload build to take while bookworm-backports has it, else
# its newest; none there: that row fails, the others run).
# Results: RESULTS_DIR/run-STAMP.jsonl (one line per measurement), RESULTS_DIR/run-STAMP.md (the
# tables), RESULTS_DIR/run-STAMP/ (configs and logs of every measurement).
set -euo pipefail
BENCH_TAG=$$
export BENCH_TAG
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_NAMES=(veth vtun-udp tund-vtun-udp vtun-tcp tund-vtun-tcp vtun-udp-enc tund-vtun-udp-enc
  openvpn-udp wireguard-go wireguard-go-offload tund-wg-udp tund-wg-engine tund-vpnws tund-vpnws-tls)
REPS=${REPS:-3}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

case ${1:-} in
  -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
  --list) anchor_names; exit 0 ;;
esac
NAMES=("$@")
((${#NAMES[@]})) || NAMES=("${DEFAULT_NAMES[@]}")
mapfile -t KNOWN < <(anchor_names)
for n in "${NAMES[@]}"; do
  [[ " ${KNOWN[*]} " == *" $n "* ]] || die "no anchor \"$n\" (known: ${KNOWN[*]})"
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS \"$REPS\" (expected a positive number)"
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, TUN devices, apt)"

# One benchmark at a time on this machine: two would measure each other.
bench_lock bench

# ---- what the anchors need
# shellcheck source=bench/install.sh
source "$BENCH_DIR/install.sh"
bench_packages "${NAMES[@]}"
if [[ " ${NAMES[*]} " == *" tund-"* ]]; then
  bash "$PROJECT_ROOT/scripts/setup.sh" || die "scripts/setup.sh failed: tund cannot be measured"
fi
if [[ " ${NAMES[*]} " == *" wireguard-go-offload "* ]]; then
  # none to be had: that row alone fails, with the reason (bench/anchors/wireguard-go-offload.sh)
  offload_wireguard_go || log "bench: wireguard-go-offload will not run: $WG_GO_OFFLOAD_PROBLEM"
  export WG_GO_OFFLOAD WG_GO_OFFLOAD_PROBLEM
fi

# ---- the namespaces, removed on any exit
cleanup() {
  netns_down
  bench_unlock
}
trap cleanup EXIT
trap 'exit 130' INT TERM
netns_up

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS_DIR"
export RESULTS_FILE=$RESULTS_DIR/run-$STAMP.jsonl
export RUN_ROOT=$RESULTS_DIR/run-$STAMP
mkdir -p "$RUN_ROOT"
: >"$RESULTS_FILE"
log "bench: ${#NAMES[@]} anchors x $REPS, results in $RESULTS_FILE"

t0=$SECONDS
# repetitions outside, anchors inside: a slow drift of the machine touches every anchor alike
for ((rep = 1; rep <= REPS; rep++)); do
  for n in "${NAMES[@]}"; do
    REP=$rep bash "$BENCH_DIR/measure.sh" "$n" >/dev/null || log "bench: $n rep $rep failed (see $RESULTS_FILE)"
  done
done

# ---- the latency each tund mode adds, side by side with the anchors it is held to. The runs
# above ping each anchor minutes apart, and this machine drifts by more in minutes than the
# tunnels differ (docs/benchmark.md, "Latency side by side"): one bench/latency.sh per mode, with
# those of its COMPARE_TO anchors that ran here, its rows added to the results (LATENCY=0: none).
ran_ok() { jq -se --arg n "$1" 'any(.[]; .name == $n and .ok)' "$RESULTS_FILE" >/dev/null; }
if [[ ${LATENCY:-1} != 0 ]]; then
  for mode in $TARGET_MODES; do
    [[ " ${NAMES[*]} " == *" $mode "* ]] && ran_ok "$mode" || continue
    group=("$mode")
    for a in $(anchor_var "$mode" COMPARE_TO || true); do
      if [[ $a != veth && " ${NAMES[*]} " == *" $a "* ]] && ran_ok "$a"; then group+=("$a"); fi
    done
    ((${#group[@]} > 1)) || continue
    log "bench: side by side: ${group[*]}"
    JSONL=$RESULTS_FILE bash "$BENCH_DIR/latency.sh" "${group[@]}" >>"$RUN_ROOT/latency.txt" ||
      log "bench: side by side ${group[*]} failed (see $RUN_ROOT/latency.txt)"
  done
fi
elapsed=$((SECONDS - t0))

{
  echo "# tund benchmark $STAMP: $REPS repetition(s), ${elapsed}s, $(nproc) cores, kernel $(uname -r), load average before $LOAD0"
  echo
  bash "$BENCH_DIR/summarize.sh" "$RESULTS_FILE"
} | tee "$RESULTS_DIR/run-$STAMP.md"
log "bench: $RESULTS_DIR/run-$STAMP.md"
