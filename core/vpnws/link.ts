// A vpn-ws client link (docs/vpn-ws.md): the engine's WebSocket transform moves the TAP's frames
// (never the JS event loop); JS runs the keep-alive from the engine's counters and ends the link
// on a close, EOF, errors or a silent peer.
//
// Keep-alive as vpn-ws: a ping after 17 s without traffic either way. A real vpn-ws server never
// answers pings, so silence alone proves nothing; a peer that answered a ping once (a tund hub,
// nginx in front of anything that does) and then stays silent for three intervals is dead.
// Readiness: the upgrade succeeded and the engine runs, so a frame sent now is delivered now.
import { native, type NativeWsConnection, type NativeWsLink, type WsLinkEvent, type WsLinkOptions, type WsLinkStats } from '../../native/index.js';
import type { Address } from '../socket.js';
import type { KeepaliveStatus, Link, LinkCounters, LinkEnd, LinkEndReason, PeerStatus } from '../session/protocol.js';

export const VPNWS_PING_IDLE_MS = 17_000;
/** a peer that answers pings and was silent this many ping intervals is dead */
export const VPNWS_DEAD_AFTER_PINGS = 3;

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
  private startMs = 0;
  /** close() was called, with this reason */
  private closing: string | null = null;

  constructor(private readonly o: WsClientLinkOptions) {
    this.endpoint = o.endpoint;
    this.localEnd = o.localEnd;
    this.pingIdleMs = o.pingIdleMs ?? VPNWS_PING_IDLE_MS;
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
    this.link.start();
    this.startMs = Date.now();
    // checks a few times per interval: a ping goes out between 17 and 17 + 17/4 s of idleness
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
      count: VPNWS_DEAD_AFTER_PINGS,
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
    if (this.lastPongs > 0 && s.msSinceRx > this.pingIdleMs * VPNWS_DEAD_AFTER_PINGS) {
      this.finish({ reason: 'keepalive_timeout', message: `hub silent for ${Math.round(s.msSinceRx / 1000)} s although it answered pings before: network timeout` });
      return;
    }
    const idle = s.msSinceTraffic >= 0 ? s.msSinceTraffic : Date.now() - this.startMs;
    if (idle >= this.pingIdleMs) {
      try {
        this.link.ping();
      } catch {
        // ended meanwhile; its event follows
      }
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
