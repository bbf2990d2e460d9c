// The contract between a running session (core/vtun/session.ts) and whoever publishes its state:
// sd_notify (READY/STATUS/WATCHDOG), the control socket /run/tund/NAME.sock, and the log.
// The session calls a SessionReporter; the systemd/status layer implements it.

export type SessionState =
  | 'starting' // config read, nothing opened yet
  | 'listening' // server waiting for its peer
  | 'connecting'
  | 'handshaking'
  | 'connected'
  | 'reconnecting'
  | 'stopping'
  | 'stopped';

export interface DeviceInfo {
  ifname: string;
  kind: 'tun' | 'tap' | 'pipe' | 'tty';
  mtu: number | null;
  multi_queue: boolean;
  persist: boolean;
}

export interface Counters {
  rx_bytes: number;
  tx_bytes: number;
  rx_packets: number;
  tx_packets: number;
}

/** What the session knows about itself; the control socket's `status` reply is built from it. */
export interface SessionSnapshot {
  name: string;
  protocol: 'vtun';
  role: 'client' | 'server';
  state: SessionState;
  /** when the current state was entered (RFC 3339 UTC) */
  since: string;
  /** why (for reconnecting / stopping), else null */
  reason: string | null;
  /** peer address:port once known */
  endpoint: string | null;
  device: DeviceInfo | null;
  /** last successful handshake (RFC 3339) or null */
  latest_handshake: string | null;
  /** last frame of any kind from the peer (RFC 3339) or null */
  latest_keepalive: string | null;
  /** VTun flags in force, e.g. "<TuKE10>", or null */
  flags: string | null;
  counters: Counters;
  pid: number;
}

export interface SessionReporter {
  /** The session is set up (config valid, device/sockets ready): READY=1. */
  ready(): void;
  /** Every state change: STATUS=..., control socket `watch` event, one log line. */
  state(snapshot: SessionSnapshot): void;
  /** SIGTERM received: STOPPING=1. */
  stopping(): void;
  /** SIGHUP reload started (RELOADING=1) / finished (READY=1). */
  reloading(): void;
  reloaded(): void;
  /** Pull current counters when a client asks (status); set by the session. */
  setSnapshotSource(source: () => SessionSnapshot): void;
  close(): void;
}

/** A reporter that only logs, for tests and for runs outside systemd. */
export class LogReporter implements SessionReporter {
  private source: (() => SessionSnapshot) | undefined;
  constructor(private readonly log: (line: string) => void) {}
  ready(): void {}
  state(s: SessionSnapshot): void {
    this.log(`${s.name}: ${describeState(s)}`);
  }
  stopping(): void {}
  reloading(): void {}
  reloaded(): void {}
  setSnapshotSource(source: () => SessionSnapshot): void {
    this.source = source;
  }
  snapshot(): SessionSnapshot | undefined {
    return this.source?.();
  }
  close(): void {}
}

/** The STATUS= text and log wording (OpenVPN-style names). */
export function describeState(s: SessionSnapshot): string {
  switch (s.state) {
    case 'connected':
      return `connected to ${s.endpoint ?? 'peer'} since ${s.since}`;
    case 'reconnecting':
      return `reconnecting: ${s.reason ?? 'link lost'}`;
    case 'stopping':
      return s.reason ? `stopping: ${s.reason}` : 'stopping';
    default:
      return s.reason ? `${s.state}: ${s.reason}` : s.state;
  }
}
