// Transport = tcp and websocket: the connection policy of a WireGuard interface whose messages go
// over TCP or WebSocket between tund peers (the messages themselves move on the engine's threads,
// engine/peer_streams.h; a WebSocket is dialed and upgraded by the addon, core/websocket/dial.ts, and
// an accepted one upgraded by the engine).
//  - every peer this side dials (it has an Endpoint) gets one connection, dialed at start and
//    again with the sessions' back-off whenever it closes; a fresh connection gets a keepalive at
//    once, so that the responder learns it (its endpoint for us follows the latest authenticated
//    message: the stream analogue of roaming) before it has anything to send us;
//  - ListenPort, or the listening socket systemd passed, accepts any number of connections; the
//    engine caps those that no peer has authenticated yet and closes them after a deadline;
//  - FwMark marks every connection's socket (a dialed one before it connects).
import { hintOf } from '../errors.js';
import { formatEndpoint } from '../net.js';
import { backoffDelay, DEFAULT_BACKOFF } from '../session/session.js';
import { native } from '../../native/index.js';
import { StreamListener, StreamSocket } from '../socket.js';
import type { WgEndpoint } from './types.js';

/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Refused and closed connections of strangers (a flood) are logged at most this often. */
const REPORT_INTERVAL_MS = 10_000;

/** A connection a dialer made, until it is handed to the engine (or closed). */
export interface DialedConnection {
  /** to the engine: null when taken, else why it was refused (then it is closed) */
  hand(): string | null;
  close(): void;
}

/** Connects to a peer's endpoint within timeoutMs, its socket marked with fwMark (0: none). */
export type Dialer = (peer: string, endpoint: WgEndpoint, o: { timeoutMs: number; fwMark: number; signal: AbortSignal }) => Promise<DialedConnection>;

export interface StreamLinksOptions {
  /** for the log: "tcp" or "websocket" */
  kind: string;
  /** hands an accepted socket to the engine: null when taken, else why it was refused */
  addConnection: (fd: number) => string | null;
  /** connects to a peer (default: a TCP connection handed to addConnection) */
  dialer?: Dialer;
  /** FwMark now (0: none) */
  fwMark: () => number;
  /** a fresh connection to the peer's endpoint is up */
  connected: (peer: string) => void;
  /** one line of the session's log (with a hint: its line too) */
  log: (message: string, hint?: string) => void;
  backoff?: { first: number; base: number; max: number };
}

interface Dialed {
  endpoint: WgEndpoint;
  failures: number;
  timer: NodeJS.Timeout | null;
  dialing: boolean;
}

export class StreamLinks {
  private readonly dialed = new Map<string, Dialed>();
  private listener: StreamListener | null = null;
  private readonly abort = new AbortController();
  private lastReport = 0;
  private unreported = 0;
  private stopped = false;

  constructor(private readonly o: StreamLinksOptions) {}

  /**
   * Listens on TCP port `port` on every address, IPv6 and IPv4 (throws a TundError), or on the
   * listening socket systemd passed (`passedFd`: a copy is taken, the original stays systemd's).
   */
  listen(port: number, passedFd: number | null = null): void {
    const listener = passedFd !== null ? StreamListener.adopt(native().dupFd(passedFd)) : StreamListener.listen('::', port);
    this.listener = listener;
    listener.accept(
      (c) => {
        const mark = this.o.fwMark();
        if (mark) {
          try {
            native().socketSetMark(c.fd, mark);
          } catch (error) {
            this.o.log(`${this.o.kind}: cannot set FwMark on an accepted connection: ${(error as Error).message}`);
          }
        }
        this.take(() => this.o.addConnection(c.fd), `from ${c.peer ? formatEndpoint(c.peer.address, c.peer.port) : '?'}`);
      },
      (error) => this.o.log(`${this.o.kind}: ${error.message}`, hintOf(error)),
    );
  }

  /** Keeps a connection to the peer's endpoint (a changed endpoint is dialed from now on). */
  dial(peer: string, endpoint: WgEndpoint): void {
    const had = this.dialed.get(peer);
    if (had && had.endpoint.host === endpoint.host && had.endpoint.port === endpoint.port) return;
    if (had?.timer) clearTimeout(had.timer);
    const d: Dialed = { endpoint, failures: 0, timer: null, dialing: false };
    this.dialed.set(peer, d);
    this.connect(peer, d);
  }

  forget(peer: string): void {
    const d = this.dialed.get(peer);
    if (d?.timer) clearTimeout(d.timer);
    this.dialed.delete(peer);
  }

  /** The engine closed the connection to `remote`: a peer dialed there is dialed again. */
  closed(remote: WgEndpoint, why: string): void {
    let dialed = false;
    for (const [peer, d] of this.dialed) {
      if (!sameEndpoint(d.endpoint, remote)) continue;
      dialed = true;
      this.o.log(`${this.o.kind}: connection to ${formatEndpoint(remote.host, remote.port)} closed (${why}); dialing again`);
      this.schedule(peer, d);
    }
    if (!dialed) this.report(`${this.o.kind}: connection from ${formatEndpoint(remote.host, remote.port)} closed: ${why}`);
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    for (const d of this.dialed.values()) if (d.timer) clearTimeout(d.timer);
    this.listener?.close();
    this.listener = null;
  }

  private take(hand: () => string | null, from: string): boolean {
    const refused = hand();
    if (refused === null) return true;
    this.report(`${this.o.kind}: refused the connection ${from}: ${refused}`);
    return false;
  }

  /** What strangers cause (refusals, their connections closing) is logged at most every 10 s. */
  private report(message: string): void {
    this.unreported++;
    const now = Date.now();
    if (now - this.lastReport < REPORT_INTERVAL_MS) return;
    this.o.log(`${message}${this.unreported > 1 ? ` (${this.unreported - 1} more such since the last report)` : ''}`);
    this.lastReport = now;
    this.unreported = 0;
  }

  private schedule(peer: string, d: Dialed): void {
    if (this.stopped || d.timer || d.dialing) return;
    const delay = backoffDelay(d.failures, this.o.backoff ?? DEFAULT_BACKOFF);
    d.failures++;
    d.timer = setTimeout(() => {
      d.timer = null;
      this.connect(peer, d);
    }, delay);
    d.timer.unref();
  }

  private connect(peer: string, d: Dialed): void {
    if (this.stopped) return;
    d.dialing = true;
    const where = formatEndpoint(d.endpoint.host, d.endpoint.port);
    const dial = this.o.dialer ?? tcpDialer(this.o.addConnection);
    dial(peer, d.endpoint, { timeoutMs: CONNECT_TIMEOUT_MS, fwMark: this.o.fwMark(), signal: this.abort.signal }).then(
      (connection) => {
        d.dialing = false;
        if (this.stopped || this.dialed.get(peer) !== d) {
          connection.close();
          return;
        }
        if (!this.take(() => connection.hand(), `to ${where}`)) {
          this.schedule(peer, d);
          return;
        }
        d.failures = 0;
        this.o.log(`${this.o.kind}: connected to ${where}`);
        this.o.connected(peer);
      },
      (error: Error) => {
        d.dialing = false;
        if (this.stopped || this.dialed.get(peer) !== d) return;
        if (d.failures === 0) this.o.log(`${this.o.kind}: ${error.message}; trying again`, hintOf(error));
        this.schedule(peer, d);
      },
    );
  }
}

/** Transport = tcp: a TCP connection, handed to the engine as it is. */
function tcpDialer(addConnection: (fd: number) => string | null): Dialer {
  return async (_peer, endpoint, o) => {
    const socket = await StreamSocket.connect(endpoint.host, endpoint.port, o.timeoutMs, o.signal, o.fwMark);
    return { hand: () => addConnection(socket.release()), close: () => socket.close() };
  };
}

function sameEndpoint(a: WgEndpoint, b: WgEndpoint): boolean {
  const plain = (h: string) => h.replace(/^::ffff:/i, '').toLowerCase();
  return a.port === b.port && plain(a.host) === plain(b.host);
}
