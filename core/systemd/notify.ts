// sd_notify(3) from the main process of a tund session, over the `sd-notify` npm addon
// (libsystemd's sd_notify / sd_pid_notify). Everything is a no-op when NOTIFY_SOCKET is unset, so
// the same code runs in a terminal, under bats, and under systemd.
//
//   READY=1        once the session is set up (not necessarily connected: see tund(8))
//   STATUS=...     on every state change (describeState in core/status/types.ts)
//   WATCHDOG=1     from a timer on the event loop at half of WATCHDOG_USEC: when the loop hangs, the
//                  pings stop and systemd kills and restarts the unit (WatchdogSec= in tund@.service)
//   STOPPING=1     on SIGTERM
//   RELOADING=1    on SIGHUP, then READY=1 when the reload is done (systemd 252 has no notify-reload)
import { createRequire } from 'node:module';

interface SdNotifyAddon {
  ready(): void;
  stopping(pid: number): void;
  watchdog(): void;
  sendState(text: string): void;
}

/** The one seam the tests replace: where the raw notify strings go. */
export interface NotifySink {
  send(message: string): void;
}

let addon: SdNotifyAddon | null | undefined;
function loadAddon(): SdNotifyAddon | null {
  if (addon === undefined) {
    try {
      const require = createRequire(import.meta.url);
      addon = require('sd-notify') as SdNotifyAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** libsystemd's sd_notify through the addon; the message is the usual newline-separated list. */
export class SdNotifySink implements NotifySink {
  send(message: string): void {
    const sd = loadAddon();
    if (!sd) return;
    // sd_notify(0, ...) sends with our own credentials, which NotifyAccess=main accepts.
    sd.sendState(message);
  }
}

/** The watchdog interval systemd asks for, in microseconds, or null (sd_watchdog_enabled(3) rules). */
export function watchdogUsec(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^[0-9]+$/.test(usec)) return null;
  const value = Number(usec);
  if (!Number.isSafeInteger(value) || value <= 0) return null;
  const wpid = env.WATCHDOG_PID;
  if (wpid && /^[0-9]+$/.test(wpid) && Number(wpid) !== pid) return null; // meant for another process
  return value;
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  sink?: NotifySink;
  pid?: number;
}

/** Strip what would break the newline-separated sd_notify format (STATUS= is one line). */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 1000);
}

export class Notifier {
  readonly enabled: boolean;
  readonly watchdogIntervalMs: number | null;
  private readonly sink: NotifySink;
  private timer: NodeJS.Timeout | null = null;
  private lastStatus: string | null = null;

  constructor(options: NotifierOptions = {}) {
    const env = options.env ?? process.env;
    this.enabled = Boolean(env.NOTIFY_SOCKET);
    this.sink = options.sink ?? new SdNotifySink();
    const usec = this.enabled ? watchdogUsec(env, options.pid ?? process.pid) : null;
    // half of WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends; never below 10 ms
    this.watchdogIntervalMs = usec === null ? null : Math.max(10, Math.floor(usec / 2000));
  }

  private send(message: string): void {
    if (this.enabled) this.sink.send(message);
  }

  ready(status?: string): void {
    this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
    if (status !== undefined) this.lastStatus = oneLine(status);
  }

  status(text: string): void {
    const line = oneLine(text);
    if (line === this.lastStatus) return;
    this.lastStatus = line;
    this.send(`STATUS=${line}`);
  }

  stopping(status?: string): void {
    this.send(status === undefined ? 'STOPPING=1' : `STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  reloading(): void {
    this.send('RELOADING=1\nSTATUS=reloading');
  }

  reloaded(status?: string): void {
    this.ready(status ?? this.lastStatus ?? undefined);
  }

  /** Start the WATCHDOG=1 pings from the event loop (only when systemd asked for them). */
  startWatchdog(): void {
    if (this.timer || this.watchdogIntervalMs === null) return;
    this.send('WATCHDOG=1');
    this.timer = setInterval(() => this.send('WATCHDOG=1'), this.watchdogIntervalMs);
    this.timer.unref(); // the watchdog never keeps the process alive by itself
  }

  stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get watchdogRunning(): boolean {
    return this.timer !== null;
  }
}

/**
 * Test-only: `TUND_TEST_BLOCK_LOOP_ON=SIGUSR2` makes that signal run a busy loop on the event loop
 * for `TUND_TEST_BLOCK_LOOP_SECONDS` (default 120) seconds, so a test can prove that a hung loop
 * stops the WATCHDOG=1 pings and systemd restarts the unit. Does nothing unless the variable is set.
 * Returns the signal it armed, or null.
 */
export function installTestLoopBlocker(env: NodeJS.ProcessEnv = process.env, log?: (line: string) => void): NodeJS.Signals | null {
  const signal = env.TUND_TEST_BLOCK_LOOP_ON;
  if (!signal) return null;
  if (!['SIGUSR1', 'SIGUSR2', 'SIGWINCH'].includes(signal)) {
    log?.(`warning: TUND_TEST_BLOCK_LOOP_ON "${signal}" ignored (expected SIGUSR1, SIGUSR2 or SIGWINCH)`);
    return null;
  }
  const seconds = Number(env.TUND_TEST_BLOCK_LOOP_SECONDS ?? '120');
  const ms = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 120_000;
  process.on(signal as NodeJS.Signals, () => {
    log?.(`test: ${signal}: blocking the event loop for ${ms / 1000} s`);
    const end = Date.now() + ms;
    // deliberately busy: nothing else on the loop runs, the WATCHDOG=1 timer included
    while (Date.now() < end) {
      /* spin */
    }
  });
  return signal as NodeJS.Signals;
}

export { SystemdReporter, type SystemdReporterOptions } from './reporter.js';
