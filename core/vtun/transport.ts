// After the VTun handshake: handing the connection over to the native pump. TCP: the frames follow
// on the same connection, so the pump gets its fd (and the bytes the handshake read but did not
// use: none, BlockChannel reads exactly what it needs). UDP: the port exchange of docs/vtun-protocol.md §6.3 on the
// TCP connection, then a UDP socket bound to the TCP socket's own address and port, connected to
// the peer's.
import { native } from '../../native/index.js';
import { TundError } from '../errors.js';
import type { Address, StreamSocket } from '../socket.js';
import { exchangeUdpPort, type BlockChannel } from './handshake.js';

export interface HandedOver {
  netFd: number;
  initialRx: Buffer;
  /** the peer as seen on the transport that carries the frames */
  endpoint: Address | null;
}

/** TCP: everything after the handshake stays on this connection; the pump owns its fd from now on. */
export function handOverTcp(ch: BlockChannel, socket: StreamSocket): HandedOver {
  const initialRx = ch.detach();
  const endpoint = socket.remote;
  return { netFd: socket.release(), initialRx, endpoint };
}

/** A UDP socket for the port exchange: the one systemd passed (a dup), or our own bound to the TCP socket's address. */
export function udpSocketFor(socket: StreamSocket, passedUdpFd: number | null): number {
  const addon = native();
  if (passedUdpFd !== null) {
    // systemd bound it already (ListenDatagram=, same port): the pump gets a dup, the session keeps
    // the original for the next connection; datagrams queued on it are read by the pump
    try {
      return addon.dupFd(passedUdpFd);
    } catch (error) {
      throw new TundError(`cannot use the UDP socket systemd passed (fd ${passedUdpFd}): ${(error as Error).message}`);
    }
  }
  const local = socket.local;
  if (!local) throw new TundError('internal error: the connection has no local address');
  try {
    return addon.udpSocketBind(local.address, local.port);
  } catch (error) {
    throw new TundError(`cannot bind the UDP socket to ${local.address}:${local.port}: ${(error as Error).message}`);
  }
}

/**
 * UDP (§6.3; IPv4 and IPv6): send our port (little-endian, as Debian's vtund), read the peer's,
 * connect the UDP socket (unless nat_hack: the pump connects to the first datagram's source), close
 * the TCP connection. Takes ownership of udpFd: closed on failure, returned in netFd on success.
 */
export async function exchangeAndConnectUdp(ch: BlockChannel, socket: StreamSocket, udpFd: number, timeoutMs: number, natHack: boolean): Promise<HandedOver> {
  const addon = native();
  try {
    const peer = socket.remote;
    const local = socket.local;
    if (!peer || !local) throw new TundError('internal error: the connection has no addresses');
    const peerPort = await exchangeUdpPort(ch, local.port, peer.port, timeoutMs);
    if (!natHack) addon.udpSocketConnect(udpFd, peer.address, peerPort);
    ch.detach();
    socket.close();
    return { netFd: udpFd, initialRx: Buffer.alloc(0), endpoint: { address: peer.address, port: peerPort } };
  } catch (error) {
    addon.closeFd(udpFd);
    throw error;
  }
}
