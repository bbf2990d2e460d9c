// Bounded pre-authentication work (issue 13, fix 2): a listening server admits at most
// `total` connections that have not finished their handshake, and at most `perSource` from one
// source address. A connection over either cap is closed at once, before a byte is read or
// written, so a flood of idle connections costs a close each and cannot crowd out the
// handshakes already running; the one deadline per handshake (Timeout) frees every place.
import type { HandshakeLimits } from '../config/types.js';

export class HandshakeGate {
  private total = 0;
  private readonly bySource = new Map<string, number>();
  /** connections refused since the last report (logged in batches, not one line each) */
  refused = 0;
  private refusalReport: NodeJS.Timeout | null = null;

  constructor(private limits: HandshakeLimits) {}

  /** A reload changes the limits for the connections that come next. */
  setLimits(limits: HandshakeLimits): void {
    this.limits = limits;
  }

  /** Takes a place for a connection from `source`: its release, or why there is none. */
  enter(source: string): (() => void) | string {
    const fromSource = this.bySource.get(source) ?? 0;
    if (this.total >= this.limits.total) {
      this.refused++;
      return `${this.total} handshakes already running (MaxHandshakes = ${this.limits.total})`;
    }
    if (fromSource >= this.limits.perSource) {
      this.refused++;
      return `${fromSource} handshakes from ${source} already running (MaxHandshakesPerSource = ${this.limits.perSource})`;
    }
    this.total++;
    this.bySource.set(source, fromSource + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.bySource.get(source) ?? 1) - 1;
      if (left > 0) this.bySource.set(source, left);
      else this.bySource.delete(source);
    };
  }

  /**
   * Logs refusals in one line a second at most (a flood is not a log flood): call it after enter()
   * refused; `reason` is what enter() returned.
   */
  reportRefusal(reason: string, log: (line: string) => void): void {
    if (this.refusalReport) return;
    this.refusalReport = setTimeout(() => {
      this.refusalReport = null;
      const n = this.refused;
      this.refused = 0;
      if (n > 0) log(`refused ${n} connection${n === 1 ? '' : 's'} before their handshake: ${reason}`);
    }, 1000);
    this.refusalReport.unref();
  }

  /** No more reports (the listener stopped). */
  dispose(): void {
    if (this.refusalReport) clearTimeout(this.refusalReport);
    this.refusalReport = null;
  }

  /** Handshakes running now (status, tests). */
  get running(): number {
    return this.total;
  }
}
