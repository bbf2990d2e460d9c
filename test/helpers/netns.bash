# shellcheck shell=bash
# Namespaces and background processes of a test, recorded so that its teardown removes exactly
# what it made: common.bash (bats) sources this file, and so does test/load/lib.sh for the load
# and soak scripts, which reuse the bats set-up helpers (vpnws.bash, wireguard.bash) outside bats. The caller sets TEST_TAG
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
  netns_add "$ns" "$TEST_NETNS_LIST" || return 1
  echo "$ns"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# veth_pair NS_A ADDR_A NS_B ADDR_B [ID]: joins two namespaces (addresses with prefix, 198.18/15
# only). The links are named TAG[ID]a / TAG[ID]b: give each pair of a test its own short ID.
veth_pair() {
  veth_join "$1" "${TEST_TAG}${5:-}a" "$2" "$3" "${TEST_TAG}${5:-}b" "$4"
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

# netns_add NAME LIST: namespace NAME with lo up, its name appended to the file LIST.
netns_add() {
  ip netns add "$1" || return 1
  echo "$1" >>"$2"
  ip -n "$1" link set lo up
}

# veth_join NS_A DEV_A ADDR_A NS_B DEV_B ADDR_B: a veth pair made inside NS_A with its other end in
# NS_B (the names never exist in the host's namespace), addresses with prefix, both ends up.
veth_join() {
  local a=$1 da=$2 aa=$3 b=$4 db=$5 ba=$6
  ip -n "$a" link add "$da" type veth peer name "$db" netns "$b" || return 1
  ip -n "$a" addr add "$aa" dev "$da" &&
    ip -n "$b" addr add "$ba" dev "$db" &&
    ip -n "$a" link set "$da" up &&
    ip -n "$b" link set "$db" up
}

# netns_remove_listed LIST: what runs inside each listed namespace killed, then the namespace
# deleted; only what LIST names, never anything by pattern.
netns_remove_listed() {
  local ns pid
  [[ -f $1 ]] || return 0
  while read -r ns; do
    [[ -n $ns ]] || continue
    # anything still running inside was started by whoever made the namespace
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || true
  done <"$1"
}
