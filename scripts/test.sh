#!/usr/bin/env bash
# test.sh - runs every test of tund on this machine (as root): set-up first (idempotent), then the
# unit tests (node:test), then the end-to-end suites (bats, in network namespaces the tests make).
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh unit       # only the unit tests
#   bash scripts/test.sh bats/tunctl.bats ...   # only these bats files (paths under test/)
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

run_bats() { # run_bats FILE...
  local f name start
  for f in "$@"; do
    name=$(basename "$f" .bats)
    echo "== $f"
    start=$SECONDS
    # --timing: each result line ends "in N ms", so the slow tests are easy to find
    timeout 1200 "$BATS" --tap --timing "$f" 2>&1 | tee "$LOGDIR/$name.tap"
    SUITE_TIMES+=("$((SECONDS - start)) s  $name")
    count_tap "$LOGDIR/$name.tap" "$name"
    # a suite that did not even start (no TAP plan) is a failure, not "0 passed"
    if ! grep -qE '^1\.\.[0-9]+' "$LOGDIR/$name.tap"; then
      FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name: did not run")
    fi
  done
}

if [[ $# -eq 0 ]]; then
  run_unit
  mapfile -t suites < <(find test/bats -maxdepth 1 -name '*.bats' | sort)
  run_bats "${suites[@]}"
else
  for arg in "$@"; do
    case $arg in
      unit) run_unit ;;
      *) run_bats "test/${arg#test/}" ;;
    esac
  done
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
