// core/session: data keys (docs/vtun-protocol.md §10.1), the keep-alive algorithm of vtund (§8) on a fake pump,
// the pump options a link passes, and the `multi` lock files (§4.9).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NativePump, PumpEvent, PumpOptions, PumpStats } from '../../native/index.js';
import { dataKey } from '../../core/session/keys.js';
import { Link, describeEnd } from '../../core/session/link.js';
import { acquireHostLock, lockPath } from '../../core/session/lock.js';
import type { VtunFlags } from '../../core/vtun/flags.js';

const hex = (s: string) => Buffer.from(s, 'hex');

test('data keys: MD5(password) for 128-bit ciphers, two half MD5s for 256-bit (docs/vtun-protocol.md §10.1, vector v05)', () => {
  const pw = Buffer.from('interop-pw');
  assert.deepEqual(dataKey(0, pw), Buffer.alloc(0));
  assert.deepEqual(dataKey(999, pw), hex('0e8b96fbfab4460b8b2793aab7ee5d9d'));
  assert.deepEqual(dataKey(10, pw), hex('0e8b96fbfab4460b8b2793aab7ee5d9d'));
  assert.deepEqual(dataKey(13, pw), hex('7ec8336709bf8a8d71d0ffff691279030fefda95805dd6ea803714540cce2847'));
  assert.equal(dataKey(5, pw).length, 32);
});

class FakePump implements NativePump {
  rxFrames = 0;
  sent: string[] = [];
  started = false;
  stopped = false;
  constructor(
    readonly options: PumpOptions,
    readonly onEvent: (e: PumpEvent) => void,
  ) {}
  start(): void {
    this.started = true;
  }
  sendControl(kind: 'echo_req' | 'conn_close'): void {
    this.sent.push(kind);
  }
  stats(): PumpStats {
    return {
      rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, rxFrames: this.rxFrames, txFrames: 0, rxWireBytes: 0, txWireBytes: 0,
      badFrames: 0, echoRequestsReceived: 0, echoRepliesReceived: 0, echoRequestsSent: 0, deviceDownDrops: 0, txDropped: 0,
      msSinceRx: -1, running: !this.stopped,
    };
  }
  stop(): void {
    this.stopped = true;
  }
}

const FLAGS: VtunFlags = { transport: 'udp', type: 'tun', compression: { kind: 'lzo', level: 1 }, cipher: 10, keepalive: true, speed: 0 };

function makeLink(flags: VtunFlags, keepalive = { interval: 2, count: 2 }): { link: Link; pump: () => FakePump } {
  let pump: FakePump | undefined;
  const link = new Link({
    flags,
    netFd: 11,
    deviceFd: 12,
    password: Buffer.from('interop-pw'),
    initialRx: hex('2000'),
    keepalive,
    natHack: false,
    speedKbps: 128,
    createPump: (o, e) => (pump = new FakePump(o, e)),
  });
  return { link, pump: () => pump! };
}

test('link: the pump gets the flags, the key, the bytes after the handshake and the send delay', () => {
  const { link, pump } = makeLink(FLAGS);
  const o = pump().options;
  assert.equal(o.transport, 'udp');
  assert.equal(o.deviceKind, 'packet');
  assert.equal(o.cipher, 10);
  assert.deepEqual(o.key, hex('0e8b96fbfab4460b8b2793aab7ee5d9d'));
  assert.deepEqual(o.compression, { kind: 'lzo', level: 1 });
  assert.deepEqual(o.initialRx, hex('2000'));
  assert.equal(o.speedKbps, 128);
  assert.ok(o.sendDelayMs >= 1000 && o.sendDelayMs <= 1500);
  link.start();
  assert.ok(pump().started);
  void link.close();
});

test('keepalive: a silent peer is probed, then declared dead after (COUNT+2) checks', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    const { link, pump } = makeLink(FLAGS);
    link.start();
    let ended: string | null = null;
    void link.ended.then((e) => (ended = e.reason));
    mock.timers.tick(2000); // first check at INTERVAL: idle 0 -> 1, no probe
    assert.deepEqual(pump().sent, []);
    mock.timers.tick(3000); // every INTERVAL+1: idle 1 -> 2, probe
    assert.deepEqual(pump().sent, ['echo_req']);
    mock.timers.tick(3000); // idle 2 -> 3, probe
    assert.deepEqual(pump().sent, ['echo_req', 'echo_req']);
    await Promise.resolve();
    assert.equal(ended, null);
    mock.timers.tick(3000); // idle 3 > COUNT 2: dead
    await new Promise((r) => setImmediate(r));
    assert.equal(ended, 'keepalive_timeout');
    assert.ok(pump().stopped);
    assert.equal(pump().sent.at(-1), 'conn_close');
    assert.match(describeEnd(await link.ended), /network timeout/);
  } finally {
    mock.timers.reset();
  }
});

test('keepalive: any frame from the peer resets the idle counter; K off means no probes at all', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    const { link, pump } = makeLink(FLAGS);
    link.start();
    let ended = false;
    void link.ended.then(() => (ended = true));
    for (let i = 0; i < 20; i++) {
      pump().rxFrames++;
      mock.timers.tick(3000);
    }
    await Promise.resolve();
    assert.equal(ended, false);
    assert.deepEqual(pump().sent, []);
    const closing = link.close();
    mock.timers.tick(100);
    await closing;
    assert.ok(ended);

    const off = makeLink({ ...FLAGS, keepalive: false });
    off.link.start();
    mock.timers.tick(600_000);
    assert.deepEqual(off.pump().sent, []);
    const closing2 = off.link.close();
    mock.timers.tick(100);
    await closing2;
  } finally {
    mock.timers.reset();
  }
});

test('link: the pump ending (EOF, CONN_CLOSE) ends the link with that reason', async () => {
  const { link, pump } = makeLink(FLAGS);
  link.start();
  pump().onEvent({ type: 'ended', reason: 'peer_closed', message: '' });
  const end = await link.ended;
  assert.equal(end.reason, 'peer_closed');
  assert.ok(pump().stopped);
  assert.equal(describeEnd(end), 'connection closed by the peer');
});

function tempRunDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tund-lock-'));
  process.env.TUND_RUN_DIR = dir;
  return dir;
}

test('multi: yes takes no lock; no refuses while the holder lives; a stale lock is ignored', async () => {
  tempRunDir();
  const yes = await acquireHostLock('h1', 'yes', () => {});
  assert.notEqual(typeof yes, 'string');
  assert.equal(existsSync(lockPath('h1')), false);

  const first = await acquireHostLock('h1', 'no', () => {});
  assert.notEqual(typeof first, 'string');
  assert.equal(readFileSync(lockPath('h1'), 'utf8'), `${process.pid}\n`);
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const refused = await acquireHostLock('h1', 'no', () => {}, child.pid!);
    // our own PID holds it: a different process is refused
    assert.equal(typeof refused, 'string');
    assert.match(refused as string, /already connected/);
  } finally {
    child.kill('SIGKILL');
  }
  if (typeof first !== 'string') await first.release();
  assert.equal(existsSync(lockPath('h1')), false);

  // a lock left by a dead process
  mkdirSync(path.dirname(lockPath('h2')), { recursive: true });
  writeFileSync(lockPath('h2'), '999999999\n');
  const taken = await acquireHostLock('h2', 'no', () => {});
  assert.notEqual(typeof taken, 'string');
  if (typeof taken !== 'string') await taken.release();
});

test('multi: killold stops the old session process, then takes the lock', async () => {
  tempRunDir();
  const old = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((r) => old.once('exit', (_c, sig) => r(sig)));
  mkdirSync(path.dirname(lockPath('h3')), { recursive: true });
  writeFileSync(lockPath('h3'), `${old.pid}\n`);
  const lines: string[] = [];
  const got = await acquireHostLock('h3', 'killold', (l) => lines.push(l));
  assert.notEqual(typeof got, 'string');
  assert.equal(await exited, 'SIGTERM');
  assert.equal(readFileSync(lockPath('h3'), 'utf8'), `${process.pid}\n`);
  assert.ok(lines.some((l) => /killold/.test(l)));
  if (typeof got !== 'string') await got.release();
});
