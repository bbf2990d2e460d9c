// VTun 3.0 through the session's protocol interface (core/session/protocol.ts): the client dials
// (TCP connect, handshake, device of the kind the server names, TCP or UDP link), the server
// authenticates an accepted connection (the HOST line picks the session) and then brings the link
// up. Wire details live next door: handshake.ts (docs/vtun-protocol.md §4), transport.ts (§6.3), link.ts (§7, §8).
import { TundError } from '../errors.js';
import { native } from '../../native/index.js';
import type { AcceptOptions, Authenticated, IdentifyOptions, Link, LinkContext, Protocol, SessionEntry } from '../session/protocol.js';
import { StreamSocket, type Address } from '../socket.js';
import { deviceKindFor, flagsFromConfig, type VtunFlags } from './flags.js';
import { BlockChannel, HandshakeError, clientHandshake, serverGreeting, serverHandshake } from './handshake.js';
import { VTUND_HOLD_BACK_MS, VtunLink } from './link.js';
import { acceptedOfferText, offerProblems } from './requirements.js';
import { exchangeAndConnectUdp, handOverTcp, udpSocketFor, type HandedOver } from './transport.js';

export const VTUN_NOTICE =
  'warning: VTun has no integrity or replay protection and a fixed password-derived key; use it only over networks you trust (or inside another secure tunnel)';

interface LinkParams {
  flags: VtunFlags;
  flagsText: string;
  peerIsTund: boolean;
  /** this side's send limit, kbit/s */
  speedKbps: number;
  latestHandshake: string;
}

function startLink(ctx: LinkContext, p: LinkParams, handed: HandedOver, local: Address | null, deviceFd: number): Link {
  const s = ctx.config.session;
  const link = new VtunLink({
    flags: p.flags,
    flagsText: p.flagsText,
    netFd: handed.netFd,
    deviceFd,
    password: ctx.secret,
    initialRx: handed.initialRx,
    keepalive: s.keepalive,
    natHack: s.natHack && p.flags.transport === 'udp',
    speedKbps: p.speedKbps,
    holdBackMs: p.peerIsTund ? 0 : VTUND_HOLD_BACK_MS,
    endpoint: handed.endpoint,
    localEnd: local,
    latestHandshake: p.latestHandshake,
  });
  try {
    link.start();
  } catch (error) {
    throw new TundError(`cannot start the packet pump: ${(error as Error).message}`);
  }
  return link;
}

/** Closes the socket when the session stops (a pending read or write then fails); returns the undo. */
function closeOnAbort(socket: StreamSocket, signal: AbortSignal): () => void {
  const onAbort = () => socket.close();
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** Something went wrong with the connection once the handshake succeeded: a network error. */
function linkSetupError(error: unknown): Error {
  if (error instanceof TundError) return error;
  return new TundError(`network error: ${error instanceof Error ? error.message : String(error)}`);
}

export const vtunProtocol: Protocol = {
  name: 'vtun',
  notice: VTUN_NOTICE,

  async dial(ctx: LinkContext): Promise<Link> {
    const s = ctx.config.session;
    const endpoint = s.endpoint;
    if (!endpoint) throw new TundError(`${ctx.config.name}: a client session needs [Session] Endpoint`);
    const timeoutMs = s.timeout * 1000;
    const socket = await StreamSocket.connect(endpoint.host, endpoint.port, timeoutMs, ctx.signal);
    const undoAbort = closeOnAbort(socket, ctx.signal);
    try {
      ctx.handshaking(socket.remote);
      const ch = new BlockChannel(socket);
      let hs;
      try {
        hs = await clientHandshake(ch, { host: s.host, password: ctx.secret, sslAuth: s.sslAuth, timeoutMs });
      } catch (error) {
        if (error instanceof HandshakeError && error.kind === 'auth') {
          throw new TundError(`authentication failed: the server refused the password or the session name "${s.host}"`);
        }
        throw error;
      }
      const shortfall = offerProblems(ctx.config, hs.flags);
      if (shortfall.length > 0) {
        // a link failure like any other (the session reconnects with back-off and status shows
        // why); the socket closes before a single frame went out
        throw new TundError(`refused ${socket.peer}: ${shortfall.join('; ')} (a fake or misconfigured server?)`);
      }
      if (s.cipher === 'no') ctx.log(`Encrypt is not set: accepting what ${socket.peer} offered (${acceptedOfferText(hs.flags)})`);
      const latestHandshake = new Date().toISOString();
      ctx.log(`authenticated to ${socket.peer} as "${s.host}", flags ${hs.flagsText}${hs.peerIsTund ? '' : ' (the server may be vtund: data waits a moment after the start)'}`);
      // the device goes up first: frames the server sends meanwhile wait in the socket buffer
      const device = await ctx.device(deviceKindFor(hs.flags.type));
      const local = socket.local;
      let handed: HandedOver;
      try {
        handed = hs.flags.transport === 'udp' ? await exchangeAndConnectUdp(ch, socket, udpSocketFor(socket, null), timeoutMs, s.natHack) : handOverTcp(ch, socket);
      } catch (error) {
        throw linkSetupError(error);
      }
      try {
        return startLink(ctx, { flags: hs.flags, flagsText: hs.flagsText, peerIsTund: hs.peerIsTund, speedKbps: hs.flags.speed, latestHandshake }, handed, local, device.device.fd);
      } catch (error) {
        closeQuietly(handed.netFd);
        throw error;
      }
    } finally {
      undoAbort();
      if (!socket.closed) socket.close();
    }
  },

  identify(socket: StreamSocket, o: IdentifyOptions): Promise<string> {
    return serverGreeting(new BlockChannel(socket), { timeoutMs: o.timeoutMs });
  },

  async authenticate(socket: StreamSocket, o: AcceptOptions): Promise<Authenticated> {
    const ch = new BlockChannel(socket);
    let chosen: SessionEntry | null = null;
    let result;
    const undoAbort = closeOnAbort(socket, o.signal);
    try {
      result = await serverHandshake(ch, {
        timeoutMs: o.timeoutMs,
        resume: o.resume ? { host: o.resume.name, leftMs: o.resume.leftMs } : undefined,
        lookup: async (host) => {
          chosen = await o.lookup(host);
          return chosen ? { password: chosen.secret, sslAuth: chosen.config.session.sslAuth, flags: flagsFromConfig(chosen.config) } : null;
        },
        authorize: () => o.admit(chosen!),
      });
    } catch (error) {
      // the ERR block went out: let it arrive before the connection goes
      await socket.closeLingering();
      throw error;
    } finally {
      undoAbort();
    }
    const entry = chosen as unknown as SessionEntry;
    const latestHandshake = new Date().toISOString();
    const flags = result.entry.flags;
    const params: LinkParams = { flags, flagsText: result.flagsText, peerIsTund: result.peerIsTund, speedKbps: entry.config.session.speed.out, latestHandshake };
    return {
      entry,
      peer: socket.remote,
      parameters: result.flagsText,
      abandon: () => socket.close(),
      async link(ctx: LinkContext): Promise<Link | null> {
        const timeoutMs = ctx.config.session.timeout * 1000;
        const local = socket.local;
        let handed: HandedOver;
        const undo = closeOnAbort(socket, ctx.signal);
        try {
          if (flags.transport === 'udp') {
            // the port exchange first: a peer that leaves right after the handshake (a probe) is
            // seen here, before any device is touched; the client's first datagrams wait in the
            // bound UDP socket meanwhile
            const udpFd = udpSocketFor(socket, ctx.passedUdpFd);
            try {
              handed = await exchangeAndConnectUdp(ch, socket, udpFd, timeoutMs, ctx.config.session.natHack);
            } catch (error) {
              if (error instanceof HandshakeError && error.kind === 'closed') return null;
              throw error;
            }
          } else {
            // every VTun client starts its link with a frame (ECHO_REQ, docs/vtun-protocol.md §7.5): wait for its
            // first byte, so that a peer that only authenticated and left gets no device
            ch.detach();
            const first = await socket.read(1, timeoutMs).catch(() => Buffer.alloc(0));
            if (first === null) throw new TundError(`network error: the peer sent nothing within ${timeoutMs / 1000} s of the handshake`);
            if (first.length === 0) return null;
            handed = handOverTcp(ch, socket);
            handed.initialRx = Buffer.concat([first, handed.initialRx]);
          }
        } catch (error) {
          throw linkSetupError(error);
        } finally {
          undo();
          if (!socket.closed && flags.transport === 'udp') socket.close();
        }
        let device;
        try {
          device = await ctx.device(deviceKindFor(flags.type));
        } catch (error) {
          closeQuietly(handed.netFd);
          throw error;
        }
        try {
          return startLink(ctx, params, handed, local, device.device.fd);
        } catch (error) {
          closeQuietly(handed.netFd);
          throw error;
        }
      },
    };
  },
};

function closeQuietly(fd: number): void {
  try {
    native().closeFd(fd);
  } catch {
    // the pump took it already
  }
}
