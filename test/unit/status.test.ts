// The control socket (server + client) and tunctl status / wait / watch, against a fake session
// (a ControlServer fed by hand) in a temporary TUND_RUN_DIR.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { Cli } from 'clipanion';
import { buildCli } from '../../core/cli/main.js';
import { ControlServer, probeSocket } from '../../core/status/server.js';
import { collectStatus, requestStatus, routeInfoFromState, watchSession } from '../../core/status/client.js';
import { humanBytes, logHint, relativeTime, renderStatus, statusDocument } from '../../core/status/format.js';
import type { StateEvent } from '../../core/status/protocol.js';
import type { SessionSnapshot } from '../../core/status/types.js';
import { StatusSessionCommand } from '../../commands/tunctl/status.js';
import { WaitSessionCommand } from '../../commands/tunctl/wait.js';
import { parseDuration } from '../../core/duration.js';
import { WatchSessionCommand } from '../../commands/tunctl/watch.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tund-status-'));
  process.env.TUND_RUN_DIR = path.join(dir, 'run');
  process.env.TUND_CONFIG_DIR = path.join(dir, 'etc');
  fs.mkdirSync(process.env.TUND_CONFIG_DIR);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

class FakeSession {
  snap: SessionSnapshot;
  constructor(name: string, extra: Partial<SessionSnapshot> = {}) {
    this.snap = {
      name,
      protocol: 'vtun',
      role: 'client',
      state: 'connecting',
      since: '2026-11-22T06:00:00.000Z',
      reason: null,
      next_attempt: null,
      endpoint: null,
      device: { ifname: name, kind: 'tun', mtu: 1450, multi_queue: false, persist: false },
      latest_handshake: null,
      latest_keepalive: null,
      keepalive: null,
      flags: null,
      counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 },
      peers: [],
      pid: 4242,
      ...extra,
    };
  }
  async listen(): Promise<ControlServer> {
    return ControlServer.listen(path.join(process.env.TUND_RUN_DIR!, `${this.snap.name}.sock`), {
      snapshot: () => this.snap,
      route: () => ({ mode: 'split', prefixes: ['198.19.0.0/24'], table: null }),
    });
  }
  set(server: ControlServer, extra: Partial<SessionSnapshot>): void {
    this.snap = { ...this.snap, ...extra };
    server.publish(this.snap);
  }
}

/** Runs tunctl in this process; `output()` is what it printed so far (while it runs). */
function tunctlRun(args: string[]): { done: Promise<{ code: number; stdout: string; stderr: string }>; output(): string } {
  const cli = buildCli({ name: 'tunctl', label: 'test', commands: [StatusSessionCommand, WaitSessionCommand, WatchSessionCommand] });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const context = { ...Cli.defaultContext, stdout, stderr };
  const done = (async () => {
    let code: number;
    try {
      code = await cli.run(cli.process(args, context), context);
    } catch {
      code = 2; // as core/cli/main.ts runCli: parse and validation errors are usage errors
    }
    return { code, stdout: out, stderr: err };
  })();
  return { done, output: () => out };
}

function tunctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return tunctlRun(args).done;
}

/** Polls fn every 5 ms until it is true (at most timeoutMs). */
async function until(what: string, fn: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('status reply over the socket; the socket is 0600; a second live listener is refused', async () => {
  const s = new FakeSession('office', { state: 'connected', endpoint: '198.18.0.1:5000', counters: { rx_bytes: 1536, tx_bytes: 10, rx_packets: 2, tx_packets: 1 } });
  const server = await s.listen();
  try {
    const sockPath = path.join(process.env.TUND_RUN_DIR!, 'office.sock');
    assert.equal(fs.statSync(sockPath).mode & 0o777, 0o600);
    const reply = await requestStatus(sockPath);
    assert.equal(reply.state, 'connected');
    assert.equal(reply.counters.rx_bytes, 1536);
    assert.deepEqual(reply.route, { mode: 'split', prefixes: ['198.19.0.0/24'], table: null });
    assert.equal(reply.unit, null);
    assert.equal(await probeSocket(sockPath), 'alive');
    await assert.rejects(s.listen(), /already running/);
  } finally {
    server.close();
  }
});

test('a stale socket (nobody listening) is probed and replaced; a regular file is not touched', async () => {
  const runDir = process.env.TUND_RUN_DIR!;
  fs.mkdirSync(runDir, { recursive: true });
  const stale = path.join(runDir, 'stale.sock');
  // make a socket file nobody listens on: a listener that dies without unlinking (child process)
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('python3', ['-c', `import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)`, stale]);
  assert.equal(r.status, 0);
  assert.equal(await probeSocket(stale), 'stale');
  const s = new FakeSession('stale');
  const server = await s.listen();
  assert.equal((await requestStatus(stale)).name, 'stale');
  server.close();
  assert.equal(fs.existsSync(stale), false, 'close() removes the socket');
  fs.writeFileSync(path.join(runDir, 'file.sock'), 'x');
  await assert.rejects(new FakeSession('file').listen(), /not a socket/);
  fs.rmSync(path.join(runDir, 'file.sock'));
});

test('watch: history (current state last), then every change in order; unknown command -> error', async () => {
  const s = new FakeSession('w1');
  const server = await s.listen();
  try {
    s.set(server, { state: 'handshaking', since: '2026-11-22T06:00:01.000Z' });
    const got: string[] = [];
    let history: StateEvent[] = [];
    const ended = new Promise<void>((resolve) => {
      void watchSession(server.socketPath, {
        history: (e) => (history = e),
        event: (e) => got.push(`${e.state}:${e.reason ?? ''}`),
        end: () => resolve(),
      });
    });
    await until('the history', () => history.length > 0);
    assert.deepEqual(history.map((e) => e.state), ['connecting', 'handshaking']);
    s.set(server, { state: 'connected', since: '2026-11-22T06:00:02.000Z', endpoint: '198.18.0.1:5000' });
    s.set(server, { state: 'reconnecting', since: '2026-11-22T06:00:03.000Z', reason: 'keepalive timeout' });
    await until('two events', () => got.length === 2);
    server.close();
    await ended;
    assert.deepEqual(got, ['connected:', 'reconnecting:keepalive timeout']);
    // a bad request gets an error line, not a disconnect
  } finally {
    server.close();
  }
  const s2 = new FakeSession('w2');
  const server2 = await s2.listen();
  const line = await new Promise<string>((resolve) => {
    const c = net.connect(server2.socketPath, () => c.write('{"cmd":"bogus"}\n'));
    c.on('data', (d) => {
      resolve(d.toString());
      c.destroy();
    });
  });
  server2.close();
  assert.deepEqual(JSON.parse(line), { type: 'error', error: 'unknown command "bogus" (expected status, watch or reload)' });
});

test('format: every key present with fixed types, sorted by activity, wg-style units', () => {
  const a = new FakeSession('a', { since: '2026-11-22T06:00:00.000Z' }).snap;
  const b = new FakeSession('b', { since: '2026-11-22T05:00:00.000Z', latest_keepalive: '2026-11-22T06:30:00.500Z', latest_handshake: '2026-11-22T05:00:01Z', state: 'connected', endpoint: '198.18.0.1:5000' }).snap;
  const doc = statusDocument([
    { ...a, route: null, dns: null, unit: null },
    { ...b, route: null, dns: null, unit: 'tund@b.service' },
  ]);
  assert.equal(doc.format, 1);
  assert.deepEqual(doc.sessions.map((s) => s.name), ['b', 'a']);
  assert.deepEqual(Object.keys(doc.sessions[0]!).sort(), [
    'clients', 'cookie_replies', 'device', 'dns', 'endpoint', 'flags', 'handshake_drops', 'keepalive', 'latest_handshake', 'latest_keepalive', 'name', 'next_attempt', 'peers', 'pid',
    'protocol', 'reason', 'role', 'route', 'rx_bytes', 'rx_packets', 'since', 'state', 'tx_bytes', 'tx_packets', 'unit',
  ]);
  // not WireGuard: no handshake counters (null), and no line for them
  assert.equal(doc.sessions[0]!.handshake_drops, null);
  assert.equal(doc.sessions[0]!.cookie_replies, null);
  assert.deepEqual(doc.sessions[0]!.peers, []);
  assert.equal(doc.sessions[0]!.next_attempt, null);
  assert.equal(doc.sessions[0]!.keepalive, null);
  assert.equal(doc.sessions[0]!.latest_keepalive, '2026-11-22T06:30:00Z');
  assert.equal(doc.sessions[1]!.latest_handshake, null);
  assert.equal(humanBytes(1536), '1.50 KiB');
  assert.equal(humanBytes(12), '12 B');
  assert.equal(humanBytes(5 * 1024 * 1024), '5.00 MiB');
  const now = Date.parse('2026-11-22T06:01:05Z');
  assert.equal(relativeTime('2026-11-22T06:00:00Z', now), '1 minute, 5 seconds ago');
  const text = renderStatus(doc, now);
  assert.match(text, /^session: b \(tund@b\.service\)\n  state: connected since 2026-11-22T05:00:00Z/);
  // run by hand: no unit in JSON, none in the human view
  assert.equal(doc.sessions[1]!.unit, null);
  assert.match(text, /\n\nsession: a\n/);
  assert.doesNotMatch(text, /tund@a\.service/);
  assert.match(text, /  latest handshake: never\n/);
  assert.match(text, /  device: a \(tun, mtu 1450\)\n/);
  // a reconnect: "next attempt in" is computed when printed, from the absolute next_attempt
  const r = statusDocument([
    {
      ...new FakeSession('r', { state: 'reconnecting', reason: 'connection refused', since: '2026-11-22T06:01:00Z', next_attempt: '2026-11-22T06:01:20Z' }).snap,
      keepalive: { interval_s: 10, count: 3, last_echo: '2026-11-22T06:00:58Z' },
      route: null, dns: null, unit: null,
    },
  ]);
  assert.equal(r.sessions[0]!.next_attempt, '2026-11-22T06:01:20Z');
  assert.deepEqual(r.sessions[0]!.keepalive, { interval_s: 10, count: 3, last_echo: '2026-11-22T06:00:58Z' });
  assert.match(renderStatus(r, Date.parse('2026-11-22T06:01:04Z')), /state: reconnecting: connection refused; next attempt in 16 s since/);
  assert.match(renderStatus(r, Date.parse('2026-11-22T06:01:08Z')), /next attempt in 12 s since/);
  assert.match(renderStatus(r, Date.parse('2026-11-22T06:01:08Z')), /  keepalive: every 10 s, dead after 3 missed, last echo 10 seconds ago\n/);
  assert.equal(r.sessions[0]!.clients, null);
  // a vpn-ws hub: its clients, in the JSON and in the human view
  const client = {
    id: 3, remote: '198.18.20.2:40000', macs: ['02:00:5e:20:00:0a'], bridge: false, tls_subject: 'CN=client', user: null, path: '/vpn',
    connected_since: '2026-11-22T06:00:00.123Z', rx_bytes: 1024, tx_bytes: 2048, rx_packets: 2, tx_packets: 3, rx_dropped: 1, tx_dropped: 0,
  };
  const h = statusDocument([{ ...new FakeSession('hub', { state: 'listening' }).snap, clients: [client], route: null, dns: null, unit: null }]);
  assert.deepEqual(h.sessions[0]!.clients, [{ ...client, connected_since: '2026-11-22T06:00:00Z' }]);
  const text2 = renderStatus(h, Date.parse('2026-11-22T06:01:00Z'));
  assert.match(text2, /  clients: 1\n\n  client: 198\.18\.20\.2:40000\n    mac: 02:00:5e:20:00:0a\n    certificate: CN=client\n    connected: since 2026-11-22T06:00:00Z \(1 minute ago\)\n    transfer: 1\.00 KiB received, 2\.00 KiB sent; dropped 1 in, 0 out$/);
});

test('format: WireGuard peers as wg show lists them, and in JSON with every key', () => {
  const peer = { public_key: 'A'.repeat(43) + '=', endpoint: '198.18.88.1:51820', latest_handshake: '2026-11-22T06:00:55.123Z', rx_bytes: 2048, tx_bytes: 100, allowed_ips: ['198.19.88.1/32', '198.19.90.0/24'], persistent_keepalive_s: 25 };
  const quiet = { public_key: 'B'.repeat(43) + '=', endpoint: null, latest_handshake: null, rx_bytes: 0, tx_bytes: 0, allowed_ips: [], persistent_keepalive_s: null };
  const doc = statusDocument([
    { ...new FakeSession('wg0', { protocol: 'wireguard', state: 'connected', peers: [peer, quiet], handshake_drops: 0, cookie_replies: 0 }).snap, route: null, dns: null, unit: null },
  ]);
  assert.deepEqual(doc.sessions[0]!.peers, [{ ...peer, latest_handshake: '2026-11-22T06:00:55Z' }, quiet]);
  const text = renderStatus(doc, Date.parse('2026-11-22T06:01:05Z'));
  assert.match(
    text,
    new RegExp(
      `\n\n  peer: ${'A'.repeat(43)}=\n    endpoint: 198\.18\.88\.1:51820\n    allowed ips: 198\.19\.88\.1/32, 198\.19\.90\.0/24\n    latest handshake: 10 seconds ago\n    transfer: 2\.00 KiB received, 100 B sent\n    persistent keepalive: every 25 seconds\n`,
    ),
  );
  assert.ok(text.endsWith(`\n\n  peer: ${'B'.repeat(43)}=\n    allowed ips: (none)`), text);
  // no refused handshakes yet: 0 in JSON, no line; some: both counts on one line
  assert.equal(doc.sessions[0]!.handshake_drops, 0);
  assert.equal(doc.sessions[0]!.cookie_replies, 0);
  assert.doesNotMatch(text, /handshakes:/);
  const flooded = statusDocument([{ ...new FakeSession('wg0', { protocol: 'wireguard', handshake_drops: 1200, cookie_replies: 1100 }).snap, route: null, dns: null, unit: null }]);
  assert.equal(flooded.sessions[0]!.handshake_drops, 1200);
  assert.match(renderStatus(flooded, Date.parse('2026-11-22T06:01:05Z')), /\n  handshakes: 1200 dropped, 1100 cookie replies sent\n/);
});

test('tunctl status: human view, --json, exit 3 when NAME is not running or nothing runs', async () => {
  let r = await tunctl(['status']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^tunctl: no session is running/);
  assert.equal(r.stdout, '');
  r = await tunctl(['status', '--json']);
  assert.equal(r.code, 3);
  assert.deepEqual(JSON.parse(r.stdout), { format: 1, sessions: [] });

  const s1 = new FakeSession('office', { state: 'connected', endpoint: '198.18.0.1:5000', latest_handshake: '2026-11-22T06:00:00Z', counters: { rx_bytes: 2048, tx_bytes: 1024, rx_packets: 2, tx_packets: 1 } });
  const s2 = new FakeSession('lab');
  const [v1, v2] = [await s1.listen(), await s2.listen()];
  try {
    r = await tunctl(['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^session: office$/m);
    assert.match(r.stdout, /^session: lab$/m);
    assert.match(r.stdout, /^  transfer: 2\.00 KiB received, 1\.00 KiB sent$/m);
    assert.match(r.stdout, /^  routes: split 198\.19\.0\.0\/24$/m);
    r = await tunctl(['status', 'lab', '--json']);
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.sessions.length, 1);
    assert.equal(doc.sessions[0].name, 'lab');
    assert.equal(doc.sessions[0].state, 'connecting');
    assert.equal(doc.sessions[0].rx_bytes, 0);
    r = await tunctl(['status', 'nothere']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /tunctl: nothere: session is not running\nhint: start it with "systemctl start tund@nothere"/);
    r = await tunctl(['status', 'bad/name']);
    assert.equal(r.code, 2);
  } finally {
    v1.close();
    v2.close();
  }
});

test('tunctl wait: waits for a session that is not up yet; times out with 1; unknown session 3', async () => {
  assert.equal(parseDuration('30s'), 30000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2'), 2000);
  assert.equal(parseDuration('1m'), 60000);
  assert.equal(parseDuration('x'), null);

  let r = await tunctl(['wait', 'ghost', '--timeout', '1']);
  assert.equal(r.code, 3);
  r = await tunctl(['wait', 'ghost', '--timeout', 'soon']);
  assert.equal(r.code, 2);
  r = await tunctl(['wait', 'ghost', '--state', 'happy']);
  assert.equal(r.code, 2);

  fs.writeFileSync(path.join(process.env.TUND_CONFIG_DIR!, 'later.conf'), '');
  const s = new FakeSession('later');
  const waiting = tunctl(['wait', 'later', '--state', 'connected', '--timeout', '10s']);
  // the session is not up yet: the waiter meets a socket that hangs up (a session that died) ...
  const sockPath = path.join(process.env.TUND_RUN_DIR!, 'later.sock');
  let attempts = 0;
  const ghost = net.createServer((c) => {
    attempts++;
    c.destroy();
  });
  await new Promise<void>((res) => ghost.listen(sockPath, res));
  await until('the waiter to try the dead session twice', () => attempts >= 2);
  await new Promise((res) => ghost.close(res));
  // ... then the session comes up (connecting), and later connects
  const server = await s.listen();
  s.set(server, { state: 'connected', since: new Date().toISOString() });
  r = await waiting;
  assert.equal(r.code, 0, r.stderr);

  // already connected: returns at once; a state never reached: exit 1 after the timeout
  r = await tunctl(['wait', 'later']);
  assert.equal(r.code, 0);
  const t0 = Date.now();
  r = await tunctl(['wait', 'later', '--state', 'stopped', '--timeout', '700ms']);
  assert.equal(r.code, 1);
  assert.ok(Date.now() - t0 >= 650);
  assert.match(r.stderr, /later: timed out after 700ms waiting for state "stopped" \(current state: connected/);
  server.close();
});

test('tunctl watch --json: history then events as NDJSON, exit 0 when the session ends; 3 when not running', async () => {
  let r = await tunctl(['watch', 'nobody']);
  assert.equal(r.code, 3);
  const s = new FakeSession('wj');
  const server = await s.listen();
  const watching = tunctlRun(['watch', 'wj', '--json']);
  await until('the history line', () => watching.output().includes('"connecting"'));
  s.set(server, { state: 'reconnecting', reason: 'connection refused', since: '2026-11-22T06:00:09.000Z' });
  await until('the event line', () => watching.output().includes('"reconnecting"'));
  server.close();
  r = await watching.done;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { time: '2026-11-22T06:00:00Z', name: 'wj', state: 'connecting', reason: null, endpoint: null, status: 'connecting' },
    { time: '2026-11-22T06:00:09Z', name: 'wj', state: 'reconnecting', reason: 'connection refused', endpoint: null, status: 'reconnecting: connection refused' },
  ]);
});

test('collectStatus skips sockets nobody answers on', async () => {
  const s = new FakeSession('alive1');
  const server = await s.listen();
  try {
    const names = (await collectStatus()).map((x) => x.name);
    assert.ok(names.includes('alive1'));
    assert.ok(!names.includes('stale'));
  } finally {
    server.close();
  }
});

test('a control socket the caller may not open: exit 77, not "not running"', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to drop privileges in a child');
    return;
  }
  const s = new FakeSession('perm');
  const server = await s.listen();
  try {
    // a child running as nobody: the 0600 socket refuses it (EACCES)
    const { spawnSync } = await import('node:child_process');
    const tunctlJs = path.join(path.dirname(new URL(import.meta.url).pathname), '../../commands/tunctl/index.js');
    // as nobody, through test/helpers/as-any-user.sh: the project may sit in a directory only root can enter
    const asAnyUser = path.join(path.dirname(new URL(import.meta.url).pathname), '../../../test/helpers/as-any-user.sh');
    const asNobody = [asAnyUser, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, tunctlJs];
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(process.env.TUND_RUN_DIR!, 0o755);
    for (const args of [['status', 'perm'], ['watch', 'perm'], ['wait', 'perm', '--timeout', '5']]) {
      const r = spawnSync('bash', [...asNobody, ...args], { encoding: 'utf8', env: { ...process.env }, timeout: 10000 });
      assert.equal(r.status, 77, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /permission denied/);
    }
  } finally {
    server.close();
  }
});

test('routes and DNS come from tunroute state (runDir()/routes/NAME.json), ad-hoc routes included', async () => {
  const run = path.join(dir, 'routes-run');
  fs.mkdirSync(path.join(run, 'routes'), { recursive: true });
  const state = (name: string, mode: string | null, entries: object[]) =>
    fs.writeFileSync(
      path.join(run, 'routes', `${name}.json`),
      JSON.stringify({ format: 1, name, device: name, mode, table: mode === 'full' ? 51820 : null, endpoints: [], entries, dns: null, updated: '2026-11-22T06:00:00Z' }),
    );
  state('office', 'full', [
    { kind: 'route', family: 4, dst: 'default', dev: 'office', via: null, table: 51820, metric: null, origin: 'full' },
    { kind: 'route', family: 4, dst: '198.18.0.1', dev: 'eth0', via: '198.18.1.1', table: 'main', metric: null, origin: 'full' },
    { kind: 'rule', family: 4, priority: 100, to: null, table: 51820, suppressPrefixlength: null, origin: 'full' },
  ]);
  const file = path.join(run, 'routes', 'office.json');
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  doc.dns = { backend: 'resolved', link: 'office', servers: ['198.19.0.53'], domains: ['~.'], defaultRoute: true, record: null, origin: 'up' };
  fs.writeFileSync(file, JSON.stringify(doc));
  // routes added by hand (tunroute add): no mode, only ad-hoc entries
  state('adhoc', null, [
    { kind: 'route', family: 4, dst: '198.19.10.0/24', dev: 'adhoc', via: null, table: 'main', metric: null, origin: 'add' },
    { kind: 'route', family: 6, dst: '2001:2::/48', dev: 'adhoc', via: null, table: 'main', metric: null, origin: 'add' },
  ]);
  fs.writeFileSync(path.join(run, 'routes', 'bad.json'), '{not json');
  const saved = process.env.TUND_RUN_DIR;
  process.env.TUND_RUN_DIR = run;
  try {
    assert.deepEqual(await routeInfoFromState('office'), {
      route: { mode: 'full', prefixes: ['default'], table: 51820 },
      dns: { backend: 'resolved', servers: ['198.19.0.53'], domains: ['~.'] },
    });
    assert.deepEqual(await routeInfoFromState('adhoc'), { route: { mode: 'ad-hoc', prefixes: ['198.19.10.0/24', '2001:2::/48'], table: null }, dns: null });
    assert.deepEqual(await routeInfoFromState('absent'), { route: null, dns: null });
    assert.deepEqual(await routeInfoFromState('bad'), { route: null, dns: null });
    // tunctl status shows them, even when the session itself reports no routes
    const s = new FakeSession('adhoc', { state: 'connected' });
    const server = await ControlServer.listen(path.join(run, 'adhoc.sock'), { snapshot: () => s.snap, route: () => ({ mode: 'none', prefixes: [], table: null }) });
    try {
      const r = await tunctl(['status', 'adhoc']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^  routes: ad-hoc 198\.19\.10\.0\/24, 2001:2::\/48$/m);
    } finally {
      server.close();
    }
  } finally {
    process.env.TUND_RUN_DIR = saved;
  }
});

test('human view: flags decoded as tunauth probe does, keepalive, times computed when printed', () => {
  const base = new FakeSession('office', {
    state: 'connected', since: '2026-11-22T06:00:00Z', flags: '<TuL1KE10>', latest_keepalive: '2026-11-22T06:00:58Z',
  }).snap;
  const now = Date.parse('2026-11-22T06:01:00Z');
  let text = renderStatus(statusDocument([{ ...base, route: null, dns: null, unit: null }]), now);
  assert.match(text, /^  flags: <TuL1KE10> tcp, tun, lzo level 1, cipher aes128cbc, keepalive on$/m);
  assert.match(text, /^  keepalive: on \(last frame from the peer 2 seconds ago\)$/m);
  // what the session publishes about its keepalive, when it does
  const withKeepalive = { ...base, keepalive: { interval_s: 30, count: 4, last_echo: '2026-11-22T06:00:50Z' }, route: null, dns: null, unit: null };
  text = renderStatus(statusDocument([withKeepalive]), now);
  assert.match(text, /^  keepalive: every 30 s, dead after 4 missed, last echo 10 seconds ago$/m);
  // a reconnect: "next attempt" from the absolute time, so it counts down as time passes
  const waiting = { ...base, state: 'reconnecting' as const, reason: 'connection refused', next_attempt: '2026-11-22T06:01:20Z', flags: '<TuK>', route: null, dns: null, unit: null };
  const doc = statusDocument([waiting]);
  assert.equal(doc.sessions[0]!.next_attempt, '2026-11-22T06:01:20Z');
  assert.match(renderStatus(doc, now), /state: reconnecting: connection refused; next attempt in 20 s since/);
  assert.match(renderStatus(doc, now + 16_000), /state: reconnecting: connection refused; next attempt in 4 s since/);
  assert.match(renderStatus(doc, now + 30_000), /next attempt now since/);
  // no keepalive in the flags
  assert.match(renderStatus(statusDocument([{ ...base, flags: '<TuE10>', latest_keepalive: null, route: null, dns: null, unit: null }]), now), /^  keepalive: off$/m);
});

test('hints name journalctl only for a session in a unit', () => {
  assert.equal(logHint('office', 'tund@office.service', {}), 'see "journalctl -u tund@office.service"');
  assert.equal(logHint('office', null, {}), 'see the log of "tund office" (its standard error)');
  assert.equal(logHint('office', null, { INVOCATION_ID: 'abc' }), 'see "journalctl -u tund@office.service"');
});
