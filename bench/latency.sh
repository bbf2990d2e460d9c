#!/usr/bin/env bash
# latency.sh NAME[=DIR]... - the latency tunnels add, side by side: starts every anchor named at
# once, each in namespaces of its own with a veth pair of its own, and pings them in turns: each
# turn every pair's veth, then every tunnel, COUNT pings each, the order shifted by one every turn
# (the tunnel pinged first after the veths pays more than those after it). Prints per tunnel the
# median ping through it minus the median ping over its own pair's veth ("added"), the 10th and
# 90th percentile of that, and the difference to the first tunnel named. See docs/benchmark.md.
#
#   bash bench/latency.sh tund-vtun-udp vtun-udp
#   COUNT=30 TURNS=21 bash bench/latency.sh tund-vtun-udp tund-vtun-udp=/path/to/other/checkout vtun-udp
#
# NAME=DIR: the anchor NAME of another tund checkout DIR (built): DIR/bench/anchors/NAME.sh, which
# runs DIR's bin/tund; its row is labelled NAME=DIR. An argument given twice: the second row is
# labelled ARG#2. At most 8 tunnels; `veth` is no tunnel (every row's baseline already).
# Knobs: COUNT=30 (pings per tunnel and turn, 1-1000), TURNS (1-1000; by default the first
# multiple of the number of tunnels from 20 on, so that each comes first equally often; a TURNS
# that is no such multiple is warned about), INTERVAL=0.01 (ping -i, 0.002-1 seconds),
# KEEP=1 (keep $RUN_DIR: every reply in pings.tsv, each pair's configs and logs), BENCH_LOCK_WAIT
# (as bench/run.sh: it takes the benchmark's lock), JSONL=FILE (append each row to FILE as a JSON
# line of kind "latency", as bench/run.sh does for its summary; milliseconds).
set -euo pipefail
BENCH_TAG=l$$
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export LC_NUMERIC=C
PROG=bench/latency.sh
MAX_TUNNELS=8
MAX_SECONDS=3600

usage_error() { echo "$PROG: $*" >&2; exit 2; }
# whole VAR MIN MAX: $VAR is a whole number from MIN to MAX, else a usage error
whole() {
  local v=${!1}
  [[ $v =~ ^[0-9]+$ ]] || usage_error "$1: not a whole number \"$v\" (expected $2-$3)"
  [[ ${#v} -le ${#3} ]] && ((10#$v >= $2 && 10#$v <= $3)) || usage_error "$1: out of range \"$v\" (expected $2-$3)"
}

case ${1:-} in
  -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
esac
COUNT=${COUNT:-30}
TURNS_GIVEN=${TURNS:-}
TURNS=${TURNS:-20}
INTERVAL=${INTERVAL:-0.01}
whole COUNT 1 1000
whole TURNS 1 1000
COUNT=$((10#$COUNT)) TURNS=$((10#$TURNS))
[[ $INTERVAL =~ ^([0-9]+|[0-9]*\.[0-9]+)$ ]] || usage_error "INTERVAL: not a number of seconds \"$INTERVAL\" (expected 0.002-1)"
awk -v i="$INTERVAL" 'BEGIN { exit !(i >= 0.002 && i <= 1) }' || usage_error "INTERVAL: out of range \"$INTERVAL\" (expected 0.002-1)"

# The rows: LABELS[i] (what the output calls it), FILES[i] (its anchor file).
LABELS=() FILES=()
(($#)) || usage_error "no anchor named (usage: bash $PROG NAME[=DIR]...; the anchors: bash bench/run.sh --list)"
for arg; do
  [[ $arg != -* ]] || usage_error "unknown option \"$arg\" (expected -h, --help or anchor names)"
  name=${arg%%=*}
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || usage_error "not an anchor name \"$name\" (expected NAME or NAME=DIR)"
  [[ $name != veth ]] || usage_error "veth: no tunnel (every row's baseline is its own pair's veth already)"
  if [[ $arg == *=* ]]; then
    dir=${arg#*=}
    [[ -d $dir ]] || usage_error "$arg: no directory \"$dir\" (expected a tund checkout)"
    dir=$(cd "$dir" && pwd)
    file=$dir/bench/anchors/$name.sh
    [[ -f $file ]] || usage_error "$arg: no anchor \"$name\" in that checkout (expected $file)"
    [[ -f $dir/dist/commands/tund/index.js ]] && compgen -G "$dir/native/build/Release/*.node" >/dev/null ||
      usage_error "$arg: the checkout is not built (expected dist/ and native/build/: run scripts/setup.sh there)"
  else
    file=$(anchor_file "$name") || usage_error "no anchor \"$name\" (known: $(anchor_names | grep -vx veth | paste -sd ' '))"
  fi
  label=$arg
  for ((k = 2; ; k++)); do
    taken=0
    for l in "${LABELS[@]}"; do [[ $l != "$label" ]] || taken=1; done
    ((taken)) || break
    label=$arg#$k
  done
  LABELS+=("$label") FILES+=("$file")
done
N=${#LABELS[@]}
# Anchors of which two cannot run at once: a tund WireGuard session serves wg(8) on
# /run/wireguard/IFNAME.sock, the host's (every namespace sees it), and the anchor gives its
# devices the same names in every pair.
for once in tund-wg-udp; do
  k=0
  for f in "${FILES[@]}"; do [[ $(basename "$f") != "$once.sh" ]] || k=$((k + 1)); done
  ((k <= 1)) || usage_error "$once: one at a time (its sessions serve wg(8) on /run/wireguard/tbwg-a.sock and tbwg-b.sock, which all namespaces share)"
done
((N <= MAX_TUNNELS)) || usage_error "$N tunnels (expected at most $MAX_TUNNELS)"
# by default at least 20 turns, and a multiple of the tunnels: each comes first equally often
[[ -n $TURNS_GIVEN ]] || TURNS=$(((20 + N - 1) / N * N))
seconds=$(awk -v n="$N" -v c="$COUNT" -v t="$TURNS" -v i="$INTERVAL" 'BEGIN { printf "%d", 2 * n * c * t * i + 0.5 }')
((seconds <= MAX_SECONDS)) ||
  usage_error "COUNT x TURNS x INTERVAL: about $seconds s of pings with $N tunnel(s) (expected at most $MAX_SECONDS)"
((TURNS % N == 0)) || log "latency: TURNS=$TURNS is no multiple of $N: the tunnels are not first equally often"
if [[ $(id -u) -ne 0 ]]; then
  echo "$PROG: must run as root (network namespaces, TUN devices)" >&2
  exit 77
fi

# wireguard-go-offload runs the build bench/run.sh fetches (bench/install.sh): the same here
if [[ " ${FILES[*]} " == *"/wireguard-go-offload.sh "* && -z ${WG_GO_OFFLOAD:-} ]]; then
  # shellcheck source=bench/install.sh
  source "$BENCH_DIR/install.sh"
  offload_wireguard_go || log "latency: wireguard-go-offload will not run: $WG_GO_OFFLOAD_PROBLEM"
  export WG_GO_OFFLOAD WG_GO_OFFLOAD_PROBLEM
fi

# Not on top of a benchmark run, nor of another of these: they would measure each other.
bench_lock latency
TOP=$(mktemp -d /tmp/tund-latency.XXXXXX)
STARTED=0

# in_pair I CMD...: CMD in a subshell with pair I's names (lib.sh again, with a BENCH_TAG of its
# own), its RUN_DIR and its anchor file sourced: the anchors' functions and variables stay apart.
in_pair() {
  local i=$1
  shift
  (
    exec 8>&- # the lock stays with this process, not with the tunnels' daemons
    BENCH_TAG=l$$-$i
    # shellcheck source=bench/lib.sh
    source "$BENCH_DIR/lib.sh"
    RUN_DIR=$TOP/$i
    NAME=${LABELS[i]}
    anchor_stop() { kill_spawned; }
    # shellcheck source=/dev/null
    source "${FILES[i]}"
    "$@"
  )
}

# pair_up (in_pair): the namespaces and the tunnel, a first ping across it; where to ping
pair_up() {
  mkdir -p "$RUN_DIR"
  : >"$RUN_DIR/pids"
  probe_up
  echo "$NS_A ${TARGET:-$INNER_B} $UNDER_B" >"$RUN_DIR/addresses"
  log "latency: $NAME up ($NS_A, $NS_B): $(anchor_version 2>/dev/null || echo 'version unknown')"
}

cleanup() {
  local i
  for ((i = 0; i < STARTED; i++)); do in_pair "$i" probe_down latency || true; done
  bench_unlock
  if [[ -n ${KEEP:-} ]]; then log "latency: kept $TOP (pings.tsv: every reply; 0/, 1/...: each pair's files)"; else rm -rf "$TOP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "latency: load average at the start $(cut -d' ' -f1-3 /proc/loadavg)"
NS=() TUN_DST=() VETH_DST=()
for ((i = 0; i < N; i++)); do
  STARTED=$((i + 1))
  in_pair "$i" pair_up
  read -r NS[i] TUN_DST[i] VETH_DST[i] <"$TOP/$i/addresses"
done

# ping_one TURN KIND I: COUNT pings from pair I's client namespace over its veth (KIND veth) or
# through its tunnel (KIND tunnel); per reply a line of pings.tsv: turn, kind, row, label, ping's
# time stamp (ping -D), milliseconds
ping_one() {
  local dst=${TUN_DST[$3]}
  [[ $2 == veth ]] && dst=${VETH_DST[$3]}
  timeout "$PING_TIMEOUT" ip netns exec "${NS[$3]}" ping -n -D -c "$COUNT" -i "$INTERVAL" -W 1 "$dst" 2>>"$TOP/ping.log" |
    awk -v OFS='\t' -v t="$1" -v k="$2" -v i="$3" -v l="${LABELS[$3]}" '
      match($0, /time=[0-9.]+/) { print t, k, i, l, substr($1, 2, length($1) - 2), substr($0, RSTART + 5, RLENGTH - 5) }' \
      >>"$TOP/pings.tsv" || true
}
PING_TIMEOUT=$(awk -v c="$COUNT" -v i="$INTERVAL" 'BEGIN { printf "%d", c * i + 10 }')
: >"$TOP/pings.tsv"
log "latency: $N tunnel(s), $TURNS turns of $COUNT pings at ${INTERVAL}s each, about ${seconds}s"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((t = 0; t < TURNS; t++)); do
  # this turn's order: the rows shifted by t, veths first
  order=()
  for ((k = 0; k < N; k++)); do order+=($(((t + k) % N))); done
  for i in "${order[@]}"; do ping_one "$t" veth "$i"; done
  for i in "${order[@]}"; do ping_one "$t" tunnel "$i"; done
done
log "latency: load average before the pings $load0, after $(cut -d' ' -f1-3 /proc/loadavg)"

# row_quantiles KIND I: "n p10 median p90" of row I's KIND pings (ms)
row_quantiles() { awk -F'\t' -v k="$1" -v i="$2" '$2 == k && $3 == i { print $6 }' "$TOP/pings.tsv" | quantiles; }

width=6
for l in "${LABELS[@]}"; do ((${#l} <= width)) || width=${#l}; done
echo "# $N tunnel(s) side by side, $TURNS turns of $COUNT pings at ${INTERVAL}s, the order rotated every turn;" \
  "ms; added: the tunnel's median ping minus its own pair's veth's; p10, p90: of added; vs: added minus the first row's (and their ratio)"
printf "%-${width}s %6s %8s %8s %8s %8s %8s  %s\n" tunnel pings ping veth added p10 p90 "vs ${LABELS[0]}"
failed=0 ref= ref_row=
side_by_side=$(printf '%s\n' "${LABELS[@]}" | jq -R . | jq -sc .)  # (a label is one line: NAME, NAME=DIR)
for ((i = 0; i < N; i++)); do
  read -r n p10 p50 p90 < <(row_quantiles tunnel "$i")
  read -r vn _ vmed _ < <(row_quantiles veth "$i")
  if ((n == 0 || vn == 0)); then
    log "latency: ${LABELS[i]}: no reply $( ((n == 0)) && echo through the tunnel || echo over its veth) (see $TOP/$i/, KEEP=1)"
    failed=1
    printf "%-${width}s %6s %8s %8s %8s %8s %8s  %s\n" "${LABELS[i]}" "$n" - - - - - -
    continue
  fi
  ((n == COUNT * TURNS && vn == COUNT * TURNS)) ||
    log "latency: ${LABELS[i]}: $((COUNT * TURNS - n)) ping(s) through the tunnel and $((COUNT * TURNS - vn)) over its veth lost"
  added=$(awk -v a="$p50" -v b="$vmed" 'BEGIN { printf "%.3f", a - b }')
  [[ -n $ref ]] || ref=$added ref_row=$i
  awk -v w="$width" -v label="${LABELS[i]}" -v n="$n" -v p10="$p10" -v p50="$p50" -v p90="$p90" -v v="$vmed" \
    -v added="$added" -v ref="$ref" -v first=$((i == ref_row)) 'BEGIN {
      vs = first ? "ref" : sprintf("%+.3f", added - ref) (ref > 0 ? sprintf(" (%.2fx)", added / ref) : "")
      printf "%-" w "s %6d %8.3f %8.3f %8.3f %8.3f %8.3f  %s\n", label, n, p50, v, added, p10 - v, p90 - v, vs
    }'
  [[ -z ${JSONL:-} ]] || jq -nc --arg name "${LABELS[i]}" --argjson pings "$n" --argjson ping "$p50" --argjson veth "$vmed" \
    --argjson p10 "$p10" --argjson p90 "$p90" --argjson turns "$TURNS" --argjson count "$COUNT" --argjson with "$side_by_side" \
    '{kind: "latency", name: $name, pings: $pings, ping_ms: $ping, veth_ms: $veth, added_ms: ($ping - $veth),
      added_p10_ms: ($p10 - $veth), added_p90_ms: ($p90 - $veth), turns: $turns, count: $count, side_by_side: $with}' \
    >>"$JSONL"
done
exit "$failed"
