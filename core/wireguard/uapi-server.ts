// Serves the WireGuard userspace API (uapi.ts) on DIR/IFNAME.sock (default /run/wireguard, the
// directory wg(8) looks in), so `wg show`, `wg showconf`, `wg set` and `wg syncconf` work on a
// tund session as on wireguard-go. The socket is 0600 in a 0700 directory (root only, like the
// keys it reveals); a stale socket is taken over, a live one is not. Requests are answered in
// order, several per connection; a malformed stream closes the connection, as wireguard-go does.
import type net from 'node:net';
import path from 'node:path';
import { TundError } from '../errors.js';
import { listenPrivateSocket, SocketConnections } from '../unix-socket.js';
import { wipeDeviceKeys } from './keys.js';
import { EIO, encodeErrno, encodeGetResponse, nextRequest, parseSetRequest, type UapiProvider } from './uapi.js';

export const UAPI_DIR = '/run/wireguard';

/** Largest request accepted (a `wg syncconf` of thousands of peers stays far below). */
const MAX_INPUT = 16 * 1024 * 1024;

export interface UapiServerOptions {
  /** Interface name: the socket is DIR/NAME.sock. */
  name: string;
  provider: UapiProvider;
  /** Directory of the socket (tests); default /run/wireguard. */
  dir?: string;
  /** One line per refused request or failed set, for the session's log (no secrets in it). */
  log?: (message: string) => void;
}

export class UapiServer {
  private readonly connections: SocketConnections;

  private constructor(
    readonly socketPath: string,
    server: net.Server,
    private readonly options: UapiServerOptions,
  ) {
    this.connections = new SocketConnections(socketPath, server, (sock) => this.accept(sock));
  }

  static async listen(options: UapiServerOptions): Promise<UapiServer> {
    const socketPath = path.join(options.dir ?? UAPI_DIR, `${options.name}.sock`);
    const server = await listenPrivateSocket(socketPath, {
      dirMode: 0o700,
      inUse: (p) =>
        new TundError(`wireguard: "${p}" is in use: another process serves interface ${options.name}`, {
          hint: 'is wireguard-go or another tund session running with this name?',
        }),
    });
    server.unref();
    return new UapiServer(socketPath, server, options);
  }

  private accept(sock: net.Socket): void {
    let input = '';
    let busy = false;
    const log = (m: string) => this.options.log?.(`uapi: ${m}`);

    // One request at a time, in order: a set must be applied before the next get is answered.
    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          const frame = nextRequest(input);
          if (frame === null) break;
          if ('error' in frame) {
            log(`closing a connection: ${frame.error}`);
            sock.destroy();
            return;
          }
          input = frame.rest;
          const reply = await this.answer(frame.request, log);
          if (sock.destroyed) return;
          sock.write(reply);
        }
      } finally {
        busy = false;
      }
    };

    sock.on('data', (chunk: string) => {
      input += chunk;
      if (input.length > MAX_INPUT) {
        log(`closing a connection: request larger than ${MAX_INPUT} bytes`);
        sock.destroy();
        return;
      }
      void pump();
    });
  }

  private async answer(request: { kind: 'get' } | { kind: 'set'; lines: string[] }, log: (m: string) => void): Promise<string> {
    try {
      if (request.kind === 'get') return encodeGetResponse(await this.options.provider.get());
      const parsed = parseSetRequest(request.lines);
      if (!parsed.ok) {
        log(`set refused: ${parsed.message}`);
        return encodeErrno(parsed.errno);
      }
      let errno: number;
      try {
        errno = await this.options.provider.set(parsed.request);
      } finally {
        // parsed here from the hex text (a string: that cannot be wiped), handed on, done with
        wipeDeviceKeys(parsed.request);
      }
      if (errno !== 0) log(`set failed with errno ${errno}`);
      return encodeErrno(errno);
    } catch (error) {
      log(`${request.kind} failed: ${error instanceof Error ? error.message : String(error)}`);
      return encodeErrno(EIO);
    }
  }

  /** Close every connection, stop listening and remove the socket file. */
  close(): void {
    this.connections.close();
  }
}
