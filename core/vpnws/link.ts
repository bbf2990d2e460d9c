// A vpn-ws client link (docs/vpn-ws.md): the engine's WebSocket transform moves the TAP's frames
// (never the JS event loop); JS runs the keep-alive from the engine's counters and ends the link
// on a close, EOF, errors or a silent peer.
//
// Keep-alive (Keepalive = INTERVAL:COUNT, default 17:3 as vpn-ws pings after 17 s): a ping when
// nothing was *received* for an interval, whatever is being sent, so one-way traffic does not hide
// a dead hub. One ping right after the upgrade learns whether the hub answers pings: a real vpn-ws
// server never does, so silence alone proves nothing there; a hub that answered a ping (a tund
// hub, nginx in front of anything that does) and then sends nothing for COUNT intervals is dead.
// Against any hub, TCP_USER_TIMEOUT (the same COUNT intervals, set by the dialer) ends a
// connection whose data (frames or pings) stays unacknowledged: a path that drops silently.
// Readiness: the upgrade succeeded and the engine runs, so a frame sent now is delivered now.
import { native, type NativeWsConnection, type NativeWsLink, type WsLinkEvent, type WsLinkOptions, type WsLinkStats } from '../../native/index.js';
import type { Address } from '../socket.js';
import type { KeepaliveStatus, Link, LinkCounters, LinkEnd, LinkEndReason, PeerStatus } from '../session/protocol.js';

export const VPNWS_PING_IDLE_MS = 17_000;
/** a peer that answers pings and was silent this many ping intervals is dead */
export const VPNWS_DEAD_AFTER_PINGS = 3;

/** The keep-alive of a vpn-ws client: Keepalive = INTERVAL:COUNT, or vpn-ws's 17 s and 3. */
export function vpnwsKeepalive(k: { enabled: boolean; interval: number; count: number }): { pingIdleMs: number; deadAfterPings: number } {
  return k.enabled ? { pingIdleMs: k.interval * 1000, deadAfterPings: k.count } : { pingIdleMs: VPNWS_PING_IDLE_MS, deadAfterPings: VPNWS_DEAD_AFTER_PINGS };
}

export interface WsClientLinkOptions {
  deviceFd: number;
  connection: NativeWsConnection;
  /** largest Ethernet frame either way: device MTU + 18 */
  maxMessage: number;
  endpoint: Address | null;
  localEnd: Address | null;
  /** "ws" / "TLSv1.3 CN=hub.test": what status shows as the negotiated parameters */
  parameters: string;
  latestHandshake: string;
  pingIdleMs?: number;
  deadAfterPings?: number;
  /** test seam */
  createLink?: (options: WsLinkOptions, onEvent: (event: WsLinkEvent) => void) => NativeWsLink;
}

const END_REASONS: readonly LinkEndReason[] = ['peer_closed', 'eof', 'device_error', 'network_error', 'codec_error', 'keepalive_timeout', 'stopped'];

export class WsClientLink implements Link {
  readonly ended: Promise<LinkEnd>;
  readonly endpoint: Address | null;
  readonly localEnd: Address | null;
  private link: NativeWsLink;
  private resolveEnd!: (end: LinkEnd) => void;
  private done = false;
  private timer: NodeJS.Timeout | null = null;
  private lastStats: WsLinkStats | null = null;
  private lastPongs = 0;
  private pongMs = -1;
  private readonly pingIdleMs: number;
  private readonly deadAfterPings: number;
  private startMs = 0;
  private lastPingMs = 0;
  /** close() was called, with this reason */
  private closing: string | null = null;

  constructor(private readonly o: WsClientLinkOptions) {
    this.endpoint = o.endpoint;
    this.localEnd = o.localEnd;
    this.pingIdleMs = o.pingIdleMs ?? VPNWS_PING_IDLE_MS;
    this.deadAfterPings = o.deadAfterPings ?? VPNWS_DEAD_AFTER_PINGS;
    this.ended = new Promise((resolve) => (this.resolveEnd = resolve));
    const create = o.createLink ?? ((options: WsLinkOptions, onEvent: (event: WsLinkEvent) => void) => new (native().WsLink)(options, onEvent));
    this.link = create(
      { deviceFd: o.deviceFd, netFd: o.connection.fd, connection: o.connection, role: 'client', maxMessage: o.maxMessage },
      (event) => {
        if (event.type !== 'ended') return;
        const reason = (END_REASONS as readonly string[]).includes(event.reason) ? (event.reason as LinkEndReason) : 'network_error';
        // the hub's answer to our own close is the end we asked for
        if (this.closing !== null && (reason === 'peer_closed' || reason === 'eof')) this.finish({ reason: 'stopped', message: this.closing });
        else this.finish({ reason, message: event.message });
      },
    );
  }

  start(): void {
    try {
      this.link.start();
    } catch (error) {
      // The engine took the connection's socket at construction, but closes it only when it stops
      // after a start (docs/engine.md, Lifecycle): close it here, and stop the engine, which then
      // lets go of its callback (and through it this link). The hub sees the connection close.
      try {
        this.link.stop();
      } catch {
        // stopped already
      }
      try {
        native().closeFd(this.o.connection.fd);
      } catch {
        // the start's error is the one to report
      }
      throw error;
    }
    this.startMs = Date.now();
    // does the hub answer pings? (a vpn-ws server ignores this one)
    this.ping();
    // checks a few times per interval: a ping goes out between 17 and 17 + 17/4 s of silence
    this.timer = setInterval(() => this.keepalive(), Math.max(50, Math.floor(this.pingIdleMs / 4)));
  }

  watchReadiness(listener: (ready: boolean) => void): void {
    listener(!this.done);
  }

  peers(): PeerStatus[] {
    return [{ endpoint: this.endpoint, latestHandshake: this.o.latestHandshake, parameters: this.o.parameters, keepalive: this.keepaliveStatus() }];
  }

  counters(): LinkCounters {
    const s = this.stats();
    return { counters: { rx_bytes: s.rxBytes, tx_bytes: s.txBytes, rx_packets: s.rxPackets, tx_packets: s.txPackets }, msSinceRx: s.msSinceRx };
  }

  stats(): WsLinkStats {
    if (this.done && this.lastStats) return this.lastStats;
    try {
      this.lastStats = this.link.stats();
    } catch {
      // the link is gone
    }
    return this.lastStats ?? ({ msSinceRx: -1, msSinceTraffic: -1, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 } as WsLinkStats);
  }

  async close(reason: string): Promise<void> {
    if (this.done) return;
    this.closing = reason;
    // an orderly close frame (1001: going away); the peer's answer or EOF ends the link, or a
    // short wait does
    try {
      this.link.close(1001);
    } catch {
      // ended meanwhile
    }
    const wait = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
    await Promise.race([this.ended.then(() => undefined), wait]);
    this.finish({ reason: 'stopped', message: reason });
    await this.ended;
  }

  private keepaliveStatus(): KeepaliveStatus {
    return {
      interval_s: Math.round(this.pingIdleMs / 1000),
      count: this.deadAfterPings,
      last_echo: this.pongMs >= 0 ? new Date(this.pongMs).toISOString() : null,
    };
  }

  private keepalive(): void {
    if (this.done) return;
    const s = this.stats();
    if (s.pongsReceived !== this.lastPongs) {
      this.lastPongs = s.pongsReceived;
      this.pongMs = Date.now();
    }
    // nothing received since the start counts from the start
    const silent = s.msSinceRx >= 0 ? s.msSinceRx : Date.now() - this.startMs;
    if (this.lastPongs > 0 && silent > this.pingIdleMs * this.deadAfterPings) {
      this.finish({ reason: 'keepalive_timeout', message: `hub silent for ${Math.round(silent / 1000)} s although it answered pings before: network timeout` });
      return;
    }
    // one ping per interval of silence (pings do not count as traffic received)
    if (silent >= this.pingIdleMs && Date.now() - this.lastPingMs >= this.pingIdleMs) this.ping();
  }

  private ping(): void {
    this.lastPingMs = Date.now();
    try {
      this.link.ping();
    } catch {
      // ended meanwhile; its event follows
    }
  }

  private finish(end: LinkEnd): void {
    if (this.done) return;
    this.stats();
    this.done = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      this.link.stop();
    } catch {
      // stopped already
    }
    this.stats();
    this.resolveEnd(end);
  }
}
