// WireGuard's protocol constants (whitepaper 6.1, wireguard-go device/constants.go) as one options
// object, so tests can shorten every timer at once, and the clock the handshake logic runs on
// (injected: a fake one in tests, the monotonic clock of the native side in a session).
import { native } from '../../native/index.js';

export interface WgTimerConfig {
  /** Initiate a new handshake once the current keypair has sent this many messages (2^60). */
  rekeyAfterMessages: bigint;
  /** A keypair is not used past this many messages (2^64 - 2^13 - 1): the engine enforces it. */
  rejectAfterMessages: bigint;
  /** The initiator starts a new handshake when it sends with a keypair older than this (120 s). */
  rekeyAfterTimeMs: number;
  /** A keypair older than this is not used at all (180 s): the engine enforces it. */
  rejectAfterTimeMs: number;
  /** Handshake retries stop after this long (90 s: 90 / 5 = 18 retries, as wireguard-go counts). */
  rekeyAttemptTimeMs: number;
  /** An initiation is retried after this long without a response (5 s), plus a random jitter. */
  rekeyTimeoutMs: number;
  /** Upper bound of that jitter (334 ms). */
  rekeyTimeoutJitterMaxMs: number;
  /** Data received and nothing sent back for this long: send a keepalive (10 s). */
  keepaliveTimeoutMs: number;
  /**
   * How often the peer logic reads the dataplane's activity counters. Everything driven by data
   * packets (keepalives, rekeys, "no reply" handshakes) happens at most this much later than in
   * wireguard-go, which runs these timers per packet; the per-packet path stays native.
   */
  pollIntervalMs: number;
}

export const WG_TIMERS: WgTimerConfig = {
  rekeyAfterMessages: 1n << 60n,
  rejectAfterMessages: (1n << 64n) - (1n << 13n) - 1n,
  rekeyAfterTimeMs: 120_000,
  rejectAfterTimeMs: 180_000,
  rekeyAttemptTimeMs: 90_000,
  rekeyTimeoutMs: 5_000,
  rekeyTimeoutJitterMaxMs: 334,
  keepaliveTimeoutMs: 10_000,
  pollIntervalMs: 1_000,
};

/** Every time of WG_TIMERS multiplied by `factor` (0.01: a rekey every 1.2 s), message counts kept. */
export function scaledTimers(factor: number, overrides: Partial<WgTimerConfig> = {}): WgTimerConfig {
  const t = WG_TIMERS;
  const ms = (v: number) => Math.max(1, Math.round(v * factor));
  return {
    ...t,
    rekeyAfterTimeMs: ms(t.rekeyAfterTimeMs),
    rejectAfterTimeMs: ms(t.rejectAfterTimeMs),
    rekeyAttemptTimeMs: ms(t.rekeyAttemptTimeMs),
    rekeyTimeoutMs: ms(t.rekeyTimeoutMs),
    rekeyTimeoutJitterMaxMs: ms(t.rekeyTimeoutJitterMaxMs),
    keepaliveTimeoutMs: ms(t.keepaliveTimeoutMs),
    pollIntervalMs: ms(t.pollIntervalMs),
    ...overrides,
  };
}

/** wireguard-go's MaxTimerHandshakes: retries before giving up. */
export function maxHandshakeRetries(t: WgTimerConfig): number {
  return Math.floor(t.rekeyAttemptTimeMs / t.rekeyTimeoutMs);
}

export interface TimerHandle {
  readonly id: number;
}

/** The time source and the one kind of timer the peer logic needs. */
export interface Clock {
  /** Monotonic milliseconds (the same clock as the dataplane's activity timestamps). */
  now(): number;
  /** Wall-clock milliseconds since the epoch (handshake timestamps, "latest handshake"). */
  wallNow(): number;
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: the native monotonic clock (what the engine stamps packets with), unref'd timers. */
export function systemClock(): Clock {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  return {
    now: () => native().wg.monotonicMs(),
    wallNow: () => Date.now(),
    setTimer(fn, delayMs) {
      const id = next++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, Math.max(0, delayMs));
      t.unref();
      timers.set(id, t);
      return { id };
    },
    clearTimer(handle) {
      const t = timers.get(handle.id);
      if (t) clearTimeout(t);
      timers.delete(handle.id);
    },
  };
}

/** A clock for tests: time only moves with advance(), timers fire in order. */
export class FakeClock implements Clock {
  private t: number;
  private wall: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_000_000, wallStart = 1_700_000_000_000) {
    this.t = start;
    this.wall = wallStart;
  }

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.wall + this.t;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, delayMs), fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Moves time forward by ms, firing every timer that falls due, in order (each at its time). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (timer.at < nextAt || (timer.at === nextAt && id < nextId))) {
          nextId = id;
          nextAt = timer.at;
        }
      }
      if (nextId < 0) break;
      const timer = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
    }
    this.t = end;
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}
