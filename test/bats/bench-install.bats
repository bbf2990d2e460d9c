#!/usr/bin/env bats
# bench/install.sh's offload-capable wireguard-go (the wireguard-go-offload row) from a local apt
# repository made here in place of bookworm-backports, so that nothing depends on what the real
# backports holds today: the pinned build while the repository has it, else its newest build of
# at least 0.0.20231211, else that row alone fails with the reason and the rest of the benchmark
# runs. The system's apt configuration is not touched (the fetch has sources and lists of its own).
bats_require_minimum_version 1.5.0

load ../helpers/common
load ../helpers/bench

# fake_deb DIR VERSION: a wireguard-go package of VERSION in DIR whose program prints VERSION
fake_deb() {
  local src=$BATS_FILE_TMPDIR/src-$2
  mkdir -p "$src/DEBIAN" "$src/usr/bin"
  printf 'Package: wireguard-go\nVersion: %s\nArchitecture: %s\nMaintainer: tund tests <tests@example.invalid>\nDescription: stand-in\n' \
    "$2" "$(dpkg --print-architecture)" >"$src/DEBIAN/control"
  printf '#!/bin/sh\necho "wireguard-go v%s"\n' "$2" >"$src/usr/bin/wireguard-go"
  chmod 755 "$src/usr/bin/wireguard-go"
  dpkg-deb -b "$src" "$1/wireguard-go_$2.deb" >/dev/null
}

# repo NAME VERSION...: a flat apt repository holding those wireguard-go versions
repo() {
  local dir=$BATS_FILE_TMPDIR/$1 v
  shift
  mkdir -p "$dir"
  for v in "$@"; do fake_deb "$dir" "$v"; done
  (cd "$dir" && dpkg-scanpackages -m . >Packages 2>/dev/null)
}

setup_file() {
  repo both 0.0.20220316-1 0.0.20231211-1~bpo12+1 0.0.20240101-1~bpo12+1
  repo old 0.0.20220316-1
}

setup() {
  common_setup
  export BENCH_CACHE=$BATS_TEST_TMPDIR/cache
  unset WG_OFFLOAD_VERSION BENCH_BACKPORTS
}
teardown() { common_teardown; }

source_of() { echo "deb [trusted=yes] file:$BATS_FILE_TMPDIR/$1 ./"; }

# fetch: offload_wireguard_go as bench/run.sh calls it; "path|problem" in $output, apt in $stderr
# shellcheck disable=SC2016 # expanded by the inner shell
fetch() {
  run --separate-stderr bash -c 'source "$PROJECT_ROOT/bench/lib.sh" && source "$PROJECT_ROOT/bench/install.sh" &&
    { offload_wireguard_go; rc=$?; echo "$WG_GO_OFFLOAD|$WG_GO_OFFLOAD_PROBLEM"; exit $rc; }'
}

@test "offload wireguard-go: the pinned build while backports has it, even beside a newer one" {
  BENCH_BACKPORTS=$(source_of both) fetch
  assert_success
  assert_output "$BENCH_CACHE/wireguard-go-0.0.20231211-1~bpo12+1/usr/bin/wireguard-go|"
  run -0 "${output%|}"
  assert_output "wireguard-go v0.0.20231211-1~bpo12+1"
  # the system's apt lists were not touched: the fetch's own are under BENCH_CACHE
  run -0 ls "$BENCH_CACHE/apt/lists"
  assert_output --partial Packages
  # once unpacked, no apt at all (the source is unreachable now)
  BENCH_BACKPORTS="deb [trusted=yes] file:/nonexistent/tund-test ./" fetch
  assert_success
  assert_output "$BENCH_CACHE/wireguard-go-0.0.20231211-1~bpo12+1/usr/bin/wireguard-go|"
}

@test "offload wireguard-go: the pinned build gone, the newest one there is (never one without the offloads)" {
  WG_OFFLOAD_VERSION=0.0.20231211-9~bpo12+9 BENCH_BACKPORTS=$(source_of both) fetch
  assert_success
  assert_output "$BENCH_CACHE/wireguard-go-0.0.20240101-1~bpo12+1/usr/bin/wireguard-go|"
  [[ $stderr == *"wireguard-go 0.0.20231211-9~bpo12+9 is no longer in bookworm-backports; taking its newest, 0.0.20240101-1~bpo12+1"* ]]
  run -0 "${output%|}"
  assert_output "wireguard-go v0.0.20240101-1~bpo12+1"
}

@test "offload wireguard-go: none to be had, the reason" {
  BENCH_BACKPORTS=$(source_of old) fetch
  assert_failure
  assert_output "|no wireguard-go >= 0.0.20231211 in bookworm-backports (it has: 0.0.20220316-1)"
  BENCH_BACKPORTS="deb [trusted=yes] file:/nonexistent/tund-test ./" fetch
  assert_failure
  assert_output '|apt-get update of "deb [trusted=yes] file:/nonexistent/tund-test ./" failed'
}

@test "bench/run.sh: without an offload-capable wireguard-go that row fails with the reason, the others run, the tables print" {
  local results=$BATS_TEST_TMPDIR/results
  bench_run BENCH_BACKPORTS="$(source_of old)" RESULTS_DIR="$results" REPS=1 TCP_SECS=1 UDP_SECS=1 \
    PING_COUNT=3 IDLE_SECS=0 bash "$PROJECT_ROOT/bench/run.sh" veth wireguard-go-offload
  assert_success
  assert_output --partial "bench: wireguard-go-offload will not run: no wireguard-go >= 0.0.20231211 in bookworm-backports (it has: 0.0.20220316-1)"
  assert_line --regexp '^\| veth +\| +1/1 \|'
  assert_line --regexp '^\| wireguard-go-offload +\| +0/1 \|.*\| none \(not fetched\) +\|$'
  run -0 jq -r 'select(.name == "wireguard-go-offload") | .errors[]' "$results"/run-*.jsonl
  assert_output --partial "no offload-capable wireguard-go: no wireguard-go >= 0.0.20231211 in bookworm-backports (it has: 0.0.20220316-1)"
}
