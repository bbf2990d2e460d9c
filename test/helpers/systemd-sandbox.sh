#!/usr/bin/env bash
# systemd-sandbox.sh - boot the host's own systemd as PID 1 of private namespaces, for the suites
# that need a real service manager (units, socket activation, sd_notify, resolved) on a machine
# whose PID 1 is not systemd, or must not be touched.
#
#   systemd-sandbox.sh start NAME [HOST_DIR...]   boot; HOST_DIRs are shared read-write
#   systemd-sandbox.sh exec NAME CMD [ARG...]     run CMD inside (stdio and exit status pass through)
#   systemd-sandbox.sh stop NAME                  power off, kill what is left, remove every trace
#   systemd-sandbox.sh status NAME                exit 0 when running
#
# What the sandbox is:
#   - new PID, mount, UTS, IPC, network and cgroup namespaces (unshare); the network namespace has
#     only lo until a test adds links;
#   - the root is an overlay: the host's / read-only below, a tmpfs above, so whatever the tests
#     install or change inside is gone at stop. HOST_DIRs are bind-mounted at the same path and
#     are the only host paths a test can change;
#   - fresh /proc (with /proc/sys read-only except /proc/sys/net, whose settings belong to the
#     sandbox's own network namespace), read-only /sys, a tmpfs /dev with a few device nodes
#     (null, zero, full, random, urandom, tty, net/tun), a tmpfs /run;
#   - its own cgroup2 subtree (<cgroup2 root>/tund-sandbox-NAME), the root of its cgroup namespace;
#   - capabilities that act on the whole machine (modules, clock, raw I/O, syslog) removed from
#     the bounding set.
#
# Sharing the host's /tmp (tests keep their files there) needs care: Debian's tmpfiles.d says
# "D /tmp" and "R! /tmp/systemd-private-*", which systemd-tmpfiles --remove at boot would apply to
# the HOST's /tmp (and to other sandboxes' private directories). Every tmpfiles.d snippet that
# names /tmp is therefore masked inside when /tmp is one of the HOST_DIRs.
#
# NAME must be unique per run (the suites use their PID); a second start of a running NAME fails.
# Every failure during start tears down what was made. Needs root, util-linux (unshare, nsenter,
# setpriv, pivot_root), bsdutils (script), overlayfs and cgroup2.
set -euo pipefail

PROG=${0##*/}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
STATE_BASE=${TUND_SANDBOX_STATE:-/run/tund-sandbox}
BOOT_TIMEOUT=${TUND_SANDBOX_BOOT_TIMEOUT:-60}
STOP_TIMEOUT=${TUND_SANDBOX_STOP_TIMEOUT:-15}
SYSTEMD=/lib/systemd/systemd
# the bounding-set capabilities that reach beyond the sandbox's namespaces
DROPPED_CAPS=-sys_module,-sys_time,-sys_rawio,-syslog,-wake_alarm,-block_suspend,-mac_admin,-mac_override

fail() { echo "$PROG: $*" >&2; exit 1; }
usage() { sed -n '4,8p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

check_name() {
  [[ $1 =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || fail "bad sandbox name \"$1\" (expected 1-40 of A-Z a-z 0-9 _ . -)"
}

# ------------------------------------------------------------------------------------- host side

# A process that exists and is not a zombie (a late-reaping host init leaves zombies around).
running() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# The host PID of the sandbox's PID 1, when that process is still the one the state dir names.
init_pid() {
  local pid
  pid=$(cat "$STATE/init.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && running "$pid" || return 1
  [[ $(readlink "/proc/$pid/ns/pid" 2>/dev/null) == "$(cat "$STATE/init.pidns" 2>/dev/null)" ]] || return 1
  echo "$pid"
}

# Where this host mounts its cgroup2 hierarchy: pure v2, hybrid (unified), or none (then a private
# cgroup2 mount in the state directory, removed at stop).
cgroup2_root() {
  local d
  for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    [[ $(stat -fc %T "$d" 2>/dev/null) == cgroup2fs ]] && { echo "$d"; return 0; }
  done
  mkdir -p "$STATE/cgroup2"
  mount -t cgroup2 none "$STATE/cgroup2" && echo "$STATE/cgroup2"
}

inside() { # inside PID CMD... : all namespaces and the root of the sandbox, cwd kept if it exists
  local pid=$1; shift
  # shellcheck disable=SC2016 # expanded by the inner shell
  nsenter -t "$pid" -a -r -- /bin/sh -c 'cd "$1" 2>/dev/null || cd /; shift; exec "$@"' sh "$PWD" "$@"
}

do_start() {
  local binds=("$@") cgroot cg pid deadline state=
  [[ $(id -u) -eq 0 ]] || fail "must run as root"
  [[ -x $SYSTEMD ]] || fail "$SYSTEMD not found (apt-get install systemd)"
  local tool
  for tool in unshare nsenter setpriv pivot_root script; do
    command -v "$tool" >/dev/null || fail "$tool not found (apt-get install util-linux bsdutils)"
  done
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || fail "the kernel has no overlayfs"
  local b
  for b in "${binds[@]}"; do
    [[ $b == /* && -d $b && $b != *[[:space:]]* ]] || fail "cannot share \"$b\" (expected an existing absolute directory without spaces)"
  done
  if [[ -e $STATE ]]; then
    init_pid >/dev/null && fail "sandbox $NAME is already running"
    do_stop  # what a crashed run left behind
  fi

  mkdir -p "$STATE"
  chmod 700 "$STATE"
  # any way out of here before the boot completed (error, timeout, signal) removes the sandbox
  BOOTED=0 # read by the EXIT trap
  trap '((BOOTED)) || { echo "$PROG: start of $NAME failed; console:" >&2; tail -n 40 "$STATE/console.log" >&2 2>/dev/null; do_stop; }' EXIT
  printf '%s\n' "${binds[@]}" >"$STATE/binds"
  cgroot=$(cgroup2_root) || fail "no cgroup2 hierarchy"
  cg=$cgroot/tund-sandbox-$NAME
  # two leaves under one parent: the launcher (unshare, parent of PID 1) and the sandbox proper,
  # so that no process ever sits in an inner node of the subtree systemd manages
  mkdir -p "$cg/launcher" "$cg/payload"
  echo "$cg" >"$STATE/cgroup"
  : >"$STATE/console.log"

  # `script` holds the master of a pty whose slave becomes the sandbox's /dev/console (systemd
  # writes its boot messages there; the log is the console). Inherited fds above 2 are closed,
  # or bats would wait for the sandbox to close its fd 3.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-"
    done 2>/dev/null
    exec setsid script -q -f -e -c "exec '$SELF' __launch '$NAME'" "$STATE/console.log"
  ) </dev/null >/dev/null 2>"$STATE/launcher.log" &
  echo $! >"$STATE/script.pid"

  # PID 1 writes its host PID once it runs (before it execs systemd)
  deadline=$((SECONDS + 10))
  until [[ -s $STATE/init.pidns ]]; do
    ((SECONDS < deadline)) || { cat "$STATE/launcher.log" "$STATE/console.log" >&2; false; }
    sleep 0.05
  done
  pid=$(cat "$STATE/init.pid")

  deadline=$((SECONDS + BOOT_TIMEOUT))
  while :; do
    running "$pid" || { echo "$PROG: PID 1 of $NAME died while booting" >&2; false; }
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd ]]; then
      state=$(timeout 10 nsenter -t "$pid" -a -r systemctl is-system-running 2>/dev/null || true)
      [[ $state == running || $state == degraded ]] && break
    fi
    ((SECONDS < deadline)) || { echo "$PROG: $NAME not booted within ${BOOT_TIMEOUT}s (state: ${state:-none})" >&2; false; }
    sleep 0.1
  done
  # shellcheck disable=SC2034 # read by the EXIT trap
  BOOTED=1
  echo "$PROG: $NAME is up (systemd is host PID $pid, $state)" >&2
}

# Stops everything of NAME that exists; safe to call for a sandbox that never started or already
# stopped (does nothing then).
do_stop() {
  local pid i cg launcher
  if pid=$(init_pid); then
    # systemd's "poweroff"; PID 1 that is not systemd yet (a failed start) has nothing to shut down
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd ]]; then
      kill -s SIGRTMIN+4 "$pid" 2>/dev/null || true
      for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do running "$pid" || break; sleep 0.1; done
    fi
    # SIGKILL to PID 1 ends every process of its PID namespace
    if running "$pid"; then
      [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd ]] && echo "$PROG: $NAME did not power off within ${STOP_TIMEOUT}s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  cg=$(cat "$STATE/cgroup" 2>/dev/null || true)
  if [[ -n $cg && ${cg##*/} == "tund-sandbox-$NAME" && -d $cg ]]; then
    # anything left in the subtree (the launcher chain, processes that escaped PID 1) goes too
    for ((i = 0; i < 50; i++)); do
      [[ -e $cg/cgroup.kill ]] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d $cg ]] || break
      if [[ ! -e $cg/cgroup.kill ]]; then
        # kernels before 5.14 have no cgroup.kill
        while read -r launcher; do kill -KILL "$launcher" 2>/dev/null || true; done < <(cat "$cg"/*/cgroup.procs "$cg"/cgroup.procs 2>/dev/null)
      fi
      sleep 0.1
    done
    [[ -d $cg ]] && echo "$PROG: warning: cgroup $cg could not be removed" >&2
  fi
  # script (outside the cgroup) ends when its child, the launcher, is gone
  pid=$(cat "$STATE/script.pid" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]]; then
    for ((i = 0; i < 20; i++)); do running "$pid" || break; sleep 0.1; done
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == script ]] && kill -KILL "$pid" 2>/dev/null
  fi
  if [[ -d $STATE/cgroup2 ]]; then
    umount "$STATE/cgroup2" 2>/dev/null || true
  fi
  # the overlay, tmpfs and bind mounts only ever existed in the sandbox's mount namespace
  # ($STATE_BASE stays: another sandbox may be starting in it right now)
  if [[ -d $STATE ]]; then rm -rf --one-file-system "$STATE"; fi
}

do_exec() {
  local pid
  pid=$(init_pid) || fail "sandbox $NAME is not running"
  inside "$pid" "$@"
}

# --------------------------------------------------------------------- inside, before systemd

# Runs as PID 1 of the new PID namespace (created by unshare in __launch), still in the host's
# cgroup namespace and with the host's mounts (now private copies).
init_sandbox() {
  local cg hostpid
  # the host PID first (our /proc is still the host's), for `exec` and `stop`
  read -r hostpid _ </proc/self/stat
  echo "$hostpid" >"$STATE/init.pid"
  cg=$(cat "$STATE/cgroup")
  echo 0 >"$cg/payload/cgroup.procs"
  # our own cgroup namespace, rooted at the payload leaf: systemd sees the subtree as "/"
  exec unshare --cgroup -- "$SELF" __root "$NAME"
}

TMP_SHARED=0
mount_root() {
  local root=$STATE/root rw=$STATE/rw p d binds=()
  mapfile -t binds <"$STATE/binds"
  mount --make-rprivate /
  mkdir -p "$root" "$rw"
  mount -t tmpfs -o mode=0755,size=2g tund-sandbox-rw "$rw"
  mkdir -p "$rw/upper" "$rw/work"
  mount -t overlay -o "lowerdir=/,upperdir=$rw/upper,workdir=$rw/work" tund-sandbox "$root"
  for p in ${binds[@]+"${binds[@]}"}; do
    mkdir -p "$root$p"
    mount --bind "$p" "$root$p"
    [[ $p == /tmp ]] && TMP_SHARED=1
  done
  ((TMP_SHARED)) || mount -t tmpfs -o mode=1777,nosuid,nodev tund-sandbox-tmp "$root/tmp"

  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  # sysctls outside net/ are the machine's: read-only; net/ is our network namespace's
  mount --bind "$root/proc/sys" "$root/proc/sys"
  mount -o remount,bind,ro,nosuid,nodev,noexec "$root/proc/sys"
  mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
  mount -o remount,bind,rw,nosuid,nodev,noexec "$root/proc/sys/net"
  if [[ -e $root/proc/sysrq-trigger ]]; then
    mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
    mount -o remount,bind,ro "$root/proc/sysrq-trigger"
  fi
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"

  mount -t tmpfs -o mode=0755,nosuid,size=8m tund-sandbox-dev "$root/dev"
  for d in null zero full random urandom tty net/tun; do
    [[ -c /dev/$d ]] || continue
    mkdir -p "$(dirname "$root/dev/$d")"
    : >"$root/dev/$d"
    mount --bind "/dev/$d" "$root/dev/$d"
  done
  mkdir -p "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$root/dev/pts"
  ln -s pts/ptmx "$root/dev/ptmx"
  mount -t tmpfs -o mode=1777,nosuid,nodev tund-sandbox-shm "$root/dev/shm"
  mount -t mqueue -o nosuid,nodev,noexec mqueue "$root/dev/mqueue"
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"
  ln -s /proc/self/fd/1 "$root/dev/stdout"
  ln -s /proc/self/fd/2 "$root/dev/stderr"
  : >"$root/dev/console"
  # stdin is the slave of script's pty: that is the console
  p=$(readlink /proc/self/fd/0)
  [[ $p == /dev/pts/* ]] && mount --bind "$p" "$root/dev/console"
  mount -t tmpfs -o mode=0755,nosuid,nodev,size=256m tund-sandbox-run "$root/run"
}

# Files written into the overlay's upper layer only: the host's /etc never changes.
configure_root() {
  local root=$STATE/root f
  systemd-id128 new >"$root/etc/machine-id"
  echo "sandbox-$NAME" >"$root/etc/hostname"
  hostname "sandbox-$NAME"
  mkdir -p "$root/etc/systemd/journald.conf.d" "$root/etc/tmpfiles.d" "$root/etc/systemd/system"
  printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' >"$root/etc/systemd/journald.conf.d/tund-sandbox.conf"
  if ((TMP_SHARED)); then
    for f in "$root"/usr/lib/tmpfiles.d/*.conf "$root"/etc/tmpfiles.d/*.conf; do
      [[ -f $f ]] && grep -qE '^[^#]*[[:space:]]/tmp(/|[[:space:]]|$)' "$f" && ln -sf /dev/null "$root/etc/tmpfiles.d/${f##*/}"
    done
  fi
  # The host's enabled services and timers stay off (apt-daily, databases, getty...): only what a
  # test starts runs.
  rm -rf "$root"/etc/systemd/system/*.wants "$root"/etc/systemd/system/*.requires
  cat >"$root/etc/systemd/system/tund-sandbox.target" <<'EOF'
[Unit]
Description=Test sandbox (basic system and the journal)
Requires=basic.target
Wants=systemd-journald.service
After=basic.target systemd-journald.service
AllowIsolate=yes
EOF
  ln -sf tund-sandbox.target "$root/etc/systemd/system/default.target"
  # a getty on the console would vhangup() script's pty
  ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"
}

enter_root() {
  mount_root
  configure_root
  # the host's mount tree leaves our namespace: only the sandbox's root remains
  cd "$STATE/root"
  mkdir -p .host-root
  pivot_root . .host-root
  cd /
  umount -l /.host-root
  rmdir /.host-root
  exec env -i container=tund-sandbox TERM=linux LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    setpriv --bounding-set "$DROPPED_CAPS" -- "$SYSTEMD" --unit=tund-sandbox.target --show-status=yes
}

# ------------------------------------------------------------------------------------------ main

cmd=${1:-}
[[ $# -ge 2 ]] || usage
NAME=$2
check_name "$NAME"
STATE=$STATE_BASE/$NAME
shift 2
case $cmd in
  start) do_start "$@" ;;
  stop) do_stop; echo "$PROG: $NAME stopped" >&2 ;;
  exec) [[ $# -gt 0 ]] || usage; do_exec "$@" ;;
  status) init_pid >/dev/null ;;
  __launch)
    # inside script's pty: join the launcher leaf, then make the namespaces. PID 1 is unshare's
    # child; --kill-child takes it down if we die. SIGHUP (the pty going away) is ignored.
    echo 0 >"$(cat "$STATE/cgroup")/launcher/cgroup.procs"
    trap '' HUP
    exec unshare --pid --mount --uts --ipc --net --fork --kill-child --propagation private -- "$SELF" __init "$NAME"
    ;;
  __init) init_sandbox ;;
  __root)
    readlink /proc/self/ns/pid >"$STATE/init.pidns.tmp" 2>/dev/null || true
    # the PID namespace as the host sees it (our /proc is still the host's), then mounts
    mv "$STATE/init.pidns.tmp" "$STATE/init.pidns"
    enter_root
    ;;
  *) usage ;;
esac
