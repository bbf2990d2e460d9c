// The contract between a running session (core/session/session.ts) and whoever publishes its state:
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

/** One peer of a session with several (WireGuard), as `wg show` lists it (every key always present). */
export interface PeerInfo {
  public_key: string;
  /** address:port its packets come from and go to, or null */
  endpoint: string | null;
  /** last completed handshake (RFC 3339) or null */
  latest_handshake: string | null;
  /** wire bytes, as wg show's transfer */
  rx_bytes: number;
  tx_bytes: number;
  allowed_ips: string[];
  /** seconds, null when off */
  persistent_keepalive_s: number | null;
}

/** Keep-alive of the link (every key always present). */
export interface KeepaliveInfo {
  /** seconds between checks */
  interval_s: number;
  /** missed checks before the link is declared dead */
  count: number;
  /** last keep-alive answer (ECHO_REP) from the peer (RFC 3339) or null */
  last_echo: string | null;
}

/** One client of a vpn-ws hub (every key always present). */
export interface HubClientInfo {
  id: number;
  /** address:port as the hub's socket sees it (nginx's, behind a reverse proxy) */
  remote: string;
  macs: string[];
  bridge: boolean;
  /** the client certificate's subject (ClientCA), or null */
  tls_subject: string | null;
  /** the basic-auth user the request carried (checked by the proxy in front), or null */
  user: string | null;
  path: string;
  connected_since: string;
  rx_bytes: number;
  tx_bytes: number;
  rx_packets: number;
  tx_packets: number;
  /** frames from it the switch dropped / frames for it its full queue dropped */
  rx_dropped: number;
  tx_dropped: number;
}

/** What the session knows about itself; the control socket's `status` reply is built from it. */
export interface SessionSnapshot {
  name: string;
  /** the protocol the session speaks ("vtun") */
  protocol: string;
  role: 'client' | 'server';
  state: SessionState;
  /** when the current state was entered (RFC 3339 UTC) */
  since: string;
  /** why (for reconnecting / stopping), else null */
  reason: string | null;
  /** reconnecting: when the next attempt starts (RFC 3339 UTC); null otherwise */
  next_attempt: string | null;
  /** peer address:port once known */
  endpoint: string | null;
  device: DeviceInfo | null;
  /** last successful handshake (RFC 3339) or null */
  latest_handshake: string | null;
  /** last frame of any kind from the peer (RFC 3339) or null */
  latest_keepalive: string | null;
  /** keep-alive settings and the last answer, null when the link runs without keep-alive (or none runs) */
  keepalive: KeepaliveInfo | null;
  /** VTun flags in force, e.g. "<TuKE10>", or null */
  flags: string | null;
  counters: Counters;
  /** WireGuard's peers (the session's endpoint and handshake are those of the first); [] for VTun */
  peers: PeerInfo[];
  /** WireGuard: handshake messages refused, and cookie replies sent under load; null for other protocols */
  handshake_drops?: number | null;
  cookie_replies?: number | null;
  /** a vpn-ws hub: its clients; null for any other session */
  clients?: HubClientInfo[] | null;
  pid: number;
}

/** What a reload did: the message of one log line, or the problems of a broken file (`file:line: problem`). */
export type ReloadOutcome = { ok: true; message: string } | { ok: false; problems: string[] };

export interface SessionReporter {
  /**
   * The session is ready: READY=1. A client or a connection: once connected (a packet sent now is
   * delivered now); a server: once it listens.
   */
  ready(): void;
  /** Every state change: STATUS=..., control socket `watch` event, one log line. */
  state(snapshot: SessionSnapshot): void;
  /** SIGTERM received: STOPPING=1. */
  stopping(): void;
  /** A reload started (RELOADING=1) / finished (READY=1); only between ready() and stopping(). */
  reloading(): void;
  reloaded(): void;
  /** What `reload` over the control socket runs (the session's reload()). */
  setReloadHandler(handler: () => Promise<ReloadOutcome>): void;
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
  setReloadHandler(): void {}
  setSnapshotSource(source: () => SessionSnapshot): void {
    this.source = source;
  }
  snapshot(): SessionSnapshot | undefined {
    return this.source?.();
  }
  close(): void {}
}

/** HH:MM:SS in local time, as the journal prints its timestamps. */
function clock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * The STATUS= text and log wording (OpenVPN-style names). Nothing relative in it
 * (it is read later): a reconnect says when the next attempt starts, not in how long.
 */
export function describeState(s: SessionSnapshot): string {
  switch (s.state) {
    case 'connected':
      return `connected to ${s.endpoint ?? 'peer'} since ${s.since}`;
    case 'reconnecting':
      return `reconnecting: ${s.reason ?? 'link lost'}${s.next_attempt ? `; next attempt at ${clock(s.next_attempt)}` : ''}`;
    case 'stopping':
      return s.reason ? `stopping: ${s.reason}` : 'stopping';
    default:
      return s.reason ? `${s.state}: ${s.reason}` : s.state;
  }
}
