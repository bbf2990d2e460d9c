#!/usr/bin/env bash
# capture-uapi.sh - seeds for the uapi fuzz target from the real wg(8): wg talks to a UAPI
# socket in /run/wireguard (it has no other way without the kernel module); a small recorder
# listens there, answers "errno=0" and keeps every connection's bytes. Runs in a private mount
# namespace (unshare -m, a tmpfs on /run/wireguard), as root.
# Writes test/fuzz/corpus/uapi/wg-*; the output is committed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ ${1:-} != --inside ]]; then
  exec unshare -m --propagation private "$0" --inside
fi
mount -t tmpfs -o mode=0700 tmpfs /run/wireguard
work=$(mktemp -d /tmp/tund-capture-uapi.XXXXXX)
trap 'kill "$recorder" 2>/dev/null; rm -rf "$work"' EXIT

# the recorder: one file per connection; a request ends with an empty line
node --input-type=module -e '
import fs from "node:fs"; import net from "node:net";
let n = 0;
net.createServer((c) => {
  const file = `${process.argv[1]}/conn-${n++}`;
  let got = "";
  c.on("data", (d) => {
    got += d.toString("latin1");
    fs.writeFileSync(file, got, "latin1");
    if (got.endsWith("\n\n")) c.end(got.startsWith("get=1") ? "listen_port=51820\nerrno=0\n\n" : "errno=0\n\n");
  });
}).listen("/run/wireguard/fz0.sock");
' "$work" &
recorder=$!
for _ in $(seq 50); do [[ -S /run/wireguard/fz0.sock ]] && break; sleep 0.1; done

umask 077
wg genkey >"$work/key"
wg genpsk >"$work/psk"
peer=$(wg genkey | wg pubkey)
grep -v '^Address\|^DNS\|^MTU' "$ROOT/test/fixtures/wireguard/road-warrior.conf" | sed 's/vpn.example.com/198.18.0.9/' >"$work/setconf.conf"

wg set fz0 private-key "$work/key" listen-port 51820 fwmark 0x10 peer "$peer" preshared-key "$work/psk" \
  endpoint 198.18.0.2:51820 allowed-ips 198.18.0.0/15,2001:2::/48 persistent-keepalive 25
wg set fz0 peer "$peer" endpoint '[2001:2::2]:51821' allowed-ips '' persistent-keepalive off
wg set fz0 peer "$peer" remove
wg set fz0 fwmark off listen-port 0
wg setconf fz0 "$work/setconf.conf"
wg show fz0 >/dev/null

mkdir -p "$ROOT/test/fuzz/corpus/uapi"
i=0
for f in "$work"/conn-*; do
  # the target's first byte says how the bytes arrive: 0 = at once, else in chunks
  { printf '\0'; cat "$f"; } >"$ROOT/test/fuzz/corpus/uapi/wg-$i"
  echo "capture-uapi: uapi/wg-$i: $(head -c 5 "$f")... ($(stat -c %s "$f") bytes)"
  i=$((i + 1))
done
