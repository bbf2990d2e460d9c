// The native engine's lifecycle (issue "hostile networks", point 6): stop() before start() leaves
// nothing that can never be stopped, start() after stop() is an error, and engines started and
// stopped in a loop while packets flow neither crash, hang, nor leak file descriptors (as
// wireguard-go's up/down test). AF_UNIX socketpairs stand in for the device and the transport.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { native, type PumpEvent, type PumpOptions } from '../../native/index.js';

const addon = native();
const here = path.dirname(fileURLToPath(import.meta.url));

// a plain pump: no compression, no cipher, no nat_hack, no delay, no shaping
const base = (deviceFd: number, netFd: number, transport: 'tcp' | 'udp'): PumpOptions => {
  const plain = { natHack: false, compression: { kind: 'none' }, cipher: 0, key: Buffer.alloc(0), sendDelayMs: 0, speedKbps: 0 } as const;
  return { deviceFd, deviceKind: 'packet', netFd, transport, ...plain };
};

const openFds = (): number => readdirSync('/proc/self/fd').length;

test('stop() before start(): start() throws and the process still exits normally after GC', () => {
  // In a child: before the fix, start() after stop() started threads that stop() and the
  // destructor never joined; the event loop then never ended, or the process aborted at GC.
  const script = `
    const { native } = await import(${JSON.stringify(path.join(here, '..', '..', 'native', 'index.js'))});
    const { readdirSync } = await import('node:fs');
    const addon = native();
    const openFds = () => readdirSync('/proc/self/fd').length;
    const before = openFds();
    const [dev, devPeer] = addon.socketPair('seqpacket');
    const [net, netPeer] = addon.socketPair('dgram');
    let pump = new addon.Pump({ deviceFd: dev, deviceKind: 'packet', netFd: net, transport: 'udp', natHack: false,
      compression: { kind: 'none' }, cipher: 0, key: Buffer.alloc(0), sendDelayMs: 0, speedKbps: 0 }, () => {});
    pump.stop();
    let message = '';
    try { pump.start(); } catch (e) { message = e.message; }
    pump.stop();
    pump = null;
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc();
    // never started: the pump closed nothing (docs/engine.md, "Lifecycle"), all four are ours
    for (const fd of [dev, devPeer, net, netPeer]) addon.closeFd(fd);
    console.log(JSON.stringify({ message, leftOpen: openFds() - before }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.signal, null, `child killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { message: string; leftOpen: number };
  assert.match(out.message, /stopped .*runs once/);
  assert.equal(out.leftOpen, 0, 'file descriptors left open in the child');
});

test('a stopped pump whose callback holds it is garbage collected (its own callback does not keep it alive)', () => {
  // In a child with --expose-gc: the usual shape, a callback that closes over the object that owns
  // the pump (core/session/link.ts). Before the fix the addon kept a strong reference to the
  // callback for the pump's whole life, so neither was ever collected: a client that reconnected
  // kept every old engine (and its memory) until it exited.
  const script = `
    const { native } = await import(${JSON.stringify(path.join(here, '..', '..', 'native', 'index.js'))});
    const { readdirSync } = await import('node:fs');
    const addon = native();
    const openFds = () => readdirSync('/proc/self/fd').length;
    const before = openFds();
    let collected = 0;
    const registry = new FinalizationRegistry(() => collected++);
    const fds = [];
    for (let i = 0; i < 4; i++) {
      const [dev, devPeer] = addon.socketPair('seqpacket');
      const [net, netPeer] = addon.socketPair('dgram');
      const owner = {};
      owner.pump = new addon.Pump({ deviceFd: dev, deviceKind: 'packet', netFd: net, transport: 'udp', natHack: false,
        compression: { kind: 'none' }, cipher: 0, key: Buffer.alloc(0), sendDelayMs: 0, speedKbps: 0 }, (e) => { owner.last = e; });
      registry.register(owner.pump, i);
      // started and stopped, or only stopped (docs/engine.md, "Lifecycle"): a pump never closes
      // its device fd, and net only once its start succeeded (its stop closes it then); before
      // that net is still ours to close
      if (i % 2 === 0) owner.pump.start();
      owner.pump.stop();
      fds.push(dev, devPeer, netPeer);
      if (i % 2 !== 0) fds.push(net);
    }
    for (let round = 0; round < 20 && collected < 4; round++) {
      await new Promise((r) => setTimeout(r, 20));
      globalThis.gc();
    }
    for (const fd of fds) addon.closeFd(fd);
    console.log(JSON.stringify({ collected, leftOpen: openFds() - before }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { collected: number; leftOpen: number };
  assert.equal(out.collected, 4, 'pumps left uncollected after stop()');
  assert.equal(out.leftOpen, 0, 'file descriptors left open in the child');
});

test('start() twice throws; stop() twice is one stop', () => {
  const [dev, devPeer] = addon.socketPair('seqpacket');
  const [net, netPeer] = addon.socketPair('stream');
  const events: PumpEvent[] = [];
  const pump = new addon.Pump(base(dev, net, 'tcp'), (e) => events.push(e));
  try {
    pump.start();
    assert.throws(() => pump.start(), /already started/);
  } finally {
    pump.stop();
    pump.stop();
    for (const fd of [dev, devPeer, netPeer]) addon.closeFd(fd);
  }
});

test('pumps started and stopped in a loop while packets flow: one event each, no fd left open', async () => {
  const before = openFds();
  const deadline = Date.now() + 20000;
  const packet = Buffer.alloc(200, 0x45);
  let rounds = 0;
  let carried = 0;
  for (; rounds < 150 && Date.now() < deadline; rounds++) {
    const transport = rounds % 2 === 0 ? 'udp' : 'tcp';
    const [devA, devAT] = addon.socketPair('seqpacket');
    const [devB, devBT] = addon.socketPair('seqpacket');
    const [netA, netB] = addon.socketPair(transport === 'udp' ? 'dgram' : 'stream');
    for (const fd of [devAT, devBT]) addon.setNonBlocking(fd, true);
    const eventsA: PumpEvent[] = [];
    const eventsB: PumpEvent[] = [];
    const A = new addon.Pump(base(devA, netA, transport), (e) => eventsA.push(e));
    const B = new addon.Pump(base(devB, netB, transport), (e) => eventsB.push(e));
    A.start();
    B.start();
    // packets in flight in both directions while the pumps stop (the queue of a socketpair is
    // small: what does not fit now is simply not sent)
    addon.writeBatch(devAT, Array.from({ length: 20 }, () => packet), 0);
    addon.writeBatch(devBT, Array.from({ length: 20 }, () => packet), 0);
    if (rounds % 3 === 0) await sleep(1);
    carried += A.stats().txPackets + B.stats().txPackets;
    if (rounds % 2 === 0) {
      A.stop();
      B.stop();
    } else {
      B.stop();
      A.stop();
    }
    for (const fd of [devA, devAT, devB, devBT]) addon.closeFd(fd);
    // the end event arrives asynchronously, once
    const until = Date.now() + 5000;
    while ((eventsA.length === 0 || eventsB.length === 0) && Date.now() < until) await sleep(2);
    assert.equal(eventsA.length, 1, `round ${rounds}: A ${JSON.stringify(eventsA)}`);
    assert.equal(eventsB.length, 1, `round ${rounds}: B ${JSON.stringify(eventsB)}`);
    assert.equal(A.stats().running, false);
  }
  assert.ok(rounds >= 20, `only ${rounds} rounds in 20 s`);
  assert.ok(carried > 0, 'packets flowed');
  await sleep(20);
  assert.equal(openFds(), before, 'file descriptors left open');
});
