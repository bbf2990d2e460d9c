#!/usr/bin/env node
// N WireGuard peers in one process, for test/load/wg-peers.sh: each peer has its own key, its own
// UDP socket and its own tunnel address, runs the real handshake (the addon's `wg` bindings, the
// code tund's sessions use) against one responder, then sends PINGS ICMP echo requests through
// the tunnel to the responder's tunnel address, one every INTERVAL ms, and counts the replies.
// The responder's kernel answers them through its TUN device, so every reply crossed the
// responder's data path twice. Cookie replies (a responder under load) are honoured.
//
//   node wg-load-peers.mjs --keys DIR --count N --server-pub KEY --endpoint ADDR:PORT --bind ADDR
//        --src-prefix 198.19.200. --src-first 2 --dst 198.19.200.1 [--pings 5] [--interval 200]
//        [--spread 2000] [--timeout 60]
//   DIR holds the peers' private keys, DIR/1.key ... DIR/N.key (base64, 0600: never argv).
// Prints one JSON summary on stdout: handshakes completed, cookie replies, handshake times, pings
// sent and answered. Exit 0 when every peer completed its handshake and got every reply.
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
const wg = native().wg;
const { echoRequest } = await import(path.join(root, 'test', 'helpers', 'icmp.mjs'));
const PING_DATA = Buffer.from('tund wg load');

const opts = { pings: '5', interval: '200', spread: '2000', timeout: '60' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
const count = Number(opts.count);
const pings = Number(opts.pings);
const interval = Number(opts.interval);
const serverPublic = Buffer.from(opts['server-pub'], 'base64');
const [host, portText] = [opts.endpoint.slice(0, opts.endpoint.lastIndexOf(':')), opts.endpoint.slice(opts.endpoint.lastIndexOf(':') + 1)];
const port = Number(portText);

const started = Date.now();
const peers = [];
function finish() {
  const hs = peers.filter((p) => p.handshakeMs !== null).map((p) => p.handshakeMs).sort((a, b) => a - b);
  const sent = peers.reduce((n, p) => n + p.sent, 0);
  const answered = peers.reduce((n, p) => n + p.answered.size, 0);
  const summary = {
    peers: count,
    handshakes: hs.length,
    cookie_replies: peers.reduce((n, p) => n + p.cookies, 0),
    handshake_ms: { median: hs[Math.floor(hs.length / 2)] ?? null, max: hs[hs.length - 1] ?? null },
    pings_sent: sent,
    pings_answered: answered,
    ping_loss_percent: sent ? Math.round((1000 * (sent - answered)) / sent) / 10 : null,
    peers_all_answered: peers.filter((p) => p.answered.size === pings).length,
    seconds: (Date.now() - started) / 1000,
  };
  for (const p of peers) p.sock.close();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(summary.handshakes === count && summary.peers_all_answered === count ? 0 : 1);
}
setTimeout(finish, Number(opts.timeout) * 1000).unref();
const maybeDone = () => {
  if (peers.length === count && peers.every((p) => p.answered.size === pings)) finish();
};

for (let i = 1; i <= count; i++) {
  const identity = new wg.Identity(Buffer.from(fs.readFileSync(path.join(opts.keys, `${i}.key`), 'utf8').trim(), 'base64'));
  const peer = {
    src: `${opts['src-prefix']}${Number(opts['src-first']) + i - 1}`,
    handshake: new wg.Handshake(identity, serverPublic),
    generator: new wg.CookieGenerator(serverPublic),
    localIndex: (Math.random() * 0xffffffff) >>> 0,
    sock: dgram.createSocket('udp4'),
    keypair: null,
    send: null,
    recv: null,
    counter: 0n,
    sent: 0,
    answered: new Set(),
    cookies: 0,
    firstInitiation: 0,
    handshakeMs: null,
  };
  peers.push(peer);
  const sendData = (packet) => {
    const padded = Buffer.alloc(Math.ceil(packet.length / 16) * 16);
    packet.copy(padded);
    const header = Buffer.alloc(16);
    header[0] = 4;
    header.writeUInt32LE(peer.keypair.remoteIndex, 4);
    header.writeBigUInt64LE(peer.counter, 8);
    peer.sock.send(Buffer.concat([header, peer.send.seal(peer.counter++, padded)]), port, host);
  };
  const initiate = () => {
    if (peer.keypair) return;
    const m1 = peer.handshake.createInitiation(peer.localIndex);
    if (typeof m1 === 'string') throw new Error(`createInitiation: ${m1}`);
    peer.generator.addMacs(m1);
    peer.sock.send(m1, port, host);
    // no answer (a lost datagram, a responder too busy): try again, as WireGuard does after 5 s
    setTimeout(initiate, 5000).unref();
  };
  peer.sock.on('message', (msg) => {
    const type = wg.messageType(msg);
    if (type === 3) {
      peer.cookies++;
      peer.generator.consumeReply(msg);
      setTimeout(initiate, 100);
    } else if (type === 2 && !peer.keypair) {
      if (peer.handshake.consumeResponse(msg) !== null) return;
      peer.keypair = peer.handshake.deriveKeypair();
      peer.send = new wg.Aead(peer.keypair.sendKey);
      peer.recv = new wg.Aead(peer.keypair.recvKey);
      peer.handshakeMs = Date.now() - peer.firstInitiation;
      sendData(Buffer.alloc(0)); // keepalive: confirms the keypair for the responder
      let seq = 0;
      const ping = () => {
        if (seq >= pings) return;
        sendData(echoRequest(peer.src, opts.dst, i, ++seq, PING_DATA));
        peer.sent++;
        setTimeout(ping, interval);
      };
      ping();
    } else if (type === 4 && peer.keypair) {
      if (msg.readUInt32LE(4) !== peer.keypair.localIndex) return;
      const plain = peer.recv.open(msg.readBigUInt64LE(8), msg.subarray(16));
      if (!plain || plain.length < 28 || plain[9] !== 1) return;
      const icmp = plain.subarray((plain[0] & 15) * 4);
      if (icmp[0] === 0 && icmp.readUInt16BE(4) === i) {
        peer.answered.add(icmp.readUInt16BE(6));
        maybeDone();
      }
    }
  });
  peer.sock.bind(0, opts.bind, () => {
    // spread the initiations over --spread ms, as peers coming up one after the other
    setTimeout(() => {
      peer.firstInitiation = Date.now();
      initiate();
    }, Math.floor((Number(opts.spread) * (i - 1)) / count));
  });
}
