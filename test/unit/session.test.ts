// core/session and the VTun link: data keys (docs/vtun-protocol.md §10.1), the keep-alive algorithm of vtund (§8)
// on a fake pump, the pump options a link passes, readiness, the back-off, and the lock files (one
// instance per session, `multi` of §4.9, route state) on flock(2).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NativePump, PumpEvent, PumpOptions, PumpStats } from '../../native/index.js';
import { dataKey } from '../../core/vtun/keys.js';
import { VtunLink, VTUND_HOLD_BACK_MS } from '../../core/vtun/link.js';
import { describeEnd } from '../../core/session/protocol.js';
import { backoffDelay, DEFAULT_BACKOFF, keepaliveWindowMs, reconnectCapMs } from '../../core/session/client.js';
import { SessionStatus } from '../../core/session/status.js';
import { acquireHostLock, instanceLock, instanceLockPath, lockPath } from '../../core/session/lock.js';
import { isBusy, tryLock } from '../../core/lock.js';
import { withSessionLock } from '../../core/route/state.js';
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
  msSinceRx = -1;
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
      msSinceRx: this.msSinceRx, msSinceEchoReply: -1, running: !this.stopped,
    };
  }
  stop(): void {
    this.stopped = true;
  }
}

const FLAGS: VtunFlags = { transport: 'udp', type: 'tun', compression: { kind: 'lzo', level: 1 }, cipher: 10, keepalive: true, speed: 0 };

function makeLink(flags: VtunFlags, keepalive = { interval: 2, count: 2 }, holdBackMs = VTUND_HOLD_BACK_MS): { link: VtunLink; pump: () => FakePump } {
  let pump: FakePump | undefined;
  const link = new VtunLink({
    flags,
    flagsText: '<TuK>',
    netFd: 11,
    deviceFd: 12,
    password: Buffer.from('interop-pw'),
    initialRx: hex('2000'),
    keepalive,
    natHack: false,
    speedKbps: 128,
    holdBackMs,
    endpoint: { address: '198.18.0.1', port: 5000 },
    localEnd: { address: '198.18.0.2', port: 40000 },
    latestHandshake: '2026-11-22T06:00:00.000Z',
    createPump: (o: PumpOptions, e: (event: PumpEvent) => void) => (pump = new FakePump(o, e)),
  });
  return { link, pump: () => pump! };
}

test('link: the pump gets the flags, the key, the bytes after the handshake and the hold-back', () => {
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
  assert.equal(makeLink(FLAGS, undefined, 0).pump().options.sendDelayMs, 0);
  link.start();
  assert.ok(pump().started);
  void link.close();
});

test('link: a pump whose start() fails is stopped (it lets go of its callback and this link); the socket stays the caller\'s', () => {
  let pump: FakePump | undefined;
  const link = new VtunLink({
    flags: FLAGS,
    flagsText: '<TuK>',
    netFd: 11,
    deviceFd: 12,
    password: Buffer.from('interop-pw'),
    initialRx: Buffer.alloc(0),
    keepalive: { interval: 2, count: 2 },
    natHack: false,
    speedKbps: 0,
    holdBackMs: 0,
    endpoint: null,
    localEnd: null,
    latestHandshake: '',
    createPump: (o: PumpOptions, e: (event: PumpEvent) => void) => {
      pump = new FakePump(o, e);
      pump.start = () => {
        throw new Error('Pump: eventfd: Too many open files');
      };
      return pump;
    },
  });
  assert.throws(() => link.start(), /Too many open files/);
  assert.equal(pump!.stopped, true, 'the pump that never ran was not stopped');
  // no keep-alive was started for it: nothing went to the peer
  assert.deepEqual(pump!.sent, []);
});

test('readiness: the first frame of the peer, and towards a possible vtund the hold-back too', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    // a tund peer: no hold-back; ready as soon as its first frame arrived
    const tund = makeLink({ ...FLAGS, keepalive: false }, undefined, 0);
    const seen: boolean[] = [];
    tund.link.watchReadiness((r) => seen.push(r));
    tund.link.start();
    mock.timers.tick(50);
    assert.deepEqual(seen, [false], 'not ready before the peer said anything');
    tund.pump().msSinceRx = 0;
    mock.timers.tick(10);
    assert.deepEqual(seen, [false, true]);
    // a peer that may be vtund: its frame came at once, but data waits for the hold-back
    const vtund = makeLink({ ...FLAGS, keepalive: false });
    const seen2: boolean[] = [];
    vtund.link.watchReadiness((r) => seen2.push(r));
    vtund.link.start();
    vtund.pump().msSinceRx = 0;
    mock.timers.tick(VTUND_HOLD_BACK_MS - 10);
    assert.deepEqual(seen2, [false]);
    mock.timers.tick(20);
    assert.deepEqual(seen2, [false, true]);
    // the end of the link takes readiness back
    vtund.pump().onEvent({ type: 'ended', reason: 'eof', message: '' });
    assert.deepEqual(seen2, [false, true, false]);
    const closing = tund.link.close();
    mock.timers.tick(100);
    await closing;
  } finally {
    mock.timers.reset();
  }
});

test('link status: the peer, the flags and the keep-alive settings', () => {
  const { link } = makeLink(FLAGS, { interval: 10, count: 3 });
  const [peer] = link.peers();
  assert.deepEqual(peer, {
    endpoint: { address: '198.18.0.1', port: 5000 },
    latestHandshake: '2026-11-22T06:00:00.000Z',
    parameters: '<TuK>',
    keepalive: { interval_s: 10, count: 3, last_echo: null },
  });
  assert.equal(makeLink({ ...FLAGS, keepalive: false }).link.peers()[0]!.keepalive, null);
});

test('back-off: 1 s, then 5 s doubling up to 60 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, DEFAULT_BACKOFF)), [1000, 5000, 10000, 20000, 40000, 60000, 60000, 60000]);
});

test('back-off: with Keepalive, a wait and one keep-alive step for the attempt fit in the window', () => {
  const ka = (interval: number, count: number) => ({ enabled: true, interval, count });
  assert.equal(keepaliveWindowMs(ka(2, 1)), 9000);
  assert.equal(keepaliveWindowMs(ka(30, 4)), 186000);
  assert.equal(keepaliveWindowMs({ enabled: false, interval: 30, count: 4 }), Infinity);
  assert.equal(reconnectCapMs(ka(1, 2)), 6000); // window 8 s, 2 s left for the attempt
  assert.equal(reconnectCapMs({ enabled: false, interval: 30, count: 4 }), Infinity);
  const steps = (cap: number) => [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, DEFAULT_BACKOFF, cap));
  assert.deepEqual(steps(reconnectCapMs(ka(2, 1))), [1000, 5000, 6000, 6000, 6000, 6000]);
  assert.deepEqual(steps(reconnectCapMs(ka(30, 4))), [1000, 5000, 10000, 20000, 40000, 60000]);
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

/**
 * Another process holding the flock on FILE (util-linux flock(1) running sh, which writes its PID
 * and becomes `sleep`; both hold the lock, and flock(1) exits when the sleep is killed).
 */
async function holder(file: string): Promise<{ pid: number; exited: Promise<NodeJS.Signals | null>; kill(): void }> {
  mkdirSync(path.dirname(file), { recursive: true });
  const child = spawn('flock', [file, 'sh', '-c', `echo $$ >'${file}'; echo locked; exec sleep 30`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
  await once(child.stdout!, 'data');
  const pid = Number(readFileSync(file, 'utf8').trim());
  return { pid, exited, kill: () => process.kill(pid, 'SIGKILL') };
}

test('lock files: one holder at a time, its PID in the file; release removes it', () => {
  const dir = tempRunDir();
  const file = path.join(dir, 'x.lock');
  const first = tryLock(file);
  assert.ok(!isBusy(first));
  assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
  const second = tryLock(file);
  assert.ok(isBusy(second));
  assert.equal(second.holder, process.pid);
  first.release();
  assert.equal(existsSync(file), false);
  const third = tryLock(file);
  assert.ok(!isBusy(third));
  third.release();
});

test('lock files: a lock left by a dead process is free; the lock of a live holder is never removed', async () => {
  const dir = tempRunDir();
  const file = path.join(dir, 'y.lock');
  writeFileSync(file, '999999999\n'); // a crashed holder: the kernel dropped its flock
  const taken = tryLock(file);
  assert.ok(!isBusy(taken));
  taken.release();
  const other = await holder(file);
  try {
    const busy = tryLock(file);
    assert.ok(isBusy(busy));
    assert.equal(busy.holder, other.pid);
    assert.equal(readFileSync(file, 'utf8').trim(), String(other.pid), 'the file of the holder is left alone');
  } finally {
    other.kill();
  }
  await other.exited;
  const after = tryLock(file);
  assert.ok(!isBusy(after), 'free once the holder is gone');
  after.release();
});

test('one instance per session: a second one is refused with the PID of the first', async () => {
  tempRunDir();
  const other = await holder(instanceLockPath('office'));
  try {
    assert.throws(() => instanceLock('office'), (e: Error) => e.message === `office: already running (pid ${other.pid})`);
  } finally {
    other.kill();
  }
  await other.exited;
  const mine = instanceLock('office');
  mine.release();
});

test('route state lock: waits for the holder, then fails naming it; the lock file survives', async () => {
  const dir = tempRunDir();
  const file = path.join(dir, 'routes', 'office.lock');
  const other = await holder(file);
  try {
    await assert.rejects(withSessionLock('office', async () => 1, 300), (e: Error) => e.message.includes(`PID ${other.pid}`));
    assert.equal(readFileSync(file, 'utf8').trim(), String(other.pid));
  } finally {
    other.kill();
  }
  await other.exited;
  assert.equal(await withSessionLock('office', async () => 2, 1000), 2);
});

test('multi: yes takes no lock; no refuses while another process holds it', async () => {
  tempRunDir();
  const yes = await acquireHostLock('h1', 'yes', () => {});
  assert.notEqual(typeof yes, 'string');
  assert.equal(existsSync(lockPath('h1')), false);

  const first = await acquireHostLock('h1', 'no', () => {});
  assert.notEqual(typeof first, 'string');
  assert.equal(readFileSync(lockPath('h1'), 'utf8'), `${process.pid}\n`);
  if (typeof first !== 'string') await first.release();
  assert.equal(existsSync(lockPath('h1')), false);

  const other = await holder(lockPath('h2'));
  try {
    const refused = await acquireHostLock('h2', 'no', () => {});
    assert.equal(typeof refused, 'string');
    assert.match(refused as string, new RegExp(`already connected \\(pid ${other.pid}\\) and Multi = no`));
  } finally {
    other.kill();
  }
});

test('multi: killold stops the old session process, then takes the lock', async () => {
  tempRunDir();
  const old = await holder(lockPath('h3'));
  const lines: string[] = [];
  const got = await acquireHostLock('h3', 'killold', (l) => lines.push(l));
  assert.notEqual(typeof got, 'string');
  await old.exited; // flock(1) ends once its command (the old session) is gone
  assert.throws(() => process.kill(old.pid, 0), /ESRCH/, 'the old session process was stopped');
  assert.equal(readFileSync(lockPath('h3'), 'utf8'), `${process.pid}\n`);
  assert.ok(lines.some((l) => /killold/.test(l)));
  if (typeof got !== 'string') await got.release();
});

test('the state machine: the transitions of each role are allowed, anything else is an internal error', () => {
  const published: string[] = [];
  const reporter = { ready() {}, state: (s: { state: string }) => published.push(s.state), stopping() {}, reloading() {}, reloaded() {}, setReloadHandler() {}, setSnapshotSource() {}, close() {} };
  const client = new SessionStatus('c', 'client', 'vtun', reporter as never);
  for (const s of ['connecting', 'handshaking', 'connected', 'reconnecting', 'reconnecting', 'handshaking', 'reconnecting', 'stopping', 'stopped'] as const) {
    client.set(s, s === 'reconnecting' ? `r${published.length}` : null);
  }
  assert.deepEqual(published, ['connecting', 'handshaking', 'connected', 'reconnecting', 'reconnecting', 'handshaking', 'reconnecting', 'stopping', 'stopped']);
  const server = new SessionStatus('s', 'server', 'vtun', reporter as never);
  for (const s of ['listening', 'handshaking', 'connected', 'listening', 'handshaking', 'listening', 'stopping', 'stopped'] as const) server.set(s);
  assert.throws(() => server.set('connected'), /stopped -> connected is not a transition/);
  const other = new SessionStatus('o', 'server', 'vtun', reporter as never);
  other.set('listening');
  assert.throws(() => other.set('connected'), /listening -> connected/);
  assert.throws(() => other.set('reconnecting'), /listening -> reconnecting/);
});
