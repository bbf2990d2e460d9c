#!/usr/bin/env bash
# setup.sh - everything the demo and the tests need on a fresh Debian 12 machine, as root:
# the Debian packages that are missing, `npm ci` (which builds the native addon with node-gyp)
# and the TypeScript build. Idempotent: a second run only rebuilds what changed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf 'setup: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || { say "must run as root (network namespaces, TUN devices, apt)"; exit 77; }
command -v node >/dev/null || { say "Node.js 20 or later is needed (node not found)"; exit 69; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || { say "Node.js 20 or later is needed (found $(node --version))"; exit 69; }

# Debian packages: build tools for the addon (binutils, with build-essential, has gold, which lays
# out its per-packet code: native/hot-order.txt; liblzo2 for VTun's LZO, libsystemd for sd-notify),
# the system tools tund drives (iproute2), the test tools (bats comes from npm), the real vtund
# (test/helpers/vtund-peer.sh), wireguard-go and wg (wireguard-tools) as interop peers, systemd
# and bsdutils for the systemd sandbox (test/helpers/systemd-sandbox.sh boots systemd as PID 1 in
# namespaces; it need not be running here) and systemd-socket-activate, mandoc for the man-page
# lint, the shells whose completions are tested, clang with libFuzzer, llvm (llvm-cov),
# libcrypto and zlib headers for the fuzz targets (test/fuzz; the suite runs each briefly), and
# for vpn-ws tunnels: nginx (TLS reverse proxy for WebSocket), tinyproxy (HTTP CONNECT proxy),
# openssl (test certificates made per run) and the system CAs; nftables to block UDP between
# namespaces (WireGuard over TCP, test/bats/wg-stream.bats).
# --no-install-recommends keeps wireguard-tools from pulling in a kernel image.
PACKAGES=(
  build-essential python3 pkg-config liblzo2-dev libsystemd-dev
  iproute2 iputils-ping procps psmisc util-linux bsdutils kmod systemd jq socat netcat-openbsd
  vtun wireguard-tools wireguard-go iperf3 mandoc man-db bash-completion zsh fish
  clang libclang-rt-14-dev llvm libssl-dev zlib1g-dev
  nginx tinyproxy openssl ca-certificates nftables
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The tests run nginx and tinyproxy themselves, in namespaces: their packages must not start
  # system-wide daemons (policy-rc.d 101 = "do not start", only while installing).
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { [[ -n $made_policy ]] && rm -f "$policy"; exit 1; }
  [[ -n $made_policy ]] && rm -f "$policy"
fi

[[ -e /dev/net/tun ]] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200 2>/dev/null || true; }

# Build against the headers of the Node that runs us (no header download: there is no network).
if [[ -z ${npm_config_nodedir:-} ]]; then
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  [[ -f $nodedir/include/node/node_api.h ]] && export npm_config_nodedir=$nodedir
fi

# One build at a time in this tree (npm ci replaces node_modules; node-gyp rewrites native/build).
exec 9>/tmp/tund-native.lock
flock 9

# npm ci only when the lock file, the native sources or their code layout (native/hot-order.txt,
# which make does not know the link depends on) changed since the last successful run.
stamp_value=$( (cat package-lock.json package.json native/binding.gyp native/hot-order.txt $(find native/src -type f | sort) 2>/dev/null; node --version) | sha256sum | cut -d' ' -f1)
stamp_file=node_modules/.tund-setup-stamp
if [[ ! -f $stamp_file || $(cat "$stamp_file") != "$stamp_value" || ! -f native/build/Release/tund_native.node ]]; then
  say "npm ci (builds the native addon)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  # npm 10 runs our own install script; npm 11 does too. Make sure the addon exists either way.
  [[ -f native/build/Release/tund_native.node ]] || npm run --silent build:native >&2
  [[ -f node_modules/sd-notify/build/Release/notify.node ]] || npm rebuild sd-notify >&2
  echo "$stamp_value" >"$stamp_file"
fi

say "compiling TypeScript"
# incremental (its state in dist/, gone with it): a tree that is already compiled is left as it is.
# The benchmark's own set-up runs during the test suites, and a rewrite of dist/ under a command
# another lane is starting made that command fail to load a half-written module.
npx --no-install tsc -p tsconfig.json --incremental --tsBuildInfoFile dist/.tsbuildinfo
flock -u 9
say "ready"
