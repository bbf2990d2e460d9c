// core/session/stream-device.ts: VTun's pipe and tty devices without root: the socketpair / pty,
// the program on the other end (environment, controlling terminal, exit, SIGTERM/SIGKILL), and how
// a program's end ends the link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { SessionConfig } from '../../core/config/types.js';
import { TundError } from '../../core/errors.js';
import type { LinkEnd } from '../../core/session/protocol.js';
import {
  StreamDevice,
  describeExit,
  programEnv,
  programFor,
  startStreamProgram,
  type ProgramExit,
} from '../../core/session/stream-device.js';

const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', TUND_SESSION: 's1' };

function config(mode: SessionConfig['device']['mode'], program: string | null): SessionConfig {
  return {
    name: 's1',
    file: '/etc/tund/s1.conf',
    session: {} as SessionConfig['session'],
    device: { mode, name: 's1', addresses: [], peer: null, mtu: null, multiQueue: false, mac: null, bridge: null, program },
    route: {} as SessionConfig['route'],
    hooks: { up: [], down: [] },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads what arrives on fd (blocking or not) until `done(text)` or the timeout. */
async function readUntil(fd: number, done: (text: string) => boolean, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  const buf = Buffer.alloc(4096);
  let text = '';
  while (Date.now() < deadline && !done(text)) {
    let n = 0;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EIO') throw error;
    }
    if (n > 0) text += buf.toString('latin1', 0, n);
    else await sleep(20);
  }
  return text;
}

test('programEnv: TUND_LOCAL_*/TUND_REMOTE_* from the transport', () => {
  const env = programEnv({ TUND_SESSION: 'a' }, { address: '198.18.0.2', port: 40000 }, { address: '198.18.0.1', port: 5000 });
  assert.deepEqual(env, { TUND_SESSION: 'a', TUND_LOCAL_ADDR: '198.18.0.2', TUND_LOCAL_PORT: '40000', TUND_REMOTE_ADDR: '198.18.0.1', TUND_REMOTE_PORT: '5000' });
  assert.deepEqual(programEnv({}, null, null), {});
});

test('programFor: the config\'s Program, or exit 78 with a hint when there is none', () => {
  assert.equal(programFor(config('pipe', 'cat'), 'pipe'), 'cat');
  assert.throws(
    () => programFor(config('tun', null), 'tty'),
    (e: unknown) => e instanceof TundError && e.exitCode === 78 && /asked for a VTun tty session/.test(e.message) && /Mode = tty/.test(e.hint ?? ''),
  );
});

test('describeExit', () => {
  assert.equal(describeExit({ code: 0, signal: null }), 'exited with status 0');
  assert.equal(describeExit({ code: null, signal: 'SIGKILL' }), 'was killed by SIGKILL');
});

test('pipe: the program talks over the socketpair with the session environment; EOF when it exits', async () => {
  const dev = StreamDevice.open('pipe');
  assert.equal(dev.name, 'pipe');
  assert.deepEqual(dev.info(), { ifname: 'pipe', kind: 'pipe', mtu: null, multi_queue: false, persist: false });
  let exit: ProgramExit | null = null;
  await dev.start('echo "$TUND_SESSION $TUND_DEVICE"; read line; echo "got $line"; exit 3', { ...ENV, TUND_DEVICE: dev.name }, (e) => (exit = e));
  assert.equal(await readUntil(dev.fd, (t) => t.includes('\n')), 's1 pipe\n');
  fs.writeSync(dev.fd, 'hello\n');
  assert.equal(await readUntil(dev.fd, (t) => t.includes('got hello\n')), 'got hello\n');
  // the program is gone: our end reads EOF (0), which the pump reports as the device's end
  const buf = Buffer.alloc(16);
  assert.equal(fs.readSync(dev.fd, buf), 0);
  for (let i = 0; i < 100 && !exit; i++) await sleep(20);
  assert.deepEqual(exit, { code: 3, signal: null });
  assert.deepEqual(await dev.stop(), { code: 3, signal: null });
  assert.equal(dev.closed, true);
});

test('tty: the program runs on the pty slave as its controlling terminal; the line discipline is raw', async () => {
  const dev = StreamDevice.open('tty');
  assert.match(dev.name, /^\/dev\/pts\/\d+$/);
  assert.equal(dev.info().kind, 'tty');
  await dev.start('printf "%s %s\\n" "$(tty)" "$(ps -o tty= -p $$)"; cat', ENV, () => {});
  const first = await readUntil(dev.fd, (t) => t.includes('\n'));
  const [stdin, ctty] = first.trim().split(/\s+/);
  assert.equal(stdin, dev.name);
  assert.equal(`/dev/${ctty}`, dev.name, 'the pty is the controlling terminal of the program');
  // raw: CR, LF and control characters pass both ways unchanged (no echo, no CRLF mapping)
  const payload = Buffer.from([0x61, 0x0d, 0x0a, 0x03, 0x04, 0x1a, 0x7f, 0x00, 0xff, 0x62]);
  fs.writeSync(dev.fd, payload);
  const back = await readUntil(dev.fd, (t) => t.length >= payload.length, 3000);
  assert.deepEqual(Buffer.from(back, 'latin1'), payload);
  const exit = await dev.stop();
  assert.ok(exit && (exit.signal === 'SIGTERM' || exit.signal === 'SIGHUP'), `stopped by a signal: ${JSON.stringify(exit)}`);
});

test('stop(): a program that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  const dev = StreamDevice.open('pipe');
  await dev.start("trap '' TERM; echo ready; sleep 30", ENV, () => {});
  await readUntil(dev.fd, (t) => t.includes('ready'));
  const t0 = Date.now();
  const exit = await dev.stop(300);
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
  assert.ok(Date.now() - t0 >= 250 && Date.now() - t0 < 5000);
});

test('a program that cannot be started: a TundError, the fds are still closed by stop()', async () => {
  const dev = StreamDevice.open('tty', { setsid: '/nonexistent/setsid' });
  await assert.rejects(dev.start('true', ENV, () => {}), (e: unknown) => e instanceof TundError && /cannot start the program/.test(e.message));
  await dev.stop();
  assert.equal(dev.closed, true);
});

function fakeLink() {
  let resolve!: (e: LinkEnd) => void;
  const ended = new Promise<LinkEnd>((r) => (resolve = r));
  const closes: string[] = [];
  return {
    ended,
    closes,
    end: (e: LinkEnd) => resolve(e),
    async close(reason = 'stopped') {
      closes.push(reason);
      resolve({ reason: 'stopped', message: reason });
    },
  };
}

test('startStreamProgram: the program exiting closes the link after the drain grace; exit 0 is a clean end', async () => {
  for (const [code, clean] of [[0, true], [4, false]] as const) {
    const dev = StreamDevice.open('pipe');
    const link = fakeLink();
    const logs: string[] = [];
    const running = await startStreamProgram(dev, config('pipe', `exit ${code}`), ENV, link, (l) => logs.push(l), 50);
    assert.ok(running);
    const end = await link.ended;
    assert.deepEqual(link.closes, [`program exited with status ${code}`]);
    const reported = await running.finish(end);
    assert.deepEqual(reported, { reason: 'device_error', message: `program exited with status ${code}`, clean });
    assert.ok(logs.some((l) => l.startsWith('pipe: started program (pid ')));
    assert.ok(logs.includes(`program exited with status ${code}`));
    assert.equal(dev.closed, true);
  }
});

test('startStreamProgram: the link ending first stops the program and keeps the link\'s reason', async () => {
  const dev = StreamDevice.open('pipe');
  const link = fakeLink();
  const logs: string[] = [];
  const running = await startStreamProgram(dev, config('pipe', 'sleep 30'), ENV, link, (l) => logs.push(l));
  const end: LinkEnd = { reason: 'peer_closed', message: '' };
  link.end(end);
  assert.deepEqual(await running!.finish(end), end);
  assert.ok(logs.some((l) => /^program stopped \(was killed by SIGTERM\)$/.test(l)), logs.join('\n'));
  assert.deepEqual(link.closes, []);
});

test('startStreamProgram: nothing to do for a tun/tap device', async () => {
  assert.equal(await startStreamProgram({ fd: 3 }, config('tun', null), ENV, fakeLink(), () => {}), null);
});
