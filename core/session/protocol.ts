// The seam between a session (core/session/session.ts) and the protocol it speaks
// (docs/sessions.md). The session owns the device, routes, DNS, status and control socket, systemd
// notifications, reconnect and back-off, hooks, locks and reload; a protocol owns its handshake,
// its timers, its packet transform and what "connected" means for it. Nothing in core/session
// knows VTun; VTun implements this interface in core/vtun/protocol.ts.
import type { SessionConfig } from '../config/types.js';
import type { Address, StreamSocket } from '../socket.js';
import type { Counters, HubClientInfo } from '../status/types.js';
import type { SessionDevice, SessionDeviceKind } from './device.js';

/** Why a link ended. Protocols map their own conditions onto these. */
export type LinkEndReason =
  | 'peer_closed' // the peer said goodbye
  | 'eof' // the transport closed (TCP EOF or reset)
  | 'device_error' // writing to the device failed (or its program ended)
  | 'network_error' // sending or receiving failed
  | 'codec_error' // the packet transform failed
  | 'keepalive_timeout' // the peer went silent
  | 'stopped'; // ended locally (stop, reload, replaced)

export interface LinkEnd {
  reason: LinkEndReason;
  message: string;
  /** an orderly end decided locally (a pipe/tty program that exited with status 0): exit 0 */
  clean?: boolean;
}

/** Human wording of an end, for logs and STATUS=. */
export function describeEnd(end: LinkEnd): string {
  if (end.clean && end.message) return end.message;
  switch (end.reason) {
    case 'peer_closed':
      return 'connection closed by the peer';
    case 'eof':
      return 'connection lost (EOF)';
    case 'keepalive_timeout':
      return end.message;
    case 'stopped':
      return end.message && end.message !== 'stop() was called' ? `stopped (${end.message})` : 'stopped';
    default:
      return end.message ? `${end.reason.replace('_', ' ')}: ${end.message}` : end.reason.replace('_', ' ');
  }
}

/** Did the link end in a way that is not a failure (exit status 0 for a session without Persist)? */
export function isOrderlyEnd(end: LinkEnd): boolean {
  return end.clean === true || end.reason === 'peer_closed' || end.reason === 'stopped';
}

/** Keep-alive as the protocol runs it, for status. */
export interface KeepaliveStatus {
  interval_s: number;
  /** missed intervals before the link is declared dead */
  count: number;
  /** the last keep-alive answer from the peer (RFC 3339), or null */
  last_echo: string | null;
}

/** One peer of a link as status shows it. VTun and vpn-ws clients have one; WireGuard and a vpn-ws hub many. */
export interface PeerStatus {
  /** where its packets come from and go to, as the transport sees it */
  endpoint: Address | null;
  /** last successful handshake (RFC 3339) */
  latestHandshake: string | null;
  /** what the protocol negotiated, in its own notation (VTun: the flags "<TuK>") */
  parameters: string | null;
  keepalive: KeepaliveStatus | null;
  /** WireGuard (wg show's fields): the peer's public key (base64), allowed IPs and transfer */
  publicKey?: string;
  allowedIps?: string[];
  transfer?: { rx_bytes: number; tx_bytes: number };
}

export interface LinkCounters {
  counters: Counters;
  /** ms since the last frame from the peer, -1 before the first */
  msSinceRx: number;
  /**
   * WireGuard: handshake messages refused (bad MACs, unknown peer or index, failed, or under load
   * without a valid cookie) and the cookie replies sent under load. Absent for other protocols.
   */
  handshakes?: { drops: number; cookieReplies: number };
}

/**
 * A running data path: what dial() and Authenticated.link() return once packets can move. The
 * device and the transport fds belong to the link until `ended` resolves.
 */
export interface Link {
  readonly ended: Promise<LinkEnd>;
  /** this side's transport address (for the hooks' and the program's environment), or null */
  readonly localEnd: Address | null;
  /**
   * The protocol's readiness: "a packet sent now is delivered now". The listener is called with
   * the current value at once and then on every change (VTun: false, then true once; WireGuard:
   * true while the peers with endpoints have a current handshake, false again when not).
   */
  watchReadiness(listener: (ready: boolean) => void): void;
  peers(): PeerStatus[];
  counters(): LinkCounters;
  /** A hub's clients, for status (absent: not a hub). */
  clients?(): HubClientInfo[];
  /** Orderly local end (tell the peer where the protocol can); resolves when the link is down. */
  close(reason: string): Promise<void>;
  /**
   * A link that lives as long as its session (an InterfaceProtocol's) takes a reloaded
   * configuration in place (its protocol's part: keys, peers): what changed, for the log. Rejects
   * (nothing changed) when it cannot.
   */
  reconfigure?(config: SessionConfig, secret: Buffer): Promise<string>;
}

/** What a session gives a protocol while it brings a link up. */
export interface LinkContext {
  readonly config: SessionConfig;
  readonly secret: Buffer;
  /** aborted when the session stops */
  readonly signal: AbortSignal;
  /** one line of the session's log; with a hint (a failure it goes on after), the hint's line too */
  log(message: string, hint?: string): void;
  /** progress for status: the transport is connected and the handshake runs */
  handshaking(peer: Address | null): void;
  /**
   * The session's device of this kind, set up (addresses, MTU, up) or kept from the previous link.
   * A protocol asks for it once it knows the kind and before its data path starts.
   */
  device(kind: SessionDeviceKind): Promise<SessionDevice>;
  /** a bound UDP socket systemd passed (ListenDatagram=, Accept=no), for a protocol that wants one */
  readonly passedUdpFd: number | null;
  /** a listening TCP socket systemd passed (ListenStream=, Accept=no) to an interface protocol
   * (WireGuard over tcp or websocket); absent or null: none */
  readonly passedListenFd?: number | null;
}

/** The session a connection asked for, found by the handshake, with its secret. */
export interface SessionEntry {
  config: SessionConfig;
  secret: Buffer;
}

export interface AcceptOptions {
  /** handshake timeout (per message), ms */
  timeoutMs: number;
  /** aborted when the session stops: the connection is dropped */
  signal: AbortSignal;
  /** the session a peer names (VTun: HOST), or null when there is none */
  lookup(name: string): Promise<SessionEntry | null> | SessionEntry | null;
  /**
   * The session's policy for one more peer, asked once the peer proved who it is and before it is
   * told so (VTun: Multi). A string refuses the peer (the reason, logged).
   */
  admit(entry: SessionEntry): Promise<string | void>;
  /**
   * The peer named its session already (Protocol.identify, run by `tund serve` before it started
   * this process): authenticate goes on from there, within what is left of the deadline.
   */
  resume?: { name: string; leftMs: number } | undefined;
}

/** What Protocol.identify needs: the whole handshake's deadline, ms. */
export interface IdentifyOptions {
  timeoutMs: number;
}

/** An accepted connection whose peer authenticated. */
export interface Authenticated {
  entry: SessionEntry;
  peer: Address | null;
  /** what was negotiated, for status */
  parameters: string | null;
  /**
   * Brings the data path up. Null when the peer left right after the handshake (a probe such as
   * `tunauth probe`): nothing was set up, nothing to report as an error.
   */
  link(ctx: LinkContext): Promise<Link | null>;
  /** Drop the connection without a link. */
  abandon(): void;
}

/** Connection-oriented protocols (VTun; vpn-ws next): a client dials, a server accepts. */
export interface Protocol {
  readonly kind?: 'connection';
  readonly name: string;
  /** One line logged when a session of this protocol starts (a warning about its security), or null. */
  readonly notice: string | null;
  /** Client: connect to the session's endpoint, authenticate, bring the data path up. */
  dial(ctx: LinkContext): Promise<Link>;
  /** Server: authenticate one accepted connection and pick its session. Throws when refused. */
  authenticate(socket: StreamSocket, options: AcceptOptions): Promise<Authenticated>;
  /**
   * Server, first step only: reads until the peer has named the session it wants (VTun: the
   * greeting out, the HOST line in) and returns that name; nothing beyond it is read. `tund
   * serve` runs it in its own process, so that a peer costs a process only once it named a
   * session that exists; the child then calls authenticate with `resume`. A failure is thrown
   * (the protocol told the peer, if it can); the caller closes the socket.
   */
  identify?(socket: StreamSocket, options: IdentifyOptions): Promise<string>;
  /**
   * Server, for a protocol that serves all its connections at once (the vpn-ws hub): takes the
   * session's listening socket (still the session's: it closes it after the link ended) and
   * returns one link that lives as long as the session. The session then never calls
   * authenticate.
   */
  serveAll?(listenFd: number, ctx: LinkContext): Promise<Link>;
}

/**
 * Protocols without a connect or accept phase (WireGuard): one device and one UDP socket serve
 * any number of peers, whose handshakes run inside the link. `open` takes the device and the
 * socket once and returns one Link that lives as long as the session (core/session/interface.ts).
 */
export interface InterfaceProtocol {
  readonly kind: 'interface';
  readonly name: string;
  readonly notice: string | null;
  open(ctx: LinkContext): Promise<Link>;
}

export type AnyProtocol = Protocol | InterfaceProtocol;
