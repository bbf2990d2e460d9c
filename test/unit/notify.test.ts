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
import type { SessionSnapshot } from '../../core/status/types.js';
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
    endpoint: null,
    device: null,
    latest_handshake: null,
    latest_keepalive: null,
    flags: null,
    counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 },
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

test('WATCHDOG=1 is sent from the event loop at half the interval', async () => {
  const sink = new FakeSink();
  const n = new Notifier({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '200000' }, sink });
  n.startWatchdog();
  await new Promise((r) => setTimeout(r, 560));
  n.stopWatchdog();
  const pings = sink.messages.filter((m) => m === 'WATCHDOG=1').length;
  // one at start, then every 100 ms: about 6; generous bounds for a loaded machine
  assert.ok(pings >= 3 && pings <= 8, `pings: ${pings}`);
  const after = sink.messages.length;
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(sink.messages.length, after, 'no pings after stopWatchdog');
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
    await new Promise((r) => setTimeout(r, 250));
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
      'office: reloading',
      'office: reloaded',
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

test('SIGHUP: RELOADING=1, the reload handler, then READY=1 with the current STATUS=', async () => {
  const sink = new FakeSink();
  const logs: string[] = [];
  const r = new SystemdReporter('office', {
    notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }),
    log: (l) => logs.push(l),
    socketPath: null,
    handleSighup: true,
  });
  try {
    r.state(snap('connected', { endpoint: '198.18.0.1:5000' }));
    let ran = 0;
    r.setReloadHandler(async () => {
      ran++;
      assert.equal(sink.messages[sink.messages.length - 1], 'RELOADING=1\nSTATUS=reloading');
      await new Promise((res) => setTimeout(res, 20));
    });
    sink.messages.length = 0;
    process.emit('SIGHUP', 'SIGHUP');
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(ran, 1);
    assert.deepEqual(sink.messages, ['RELOADING=1\nSTATUS=reloading', 'READY=1\nSTATUS=connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z']);
  } finally {
    r.close();
  }
  assert.equal(process.listenerCount('SIGHUP'), 0, 'close() removes the SIGHUP handler');
});

test('the default reload re-reads the config and keeps running when it is broken', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-reload-'));
  const saved = process.env.TUND_CONFIG_DIR;
  process.env.TUND_CONFIG_DIR = dir;
  const logs: string[] = [];
  const r = new SystemdReporter('office', { notifier: new Notifier({ env: {} }), log: (l) => logs.push(l), socketPath: null, handleSighup: false });
  try {
    fs.writeFileSync(path.join(dir, 'office.conf'), '[Session]\nRole = client\nEndpoint = 198.18.0.1:5000\nMTU = x\n', { mode: 0o600 });
    await r.reload();
    assert.ok(logs.some((l) => l.startsWith('office: reload: configuration has problems')), logs.join('\n'));
    assert.equal(logs[logs.length - 1], 'office: reloaded');
  } finally {
    r.close();
    if (saved === undefined) delete process.env.TUND_CONFIG_DIR;
    else process.env.TUND_CONFIG_DIR = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('SystemdReporter.open without a control socket (another live process holds it) still notifies', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-rep2-'));
  const socketPath = path.join(dir, 'office.sock');
  const first = await SystemdReporter.open('office', { notifier: new Notifier({ env: {} }), log: () => {}, socketPath, handleSighup: false });
  const sink = new FakeSink();
  const logs: string[] = [];
  const second = await SystemdReporter.open('office', {
    notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }),
    log: (l) => logs.push(l),
    socketPath,
    handleSighup: false,
  });
  try {
    assert.equal(second.socketPath, null);
    assert.match(logs[0] ?? '', /^office: warning: no control socket: .*already running/);
    second.ready();
    assert.deepEqual(sink.messages, ['READY=1\nSTATUS=starting']);
    assert.equal(first.socketPath, socketPath);
  } finally {
    second.close();
    first.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('reload over the control socket: the session SIGHUP handler runs; the reply waits for READY=1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-rl-'));
  const socketPath = path.join(dir, 'office.sock');
  const sink = new FakeSink();
  // a session that handles SIGHUP itself (as core/session does) and reports through the reporter
  let r: SystemdReporter | null = null;
  const sessionHup = () => {
    r!.reloading();
    setTimeout(() => r!.reloaded(), 200);
  };
  process.on('SIGHUP', sessionHup);
  try {
    r = await SystemdReporter.open('office', { notifier: new Notifier({ env: { NOTIFY_SOCKET: '/x' }, sink }), log: () => {}, socketPath });
    r.state(snap('connected', { endpoint: '198.18.0.1:5000' }));
    sink.messages.length = 0;
    const t0 = Date.now();
    await requestReload(socketPath, 10_000);
    assert.ok(Date.now() - t0 >= 180, 'the reply came after the reload finished');
    assert.deepEqual(sink.messages, ['RELOADING=1\nSTATUS=reloading', 'READY=1\nSTATUS=connected to 198.18.0.1:5000 since 2026-11-22T06:00:00.000Z']);
  } finally {
    process.off('SIGHUP', sessionHup);
    r?.close();
  }
  // a process whose SIGHUP handler does not reload: the request still returns (after 3 s)
  const ignore = () => {};
  process.on('SIGHUP', ignore);
  try {
    r = await SystemdReporter.open('office', { notifier: new Notifier({ env: {} }), log: () => {}, socketPath });
    const t0 = Date.now();
    await requestReload(socketPath, 10_000);
    assert.ok(Date.now() - t0 >= 2900);
  } finally {
    process.off('SIGHUP', ignore);
    r?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
