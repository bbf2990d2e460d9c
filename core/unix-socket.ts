// Private AF_UNIX listening sockets (the control socket /run/tund/NAME.sock, the WireGuard UAPI
// socket /run/wireguard/NAME.sock): born with mode 0600, in a directory created with the mode the
// caller asks for. A leftover socket of a crashed process is probed with a connect first (as
// wireguard-go's UAPIOpen does) and only unlinked when nobody answers; a live one is never taken.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TundError } from './errors.js';

/** What is at PATH: a live socket, a stale one (nobody listening), or nothing. */
export async function probeSocket(socketPath: string, timeoutMs = 1000): Promise<'alive' | 'stale' | 'absent'> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch {
    return 'absent';
  }
  if (!st.isSocket()) {
    throw new TundError(`"${socketPath}" exists and is not a socket`, { hint: 'remove it by hand if it is not needed' });
  }
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('alive'); // it accepted nothing in time, but something holds it: do not steal it
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('alive');
    });
    sock.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === 'ENOENT' ? 'absent' : 'stale');
    });
  });
}

export interface PrivateSocketOptions {
  /** Mode of the directory when it has to be created (an existing one is left as it is). */
  dirMode: number;
  /** The error for a socket another live process serves. */
  inUse: (socketPath: string) => TundError;
}

/** Listens on socketPath (mode 0600), after taking over a stale socket. */
export async function listenPrivateSocket(socketPath: string, options: PrivateSocketOptions): Promise<net.Server> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: options.dirMode });
  const found = await probeSocket(socketPath);
  if (found === 'alive') throw options.inUse(socketPath);
  if (found === 'stale') fs.rmSync(socketPath, { force: true });
  const server = net.createServer({ allowHalfOpen: false });
  const oldMask = process.umask(0o177); // the socket is born 0600: no window where others may connect
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  fs.chmodSync(socketPath, 0o600);
  return server;
}

/** Removes the socket file if a socket is still there (net.Server.close() usually did already). */
export function removeSocketFile(socketPath: string): void {
  try {
    if (fs.lstatSync(socketPath).isSocket()) fs.rmSync(socketPath, { force: true });
  } catch {
    /* gone already */
  }
}

/**
 * The connections of a listening private socket: each new one (utf8, destroyed on error) goes to
 * onConnection while open; close() ends them all, stops listening and removes the socket file.
 */
export class SocketConnections {
  private readonly clients = new Set<net.Socket>();
  private closed = false;

  constructor(
    readonly socketPath: string,
    private readonly server: net.Server,
    onConnection: (sock: net.Socket) => void,
  ) {
    server.on('connection', (sock: net.Socket) => {
      if (this.closed) {
        sock.destroy();
        return;
      }
      this.clients.add(sock);
      sock.setEncoding('utf8');
      sock.on('error', () => sock.destroy());
      sock.on('close', () => this.clients.delete(sock));
      onConnection(sock);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.clients) c.destroy();
    this.server.close();
    // net.Server.close() unlinks the path itself on Linux; make sure, without touching a successor's
    removeSocketFile(this.socketPath);
  }
}
