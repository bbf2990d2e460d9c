#!/usr/bin/env bash
# as-any-user.sh CMD [ARG...] - run CMD (as root; usually a `setpriv --reuid=...` that becomes an
# unprivileged user) where every user can reach this project's tree under its own path.
#
# Some tests run tund's commands as nobody. A clone inside a directory only root may enter
# (`mktemp -d` makes 0700 directories, and /root is 0700) hides the project from that user, and
# the test would measure "permission denied on node's module" instead of what it means to. Then
# CMD runs in a private mount namespace in which the topmost such directory is covered by a tmpfs
# that holds only the path down to the project, with the project bind-mounted at its place.
# Nothing changes outside that namespace. When the tree is reachable already, CMD runs as is.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
(($#)) || { echo "usage: as-any-user.sh CMD [ARG...]" >&2; exit 2; }

# the topmost directory on the way to the project that others may not search (no o+x)
closed=''
dir=''
IFS=/ read -r -a parts <<<"${root#/}"
for part in "${parts[@]}"; do
  dir=$dir/$part
  [[ $dir == "$root" ]] && break
  if (($(stat -c '0%a' "$dir") & 1)); then continue; fi
  closed=$dir
  break
done
[[ -n $closed ]] || exec "$@"

# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --mount --propagation private -- bash -c '
  set -euo pipefail
  root=$1 closed=$2 cwd=$3
  shift 3
  exec 3<"$root"                                   # the project, still reachable through fd 3
  mount -t tmpfs -o mode=0755 tund-project-view "$closed"
  mkdir -p "$root"
  mount --no-canonicalize --bind /proc/self/fd/3 "$root"  # the link itself, not its old path
  exec 3<&-
  cd "$cwd" 2>/dev/null || cd /
  exec "$@"' as-any-user "$root" "$closed" "$PWD" "$@"
