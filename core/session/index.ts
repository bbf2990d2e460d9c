// A VTun session, both roles (docs/vtun-protocol.md):
//   runSession(config, ctx)      `tund NAME`: a client (connects, reconnects per Persist) or a
//                                server session that listens itself (or on systemd's fd 3);
//   serveConnection(socket, ctx) one accepted connection whose session is picked by the
//                                handshake's HOST line among the Role = server sessions
//                                (`tund serve` children, inetd / systemd Accept=yes).
// The packet path is the native pump (link.ts); this file only sets things up and tears them down.
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { listSessions, loadSessionConfig, readSecret } from '../config/load.js';
import type { SessionConfig } from '../config/types.js';
import { TundError } from '../errors.js';
import { ExitCode } from '../exit.js';
import { Ip, SystemRunner } from '../ip.js';
import { native } from '../../native/index.js';
import { LogReporter, type SessionReporter } from '../status/types.js';
import { BlockChannel, HandshakeError, clientHandshake, serverHandshake, type ServerSessionEntry } from '../vtun/handshake.js';
import { buildFlags, flagsFromConfig, type VtunFlags } from '../vtun/flags.js';
import { openSessionDevice, deviceKindFor, type SessionDevice } from './device.js';
import { runHooks } from './hooks.js';
import { Link, describeEnd, type LinkEnd } from './link.js';
import { acquireHostLock, type HostLock } from './lock.js';
import { SessionStatus } from './status.js';
import { localEnd, programEnv, startStreamProgram } from './stream-device.js';
import { connectWithTimeout, handOverTcp, handOverUdp, stripV4Mapped } from './transport.js';

export type ReporterFactory = (name: string, role: 'client' | 'server') => SessionReporter | Promise<SessionReporter>;

export interface SessionContext {
  /** one line on stderr (no newline); the session prefixes its NAME */
  log(line: string): void;
  /** `[#] ...` echo of system changes; undefined when quiet */
  echo?: ((line: string) => void) | undefined;
  /** aborted on SIGTERM/SIGINT: orderly stop (CONN_CLOSE, device closed, exit 0) */
  signal: AbortSignal;
  reporterFactory?: ReporterFactory;
  ip?: Ip;
  /** a systemd-passed socket (fd 3) for a server session: listening (Accept=no) or connected */
  passedFd?: { fd: number; listening: boolean } | null;
  /** a systemd-passed bound UDP socket (ListenDatagram=, Accept=no): a server session's UDP links use it */
  passedUdpFd?: number | null;
  /** reconnect delays in ms (test seam): first retry, then from `base` doubling up to `max` */
  backoff?: { first: number; base: number; max: number };
  /** emits 'hangup' on SIGHUP: the session re-reads its config and secret; a client keeps a healthy
   * link when nothing changed and reconnects otherwise; a server session applies it to the next connection */
  hangups?: EventEmitter;
  /** re-reads the session's config (for SIGHUP) */
  reloadConfig?: () => Promise<SessionConfig>;
}

export const INSECURE_WARNING =
  'warning: VTun has no integrity or replay protection and a fixed password-derived key; use it only over networks you trust (or inside another secure tunnel)';

const DEFAULT_BACKOFF = { first: 1000, base: 5000, max: 60000 };

function ipOf(ctx: SessionContext): Ip {
  return ctx.ip ?? new Ip(new SystemRunner({ echo: ctx.echo, context: 'tund' }));
}

function reporterOf(ctx: SessionContext, name: string, role: 'client' | 'server'): Promise<SessionReporter> {
  const factory = ctx.reporterFactory ?? ((n: string) => new LogReporter((line) => ctx.log(line)));
  return Promise.resolve(factory(name, role));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

/** Fatal set-up errors are not retried: missing capability, no /dev/net/tun, bad config. */
function isFatal(error: unknown): boolean {
  return error instanceof TundError && [ExitCode.noPermission, ExitCode.noTun, ExitCode.badConfig, ExitCode.usage].includes(error.exitCode as never);
}

// ---------------------------------------------------------------------------------------------
// routes (core/route, when it is there)

const ROUTE_MODULE = '../route/index.js';

interface RouteApi {
  applySessionRoutes(
    config: SessionConfig,
    opts: { device?: string; endpoints?: string[]; replace?: boolean; echo?: (l: string) => void; warn?: (m: string) => void },
  ): Promise<unknown>;
  removeSessionRoutes(name: string, opts: { echo?: (l: string) => void; warn?: (m: string) => void }): Promise<number>;
}

async function routeApi(): Promise<RouteApi | null> {
  try {
    const mod = (await import(ROUTE_MODULE)) as Partial<RouteApi>;
    return typeof mod.applySessionRoutes === 'function' && typeof mod.removeSessionRoutes === 'function' ? (mod as RouteApi) : null;
  } catch {
    return null;
  }
}

function wantsRoutes(config: SessionConfig): boolean {
  return config.route.mode !== 'none' || config.route.dns.length > 0;
}

/** Routes of a session: with a kept device they stay up between connections (no leak while
 * reconnecting) and go when the session stops. */
interface RouteKeeper {
  applied: boolean;
  keep: boolean;
}

async function removeRoutes(config: SessionConfig, keeper: RouteKeeper, ctx: SessionContext, log: (m: string) => void): Promise<void> {
  if (!keeper.applied) return;
  keeper.applied = false;
  const routes = await routeApi();
  try {
    await routes?.removeSessionRoutes(config.name, { echo: ctx.echo, warn: log });
  } catch (error) {
    log(`routes: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// the connected phase, shared by both roles

interface ConnectionParams {
  config: SessionConfig;
  password: Buffer;
  flags: VtunFlags;
  ch: BlockChannel;
  socket: net.Socket;
  status: SessionStatus;
  ctx: SessionContext;
  /** a device kept open from an earlier connection (Persist = keep, server session) */
  device: SessionDevice | null;
  /** this side's send limit, kbit/s */
  speedKbps: number;
  routes: RouteKeeper;
}

interface ConnectionResult {
  end: LinkEnd;
  device: SessionDevice | null;
}

async function runConnection(p: ConnectionParams, log: (m: string) => void, onLink?: (link: Link) => void): Promise<ConnectionResult> {
  const { config, flags, ctx, status } = p;
  const ip = ipOf(ctx);
  const kind = deviceKindFor(flags.type);
  let device = p.device;
  if (device && (device.kind !== kind || device.device.closed)) {
    device.device.close();
    device = null;
  }
  const timeoutMs = config.session.timeout * 1000;
  // The device goes up first: frames the peer sends meanwhile wait in the socket buffer.
  if (!device) device = await openSessionDevice(config, flags.type, ip, log);
  status.device = device.info;
  const localSide = localEnd(p.socket);
  let handed;
  try {
    handed =
      flags.transport === 'udp'
        ? await handOverUdp(p.ch, p.socket, timeoutMs, config.session.natHack, ctx.passedUdpFd ?? null)
        : handOverTcp(p.ch, p.socket);
  } catch (error) {
    return { end: { reason: 'network_error', message: error instanceof Error ? error.message : String(error) }, device };
  }
  status.endpoint = handed.endpoint;
  let link: Link;
  try {
    link = new Link({
      flags,
      netFd: handed.netFd,
      deviceFd: device.device.fd,
      password: p.password,
      initialRx: handed.initialRx,
      keepalive: config.session.keepalive,
      natHack: config.session.natHack && flags.transport === 'udp',
      speedKbps: p.speedKbps,
    });
    link.start();
  } catch (error) {
    try {
      native().closeFd(handed.netFd);
    } catch {
      // the pump may own it already
    }
    return { end: { reason: 'network_error', message: `cannot start the packet pump: ${(error as Error).message}` }, device };
  }
  onLink?.(link);
  status.counters = () => {
    const s = link.stats();
    return { counters: { rx_bytes: s.rxBytes, tx_bytes: s.txBytes, rx_packets: s.rxPackets, tx_packets: s.txPackets }, msSinceRx: s.msSinceRx };
  };
  status.set('connected');
  const env = { TUND_SESSION: config.name, TUND_DEVICE: device.device.name, TUND_PEER: handed.endpoint, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  if (wantsRoutes(config) && !p.routes.applied) {
    const routes = await routeApi();
    if (!routes) log('routes: the routing library is not available; [Route] ignored');
    else {
      try {
        const peerHost = stripV4Mapped(handed.endpoint.replace(/:\d+$/, ''));
        await routes.applySessionRoutes(config, { device: device.device.name, endpoints: [peerHost], replace: true, echo: ctx.echo, warn: log });
        p.routes.applied = true;
      } catch (error) {
        log(`routes: ${(error as Error).message}`);
      }
    }
  }
  if (config.hooks.up.length) await runHooks(config.hooks.up, env, ctx.echo, log);
  // pipe/tty: the [Device] Program on the other end of the socketpair / on the pty
  const program = await startStreamProgram(device.device, config, programEnv(env, localSide, handed.endpoint), link, log);
  const end = await Promise.race([link.ended, abortPromise(ctx.signal).then(() => null)]);
  if (end === null) await link.close('stopped by signal');
  const final = program ? await program.finish(await link.ended) : await link.ended;
  status.detachCounters();
  if (config.hooks.down.length) await runHooks(config.hooks.down, env, ctx.echo, log);
  if (!p.routes.keep) await removeRoutes(config, p.routes, ctx, log);
  return { end: final, device };
}

function closeDevice(device: SessionDevice | null): void {
  device?.device.close();
}

// ---------------------------------------------------------------------------------------------
// client

export async function runSession(config: SessionConfig, ctx: SessionContext): Promise<number> {
  return config.session.role === 'client' ? runClient(config, ctx) : runServerSession(config, ctx);
}

async function runClient(initialConfig: SessionConfig, ctx: SessionContext): Promise<number> {
  let config = initialConfig;
  const name = config.name;
  const log = (m: string) => ctx.log(`${name}: ${m}`);
  if (!config.session.endpoint) throw new TundError(`${name}: a client session needs [Session] Endpoint`);
  log(INSECURE_WARNING);
  let password = await readSecret(config);
  const reporter = await reporterOf(ctx, name, 'client');
  const status = new SessionStatus(name, 'client', reporter);
  const backoff = ctx.backoff ?? DEFAULT_BACKOFF;
  let kept: SessionDevice | null = null;
  const routes: RouteKeeper = { applied: false, keep: false };
  let failures = 0;
  let exitCode: number = ExitCode.ok;
  // SIGHUP: re-read the config and the secret. Unchanged and the link is up: keep it as it is.
  // Changed (or no link up): drop the link (or the back-off wait) and reconnect with the new one.
  let hangup = false;
  let pending: { config: SessionConfig; password: Buffer } | null = null;
  let activeLink: Link | null = null;
  let wake: (() => void) | null = null;
  let reloads: Promise<void> = Promise.resolve();
  const reload = async () => {
    let fresh: SessionConfig;
    let freshPassword: Buffer;
    try {
      fresh = ctx.reloadConfig ? await ctx.reloadConfig() : config;
      freshPassword = await readSecret(fresh);
      if (fresh.session.role !== 'client' || !fresh.session.endpoint) throw new TundError('the session is no longer a client with an Endpoint');
    } catch (error) {
      const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter((l) => l.trim() !== '');
      for (const line of lines) log(`reload: ${line}`);
      const up = activeLink !== null && status.state === 'connected';
      log(`reload failed, keeping the old configuration${up ? ' and the running link' : ''}`);
      if (!up) {
        // nothing to keep: retry at once with the old configuration (as before)
        hangup = true;
        wake?.();
      }
      return;
    }
    if (ctx.signal.aborted) return;
    const up = activeLink !== null && status.state === 'connected' && !hangup;
    if (up && isDeepStrictEqual(fresh, config) && freshPassword.equals(password)) {
      pending = null;
      log('SIGHUP: configuration unchanged, keeping the link');
      return;
    }
    pending = { config: fresh, password: freshPassword };
    hangup = true;
    log(up ? 'SIGHUP: configuration changed, reconnecting' : 'SIGHUP: reconnecting');
    void activeLink?.close('reload (SIGHUP)');
    wake?.();
  };
  const onHangup = () => {
    reporter.reloading();
    log('SIGHUP: reloading the configuration');
    reloads = reloads
      .then(reload)
      .catch((error) => log(`reload failed: ${(error as Error).message}`))
      .finally(() => {
        if (!closed) reporter.reloaded();
      });
  };
  let closed = false;
  ctx.hangups?.on('hangup', onHangup);
  reporter.ready();
  try {
    while (!ctx.signal.aborted) {
      if (hangup) {
        hangup = false;
        const next = pending as { config: SessionConfig; password: Buffer } | null;
        if (next) {
          config = next.config;
          password = next.password;
          pending = null;
        }
      }
      const endpoint = config.session.endpoint!;
      const persist = config.session.persist;
      routes.keep = persist === 'keep';
      if (status.state !== 'reconnecting') status.set('connecting', `${endpoint.host}:${endpoint.port}`);
      let socket: net.Socket | null = null;
      const onAbort = () => socket?.destroy();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      let reason: string;
      try {
        socket = await connectWithTimeout(endpoint.host, endpoint.port, config.session.timeout * 1000);
        if (ctx.signal.aborted) break;
        status.endpoint = `${socket.remoteAddress}:${socket.remotePort}`;
        status.set('handshaking');
        const ch = new BlockChannel(socket);
        const hs = await clientHandshake(ch, { host: config.session.host, password, sslAuth: config.session.sslAuth, timeoutMs: config.session.timeout * 1000 });
        status.latestHandshake = new Date().toISOString();
        status.flags = hs.flagsText;
        log(`authenticated to ${status.endpoint} as "${config.session.host}", flags ${hs.flagsText}`);
        const linkStarted = Date.now();
        const result = await runConnection(
          { config, password, flags: hs.flags, ch, socket, status, ctx, device: kept, speedKbps: hs.flags.speed, routes },
          log,
          (link) => {
            activeLink = link;
            if (hangup) void link.close('reload (SIGHUP)');
          },
        );
        activeLink = null;
        // a link that held for a while resets the back-off; one that dies at once does not
        if (Date.now() - linkStarted >= 10_000) failures = 0;
        kept = result.device;
        reason = describeEnd(result.end);
        if (ctx.signal.aborted) break;
        log(`session ended: ${reason}`);
        if (persist !== 'keep') {
          closeDevice(kept);
          kept = null;
          status.device = null;
        }
        if (hangup) {
          status.set('reconnecting', 'reload (SIGHUP)');
          continue;
        }
        if (persist === 'no') {
          exitCode = result.end.reason === 'peer_closed' || result.end.clean ? ExitCode.ok : ExitCode.failure;
          break;
        }
      } catch (error) {
        activeLink = null;
        socket?.destroy();
        if (ctx.signal.aborted) break;
        if (isFatal(error)) throw error;
        if (error instanceof HandshakeError && error.kind === 'auth') {
          reason = 'authentication failed';
          log(`authentication failed: the server refused the password or the session name "${config.session.host}"`);
        } else {
          reason = error instanceof Error ? error.message : String(error);
          log(reason);
        }
        if (hangup) continue;
        if (persist === 'no') {
          exitCode = ExitCode.failure;
          break;
        }
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
      const delay = failures === 0 ? backoff.first : Math.min(backoff.max, backoff.base * 2 ** (failures - 1));
      failures++;
      status.set('reconnecting', `${reason}; next attempt in ${Math.round(delay / 100) / 10} s`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        void sleep(delay, ctx.signal).then(resolve);
      });
      wake = null;
    }
  } finally {
    ctx.hangups?.off('hangup', onHangup);
    if (ctx.signal.aborted) reporter.stopping();
    status.set('stopping', ctx.signal.aborted ? 'signal' : null);
    await removeRoutes(config, routes, ctx, log);
    closeDevice(kept);
    status.device = null;
    status.set('stopped');
    closed = true;
    reporter.close();
  }
  return exitCode;
}

// ---------------------------------------------------------------------------------------------
// server: one connection, session chosen by HOST (tund serve children, inetd, Accept=yes)

export interface ServeOptions {
  /** handshake timeout per block, ms (vtund's global `timeout`, default 30 s) */
  timeoutMs: number;
  /** restrict to this session (a server session that listens itself); default all Role = server */
  only?: { config: SessionConfig; password: Buffer } | undefined;
}

interface Candidate {
  config: SessionConfig;
  password: Buffer;
}

async function findServerSession(host: string, log: (m: string) => void): Promise<Candidate | null> {
  for (const name of await listSessions()) {
    let config: SessionConfig;
    try {
      config = (await loadSessionConfig(name)).config;
    } catch {
      continue; // a broken file is reported by `tund check`, not here
    }
    if (config.session.role !== 'server' || config.session.host !== host) continue;
    try {
      return { config, password: await readSecret(config) };
    } catch (error) {
      log(`${name}: ${(error as Error).message.split('\n')[0]}`);
      return null;
    }
  }
  return null;
}

export async function serveConnection(socket: net.Socket, ctx: SessionContext, opts: ServeOptions): Promise<number> {
  const peer = `${stripV4Mapped(socket.remoteAddress ?? '?')}:${socket.remotePort ?? '?'}`;
  const ch = new BlockChannel(socket);
  let chosen: Candidate | null = null;
  let lock: HostLock | null = null;
  const onAbort = () => socket.destroy();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await serverHandshake(ch, {
      timeoutMs: opts.timeoutMs,
      lookup: async (host): Promise<ServerSessionEntry | null> => {
        chosen = opts.only ? (opts.only.config.session.host === host ? opts.only : null) : await findServerSession(host, ctx.log);
        if (!chosen) return null;
        return { password: chosen.password, sslAuth: chosen.config.session.sslAuth, flags: flagsFromConfig(chosen.config) };
      },
      authorize: async (host) => {
        const c = chosen!;
        const got = await acquireHostLock(host, c.config.session.multi, (m) => ctx.log(`${c.config.name}: ${m}`));
        if (typeof got === 'string') return got;
        lock = got;
      },
    });
  } catch (error) {
    ctx.signal.removeEventListener('abort', onAbort);
    socket.destroy();
    const who = (chosen as Candidate | null)?.config.name ?? 'serve';
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`${who}: denied connection from ${peer}: ${message}`);
    return ExitCode.failure;
  }
  ctx.signal.removeEventListener('abort', onAbort);
  const { config, password } = chosen!;
  const name = config.name;
  const log = (m: string) => ctx.log(`${name}: ${m}`);
  const reporter = await reporterOf(ctx, name, 'server');
  const status = new SessionStatus(name, 'server', reporter);
  status.endpoint = peer;
  status.latestHandshake = new Date().toISOString();
  const flags = flagsFromConfig(config);
  status.flags = buildFlags(flags);
  let device: SessionDevice | null = null;
  let code: number = ExitCode.ok;
  try {
    log(`accepted connection from ${peer}`);
    log(INSECURE_WARNING);
    reporter.ready();
    const result = await runConnection(
      { config, password, flags, ch, socket, status, ctx, device: null, speedKbps: config.session.speed.out, routes: { applied: false, keep: false } },
      log,
    );
    device = result.device;
    if (!ctx.signal.aborted) log(`session ended: ${describeEnd(result.end)}`);
    code = result.end.reason === 'peer_closed' || result.end.reason === 'eof' || result.end.reason === 'stopped' || result.end.clean ? ExitCode.ok : ExitCode.failure;
  } catch (error) {
    socket.destroy();
    if (isFatal(error)) throw error;
    log((error as Error).message);
    code = ExitCode.failure;
  } finally {
    if (ctx.signal.aborted) reporter.stopping();
    status.set('stopping');
    closeDevice(device);
    status.device = null;
    await (lock as HostLock | null)?.release();
    status.set('stopped');
    reporter.close();
  }
  return code;
}

// ---------------------------------------------------------------------------------------------
// server session that listens itself (`tund NAME` with Role = server, systemd Accept=no)

async function runServerSession(initialConfig: SessionConfig, ctx: SessionContext): Promise<number> {
  let config = initialConfig;
  const name = config.name;
  const log = (m: string) => ctx.log(`${name}: ${m}`);
  log(INSECURE_WARNING);
  let password = await readSecret(config);
  const only = { config, password };
  const timeoutMs = config.session.timeout * 1000;
  if (ctx.passedFd && !ctx.passedFd.listening) {
    // systemd Accept=yes handed us one connection for this session
    const socket = new net.Socket({ fd: ctx.passedFd.fd, readable: true, writable: true });
    return serveConnection(socket, { ...ctx }, { timeoutMs, only });
  }
  const reporter = await reporterOf(ctx, name, 'server');
  const status = new SessionStatus(name, 'server', reporter);
  let device: SessionDevice | null = null;
  const routes: RouteKeeper = { applied: false, keep: true };
  let active: { link: Link | null; socket: net.Socket; done: Promise<void> } | null = null;
  const server = net.createServer({ pauseOnConnect: false });
  const listenOn = ctx.passedFd ? `fd ${ctx.passedFd.fd}` : `${config.session.listen.host}:${config.session.listen.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EACCES'
          ? new TundError(`${name}: cannot listen on ${listenOn}: permission denied`, { exitCode: ExitCode.noPermission })
          : new TundError(`${name}: cannot listen on ${listenOn}: ${error.code ?? error.message}`),
      ),
    );
    if (ctx.passedFd) server.listen({ fd: ctx.passedFd.fd }, () => resolve());
    else server.listen({ host: config.session.listen.host, port: config.session.listen.port, backlog: 10 }, () => resolve());
  });
  server.on('error', (error) => log(`listener: ${error.message}`));
  status.set('listening', listenOn);
  // SIGHUP: re-read the config and the secret; the running link stays, the next connection uses them
  let closed = false;
  let reloads: Promise<void> = Promise.resolve();
  const reload = async () => {
    try {
      const fresh = ctx.reloadConfig ? await ctx.reloadConfig() : config;
      const freshPassword = await readSecret(fresh);
      if (fresh.session.role !== 'server') throw new TundError('the session is no longer a server');
      if (isDeepStrictEqual(fresh, config) && freshPassword.equals(password)) {
        log('SIGHUP: configuration unchanged');
        return;
      }
      if (!ctx.passedFd && (fresh.session.listen.host !== config.session.listen.host || fresh.session.listen.port !== config.session.listen.port)) {
        log(`SIGHUP: a new Listen address takes effect after a restart; still listening on ${listenOn}`);
      }
      config = fresh;
      password = freshPassword;
      log('SIGHUP: configuration changed; it applies to the next connection');
    } catch (error) {
      const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter((l) => l.trim() !== '');
      for (const line of lines) log(`reload: ${line}`);
      log('reload failed, keeping the old configuration');
    }
  };
  const onHangup = () => {
    reporter.reloading();
    log('SIGHUP: reloading the configuration');
    reloads = reloads
      .then(reload)
      .catch((error) => log(`reload failed: ${(error as Error).message}`))
      .finally(() => {
        if (!closed) reporter.reloaded();
      });
  };
  ctx.hangups?.on('hangup', onHangup);
  reporter.ready();

  const handle = async (socket: net.Socket) => {
    const peer = `${stripV4Mapped(socket.remoteAddress ?? '?')}:${socket.remotePort ?? '?'}`;
    socket.on('error', () => {});
    const ch = new BlockChannel(socket);
    let replaced: Promise<void> | null = null;
    // this connection keeps the configuration it started with (a SIGHUP applies to the next one)
    const connConfig = config;
    const connPassword = password;
    try {
      await serverHandshake(ch, {
        timeoutMs,
        lookup: (host) => (host === connConfig.session.host ? { password: connPassword, sslAuth: connConfig.session.sslAuth, flags: flagsFromConfig(connConfig) } : null),
        authorize: async () => {
          if (!active) return;
          if (connConfig.session.multi === 'no') return `session "${connConfig.session.host}" is already connected and Multi = no`;
          log(`new connection from ${peer} replaces the current one`);
          const old = active;
          await old.link?.close('replaced by a new connection');
          old.socket.destroy();
          replaced = old.done;
        },
      });
    } catch (error) {
      socket.destroy();
      log(`denied connection from ${peer}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (replaced) await replaced;
    if (ctx.signal.aborted) {
      socket.destroy();
      return;
    }
    let resolveDone!: () => void;
    const me = { link: null as Link | null, socket, done: new Promise<void>((r) => (resolveDone = r)) };
    active = me;
    try {
      status.latestHandshake = new Date().toISOString();
      status.flags = buildFlags(flagsFromConfig(connConfig));
      log(`accepted connection from ${peer}`);
      status.set('handshaking', peer);
      const result = await runConnection(
        { config: connConfig, password: connPassword, flags: flagsFromConfig(connConfig), ch, socket, status, ctx, device, speedKbps: connConfig.session.speed.out, routes },
        log,
        (link) => (me.link = link),
      );
      device = result.device; // kept open for the next connection
      if (!ctx.signal.aborted) log(`session ended: ${describeEnd(result.end)}`);
    } catch (error) {
      socket.destroy();
      log((error as Error).message);
    } finally {
      if (active === me) {
        active = null;
        if (!ctx.signal.aborted) status.set('listening', listenOn);
      }
      resolveDone();
    }
  };
  server.on('connection', (socket) => void handle(socket));
  await abortPromise(ctx.signal);
  ctx.hangups?.off('hangup', onHangup);
  reporter.stopping();
  status.set('stopping', 'signal');
  server.close();
  const current = active as { link: Link | null; done: Promise<void> } | null;
  if (current) await Promise.race([current.done, new Promise((r) => setTimeout(r, 3000))]);
  await removeRoutes(config, routes, ctx, log);
  closeDevice(device);
  status.device = null;
  status.set('stopped');
  closed = true;
  reporter.close();
  return ExitCode.ok;
}
