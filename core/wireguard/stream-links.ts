// Transport = tcp: the connection policy of a WireGuard interface whose messages go over TCP
// between tund peers (the messages themselves move on the engine's threads, engine/peer_streams.h).
//  - every peer this side dials (it has an Endpoint) gets one connection, dialed at start and
//    again with the sessions' back-off whenever it closes; a fresh connection gets a keepalive at
//    once, so that the responder learns it (its endpoint for us follows the latest authenticated
//    message: the stream analogue of roaming) before it has anything to send us;
//  - ListenPort, when set, accepts any number of connections; the engine caps those that no peer
//    has authenticated yet and closes them after a deadline.
import { formatEndpoint } from '../net.js';
import { backoffDelay, DEFAULT_BACKOFF } from '../session/session.js';
import { StreamListener, StreamSocket } from '../socket.js';
import type { WgEndpoint } from './types.js';

/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Refused and closed connections of strangers (a flood) are logged at most this often. */
const REPORT_INTERVAL_MS = 10_000;

export interface StreamLinksOptions {
  /** hands a connected socket to the engine: null when taken, else why it was refused */
  addConnection: (fd: number) => string | null;
  /** a fresh connection to the peer's endpoint is up */
  connected: (peer: string) => void;
  log: (message: string) => void;
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

  /** Listens on TCP port `port` on every address, IPv6 and IPv4 (throws a TundError). */
  listen(port: number): void {
    const listener = StreamListener.listen('::', port);
    this.listener = listener;
    listener.accept(
      (c) => this.take(c.fd, c.peer ? formatEndpoint(c.peer.address, c.peer.port) : '?'),
      (error) => this.o.log(`tcp: ${error.message}`),
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
      this.o.log(`tcp: connection to ${formatEndpoint(remote.host, remote.port)} closed (${why}); dialing again`);
      this.schedule(peer, d);
    }
    if (!dialed) this.report(`tcp: connection from ${formatEndpoint(remote.host, remote.port)} closed: ${why}`);
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    for (const d of this.dialed.values()) if (d.timer) clearTimeout(d.timer);
    this.listener?.close();
    this.listener = null;
  }

  private take(fd: number, from: string): boolean {
    const refused = this.o.addConnection(fd);
    if (refused === null) return true;
    this.report(`tcp: refused the connection from ${from}: ${refused}`);
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
    StreamSocket.connect(d.endpoint.host, d.endpoint.port, CONNECT_TIMEOUT_MS, this.abort.signal).then(
      (socket) => {
        d.dialing = false;
        if (this.stopped || this.dialed.get(peer) !== d) {
          socket.close();
          return;
        }
        const fd = socket.release();
        if (!this.take(fd, where)) {
          this.schedule(peer, d);
          return;
        }
        d.failures = 0;
        this.o.log(`tcp: connected to ${where}`);
        this.o.connected(peer);
      },
      (error: Error) => {
        d.dialing = false;
        if (this.stopped || this.dialed.get(peer) !== d) return;
        if (d.failures === 0) this.o.log(`tcp: ${error.message}; trying again`);
        this.schedule(peer, d);
      },
    );
  }
}

function sameEndpoint(a: WgEndpoint, b: WgEndpoint): boolean {
  const plain = (h: string) => h.replace(/^::ffff:/i, '').toLowerCase();
  return a.port === b.port && plain(a.host) === plain(b.host);
}
