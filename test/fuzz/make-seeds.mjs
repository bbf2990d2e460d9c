#!/usr/bin/env node
// Writes the seed corpora of the fuzz targets (test/fuzz/corpus/TARGET/) that come from files of
// this repository: the VTun sessions captured from the real vtund (frames, handshake lines,
// flags), the vtund.conf and wg-quick fixtures, tund.conf files `tund import-vtun` makes of
// them. Seeds from live traffic with wireguard-go and wg(8) come from capture-wg.sh and
// capture-uapi.sh beside this file. Run after `npm run build`; the output is committed.
//
//   node test/fuzz/make-seeds.mjs [--vectors DIR]
//     DIR: the captured VTun sessions (*.json, default test/fixtures/vtun-vectors)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpus = path.join(root, 'test', 'fuzz', 'corpus');
const args = process.argv.slice(2);
const at = args.indexOf('--vectors');
const vectorsDir = path.resolve(at >= 0 && args[at + 1] ? args[at + 1] : path.join(root, 'test', 'fixtures', 'vtun-vectors'));

const { importVtundConf } = await import(path.join(root, 'dist', 'core', 'vtun', 'import.js'));
const { challengeResponse, encodeLetters } = await import(path.join(root, 'dist', 'core', 'vtun', 'challenge.js'));
const { encodeBlock } = await import(path.join(root, 'dist', 'core', 'vtun', 'handshake.js'));
const { CHALLENGE, PASSWORD } = await import(path.join(root, 'dist', 'test', 'fuzz', 'js', 'targets', 'vtun_handshake.js'));

let written = 0;
function seed(target, name, bytes) {
  const dir = path.join(corpus, target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), bytes);
  written++;
}
const hex = (h) => Buffer.from(h, 'hex');

// ---- the captured VTun sessions

// the module chain selector of test/fuzz/native/fuzz_common.h: compression * 18 + cipher index
const CIPHERS = [0, 999, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
function chain(flags) {
  const cipher = CIPHERS.indexOf(flags.cipher ?? 0);
  const compression = flags.zlib != null ? 1 : flags.lzo != null ? 2 : 0;
  const level = flags.zlib != null ? flags.zlib - 1 : flags.lzo === 9 ? 1 : 0;
  return [compression * CIPHERS.length + cipher, level];
}

const vectors = fs.existsSync(vectorsDir) ? fs.readdirSync(vectorsDir).filter((f) => f.endsWith('.json')).sort() : [];
if (vectors.length === 0) process.stderr.write(`make-seeds: no captured VTun sessions in ${vectorsDir} (--vectors DIR)\n`);
for (const file of vectors) {
  const v = JSON.parse(fs.readFileSync(path.join(vectorsDir, file), 'utf8'));
  const name = file.replace(/\.json$/, '');
  const [sel, level] = chain(v.flags);
  for (const dir of ['C->S', 'S->C']) {
    const tag = dir === 'C->S' ? 'client' : 'server';
    const stream = Buffer.concat(v.frames.filter((f) => f.dir === dir).map((f) => hex(f.hex)));
    seed('vtun_decode', `${name}-${tag}`, Buffer.concat([Buffer.from([sel, level]), stream]));
    if (v.meta.proto === 'udp') {
      // vtun_decode's UDP mode (0x80; 0x40: nat_hack awaits the peer): each datagram after a 2-byte length
      const datagrams = v.frames.filter((f) => f.dir === dir).map((f) => hex(f.hex)).map((d) => Buffer.concat([Buffer.from([d.length >> 8, d.length & 0xff]), d]));
      seed('vtun_decode', `${name}-${tag}-udp`, Buffer.concat([Buffer.from([sel, level | 0x80]), ...datagrams]));
      seed('vtun_decode', `${name}-${tag}-udp-nat-hack`, Buffer.concat([Buffer.from([sel, level | 0xc0]), ...datagrams]));
    }
    seed('vtun_tcp_split', `${name}-${tag}`, Buffer.concat([Buffer.from([0]), stream]));
    seed('vtun_tcp_split', `${name}-${tag}-reads`, Buffer.concat([Buffer.from([5]), stream, Buffer.from([1, 2, 3, 0, 200])]));
    const packets = v.frames.filter((f) => f.dir === dir && f.plain_hex).map((f) => hex(f.plain_hex));
    if (packets.length) {
      const body = packets.map((p) => Buffer.concat([Buffer.from([(p.length - 1) >> 8, (p.length - 1) & 0xff]), p]));
      seed('vtun_roundtrip', `${name}-${tag}`, Buffer.concat([Buffer.from([sel, level]), ...body]));
    }
    // the handshake as the other side sees it (mode 2: a client's blocks for our server; mode 1:
    // a server's blocks for our client, with the UDP port exchange)
    const blocks = Buffer.concat(v.handshake.filter((h) => h.dir === dir).map((h) => hex(h.hex)));
    const port = v.meta.proto === 'udp' ? Buffer.from([0x88, 0x13]) : Buffer.alloc(0);
    seed('vtun_handshake', `${name}-${tag}`, Buffer.concat([Buffer.from([dir === 'C->S' ? 2 : 1]), blocks, dir === 'S->C' ? port : Buffer.alloc(0)]));
  }
  const flags = v.handshake.find((h) => h.text.startsWith('OK FLAGS'));
  if (flags) seed('vtun_handshake', `${name}-flags`, Buffer.concat([Buffer.from([0]), Buffer.from(flags.text, 'latin1')]));
}

// a client that knows the target's server password, with and without SslAuth (mode 2; 11: bit 3)
for (const sslAuth of [true, false]) {
  const response = challengeResponse(CHALLENGE, PASSWORD, sslAuth);
  seed('vtun_handshake', `client-fz-${sslAuth ? 'sslauth' : 'nosslauth'}`, Buffer.concat([
    Buffer.from([sslAuth ? 2 : 11]), encodeBlock('HOST: fz\n'), encodeBlock(`CHAL: <${encodeLetters(response)}>\n`),
  ]));
}

// ---- configuration files

const fixtures = (dir, ext) => {
  const d = path.join(root, 'test', 'fixtures', dir);
  return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith(ext)).sort().map((f) => [f, fs.readFileSync(path.join(d, f))]) : [];
};
for (const [f, text] of fixtures('vtund', '.conf')) {
  seed('vtund_conf', f, text);
  // the header names the imported file by its absolute path: one that does not depend on where
  // this checkout lives, so that the seeds come out the same everywhere
  const file = path.posix.join('/test/fixtures/vtund', f);
  for (const client of [undefined, { host: '198.18.0.1', port: null }]) {
    const r = importVtundConf(text.toString('latin1'), { file, client });
    for (const s of r.sessions) if (s.conf) seed('tund_conf', `imported-${client ? 'client' : 'server'}-${s.name}.conf`, s.conf);
  }
}
for (const [f, text] of fixtures('wireguard', '.conf')) seed('wg_quick', f, text);

// tund.conf examples of the keys an import never writes
seed('tund_conf', 'udp-client.conf', [
  '[Session]', 'Role = client', 'Endpoint = [2001:2::1]:5000', 'Transport = udp', 'NatHack = yes', 'Encrypt = aes256ofb', 'Compress = lzo:9',
  'Keepalive = 10:3', 'Speed = 100:200 # kbit/s', '', '[Device]', 'Mode = tap', 'Name = fz0', 'Address = 198.19.0.1/24, 2001:2:0:1::1/64', 'MTU = 1400',
  'MultiQueue = yes', '', '[Route]', 'Mode = full', 'Exclude = 198.18.0.0/15', 'Table = 51820', 'Metric = 5', 'DNS = 198.18.0.53, 2001:2::53',
  'DNSDomains = example.test', '', '[Hooks]', 'Up = echo up # kept', 'Down = echo down', '',
].join('\n'));
seed('tund_conf', 'pipe-server.conf', ['[session]', 'role=server', 'listen=0.0.0.0:5001', 'persist=keep', 'multi=killold', 'timeout=60', 'sslauth=no',
  'SecretFile=fz.secret', '[device]', 'mode=pipe', 'program=/bin/cat', '[route]', 'mode=none', ''].join('\r\n'));

// ---- the native WireGuard targets, structured mode (odd first byte): any bytes are a recipe
let state = 0x2545f491;
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24)));
for (const [target, n] of [['wg_initiation', 4], ['wg_response', 3], ['wg_cookie', 3], ['wg_transport', 4], ['wg_allowed_ips', 3], ['wg_replay', 3]]) {
  for (let i = 0; i < n; i++) seed(target, `recipe-${i}`, Buffer.concat([Buffer.from([1 + 2 * i]), bytes(60 + 90 * i)]));
}

// iov_advance: a batch of iovecs and the byte counts its writes return (FuzzedDataProvider takes
// integers from the end of the input, the choices from the front: these are starting points only)
for (let i = 0; i < 3; i++) seed('iov_advance', `batch-${i}`, bytes(40 + 40 * i));

// offload_sum: packets' worth of bytes around the 32-byte steps (offset and accumulator come from
// the end of the input)
// (their own byte stream: the seeds of the targets below stay what they were)
{
  let x = 0x9e3779b9;
  const own = (n) => Buffer.from(Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24)));
  for (const n of [31, 64, 97, 1420, 1453]) seed('offload_sum', `bytes-${n}`, own(n));
  // blowfish_ecb: a key and frames' worth of data around the four-block steps (32 bytes); the key's
  // length comes from the input's last byte
  for (const [k, n] of [[16, 8], [16, 31], [16, 40], [56, 1424], [5, 1429]]) seed('blowfish_ecb', `key${k}-bytes-${n}`, Buffer.concat([Buffer.from([k - 1]), own(k + n)]));
}

// prefixes as a configuration gives them (wg_allowed_ips, even first byte: ParsePrefix line by line)
seed('wg_allowed_ips', 'prefixes', Buffer.concat([Buffer.from([0]), Buffer.from([
  '198.18.0.0/15', '2001:2::/48', '198.18.1.7', '2001:2::1/128', '0.0.0.0/0', '::/0', '198.18.0.1/33', '2001:2::/129',
  '198.18.1.200/25', '::ffff:198.18.0.1/120', '198.18.0.0/', '/8', 'fe80::1%eth0/64', '',
].join('\n'))]));

// wg_device: operations (test/fuzz/js/targets/wg_device.ts): 4 = I initiates, 2 0 = I's last message to R
// unchanged, 3 0 = R's last to I unchanged, 7 N = N seconds pass, 3 1 P X = with byte P changed by X
for (const [name, ops] of [
  ['handshake', [4, 2, 0, 3, 0]],
  ['handshake-rekey', [4, 2, 0, 3, 0, 7, 130, 4, 2, 0, 3, 0, 5, 3, 0, 2, 0]],
  ['initiation-replayed', [4, 2, 0, 2, 0, 7, 1, 2, 0]],
  ['response-corrupted', [4, 2, 0, 3, 1, 50, 1, 3, 0]],
  ['initiation-new-sender', [4, 2, 1, 5, 255, 3, 0]],
]) seed('wg_device', name, Buffer.from(ops));

// ---- vpn-ws: WebSocket frames (ws_frames) and HTTP heads (http_upgrade)

// frame(opcode, payload, { fin, mask, len16, rsv }): one RFC 6455 frame, masked with a fixed key
function frame(opcode, payload, o = {}) {
  const p = Buffer.from(payload);
  const mask = o.mask ? Buffer.from([0x37, 0xfa, 0x21, 0x3d]) : null;
  const len = p.length;
  const head = [((o.fin ?? true) ? 0x80 : 0) | (o.rsv ?? 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126 && !o.len16) head.push(m | len);
  else if (len <= 0xffff) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  const body = mask ? Buffer.from(p.map((b, i) => b ^ mask[i % 4])) : p;
  return Buffer.concat([Buffer.from(head), mask ? mask : Buffer.alloc(0), body]);
}
// an ARP request and an IPv4 ping as Ethernet frames between the test MACs
const arp = hex('ffffffffffff02005e20000a08060001080006040001' + '02005e20000ac6131401' + '000000000000c6131402');
const ping4 = Buffer.concat([hex('02005e20000b02005e20000a0800' + '4500005400004000400153a2c6131401c6131402' + '0800f7ff00010001'), Buffer.alloc(56, 0x61)]);
const jumbo = Buffer.concat([ping4.subarray(0, 14), Buffer.alloc(3000, 0x5a)]);
// byte 0: bit 0 server (masked frames), bits 1-2 the largest message (1518, 64, 9014, 200), bits 3-7 the read plan's length
const wsSeed = (name, sel, frames, plan = []) => seed('ws_frames', name, Buffer.concat([Buffer.from([sel | (plan.length << 3)]), ...frames, Buffer.from(plan)]));
for (const server of [0, 1]) {
  const mask = server === 1;
  const side = server ? 'server' : 'client';
  wsSeed(`${side}-binary`, server, [frame(2, arp, { mask }), frame(2, ping4, { mask })]);
  wsSeed(`${side}-binary-reads`, server, [frame(2, arp, { mask }), frame(2, ping4, { mask })], [1, 2, 3, 0]);
  wsSeed(`${side}-fragments-and-control`, server, [frame(2, ping4.subarray(0, 40), { mask, fin: false }), frame(9, 'hi', { mask }),
    frame(0, ping4.subarray(40), { mask }), frame(10, '', { mask }), frame(1, 'text, not a frame', { mask })]);
  wsSeed(`${side}-close`, server, [frame(2, arp, { mask }), frame(8, Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('going away')]), { mask }), frame(2, arp, { mask })]);
  wsSeed(`${side}-len16-empty-binary`, server, [frame(2, arp, { mask, len16: true }), frame(2, '', { mask })]);
  wsSeed(`${side}-jumbo`, server | 4, [frame(2, jumbo, { mask }), frame(2, ping4, { mask })], [7, 100, 0]);
  wsSeed(`${side}-too-big`, server | 2, [frame(2, ping4, { mask })]);
  wsSeed(`${side}-wrong-masking`, server, [frame(2, arp, { mask: !mask })]);
  wsSeed(`${side}-rsv-bits`, server, [frame(2, arp, { mask, rsv: 0x40 })]);
}

// http_upgrade, byte 0 % 3: 0 a request to the hub (byte 0 / 3, bit 0: Path = /vpn, bit 1: basic auth), 1 a response, 2 builder fields
const httpSeed = (name, mode, text) => seed('http_upgrade', name, Buffer.concat([Buffer.from([mode]), Buffer.from(text, 'latin1')]));
const crlf = (...lines) => lines.join('\r\n') + '\r\n\r\n';
// vpn-ws's own client: no version, a 10-byte key
httpSeed('request-vpn-ws-client', 0, crlf('GET /vpn HTTP/1.1', 'Host: 198.18.20.254:8080', 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Key: MTIzNDU2Nzg5MA==', 'X-vpn-ws-MAC: 02:00:5E:20:00:0A'));
// tund's client (BuildClientRequest), with basic auth, as a bridge
httpSeed('request-tund-auth', 9, crlf('GET /vpn?x=1 HTTP/1.1', 'Host: hub.test', 'User-Agent: tund', 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', 'X-vpn-ws-MAC: 02:00:5e:20:00:0b', 'X-vpn-ws-bridge: on',
  'Authorization: Basic YWxpY2U6cHc='));
// as nginx passes it on (proxy_set_header Upgrade/Connection, X-Forwarded-For)
httpSeed('request-through-nginx', 3, crlf('GET /vpn HTTP/1.1', 'Upgrade: websocket', 'Connection: upgrade', 'Host: 198.18.20.254',
  'X-Forwarded-For: 198.18.20.2', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==',
  'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'));
httpSeed('request-plain-get', 0, crlf('GET / HTTP/1.0', 'Host: x') + 'trailing websocket bytes');
httpSeed('request-version-8', 0, crlf('GET / HTTP/1.1', 'Host: x', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==', 'Sec-WebSocket-Version: 8'));
httpSeed('request-connect', 0, crlf('CONNECT 198.18.20.254:8443 HTTP/1.1', 'Host: 198.18.20.254:8443', 'Proxy-Authorization: Basic YTpi'));
httpSeed('response-101', 1, crlf('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=') + '\x82\x02ab');
httpSeed('response-401', 1, crlf('HTTP/1.1 401 Unauthorized', 'Server: nginx', 'Content-Length: 10', 'WWW-Authenticate: Basic realm="vpn"') + '401 body\r\n');
httpSeed('response-connect-200', 1, crlf('HTTP/1.0 200 Connection established', 'Proxy-agent: tinyproxy/1.11.1'));
httpSeed('response-connect-403', 1, crlf('HTTP/1.0 403 Access violation', 'Content-Type: text/html'));
httpSeed('build-fields', 2, ['/vpn?a=b', 'hub.test:8443', '02:00:5e:20:00:0a', 'alice', 'pass:word', 'tund', '0123456789abcdef', '198.18.20.254:8443'].join('\0'));
httpSeed('build-bridge-no-auth', 2, ['\x01/x', '[2001:2::1]:80', '', '', '', 'Mozilla/5.0 (X11)', 'k', 'hub.test:443'].join('\0'));

process.stdout.write(`make-seeds: ${written} seeds written under ${path.relative(root, corpus)}/ (${vectors.length} captured VTun sessions)\n`);
