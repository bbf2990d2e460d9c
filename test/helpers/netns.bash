# shellcheck shell=bash
# Namespaces and background processes of a test, recorded so that its teardown removes exactly
# what it made: common.bash (bats) sources this file, and so does test/load/soak.sh, which reuses
# the bats set-up helpers (vpnws.bash, wireguard.bash) outside bats. The caller sets TEST_TAG
# (unique per run), TEST_NETNS_LIST and TEST_PIDS_LIST (files) and removes what they list.
#
#   ns=$(make_netns a)          # a fresh namespace (lo up), listed in TEST_NETNS_LIST
#   in_ns "$ns" tunctl add t0 --mode tun
#   spawn_bg LOG cmd...         # background process, listed in TEST_PIDS_LIST
#
# Addresses used by tests come from 198.18.0.0/15 only.

# make_netns SUFFIX -> prints the namespace name; lo is up.
make_netns() {
  local ns="${TEST_TAG}${1:+-$1}"
  ip netns add "$ns" || return 1
  echo "$ns" >>"$TEST_NETNS_LIST"
  ip -n "$ns" link set lo up
  echo "$ns"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# veth_pair NS_A ADDR_A NS_B ADDR_B [ID]: joins two namespaces (addresses with prefix, 198.18/15
# only). The links are named TAG[ID]a / TAG[ID]b: give each pair of a test its own short ID.
veth_pair() {
  local a=$1 aa=$2 b=$3 ba=$4 va="${TEST_TAG}${5:-}a" vb="${TEST_TAG}${5:-}b"
  ip link add "$va" type veth peer name "$vb"
  ip link set "$va" netns "$a"
  ip link set "$vb" netns "$b"
  ip -n "$a" addr add "$aa" dev "$va"
  ip -n "$b" addr add "$ba" dev "$vb"
  ip -n "$a" link set "$va" up
  ip -n "$b" link set "$vb" up
}

# spawn_bg LOGFILE CMD... : start CMD in the background; its PID is killed in teardown.
spawn_bg() {
  local log=$1; shift
  "$@" >"$log" 2>&1 </dev/null &
  echo $! >>"$TEST_PIDS_LIST"
  echo $!
}

# wait_for SECONDS CMD... : poll every 0.1 s.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.1
  done
}
