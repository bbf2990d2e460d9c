// core/session/interface.ts, the role of an interface protocol (WireGuard) on a fake protocol and
// link: the session follows the link's readiness both ways without reconnecting, READY=1 once; a
// reload goes into the running link (reconfigure), a changed device brings the link up again; a
// failed link comes back after the back-off; a stop ends it in order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_HANDSHAKE_LIMITS, type SessionConfig } from '../../core/config/types.js';
import { TundError } from '../../core/errors.js';
import { InterfaceSession } from '../../core/session/interface.js';
import type { InterfaceProtocol, Link, LinkContext, LinkEnd } from '../../core/session/protocol.js';
import type { ReloadOutcome, SessionReporter, SessionSnapshot } from '../../core/status/types.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'session-interface-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function config(overrides: Partial<SessionConfig['device']> = {}): SessionConfig {
  return {
    name: 'wgx',
    file: path.join(tmp, 'wgx.conf'),
    session: {
      protocol: 'wireguard', role: 'client', endpoint: null, listen: { host: '::', port: 0 }, host: 'wgx', transport: 'udp', cipher: 'no',
      compression: { kind: 'none' }, keepalive: { enabled: false, interval: 0, count: 0 }, persist: 'yes', multi: 'yes', timeout: 30,
      natHack: false, speed: { out: 0, in: 0 }, sslAuth: false, secretFile: path.join(tmp, 'wgx.secret'),
      handshakeLimits: { ...DEFAULT_HANDSHAKE_LIMITS },
      vpnws: { url: null, path: null, proxy: null, user: null, ca: null, certificate: null, privateKey: null, clientCa: null, ownDevice: false, proxyUser: null, proxySecretFile: '' },
    },
    device: { mode: 'tun', name: 'wgx', addresses: [], peer: null, mtu: 1420, multiQueue: false, mac: null, bridge: null, program: null, ...overrides } as SessionConfig['device'],
    route: { mode: 'none', allowedIps: [], exclude: [], table: 'off', metric: null, dns: [], dnsDomains: [] },
    hooks: { up: [], down: [], preUp: [], postDown: [] },
  };
}

class FakeLink implements Link {
  readonly ended: Promise<LinkEnd>;
  readonly localEnd = { address: '::', port: 51820 };
  end!: (end: LinkEnd) => void;
  listener: ((ready: boolean) => void) | null = null;
  reconfigured: SessionConfig[] = [];
  closed: string[] = [];
  constructor() {
    this.ended = new Promise((resolve) => (this.end = resolve));
  }
  watchReadiness(listener: (ready: boolean) => void): void {
    this.listener = listener;
    listener(false);
  }
  peers() {
    return [];
  }
  counters() {
    return { counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 }, msSinceRx: -1 };
  }
  async close(reason: string): Promise<void> {
    this.closed.push(reason);
    this.end({ reason: 'stopped', message: reason });
  }
  async reconfigure(c: SessionConfig): Promise<string> {
    this.reconfigured.push(c);
    return 'applied in place';
  }
}

class FakeProtocol implements InterfaceProtocol {
  readonly kind = 'interface';
  readonly name = 'wireguard';
  readonly notice = null;
  links: FakeLink[] = [];
  waiters: ((link: FakeLink) => void)[] = [];
  async open(_ctx: LinkContext): Promise<Link> {
    const link = new FakeLink();
    this.links.push(link);
    for (const w of this.waiters.splice(0)) w(link);
    return link;
  }
  next(): Promise<FakeLink> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

class RecordingReporter implements SessionReporter {
  states: string[] = [];
  readies = 0;
  reload: (() => Promise<ReloadOutcome>) | null = null;
  ready(): void {
    this.readies++;
  }
  state(s: SessionSnapshot): void {
    this.states.push(s.state);
  }
  stopping(): void {}
  reloading(): void {}
  reloaded(): void {}
  setReloadHandler(handler: () => Promise<ReloadOutcome>): void {
    this.reload = handler;
  }
  setSnapshotSource(): void {}
  close(): void {}
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** The link once the session watches its readiness (after its routes and hooks). */
async function watched(next: Promise<FakeLink>): Promise<FakeLink> {
  const link = await next;
  for (let i = 0; i < 1000 && !link.listener; i++) await tick();
  assert.ok(link.listener, 'the session never watched the link');
  return link;
}

test('readiness moves the session between handshaking and connected; reload in place, or a new link for a new device; back-off after a failure; stop', async () => {
  writeFileSync(path.join(tmp, 'wgx.secret'), 'not used by the fake\n', { mode: 0o600 });
  const protocol = new FakeProtocol();
  const reporter = new RecordingReporter();
  const controller = new AbortController();
  let fresh = config();
  const lines: string[] = [];
  let settled = 0;
  const session = new InterfaceSession(protocol, config(), Buffer.from('k'), {
    log: (l) => lines.push(l),
    signal: controller.signal,
    settled: () => settled++,
    backoff: { first: 10, base: 10, max: 10 },
    reloadConfig: async () => fresh,
  }, reporter);
  const firstLink = protocol.next();
  const running = session.run();
  const link = await watched(firstLink);
  assert.deepEqual(reporter.states, ['handshaking']);
  assert.equal(settled, 0, 'the process settles when the session is up, not before');
  link.listener!(true);
  assert.equal(settled, 1, 'up and ready: the process settles (gives back what set-up left)');
  link.listener!(false);
  link.listener!(true);
  assert.deepEqual(reporter.states, ['handshaking', 'connected', 'handshaking', 'connected']);
  assert.equal(reporter.readies, 1);

  // a reload with other peers only: into the running link
  fresh = { ...config(), file: path.join(tmp, 'wgx.conf'), route: { ...config().route, dns: [] } };
  fresh.session = { ...fresh.session, timeout: 31 };
  let outcome = await reporter.reload!();
  assert.deepEqual(outcome, { ok: true, message: 'applied in place' });
  assert.equal(link.reconfigured.length, 1);
  assert.equal(protocol.links.length, 1);

  // a new MTU: the link goes and a new one comes, at once
  fresh = config({ mtu: 1380 });
  const secondLink = protocol.next();
  outcome = await reporter.reload!();
  assert.equal(outcome.ok, true);
  assert.deepEqual(link.closed, ['reload']);
  const link2 = await watched(secondLink);
  link2.listener!(true);
  // up again as a client reconnects: reconnecting (reload) while nothing is up, then handshaking
  assert.deepEqual(reporter.states.slice(-4), ['connected', 'reconnecting', 'handshaking', 'connected']);

  // the engine fails: reconnecting, then a new link after the back-off
  const thirdLink = protocol.next();
  link2.end({ reason: 'network_error', message: 'sendmmsg: ENETDOWN' });
  const link3 = await watched(thirdLink);
  assert.ok(reporter.states.includes('reconnecting'));
  assert.ok(lines.some((l) => /interface down: network error: sendmmsg: ENETDOWN/.test(l)), lines.join('\n'));
  link3.listener!(true);
  assert.equal(reporter.readies, 1);
  assert.equal(settled, 1, 'later links, reloads and reconnects do not collect again');

  controller.abort();
  assert.equal(await running, 0);
  assert.deepEqual(link3.closed, ['stopped by signal']);
  assert.deepEqual(reporter.states.slice(-2), ['stopping', 'stopped']);
});

test('a failed attempt and a failed reload are logged with their hints, as the CLI prints them; STATUS= keeps the one-line reason', async () => {
  writeFileSync(path.join(tmp, 'wgx.secret'), 'not used by the fake\n', { mode: 0o600 });
  const inUse = 'wireguard: "/run/wireguard/wgx.sock" is in use: another process serves interface wgx';
  const hint = 'is wireguard-go or another tund session running with this name?';
  // the first attempt fails as UapiServer.listen does when another process serves the socket
  class FailingOnce extends FakeProtocol {
    failed = false;
    override async open(ctx: LinkContext): Promise<Link> {
      if (!this.failed) {
        this.failed = true;
        throw new TundError(inUse, { hint });
      }
      return super.open(ctx);
    }
  }
  const protocol = new FailingOnce();
  const reasons: (string | null)[] = [];
  const reporter = new (class extends RecordingReporter {
    override state(s: SessionSnapshot): void {
      super.state(s);
      reasons.push(s.reason);
    }
  })();
  const controller = new AbortController();
  const lines: string[] = [];
  const session = new InterfaceSession(protocol, config(), Buffer.from('k'), {
    log: (l) => lines.push(l),
    signal: controller.signal,
    backoff: { first: 10, base: 10, max: 10 },
    reloadConfig: async () => {
      throw new TundError('cannot read wgx.conf: EACCES', { hint: 'run "tund check wgx"' });
    },
  }, reporter);
  const secondLink = protocol.next();
  const running = session.run();
  const link = await watched(secondLink);
  const at = lines.indexOf(`wgx: ${inUse}`);
  assert.notEqual(at, -1, lines.join('\n'));
  assert.equal(lines[at + 1], `hint: ${hint}`, lines.join('\n'));
  assert.ok(reasons.includes(inUse), 'STATUS= says why, on one line');
  assert.ok(!reasons.some((r) => r?.includes('hint')), 'no hint in STATUS=');

  const outcome = await reporter.reload!();
  assert.equal(outcome.ok, false);
  const failed = lines.findIndex((l) => l.startsWith('wgx: reload failed, keeping the old configuration: '));
  assert.notEqual(failed, -1, lines.join('\n'));
  assert.equal(lines[failed + 1], 'hint: run "tund check wgx"', lines.join('\n'));

  controller.abort();
  assert.equal(await running, 0);
  assert.deepEqual(link.closed, ['stopped by signal']);
});
