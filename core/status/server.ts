// The control socket of a running session: runDir()/NAME.sock, AF_UNIX stream, mode 0600, created
// by the session itself. A leftover socket of a crashed session is probed with a connect first (as
// wireguard-go's UAPIOpen does) and only unlinked when nobody answers.
// Protocol: core/status/protocol.ts.
import net from 'node:net';
import path from 'node:path';
import { TundError } from '../errors.js';
import { listenPrivateSocket, SocketConnections } from '../unix-socket.js';
import { describeState, type ReloadOutcome, type SessionSnapshot } from './types.js';
import { lineSplitter, type ControlReply, type DnsInfo, type RouteInfo, type StateEvent, type StatusSession } from './protocol.js';

export interface ControlServerOptions {
  /** current snapshot (counters pulled on demand) */
  snapshot: () => SessionSnapshot;
  route?: () => RouteInfo | null;
  dns?: () => DnsInfo | null;
  /** `reload` request: the session's reload, answered with its outcome (absent: reload is refused) */
  reload?: () => Promise<ReloadOutcome>;
  /** more keys for the status reply (e.g. the systemd unit) */
  extra?: () => { unit: string | null };
  /** how many state changes `watch` replays (default 64) */
  historySize?: number;
}

export { probeSocket } from '../unix-socket.js';

export function eventOf(s: SessionSnapshot): StateEvent {
  return {
    time: s.since,
    name: s.name,
    state: s.state,
    reason: s.reason,
    endpoint: s.endpoint,
    status: describeState(s),
  };
}

function sameEvent(a: StateEvent, b: StateEvent): boolean {
  return a.state === b.state && a.reason === b.reason && a.endpoint === b.endpoint && a.time === b.time;
}

export class ControlServer {
  private readonly watchers = new Set<net.Socket>();
  private readonly history: StateEvent[] = [];
  private readonly historySize: number;
  private readonly connections: SocketConnections;

  private constructor(
    readonly socketPath: string,
    server: net.Server,
    private readonly options: ControlServerOptions,
  ) {
    this.historySize = options.historySize ?? 64;
    this.connections = new SocketConnections(socketPath, server, (sock) => this.accept(sock));
  }

  /** Create the socket (mode 0600) at socketPath; fails if another live process holds it. */
  static async listen(socketPath: string, options: ControlServerOptions): Promise<ControlServer> {
    const server = await listenPrivateSocket(socketPath, {
      dirMode: 0o755,
      inUse: (p) =>
        new TundError(`control socket: "${p}" is in use: the session is already running`, {
          hint: `see "tunctl status ${path.basename(p, '.sock')}"`,
        }),
    });
    server.unref(); // the control socket never keeps a session alive by itself
    const control = new ControlServer(socketPath, server, options);
    control.record(eventOf(options.snapshot()));
    return control;
  }

  /** A state change: remember it and stream it to every watcher. */
  publish(snapshot: SessionSnapshot): void {
    const event = eventOf(snapshot);
    if (!this.record(event)) return;
    const line = `${JSON.stringify({ type: 'event', event } satisfies ControlReply)}\n`;
    for (const w of this.watchers) w.write(line);
  }

  private record(event: StateEvent): boolean {
    const last = this.history[this.history.length - 1];
    if (last && sameEvent(last, event)) return false;
    this.history.push(event);
    if (this.history.length > this.historySize) this.history.shift();
    return true;
  }

  statusOf(): StatusSession {
    return {
      ...this.options.snapshot(),
      route: this.options.route?.() ?? null,
      dns: this.options.dns?.() ?? null,
      unit: this.options.extra?.().unit ?? null,
    };
  }

  private accept(sock: net.Socket): void {
    const reply = (r: ControlReply) => {
      if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
    };
    const onLine = lineSplitter((line) => {
      if (this.watchers.has(sock)) return; // a watching connection only streams
      let cmd: unknown;
      try {
        cmd = (JSON.parse(line) as { cmd?: unknown }).cmd;
      } catch {
        reply({ type: 'error', error: `bad request: not JSON (expected {"cmd":"status"} or {"cmd":"watch"})` });
        return;
      }
      if (cmd === 'status') {
        try {
          reply({ type: 'status', session: this.statusOf() });
        } catch (error) {
          reply({ type: 'error', error: `status: ${error instanceof Error ? error.message : String(error)}` });
        }
      } else if (cmd === 'watch') {
        // history and registration in the same tick: no event can fall between them
        reply({ type: 'history', events: [...this.history] });
        this.watchers.add(sock);
      } else if (cmd === 'reload') {
        if (!this.options.reload) {
          reply({ type: 'error', error: 'reload: not supported by this session' });
          return;
        }
        this.options.reload().then(
          (outcome) => reply(outcome.ok ? { type: 'reloaded', message: outcome.message } : { type: 'reload_failed', problems: outcome.problems }),
          (error: unknown) => reply({ type: 'error', error: `reload: ${error instanceof Error ? error.message : String(error)}` }),
        );
      } else {
        reply({ type: 'error', error: `unknown command ${JSON.stringify(String(cmd))} (expected status, watch or reload)` });
      }
    });
    sock.on('data', onLine);
    sock.on('close', () => this.watchers.delete(sock));
  }

  /** Close every connection, stop listening and remove the socket file (only if it is still ours). */
  close(): void {
    this.connections.close();
  }
}
