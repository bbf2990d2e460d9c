# shellcheck shell=bash
# Shared set-up for the bats suites: our binaries on PATH, bats-support/bats-assert, and network
# namespaces that are unique per run and removed in teardown, even when a test fails.
#
#   load ../helpers/common
#   setup()    { common_setup; }
#   teardown() { common_teardown; }
#   ns=$(make_netns a)          # a fresh namespace (lo up), deleted by common_teardown
#   in_ns "$ns" tunctl add t0 --mode tun
#   spawn_bg LOG cmd...         # background process, killed by common_teardown
#
# Addresses used by tests come from 198.18.0.0/15 only.

PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PROJECT_ROOT
export PATH="$PROJECT_ROOT/bin:$PATH"
# AS_ANY_USER CMD...: CMD (a setpriv to another user) sees the project even in a clone that only
# root can reach (see test/helpers/as-any-user.sh)
AS_ANY_USER=$PROJECT_ROOT/test/helpers/as-any-user.sh
load "$PROJECT_ROOT/node_modules/bats-support/load"
load "$PROJECT_ROOT/node_modules/bats-assert/load"
# make_netns, in_ns, veth_pair, spawn_bg, wait_for (also used by test/load/soak.sh)
source "$PROJECT_ROOT/test/helpers/netns.bash"

# Short, unique per test: namespaces of two runs (or two tests) never collide.
test_tag() { printf 't%s%s' "$(printf '%x' $$)" "${BATS_TEST_NUMBER:-0}"; }

common_setup() {
  TEST_TAG=$(test_tag)
  TEST_NETNS_LIST=$BATS_TEST_TMPDIR/netns.list
  TEST_PIDS_LIST=$BATS_TEST_TMPDIR/pids.list
  : >"$TEST_NETNS_LIST"
  : >"$TEST_PIDS_LIST"
  export TUND_CONFIG_DIR=$BATS_TEST_TMPDIR/etc
  export TUND_RUN_DIR=$BATS_TEST_TMPDIR/run
  mkdir -p "$TUND_CONFIG_DIR" "$TUND_RUN_DIR"
}

common_teardown() {
  local pid
  if [[ -f ${TEST_PIDS_LIST:-/nonexistent} ]]; then
    while read -r pid; do
      [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
    done <"$TEST_PIDS_LIST"
    sleep 0.2
    while read -r pid; do
      [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
    done <"$TEST_PIDS_LIST"
  fi
  netns_remove_listed "${TEST_NETNS_LIST:-/nonexistent}"
}

# link_json NS DEV -> `ip -j -d link show DEV` (first object) for jq.
link_json() { ip -n "$1" -j -d link show dev "$2" | jq '.[0]'; }
