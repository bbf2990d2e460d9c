// TCP sockets owned by the addon (native/src/socket.cc), for what comes before the packet path:
// connecting, listening, accepting and the handshake. Reads happen only while the handshake asks
// for bytes (read(max)): nothing is read ahead, so when the handshake is over the rest of the
// stream is still in the kernel and the fd goes to the packet pump as it is (release()).
import net from 'node:net';
import { native, type NativeFdWatcher } from '../native/index.js';
import { TundError, errnoOf } from './errors.js';
import { ExitCode } from './exit.js';
import { formatEndpoint, lookupHost, plainAddress } from './net.js';

export interface Address {
  address: string;
  port: number;
}

/** Error of a socket call, with the errno name as code (ECONNREFUSED, ECONNRESET, ...). */
export class SocketError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'SocketError';
  }
}

/** What a lingering close reads and drops at most. */
const LINGER_MAX_BYTES = 4 * 1024 * 1024;

/** A connection attempt that failed: code is the errno name (ECONNREFUSED, ETIMEDOUT, ENOTFOUND ...). */
export class ConnectFailure extends TundError {
  constructor(
    readonly where: string,
    readonly code: string,
    detail: string,
  ) {
    super(`cannot connect to ${where}: ${detail}`);
  }
}

function addressOf(address: string | null, port: number | null): Address | null {
  return address === null || port === null ? null : { address: plainAddress(address), port };
}

interface PendingRead {
  max: number;
  resolve: (data: Buffer | null) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

interface PendingWrite {
  data: Buffer;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A connected TCP socket (or any stream socket fd, e.g. a socketpair in tests). */
export class StreamSocket {
  readonly local: Address | null;
  readonly remote: Address | null;
  private fdValue: number;
  private watcher: NativeFdWatcher;
  private reading: PendingRead | null = null;
  /** writes in order; the first one is in progress */
  private writes: PendingWrite[] = [];
  private failed: Error | null = null;

  constructor(fd: number) {
    this.fdValue = fd;
    const addon = native();
    addon.setNonBlocking(fd, true);
    let names: ReturnType<typeof addon.socketNames> | null = null;
    try {
      names = addon.socketNames(fd);
    } catch {
      // not an inet socket (a socketpair in tests): no addresses
    }
    this.local = names ? addressOf(names.localAddress, names.localPort) : null;
    this.remote = names ? addressOf(names.remoteAddress, names.remotePort) : null;
    this.watcher = new addon.FdWatcher(fd, (readable, writable, error) => this.onReady(readable, writable, error));
  }

  get fd(): number {
    return this.fdValue;
  }

  get closed(): boolean {
    return this.fdValue < 0;
  }

  /** "198.18.0.1:5000" / "[2001:2::1]:5000", or "?" */
  get peer(): string {
    return this.remote ? formatEndpoint(this.remote.address, this.remote.port) : '?';
  }

  /**
   * Resolves HOST (a name or a literal) and connects, within timeoutMs. Errors are ConnectFailures
   * that say where: `cannot connect to HOST:PORT: ECONNREFUSED`. fwMark: the socket's SO_MARK
   * (WireGuard's FwMark), set before it connects.
   */
  static async connect(host: string, port: number, timeoutMs: number, signal?: AbortSignal, fwMark = 0): Promise<StreamSocket> {
    const where = formatEndpoint(host, port);
    const deadline = Date.now() + timeoutMs;
    let address = host;
    if (!net.isIP(host)) {
      try {
        address = await lookupHost(host);
      } catch (error) {
        throw new ConnectFailure(where, errnoOf(error) ?? 'ENOTFOUND', `cannot resolve "${host}" (${errnoOf(error) ?? String(error)})`);
      }
    }
    const addon = native();
    let fd: number;
    try {
      fd = fwMark ? addon.socketConnect(address, port, fwMark) : addon.socketConnect(address, port);
    } catch (error) {
      throw new ConnectFailure(where, errnoOf(error) ?? 'EIO', errnoOf(error) ?? String(error));
    }
    const outcome = await new Promise<string>((resolve) => {
      let done = false;
      const finish = (result: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        watcher.close();
        resolve(result);
      };
      // libuv reports POLLERR as EBADF: the socket itself says what went wrong
      const watcher = new addon.FdWatcher(fd, (_r, writable, error) => {
        if (error || writable) finish(addon.socketError(fd) ?? error ?? 'connected');
      });
      const timer = setTimeout(() => finish('timeout'), Math.max(0, deadline - Date.now()));
      const onAbort = () => finish('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) finish('aborted');
      else watcher.start(false, true);
    });
    if (outcome === 'connected') return new StreamSocket(fd);
    addon.closeFd(fd);
    if (outcome === 'timeout') throw new ConnectFailure(where, 'ETIMEDOUT', `timed out after ${Math.round(timeoutMs / 1000)} s`);
    if (outcome === 'aborted') throw new ConnectFailure(where, 'ECANCELED', 'stopped');
    throw new ConnectFailure(where, outcome, outcome);
  }

  /**
   * Up to max bytes as soon as some are there: a Buffer with at least one byte, an empty Buffer at
   * end of stream, or null when timeoutMs passed first. Nothing is read while no read is pending.
   */
  read(max: number, timeoutMs: number): Promise<Buffer | null> {
    if (this.reading) return Promise.reject(new Error('StreamSocket: a read is already pending'));
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new SocketError('socket closed', 'EBADF'));
    return new Promise((resolve, reject) => {
      const pending: PendingRead = { max, resolve, reject, timer: null };
      pending.timer = setTimeout(() => {
        if (this.reading !== pending) return;
        this.reading = null;
        this.update();
        resolve(null);
      }, timeoutMs);
      this.reading = pending;
      this.tryRead();
    });
  }

  /** Writes all of data (waiting for room in the send buffer as needed), after earlier writes. */
  write(data: Buffer): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new SocketError('socket closed', 'EBADF'));
    return new Promise((resolve, reject) => {
      this.writes.push({ data, resolve, reject });
      if (this.writes.length === 1) this.tryWrite();
    });
  }

  /** Gives the fd away (to the packet pump or a child process): stops watching it, leaves it open. */
  release(): number {
    const fd = this.fdValue;
    this.stopAll(new SocketError('socket handed over', 'EBADF'));
    this.fdValue = -1;
    return fd;
  }

  /**
   * Closes after a refusal, so that the peer gets what was written last (VTun's ERR): FIN after
   * it, then what the peer still sends is read and dropped (at most `ms`, at most 4 MiB) before
   * the close. A close with unread bytes would reset the connection, and a peer that is still
   * sending could then lose our last words before it read them.
   */
  async closeLingering(ms = 1000): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + ms;
    try {
      if (this.writes.length > 0) throw new Error('still writing: nothing to save');
      native().socketShutdown(this.fdValue);
      for (let dropped = 0; dropped < LINGER_MAX_BYTES; ) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const chunk = await this.read(65536, left);
        if (!chunk || chunk.length === 0) break;
        dropped += chunk.length;
      }
    } catch {
      // reset or closed meanwhile: nothing more to save
    }
    this.close();
  }

  /** Closes the socket; pending reads and writes fail. Idempotent. */
  close(): void {
    if (this.closed) return;
    const fd = this.release();
    try {
      native().closeFd(fd);
    } catch {
      // closed already
    }
  }

  private rejectPending(error: Error): void {
    const r = this.reading;
    const ws = this.writes;
    this.reading = null;
    this.writes = [];
    if (r) {
      if (r.timer) clearTimeout(r.timer);
      r.reject(error);
    }
    for (const w of ws) w.reject(error);
  }

  private stopAll(error: Error): void {
    this.watcher.close();
    this.rejectPending(error);
  }

  private update(): void {
    if (this.closed) return;
    const writing = this.writes.length > 0;
    if (this.reading || writing) this.watcher.start(this.reading !== null, writing);
    else this.watcher.stop();
  }

  private fail(error: Error): void {
    this.failed = error;
    this.watcher.stop();
    this.rejectPending(error);
  }

  private onReady(readable: boolean, writable: boolean, error: string | null): void {
    if (readable && this.reading) this.tryRead();
    if (writable && this.writes.length > 0) this.tryWrite();
    if (error && (this.reading || this.writes.length > 0)) {
      // libuv reports POLLERR as EBADF and stops watching: recv/send above said what they could
      let real = error;
      try {
        real = native().socketError(this.fdValue) ?? error;
      } catch {
        // closed meanwhile
      }
      this.fail(new SocketError(`connection error: ${real}`, real));
    }
  }

  private tryRead(): void {
    const r = this.reading;
    if (!r) return;
    let data: Buffer | null;
    try {
      data = native().socketRecv(this.fdValue, Math.min(r.max, 65536));
    } catch (error) {
      this.fail(new SocketError(`connection error: ${errnoOf(error) ?? String(error)}`, errnoOf(error) ?? 'EIO'));
      return;
    }
    if (data === null) {
      this.update();
      return;
    }
    this.reading = null;
    if (r.timer) clearTimeout(r.timer);
    this.update();
    r.resolve(data);
  }

  private tryWrite(): void {
    for (let w = this.writes[0]; w; w = this.writes[0]) {
      while (w.data.length > 0) {
        let n: number;
        try {
          n = native().socketSend(this.fdValue, w.data);
        } catch (error) {
          this.fail(new SocketError(`write failed: ${errnoOf(error) ?? String(error)}`, errnoOf(error) ?? 'EIO'));
          return;
        }
        if (n === 0) {
          this.update();
          return;
        }
        w.data = w.data.subarray(n);
      }
      this.writes.shift();
      w.resolve();
    }
    this.update();
  }
}

/** A connection as accepted: the fd (for the handshake, or for a child process) and the peer. */
export interface Accepted {
  fd: number;
  peer: Address | null;
}

/** A listening TCP socket: its own (listen) or one systemd passed (adopt). */
export class StreamListener {
  private watcher: NativeFdWatcher | null = null;
  private closedValue = false;

  private constructor(
    readonly fd: number,
    /** what it listens on, for messages: "198.18.0.1:5000" or "fd 3" */
    readonly label: string,
  ) {}

  /**
   * Binds and listens; EADDRINUSE and EACCES become clear errors (77 for EACCES). The backlog is
   * Node's and nginx's 511 (the kernel caps it at net.core.somaxconn): under a connection flood
   * a short accept queue overflows and drops a real client's SYN, which then waits for its
   * retransmission (1 s, 3 s, ...); handshake-flood.sh measured 361 overflows with 64.
   */
  static listen(host: string, port: number, backlog = 511): StreamListener {
    const label = formatEndpoint(host, port);
    try {
      return new StreamListener(native().socketListen(host, port, backlog), label);
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'EACCES') throw new TundError(`cannot listen on ${label}: permission denied`, { exitCode: ExitCode.noPermission });
      if (code === 'EADDRINUSE') throw new TundError(`cannot listen on ${label}: the address is in use (EADDRINUSE)`, { hint: `see "ss -ltnp 'sport = :${port}'"` });
      throw new TundError(`cannot listen on ${label}: ${code ?? String(error)}`);
    }
  }

  /** A listening socket passed by systemd (Accept=no). */
  static adopt(fd: number): StreamListener {
    native().setNonBlocking(fd, true);
    return new StreamListener(fd, `fd ${fd}`);
  }

  /** Starts accepting: onAccept gets each connection's fd (non-blocking, close-on-exec). */
  accept(onAccept: (connection: Accepted) => void, onError: (error: Error) => void): void {
    if (this.watcher || this.closedValue) return;
    const addon = native();
    this.watcher = new addon.FdWatcher(this.fd, (readable, _w, error) => {
      if (error) {
        onError(new SocketError(`listener: ${error}`, error));
        return;
      }
      if (!readable) return;
      for (let i = 0; i < 64 && !this.closedValue; i++) {
        let got: ReturnType<typeof addon.socketAccept>;
        try {
          got = addon.socketAccept(this.fd);
        } catch (e) {
          // EMFILE and friends: say so, pause a second (the waiting connection would wake us at
          // once again), keep listening
          onError(new SocketError(`accept: ${errnoOf(e) ?? String(e)}`, errnoOf(e) ?? 'EIO'));
          this.watcher?.stop();
          setTimeout(() => {
            if (!this.closedValue) this.watcher?.start(true, false);
          }, 1000).unref();
          return;
        }
        if (!got) return;
        onAccept({ fd: got.fd, peer: addressOf(got.address, got.port) });
      }
    });
    this.watcher.start(true, false);
  }

  close(): void {
    if (this.closedValue) return;
    this.closedValue = true;
    this.watcher?.close();
    try {
      native().closeFd(this.fd);
    } catch {
      // closed already
    }
  }
}
