// vpnws-fake-hub.mjs: an independent vpn-ws hub for tests, built on the ws package (not on tund's
// code): a WebSocket server whose binary messages are Ethernet frames, switched by a small MAC
// table. It plays the real vpn-ws server (behind nginx, or alone) when tund's client is tested,
// and lets the fake peers be tested before tund has its own hub.
//
//   node vpnws-fake-hub.mjs --listen ADDR:PORT [--path /vpn] [--tap NAME] [--no-broadcast]
//                           [--no-multicast] [--no-pong] [--timeout SECONDS]
//
// Switching as vpn-ws does it: a peer's MAC comes from X-vpn-ws-MAC or its first frame; frames
// from another source MAC are dropped unless the peer said X-vpn-ws-bridge: on; unicast goes to
// the owner, unknown unicast to bridge peers, broadcast and multicast to every other peer. With
// --tap, an existing TAP device is one more (bridge) port. Pings are answered (ws does it), unless
// --no-pong: then it ignores them, as a real vpn-ws server does.
// Prints "listening PORT", then one line per event: "client N mac=... bridge=... path=...",
// "closed N CODE", "drop N REASON", "ping N". Ends after --timeout (default 600) or on SIGTERM, with
// "done frames=F drops=D". Every loop is bounded in time.
import { WebSocketServer } from 'ws';
import { TunDevice } from '../../dist/core/device/tun.js';

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const [host, port] = (() => {
  const l = opt('--listen', '127.0.0.1:8080');
  const i = l.lastIndexOf(':');
  return [l.slice(0, i).replace(/^\[|\]$/g, ''), Number(l.slice(i + 1))];
})();
const path = opt('--path', '');
const broadcast = !args.includes('--no-broadcast');
const multicast = !args.includes('--no-multicast');
const timeoutMs = Number(opt('--timeout', '600')) * 1000;

const macText = (b, at = 0) => [...b.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const isGroup = (b, at = 0) => (b[at] & 1) === 1;
const isZero = (b, at = 0) => b.subarray(at, at + 6).every((x) => x === 0);

/** port: { id, send(frame), bridge, mac (string|null) } */
const ports = new Map();
const owners = new Map(); // mac -> port id
let nextId = 1;
let frames = 0;
let drops = 0;

function drop(port, reason) {
  drops++;
  console.log(`drop ${port.id} ${reason}`);
}

function switchFrame(from, frame) {
  frames++;
  if (frame.length < 14) return drop(from, 'too_short');
  const src = macText(frame, 6);
  const dst = macText(frame, 0);
  if (isGroup(frame, 6) || isZero(frame, 6)) return drop(from, 'bad_source');
  if (from.mac === null) {
    from.mac = src;
    owners.set(src, from.id);
    console.log(`registered ${from.id} mac=${src}`);
  } else if (src !== from.mac) {
    if (!from.bridge) return drop(from, 'spoofed');
    owners.set(src, from.id);
  }
  if (isZero(frame, 0)) return drop(from, 'zero_destination');
  if (dst === src) return drop(from, 'loop');
  const others = [...ports.values()].filter((p) => p.id !== from.id && (p.mac !== null || p.bridge));
  let targets;
  if (dst === 'ff:ff:ff:ff:ff:ff') targets = broadcast ? others : [];
  else if (isGroup(frame, 0)) targets = multicast ? others : [];
  else if (owners.has(dst)) targets = others.filter((p) => p.id === owners.get(dst));
  else targets = others.filter((p) => p.bridge);
  if (targets.length === 0) return drop(from, 'no_destination');
  for (const p of targets) p.send(frame);
}

const wss = new WebSocketServer({ host, port, maxPayload: 65536 + 14, autoPong: !args.includes('--no-pong') });
wss.on('listening', () => console.log(`listening ${wss.address().port}`));
wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://hub');
  if (path && url.pathname !== path) {
    console.log(`refused path=${url.pathname}`);
    return ws.close(1008, 'wrong path');
  }
  const mac = req.headers['x-vpn-ws-mac'];
  const port = {
    id: nextId++,
    bridge: String(req.headers['x-vpn-ws-bridge'] ?? '').toLowerCase() === 'on',
    mac: typeof mac === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) ? mac.toLowerCase() : null,
    send: (frame) => ws.send(frame, { binary: true }),
  };
  ports.set(port.id, port);
  if (port.mac) owners.set(port.mac, port.id);
  console.log(`client ${port.id} mac=${port.mac ?? 'none'} bridge=${port.bridge} path=${url.pathname} user=${req.headers.authorization ? 'yes' : 'no'}`);
  ws.on('message', (data, binary) => {
    if (binary) switchFrame(port, Buffer.from(data));
  });
  ws.on('close', (code) => {
    ports.delete(port.id);
    for (const [m, id] of owners) if (id === port.id) owners.delete(m);
    console.log(`closed ${port.id} ${code}`);
  });
  ws.on('error', (e) => console.log(`error ${port.id} ${e.message}`));
  ws.on('ping', () => console.log(`ping ${port.id}`));
});

let tap;
if (opt('--tap', undefined)) {
  tap = TunDevice.attach(opt('--tap'), { kind: 'tap' });
  const bufs = Array.from({ length: tap.batchSize() }, () => Buffer.alloc(tap.mtu() + 64));
  const sizes = new Int32Array(bufs.length);
  const port = { id: nextId++, bridge: true, mac: null, send: (frame) => tap.writeBatch([frame], 0) };
  ports.set(port.id, port);
  console.log(`tap ${port.id} ${tap.name}`);
  const poll = () => {
    const n = tap.readBatch(bufs, sizes, 0);
    for (let i = 0; i < n; i++) switchFrame(port, Buffer.from(bufs[i].subarray(0, sizes[i])));
    setTimeout(poll, n > 0 ? 0 : 3);
  };
  poll();
}

function finish() {
  console.log(`done frames=${frames} drops=${drops}`);
  tap?.close();
  process.exit(0);
}
process.on('SIGTERM', finish);
setTimeout(finish, timeoutMs).unref();
