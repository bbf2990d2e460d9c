// The SessionReporter a session uses in production: every report fans out to
//   - sd_notify (READY=1, STATUS=, WATCHDOG=1, STOPPING=1, RELOADING=1) through Notifier,
//   - the control socket runDir()/NAME.sock (tunctl status / wait / watch),
//   - one log line `NAME: <state text>` on stderr (the journal adds the timestamps).
import fs from 'node:fs';
import { loadSessionConfig } from '../config/load.js';
import { controlSocketPath } from '../paths.js';
import { ControlServer } from '../status/server.js';
import type { DnsInfo, RouteInfo } from '../status/protocol.js';
import { describeState, type SessionReporter, type SessionSnapshot } from '../status/types.js';
import { installTestLoopBlocker, Notifier } from './notify.js';

export interface SystemdReporterOptions {
  notifier?: Notifier;
  /** default: one line on stderr */
  log?: (line: string) => void;
  /** control socket path; default runDir()/NAME.sock; null = no control socket */
  socketPath?: string | null;
  role?: 'client' | 'server';
  /** route / DNS info for `status` (from tunroute), when the session knows it */
  route?: () => RouteInfo | null;
  dns?: () => DnsInfo | null;
  /**
   * Install a SIGHUP handler (systemctl reload = ExecReload=kill -HUP): RELOADING=1, the reload
   * handler, READY=1. Default true when nothing else listens for SIGHUP yet.
   */
  handleSighup?: boolean;
}

/** What a reload does; set by the session with setReloadHandler(). */
export type ReloadHandler = () => Promise<void> | void;

/** The systemd unit this process runs in (from /proc/self/cgroup), or null outside systemd. */
export function currentUnit(cgroupFile = '/proc/self/cgroup'): string | null {
  try {
    const text = fs.readFileSync(cgroupFile, 'utf8');
    for (const line of text.split('\n')) {
      const cg = line.split(':').slice(2).join(':');
      const last = cg.split('/').pop() ?? '';
      if (/^tund[^/]*\.service$/.test(last)) return last;
    }
  } catch {
    /* not Linux or no procfs */
  }
  return null;
}

let loopBlockerArmed = false;

export class SystemdReporter implements SessionReporter {
  readonly notifier: Notifier;
  readonly unit: string | null;
  private readonly log: (line: string) => void;
  private source: (() => SessionSnapshot) | undefined;
  private last: SessionSnapshot;
  private control: ControlServer | null = null;
  private lastLogged: string | null = null;
  private closed = false;
  private reloadHandler: ReloadHandler;
  private reloadRunning = false;
  private ownSighup = false;
  private reloadWaiters: { started: boolean; resolve: () => void }[] = [];
  private readonly onSighup = () => void this.reload();

  constructor(
    readonly name: string,
    private readonly options: SystemdReporterOptions = {},
  ) {
    this.notifier = options.notifier ?? new Notifier();
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.unit = currentUnit();
    this.last = {
      name,
      protocol: 'vtun',
      role: options.role ?? 'client',
      state: 'starting',
      since: new Date().toISOString(),
      reason: null,
      endpoint: null,
      device: null,
      latest_handshake: null,
      latest_keepalive: null,
      flags: null,
      counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 },
      pid: process.pid,
    };
    this.reloadHandler = () => this.checkConfig();
    if (options.handleSighup ?? process.listenerCount('SIGHUP') === 0) {
      process.on('SIGHUP', this.onSighup);
      this.ownSighup = true;
    }
    this.notifier.startWatchdog();
    if (!loopBlockerArmed && installTestLoopBlocker(process.env, (l) => this.log(`${name}: ${l}`))) loopBlockerArmed = true;
  }

  /**
   * Constructor + control socket. When the socket cannot be made (another live process of the same
   * session holds it, e.g. a second connection with Multi = yes, or /run/tund is not writable) the
   * reporter still notifies systemd and logs; only `tunctl status` cannot see this process.
   */
  static async open(name: string, options: SystemdReporterOptions = {}): Promise<SystemdReporter> {
    const reporter = new SystemdReporter(name, options);
    try {
      await reporter.listen();
    } catch (error) {
      const first = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      reporter.log(`${name}: warning: no control socket: ${first}`);
    }
    return reporter;
  }

  /** Create the control socket (unless disabled with socketPath: null). */
  async listen(): Promise<void> {
    if (this.control || this.options.socketPath === null) return;
    const unit = this.unit;
    this.control = await ControlServer.listen(this.options.socketPath ?? controlSocketPath(this.name), {
      snapshot: () => this.snapshot(),
      route: this.options.route,
      dns: this.options.dns,
      extra: () => ({ unit }),
      reload: () => this.requestReload(),
    });
  }

  get socketPath(): string | null {
    return this.control?.socketPath ?? null;
  }

  /** The current snapshot: from the session's source when set, else the last reported one. */
  snapshot(): SessionSnapshot {
    if (this.source) {
      try {
        return this.source();
      } catch {
        /* fall back to the last report */
      }
    }
    return this.last;
  }

  ready(): void {
    this.notifier.ready(describeState(this.snapshot()));
  }

  state(snapshot: SessionSnapshot): void {
    this.last = snapshot;
    const text = describeState(snapshot);
    this.notifier.status(text);
    this.control?.publish(snapshot);
    const line = `${snapshot.name}: ${text}`;
    if (line !== this.lastLogged) {
      this.lastLogged = line;
      this.log(line);
    }
  }

  stopping(): void {
    this.notifier.stopping('stopping');
  }

  reloading(): void {
    for (const w of this.reloadWaiters) w.started = true;
    this.notifier.reloading();
    this.log(`${this.name}: reloading`);
  }

  reloaded(): void {
    this.notifier.reloaded(describeState(this.snapshot()));
    this.log(`${this.name}: reloaded`);
    const done = this.reloadWaiters.filter((w) => w.started);
    this.reloadWaiters = this.reloadWaiters.filter((w) => !w.started);
    for (const w of done) w.resolve();
  }

  /**
   * A reload asked for over the control socket (`tunctl reload NAME`, the unit's ExecReload=):
   * the same as SIGHUP, but the caller learns when it is finished. systemd 252 has no
   * Type=notify-reload, and with `ExecReload=kill -HUP` a RELOADING=1 that arrives after kill
   * exited starts a second, racing reload job; a waiting ExecReload= keeps both RELOADING=1 and
   * READY=1 inside the reload job. Resolves once reloaded() was called after a reloading(), or
   * after 3 s when whoever handles SIGHUP did not start a reload (nothing to reload).
   */
  requestReload(timeoutMs = 60_000): Promise<void> {
    if (this.ownSighup) return this.reload();
    return new Promise<void>((resolve, reject) => {
      const waiter = { started: false, resolve: () => finish() };
      const finish = (error?: Error) => {
        clearTimeout(idle);
        clearTimeout(limit);
        this.reloadWaiters = this.reloadWaiters.filter((w) => w !== waiter);
        if (error) reject(error);
        else resolve();
      };
      const idle = setTimeout(() => {
        if (!waiter.started) finish();
      }, 3000);
      const limit = setTimeout(() => finish(new Error(`not finished after ${timeoutMs / 1000} s`)), timeoutMs);
      this.reloadWaiters.push(waiter);
      process.kill(process.pid, 'SIGHUP');
    });
  }

  /** What SIGHUP does between RELOADING=1 and READY=1 (default: checkConfig). */
  setReloadHandler(handler: ReloadHandler): void {
    this.reloadHandler = handler;
  }

  /**
   * The default reload: read and validate /etc/tund/NAME.conf again and log the outcome. The running
   * tunnel is left as it is (a changed file takes effect on restart); a broken file is reported and
   * the session keeps running with the configuration it started with.
   */
  async checkConfig(): Promise<void> {
    try {
      await loadSessionConfig(this.name);
      this.log(`${this.name}: reload: configuration is valid; changes take effect on restart`);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.log(`${this.name}: reload: configuration has problems, keeping the running session:`);
      for (const line of text.split('\n')) this.log(`${this.name}:   ${line}`);
    }
  }

  /** SIGHUP: RELOADING=1, the reload handler, READY=1 (with the current STATUS=). */
  async reload(): Promise<void> {
    if (this.reloadRunning || this.closed) return;
    this.reloadRunning = true;
    this.reloading();
    try {
      await this.reloadHandler();
    } catch (error) {
      this.log(`${this.name}: reload failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.reloadRunning = false;
      if (!this.closed) this.reloaded();
    }
  }

  setSnapshotSource(source: () => SessionSnapshot): void {
    this.source = source;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('SIGHUP', this.onSighup);
    this.notifier.stopWatchdog();
    this.control?.close();
    this.control = null;
  }
}
