#!/usr/bin/env bash
# test.sh - runs every test of tund on this machine (as root): set-up first (idempotent), then the
# unit tests (node:test), then the end-to-end suites (bats, in network namespaces the tests make).
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh unit       # only the unit tests
#   bash scripts/test.sh bats/tunctl.bats ...   # only these bats files (paths under test/)
#   TUND_TEST_JOBS=1 bash scripts/test.sh       # one bats file at a time (default: 2 lanes)
#
# Last line: "N passed, N failed, N skipped".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/setup.sh || exit $?

LOGDIR=$(mktemp -d /tmp/tund-test.XXXXXX)
PASSED=0 FAILED=0 SKIPPED=0
FAILED_NAMES=()
SUITE_TIMES=()

count_tap() { # count_tap FILE SUITE
  local f=$1 suite=$2 p f_ s
  p=$(grep -cE '^ok [0-9]+' "$f" | tr -d ' ')
  s=$(grep -cE '^ok [0-9]+.*# (skip|SKIP)' "$f" | tr -d ' ')
  f_=$(grep -cE '^not ok [0-9]+' "$f" | tr -d ' ')
  PASSED=$((PASSED + p - s)) SKIPPED=$((SKIPPED + s)) FAILED=$((FAILED + f_))
  while IFS= read -r line; do FAILED_NAMES+=("$suite: ${line#not ok }"); done < <(grep -E '^not ok [0-9]+' "$f")
}

run_unit() {
  echo "== unit tests (node:test)"
  # spec to the terminal, TAP to a file for the count. Nested subtests are indented in TAP, so
  # only top-level lines count.
  timeout 600 node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$LOGDIR/unit.tap" \
    $(find dist/test/unit -name '*.test.js' | sort)
  local rc=$?
  count_tap "$LOGDIR/unit.tap" unit
  if [[ $rc -ne 0 ]] && ! grep -qE '^not ok' "$LOGDIR/unit.tap"; then
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("unit: runner exited with $rc")
  fi
}

# npm 11 no longer links bats' bin directory into node_modules/.bin: use the package's own script.
BATS=node_modules/.bin/bats
[[ -x $BATS ]] || BATS=node_modules/bats/bin/bats

# run_suite FILE: one bats file, its TAP in $LOGDIR/NAME.tap and its seconds in NAME.secs; the
# output is printed in one piece when the file is done, so that two lanes never interleave.
run_suite() {
  local f=$1 name start
  name=$(basename "$f" .bats)
  start=$SECONDS
  # --timing: each result line ends "in N ms", so the slow tests are easy to find
  timeout 1200 "$BATS" --tap --timing "$f" >"$LOGDIR/$name.tap" 2>&1
  echo "$((SECONDS - start))" >"$LOGDIR/$name.secs"
  { flock 9; echo "== $f ($((SECONDS - start)) s)"; cat "$LOGDIR/$name.tap"; } 9>"$LOGDIR/.print.lock"
}
export -f run_suite
export BATS LOGDIR

# run_bats FILE...: the files in TUND_TEST_JOBS lanes (default 2). The suites are independent by
# design (names unique per run, their own namespaces and directories) and most of their time is
# waiting for peers, timeouts and keep-alive windows, so two lanes take about half the time on
# this 2-core machine. The files are taken in the order given, each by the next free lane.
run_bats() {
  local f name
  printf '%s\0' "$@" | xargs -0 -r -n 1 -P "${TUND_TEST_JOBS:-2}" bash -c 'run_suite "$1"' _
  for f in "$@"; do
    name=$(basename "$f" .bats)
    count_tap "$LOGDIR/$name.tap" "$name"
    SUITE_TIMES+=("$(cat "$LOGDIR/$name.secs" 2>/dev/null || echo '?') s  $name")
    # a suite that did not even start (no TAP plan) is a failure, not "0 passed"
    if ! grep -qE '^1\.\.[0-9]+' "$LOGDIR/$name.tap"; then
      FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name: did not run")
    fi
  done
}

# the longest suites first, so that the two lanes end at about the same time
LONG_SUITES=(systemd-install soak vtun-interop systemd vtun-faults tunctl vtun-tund2tund tunroute)

if [[ $# -eq 0 ]]; then
  run_unit
  suites=()
  for n in "${LONG_SUITES[@]}"; do [[ -f test/bats/$n.bats ]] && suites+=("test/bats/$n.bats"); done
  while IFS= read -r f; do
    [[ " ${suites[*]} " == *" $f "* ]] || suites+=("$f")
  done < <(find test/bats -maxdepth 1 -name '*.bats' | sort)
  run_bats "${suites[@]}"
else
  files=()
  for arg in "$@"; do
    case $arg in
      unit) run_unit ;;
      *) files+=("test/${arg#test/}") ;;
    esac
  done
  (( ${#files[@]} == 0 )) || run_bats "${files[@]}"
fi

echo
if (( ${#SUITE_TIMES[@]} > 1 )); then
  echo "slowest suites:"; printf '%s\n' "${SUITE_TIMES[@]}" | sort -rn | head -8 | sed 's/^/  /'
fi
if (( ${#FAILED_NAMES[@]} > 0 )); then
  echo "failed:"; printf '  %s\n' "${FAILED_NAMES[@]}"
fi
echo "logs: $LOGDIR"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[[ $FAILED -eq 0 ]]
