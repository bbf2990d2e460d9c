// What a running session knows about itself, reported through a SessionReporter (core/status).
import { formatEndpoint } from '../net.js';
import type { Counters, DeviceInfo, PeerInfo, SessionReporter, SessionSnapshot, SessionState } from '../status/types.js';
import type { KeepaliveStatus, Link, LinkCounters, PeerStatus } from './protocol.js';

const ZERO: Counters = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 };

/**
 * The session state machine (docs/sessions.md): which state may follow which. A client goes
 * connecting -> handshaking -> connected -> reconnecting -> ...; a server listening -> handshaking
 * -> connected -> listening; every state but stopped may go to stopping. A protocol whose
 * readiness comes and goes (WireGuard) may go from connected back to handshaking.
 */
export const TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  starting: ['connecting', 'listening', 'handshaking', 'stopping'],
  connecting: ['handshaking', 'reconnecting', 'stopping'],
  handshaking: ['connected', 'reconnecting', 'listening', 'stopping'],
  connected: ['reconnecting', 'listening', 'handshaking', 'stopping'],
  reconnecting: ['reconnecting', 'handshaking', 'stopping'],
  listening: ['handshaking', 'stopping'],
  stopping: ['stopped'],
  stopped: [],
};

export class SessionStatus {
  private current: SessionState = 'starting';
  private sinceValue = new Date().toISOString();
  private reasonValue: string | null = null;
  private nextAttemptValue: string | null = null;
  endpoint: string | null = null;
  device: DeviceInfo | null = null;
  latestHandshake: string | null = null;
  flags: string | null = null;
  /** the running link, while there is one */
  private link: Link | null = null;
  private lastCounters: Counters = { ...ZERO };
  private lastHandshakes: LinkCounters['handshakes'] = undefined;
  private lastRxAt: string | null = null;
  private lastKeepalive: KeepaliveStatus | null = null;
  private lastPeers: PeerInfo[] = [];

  constructor(
    readonly name: string,
    readonly role: 'client' | 'server',
    readonly protocol: string,
    readonly reporter: SessionReporter,
  ) {
    reporter.setSnapshotSource(() => this.snapshot());
  }

  get state(): SessionState {
    return this.current;
  }

  get reason(): string | null {
    return this.reasonValue;
  }

  /**
   * A state change (published: STATUS=, watch event, log line). nextAttempt: when the next
   * connection attempt starts (reconnecting only).
   */
  set(state: SessionState, reason: string | null = null, nextAttempt: Date | null = null): void {
    const next = nextAttempt ? nextAttempt.toISOString() : null;
    if (state === this.current && reason === this.reasonValue && next === this.nextAttemptValue) return;
    if (state !== this.current && !TRANSITIONS[this.current].includes(state)) {
      throw new Error(`internal error: session state ${this.current} -> ${state} is not a transition of the state machine`);
    }
    this.current = state;
    this.reasonValue = reason;
    this.nextAttemptValue = next;
    this.sinceValue = new Date().toISOString();
    this.reporter.state(this.snapshot());
  }

  /** A link runs: counters, peer and keep-alive come from it. */
  attach(link: Link): void {
    this.link = link;
    this.lastRxAt = null;
    this.refreshPeer();
  }

  /** The link ended: freeze its counters (a client shows them until the next link). */
  detach(): void {
    if (this.link) {
      this.refreshPeer();
      const c = this.link.counters();
      this.lastCounters = c.counters;
      this.lastHandshakes = c.handshakes;
    }
    this.link = null;
  }

  /** Nobody is connected (a server listening again): forget the last peer. */
  clearPeer(): void {
    this.link = null;
    this.endpoint = null;
    this.latestHandshake = null;
    this.flags = null;
    this.lastCounters = { ...ZERO };
    this.lastHandshakes = undefined;
    this.lastRxAt = null;
    this.lastKeepalive = null;
    this.lastPeers = [];
  }

  private refreshPeer(): void {
    const peers = this.link?.peers() ?? [];
    this.lastPeers = peers.flatMap(peerInfo);
    const peer = peers[0];
    if (!peer) return;
    if (peer.endpoint) this.endpoint = formatEndpoint(peer.endpoint.address, peer.endpoint.port);
    this.latestHandshake = peer.latestHandshake;
    this.flags = peer.parameters;
    this.lastKeepalive = peer.keepalive;
  }

  snapshot(): SessionSnapshot {
    let counters = this.lastCounters;
    let handshakes = this.lastHandshakes;
    if (this.link) {
      this.refreshPeer();
      const c = this.link.counters();
      counters = c.counters;
      handshakes = c.handshakes;
      if (c.msSinceRx >= 0) this.lastRxAt = new Date(Date.now() - c.msSinceRx).toISOString();
    }
    return {
      name: this.name,
      protocol: this.protocol,
      role: this.role,
      state: this.current,
      since: this.sinceValue,
      reason: this.reasonValue,
      next_attempt: this.nextAttemptValue,
      endpoint: this.endpoint,
      device: this.device,
      latest_handshake: this.latestHandshake,
      latest_keepalive: this.lastRxAt,
      keepalive: this.lastKeepalive ? { ...this.lastKeepalive } : null,
      flags: this.flags,
      counters: { ...counters },
      peers: this.lastPeers.map((p) => ({ ...p, allowed_ips: [...p.allowed_ips] })),
      handshake_drops: handshakes ? handshakes.drops : null,
      cookie_replies: handshakes ? handshakes.cookieReplies : null,
      clients: this.link?.clients ? this.link.clients() : null,
      pid: process.pid,
    };
  }
}

/** A peer with a public key (WireGuard) as status lists it; others have none of their own. */
function peerInfo(p: PeerStatus): PeerInfo[] {
  if (!p.publicKey) return [];
  return [
    {
      public_key: p.publicKey,
      endpoint: p.endpoint ? formatEndpoint(p.endpoint.address, p.endpoint.port) : null,
      latest_handshake: p.latestHandshake,
      rx_bytes: p.transfer?.rx_bytes ?? 0,
      tx_bytes: p.transfer?.tx_bytes ?? 0,
      allowed_ips: [...(p.allowedIps ?? [])],
      persistent_keepalive_s: p.keepalive ? p.keepalive.interval_s : null,
    },
  ];
}
