# shellcheck shell=bash
# Shared parts of the load and soak scripts (test/load/*.sh): names unique per run, namespaces and
# processes registered as they are made and removed by one EXIT trap (only what this run made),
# bounded waits, and samples of a process's memory and open files from /proc.
#
#   source "$(dirname "$0")/lib.sh"
#   lt_init load                     # LT_TAG (unique), LT_WORK (private work directory), trap
#   ns=$(lt_netns s)                 # a namespace named "$LT_TAG-s", lo up, deleted at exit
#   lt_track_pid PID                 # killed at exit (TERM, then KILL) if still running
#   lt_wait SECONDS CMD...           # poll CMD every 0.1 s until it succeeds, or fail
#   lt_proc PID                      # "RSS_KIB PSS_KIB FDS" of a running process
#
# Addresses used by the scripts come from 198.18.0.0/15 only.

LT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# make_netns, veth_pair, spawn_bg, wait_for: the suites' own (lt_init points them at this run)
# shellcheck source=test/helpers/netns.bash
source "$LT_ROOT/test/helpers/netns.bash"
export PATH="$LT_ROOT/bin:$PATH"
LT_PIDS=()
LT_KEEP_WORK=0

# lt_usage SCRIPT: the comment at the top of SCRIPT
lt_usage() { sed -n '2,/^set -uo/p' "$1" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//'; }
# bad PROBLEM: a usage error (exit 2); in_range N LO HI: N is an integer from LO to HI
bad() { echo "${LT_PROG:-load}: $*" >&2; exit 2; }
in_range() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }

lt_log() { printf '%s: %s\n' "${LT_PROG:-load}" "$*" >&2; }
lt_die() { lt_log "$*"; exit 1; }

# lt_init PREFIX: the run's tag (PREFIX, PID and a random part: namespaces of two runs never
# collide, and a name stays short enough for interfaces), its work directory and the cleanup trap.
lt_init() {
  [[ $(id -u) -eq 0 ]] || { lt_log "must run as root (namespaces, TUN devices)"; exit 77; }
  [[ -x $LT_ROOT/dist/commands/tund/index.js || -f $LT_ROOT/dist/commands/tund/index.js ]] ||
    lt_die "tund is not built: run bash scripts/setup.sh first"
  LT_TAG=$(printf '%s%x%02x' "$1" "$$" "$((RANDOM % 256))")
  LT_WORK=$(mktemp -d "${TMPDIR:-/tmp}/tund-$1.XXXXXX")
  # a file, not a variable: lt_netns runs in a command substitution (a subshell)
  LT_NETNS_LIST=$LT_WORK/netns.list
  : >"$LT_NETNS_LIST"
  # what netns.bash makes is recorded here, for lt_cleanup (and the suites' helpers that the
  # scripts reuse, test/helpers/*.bash, write their files into the work directory)
  TEST_TAG=$LT_TAG TEST_NETNS_LIST=$LT_NETNS_LIST TEST_PIDS_LIST=$LT_WORK/pids.list BATS_TEST_TMPDIR=$LT_WORK
  : >"$TEST_PIDS_LIST"
  trap lt_cleanup EXIT
  trap 'exit 130' INT TERM
}

lt_cleanup() {
  local rc=$? pid
  trap - EXIT
  # only processes that are still this script's children: a PID that ended long ago may belong to
  # someone else by now
  local ours=()
  for pid in "${LT_PIDS[@]}"; do lt_child "$pid" && ours+=("$pid"); done
  for pid in "${ours[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${ours[@]}"; do
    lt_wait 5 lt_gone "$pid" || { lt_child "$pid" && kill -KILL "$pid" 2>/dev/null; }
  done
  netns_remove_listed "$LT_NETNS_LIST"
  if ((rc == 0 && !LT_KEEP_WORK)); then rm -rf -- "$LT_WORK"; else lt_log "logs kept in $LT_WORK"; fi
  exit "$rc"
}

lt_netns() { make_netns "$1"; }

lt_track_pid() { LT_PIDS+=("$1"); }

# lt_watchdog SECONDS: past that time the script gets SIGTERM (its trap cleans up). Stopped by the
# cleanup like any tracked process; then it takes its sleep along and signals nobody.
lt_watchdog() {
  # shellcheck disable=SC2016 # expanded by the subshell
  (
    sleep "$1" &
    s=$!
    trap 'kill $s 2>/dev/null; exit 0' TERM
    wait "$s" && kill -TERM "$$"
  ) &
  lt_track_pid $!
}

# a running child of this script
lt_child() { [[ $(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ') == "$$" ]] && ! lt_gone "$1"; }

# a process that is gone (or a zombie nobody reaped yet)
lt_gone() { [[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

lt_wait() { wait_for "$@"; }

# lt_proc PID -> "RSS_KIB PSS_KIB FDS" (empty when the process is gone)
lt_proc() {
  local pid=$1 rss pss fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
  pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
  fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  [[ -n $rss ]] || return 1
  echo "$rss ${pss:-0} $fds"
}

# lt_stats -> "median max sum count" of the numbers on stdin (one per line)
lt_stats() { sort -n | awk '{v[NR] = $1; s += $1} END {if (NR == 0) {print "0 0 0 0"; exit} m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[NR], s, NR}'; }

# lt_net_snapshot NS -> every link (name and kind), address, route and rule of NS, sorted JSON, for
# before/after comparisons
lt_net_snapshot() {
  local ns=$1
  {
    ip -n "$ns" -j -d link show | jq '[.[] | {ifname, kind: (.linkinfo.info_kind // null)}]'
    ip -n "$ns" -j addr show | jq '[.[] | {ifname, a: [.addr_info[] | select(.scope != "link") | "\(.local)/\(.prefixlen)"]}]'
    ip -n "$ns" -j -4 route show table all
    ip -n "$ns" -j -6 route show table all | jq '[.[] | select(.dst | startswith("fe80") | not)]'
    ip -n "$ns" -j -4 rule show
    ip -n "$ns" -j -6 rule show
  } | jq -S -s .
}

# lt_tun_count NS -> the number of TUN/TAP devices in NS
lt_tun_count() { ip -n "$1" -j -d link show | jq '[.[] | select(.linkinfo.info_kind == "tun")] | length'; }

lt_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
