# shellcheck shell=bash
# install.sh - what the anchors need, sourced by bench/run.sh after lib.sh:
#   bench_packages NAME...   install the Debian packages those anchors declare (PACKAGES=) when
#                            missing, with apt, --no-install-recommends
#   offload_wireguard_go     WG_GO_OFFLOAD: an offload-capable wireguard-go from bookworm-backports,
#                            fetched and unpacked into a cache directory on first use; or
#                            WG_GO_OFFLOAD_PROBLEM: why there is none
# Nothing here changes the system's apt configuration, and only bench_packages installs packages.

BENCH_CACHE=${BENCH_CACHE:-/var/cache/tund-bench}
APT=(apt-get -o DPkg::Lock::Timeout=600 -q)

bench_packages() {
  local n p want=(iperf3 jq iputils-ping iproute2 procps util-linux) missing=()
  for n in "$@"; do
    read -r -a p <<<"$(anchor_var "$n" PACKAGES)"
    want+=(${p[@]+"${p[@]}"})
  done
  for p in $(printf '%s\n' "${want[@]}" | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [[ ${BENCH_NO_INSTALL:-0} == 1 ]]; then
    log "bench: missing packages ${missing[*]} (BENCH_NO_INSTALL=1: not installing them)"
    return 0
  fi
  log "bench: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${APT[@]}" update >/dev/null || die "apt-get update failed"
  "${APT[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null || die "could not install ${missing[*]}"
}

# Debian 12's wireguard-go (0.0.20220316) predates wireguard-go's offloads (TUN TSO/GRO, UDP
# GSO/GRO, batched I/O); bookworm-backports has had them since 0.0.20231211, the first packaged
# build with them. It is fetched with apt through a sources list, lists and archive directory of
# our own (the system's sources, lists and installed packages stay as they are) and unpacked, not
# installed. Backports replaces its builds as it moves on, so the version measured so far is taken
# while it is there, else the newest build there is (the row's version column says which ran).
#   WG_OFFLOAD_VERSION   the build to take while backports has it (the one measured so far)
#   WG_OFFLOAD_MIN       no build older than this: it would lack the offloads
#   BENCH_BACKPORTS      the sources.list line to fetch it from (default: bookworm-backports of the
#                        Debian mirror this machine uses for bookworm)
WG_OFFLOAD_VERSION=${WG_OFFLOAD_VERSION:-0.0.20231211-1~bpo12+1}
WG_OFFLOAD_MIN=0.0.20231211

# backports_source: the sources.list line of bookworm-backports
backports_source() {
  local uri
  if [[ -n ${BENCH_BACKPORTS:-} ]]; then
    echo "$BENCH_BACKPORTS"
    return 0
  fi
  # the mirror of bookworm from the sources as configured (--no-release-info: also when no index
  # has been downloaded yet, as on a machine whose lists were cleaned), else Debian's redirector
  # shellcheck disable=SC2016 # $(...) is apt's format syntax
  uri=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk '$2 == "bookworm" { print $1; exit }')
  if [[ -z $uri ]]; then
    uri=http://deb.debian.org/debian/
    log "bench: no bookworm entry in this machine's apt sources; using $uri"
  fi
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-backports main"
}

# offload_wireguard_go: sets WG_GO_OFFLOAD to the path of an offload-capable wireguard-go (the
# pinned build, else the newest in backports), fetched and unpacked into BENCH_CACHE on first use;
# or, when there is none to be had, returns 1 with WG_GO_OFFLOAD_PROBLEM saying why (apt's own
# output goes to stderr).
# shellcheck disable=SC2034 # WG_GO_OFFLOAD and WG_GO_OFFLOAD_PROBLEM are for bench/run.sh
offload_wireguard_go() {
  local apt_dir=$BENCH_CACHE/apt versions version newest='' v dl
  WG_GO_OFFLOAD='' WG_GO_OFFLOAD_PROBLEM=''
  if [[ -x $BENCH_CACHE/wireguard-go-$WG_OFFLOAD_VERSION/usr/bin/wireguard-go ]]; then
    WG_GO_OFFLOAD=$BENCH_CACHE/wireguard-go-$WG_OFFLOAD_VERSION/usr/bin/wireguard-go
    return 0
  fi
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache" "$apt_dir/parts"
  backports_source >"$apt_dir/sources.list"
  # Dir::State::status: the versions backports has, not the one this machine has installed
  local own=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::Cache::Archives=$apt_dir/archives"
    -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
  log "bench: looking for wireguard-go $WG_OFFLOAD_VERSION in $(cat "$apt_dir/sources.list")"
  if ! timeout 300 apt-get -q "${own[@]}" update >&2; then
    WG_GO_OFFLOAD_PROBLEM="apt-get update of \"$(cat "$apt_dir/sources.list")\" failed"
    return 1
  fi
  versions=$(apt-cache "${own[@]}" madison wireguard-go 2>/dev/null | awk -F' *[|] *' '{ print $2 }')
  for v in $versions; do
    if [[ $v == "$WG_OFFLOAD_VERSION" ]]; then
      newest=$v
      break
    fi
    if dpkg --compare-versions "$v" ge "$WG_OFFLOAD_MIN" && { [[ -z $newest ]] || dpkg --compare-versions "$v" gt "$newest"; }; then
      newest=$v
    fi
  done
  version=$newest
  if [[ -z $version ]]; then
    WG_GO_OFFLOAD_PROBLEM="no wireguard-go >= $WG_OFFLOAD_MIN in bookworm-backports (it has: $(echo "${versions:-none}" | paste -sd " "))"
    return 1
  fi
  [[ $version == "$WG_OFFLOAD_VERSION" ]] ||
    log "bench: wireguard-go $WG_OFFLOAD_VERSION is no longer in bookworm-backports; taking its newest, $version"
  if [[ ! -x $BENCH_CACHE/wireguard-go-$version/usr/bin/wireguard-go ]]; then
    dl=$(mktemp -d "$apt_dir/archives/download.XXXXXX")
    if ! (cd "$dl" && timeout 300 apt-get -q "${own[@]}" download "wireguard-go=$version" >&2) ||
      ! dpkg-deb -x "$dl"/wireguard-go_*.deb "$dl/root" || [[ ! -x $dl/root/usr/bin/wireguard-go ]]; then
      rm -rf "$dl"
      WG_GO_OFFLOAD_PROBLEM="could not fetch and unpack wireguard-go $version from bookworm-backports"
      return 1
    fi
    rm -rf "$BENCH_CACHE/wireguard-go-$version"
    mv "$dl/root" "$BENCH_CACHE/wireguard-go-$version"
    rm -rf "$dl"
  fi
  WG_GO_OFFLOAD=$BENCH_CACHE/wireguard-go-$version/usr/bin/wireguard-go
}
