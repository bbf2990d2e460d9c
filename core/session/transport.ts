// Sockets around the handshake: connecting with a timeout, and handing the connection over to the
// native pump (TCP: a dup of the socket's fd plus the bytes already read; UDP: the port exchange
// of docs/vtun-protocol.md §6.3 and a connected UDP socket).
import net from 'node:net';
import { native } from '../../native/index.js';
import { TundError } from '../errors.js';
import { BlockChannel, exchangeUdpPort } from '../vtun/handshake.js';

export function connectWithTimeout(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TundError(`cannot connect to ${host}:${port}: timed out after ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error & { code?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new TundError(`cannot connect to ${host}:${port}: ${error.code ?? error.message}`));
    };
    socket.once('error', onError);
  });
}

export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new TundError('internal error: the connection has no file descriptor');
  return fd;
}

export interface HandedOver {
  netFd: number;
  initialRx: Buffer;
  /** peer address:port as seen on the transport that carries the frames */
  endpoint: string;
}

/** TCP: everything after the handshake stays on this connection; the pump gets a dup of its fd. */
export function handOverTcp(ch: BlockChannel, socket: net.Socket): HandedOver {
  const fd = socketFd(socket);
  const initialRx = ch.detach();
  const addon = native();
  const dup = addon.dupFd(fd);
  socket.setNoDelay(true);
  socket.setKeepAlive(true);
  const endpoint = `${socket.remoteAddress}:${socket.remotePort}`;
  socket.destroy();
  return { netFd: dup, initialRx, endpoint };
}

/**
 * UDP (docs/vtun-protocol.md §6.3; IPv4 and IPv6): bind a UDP socket to the TCP socket's own address and port (or use
 * the one systemd passed, already bound there), send our port
 * (little-endian, as Debian's vtund), read the peer's, connect, close the TCP connection.
 */
export async function handOverUdp(
  ch: BlockChannel,
  socket: net.Socket,
  timeoutMs: number,
  natHack = false,
  passedUdpFd: number | null = null,
): Promise<HandedOver> {
  const addon = native();
  const localAddress = stripV4Mapped(socket.localAddress ?? '0.0.0.0');
  const localPort = socket.localPort ?? 0;
  const peerAddress = stripV4Mapped(socket.remoteAddress ?? '');
  const peerTcpPort = socket.remotePort ?? 0;
  let fd: number;
  if (passedUdpFd !== null) {
    // systemd bound it already (ListenDatagram=, same port): the pump gets a dup, the session keeps
    // the original for the next connection; datagrams queued on it are read by the pump
    try {
      fd = addon.dupFd(passedUdpFd);
    } catch (error) {
      throw new TundError(`cannot use the UDP socket systemd passed (fd ${passedUdpFd}): ${(error as Error).message}`);
    }
  } else {
    try {
      fd = addon.udpSocketBind(localAddress, localPort);
    } catch (error) {
      throw new TundError(`cannot bind the UDP socket to ${localAddress}:${localPort}: ${(error as Error).message}`);
    }
  }
  try {
    const peerPort = await exchangeUdpPort(ch, localPort, peerTcpPort, timeoutMs);
    // nat_hack (5.4): stay unconnected; the pump connects to the first datagram's source
    if (!natHack) addon.udpSocketConnect(fd, peerAddress, peerPort);
    ch.detach();
    socket.destroy();
    return { netFd: fd, initialRx: Buffer.alloc(0), endpoint: `${peerAddress}:${peerPort}` };
  } catch (error) {
    addon.closeFd(fd);
    throw error;
  }
}

export function stripV4Mapped(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
