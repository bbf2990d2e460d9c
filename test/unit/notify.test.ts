// Notifier (sd_notify) and SystemdReporter: the fake sink checks the message sequence; one test
// runs the real sd-notify addon against a datagram socket read by python3, as systemd would.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Notifier, installTestLoopBlocker, watchdogUsec, type NotifySink } from '../../core/systemd/notify.js';
import { SystemdReporter, currentUnit } from '../../core/systemd/reporter.js';
import type { ReloadOutcome, SessionSnapshot } from '../../core/status/types.js';
import { requestReload } from '../../core/status/client.js';

class FakeSink implements NotifySink {
  messages: string[] = [];
  send(m: string): void {
    this.messages.push(m);
  }
}

function snap(state: SessionSnapshot['state'], extra: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return {
    name: 'office',
    protocol: 'vtun',
    role: 'client',
    state,
    since: '2026-11-22T06:00:00.000Z',
    reason: null,
    next_attempt: null,
    endpoint: null,
    device: null,
    latest_handshake: null,
    latest_keepalive: null,
    keepalive: null,
    flags: null,
    counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 },
    peers: [],
    pid: process.pid,
    ...extra,
  };
}

test('without NOTIFY_SOCKET nothing is sent and no watchdog runs', () => {
  const sink = new FakeSink();
  const n = new Notifier({ env: { WATCHDOG_USEC: '1000000' }, sink });
  n.ready('x');
  n.status('y');
  n.startWatchdog();
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogRunning, false);
  assert.deepEqual(sink.messages, []);
});

test('watchdog interval is half of WATCHDOG_USEC and honours WATCHDOG_PID', () => {
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '4000000' }, 10), 4000000);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '4000000', WATCHDOG_PID: '10' }, 10), 4000000);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '4000000', WATCHDOG_PID: '11' }, 10), null);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: 'abc' }, 10), null);
  assert.equal(watchdogUsec({}, 10), null);
  const n = new Notifier({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '4000000' }, sink: new FakeSink() });
  assert.equal(n.watchdogIntervalMs, 2000);
});

test('READY, STATUS (deduplicated, one line), STOPPING, RELOADING then READY', () => {
  const sink = new FakeSink();
  const n = new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink });
  n.ready('connecting');
  n.status('connecting');
  n.status('connected to a\nb');
  n.reloading();
  n.reloaded();
  n.stopping('stopping');
  assert.deepEqual(sink.messages, [
    'READY=1\nSTATUS=connecting',
    'STATUS=connected to a b',
    'RELOADING=1\nSTATUS=reloading',
    'READY=1\nSTATUS=connected to a b',
    'STOPPING=1\nSTATUS=stopping',
  ]);
});

/** Polls fn every 5 ms until it is true (at most timeoutMs). */
async function until(what: string, fn: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('WATCHDOG=1 is sent from the event loop at half the interval', async () => {
  const times: number[] = [];
  const n = new Notifier({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '200000' }, sink: { send: (m) => m === 'WATCHDOG=1' && times.push(Date.now()) } });
  const t0 = Date.now();
  n.startWatchdog();
  await until('5 pings', () => times.length >= 5);
  n.stopWatchdog();
  // one at start, then one every 100 ms: never faster (a loaded machine may be slower)
  assert.ok(times[4]! - t0 >= 380, `5 pings within ${times[4]! - t0} ms`);
  assert.equal(n.watchdogRunning, false, 'stopWatchdog clears the timer: nothing more is sent');
});

test('the loop blocker is armed only by TUND_TEST_BLOCK_LOOP_ON with a known signal', () => {
  assert.equal(installTestLoopBlocker({}), null);
  const lines: string[] = [];
  assert.equal(installTestLoopBlocker({ TUND_TEST_BLOCK_LOOP_ON: 'SIGKILL' }, (l) => lines.push(l)), null);
  assert.match(lines[0] ?? '', /ignored/);
});

test('a blocked event loop stops the WATCHDOG=1 pings (the blocker, in a child process)', () => {
  // child: notifier with a fake sink counting pings; SIGUSR2 blocks the loop for 0.6 s
  const dist = path.dirname(new URL(import.meta.url).pathname);
  const script = `
    import { Notifier, installTestLoopBlocker } from ${JSON.stringify(path.join(dist, '../../core/systemd/notify.js'))};
    const times = [];
    const n = new Notifier({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '100000' }, sink: { send: () => times.push(Date.now()) } });
    installTestLoopBlocker({ TUND_TEST_BLOCK_LOOP_ON: 'SIGUSR2', TUND_TEST_BLOCK_LOOP_SECONDS: '0.6' });
    n.startWatchdog();
    setTimeout(() => process.kill(process.pid, 'SIGUSR2'), 200);
    setTimeout(() => { n.stopWatchdog(); let gap = 0; for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i-1]); console.log(gap); }, 1200);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  const gap = Number(r.stdout.trim());
  assert.ok(gap >= 550, `largest gap between pings ${gap} ms, expected the 600 ms block`);
});

test('the real sd-notify addon delivers to NOTIFY_SOCKET (python3 as the manager)', async (t) => {
  const py = spawnSync('python3', ['--version']);
  if (py.status !== 0) {
    t.skip('python3 missing');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-notify-'));
  const sockPath = path.join(dir, 'notify.sock');
  const listener = spawn(
    'python3',
    [
      '-c',
      `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(5)
print("bound",flush=True)
try:
  while True:
    m=s.recv(4096).decode()
    print(m.replace("\\n","|"),flush=True)
    if "STOPPING=1" in m: break
except socket.timeout: pass`,
      sockPath,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  listener.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('listener did not bind')), 5000);
    listener.stdout.on('data', () => {
      if (out.includes('bound')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const n = new Notifier({ env: { NOTIFY_SOCKET: sockPath, WATCHDOG_USEC: '200000' } });
  const saved = process.env.NOTIFY_SOCKET;
  process.env.NOTIFY_SOCKET = sockPath; // libsystemd reads the environment itself
  try {
    n.startWatchdog();
    n.ready('connecting');
    n.status('connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z');
    await until('two watchdog pings at the manager', () => out.split('\n').filter((l) => l === 'WATCHDOG=1').length >= 2);
    n.stopWatchdog();
    n.stopping('stopping');
    await new Promise<void>((resolve) => listener.on('exit', () => resolve()));
  } finally {
    if (saved === undefined) delete process.env.NOTIFY_SOCKET;
    else process.env.NOTIFY_SOCKET = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const lines = out.split('\n').filter((l) => l && l !== 'bound');
  assert.ok(lines.includes('READY=1|STATUS=connecting'), out);
  assert.ok(lines.includes('STATUS=connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z'), out);
  assert.ok(lines.filter((l) => l === 'WATCHDOG=1').length >= 2, out);
  assert.equal(lines[lines.length - 1], 'STOPPING=1|STATUS=stopping');
});

test('SystemdReporter fans out to sd_notify, the log and the control socket', async () => {
  const sink = new FakeSink();
  const logs: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-rep-'));
  const r = await SystemdReporter.open('office', {
    notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }),
    log: (l) => logs.push(l),
    socketPath: path.join(dir, 'office.sock'),
    unit: 'tund@office.service',
  });
  try {
    r.state(snap('connecting'));
    r.ready();
    r.state(snap('connected', { endpoint: '198.18.0.1:5000' }));
    r.state(snap('connected', { endpoint: '198.18.0.1:5000' })); // repeated: one log line only
    r.reloading();
    r.reloaded();
    r.stopping();
    assert.deepEqual(sink.messages, [
      'STATUS=connecting',
      'READY=1\nSTATUS=connecting',
      'STATUS=connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z',
      'RELOADING=1\nSTATUS=reloading',
      'READY=1\nSTATUS=connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z',
      'STOPPING=1\nSTATUS=stopping',
    ]);
    assert.deepEqual(logs, [
      'office: connecting',
      'office: connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z',
    ]);
    assert.equal((fs.statSync(path.join(dir, 'office.sock')).mode & 0o777).toString(8), '600');
  } finally {
    r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fs.existsSync(path.join(dir, 'office.sock')), false);
});

test('currentUnit reads the unit from /proc/self/cgroup', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-cg-'));
  try {
    fs.writeFileSync(path.join(dir, 'a'), '0::/system.slice/system-tund.slice/tund@office.service\n');
    assert.equal(currentUnit(path.join(dir, 'a')), 'tund@office.service');
    fs.writeFileSync(path.join(dir, 'b'), '1:name=systemd:/user.slice/session-1.scope\n0::/user.slice\n');
    assert.equal(currentUnit(path.join(dir, 'b')), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('STATUS= names the session unless the unit does (tund@NAME); a v4-mapped peer reads as IPv4 upstream', () => {
  const sink = new FakeSink();
  const own = new SystemdReporter('office', { notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }), log: () => {}, socketPath: null, unit: 'tund@office.service' });
  own.state(snap('connected', { endpoint: '198.18.70.2:35165' }));
  const inetd = new SystemdReporter('office', { notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }), log: () => {}, socketPath: null, unit: 'tund-inetd@3-198.18.70.1:5000-198.18.70.2:35165.service' });
  inetd.state(snap('connected', { endpoint: '198.18.70.2:35165' }));
  own.close();
  inetd.close();
  assert.deepEqual(sink.messages, [
    'STATUS=connected to 198.18.70.2:35165 since 2026-11-22T06:00:00.000Z',
    'STATUS=office: connected to 198.18.70.2:35165 since 2026-11-22T06:00:00.000Z',
  ]);
});

test('RELOADING=1 and READY=1 only once the session was ready (and not while it stops)', () => {
  const sink = new FakeSink();
  const r = new SystemdReporter('office', { notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }), log: () => {}, socketPath: null, unit: 'tund@office.service' });
  try {
    r.state(snap('connecting'));
    r.reloading();
    r.reloaded();
    assert.deepEqual(sink.messages, ['STATUS=connecting'], 'not ready yet: a reload says nothing to systemd');
    r.state(snap('connected', { endpoint: '198.18.0.1:5000' }));
    r.ready();
    sink.messages.length = 0;
    r.reloading();
    r.reloaded();
    assert.deepEqual(sink.messages, ['RELOADING=1\nSTATUS=reloading', 'READY=1\nSTATUS=connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z']);
    r.stopping();
    sink.messages.length = 0;
    r.reloading();
    r.reloaded();
    assert.deepEqual(sink.messages, []);
  } finally {
    r.close();
  }
});

test('SystemdReporter.open without a control socket (another live process holds it) still notifies', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-rep2-'));
  const socketPath = path.join(dir, 'office.sock');
  const first = await SystemdReporter.open('office', { notifier: new Notifier({ env: {} }), log: () => {}, socketPath });
  const sink = new FakeSink();
  const logs: string[] = [];
  const second = await SystemdReporter.open('office', {
    notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }),
    log: (l) => logs.push(l),
    socketPath,
    unit: null,
  });
  try {
    assert.equal(second.socketPath, null);
    assert.match(logs[0] ?? '', /^office: warning: no control socket: .*already running/);
    assert.equal(logs[1], 'hint: see "tunctl status office"', 'the hint follows, as the CLI prints it');
    second.ready();
    assert.deepEqual(sink.messages, ['READY=1\nSTATUS=office: starting']);
    assert.equal(first.socketPath, socketPath);
  } finally {
    second.close();
    first.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('reload over the control socket answers with the outcome of the reload of the session', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-rl-'));
  const socketPath = path.join(dir, 'office.sock');
  const r = await SystemdReporter.open('office', { notifier: new Notifier({ env: {} }), log: () => {}, socketPath });
  try {
    // nothing to reload registered: refused with a reason
    assert.deepEqual(await requestReload(socketPath, 10_000), { ok: false, problems: ['this process has nothing to reload'] });
    let finish!: (o: ReloadOutcome) => void;
    r.setReloadHandler(() => new Promise((res) => (finish = res)));
    const asked = requestReload(socketPath, 10_000);
    let answered = false;
    void asked.then(() => (answered = true));
    await until('the reload to start', () => finish !== undefined);
    assert.equal(answered, false, 'the reply waits for the outcome');
    finish({ ok: false, problems: ['/etc/tund/office.conf:7: unknown key "Bogus" in [Session]'] });
    assert.deepEqual(await asked, { ok: false, problems: ['/etc/tund/office.conf:7: unknown key "Bogus" in [Session]'] });
    r.setReloadHandler(async () => ({ ok: true, message: 'configuration unchanged' }));
    assert.deepEqual(await requestReload(socketPath, 10_000), { ok: true, message: 'configuration unchanged' });
  } finally {
    r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
