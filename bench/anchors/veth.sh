# shellcheck shell=bash
# veth - no tunnel: the veth pair between the namespaces, the ceiling every tunnel runs on (veth
# has TSO/GSO, so its 1500-byte MTU does not limit it).
# shellcheck disable=SC2034 # TARGET is read by bench/measure.sh
TARGET=$UNDER_B
anchor_version() { echo "kernel $(uname -r)"; }
anchor_start() { :; }
