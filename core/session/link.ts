// The link phase of one VTun connection: the native pump moves the frames (never the JS event
// loop); JS runs the keep-alive algorithm of vtund (docs/vtun-protocol.md §8) from the pump's counters
// and ends the link on CONN_CLOSE, EOF, errors or a dead peer.
import { native, type NativePump, type PumpEndReason, type PumpEvent, type PumpOptions, type PumpStats } from '../../native/index.js';
import type { VtunFlags } from '../vtun/flags.js';
import { dataKey } from './keys.js';

export type LinkEndReason = PumpEndReason | 'keepalive_timeout';

export interface LinkEnd {
  reason: LinkEndReason;
  message: string;
  /** an orderly end decided locally (a pipe/tty program that exited with status 0): exit 0 */
  clean?: boolean;
}

export interface LinkOptions {
  flags: VtunFlags;
  netFd: number;
  deviceFd: number;
  password: Buffer;
  initialRx: Buffer;
  /** this side's keep-alive interval and failure count (only used when flags.keepalive) */
  keepalive: { interval: number; count: number };
  natHack: boolean;
  /** what this side may send, kbit/s (client: the server's S flag; server: its own speed OUT) */
  speedKbps: number;
  /** hold data back after start (vtund's `up {}` race, docs/vtun-protocol.md §6.5) */
  sendDelayMs?: number;
  /** test seam: builds the pump (default: the native addon's Pump) */
  createPump?: (options: PumpOptions, onEvent: (event: PumpEvent) => void) => NativePump;
}

/** Human wording of an end reason, for logs and STATUS=. */
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
      return 'stopped';
    default:
      return end.message ? `${end.reason.replace('_', ' ')}: ${end.message}` : end.reason.replace('_', ' ');
  }
}

export class Link {
  readonly ended: Promise<LinkEnd>;
  private pump: NativePump;
  private resolveEnd!: (end: LinkEnd) => void;
  private done = false;
  private timers: NodeJS.Timeout[] = [];
  private lastStats: PumpStats | null = null;

  constructor(private readonly o: LinkOptions) {
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
        sendDelayMs: o.sendDelayMs ?? 1200,
        speedKbps: o.speedKbps,
        initialRx: o.initialRx,
      },
      (event) => {
        if (event.type === 'ended') this.finish({ reason: event.reason, message: event.message });
      },
    );
  }

  start(): void {
    this.pump.start();
    if (this.o.flags.keepalive) this.startKeepalive();
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
    if (end.reason !== 'stopped') {
      // a dead peer: tell it anyway (it may only be slow), then stop the threads
      if (end.reason === 'keepalive_timeout') this.safe(() => this.pump.sendControl('conn_close'));
      this.safe(() => this.pump.stop());
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
    msSinceRx: -1, running: false,
  };
}
