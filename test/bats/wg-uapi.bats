#!/usr/bin/env bats
# tund's WireGuard userspace API server (core/wireguard/uapi*.ts) driven by the REAL wg(8) from
# wireguard-tools: wg show, wg showconf, wg set, wg syncconf against a fake device
# (test/helpers/uapi-device.mjs), in a private mount namespace with its own /run/wireguard. And
# tund's showconf rendering against the real wireguard-go's `wg showconf`.

load ../helpers/common
load ../helpers/wireguard

setup() {
  common_setup
  NS=$(make_netns u)
  HOLDER=$(wg_private_run "$NS")
  SD=$BATS_TEST_TMPDIR/device
  mkdir -p "$SD"
  DEV_KEY=$(wg_key_file device)
  PEER1=$(wg genkey | wg pubkey)
  PEER2=$(wg genkey | wg pubkey)
}
teardown() {
  show_logs
  common_teardown
}

# start_device [extra options...] : the fake device wgt0 with peers PEER1 and PEER2
start_device() {
  spawn_bg "$BATS_TEST_TMPDIR/device.log" nsenter -t "$HOLDER" -m -n -- node "$PROJECT_ROOT/test/helpers/uapi-device.mjs" \
    --name wgt0 --dir /run/wireguard --state-dir "$SD" --key "$DEV_KEY" --peer "$PEER1" --peer "$PEER2" "$@" >/dev/null
  wait_for 15 test -f "$SD/ready"
}

wgu() { wg_in "$HOLDER" wg "$@"; }

@test "wg show lists the interface and its peers as the device reports them; the socket is 0600" {
  start_device
  run wg_in "$HOLDER" stat -c %a /run/wireguard/wgt0.sock
  assert_output 600
  run wgu show interfaces
  assert_output wgt0
  run wgu show wgt0
  assert_success
  assert_line "interface: wgt0"
  assert_line "  public key: $(wg pubkey <"$DEV_KEY")"
  assert_line "  listening port: 51820"
  assert_line "peer: $PEER1"
  assert_line "  endpoint: 198.18.0.10:51820"
  assert_line "  allowed ips: 198.19.1.0/24"
  assert_line --regexp '^  latest handshake: [0-9]+ seconds ago$'
  assert_line "  transfer: 1000 B received, 1.95 KiB sent"
  # the machine-readable form: every field of every peer
  run wgu show wgt0 dump
  assert_line --index 0 "$(cat "$DEV_KEY")	$(wg pubkey <"$DEV_KEY")	51820	off"
  assert_line --index 2 --regexp "^$(printf '%s' "$PEER2" | sed 's/[+/]/\\&/g')	\(none\)	198\.18\.0\.11:51821	198\.19\.2\.0/24	[0-9]+	2000	4000	off$"
}

@test "wg showconf prints what tund's renderShowconf prints for the same state" {
  start_device
  run wgu showconf wgt0
  assert_success
  assert_equal "$output" "$(cat "$SD/showconf")"
  assert_line "PrivateKey = $(cat "$DEV_KEY")"
}

@test "wg set: device and peer settings, remove, preshared key, private key; each lands in the device" {
  start_device
  local psk=$BATS_TEST_TMPDIR/psk new_key
  (umask 077 && wg genpsk >"$psk")
  wgu set wgt0 listen-port 4000 fwmark 0x1234 peer "$PEER1" endpoint '[2001:2::7]:9' persistent-keepalive 15 \
    allowed-ips 198.19.50.0/24,2001:2:0:50::/64 preshared-key "$psk"
  run wgu showconf wgt0
  assert_line "ListenPort = 4000"
  assert_line "FwMark = 0x1234"
  assert_line "Endpoint = [2001:2::7]:9"
  assert_line "PersistentKeepalive = 15"
  assert_line "AllowedIPs = 198.19.50.0/24, 2001:2:0:50::/64"
  assert_line "PresharedKey = $(cat "$psk")"
  # what wg sent: replace_allowed_ips for the peer (wg set allowed-ips replaces the list)
  tail -1 "$SD/sets" | jq -e '.listenPort == 4000 and .fwMark == 4660 and .peers[0].replaceAllowedIps and .peers[0].presharedKey'
  # an allowed IP moves from one peer to another (cryptokey routing)
  wgu set wgt0 peer "$PEER2" allowed-ips 198.19.50.0/24
  run wgu show wgt0 allowed-ips
  assert_line "$PEER1	2001:2:0:50::/64"
  assert_line "$PEER2	198.19.50.0/24"
  wgu set wgt0 peer "$PEER1" remove
  run wgu show wgt0 peers
  assert_output "$PEER2"
  new_key=$(wg_key_file newdevice)
  wgu set wgt0 private-key "$new_key"
  run wgu show wgt0 public-key
  assert_output "$(wg pubkey <"$new_key")"
}

@test "wg syncconf makes the device match a file: peers added, changed and removed" {
  start_device
  local peer3 conf=$BATS_TEST_TMPDIR/sync.conf
  peer3=$(wg genkey | wg pubkey)
  cat >"$conf" <<EOF
[Interface]
ListenPort = 51999
PrivateKey = $(cat "$DEV_KEY")

[Peer]
PublicKey = $PEER2
AllowedIPs = 198.19.20.0/24
Endpoint = 198.18.0.20:51820

[Peer]
PublicKey = $peer3
AllowedIPs = 198.19.30.0/24, 2001:2:0:30::/64
PersistentKeepalive = 25
EOF
  wgu syncconf wgt0 "$conf"
  run wgu showconf wgt0
  assert_success
  assert_equal "$output" "$(cat "$conf")"
  run wgu show wgt0 peers
  refute_line "$PEER1"
}

@test "a refused set is an error for wg (errno), and changes nothing" {
  start_device --busy-port 4001
  run wgu set wgt0 listen-port 4001
  assert_failure
  assert_output --partial 'Address already in use'
  run wgu show wgt0 listen-port
  assert_output 51820
  run wgu show nosuch0
  assert_failure
}

@test "a stale socket is taken over; a live one is refused" {
  start_device
  local pid
  pid=$(nsenter -t "$HOLDER" -m -n -- fuser /run/wireguard/wgt0.sock 2>/dev/null | tr -d ' ')
  # a second server for the same interface refuses while the first one lives
  run nsenter -t "$HOLDER" -m -n -- node "$PROJECT_ROOT/test/helpers/uapi-device.mjs" --name wgt0 --dir /run/wireguard --state-dir "$BATS_TEST_TMPDIR"
  assert_failure
  assert_output --partial 'is in use'
  # kill -9 leaves the socket file behind
  kill -KILL "$pid"
  wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
  run wg_in "$HOLDER" test -S /run/wireguard/wgt0.sock
  assert_success
  rm -f "$SD/ready"
  start_device
  run wgu show wgt0 listen-port
  assert_output 51820
}

@test "tund's showconf rendering of a wg-quick file matches the real wireguard-go's wg showconf" {
  local conf=$BATS_TEST_TMPDIR/hub.conf wgconf=$BATS_TEST_TMPDIR/hub.wgconf
  # the hub fixture with its PresharedKeyFile resolved
  (umask 077 && wg genpsk >"$BATS_TEST_TMPDIR/hub-phone.psk")
  cp "$PROJECT_ROOT/test/fixtures/wireguard/hub.conf" "$conf"
  chmod 600 "$conf"
  (cd "$PROJECT_ROOT" && node --input-type=module -e '
    const { loadWgQuickFile, readWgKeys } = await import("./dist/core/wireguard/conf.js");
    const { renderShowconf } = await import("./dist/core/wireguard/render.js");
    const { config } = await loadWgQuickFile(process.argv[1]);
    const keys = await readWgKeys(config, {});
    const state = { privateKey: keys.privateKey, listenPort: config.interface.listenPort ?? 0, fwMark: config.interface.fwMark,
      peers: config.peers.map((p, i) => ({ publicKey: Buffer.from(p.publicKey, "base64"), presharedKey: keys.presharedKeys[i],
        endpoint: p.endpoint, allowedIps: p.allowedIps, persistentKeepalive: p.persistentKeepalive, lastHandshake: null, rxBytes: 0, txBytes: 0 })) };
    process.stdout.write(renderShowconf(state));
  ' "$conf") >"$wgconf"
  wg_go_start "$HOLDER" wgt1
  wg_in "$HOLDER" wg setconf wgt1 "$wgconf"
  run wg_in "$HOLDER" wg showconf wgt1
  assert_success
  # wireguard-go lists a peer's allowed IPs in its own (trie) order: compare them sorted
  norm() { awk -F' = ' '/^AllowedIPs = /{n=split($2,a,", "); asort(a); s=a[1]; for(i=2;i<=n;i++) s=s", "a[i]; print "AllowedIPs = " s; next} {print}'; }
  assert_equal "$(norm <<<"$output")" "$(norm <"$wgconf")"
  assert_equal "$(grep -c '^\[Peer\]' "$wgconf")" 3
}
