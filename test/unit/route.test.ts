// Unit tests of core/route: prefixes, plans, command lines, kernel matching, and the engine
// (intent log, rollback, idempotent cleanup) against a fake `ip` that keeps tables in memory.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalAddress, parsePrefix } from '../../core/net.js';
import { planFull, planSplit } from '../../core/route/plan.js';
import { routeArgs, ruleArgs, routeMatches, ruleMatches } from '../../core/route/kernel.js';
import { addRoutes, applySessionRoutes, cleanupSession, delRoutes, dnsInfo, fullTunnel, removeSessionRoutes, routeInfo, showSessions } from '../../core/route/index.js';
import { readState, statePath, writeState, emptyState, stateDir, withSessionLock } from '../../core/route/state.js';
import { syncSessionDns } from '../../core/route/dns-follow.js';
import { spawnSync } from 'node:child_process';
import { isBusy, tryLock } from '../../core/lock.js';
import type { CommandResult, ProcessRunner } from "../../core/ip.js";
import type { SessionConfig } from '../../core/config/types.js';
export interface FakeRoute { family: 4 | 6; dst: string; dev: string; gateway?: string; table: string; protocol?: string; metric?: number }
export interface FakeRule { family: 4 | 6; priority: number; dst?: string; dstlen?: number; table: string; protocol?: string; suppress_prefixlen?: number }

export class FakeKernel implements ProcessRunner {
  routes: FakeRoute[] = [];
  rules: FakeRule[] = [];
  calls: string[] = [];
  /** return a failure for the first call whose command line contains this text */
  failOn: { text: string; stderr: string } | null = null;
  /** called before every changing command is carried out */
  beforeChange: ((line: string) => void) | null = null;

  async run(file: string, args: string[], options: { echo: ((line: string) => void) | undefined; input?: string }): Promise<CommandResult> {
    const line = [file, ...args].join(' ');
    this.calls.push(line);
    const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '', exitCode: 0 });
    const fail = (stderr: string): CommandResult => ({ stdout: '', stderr, exitCode: 2 });
    if (file !== 'ip') {
      options.echo?.(line);
      this.beforeChange?.(line);
      if (this.failOn && line.includes(this.failOn.text)) return fail(this.failOn.stderr);
      return ok();
    }
    const a = [...args];
    const json = a[0] === '-json' ? (a.shift(), true) : false;
    const family = a[0] === '-6' ? 6 : 4;
    if (a[0] === '-4' || a[0] === '-6') a.shift();
    const [object, verb, ...rest] = a;
    if (json && verb === 'show') {
      if (object === 'route') return ok(JSON.stringify(this.routes.filter((r) => r.family === family).map(({ family: _f, table, ...r }) => ({ ...r, ...(table === 'main' ? {} : { table }) }))));
      return ok(JSON.stringify([{ priority: 0, src: 'all', table: 'local' }, ...this.rules.filter((r) => r.family === family).map(({ family: _f, ...r }) => ({ src: 'all', ...r })), { priority: 32766, src: 'all', table: 'main' }]));
    }
    if (json && verb === 'get') {
      // route get: the longest match in main, as the endpoint check asks it
      const hit = this.routes.find((r) => r.family === family && r.table === 'main' && r.dst === 'default');
      return ok(JSON.stringify(hit ? [{ dst: rest[0], dev: hit.dev, gateway: hit.gateway }] : []));
    }
    options.echo?.(line);
    this.beforeChange?.(line);
    if (this.failOn && line.includes(this.failOn.text)) return fail(this.failOn.stderr);
    const opt = (k: string) => {
      const i = rest.indexOf(k);
      return i >= 0 ? rest[i + 1] : undefined;
    };
    if (object === 'route') {
      const r: FakeRoute = { family, dst: rest[0]!, dev: opt('dev')!, table: opt('table') ?? 'main', protocol: opt('proto') };
      if (opt('via')) r.gateway = opt('via');
      const metric = opt('metric');
      if (metric !== undefined) r.metric = Number(metric);
      else if (family === 6) r.metric = 1024;
      const same = (x: FakeRoute) => x.family === r.family && x.dst === r.dst && x.table === r.table && (x.metric ?? 0) === (r.metric ?? 0);
      if (verb === 'add') {
        if (this.routes.some(same)) return fail('RTNETLINK answers: File exists');
        this.routes.push(r);
        return ok();
      }
      const i = this.routes.findIndex((x) => same(x) && x.dev === r.dev && (r.protocol === undefined || x.protocol === r.protocol));
      if (i < 0) return fail('RTNETLINK answers: No such process');
      this.routes.splice(i, 1);
      return ok();
    }
    const to = opt('to');
    const u: FakeRule = { family, priority: Number(opt('priority')), table: opt('lookup')!, protocol: opt('protocol') };
    if (to) {
      const [addr, len] = to.split('/');
      u.dst = addr;
      if (len !== undefined && Number(len) !== (family === 4 ? 32 : 128)) u.dstlen = Number(len);
    }
    if (opt('suppress_prefixlength') !== undefined) u.suppress_prefixlen = Number(opt('suppress_prefixlength'));
    const same = (x: FakeRule) => x.family === u.family && x.priority === u.priority && x.table === u.table && x.dst === u.dst && x.dstlen === u.dstlen && x.suppress_prefixlen === u.suppress_prefixlen;
    if (verb === 'add') {
      if (this.rules.some(same)) return fail('RTNETLINK answers: File exists');
      this.rules.push(u);
      return ok();
    }
    const i = this.rules.findIndex((x) => same(x) && (u.protocol === undefined || x.protocol === u.protocol));
    if (i < 0) return fail('RTNETLINK answers: No such file or directory');
    this.rules.splice(i, 1);
    return ok();
  }

  changes(): string[] {
    return this.calls.filter((c) => !c.includes(' -json '));
  }
}

function config(route: Partial<SessionConfig['route']>, extra: { endpoint?: string; device?: string } = {}): SessionConfig {
  return {
    name: 'office',
    file: '/etc/tund/office.conf',
    session: { role: 'client', endpoint: { host: extra.endpoint ?? '198.18.9.1', port: 5000 } } as SessionConfig['session'],
    device: { mode: 'tun', name: extra.device ?? 'tr0', addresses: [], peer: null, mtu: null, multiQueue: false, mac: null, bridge: null, program: null },
    route: { mode: 'none', allowedIps: [], exclude: [], table: 'auto', metric: null, dns: [], dnsDomains: [], ...route },
    hooks: { up: [], down: [] },
  };
}

describe('prefixes', () => {
  test('clear host bits and print like ip -json', () => {
    const p = parsePrefix('198.19.10.77/24');
    assert.ok(p.ok);
    assert.equal(p.dst, '198.19.10.0/24');
    assert.equal(p.hostBitsSet, true);
    const host = parsePrefix('198.18.9.1/32');
    assert.ok(host.ok);
    assert.equal(host.dst, '198.18.9.1');
    assert.equal(host.cidr, '198.18.9.1/32');
    const d = parsePrefix('0.0.0.0/0');
    assert.ok(d.ok && d.dst === 'default' && d.family === 4);
    const d6 = parsePrefix('::/0');
    assert.ok(d6.ok && d6.dst === 'default' && d6.family === 6);
  });
  test('IPv6 is compressed as inet_ntop does', () => {
    const p = parsePrefix('2001:0002:0:0:0:0:0:AB34/64');
    assert.ok(p.ok);
    assert.equal(p.dst, '2001:2::/64');
    assert.equal(canonicalAddress('2001:2:0:1:0:0:0:1'), '2001:2:0:1::1');
    assert.equal(canonicalAddress('2001:2:0:1:1:1:1:1'), '2001:2:0:1:1:1:1:1');
    assert.equal(canonicalAddress('::ffff:198.18.0.1'), '::ffff:c612:1');
  });
  test('bad input is reported', () => {
    const p = parsePrefix('198.19.300.0/24');
    assert.equal(p.ok, false);
    assert.equal(parsePrefix('198.19.0.0/33').ok, false);
  });
});

describe('plans and command lines', () => {
  test('full tunnel: tunnel-table routes, endpoint/exclude rules, suppress, switch-over last', () => {
    const entries = planFull({ device: 'tr0', endpoints: ['198.18.9.1'], exclude: ['198.19.100.7/24'], table: 51820, metric: null, origin: 'up', families: [4, 6] });
    const lines = entries.map((e) => (e.kind === 'route' ? routeArgs('add', e) : ruleArgs('add', e)).join(' '));
    assert.deepEqual(lines, [
      '-4 route add default dev tr0 table 51820 proto 250',
      '-6 route add default dev tr0 table 51820 proto 250',
      '-4 rule add to 198.18.9.1/32 lookup main priority 31000 protocol 250',
      '-4 rule add to 198.19.100.0/24 lookup main priority 31000 protocol 250',
      '-4 rule add lookup main suppress_prefixlength 0 priority 31001 protocol 250',
      '-6 rule add lookup main suppress_prefixlength 0 priority 31001 protocol 250',
      '-4 rule add lookup 51820 priority 31002 protocol 250',
      '-6 rule add lookup 51820 priority 31002 protocol 250',
    ]);
  });
  test('full tunnel refuses an exclude of everything', () => {
    assert.throws(() => planFull({ device: 'tr0', endpoints: [], exclude: ['0.0.0.0/0'], table: 51820, metric: null, origin: 'up', families: [4] }), /keep everything outside/);
  });
  test('split: routes in main; with a table also one rule per family used', () => {
    const main = planSplit({ device: 'tr0', prefixes: ['198.19.1.0/24'], table: 'main', metric: 7, origin: 'up', withRule: true });
    assert.deepEqual(main.map((e) => (e.kind === 'route' ? routeArgs('add', e) : ruleArgs('add', e)).join(' ')), ['-4 route add 198.19.1.0/24 dev tr0 metric 7 proto 250']);
    const t = planSplit({ device: 'tr0', prefixes: ['198.19.1.0/24', '198.19.2.0/24'], via: '198.18.100.1', table: 200, metric: null, origin: 'up', withRule: true });
    assert.deepEqual(t.map((e) => (e.kind === 'route' ? routeArgs('del', e) : ruleArgs('del', e)).join(' ')), [
      '-4 route del 198.19.1.0/24 via 198.18.100.1 dev tr0 table 200 proto 250',
      '-4 route del 198.19.2.0/24 via 198.18.100.1 dev tr0 table 200 proto 250',
      '-4 rule del lookup 200 priority 31002 protocol 250',
    ]);
  });
  test('kernel objects match only with our protocol', () => {
    const [route] = planSplit({ device: 'tr0', prefixes: ['198.19.1.0/24'], table: 'main', metric: null, origin: 'add', withRule: false });
    assert.ok(route && route.kind === 'route');
    assert.equal(routeMatches({ dst: '198.19.1.0/24', dev: 'tr0', protocol: '250' }, route), true);
    assert.equal(routeMatches({ dst: '198.19.1.0/24', dev: 'tr0', protocol: 'tunroute' }, route), true);
    assert.equal(routeMatches({ dst: '198.19.1.0/24', dev: 'tr0', protocol: 'boot' }, route), false);
    assert.equal(routeMatches({ dst: '198.19.1.0/24', dev: 'tr0' }, route), false);
    assert.equal(routeMatches({ dst: '198.19.1.0/24', dev: 'tr0', protocol: '250', table: '200' }, route), false);
    const rules = planFull({ device: 'tr0', endpoints: ['198.18.9.1'], exclude: ['198.19.100.0/24'], table: 51820, metric: null, origin: 'up', families: [4] }).filter((e) => e.kind === 'rule');
    const [ep, ex, sup, sw] = rules;
    assert.ok(ep?.kind === 'rule' && ex?.kind === 'rule' && sup?.kind === 'rule' && sw?.kind === 'rule');
    assert.equal(ruleMatches({ priority: 31000, src: 'all', dst: '198.18.9.1', table: 'main', protocol: '250' }, ep), true);
    assert.equal(ruleMatches({ priority: 31000, src: 'all', dst: '198.19.100.0', dstlen: 24, table: 'main', protocol: '250' }, ex), true);
    assert.equal(ruleMatches({ priority: 31000, src: 'all', dst: '198.19.100.0', dstlen: 24, table: 'main' }, ex), false);
    assert.equal(ruleMatches({ priority: 31001, src: 'all', table: 'main', suppress_prefixlen: 0, protocol: '250' }, sup), true);
    assert.equal(ruleMatches({ priority: 31002, src: 'all', table: '51820', protocol: '250' }, sw), true);
    assert.equal(ruleMatches({ priority: 31002, src: 'all', table: '51821', protocol: '250' }, sw), false);
  });
});

describe('engine (fake ip)', () => {
  let dir: string;
  let kernel: FakeKernel;
  const saved = { ...process.env };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tunroute-unit-'));
    process.env.TUND_RUN_DIR = path.join(dir, 'run');
    process.env.TUND_CONFIG_DIR = path.join(dir, 'etc');
    kernel = new FakeKernel();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    process.env = { ...saved };
  });

  test('split up then down leaves the tables as they began', async () => {
    kernel.routes.push({ family: 4, dst: 'default', dev: 'eth0', gateway: '198.18.0.1', table: 'main', protocol: 'boot' });
    const before = JSON.stringify([kernel.routes, kernel.rules]);
    const r = await applySessionRoutes(config({ mode: 'split', allowedIps: ['198.19.10.0/24', '198.19.20.0/24'], metric: 30 }), { runner: kernel });
    assert.equal(r.entries.length, 2);
    assert.equal(kernel.routes.filter((x) => x.protocol === '250').length, 2);
    const state = await readState('office');
    assert.equal(state?.mode, 'split');
    assert.equal(state?.device, 'tr0');
    await removeSessionRoutes('office', { runner: kernel });
    assert.equal(JSON.stringify([kernel.routes, kernel.rules]), before);
    assert.equal(existsSync(statePath('office')), false);
  });

  test('full up picks the first free table from 51820 and records the endpoint', async () => {
    kernel.routes.push({ family: 4, dst: 'default', dev: 'x', table: '51820', protocol: 'static' });
    const r = await applySessionRoutes(config({ mode: 'full', exclude: ['198.19.100.0/24'] }), { runner: kernel, endpoints: ['198.18.9.1'] });
    assert.equal(r.table, 51821);
    assert.ok(kernel.rules.some((u) => u.priority === 31002 && u.table === '51821'));
    assert.ok(kernel.rules.some((u) => u.priority === 31000 && u.dst === '198.18.9.1'));
    assert.deepEqual((await readState('office'))?.endpoints, ['198.18.9.1']);
    await assert.rejects(applySessionRoutes(config({ mode: 'full' }), { runner: kernel, endpoints: ['198.18.9.1'] }), /already up/);
    await cleanupSession('office', { runner: kernel });
    assert.equal(kernel.rules.length, 0);
    assert.deepEqual(kernel.routes.map((x) => x.table), ['51820']);
  });

  test('replace: a second up with replace swaps the routes instead of failing', async () => {
    await applySessionRoutes(config({ mode: 'split', allowedIps: ['198.19.10.0/24'] }), { runner: kernel });
    await assert.rejects(applySessionRoutes(config({ mode: 'split', allowedIps: ['198.19.20.0/24'] }), { runner: kernel }), /already up/);
    await applySessionRoutes(config({ mode: 'split', allowedIps: ['198.19.20.0/24'] }), { runner: kernel, replace: true });
    assert.deepEqual(kernel.routes.map((r) => r.dst), ['198.19.20.0/24']);
    assert.deepEqual((await readState('office'))?.entries.map((e) => e.kind === 'route' && e.dst), ['198.19.20.0/24']);
  });

  test('session lock: a lock file left by a dead process is taken; a held one makes us wait and fail', async () => {
    mkdirSync(stateDir(), { recursive: true });
    const lock = path.join(stateDir(), 'office.lock');
    const dead = spawnSync('true').pid;
    writeFileSync(lock, `${dead}\n`);
    assert.equal(await withSessionLock('office', async () => readFileSync(lock, 'utf8').trim()), String(process.pid));
    assert.equal(existsSync(lock), false);
    // held (flock) by someone else: another open file, here in this same process
    const held = tryLock(lock);
    assert.ok(!isBusy(held));
    await assert.rejects(withSessionLock('office', async () => 1, 300), new RegExp(`another tunroute \\(PID ${process.pid}\\) is changing`));
    assert.ok(existsSync(lock), 'the waiting side never removes the lock of the holder');
    held.release();
  });

  test('endpoints from tund may come bracketed or v4-mapped', async () => {
    await applySessionRoutes(config({ mode: 'full' }), { runner: kernel, endpoints: ['[::ffff:198.18.9.1]', '198.18.9.1'] });
    assert.deepEqual((await readState('office'))?.endpoints, ['198.18.9.1']);
    assert.equal(kernel.rules.filter((u) => u.priority === 31000).length, 1);
  });

  test('routeInfo/dnsInfo give the status shapes', async () => {
    const r = await applySessionRoutes(config({ mode: 'full' }), { runner: kernel, endpoints: ['198.18.9.1'] });
    assert.deepEqual(routeInfo(r), { mode: 'full', prefixes: ['0.0.0.0/0'], table: 51820 });
    assert.equal(dnsInfo(r), null);
    assert.deepEqual(dnsInfo({ dns: { backend: 'resolved', link: 'tr0', servers: ['198.18.0.53'], domains: ['~.'], defaultRoute: true, record: null, origin: 'up' } }), { backend: 'resolved', servers: ['198.18.0.53'], domains: ['~.'] });
    const state = await readState('office');
    assert.deepEqual(routeInfo(state!), { mode: 'full', prefixes: ['0.0.0.0/0'], table: 51820 });
  });

  test('full: a warning when the endpoint has no route outside the tunnel', async () => {
    const warnings: string[] = [];
    await fullTunnel('office', { runner: kernel, device: 'tr0', endpoints: ['198.18.9.1'], warn: (m) => warnings.push(m) });
    assert.ok(warnings.some((w) => /endpoint 198.18.9.1 has no route outside "tr0"/.test(w)));
    await cleanupSession('office', { runner: kernel });
    kernel.routes.push({ family: 4, dst: 'default', dev: 'eth0', gateway: '198.18.0.1', table: 'main', protocol: 'boot' });
    warnings.length = 0;
    await fullTunnel('office', { runner: kernel, device: 'tr0', endpoints: ['198.18.9.1'], warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings.filter((w) => /endpoint/.test(w)), []);
  });

  test('a failure half-way rolls back in reverse order and restores the state file', async () => {
    await addRoutes('office', ['198.19.77.0/24'], { runner: kernel, device: 'tr0' });
    const stateBefore = readFileSync(statePath('office'), 'utf8');
    const tablesBefore = JSON.stringify([kernel.routes, kernel.rules]);
    kernel.failOn = { text: 'rule add lookup main suppress_prefixlength 0', stderr: 'RTNETLINK answers: Operation not supported' };
    await assert.rejects(fullTunnel('office', { runner: kernel, device: 'tr0', endpoints: ['198.18.9.1'] }), /rolled back/);
    assert.equal(JSON.stringify([kernel.routes, kernel.rules]), tablesBefore);
    const dels = kernel.changes().filter((c) => c.includes(' del '));
    assert.deepEqual(dels, [
      'ip -4 rule del to 198.18.9.1/32 lookup main priority 31000 protocol 250',
      'ip -4 route del default dev tr0 table 51820 proto 250',
    ]);
    assert.deepEqual(JSON.parse(readFileSync(statePath('office'), 'utf8')).entries, JSON.parse(stateBefore).entries);
  });

  test('the state lists every entry before the first change (crash safety)', async () => {
    let seen: number | null = null;
    kernel.beforeChange = () => {
      if (seen === null) seen = JSON.parse(readFileSync(statePath('office'), 'utf8')).entries.length;
    };
    await fullTunnel('office', { runner: kernel, device: 'tr0', endpoints: ['198.18.9.1'], exclude: ['198.19.100.0/24'] });
    assert.equal(seen, kernel.rules.length + kernel.routes.length);
  });

  test('cleanup after a "crash" removes what was applied and tolerates what was not', async () => {
    // intent recorded for four entries, only two of them reached the kernel
    const entries = planFull({ device: 'tr0', endpoints: ['198.18.9.1'], exclude: [], table: 51820, metric: null, origin: 'up', families: [4] });
    await writeState({ ...emptyState('office', 'tr0'), mode: 'full', table: 51820, entries });
    kernel.routes.push({ family: 4, dst: 'default', dev: 'tr0', table: '51820', protocol: '250' });
    kernel.rules.push({ family: 4, priority: 31000, dst: '198.18.9.1', table: 'main', protocol: '250' });
    const changes = await cleanupSession('office', { runner: kernel });
    assert.equal(changes, 2);
    assert.equal(kernel.routes.length + kernel.rules.length, 0);
    assert.equal(existsSync(statePath('office')), false);
    kernel.calls = [];
    assert.equal(await cleanupSession('office', { runner: kernel }), 0);
    assert.deepEqual(kernel.changes(), []);
  });

  test('cleanup spares routes without our tag and twins listed by another session', async () => {
    kernel.routes.push({ family: 4, dst: '198.19.10.0/24', dev: 'tr0', table: 'main', protocol: 'static', metric: 5 });
    await addRoutes('office', ['198.19.10.0/24'], { runner: kernel, device: 'tr0' });
    // another session lists the same rule (it owns it)
    const rule = planSplit({ device: 'tr1', prefixes: ['198.19.50.0/24'], table: 300, metric: null, origin: 'up', withRule: true }).filter((e) => e.kind === 'rule');
    await writeState({ ...emptyState('other', 'tr1'), entries: rule });
    const officeState = await readState('office');
    await writeState({ ...officeState!, entries: [...officeState!.entries, ...rule.map((e) => ({ ...e }))] });
    kernel.rules.push({ family: 4, priority: 31002, table: '300', protocol: '250' });
    const warnings: string[] = [];
    await cleanupSession('office', { runner: kernel, warn: (m) => warnings.push(m) });
    assert.deepEqual(kernel.routes, [{ family: 4, dst: '198.19.10.0/24', dev: 'tr0', table: 'main', protocol: 'static', metric: 5 }]);
    assert.equal(kernel.rules.length, 1);
    assert.ok(warnings.some((w) => /another session lists it/.test(w)));
  });

  test('cleanup sweeps tagged routes on the device that no state lists', async () => {
    kernel.routes.push({ family: 4, dst: '198.19.10.0/24', dev: 'tr0', table: 'main', protocol: '250' });
    kernel.routes.push({ family: 4, dst: '198.19.11.0/24', dev: 'other0', table: 'main', protocol: '250' });
    kernel.routes.push({ family: 6, dst: 'default', dev: 'tr0', table: '51820', protocol: '250', metric: 1024 });
    mkdirSync(process.env.TUND_CONFIG_DIR!, { recursive: true });
    writeFileSync(path.join(process.env.TUND_CONFIG_DIR!, 'office.conf'), '[Session]\nRole = client\nEndpoint = 198.18.9.1:5000\n[Device]\nName = tr0\n', { mode: 0o600 });
    await cleanupSession('office', { runner: kernel, warn: () => undefined });
    assert.deepEqual(kernel.routes.map((r) => r.dev), ['other0']);
  });

  test('a state file whose DNS names are not interface names is ignored (root must not pass them on), and no link is written through', async () => {
    const dns = { backend: 'resolvconf' as const, link: 'tr0', servers: ['198.18.0.53'], domains: [], defaultRoute: null, record: 'tr0.tund', origin: 'up' as const };
    await writeState({ ...emptyState('office', 'tr0'), dns });
    assert.equal((await readState('office'))?.dns?.record, 'tr0.tund');
    for (const bad of [{ record: '../../etc/passwd' }, { link: '../x', record: '../x.tund' }, { record: 'eth0.other' }]) {
      writeFileSync(statePath('office'), JSON.stringify({ ...emptyState('office', 'tr0'), dns: { ...dns, ...bad } }));
      assert.equal(await readState('office'), null, JSON.stringify(bad));
    }
    // a link planted where the temp file goes is replaced, not followed; a state file that is a
    // link is not read (root reads what the session's user may plant)
    const victim = path.join(dir, 'victim');
    writeFileSync(victim, 'keep\n');
    rmSync(statePath('office'));
    symlinkSync(victim, statePath('office'));
    assert.equal(await readState('office'), null);
    rmSync(statePath('office'));
    symlinkSync(victim, `${statePath('office')}.${process.pid}.tmp`);
    await writeState({ ...emptyState('office', 'tr0'), dns });
    assert.equal(readFileSync(victim, 'utf8'), 'keep\n');
    assert.equal((await readState('office'))?.dns?.link, 'tr0');
  });

  test('delegated DNS: the session only asks, root (syncSessionDns) applies, replaces and reverts; cleanup takes both', async () => {
    // resolvconf as the backend: a stand-in on PATH, no resolved
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'resolvconf'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    process.env.PATH = `${bin}:${process.env.PATH}`;
    process.env.TUNROUTE_RESOLVED_DIR = path.join(dir, 'no-resolved');
    const dnsCalls = () => kernel.calls.filter((c) => c.startsWith('resolvconf'));
    const split = (servers: string[]) => config({ mode: 'split', allowedIps: ['198.19.10.0/24'], dns: servers, dnsDomains: ['corp.example'] });
    // the session (not root): routes, and a request instead of DNS
    await applySessionRoutes(split(['198.18.0.53']), { runner: kernel, delegateDns: true, replace: true });
    assert.deepEqual(dnsCalls(), []);
    let state = await readState('office');
    assert.deepEqual(state?.dnsRequest, { link: 'tr0', servers: ['198.18.0.53'], domains: ['corp.example'], mode: 'split' });
    assert.equal(state?.dns, null);
    // root: applies it once, recorded in the intent log; a second sync changes nothing
    assert.equal(await syncSessionDns('office', { name: 'tr0' }, { runner: kernel }), 'applied');
    assert.deepEqual(dnsCalls(), ['resolvconf -a tr0.tund']);
    assert.equal((await readState('office'))?.dns?.record, 'tr0.tund');
    assert.equal(await syncSessionDns('office', { name: 'tr0' }, { runner: kernel }), 'unchanged');
    // a reload with other servers: the session asks again (its routes replaced, root's DNS left alone), root replaces
    await applySessionRoutes(split(['198.18.0.54']), { runner: kernel, delegateDns: true, replace: true });
    assert.deepEqual(dnsCalls(), ['resolvconf -a tr0.tund']);
    assert.equal(await syncSessionDns('office', { name: 'tr0' }, { runner: kernel }), 'replaced');
    assert.deepEqual((await readState('office'))?.dns?.servers, ['198.18.0.54']);
    // the link goes down: the session withdraws its request, root reverts and the state is gone
    await removeSessionRoutes('office', { runner: kernel, delegateDns: true });
    state = await readState('office');
    assert.equal(state?.dnsRequest, null);
    assert.equal(state?.entries.length, 0);
    assert.equal(await syncSessionDns('office', { name: 'tr0' }, { runner: kernel }), 'reverted');
    assert.equal(existsSync(statePath('office')), false);
    assert.deepEqual(dnsCalls().slice(-1), ['resolvconf -d tr0.tund -f']);
    // requests root does not act on: another link, or fields that are not addresses and names
    const warnings: string[] = [];
    for (const dnsRequest of [
      { link: 'eth0', servers: ['198.18.0.53'], domains: [], mode: 'split' },
      { link: 'tr0', servers: ['-x'], domains: [], mode: 'split' },
      { link: 'tr0', servers: ['198.18.0.53'], domains: ['../../etc'], mode: 'split' },
    ]) {
      writeFileSync(statePath('office'), JSON.stringify({ ...emptyState('office', 'tr0'), dnsRequest }));
      assert.equal(await syncSessionDns('office', { name: 'tr0' }, { runner: kernel, warn: (m) => warnings.push(m) }), 'unchanged');
    }
    assert.equal(warnings.length, 3);
    assert.match(warnings[0]!, /ignoring a DNS request for "eth0": the session's device is "tr0"/);
    // a reload renamed the device: the request names the new one, and root takes it only when the
    // session's file names it too (read again), reverting the old link's DNS first
    await applySessionRoutes(split(['198.18.0.53']), { runner: kernel, delegateDns: true, replace: true });
    const device = { name: 'tr0', reread: async () => 'tr9' };
    const renamed: string[] = [];
    assert.equal(await syncSessionDns('office', device, { runner: kernel, renamed: (from, to) => renamed.push(`${from}->${to}`) }), 'applied');
    const request = (await readState('office'))!.dnsRequest!;
    writeFileSync(statePath('office'), JSON.stringify({ ...(await readState('office'))!, dnsRequest: { ...request, link: 'tr9' } }));
    assert.equal(await syncSessionDns('office', device, { runner: kernel, renamed: (from, to) => renamed.push(`${from}->${to}`) }), 'replaced');
    assert.deepEqual(renamed, ['tr0->tr9']);
    assert.equal(device.name, 'tr9');
    assert.deepEqual(dnsCalls().slice(-2), ['resolvconf -d tr0.tund -f', 'resolvconf -a tr9.tund']);
    assert.equal((await readState('office'))?.dns?.link, 'tr9');
    // a request for a link the file does not name (not even read again) is still refused
    writeFileSync(statePath('office'), JSON.stringify({ ...(await readState('office'))!, dnsRequest: { ...request, link: 'eth0' } }));
    const refused: string[] = [];
    assert.equal(await syncSessionDns('office', device, { runner: kernel, warn: (m) => refused.push(m) }), 'reverted');
    assert.match(refused[0]!, /ignoring a DNS request for "eth0": the session's device is "tr9"/);
    assert.equal(device.name, 'tr9');
    await cleanupSession('office', { runner: kernel });
    // a session killed with its DNS set: cleanup (root) reverts the DNS and drops the request
    await applySessionRoutes(split(['198.18.0.53']), { runner: kernel, delegateDns: true, replace: true });
    await syncSessionDns('office', { name: 'tr0' }, { runner: kernel });
    await cleanupSession('office', { runner: kernel });
    assert.equal(existsSync(statePath('office')), false);
    assert.deepEqual(dnsCalls().slice(-1), ['resolvconf -d tr0.tund -f']);
  });

  test('dry-run runs no change and writes no state', async () => {
    const echoed: string[] = [];
    await applySessionRoutes(config({ mode: 'full' }), { runner: kernel, dryRun: true, endpoints: ['198.18.9.1'], echo: (l) => echoed.push(l) });
    assert.deepEqual(kernel.changes(), []);
    assert.equal(existsSync(statePath('office')), false);
    assert.ok(echoed.includes('ip -4 rule add lookup 51820 priority 31002 protocol 250'));
  });

  test('del removes only the named prefixes; unknown ones are an error', async () => {
    await addRoutes('office', ['198.19.1.0/24', '198.19.2.0/24'], { runner: kernel, device: 'tr0' });
    await delRoutes('office', ['198.19.1.0/24'], { runner: kernel });
    assert.deepEqual(kernel.routes.map((r) => r.dst), ['198.19.2.0/24']);
    await assert.rejects(delRoutes('office', ['198.19.9.0/24'], { runner: kernel }), /no route "198.19.9.0\/24" recorded/);
    const [view] = await showSessions('office', { runner: kernel });
    assert.deepEqual(view?.present, [true]);
  });
});
