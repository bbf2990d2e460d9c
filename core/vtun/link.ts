// The link phase of one VTun connection: the native pump moves the frames (never the JS event
// loop); JS runs the keep-alive algorithm of vtund (docs/vtun-protocol.md §8) from the pump's counters
// and ends the link on CONN_CLOSE, EOF, errors or a dead peer.
//
// Readiness ("a packet sent now is delivered now"): the peer's link runs (its first frame arrived:
// every VTun peer sends an ECHO_REQ when its link starts, or answers ours, docs/vtun-protocol.md §7.5; with nat_hack
// on this side the pump also needs that datagram to know where to send) and the hold-back is over.
// Towards a peer that may be vtund, data is held back for a moment after the start, because vtund
// brings its device up in parallel with its link and ends the session on the first packet that
// arrives before (§6.5); a tund peer (handshake.ts, TUND_MARK) starts its link only once its
// device is up, so there is no hold-back and its first frame is the proof.
import { native, type NativePump, type PumpEvent, type PumpOptions, type PumpStats } from '../../native/index.js';
import type { Address } from '../socket.js';
import type { KeepaliveStatus, Link, LinkCounters, LinkEnd, PeerStatus } from '../session/protocol.js';
import type { VtunFlags } from './flags.js';
import { dataKey } from './keys.js';

/** How long data is held back towards a peer that may be vtund (docs/vtun-protocol.md §6.5: ~1-1.5 s). */
export const VTUND_HOLD_BACK_MS = 1200;

export interface LinkOptions {
  flags: VtunFlags;
  flagsText: string;
  netFd: number;
  deviceFd: number;
  password: Buffer;
  initialRx: Buffer;
  /** this side's keep-alive interval and failure count (only used when flags.keepalive) */
  keepalive: { interval: number; count: number };
  natHack: boolean;
  /** what this side may send, kbit/s (client: the server's S flag; server: its own speed OUT) */
  speedKbps: number;
  /** hold data back after start: VTUND_HOLD_BACK_MS towards a peer that may be vtund, 0 towards tund */
  holdBackMs: number;
  endpoint: Address | null;
  /** this side of the transport */
  localEnd: Address | null;
  latestHandshake: string;
  /** test seam: builds the pump (default: the native addon's Pump) */
  createPump?: (options: PumpOptions, onEvent: (event: PumpEvent) => void) => NativePump;
}

/** How often readiness looks for the peer's first frame (the pump has no event for it): often at
 * first, then rarely (both sides with nat_hack: nobody ever sends first). */
const FIRST_FRAME_POLL_MS = 5;
const FIRST_FRAME_SLOW_POLL_MS = 100;
const FIRST_FRAME_FAST_FOR_MS = 2000;

export class VtunLink implements Link {
  readonly ended: Promise<LinkEnd>;
  private pump: NativePump;
  private resolveEnd!: (end: LinkEnd) => void;
  private done = false;
  private timers: NodeJS.Timeout[] = [];
  private lastStats: PumpStats | null = null;
  private ready = false;
  private readinessListeners: ((ready: boolean) => void)[] = [];
  private readinessTimer: NodeJS.Timeout | null = null;
  readonly endpoint: Address | null;
  readonly localEnd: Address | null;

  constructor(private readonly o: LinkOptions) {
    this.endpoint = o.endpoint;
    this.localEnd = o.localEnd;
    this.ended = new Promise((resolve) => (this.resolveEnd = resolve));
    const create = o.createPump ?? ((options: PumpOptions, onEvent: (event: PumpEvent) => void) => new (native().Pump)(options, onEvent));
    this.pump = create(
      {
        deviceFd: o.deviceFd,
        deviceKind: o.flags.type === 'tun' || o.flags.type === 'ether' ? 'packet' : 'stream',
        netFd: o.netFd,
        transport: o.flags.transport,
        natHack: o.natHack,
        compression: o.flags.compression,
        cipher: o.flags.cipher,
        key: dataKey(o.flags.cipher, o.password),
        sendDelayMs: o.holdBackMs,
        speedKbps: o.speedKbps,
        initialRx: o.initialRx,
      },
      (event) => {
        if (event.type === 'ended') this.finish({ reason: event.reason, message: event.message });
      },
    );
  }

  start(): void {
    try {
      this.pump.start();
    } catch (error) {
      // A pump that never ran holds its callback (and through it this link) until stopped: stop
      // it. The socket stays the caller's to close (docs/engine.md, Lifecycle).
      this.safe(() => this.pump.stop());
      throw error;
    }
    if (this.o.flags.keepalive) this.startKeepalive();
    this.awaitReadiness();
  }

  watchReadiness(listener: (ready: boolean) => void): void {
    this.readinessListeners.push(listener);
    listener(this.ready);
  }

  peers(): PeerStatus[] {
    return [
      {
        endpoint: this.endpoint,
        latestHandshake: this.o.latestHandshake,
        parameters: this.o.flagsText,
        keepalive: this.keepaliveStatus(),
      },
    ];
  }

  counters(): LinkCounters {
    const s = this.stats();
    return { counters: { rx_bytes: s.rxBytes, tx_bytes: s.txBytes, rx_packets: s.rxPackets, tx_packets: s.txPackets }, msSinceRx: s.msSinceRx };
  }

  stats(): PumpStats {
    if (this.done && this.lastStats) return this.lastStats;
    try {
      this.lastStats = this.pump.stats();
    } catch {
      // pump already gone
    }
    return this.lastStats ?? emptyStats();
  }

  private keepaliveStatus(): KeepaliveStatus | null {
    if (!this.o.flags.keepalive) return null;
    const s = this.stats();
    return {
      interval_s: Math.max(1, this.o.keepalive.interval),
      count: Math.max(0, this.o.keepalive.count),
      last_echo: s.msSinceEchoReply >= 0 ? new Date(Date.now() - s.msSinceEchoReply).toISOString() : null,
    };
  }

  private setReady(): void {
    if (this.ready || this.done) return;
    this.ready = true;
    for (const l of this.readinessListeners) l(true);
  }

  private awaitReadiness(): void {
    const started = Date.now();
    const firstFrame = () => {
      if (this.done) return;
      if (this.stats().msSinceRx >= 0) return this.setReady();
      const fast = Date.now() - started < FIRST_FRAME_FAST_FOR_MS + this.o.holdBackMs;
      this.readinessTimer = setTimeout(firstFrame, fast ? FIRST_FRAME_POLL_MS : FIRST_FRAME_SLOW_POLL_MS);
    };
    if (this.o.holdBackMs > 0) this.readinessTimer = setTimeout(firstFrame, this.o.holdBackMs);
    else firstFrame();
  }

  /**
   * vtund's algorithm: a check every INTERVAL+1 s (first after INTERVAL s); any frame from the peer
   * since the last check resets the idle counter; at a check, idle > COUNT ends the link, else
   * idle is incremented and, if it was already >= 1, an ECHO_REQ goes out.
   */
  private startKeepalive(): void {
    const interval = Math.max(1, this.o.keepalive.interval);
    const count = Math.max(0, this.o.keepalive.count);
    let idle = 0;
    let lastRx = -1;
    const check = () => {
      if (this.done) return;
      const s = this.stats();
      if (s.rxFrames !== lastRx) {
        lastRx = s.rxFrames;
        idle = 0;
      }
      if (idle > count) {
        this.finish({ reason: 'keepalive_timeout', message: `peer silent for ${Math.round((s.msSinceRx >= 0 ? s.msSinceRx : (idle * (interval + 1)) * 1000) / 1000)} s: network timeout (keepalive ${interval}:${count})` });
        return;
      }
      if (idle++ >= 1) {
        try {
          this.pump.sendControl('echo_req');
        } catch {
          // the pump ended meanwhile; its event follows
        }
      }
    };
    const first = setTimeout(() => {
      check();
      const t = setInterval(check, (interval + 1) * 1000);
      this.timers.push(t);
    }, interval * 1000);
    this.timers.push(first);
  }

  private finish(end: LinkEnd): void {
    if (this.done) return;
    this.stats();
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.readinessTimer) clearTimeout(this.readinessTimer);
    if (end.reason !== 'stopped') {
      // a dead peer: tell it anyway (it may only be slow), then stop the threads
      if (end.reason === 'keepalive_timeout') this.safe(() => this.pump.sendControl('conn_close'));
      this.safe(() => this.pump.stop());
    }
    if (this.ready) {
      this.ready = false;
      for (const l of this.readinessListeners) l(false);
    }
    this.resolveEnd(end);
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch {
      // already stopped
    }
  }

  /** Orderly local stop: CONN_CLOSE to the peer, a moment for it to leave, then stop the pump. */
  async close(reason = 'stopped'): Promise<void> {
    if (this.done) return;
    this.safe(() => this.pump.sendControl('conn_close'));
    await new Promise((r) => setTimeout(r, 20));
    this.stats();
    this.safe(() => this.pump.stop());
    this.finish({ reason: 'stopped', message: reason });
  }
}

function emptyStats(): PumpStats {
  return {
    rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, rxFrames: 0, txFrames: 0, rxWireBytes: 0, txWireBytes: 0,
    badFrames: 0, echoRequestsReceived: 0, echoRepliesReceived: 0, echoRequestsSent: 0, deviceDownDrops: 0, txDropped: 0,
    msSinceRx: -1, msSinceEchoReply: -1, running: false,
  };
}
