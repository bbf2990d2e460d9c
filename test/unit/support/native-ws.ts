// Test harness for the vpn-ws building blocks over real TCP sockets: a byte stream over a native
// non-blocking fd, optionally inside a native TLS session (native/src/tls.*), and WebSocket ends
// built from the native HTTP upgrade and framing code (http_upgrade.*, ws_frame.*). It runs on
// the test's event loop, polling without blocking, so that an independent peer (node:tls, the
// ws package) can run in the same process. The engine will drive the same C++ from its threads.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { StreamSocket } from '../../../core/socket.js';
import { promisify } from 'node:util';
import {
  native, type NativeTlsSession, type NativeWsEncoder, type NativeWsReader, type TlsContextOptions, type WsEvent, type WsOpcode, type WsRole, type WsUpgradePolicy,
} from '../../../native/index.js';

const addon = native();

/** A listening TCP socket (socket.cc's, as the sessions use; non-blocking): its fd and port. */
export function tcpListen(addr: string, port = 0): { fd: number; port: number } {
  const fd = addon.socketListen(addr, port, 128);
  return { fd, port: addon.socketNames(fd).localPort ?? 0 };
}

/** The next connection waiting on a listening fd (non-blocking), or -1 when none is. */
export function tcpAccept(listenFd: number): number {
  return addon.socketAccept(listenFd)?.fd ?? -1;
}
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export async function until<T>(what: string, fn: () => T | undefined | false | null, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
  otherClientCert: string;
  otherClientKey: string;
  remove(): void;
}

/** A fresh CA, server (hub.test, 127.0.0.1) and client certificates, by test/helpers/make-certs.sh. */
export async function makePki(): Promise<Pki> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tund-pki-'));
  await promisify(execFile)('bash', [path.join(ROOT, 'test', 'helpers', 'make-certs.sh'), dir]);
  const f = (n: string) => path.join(dir, n);
  return {
    dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'),
    otherCa: f('other-ca.pem'), otherClientCert: f('other-client.pem'), otherClientKey: f('other-client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A connected non-blocking socket, plain or inside a native TLS session. */
export class NativeStream {
  closed = false;
  private constructor(readonly fd: number, readonly tls: NativeTlsSession | null) {}

  static async connect(port: number, tls?: TlsContextOptions & { role: 'client' }, addr = '127.0.0.1'): Promise<NativeStream> {
    const fd = (await StreamSocket.connect(addr, port, 10_000)).release();
    let stream: NativeStream;
    try {
      stream = new NativeStream(fd, tls ? new addon.TlsSession(new addon.TlsContext(tls), fd) : null);
    } catch (e) {
      addon.closeFd(fd);
      throw e;
    }
    try {
      if (stream.tls) await stream.handshake();
    } catch (e) {
      stream.close();
      throw e;
    }
    return stream;
  }

  /** The stream of an accepted fd; with a server TLS context, the handshake is left to handshake(). */
  static accepted(fd: number, tlsContext?: object): NativeStream {
    return new NativeStream(fd, tlsContext ? new addon.TlsSession(tlsContext, fd) : null);
  }

  /** Drives the TLS handshake; throws with the session's error. */
  async handshake(timeoutMs = 5000): Promise<void> {
    const tls = this.tls!;
    let last = '';
    await until('the TLS handshake', () => {
      last = tls.handshake();
      if (last === 'error' || last === 'closed') return true;
      return last === 'ok';
    }, timeoutMs);
    if (last !== 'ok') throw new Error(tls.error() || `TLS handshake: ${last}`);
  }

  /** Whatever is readable now: bytes, an empty Buffer (nothing yet), or null (end of stream). */
  read(): Buffer | null {
    if (!this.tls) return addon.fdRead(this.fd);
    const r = this.tls.read(65536);
    if (r.status === 'ok') return r.data!;
    if (r.status === 'closed') return null;
    if (r.status === 'error') throw new Error(this.tls.error());
    return Buffer.alloc(0);
  }

  async write(data: Buffer, timeoutMs = 5000): Promise<void> {
    let off = 0;
    const deadline = Date.now() + timeoutMs;
    while (off < data.length) {
      let n: number;
      if (this.tls) {
        const r = this.tls.write(data.subarray(off));
        if (r.status === 'error' || r.status === 'closed') throw new Error(this.tls.error() || `TLS write: ${r.status}`);
        n = r.written;
      } else {
        n = addon.fdWrite(this.fd, data.subarray(off));
      }
      off += n;
      if (n === 0) {
        if (Date.now() > deadline) throw new Error(`write timed out after ${off}/${data.length} bytes`);
        await sleep(1);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tls) this.tls.shutdown();
    addon.closeFd(this.fd);
  }
}

/** One WebSocket end over a NativeStream: native reader and encoder, events collected as they come. */
export class NativeWsEnd {
  readonly events: WsEvent[] = [];
  readonly reader: NativeWsReader;
  readonly encoder: NativeWsEncoder;
  eof = false;

  constructor(readonly stream: NativeStream, readonly role: WsRole, maxMessage = 1 << 20, initial?: Buffer) {
    this.reader = new addon.WsReader({ role, maxMessage });
    this.encoder = new addon.WsEncoder({ role });
    if (initial && initial.length > 0) this.events.push(...this.reader.push(initial));
  }

  /** Reads what is there (through the reader's own buffer when there is no TLS: the zero-copy path). */
  poll(): void {
    if (this.eof) return;
    if (!this.stream.tls) {
      const events = this.reader.readFrom(this.stream.fd);
      if (events === null) this.eof = true;
      else this.events.push(...events);
      return;
    }
    for (;;) {
      const bytes = this.stream.read();
      if (bytes === null) {
        this.eof = true;
        return;
      }
      if (bytes.length === 0) return;
      this.events.push(...this.reader.push(bytes));
    }
  }

  /** Waits for the next event (polling the socket) and takes it off the list. */
  async next(timeoutMs = 5000): Promise<WsEvent> {
    return until('a WebSocket event', () => {
      this.poll();
      return this.events.shift();
    }, timeoutMs);
  }

  /** Waits until the peer closes the TCP connection. */
  async waitEof(timeoutMs = 5000): Promise<void> {
    await until('the end of the stream', () => {
      this.poll();
      return this.eof;
    }, timeoutMs);
  }

  send(payload: Buffer, opcode: WsOpcode = 'binary', fin = true): Promise<void> {
    return this.stream.write(this.encoder.frame(payload, opcode, fin));
  }
}

/** A client: TCP (+ TLS) to port, the upgrade request from the native builder, its response checked. */
export async function nativeWsClient(
  port: number,
  options: { path?: string; host?: string; mac?: string; bridge?: boolean; user?: string; password?: string; tls?: TlsContextOptions & { role: 'client' }; maxMessage?: number } = {},
): Promise<NativeWsEnd> {
  const stream = await NativeStream.connect(port, options.tls);
  const key = addon.wsNewKey();
  await stream.write(Buffer.from(addon.httpClientRequest({
    path: options.path ?? '/', host: options.host ?? `127.0.0.1:${port}`, key,
    ...(options.mac ? { mac: options.mac } : {}), bridge: options.bridge ?? false,
    ...(options.user ? { user: options.user, password: options.password ?? '' } : {}),
  })));
  let head = Buffer.alloc(0);
  const response = await until('the upgrade response', () => {
    const bytes = stream.read();
    if (bytes === null) return { status: 'error' as const, problem: 'the server closed the connection' };
    head = Buffer.concat([head, bytes]);
    const r = addon.httpParseUpgradeResponse(head, key);
    return r.status === 'need_more' ? undefined : r;
  });
  if (response.status !== 'ok') {
    stream.close();
    throw new Error(`upgrade refused: ${response.problem}`);
  }
  return new NativeWsEnd(stream, 'client', options.maxMessage, head.subarray(response.consumed));
}

export interface ServerConnection {
  end: NativeWsEnd;
  upgrade: Extract<ReturnType<typeof addon.httpParseUpgradeRequest>, { status: 'ok' }>['upgrade'];
  peerSubject: string;
}

/**
 * A hub-like server on 127.0.0.1: accepts connections, (TLS,) parses the upgrade with the native
 * parser and policy, answers 101 or the refusal, then echoes every message back, answers pings
 * with pongs and a close with a close, and on a protocol error sends a close with its code.
 * `maskFrames` makes it send masked frames (a broken server, for the peer's checks).
 */
export class NativeWsServer {
  readonly connections: ServerConnection[] = [];
  readonly refused: Array<{ status: number; detail: string }> = [];
  readonly errors: string[] = [];
  /** close frames the clients sent */
  readonly closes: Array<{ code: number; reason: string }> = [];
  private readonly listenFd: number;
  readonly port: number;
  private stopped = false;
  private readonly tlsContext: object | undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly options: { policy?: WsUpgradePolicy; tls?: TlsContextOptions & { role: 'server' }; maxMessage?: number; maskFrames?: boolean } = {}) {
    const l = tcpListen('127.0.0.1');
    this.listenFd = l.fd;
    this.port = l.port;
    this.tlsContext = options.tls ? new addon.TlsContext(options.tls) : undefined;
    this.loop = this.acceptLoop();
  }

  private async acceptLoop(): Promise<void> {
    while (!this.stopped) {
      const fd = tcpAccept(this.listenFd);
      if (fd < 0) {
        await sleep(2);
        continue;
      }
      void this.serve(NativeStream.accepted(fd, this.tlsContext)).catch((e: unknown) => this.errors.push(String(e)));
    }
  }

  private async serve(stream: NativeStream): Promise<void> {
    try {
      if (stream.tls) await stream.handshake();
    } catch (e) {
      this.errors.push(String(e instanceof Error ? e.message : e));
      stream.close();
      return;
    }
    let head = Buffer.alloc(0);
    const r = await until('the upgrade request', () => {
      const bytes = stream.read();
      if (bytes === null) return { status: 'eof' as const };
      head = Buffer.concat([head, bytes]);
      const parsed = addon.httpParseUpgradeRequest(head, this.options.policy);
      return parsed.status === 'need_more' ? undefined : parsed;
    });
    if (r.status === 'eof') return stream.close();
    await stream.write(Buffer.from(r.response));
    if (r.status === 'refused') {
      this.refused.push({ status: r.refusal.status, detail: r.refusal.detail });
      return stream.close();
    }
    const end = new NativeWsEnd(stream, 'server', this.options.maxMessage, head.subarray(r.consumed));
    const encoder = this.options.maskFrames ? new addon.WsEncoder({ role: 'client' }) : end.encoder;
    this.connections.push({ end, upgrade: r.upgrade, peerSubject: stream.tls?.peerSubject() ?? '' });
    while (!this.stopped && !end.eof) {
      end.poll();
      const e = end.events.shift();
      if (!e) {
        await sleep(1);
        continue;
      }
      if (e.type === 'message') await stream.write(encoder.frame(e.data, e.opcode));
      else if (e.type === 'ping') await stream.write(encoder.frame(e.data, 'pong'));
      else if (e.type === 'close') {
        this.closes.push({ code: e.code, reason: e.reason });
        await stream.write(encoder.close(e.code === 1005 ? 0 : e.code, e.reason));
        break;
      } else if (e.type === 'error') {
        this.errors.push(`${e.code} ${e.message}`);
        await stream.write(encoder.close(e.code, e.message));
        break;
      }
    }
    stream.close();
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    addon.closeFd(this.listenFd);
    for (const c of this.connections) c.end.stream.close();
  }
}
