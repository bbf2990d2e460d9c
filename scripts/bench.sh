#!/usr/bin/env bash
# bench.sh - runs the shared benchmark harness (../shared/bench) with tund's anchors next to the
# vtund anchors, in one run, so the numbers are comparable. Not part of the tests: speed is
# measured by benchmark, not by timed tests.
#
#   bash scripts/bench.sh                       # tund-vtun-* and vtun-* anchors, REPS=3
#   REPS=1 bash scripts/bench.sh tund-vtun-udp vtun-udp
#
# Results: $RESULTS_DIR (default /tmp/tund-bench) as JSON lines, plus the median table on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${BENCH_DIR:-$ROOT/../shared/bench}
[[ -x $BENCH/run-all.sh ]] || { echo "bench.sh: no benchmark harness at $BENCH (set BENCH_DIR)" >&2; exit 69; }
bash "$ROOT/scripts/setup.sh"
missing=()
for p in iperf3 jq vtun; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
(( ${#missing[@]} == 0 )) || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
RESULTS_DIR=${RESULTS_DIR:-/tmp/tund-bench}
mkdir -p "$RESULTS_DIR"
names=("$@")
(( ${#names[@]} > 0 )) || names=(vtun-udp tund-vtun-udp vtun-tcp tund-vtun-tcp vtun-udp-enc tund-vtun-udp-enc)
export ANCHORS_PATH=$ROOT/bench/anchors
export RESULTS_FILE=$RESULTS_DIR/run-$(date -u +%Y%m%dT%H%M%SZ).jsonl
"$BENCH/run-all.sh" "${names[@]}"
