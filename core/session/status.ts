// What a running session knows about itself, reported through a SessionReporter (core/status).
import type { Counters, DeviceInfo, SessionReporter, SessionSnapshot, SessionState } from '../status/types.js';

export class SessionStatus {
  private current: SessionState = 'starting';
  private sinceValue = new Date().toISOString();
  private reasonValue: string | null = null;
  endpoint: string | null = null;
  device: DeviceInfo | null = null;
  latestHandshake: string | null = null;
  flags: string | null = null;
  /** live counters, set while a link runs */
  counters: (() => { counters: Counters; msSinceRx: number }) | null = null;
  private lastCounters: Counters = { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 };
  private lastRxAt: string | null = null;

  constructor(
    readonly name: string,
    readonly role: 'client' | 'server',
    readonly reporter: SessionReporter,
  ) {
    reporter.setSnapshotSource(() => this.snapshot());
  }

  get state(): SessionState {
    return this.current;
  }

  set(state: SessionState, reason: string | null = null): void {
    if (state === this.current && reason === this.reasonValue) return;
    this.current = state;
    this.reasonValue = reason;
    this.sinceValue = new Date().toISOString();
    this.reporter.state(this.snapshot());
  }

  /** Freeze the counters of a link that ends (they stay visible until the next one). */
  detachCounters(): void {
    if (this.counters) {
      const c = this.counters();
      this.lastCounters = c.counters;
    }
    this.counters = null;
  }

  snapshot(): SessionSnapshot {
    let counters = this.lastCounters;
    if (this.counters) {
      const c = this.counters();
      counters = c.counters;
      if (c.msSinceRx >= 0) this.lastRxAt = new Date(Date.now() - c.msSinceRx).toISOString();
    }
    return {
      name: this.name,
      protocol: 'vtun',
      role: this.role,
      state: this.current,
      since: this.sinceValue,
      reason: this.reasonValue,
      endpoint: this.endpoint,
      device: this.device,
      latest_handshake: this.latestHandshake,
      latest_keepalive: this.lastRxAt,
      flags: this.flags,
      counters: { ...counters },
      pid: process.pid,
    };
  }
}
