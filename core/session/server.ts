// The server roles:
//  - ServerSession: `tund NAME` with Role = server listens itself (or on the listening socket
//    systemd passed, Accept=no) and serves its one session, one peer at a time (a new peer
//    replaces the old one unless Multi = no); the device and routes stay between peers (a reload
//    that changed them brings up new ones for the next peer).
//  - ConnectionSession: one accepted connection whose session the handshake picked
//    (serveConnection: `tund serve` children, inetd, systemd Accept=yes).
import { listSessions, loadSessionConfig, readSecret } from '../config/load.js';
import type { SessionConfig } from '../config/types.js';
import { TundError, formatConfigProblem, hintOf, logProblem, type ConfigProblem } from '../errors.js';
import { ExitCode } from '../exit.js';
import { native } from '../../native/index.js';
import { StreamListener, StreamSocket, type Accepted } from '../socket.js';
import type { SessionReporter } from '../status/types.js';
import { HandshakeGate } from './handshake-gate.js';
import { servedSessionProblem } from './served-dns.js';
import { acquireHostLock, type HostLock } from './lock.js';
import { isOrderlyEnd, type Authenticated, type Link, type Protocol, type SessionEntry } from './protocol.js';
import { Session, aborted, errorText, isFatal, reporterOf, type LinkRun, type SessionContext } from './session.js';

/** How long a stopping server waits for its current link to close. */
const STOP_GRACE_MS = 3000;

function probeLine(peer: string): string {
  return `${peer} closed the connection right after the handshake (a probe?): nothing was set up`;
}

export class ServerSession extends Session {
  private active: { link: Link | null; done: Promise<void> } | null = null;
  private listenLabel = '';
  private readonly gate: HandshakeGate;

  constructor(protocol: Protocol, config: SessionConfig, secret: Buffer, ctx: SessionContext, reporter: SessionReporter) {
    super(protocol, config, secret, ctx, reporter, 'server');
    this.gate = new HandshakeGate(config.session.handshakeLimits);
  }

  protected reloadProblem(fresh: SessionConfig): string | null {
    if (fresh.session.role !== 'server') return 'the session is no longer a server; restart it to change its role';
    if (fresh.session.protocol !== this.config.session.protocol) return `Protocol changed to ${fresh.session.protocol}; restart the session to change it`;
    return null;
  }

  protected applyReload(fresh: SessionConfig, secret: Buffer, unchanged: boolean): string {
    if (unchanged) return 'configuration unchanged';
    if (this.protocol.serveAll) {
      // One link serves every connection until the session stops (the vpn-ws hub): there is no
      // next connection for a changed file to apply to, so the reload fails and says so rather
      // than report a change that never takes effect.
      throw new TundError(
        `a ${this.protocol.name} hub serves every connection with the configuration it started with; restart the session to apply the changed file (systemctl restart tund@${this.name}: its clients reconnect)`,
      );
    }
    const listenMoved =
      !this.ctx.passedFd && (fresh.session.listen.host !== this.config.session.listen.host || fresh.session.listen.port !== this.config.session.listen.port);
    this.config = fresh;
    this.secret = secret;
    this.gate.setLimits(fresh.session.handshakeLimits);
    return `configuration changed; it applies to the next connection${listenMoved ? `; a new Listen address takes effect after a restart (still listening on ${this.listenLabel})` : ''}`;
  }

  async run(): Promise<number> {
    if (this.protocol.notice) this.log(this.protocol.notice);
    const passed = this.ctx.passedFd;
    let listener: StreamListener;
    try {
      listener = passed ? StreamListener.adopt(passed.fd) : StreamListener.listen(this.config.session.listen.host, this.config.session.listen.port);
    } catch (error) {
      await this.finishStopping(null);
      throw error instanceof TundError ? new TundError(`${this.name}: ${error.message}`, { exitCode: error.exitCode, hint: error.hint }) : error;
    }
    this.listenLabel = listener.label;
    if (this.protocol.serveAll) return this.runServeAll(listener, this.protocol.serveAll.bind(this.protocol));
    try {
      this.status.set('listening', listener.label);
      this.announceReady();
      listener.accept(
        (connection) => void this.handle(connection),
        (error) => this.logProblem(`listener: ${error.message}`, hintOf(error)),
      );
      await aborted(this.ctx.signal);
      listener.close();
      this.gate.dispose();
      const current = this.active;
      if (current) await Promise.race([current.done, new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
    } finally {
      listener.close();
      await this.finishStopping('signal');
    }
    return ExitCode.ok;
  }

  /** A protocol that serves every connection in one link (the vpn-ws hub) until the session stops. */
  private async runServeAll(listener: StreamListener, serveAll: NonNullable<Protocol['serveAll']>): Promise<number> {
    let exitCode: number = ExitCode.ok;
    try {
      // listening (and READY=1) once the protocol serves: its device, TLS and threads are up
      const run = await this.runLink(this.config, this.secret, async (ctx) => {
        const link = await serveAll(listener.fd, ctx);
        this.status.set('listening', listener.label);
        this.announceReady();
        return link;
      }, { keepRoutes: true });
      if (run.kind === 'failed') {
        this.logProblem(run.message, run.hint);
        exitCode = ExitCode.failure;
      } else if (run.kind === 'ended' && !this.ctx.signal.aborted) {
        this.log(`session ended: ${this.describeRun(run)}`);
        if (!isOrderlyEnd(run.end)) exitCode = ExitCode.failure;
      }
    } finally {
      listener.close();
      await this.finishStopping('signal');
    }
    return exitCode;
  }

  private async handle(connection: Accepted): Promise<void> {
    // over the caps: closed before a byte is read or written (no socket object, no timers)
    const place = this.gate.enter(connection.peer?.address ?? '?');
    if (typeof place === 'string') {
      native().closeFd(connection.fd);
      this.gate.reportRefusal(place, (line) => this.log(line));
      return;
    }
    const socket = new StreamSocket(connection.fd);
    const peer = socket.peer;
    // this connection keeps the configuration it started with (a reload applies to the next one)
    const config = this.config;
    const secret = this.secret;
    let resolveDone!: () => void;
    const me = { link: null as Link | null, done: new Promise<void>((r) => (resolveDone = r)) };
    let replaced: Promise<void> | null = null;
    let auth: Authenticated | null = null;
    try {
      auth = await this.protocol.authenticate(socket, {
        timeoutMs: config.session.timeout * 1000,
        signal: this.ctx.signal,
        lookup: (host) => (host === config.session.host ? { config, secret } : null),
        // the one peer: decided and taken in one step, so two handshakes that end together
        // cannot both get in
        admit: async () => {
          const old = this.active;
          if (old && config.session.multi === 'no') return `session "${config.session.host}" is already connected and Multi = no`;
          this.active = me;
          if (!old) return;
          this.log(`new connection from ${peer} replaces the current one`);
          replaced = old.done;
          await old.link?.close('replaced by a new connection');
        },
      });
    } catch (error) {
      this.log(`denied connection from ${peer}: ${errorText(error)}`);
    } finally {
      place();
    }
    try {
      if (replaced) await replaced;
      if (!auth || this.active !== me) return;
      if (this.ctx.signal.aborted) {
        auth.abandon();
        return;
      }
      const accepted = auth;
      this.log(`accepted connection from ${peer}`);
      this.status.endpoint = peer;
      this.status.set('handshaking');
      // the device and routes stay between peers, unless a reload changed them since
      await this.dropKeptIfChanged(config);
      let run: LinkRun;
      try {
        run = await this.runLink(config, secret, (ctx) => accepted.link(ctx), { keepRoutes: true, onLink: (link) => (me.link = link) });
      } finally {
        this.keepLink(config);
      }
      if (run.kind === 'probe') this.log(probeLine(peer));
      else if (!this.ctx.signal.aborted) this.logRun(run);
    } catch (error) {
      this.logProblem(errorText(error), hintOf(error));
    } finally {
      // the last peer left (unless a newer one took its place meanwhile)
      if (this.active === me) {
        this.active = null;
        if (!this.ctx.signal.aborted) {
          this.status.clearPeer();
          this.status.set('listening', this.listenLabel);
        }
      }
      resolveDone();
    }
  }

}

/** The exit status of a connection process: 0 unless the link failed. */
function connectionExit(run: LinkRun): number {
  if (run.kind === 'probe') return ExitCode.ok;
  if (run.kind === 'failed') return ExitCode.failure;
  return isOrderlyEnd(run.end) || run.end.reason === 'eof' ? ExitCode.ok : ExitCode.failure;
}

export class ConnectionSession extends Session {
  constructor(protocol: Protocol, config: SessionConfig, secret: Buffer, ctx: SessionContext, reporter: SessionReporter) {
    super(protocol, config, secret, ctx, reporter, 'server');
  }

  protected reloadProblem(fresh: SessionConfig): string | null {
    return fresh.session.role === 'server' ? null : 'the session is no longer a server';
  }

  protected applyReload(fresh: SessionConfig, _secret: Buffer, unchanged: boolean): string {
    return unchanged ? 'configuration unchanged' : 'configuration changed; this process serves one connection, the next connection uses it';
  }

  async serve(auth: Authenticated, peer: string): Promise<number> {
    let code: number = ExitCode.ok;
    try {
      this.log(`accepted connection from ${peer}`);
      if (this.protocol.notice) this.log(this.protocol.notice);
      this.status.endpoint = peer;
      this.status.set('handshaking');
      const run = await this.runLink(this.config, this.secret, (ctx) => auth.link(ctx), { keepRoutes: false });
      if (run.kind === 'probe') {
        this.log(probeLine(peer));
        // served, and over: a socket-activated instance ends as a clean start and stop, not as a
        // unit that died before it was ready
        this.announceReady();
        this.reporter.stopping();
      } else if (!this.ctx.signal.aborted) this.logRun(run);
      code = connectionExit(run);
    } catch (error) {
      if (isFatal(error)) throw error;
      this.logProblem(errorText(error), hintOf(error));
      code = ExitCode.failure;
    } finally {
      await this.finishStopping(this.ctx.signal.aborted ? 'signal' : null);
    }
    return code;
  }
}

/** The problems of the Role = server sessions of `protocol` that `tund serve` cannot serve as it runs (served-dns.ts). */
export async function servedSessionProblems(protocol: string): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  for (const name of await listSessions()) {
    const config = await loadSessionConfig(name).then((l) => l.config, () => null);
    if (config?.session.protocol !== protocol || config.session.role !== 'server') continue;
    const problem = await servedSessionProblem(config);
    if (problem) problems.push(problem);
  }
  return problems;
}

/**
 * The Role = server session of `protocol` whose Host is `host`, with its secret; null when there is
 * none. `log` takes whole lines; `context` goes before the session's name in them.
 */
export async function findServerSession(host: string, protocol: string, log: (line: string) => void, context = ''): Promise<SessionEntry | null> {
  for (const name of await listSessions()) {
    let config: SessionConfig;
    try {
      config = (await loadSessionConfig(name)).config;
    } catch {
      continue; // a broken file is reported by `tund check`, not here
    }
    // (a WireGuard session has a host name too, but no connection of another protocol may pick it)
    if (config.session.protocol !== protocol || config.session.role !== 'server' || config.session.host !== host) continue;
    try {
      return { config, secret: await readSecret(config) };
    } catch (error) {
      logProblem(log, `${context}${name}`, errorText(error).split('\n')[0]!, hintOf(error));
      return null;
    }
  }
  return null;
}

export interface ServeOptions {
  protocol: Protocol;
  /** handshake timeout per message, ms (vtund's global `timeout`, default 30 s) */
  timeoutMs: number;
  /** restrict to this session (a server session handed one connection); default: all Role = server */
  only?: SessionEntry | undefined;
  /** `tund serve` identified the peer's session already (AcceptOptions.resume) */
  resume?: { name: string; leftMs: number } | undefined;
  /** the handshake is over, passed or failed (`tund serve` gives the connection's place back) */
  handshakeOver?: (() => void) | undefined;
}

/**
 * One accepted connection (an fd): authenticate it, pick its session by the handshake (VTun: HOST),
 * apply the session's Multi policy across processes (lock files), then run the link. The exit
 * status of the process that serves it.
 */
export async function serveConnection(fd: number, ctx: SessionContext, o: ServeOptions): Promise<number> {
  const socket = new StreamSocket(fd);
  const peer = socket.peer;
  let chosen: string | null = null;
  let lock: HostLock | null = null;
  let auth: Authenticated;
  try {
    auth = await o.protocol.authenticate(socket, {
      timeoutMs: o.timeoutMs,
      signal: ctx.signal,
      resume: o.resume,
      lookup: async (host) => {
        const entry = o.only ? (o.only.config.session.host === host ? o.only : null) : await findServerSession(host, o.protocol.name, ctx.log);
        chosen = entry?.config.name ?? null;
        return entry;
      },
      admit: async (entry) => {
        // `tund serve`'s own sessions (not a server session handed its connection: `only`)
        const problem = o.only ? null : await servedSessionProblem(entry.config);
        if (problem) return formatConfigProblem(problem);
        const got = await acquireHostLock(entry.config.session.host, entry.config.session.multi, (m) => ctx.log(`${entry.config.name}: ${m}`));
        if (typeof got === 'string') return got;
        lock = got;
      },
    });
  } catch (error) {
    o.handshakeOver?.();
    logProblem((line) => ctx.log(line), chosen ?? 'serve', `denied connection from ${peer}: ${errorText(error)}`, hintOf(error));
    await (lock as HostLock | null)?.release();
    return ExitCode.failure;
  }
  o.handshakeOver?.();
  try {
    const reporter = await reporterOf(ctx, auth.entry.config.name, 'server');
    const session = new ConnectionSession(o.protocol, auth.entry.config, auth.entry.secret, ctx, reporter);
    return await session.serve(auth, peer);
  } finally {
    await (lock as HostLock | null)?.release();
  }
}
