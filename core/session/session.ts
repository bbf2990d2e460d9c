// One session lifecycle for every role and protocol (docs/sessions.md). A Session owns what is
// the same whatever the protocol: the device, routes and DNS, hooks, the status (STATUS=, the
// control socket, log lines), READY=1, and reload(). The roles (client.ts, server.ts) add how links
// come to be; the protocol (protocol.ts) brings each link up.
//
// States: starting -> (client) connecting -> handshaking -> connected -> reconnecting -> ...
//                  -> (server) listening -> handshaking -> connected -> listening -> ...
//         any -> stopping -> stopped
import type { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { loadSessionConfig, readSecret } from '../config/load.js';
import type { SessionConfig } from '../config/types.js';
import { ConfigFailure, TundError, formatConfigProblem, hintOf, logProblem } from '../errors.js';
import { ExitCode } from '../exit.js';
import { Ip, SystemRunner } from '../ip.js';
import { formatEndpoint } from '../net.js';
import { applySessionRoutes, removeSessionRoutes } from '../route/index.js';
import type { Address } from '../socket.js';
import { LogReporter, type ReloadOutcome, type SessionReporter } from '../status/types.js';
import { openSessionDevice, type SessionDevice, type SessionDeviceKind } from './device.js';
import { runHooks } from './hooks.js';
import { describeEnd, type AnyProtocol, type Link, type LinkContext, type LinkEnd, type Protocol } from './protocol.js';
import { SessionStatus } from './status.js';
import { programEnv, startStreamProgram } from './stream-device.js';

export type ReporterFactory = (name: string, role: 'client' | 'server') => SessionReporter | Promise<SessionReporter>;

/** What the process gives a session. */
export interface SessionContext {
  /** one line on stderr (no newline); the session prefixes its NAME */
  log(line: string): void;
  /** `[#] ...` echo of system changes; undefined when quiet */
  echo?: ((line: string) => void) | undefined;
  /** aborted on SIGTERM/SIGINT: orderly stop (the peer is told, device closed, exit 0) */
  signal: AbortSignal;
  reporterFactory?: ReporterFactory;
  ip?: Ip;
  /** a systemd-passed socket (fd 3) for a server session: listening (Accept=no) or connected */
  passedFd?: { fd: number; listening: boolean } | null;
  /** a systemd-passed bound UDP socket (ListenDatagram=, Accept=no) for a server session's links */
  passedUdpFd?: number | null;
  /** a listening TCP socket systemd passed to an interface protocol's session */
  passedListenFd?: number | null;
  /** reconnect delays in ms (test seam): first retry, then from `base` doubling up to `max` */
  backoff?: { first: number; base: number; max: number };
  /** emits 'hangup' on SIGHUP: the session reloads */
  hangups?: EventEmitter;
  /** re-reads the session's config for reload (default: $TUND_CONFIG_DIR/NAME.conf) */
  reloadConfig?: () => Promise<SessionConfig>;
  /**
   * called when the session has settled: ready (listening, or up) and again when its first link
   * is up; the process gives back what set-up left behind (process.ts, releaseStartupMemory)
   */
  settled?: () => void;
}

/** Fatal set-up errors are not retried: missing capability, no /dev/net/tun, bad config. */
export function isFatal(error: unknown): boolean {
  return error instanceof TundError && [ExitCode.noPermission, ExitCode.noTun, ExitCode.badConfig, ExitCode.usage].includes(error.exitCode as never);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function reporterOf(ctx: SessionContext, name: string, role: 'client' | 'server'): Promise<SessionReporter> {
  const factory = ctx.reporterFactory ?? (() => new LogReporter((line) => ctx.log(line)));
  return Promise.resolve(factory(name, role));
}

/** Resolves when the signal is aborted. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

export const DEFAULT_BACKOFF = { first: 1000, base: 5000, max: 60000 };

/** The delay before attempt number `failures` + 1, at most `capMs`. */
export function backoffDelay(failures: number, backoff = DEFAULT_BACKOFF, capMs = Infinity): number {
  return Math.min(capMs, failures === 0 ? backoff.first : Math.min(backoff.max, backoff.base * 2 ** (failures - 1)));
}

/**
 * What a role makes of one attempt (retryLoop): try again after the back-off (at most `capMs`),
 * again at once (a reload), or stop with an exit code. `connected`: the attempt got as far as a
 * working link, so the back-off starts over.
 */
export type NextStep = { connected: boolean } & (
  | { kind: 'retry'; reason: string; capMs?: number }
  | { kind: 'now' }
  | { kind: 'stop'; exitCode: number }
);

/** How one link of a session went. */
export type LinkRun =
  | { kind: 'ended'; end: LinkEnd; connected: boolean }
  /** the link could not be brought up (connect, handshake, routes ...): why; `abort`: and the session must not try again (a failing PostUp) */
  | { kind: 'failed'; message: string; hint?: string | undefined; abort?: boolean }
  /** the peer left right after its handshake (a probe): nothing was set up */
  | { kind: 'probe' };

export abstract class Session<P extends AnyProtocol = Protocol> {
  readonly name: string;
  protected config: SessionConfig;
  protected secret: Buffer;
  protected readonly status: SessionStatus;
  protected readonly log: (message: string) => void;
  /** a failure the session goes on after: its message, then its hint, as the CLI prints them */
  protected readonly logProblem: (message: string, hint: string | undefined) => void;
  /** the device, kept between links while the session wants it */
  protected device: SessionDevice | null = null;
  /** routes and DNS of the session are up (with a kept device they stay between links) */
  private routesUp = false;
  private readyNotified = false;
  /** a link has been up once in this process (ctx.settled) */
  private firstLinkUp = false;
  private reloads: Promise<unknown> = Promise.resolve();
  /** ends the back-off pause early (a reload) */
  protected wake: (() => void) | null = null;
  /** a configuration a reload brought, taken into use by the next attempt of retryLoop */
  protected pending: { config: SessionConfig; secret: Buffer } | null = null;
  private readonly onHangup = () => void this.reload();

  constructor(
    protected readonly protocol: P,
    config: SessionConfig,
    secret: Buffer,
    protected readonly ctx: SessionContext,
    protected readonly reporter: SessionReporter,
    role: 'client' | 'server',
  ) {
    this.name = config.name;
    this.config = config;
    this.secret = secret;
    this.log = (m) => ctx.log(`${this.name}: ${m}`);
    this.logProblem = (message, hint) => {
      logProblem((line) => ctx.log(line), this.name, message, hint);
    };
    this.status = new SessionStatus(this.name, role, protocol.name, reporter);
    reporter.setReloadHandler(() => this.reload());
    ctx.hangups?.on('hangup', this.onHangup);
  }

  protected get ip(): Ip {
    return this.ctx.ip ?? new Ip(new SystemRunner({ echo: this.ctx.echo, context: 'tund' }));
  }

  // -------------------------------------------------------------------------------------------
  // reload

  /**
   * Re-reads the configuration and the secret (SIGHUP, `tunctl reload`, systemctl reload). A
   * broken file changes nothing: the outcome lists its problems. Otherwise the role decides what
   * the new configuration does (applyReload). One log line either way; RELOADING=1 and READY=1
   * around it once the session was ready.
   */
  reload(): Promise<ReloadOutcome> {
    const next = this.reloads.then(() => this.reloadNow());
    this.reloads = next.catch(() => {});
    return next;
  }

  private async reloadNow(): Promise<ReloadOutcome> {
    if (this.ctx.signal.aborted) return { ok: false, problems: [`${this.name}: the session is stopping`] };
    this.reporter.reloading();
    let outcome: ReloadOutcome;
    try {
      let fresh: SessionConfig;
      let secret: Buffer;
      try {
        fresh = this.ctx.reloadConfig ? await this.ctx.reloadConfig() : (await loadSessionConfig(this.name)).config;
        secret = await readSecret(fresh);
      } catch (error) {
        throw error instanceof ConfigFailure ? error : new ConfigFailure([{ file: this.config.file, line: 0, message: errorText(error) }], hintOf(error));
      }
      const problem = this.reloadProblem(fresh);
      if (problem) throw new ConfigFailure([{ file: fresh.file, line: 0, message: problem }]);
      const unchanged = isDeepStrictEqual(fresh, this.config) && secret.equals(this.secret);
      outcome = { ok: true, message: await this.applyReload(fresh, secret, unchanged) };
      this.log(`reloaded: ${outcome.message}`);
    } catch (error) {
      const problems = error instanceof ConfigFailure ? error.problems.map(formatConfigProblem) : [errorText(error)];
      outcome = { ok: false, problems };
      this.logProblem(`reload failed, keeping the old configuration: ${problems.join('; ')}`, hintOf(error));
    }
    this.reporter.reloaded();
    return outcome;
  }

  /** Why this configuration cannot replace the running one without a restart, or null. */
  protected abstract reloadProblem(fresh: SessionConfig): string | null;

  /** Take the new configuration into use; returns what happens, for the log and the caller. */
  protected abstract applyReload(fresh: SessionConfig, secret: Buffer, unchanged: boolean): string | Promise<string>;

  // -------------------------------------------------------------------------------------------
  // readiness

  /**
   * The session is ready (READY=1): once per process; later readiness follows reloads. The
   * process settles then too (ctx.settled). True when it was announced now.
   */
  protected announceReady(): boolean {
    if (this.readyNotified) return false;
    this.readyNotified = true;
    this.reporter.ready();
    this.ctx.settled?.();
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // device

  private async deviceFor(config: SessionConfig, kind: SessionDeviceKind): Promise<SessionDevice> {
    const kept = this.device;
    if (kept && kept.kind === kind && !kept.device.closed) return kept;
    this.closeDevice();
    this.device = await openSessionDevice(config, kind, this.ip, this.log);
    this.status.device = this.device.info;
    return this.device;
  }

  protected closeDevice(): void {
    this.device?.device.close();
    this.device = null;
    this.status.device = null;
  }

  /** The configuration the device and routes kept after a link were made with (keepLink). */
  private keptFor: SessionConfig | null = null;

  /** The device and routes stay for the next link (Persist = keep, a listening server). */
  protected keepLink(config: SessionConfig): void {
    this.keptFor = config;
  }

  /**
   * Before a link: what keepLink kept goes when a reload changed it since. A new [Device]
   * (another Name, Address, ...) brings up a new device, new [Route] lines new routes and DNS,
   * as a link that kept nothing would.
   */
  protected async dropKeptIfChanged(config: SessionConfig): Promise<void> {
    const kept = this.keptFor;
    this.keptFor = null;
    if (!kept) return;
    const deviceChanged = !isDeepStrictEqual(kept.device, config.device);
    if (deviceChanged || !isDeepStrictEqual(kept.route, config.route)) await this.removeRoutes();
    if (deviceChanged) this.closeDevice();
  }

  // -------------------------------------------------------------------------------------------
  // routes and DNS ([Route]); a failure is a link failure: the session is never connected without them

  /**
   * TUND_DNS=delegate (tund@.service, which runs the session as the user tund): the session asks
   * for its DNS in its route state and root's `tunroute dns` applies it (core/route/dns-follow.ts).
   */
  private readonly delegateDns = process.env.TUND_DNS === 'delegate';

  private wantsRoutes(config: SessionConfig): boolean {
    return config.route.mode !== 'none' || config.route.dns.length > 0;
  }

  protected async applyRoutes(config: SessionConfig, peer: Address | null): Promise<void> {
    if (this.routesUp || !this.wantsRoutes(config) || !this.device) return;
    await applySessionRoutes(config, {
      device: this.device.device.name,
      endpoints: peer ? [peer.address] : undefined,
      replace: true,
      delegateDns: this.delegateDns,
      echo: this.ctx.echo,
      warn: this.log,
    });
    this.routesUp = true;
  }

  protected async removeRoutes(): Promise<void> {
    if (!this.routesUp) return;
    this.routesUp = false;
    try {
      await removeSessionRoutes(this.name, { delegateDns: this.delegateDns, echo: this.ctx.echo, warn: this.log });
    } catch (error) {
      this.logProblem(`routes: ${errorText(error)}`, hintOf(error));
    }
  }

  // -------------------------------------------------------------------------------------------
  // one link

  protected linkContext(config: SessionConfig, secret: Buffer): LinkContext {
    return {
      config,
      secret,
      signal: this.ctx.signal,
      log: (message, hint) => (hint ? this.logProblem(message, hint) : this.log(message)),
      handshaking: (peer) => {
        if (peer) this.status.endpoint = formatEndpoint(peer.address, peer.port);
        this.status.set('handshaking');
      },
      device: (kind) => this.deviceFor(config, kind),
      passedUdpFd: this.ctx.passedUdpFd ?? null,
      passedListenFd: this.ctx.passedListenFd ?? null,
    };
  }

  /**
   * Brings one link up with `make` and runs it until it ends or the session stops: routes and DNS,
   * up hooks, a pipe/tty program, then `connected` as soon as the protocol says packets flow; at
   * the end the down hooks and (unless keepRoutes) the routes. The device stays open: the role
   * decides whether to keep it.
   */
  protected async runLink(
    config: SessionConfig,
    secret: Buffer,
    make: (ctx: LinkContext) => Promise<Link | null>,
    options: { keepRoutes: boolean; onLink?: (link: Link) => void },
  ): Promise<LinkRun> {
    let link: Link | null;
    try {
      link = await make(this.linkContext(config, secret));
    } catch (error) {
      if (isFatal(error)) throw error;
      return { kind: 'failed', message: errorText(error), hint: hintOf(error) };
    }
    if (!link) return { kind: 'probe' };
    const current = link;
    this.status.attach(current);
    options.onLink?.(current);
    const peer = current.peers()[0]?.endpoint ?? null;
    const env: Record<string, string> = {
      TUND_SESSION: config.name,
      TUND_DEVICE: this.device?.device.name ?? '',
      TUND_PEER: this.status.endpoint ?? '',
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    };
    try {
      await this.applyRoutes(config, peer);
    } catch (error) {
      const message = `routes: ${errorText(error)}`;
      await current.close(message);
      await current.ended;
      this.status.detach();
      return { kind: 'failed', message, hint: hintOf(error) };
    }
    const hookFailure = config.hooks.up.length ? await runHooks(config.hooks.up, env, this.ctx.echo, this.log, { stopOnFailure: config.hooks.abortOnFailure }) : null;
    if (hookFailure) {
      // wg-quick: a failing PostUp takes back what `up` did, in reverse (routes and DNS here, the
      // device when the session stops), without the down hooks
      this.log(`${hookFailure}: taking back what was set up`);
      await current.close(hookFailure);
      await current.ended;
      this.status.detach();
      await this.removeRoutes();
      return { kind: 'failed', message: hookFailure, abort: true };
    }
    const program = this.device ? await startStreamProgram(this.device.device, config, programEnv(env, current.localEnd, peer), current, this.log) : null;
    let connected = false;
    current.watchReadiness((ready) => {
      if (this.ctx.signal.aborted) return;
      if (!ready) {
        // a link whose readiness comes and goes (WireGuard: a peer's handshake is failing)
        if (this.status.state === 'connected') this.status.set('handshaking');
        return;
      }
      connected = true;
      this.status.set('connected');
      const announced = this.announceReady();
      // a server announced READY=1 when it started listening: its first link is set-up's end too
      if (!this.firstLinkUp) {
        this.firstLinkUp = true;
        if (!announced) this.ctx.settled?.();
      }
    });
    const end = await Promise.race([current.ended, aborted(this.ctx.signal).then(() => null)]);
    if (end === null) await current.close('stopped by signal');
    const final = program ? await program.finish(await current.ended) : await current.ended;
    this.status.detach();
    if (config.hooks.down.length) await runHooks(config.hooks.down, env, this.ctx.echo, this.log);
    if (!options.keepRoutes) await this.removeRoutes();
    return { kind: 'ended', end: final, connected };
  }

  /**
   * The log lines of a link that ended or failed: `PREFIX: why` (an ended link), or the failure
   * and its hint (STATUS= takes describeRun alone: one line, no hint).
   */
  protected logRun(run: LinkRun, endedPrefix = 'session ended'): void {
    if (run.kind === 'failed') this.logProblem(run.message, run.hint);
    else if (run.kind === 'ended') this.log(`${endedPrefix}: ${this.describeRun(run)}`);
    else this.log(this.describeRun(run));
  }

  /** What a LinkRun means for the log and STATUS=. */
  protected describeRun(run: LinkRun): string {
    if (run.kind === 'ended') return describeEnd(run.end);
    if (run.kind === 'failed') return run.message;
    return 'the peer left right after the handshake';
  }

  /**
   * The one reconnect loop of the roles that bring links up again (client, interface): each turn
   * takes a configuration a reload left pending, runs `attempt`, and does what it says; a
   * failed attempt waits with back-off (first retry after `first`, then from `base` doubling up
   * to `max`), which `wakeNow` or a stop ends early. Ends with the stop (finishStopping).
   */
  protected async retryLoop(attempt: (config: SessionConfig) => Promise<NextStep>, wakeNow: () => boolean): Promise<number> {
    if (this.protocol.notice) this.log(this.protocol.notice);
    const backoff = this.ctx.backoff ?? DEFAULT_BACKOFF;
    const signal = this.ctx.signal;
    let failures = 0;
    let exitCode: number = ExitCode.ok;
    try {
      while (!signal.aborted) {
        if (this.pending) {
          this.config = this.pending.config;
          this.secret = this.pending.secret;
          this.pending = null;
        }
        const step = await attempt(this.config);
        if (signal.aborted) break;
        if (step.connected) failures = 0;
        if (step.kind === 'stop') {
          exitCode = step.exitCode;
          break;
        }
        if (step.kind === 'now') continue;
        const delay = backoffDelay(failures, backoff, step.capMs);
        failures++;
        this.status.set('reconnecting', step.reason, new Date(Date.now() + delay));
        await this.pause(delay, wakeNow);
      }
    } finally {
      await this.finishStopping(signal.aborted ? 'signal' : null);
    }
    return exitCode;
  }

  /** The back-off wait between links; a stop, or a reload that wants a link now (wakeNow), ends it early. */
  protected pause(ms: number, wakeNow: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.ctx.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
      if (signal.aborted || wakeNow()) done();
    });
  }

  /** Stop: STOPPING=1, routes down, device closed, `stopped`, reporter closed. */
  protected async finishStopping(reason: string | null): Promise<void> {
    this.ctx.hangups?.off('hangup', this.onHangup);
    if (this.ctx.signal.aborted) this.reporter.stopping();
    this.status.set('stopping', reason);
    await this.reloads;
    await this.removeRoutes();
    this.closeDevice();
    this.status.set('stopped');
    this.reporter.close();
  }
}
