// The SessionReporter a session uses in production: every report fans out to
//   - sd_notify (READY=1, STATUS=, WATCHDOG=1, STOPPING=1, RELOADING=1) through Notifier,
//   - the control socket runDir()/NAME.sock (tunctl status / wait / watch),
//   - one log line `NAME: <state text>` on stderr (the journal adds the timestamps).
import fs from 'node:fs';
import { hintOf, logProblem } from '../errors.js';
import { controlSocketPath } from '../paths.js';
import { ControlServer } from '../status/server.js';
import type { DnsInfo, RouteInfo } from '../status/protocol.js';
import { describeState, type ReloadOutcome, type SessionReporter, type SessionSnapshot } from '../status/types.js';
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
  /** the unit this process runs in (default: from /proc/self/cgroup) */
  unit?: string | null;
}

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
  private isReady = false;
  private isStopping = false;
  private reloadHandler: (() => Promise<ReloadOutcome>) | null = null;

  constructor(
    readonly name: string,
    private readonly options: SystemdReporterOptions = {},
  ) {
    this.notifier = options.notifier ?? new Notifier();
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.unit = options.unit !== undefined ? options.unit : currentUnit();
    this.last = {
      name,
      protocol: 'vtun',
      role: options.role ?? 'client',
      state: 'starting',
      since: new Date().toISOString(),
      reason: null,
      next_attempt: null,
      endpoint: null,
      device: null,
      latest_handshake: null,
      latest_keepalive: null,
      keepalive: null,
      flags: null,
      counters: { rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0 },
      peers: [],
      pid: process.pid,
    };
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
      const first = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
      logProblem((line) => reporter.log(line), name, `warning: no control socket: ${first}`, hintOf(error));
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
      reload: () => (this.reloadHandler ? this.reloadHandler() : Promise.resolve({ ok: false, problems: ['this process has nothing to reload'] })),
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

  /**
   * STATUS= text: the state, prefixed with the session's name unless the unit already says it
   * (tund@NAME.service); a connection under tund.socket runs as tund-inetd@N-ADDR:PORT-....
   */
  private statusText(snapshot: SessionSnapshot): string {
    const text = describeState(snapshot);
    return this.unit === `tund@${snapshot.name}.service` ? text : `${snapshot.name}: ${text}`;
  }

  ready(): void {
    this.isReady = true;
    this.notifier.ready(this.statusText(this.snapshot()));
  }

  state(snapshot: SessionSnapshot): void {
    this.last = snapshot;
    this.notifier.status(this.statusText(snapshot));
    this.control?.publish(snapshot);
    const line = `${snapshot.name}: ${describeState(snapshot)}`;
    if (line !== this.lastLogged) {
      this.lastLogged = line;
      this.log(line);
    }
  }

  stopping(): void {
    this.isStopping = true;
    this.notifier.stopping('stopping');
  }

  reloading(): void {
    if (this.isReady && !this.isStopping) this.notifier.reloading();
  }

  reloaded(): void {
    if (this.isReady && !this.isStopping) this.notifier.reloaded(this.statusText(this.snapshot()));
  }

  setReloadHandler(handler: () => Promise<ReloadOutcome>): void {
    this.reloadHandler = handler;
  }

  setSnapshotSource(source: () => SessionSnapshot): void {
    this.source = source;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.notifier.stopWatchdog();
    this.control?.close();
    this.control = null;
  }
}
