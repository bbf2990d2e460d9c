// Client side of the control socket (protocol.ts): what tunctl status / wait / watch use.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PermissionFailure } from '../errors.js';
import { controlSocketPath, runDir } from '../paths.js';
import { readState } from '../route/state.js';
import { lineSplitter, type ControlReply, type ControlRequest, type DnsInfo, type RouteInfo, type StateEvent, type StatusSession } from './protocol.js';
import type { ReloadOutcome } from './types.js';

export class ControlUnavailable extends Error {
  constructor(
    readonly socketPath: string,
    readonly code: string,
  ) {
    super(`control socket "${socketPath}": ${code}`);
  }
}

/** A control socket we may not open (mode 0600, root's): exit 77 rather than "not running". */
export function permissionFailure(socketPath: string): PermissionFailure {
  return new PermissionFailure(`cannot open the control socket "${socketPath}": permission denied`, 'run as root (the sockets are mode 0600)');
}

export interface RequestOptions {
  /** give up connecting after this long (default 3 s) */
  connectTimeoutMs?: number;
  /** give up when no answer is complete after this long; null: wait as long as it takes (default 3 s) */
  replyTimeoutMs?: number | null;
  /** the message when the reply timeout fires (default: ETIMEDOUT as ControlUnavailable) */
  timeoutError?: () => Error;
  /** ends the request (the promise then never settles): for streams */
  signal?: AbortSignal;
  /** called once the socket is connected and the request sent */
  connected?: () => void;
}

/**
 * One request on a session's control socket: connect, send `request`, and hand every reply line
 * to `accept` until it returns a value (the result) or throws (the error). Rejects with
 * ControlUnavailable when nobody answers or the session closes the connection first.
 */
export function requestOnce<T>(socketPath: string, request: ControlRequest, accept: (reply: ControlReply) => T | undefined, opts: RequestOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let settled = false;
    let replyTimer: NodeJS.Timeout | undefined;
    const finish = (error: Error | null, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(replyTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (error) reject(error);
      else resolve(value as T);
    };
    const onAbort = () => {
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(replyTimer);
      sock.destroy();
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const connectTimer = setTimeout(() => finish(new ControlUnavailable(socketPath, 'ETIMEDOUT')), opts.connectTimeoutMs ?? 3000);
    sock.once('connect', () => {
      clearTimeout(connectTimer);
      const replyMs = opts.replyTimeoutMs === undefined ? 3000 : opts.replyTimeoutMs;
      if (replyMs !== null) replyTimer = setTimeout(() => finish(opts.timeoutError?.() ?? new ControlUnavailable(socketPath, 'ETIMEDOUT')), replyMs);
      sock.write(`${JSON.stringify(request)}\n`);
      opts.connected?.();
    });
    sock.on(
      'data',
      lineSplitter((line) => {
        if (settled) return;
        let reply: ControlReply;
        try {
          reply = JSON.parse(line) as ControlReply;
        } catch {
          finish(new Error(`control socket "${socketPath}": bad reply (not JSON)`));
          return;
        }
        try {
          const value = accept(reply);
          if (value !== undefined) finish(null, value);
        } catch (error) {
          finish(error as Error);
        }
      }),
    );
    sock.on('error', (error: NodeJS.ErrnoException) => finish(new ControlUnavailable(socketPath, error.code ?? 'EIO')));
    sock.on('close', () => finish(new ControlUnavailable(socketPath, 'ECONNRESET')));
  });
}

/** An `error` reply as an Error naming the socket. */
function replyError(socketPath: string, reply: { error: string }): Error {
  return new Error(`control socket "${socketPath}": ${reply.error}`);
}

/** One `status` request. Rejects with ControlUnavailable when nobody answers. */
export function requestStatus(socketPath: string, timeoutMs = 3000): Promise<StatusSession> {
  return requestOnce(
    socketPath,
    { cmd: 'status' },
    (reply) => {
      if (reply.type === 'error') throw replyError(socketPath, reply);
      return reply.type === 'status' ? reply.session : undefined;
    },
    { connectTimeoutMs: timeoutMs, replyTimeoutMs: timeoutMs },
  );
}

/** One `reload` request: resolves with the session's outcome once the reload is done. */
export function requestReload(socketPath: string, timeoutMs = 90_000): Promise<ReloadOutcome> {
  return requestOnce<ReloadOutcome>(
    socketPath,
    { cmd: 'reload' },
    (reply) => {
      if (reply.type === 'error') throw new Error(reply.error);
      if (reply.type === 'reloaded') return { ok: true, message: reply.message };
      if (reply.type === 'reload_failed') return { ok: false, problems: reply.problems };
      return undefined;
    },
    { replyTimeoutMs: timeoutMs, timeoutError: () => new Error(`control socket "${socketPath}": reload not finished after ${Math.round(timeoutMs / 1000)} s`) },
  );
}

export interface WatchHandlers {
  /** the replayed history (oldest first; the last one is the current state) */
  history(events: StateEvent[]): void;
  event(event: StateEvent): void;
  /** the session went away (or the stream broke) */
  end(error?: Error): void;
}

export interface WatchHandle {
  close(): void;
}

/** Subscribe to state changes. Rejects with ControlUnavailable when nobody answers. */
export function watchSession(socketPath: string, handlers: WatchHandlers, timeoutMs = 3000): Promise<WatchHandle> {
  return new Promise((resolve, reject) => {
    const controller = new AbortController();
    let connected = false;
    requestOnce<never>(
      socketPath,
      { cmd: 'watch' },
      (reply) => {
        if (reply.type === 'history') handlers.history(reply.events);
        else if (reply.type === 'event') handlers.event(reply.event);
        else if (reply.type === 'error') throw replyError(socketPath, reply);
        return undefined; // a stream: only the end ends it
      },
      {
        connectTimeoutMs: timeoutMs,
        replyTimeoutMs: null,
        signal: controller.signal,
        connected: () => {
          connected = true;
          resolve({ close: () => controller.abort() });
        },
      },
    ).catch((error: Error) => {
      if (!connected) reject(error);
      // the session closing the stream is its normal end
      else handlers.end(error instanceof ControlUnavailable && error.code === 'ECONNRESET' ? undefined : error);
    });
  });
}

/** Session names that have a socket in runDir() (live or stale: ask them to know). */
export function socketNames(dir = runDir()): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.name.endsWith('.sock') && e.isSocket())
    .map((e) => path.basename(e.name, '.sock'))
    .sort();
}

/**
 * Routes and DNS of a session as tunroute recorded them (runDir()/routes/NAME.json): tunroute is
 * the one that knows, whichever verb made them (`up`, `full`, or ad-hoc `add`). Any problem
 * reading the record means "unknown" (null).
 */
export async function routeInfoFromState(name: string): Promise<{ route: RouteInfo | null; dns: DnsInfo | null }> {
  let state;
  try {
    state = await readState(name);
  } catch {
    return { route: null, dns: null };
  }
  if (!state) return { route: null, dns: null };
  const prefixes = [...new Set(state.entries.filter((e) => e.kind === 'route' && e.dev === state.device).map((e) => (e as { dst: string }).dst))];
  const route: RouteInfo | null = state.mode || prefixes.length > 0 ? { mode: state.mode ?? 'ad-hoc', prefixes, table: typeof state.table === 'number' ? state.table : null } : null;
  const dns: DnsInfo | null = state.dns ? { backend: state.dns.backend, servers: [...state.dns.servers], domains: [...state.dns.domains] } : null;
  return { route, dns };
}

/** The systemd unit a running session reports, or null (not running, or started by hand). */
export async function sessionUnit(name: string, timeoutMs = 1000): Promise<string | null> {
  try {
    return (await requestStatus(controlSocketPath(name), timeoutMs)).unit ?? null;
  } catch {
    return null;
  }
}

/** Status of every running session (stale sockets are skipped), or of the named ones. */
export async function collectStatus(names?: string[], timeoutMs = 3000): Promise<StatusSession[]> {
  const wanted = names && names.length > 0 ? names : socketNames();
  const results = await Promise.all(
    wanted.map(async (name) => {
      try {
        const status = await requestStatus(controlSocketPath(name), timeoutMs);
        // tunroute's record wins: it also has the routes added by hand (tunroute add)
        const known = await routeInfoFromState(status.name);
        status.route = known.route ?? status.route ?? null;
        status.dns = known.dns ?? status.dns ?? null;
        status.unit ??= null;
        return status;
      } catch (error) {
        if (error instanceof ControlUnavailable && (error.code === 'EACCES' || error.code === 'EPERM')) throw permissionFailure(error.socketPath);
        if (error instanceof ControlUnavailable) return null;
        throw error;
      }
    }),
  );
  return results.filter((r): r is StatusSession => r !== null);
}
