# shellcheck shell=bash
# Network namespaces and veth pairs for the tests: the primitives under the bats suites'
# make_netns/veth_pair (common.bash) and the load scripts' lt_netns (test/load/lib.sh). Plain bash
# (no bats), so that both can source it. Each namespace made is written to a list file; the
# cleanup removes exactly those, never anything by pattern.
#
#   netns_add NAME LIST              # namespace NAME with lo up, its name appended to LIST
#   veth_join NS_A DEV_A ADDR_A NS_B DEV_B ADDR_B
#   netns_remove_listed LIST         # what runs inside each listed namespace killed, then deleted
#
# Addresses used by tests come from 198.18.0.0/15 only.

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
