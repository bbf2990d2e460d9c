#!/usr/bin/env node
// WgEngines started and stopped in a loop while packets flow (test/bats/wg-transport.bats; as
// wireguard-go's up/down test). Inside a namespace the test made, where lo has 198.18.68.1: two
// engines per round, AF_UNIX seqpacket pairs as their devices, UDP sockets on 198.18.68.1, keys
// installed directly. Bounded: at most ROUNDS rounds or 20 s. Prints a JSON summary; exit 1 when
// an engine misbehaves (no or two end events, packets never flow, fds left open).
//
//   node wg-updown.mjs ROUNDS
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
const addon = native();
const rounds = Number(process.argv[2] ?? 100);
const ADDR = '198.18.68.1';
const openFds = () => readdirSync('/proc/self/fd').length;

/** An IPv4/UDP packet from 198.19.68.src to 198.19.68.dst (checksums do not matter here). */
function packet(src, dst, n) {
  const p = Buffer.alloc(28 + 100, n & 0xff);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from([198, 19, 68, src]).copy(p, 12);
  Buffer.from([198, 19, 68, dst]).copy(p, 16);
  return p;
}

const before = openFds();
const deadline = Date.now() + 20000;
let done = 0;
let delivered = 0;
for (; done < rounds && Date.now() < deadline; done++) {
  const kAB = randomBytes(32);
  const kBA = randomBytes(32);
  const port = 42000 + (done % 2) * 10;
  const ends = ['A', 'B'].map((name, i) => {
    const [dev, devTest] = addon.socketPair('seqpacket');
    addon.setNonBlocking(devTest, true);
    const events = [];
    const engine = new addon.WgEngine({ deviceFd: dev, netFd: addon.udpSocketBind(ADDR, port + i) }, (e) => events.push(e));
    engine.addPeer(1, { endpoint: { address: ADDR, port: port + 1 - i }, allowedIps: [`198.19.68.${2 - i}/32`] });
    engine.installKeypair(1, {
      sendKey: i === 0 ? kAB : kBA,
      recvKey: i === 0 ? kBA : kAB,
      localIndex: 100 + i,
      remoteIndex: 101 - i,
      initiator: i === 0,
    });
    return { name, dev, devTest, engine, events };
  });
  const [A, B] = ends;
  A.engine.start();
  B.engine.start();
  addon.writeBatch(A.devTest, Array.from({ length: 20 }, (_, n) => packet(1, 2, n)), 0);
  if (done % 3 === 0) await sleep(2);
  const bufs = Array.from({ length: 32 }, () => Buffer.alloc(2048));
  delivered += addon.readBatch(B.devTest, bufs, new Int32Array(32), 0);
  for (const e of done % 2 === 0 ? [A, B] : [B, A]) e.engine.stop();
  for (const e of ends) {
    addon.closeFd(e.dev);
    addon.closeFd(e.devTest);
  }
  const ended = (e) => e.events.filter((x) => x.type === 'ended');
  const until = Date.now() + 5000;
  while ((ended(A).length === 0 || ended(B).length === 0) && Date.now() < until) await sleep(2);
  for (const e of ends) {
    assert.deepEqual(ended(e).map((x) => x.reason), ['stopped'], `round ${done}: ${e.name} end events`);
    assert.equal(e.engine.stats().running, false);
  }
}
await sleep(20);
const summary = { rounds: done, delivered, fdsBefore: before, fdsAfter: openFds() };
console.log(JSON.stringify(summary));
assert.ok(done >= 20, 'at least 20 rounds');
assert.ok(delivered > 0, 'packets flowed');
assert.equal(summary.fdsAfter, before, 'no file descriptor left open');
