// Client side of the control socket (protocol.ts): what tunctl status / wait / watch use.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PermissionFailure } from '../errors.js';
import { controlSocketPath, runDir } from '../paths.js';
import { lineSplitter, type ControlReply, type DnsInfo, type RouteInfo, type StateEvent, type StatusSession } from './protocol.js';
import type { ReloadOutcome } from './types.js';

export class ControlUnavailable extends Error {
  constructor(
    readonly socketPath: string,
    readonly code: string,
  ) {
    super(`control socket "${socketPath}": ${code}`);
  }
}

function connect(socketPath: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlUnavailable(socketPath, 'ETIMEDOUT'));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ControlUnavailable(socketPath, error.code ?? 'EIO'));
    });
  });
}

/** A control socket we may not open (mode 0600, root's): exit 77 rather than "not running". */
export function permissionFailure(socketPath: string): PermissionFailure {
  return new PermissionFailure(`cannot open the control socket "${socketPath}": permission denied`, 'run as root (the sockets are mode 0600)');
}

/** One `status` request. Rejects with ControlUnavailable when nobody answers. */
export async function requestStatus(socketPath: string, timeoutMs = 3000): Promise<StatusSession> {
  const sock = await connect(socketPath, timeoutMs);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlUnavailable(socketPath, 'ETIMEDOUT'));
    }, timeoutMs);
    const done = (error: Error | null, value?: StatusSession) => {
      clearTimeout(timer);
      sock.destroy();
      if (error) reject(error);
      else resolve(value as StatusSession);
    };
    sock.on(
      'data',
      lineSplitter((line) => {
        let reply: ControlReply;
        try {
          reply = JSON.parse(line) as ControlReply;
        } catch {
          done(new Error(`control socket "${socketPath}": bad reply (not JSON)`));
          return;
        }
        if (reply.type === 'status') done(null, reply.session);
        else if (reply.type === 'error') done(new Error(`control socket "${socketPath}": ${reply.error}`));
      }),
    );
    sock.on('error', (error: NodeJS.ErrnoException) => done(new ControlUnavailable(socketPath, error.code ?? 'EIO')));
    sock.on('close', () => done(new ControlUnavailable(socketPath, 'ECONNRESET')));
    sock.write(`${JSON.stringify({ cmd: 'status' })}\n`);
  });
}

/** One `reload` request: resolves with the session's outcome once the reload is done. */
export async function requestReload(socketPath: string, timeoutMs = 90_000): Promise<ReloadOutcome> {
  const sock = await connect(socketPath, 3000);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`control socket "${socketPath}": reload not finished after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    let settled = false;
    const done = (error: Error | null, outcome?: ReloadOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (error) reject(error);
      else resolve(outcome!);
    };
    sock.on(
      'data',
      lineSplitter((line) => {
        let reply: ControlReply;
        try {
          reply = JSON.parse(line) as ControlReply;
        } catch {
          done(new Error(`control socket "${socketPath}": bad reply (not JSON)`));
          return;
        }
        if (reply.type === 'reloaded') done(null, { ok: true, message: reply.message });
        else if (reply.type === 'reload_failed') done(null, { ok: false, problems: reply.problems });
        else if (reply.type === 'error') done(new Error(reply.error));
      }),
    );
    sock.on('error', (error: NodeJS.ErrnoException) => done(new ControlUnavailable(socketPath, error.code ?? 'EIO')));
    sock.on('close', () => done(new ControlUnavailable(socketPath, 'ECONNRESET')));
    sock.write(`${JSON.stringify({ cmd: 'reload' })}\n`);
  });
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
export async function watchSession(socketPath: string, handlers: WatchHandlers, timeoutMs = 3000): Promise<WatchHandle> {
  const sock = await connect(socketPath, timeoutMs);
  let ended = false;
  const end = (error?: Error) => {
    if (ended) return;
    ended = true;
    sock.destroy();
    handlers.end(error);
  };
  sock.on(
    'data',
    lineSplitter((line) => {
      let reply: ControlReply;
      try {
        reply = JSON.parse(line) as ControlReply;
      } catch {
        end(new Error(`control socket "${socketPath}": bad reply (not JSON)`));
        return;
      }
      if (ended) return;
      if (reply.type === 'history') handlers.history(reply.events);
      else if (reply.type === 'event') handlers.event(reply.event);
      else if (reply.type === 'error') end(new Error(`control socket "${socketPath}": ${reply.error}`));
    }),
  );
  sock.on('error', (error: NodeJS.ErrnoException) => end(new ControlUnavailable(socketPath, error.code ?? 'EIO')));
  sock.on('close', () => end());
  sock.write(`${JSON.stringify({ cmd: 'watch' })}\n`);
  return {
    close: () => {
      ended = true;
      sock.destroy();
    },
  };
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
 * Routes and DNS as tunroute recorded them (runDir()/routes/NAME.json, core/route/state.ts), for
 * sessions whose status reply has none. Read defensively: any problem means "unknown" (null).
 */
export function routeInfoFromState(name: string, dir = runDir()): { route: RouteInfo | null; dns: DnsInfo | null } {
  try {
    const st = JSON.parse(fs.readFileSync(path.join(dir, 'routes', `${name}.json`), 'utf8')) as {
      device?: string;
      mode?: RouteInfo['mode'] | null;
      table?: number | null;
      entries?: { kind?: string; dst?: string; dev?: string }[];
      dns?: { backend?: DnsInfo['backend']; servers?: string[]; domains?: string[] } | null;
    };
    const prefixes = (st.entries ?? [])
      .filter((e) => e.kind === 'route' && typeof e.dst === 'string' && (st.device === undefined || e.dev === st.device))
      .map((e) => (e.dst === 'default' ? 'default' : e.dst!));
    const route: RouteInfo | null = st.mode ? { mode: st.mode, prefixes: [...new Set(prefixes)], table: typeof st.table === 'number' ? st.table : null } : null;
    const dns: DnsInfo | null = st.dns ? { backend: st.dns.backend ?? null, servers: st.dns.servers ?? [], domains: st.dns.domains ?? [] } : null;
    return { route, dns };
  } catch {
    return { route: null, dns: null };
  }
}

/** Status of every running session (stale sockets are skipped), or of the named ones. */
export async function collectStatus(names?: string[], timeoutMs = 3000): Promise<StatusSession[]> {
  const wanted = names && names.length > 0 ? names : socketNames();
  const results = await Promise.all(
    wanted.map(async (name) => {
      try {
        const status = await requestStatus(controlSocketPath(name), timeoutMs);
        if (!status.route || !status.dns) {
          const known = routeInfoFromState(status.name);
          status.route ??= known.route;
          status.dns ??= known.dns;
        }
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
