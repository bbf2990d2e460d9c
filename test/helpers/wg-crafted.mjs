#!/usr/bin/env node
// A WgEngine against a hand-made WireGuard peer (test/bats/wg-transport.bats). The peer is this
// script: it seals and opens type-4 messages itself with node:crypto's ChaCha20-Poly1305 (a second
// implementation of the wire format), so it can also replay, forge, truncate and misaddress them.
// Runs inside a namespace the test made, where lo has 198.18.64.1 and 2001:2:0:64::1; it opens a
// tun (198.19.64.1/24) and binds the engine's socket to [::]:51820 (IPv4 and IPv6).
//
//   node wg-crafted.mjs TUN drops|roaming|staging|expiry|messages
// Prints one line per check; exit 0 when all hold, 1 with the failed assertion.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
const { engineVnetHdr } = await import(path.join(root, 'dist', 'core', 'device', 'tun.js'));
const addon = native();
const [tunName, mode] = process.argv.slice(2);

const V4 = '198.18.64.1';
const V6 = '2001:2:0:64::1';
const INNER_ENGINE = '198.19.64.1';
const INNER_PEER = '198.19.64.2';
const LOCAL_INDEX = 0x1111; // the engine's index (receiver index of what the peer sends)
const REMOTE_INDEX = 0x2222; // the peer's index (receiver index of what the engine sends)

// ---- the hand-made peer
const toEngine = randomBytes(32); // peer -> engine
const toPeer = randomBytes(32); // engine -> peer
const nonce = (counter) => {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(counter), 4);
  return n;
};
function seal(plain, counter, { index = LOCAL_INDEX, key = toEngine } = {}) {
  const padded = Buffer.concat([plain, Buffer.alloc((16 - (plain.length % 16)) % 16)]);
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: 16 });
  const body = Buffer.concat([c.update(padded), c.final(), c.getAuthTag()]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(4, 0);
  h.writeUInt32LE(index, 4);
  h.writeBigUInt64LE(BigInt(counter), 8);
  return Buffer.concat([h, body]);
}
function open(msg, key = toPeer) {
  assert.equal(msg.readUInt32LE(0), 4, 'type 4, reserved bytes zero');
  assert.equal((msg.length - 32) % 16, 0, 'padded to 16');
  const counter = msg.readBigUInt64LE(8);
  const d = createDecipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: 16 });
  d.setAuthTag(msg.subarray(msg.length - 16));
  const plain = Buffer.concat([d.update(msg.subarray(16, msg.length - 16)), d.final()]);
  return { receiver: msg.readUInt32LE(4), counter: Number(counter), plain };
}
function checksum(b) {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) + (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
const ip4 = (a) => Buffer.from(a.split('.').map(Number));
/** An ICMP echo request src -> dst with a sequence number. */
function ping(seq, src = INNER_PEER, dst = INNER_ENGINE) {
  const icmp = Buffer.alloc(8 + 24, 0x61);
  icmp.writeUInt8(8, 0);
  icmp.writeUInt8(0, 1);
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(0x4242, 4);
  icmp.writeUInt16BE(seq, 6);
  icmp.writeUInt16BE(checksum(icmp), 2);
  const h = Buffer.alloc(20);
  h.writeUInt8(0x45, 0);
  h.writeUInt16BE(20 + icmp.length, 2);
  h.writeUInt8(64, 8);
  h.writeUInt8(1, 9);
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, icmp]);
}

class PeerSocket {
  constructor(type, address, port) {
    this.address = address;
    this.port = port;
    this.got = [];
    this.s = dgram.createSocket(type);
    this.s.on('message', (m) => this.got.push(m));
  }
  async bind() {
    await new Promise((resolve, reject) => {
      this.s.once('error', reject);
      this.s.bind(this.port, this.address, resolve);
    });
  }
  send(msg) {
    return new Promise((resolve, reject) => this.s.send(msg, 51820, this.address, (e) => (e ? reject(e) : resolve())));
  }
  async next(what, timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    while (this.got.length === 0) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(5);
    }
    return this.got.shift();
  }
  close() {
    this.s.close();
  }
}

async function until(what, fn, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
const check = (what) => console.log(`checked: ${what}`);

// ---- the engine
const tun = addon.tunOpen(tunName, { tap: false, multiQueue: false, vnetHdr: engineVnetHdr() });
execFileSync('ip', ['addr', 'add', `${INNER_ENGINE}/24`, 'dev', tun.name]);
execFileSync('ip', ['link', 'set', tun.name, 'up']);
const netFd = addon.udpSocketBind('::', 51820);
const events = [];
const limits = mode === 'expiry' ? { rekeyAfterMessages: 3, rekeyAfterTimeMs: 600000, rejectAfterTimeMs: 1500 } : {};
const engine = new addon.WgEngine({ deviceFd: tun.fd, netFd, handshakeEventIntervalMs: 100, limits }, (e) => events.push(e));
engine.addPeer(1, { endpoint: { address: V4, port: 40001 }, allowedIps: [`${INNER_PEER}/32`] });
// the engine responded to a handshake: its keypair waits as `next` until the peer's first packet
engine.installKeypair(1, { sendKey: toPeer, recvKey: toEngine, localIndex: LOCAL_INDEX, remoteIndex: REMOTE_INDEX, initiator: false });
engine.start();
const peer = new PeerSocket('udp4', V4, 40001);
await peer.bind();
const stats = () => engine.stats();

/** Sends a ping under `counter` and returns the engine's sealed echo reply, opened. */
async function roundTrip(sock, seq, counter) {
  await sock.send(seal(ping(seq), counter));
  const reply = open(await sock.next(`echo reply ${seq}`));
  assert.equal(reply.receiver, REMOTE_INDEX, 'receiver index = the peer\'s index');
  assert.equal(reply.plain[9], 1, 'ICMP');
  assert.equal(reply.plain[20], 0, 'echo reply');
  assert.equal(reply.plain.readUInt16BE(26), seq, 'sequence number');
  assert.deepEqual([...reply.plain.subarray(16, 20)], [...ip4(INNER_PEER)], 'to the peer\'s inner address');
  return reply;
}

try {
  const first = await roundTrip(peer, 1, 0);
  assert.equal(first.counter, 0, 'the engine\'s first counter is 0');
  assert.ok(events.some((e) => e.type === 'keypair_confirmed' && e.peer === 1 && e.localIndex === LOCAL_INDEX), 'next -> current on the first packet');
  assert.equal(engine.peerStats(1).current.localIndex, LOCAL_INDEX);
  check('a sealed ping opens, is answered by the kernel, and the reply opens here (responder keypair confirmed)');

  if (mode === 'drops') {
    await roundTrip(peer, 2, 1);
    await peer.send(seal(ping(2), 1)); // the same message again
    await until('replay counted', () => stats().replayDrops === 1);
    check('a replayed message is dropped (replayDrops)');

    const forged = Buffer.from(seal(ping(3), 2));
    forged[30] ^= 0x01;
    await peer.send(forged);
    await until('forgery counted', () => stats().authFailures === 1);
    assert.equal(engine.peerStats(1).authFailures, 1);
    await roundTrip(peer, 3, 2); // the genuine counter 2 is still accepted: the forgery moved nothing
    check('a forged message is dropped (authFailures) and does not burn its counter');

    await peer.send(seal(ping(4), 3).subarray(0, 20));
    await peer.send(Buffer.from([4, 0, 0]));
    await until('truncation counted', () => stats().shortMessages === 2);
    check('truncated messages are dropped (shortMessages)');

    await peer.send(seal(ping(5), 4, { index: 0x9999 }));
    await until('unknown index counted', () => stats().unknownIndex === 1);
    check('an unknown receiver index is dropped (unknownIndex)');

    await roundTrip(peer, 6, 10000);
    await peer.send(seal(ping(7), 1000)); // 9000 behind: outside the 8128-counter window
    await until('out of window counted', () => stats().replayDrops === 2);
    await roundTrip(peer, 8, 9000); // inside the window, never seen: accepted
    check('a counter behind the window is dropped; one inside it is accepted once');

    await peer.send(seal(ping(9, '198.19.64.99'), 10001));
    await until('source check counted', () => stats().sourceDrops === 1);
    check('an inner source outside the peer\'s allowed IPs is dropped (sourceDrops)');

    await peer.send(seal(Buffer.alloc(0), 10002));
    await until('keepalive counted', () => engine.peerStats(1).keepalivesReceived === 1);
    check('an empty message is a keepalive (counted, nothing written to the tun)');

    // replays 2, forgery 1, truncated 2, unknown index 1, source 1; delivered: pings 1, 2, 3, 6, 8
    assert.equal(stats().badMessages, 7, 'every drop is in badMessages');
    assert.equal(engine.peerStats(1).rxPackets, 5);
    assert.equal(stats().rxPackets, 5);
    check('counters add up');

    // activity for the timers: an echo reply (the kernel does not answer it) is data received
    // since the last message sent; the engine's answer to a ping is data sent since a receive
    const reply = ping(40);
    reply[20] = 0;
    reply.writeUInt16BE(0, 22);
    reply.writeUInt16BE(checksum(reply.subarray(20)), 22);
    await peer.send(seal(reply, 10003));
    await until('data received since sent', () => engine.peerStats(1).msSinceFirstRxDataSinceTx >= 0);
    assert.equal(engine.peerStats(1).msSinceFirstTxDataSinceRx, -1, 'reset by the receive');
    await roundTrip(peer, 41, 10004);
    let a = engine.peerStats(1);
    assert.equal(a.msSinceFirstRxDataSinceTx, -1, 'reset by the send');
    assert.ok(a.msSinceFirstTxDataSinceRx >= 0, 'the echo reply is data sent since the receive');
    await peer.send(seal(Buffer.alloc(0), 10005));
    await until('reset by a keepalive', () => engine.peerStats(1).msSinceFirstTxDataSinceRx === -1);
    check('msSinceFirstRxDataSinceTx / msSinceFirstTxDataSinceRx follow sends and receives');
  } else if (mode === 'roaming') {
    const v6 = new PeerSocket('udp6', V6, 40002);
    await v6.bind();
    await roundTrip(v6, 2, 1);
    assert.deepEqual(engine.peerStats(1).endpoint, { address: V6, port: 40002 });
    check('the peer roams from IPv4 to IPv6: the reply goes to its new endpoint');
    // an unauthenticated message from elsewhere moves nothing
    const v4b = new PeerSocket('udp4', V4, 40004);
    await v4b.bind();
    const forged = Buffer.from(seal(ping(3), 2));
    forged[40] ^= 0x80;
    await v4b.send(forged);
    await until('forgery counted', () => stats().authFailures === 1);
    assert.deepEqual(engine.peerStats(1).endpoint, { address: V6, port: 40002 });
    check('a forged message from another endpoint does not move the peer');
    await roundTrip(peer, 4, 3);
    assert.deepEqual(engine.peerStats(1).endpoint, { address: V4, port: 40001 });
    check('and back to IPv4');
    v6.close();
    v4b.close();
  } else if (mode === 'staging') {
    const third = new PeerSocket('udp4', V4, 40003);
    await third.bind();
    engine.addPeer(2, { endpoint: { address: V4, port: 40003 }, allowedIps: ['198.19.64.3/32'] });
    const udp = dgram.createSocket('udp4');
    const toInner = (address, n) =>
      Promise.all(Array.from({ length: n }, (_, i) => new Promise((r) => udp.send(Buffer.from(`packet ${i}`), 9, address, r))));
    await toInner('198.19.64.3', 1);
    await until('handshake_needed', () => events.find((e) => e.type === 'handshake_needed' && e.peer === 2));
    assert.equal(events.find((e) => e.type === 'handshake_needed').reason, 'no_keypair');
    assert.equal(engine.peerStats(2).staged, 1);
    check('a packet for a peer without a keypair is staged and JS is asked for a handshake');
    const send2 = randomBytes(32);
    engine.installKeypair(2, { sendKey: send2, recvKey: randomBytes(32), localIndex: 0x3333, remoteIndex: 0x4444, initiator: true });
    const staged = open(await third.next('the staged packet'), send2);
    assert.equal(staged.counter, 0);
    assert.equal(staged.receiver, 0x4444);
    assert.equal(staged.plain.subarray(28, 36).toString(), 'packet 0', 'the UDP datagram that waited');
    assert.equal(engine.peerStats(2).staged, 0);
    check('installing an initiator keypair sends the staged packet first (counter 0)');
    engine.sendKeepalive(2);
    const keepalive = open(await third.next('a keepalive'), send2);
    assert.equal(keepalive.plain.length, 0);
    assert.equal(keepalive.counter, 1);
    assert.equal(engine.peerStats(2).keepalivesSent, 1);
    check('sendKeepalive seals an empty message');
    engine.addPeer(3, { endpoint: { address: V4, port: 40005 }, allowedIps: ['198.19.64.5/32'] });
    await toInner('198.19.64.5', 140);
    await until('staged bound', () => engine.peerStats(3).staged === 128 && engine.peerStats(3).stagedDrops === 12);
    check('at most 128 packets wait per peer (the oldest are dropped and counted)');
    await toInner('198.19.64.50', 1);
    await until('no route counted', () => stats().noRoute >= 1);
    engine.addPeer(4, { allowedIps: ['198.19.64.6/32'] });
    await toInner('198.19.64.6', 1);
    await until('no endpoint counted', () => engine.peerStats(4).noEndpointDrops === 1);
    check('packets for no peer, or a peer without an endpoint, are dropped and counted');
    // longest prefix: a /25 over the engine's whole inner range takes what no /32 claims
    engine.addPeer(5, { endpoint: { address: V4, port: 40007 }, allowedIps: ['198.19.64.77/25'] });
    assert.deepEqual(engine.allowedIps(5), ['198.19.64.0/25']);
    await toInner('198.19.64.7', 1);
    await until('staged on the /25 peer', () => engine.peerStats(5).staged === 1);
    await roundTrip(peer, 30, 1); // the reply to .2 still goes to peer 1's /32
    assert.equal(engine.peerStats(5).staged, 1);
    check('cryptokey routing picks the longest prefix (/32 over /25)');
    engine.clearKeypairs(5);
    assert.equal(engine.peerStats(5).staged, 0);
    await toInner('198.19.64.5', 3);
    await until('staged again', () => engine.peerStats(3).staged === 128);
    engine.dropStaged(3);
    assert.equal(engine.peerStats(3).staged, 0);
    check('clearKeypairs and dropStaged drop what waits');
    engine.removePeer(2);
    assert.equal(engine.peerStats(2), null);
    await peer.send(seal(ping(9), 1, { index: 0x3333, key: send2 }));
    await until('index forgotten', () => stats().unknownIndex === 1);
    assert.throws(() => engine.sendKeepalive(2), /no peer 2/);
    check('removePeer forgets the peer and its keypair indices');
    udp.close();
    third.close();
  } else if (mode === 'expiry') {
    // limits shortened at the top: rekey after 3 messages / 600 ms, reject after 1500 ms
    for (let i = 1; i <= 3; i++) await roundTrip(peer, 10 + i, i);
    const rekey = await until('rekey_messages', () => events.find((e) => e.type === 'handshake_needed'));
    assert.equal(rekey.reason, 'rekey_messages');
    assert.equal(engine.peerStats(1).current.sendCounter, 4n);
    check('past REKEY_AFTER_MESSAGES the engine asks for a handshake and keeps sending');
    await sleep(1600);
    await peer.send(seal(ping(20), 5));
    await until('expired counted', () => stats().expiredDrops === 1);
    engine.sendKeepalive(1);
    await until('expired', () => events.find((e) => e.type === 'handshake_needed' && e.reason === 'expired'));
    assert.equal(engine.peerStats(1).staged, 1);
    assert.equal(peer.got.length, 0);
    check('past REJECT_AFTER_TIME nothing is opened or sealed under the keypair: packets wait, JS is asked');
  } else if (mode === 'messages') {
    const init = randomBytes(148);
    init.writeUInt32LE(1, 0);
    await peer.send(init);
    const msg = await until('a message event', () => events.find((e) => e.type === 'message'));
    assert.deepEqual(msg.data, init);
    assert.deepEqual(msg.from, { address: V4, port: 40001 });
    assert.equal(stats().handshakeMessages, 1);
    check('a handshake initiation goes up to JS with its source endpoint');
    const bad = randomBytes(100);
    bad.writeUInt32LE(1, 0);
    await peer.send(bad);
    const unknown = randomBytes(64);
    unknown.writeUInt32LE(5, 0);
    await peer.send(unknown);
    const reserved = randomBytes(148);
    reserved.writeUInt32LE(0x0100_0001, 0); // type 1 with a reserved byte set
    await peer.send(reserved);
    await until('bad messages counted', () => stats().shortMessages === 1 && stats().unknownTypes === 2);
    assert.equal(stats().handshakeMessages, 1);
    check('wrong sizes, unknown types and non-zero reserved bytes are dropped and counted');
    assert.equal(engine.send(Buffer.from('any message'), { address: V4, port: 40001 }), true);
    assert.equal((await peer.next('a message from send()')).toString(), 'any message');
    engine.sendToPeer(1, Buffer.from('to the peer'));
    assert.equal((await peer.next('a message from sendToPeer()')).toString(), 'to the peer');
    check('JS sends any message to any endpoint, or to a peer\'s endpoint, through the engine\'s socket');

    // with the device's public key set, type-1/2 messages are vetted natively (wg_cookie)
    const pub = addon.wg.publicKey(addon.wg.generatePrivateKey());
    engine.setPublicKey(pub);
    const gen = new addon.wg.CookieGenerator(pub);
    const initiation = (macs) => {
      const m = randomBytes(148);
      m.writeUInt32LE(1, 0);
      if (macs) gen.addMacs(m);
      return m;
    };
    const ups = () => events.filter((e) => e.type === 'message').length;
    await peer.send(initiation(false));
    await until('a wrong mac1 dropped', () => stats().handshakeDrops === 1);
    const good = initiation(true);
    await peer.send(good);
    await until('mac1 accepted', () => ups() === 2);
    assert.deepEqual(events.filter((e) => e.type === 'message')[1].data, good);
    check('a wrong mac1 is dropped natively, a right one goes up');
    engine.forceUnderLoad(true);
    await peer.send(initiation(true));
    const cookie = await peer.next('a cookie reply');
    assert.equal(cookie.length, 64);
    assert.equal(cookie.readUInt32LE(0), 3);
    assert.equal(gen.consumeReply(cookie), true, 'the reply opens for the sender');
    assert.equal(stats().cookieReplies, 1);
    assert.equal(ups(), 2, 'the message without mac2 did not go up');
    await peer.send(initiation(true)); // now with mac2
    await until('mac2 accepted under load', () => ups() === 3);
    engine.forceUnderLoad(null);
    check('under load: a cookie reply without mac2, accepted with it');
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  engine.stop();
  peer.close();
  addon.closeFd(tun.fd);
}
