# shellcheck shell=bash
# install.sh - what the anchors need, sourced by bench/run.sh after lib.sh:
#   bench_packages NAME...   install the Debian packages those anchors declare (PACKAGES=) when
#                            missing, with apt, --no-install-recommends
#   offload_wireguard_go     print the path of wireguard-go 0.0.20231211 from bookworm-backports,
#                            fetched and unpacked into a cache directory on first use
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
# GSO/GRO, batched I/O); bookworm-backports has 0.0.20231211, the first packaged build with them.
# It is fetched with apt through a sources list, lists and archive directory of our own (the
# system's sources, lists and installed packages stay as they are) and unpacked, not installed.
WG_OFFLOAD_VERSION=0.0.20231211-1~bpo12+1
offload_wireguard_go() {
  local dir=$BENCH_CACHE/wireguard-go-$WG_OFFLOAD_VERSION apt_dir=$BENCH_CACHE/apt uri deb
  if [[ -x $dir/usr/bin/wireguard-go ]]; then
    echo "$dir/usr/bin/wireguard-go"
    return 0
  fi
  # the Debian mirror this machine already uses for bookworm, with the backports suite; from the
  # sources as configured (--no-release-info: also when no index has been downloaded yet, as on a
  # machine whose lists were cleaned), else Debian's own redirector
  # shellcheck disable=SC2016 # $(...) is apt's format syntax
  uri=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk '$2 == "bookworm" { print $1; exit }')
  if [[ -z $uri ]]; then
    uri=http://deb.debian.org/debian/
    log "bench: no bookworm entry in this machine's apt sources; using $uri"
  fi
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache" "$apt_dir/parts"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-backports main" >"$apt_dir/sources.list"
  local own=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::Cache::Archives=$apt_dir/archives"
    -o APT::Sandbox::User=root)
  log "bench: fetching wireguard-go $WG_OFFLOAD_VERSION from bookworm-backports into $BENCH_CACHE"
  timeout 300 apt-get -q "${own[@]}" update >&2 || return 1
  (cd "$apt_dir/archives" && timeout 300 apt-get -q "${own[@]}" download "wireguard-go=$WG_OFFLOAD_VERSION" >&2) || return 1
  deb=$(find "$apt_dir/archives" -maxdepth 1 -name 'wireguard-go_*bpo12*.deb' | head -n1)
  rm -rf "$dir.tmp"
  dpkg-deb -x "$deb" "$dir.tmp" && mv "$dir.tmp" "$dir" || return 1
  echo "$dir/usr/bin/wireguard-go"
}
