// How `tunctl status` / `tunctl watch` print what the control socket says: the `--json` document
// (the house shape of status output: snake_case, every key always present, integer bytes,
// RFC 3339 UTC times, "format": 1) and the human view modelled on `wg show`.
import { palette, type Palette } from '../cli/output.js';
import { decodeFlagsText, describeFlags } from '../vtun/flags.js';
import type { StateEvent, StatusSession } from './protocol.js';
import type { HubClientInfo, PeerInfo, SessionState } from './types.js';

/** What a session may report beyond the base snapshot (sessions of older builds leave them out). */
type StatusInput = StatusSession & {
  next_attempt?: string | null;
  keepalive?: { interval_s: number; count: number; last_echo: string | null } | null;
};

export const STATUS_FORMAT = 1;

export interface StatusJsonSession {
  name: string;
  unit: string | null;
  protocol: string;
  role: 'client' | 'server';
  state: SessionState;
  since: string;
  reason: string | null;
  /** reconnecting: when the next attempt starts (RFC 3339), else null */
  next_attempt: string | null;
  pid: number;
  endpoint: string | null;
  device: { ifname: string; kind: string; mtu: number | null; multi_queue: boolean; persist: boolean } | null;
  latest_handshake: string | null;
  latest_keepalive: string | null;
  keepalive: { interval_s: number; count: number; last_echo: string | null } | null;
  flags: string | null;
  rx_bytes: number;
  tx_bytes: number;
  rx_packets: number;
  tx_packets: number;
  route: { mode: string; prefixes: string[]; table: number | null } | null;
  dns: { backend: string | null; servers: string[]; domains: string[] } | null;
  /** WireGuard's peers, as wg show lists them; [] for VTun */
  peers: PeerInfo[];
  /** WireGuard: handshake messages refused, cookie replies sent under load; null for other protocols */
  handshake_drops: number | null;
  cookie_replies: number | null;
  /** a vpn-ws hub's clients; null for other sessions */
  clients: HubClientInfo[] | null;
}

export interface StatusJson {
  format: number;
  sessions: StatusJsonSession[];
}

const int = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : 0);
const intOrNull = (n: unknown): number | null => (typeof n === 'number' ? int(n) : null);
const strOrNull = (s: unknown): string | null => (typeof s === 'string' && s !== '' ? s : null);
/** RFC 3339 UTC (second precision, "Z"), or null. */
export function rfc3339(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const t = Date.parse(value);
  if (Number.isNaN(t)) return null;
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One session of the --json document: fixed keys and types, whatever the session sent. */
export function toJsonSession(s: StatusInput): StatusJsonSession {
  const d = s.device;
  const r = s.route;
  const n = s.dns;
  return {
    name: s.name,
    unit: strOrNull(s.unit),
    protocol: s.protocol ?? 'vtun',
    role: s.role,
    state: s.state,
    since: rfc3339(s.since) ?? new Date(0).toISOString(),
    reason: strOrNull(s.reason),
    next_attempt: rfc3339(s.next_attempt),
    pid: int(s.pid),
    endpoint: strOrNull(s.endpoint),
    device: d
      ? { ifname: d.ifname, kind: d.kind, mtu: typeof d.mtu === 'number' ? d.mtu : null, multi_queue: Boolean(d.multi_queue), persist: Boolean(d.persist) }
      : null,
    latest_handshake: rfc3339(s.latest_handshake),
    latest_keepalive: rfc3339(s.latest_keepalive),
    keepalive: s.keepalive ? { interval_s: int(s.keepalive.interval_s), count: int(s.keepalive.count), last_echo: rfc3339(s.keepalive.last_echo) } : null,
    flags: strOrNull(s.flags),
    rx_bytes: int(s.counters?.rx_bytes),
    tx_bytes: int(s.counters?.tx_bytes),
    rx_packets: int(s.counters?.rx_packets),
    tx_packets: int(s.counters?.tx_packets),
    route: r ? { mode: r.mode, prefixes: [...(r.prefixes ?? [])], table: typeof r.table === 'number' ? r.table : null } : null,
    dns: n ? { backend: n.backend ?? null, servers: [...(n.servers ?? [])], domains: [...(n.domains ?? [])] } : null,
    peers: (Array.isArray(s.peers) ? s.peers : []).map((p) => ({
      public_key: String(p.public_key),
      endpoint: strOrNull(p.endpoint),
      latest_handshake: rfc3339(p.latest_handshake),
      rx_bytes: int(p.rx_bytes),
      tx_bytes: int(p.tx_bytes),
      allowed_ips: Array.isArray(p.allowed_ips) ? p.allowed_ips.map(String) : [],
      persistent_keepalive_s: typeof p.persistent_keepalive_s === 'number' && p.persistent_keepalive_s > 0 ? Math.trunc(p.persistent_keepalive_s) : null,
    })),
    handshake_drops: intOrNull(s.handshake_drops),
    cookie_replies: intOrNull(s.cookie_replies),
    clients: Array.isArray(s.clients) ? s.clients.map(toJsonClient) : null,
  };
}

function toJsonClient(c: HubClientInfo): HubClientInfo {
  return {
    id: int(c.id),
    remote: String(c.remote ?? ''),
    macs: Array.isArray(c.macs) ? c.macs.map(String) : [],
    bridge: Boolean(c.bridge),
    tls_subject: strOrNull(c.tls_subject),
    user: strOrNull(c.user),
    path: String(c.path ?? ''),
    connected_since: rfc3339(c.connected_since) ?? new Date(0).toISOString(),
    rx_bytes: int(c.rx_bytes),
    tx_bytes: int(c.tx_bytes),
    rx_packets: int(c.rx_packets),
    tx_packets: int(c.tx_packets),
    rx_dropped: int(c.rx_dropped),
    tx_dropped: int(c.tx_dropped),
  };
}

/** Most recent activity first (last frame from the peer, else handshake, else state change). */
export function sortByActivity(sessions: StatusJsonSession[]): StatusJsonSession[] {
  const activity = (s: StatusJsonSession) =>
    Math.max(...[s.latest_keepalive, s.latest_handshake, s.since].map((t) => (t ? Date.parse(t) : 0)));
  return [...sessions].sort((a, b) => activity(b) - activity(a) || a.name.localeCompare(b.name));
}

export function statusDocument(sessions: StatusSession[]): StatusJson {
  return { format: STATUS_FORMAT, sessions: sortByActivity(sessions.map(toJsonSession)) };
}

/** "1 hour, 2 minutes, 3 seconds ago", as wg show prints it; "now" under a second. */
export function relativeTime(iso: string, now = Date.now()): string {
  let secs = Math.floor((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(secs)) return 'never';
  if (secs <= 0) return 'now';
  const parts: string[] = [];
  for (const [unit, size] of [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ] as const) {
    const n = Math.floor(secs / size);
    secs -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return `${parts.join(', ')} ago`;
}

/** 1536 -> "1.50 KiB", as wg show prints transfer counters. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)} ${units[i]}`;
}

/** "in 4 s" for a time ahead (computed when printed, so it is never stale), "now" when it passed. */
export function timeUntil(iso: string, now = Date.now()): string {
  const secs = Math.ceil((Date.parse(iso) - now) / 1000);
  return Number.isFinite(secs) && secs > 0 ? `in ${secs} s` : 'now';
}

function stateWord(state: SessionState, p: Palette): string {
  if (state === 'connected' || state === 'listening') return p.green(state);
  if (state === 'stopping' || state === 'stopped') return p.red(state);
  return p.yellow(state);
}

function stateLine(s: StatusJsonSession, now: number, p: Palette): string {
  const what = `${stateWord(s.state, p)}${s.reason ? `: ${s.reason}` : ''}`;
  const next = s.next_attempt ? `; next attempt ${timeUntil(s.next_attempt, now)}` : '';
  return `${what}${next} since ${s.since} (${relativeTime(s.since, now)})`;
}

/** The flags as `tunauth probe` decodes them: "<TuL1KE10> tcp, tun, lzo level 1, ...". */
function flagsLine(raw: string): string {
  const decoded = decodeFlagsText(raw);
  return decoded ? `${raw} ${describeFlags(decoded)}` : `${raw} (not understood)`;
}

/**
 * What the session publishes about its keepalive when it does; else (sessions of older builds)
 * whether the flags turn it on, and when the peer was last heard from.
 */
function keepaliveLine(s: StatusJsonSession, now: number): string | null {
  if (s.keepalive) {
    const k = s.keepalive;
    return `every ${k.interval_s} s, dead after ${k.count} missed, last echo ${k.last_echo ? relativeTime(k.last_echo, now) : 'never'}`;
  }
  const heard = s.latest_keepalive ? `last frame from the peer ${relativeTime(s.latest_keepalive, now)}` : null;
  const decoded = s.flags ? decodeFlagsText(s.flags) : null;
  if (!decoded) return heard;
  return `${decoded.keepalive ? 'on' : 'off'}${heard ? ` (${heard})` : ''}`;
}

function routesLine(route: StatusJsonSession['route']): string {
  if (!route || (route.mode === 'none' && route.prefixes.length === 0)) return 'none';
  return `${route.mode} ${route.prefixes.join(', ') || '(no prefixes)'}${route.table !== null ? ` table ${route.table}` : ''}`;
}

/**
 * The human block of one session (wg show style). Times are printed relative to `now`, from the
 * absolute times the session publishes, so the view is never stale. The unit is named only when
 * the session runs in one (a session started by hand has none).
 */
export function renderSession(s: StatusJsonSession, now = Date.now(), p: Palette = palette(false)): string {
  const lines = [p.bold(`session: ${s.name}${s.unit ? ` (${s.unit})` : ''}`)];
  const kv = (k: string, v: string | null) => {
    if (v !== null) lines.push(`  ${k}: ${v}`);
  };
  kv('state', stateLine(s, now, p));
  kv('role', `${s.role} (${s.protocol}), pid ${s.pid}`);
  kv('flags', s.flags ? flagsLine(s.flags) : null);
  kv('device', s.device ? `${s.device.ifname} (${s.device.kind}, mtu ${s.device.mtu ?? 'unknown'})` : 'none');
  kv('endpoint', s.endpoint ?? 'none');
  kv('latest handshake', s.latest_handshake ? relativeTime(s.latest_handshake, now) : 'never');
  kv('keepalive', keepaliveLine(s, now));
  kv('transfer', `${humanBytes(s.rx_bytes)} received, ${humanBytes(s.tx_bytes)} sent`);
  // a WireGuard session's refused handshakes: shown once there are some (a flood, a misconfigured peer)
  if (s.handshake_drops || s.cookie_replies) kv('handshakes', `${s.handshake_drops ?? 0} dropped, ${s.cookie_replies ?? 0} cookie replies sent`);
  kv('routes', routesLine(s.route));
  if (s.dns) kv('dns', `${s.dns.backend ?? 'none'} ${[...s.dns.servers, ...s.dns.domains].join(' ')}`.trim());
  if (s.clients) {
    kv('clients', String(s.clients.length));
    for (const c of s.clients) {
      lines.push('');
      lines.push(`  client: ${c.remote}`);
      const ckv = (k: string, v: string) => lines.push(`    ${k}: ${v}`);
      ckv('mac', `${c.macs.join(', ') || 'none yet'}${c.bridge ? ' (bridge)' : ''}`);
      if (c.tls_subject) ckv('certificate', c.tls_subject);
      if (c.user) ckv('user', c.user);
      ckv('connected', `since ${c.connected_since} (${relativeTime(c.connected_since, now)})`);
      ckv('transfer', `${humanBytes(c.rx_bytes)} received, ${humanBytes(c.tx_bytes)} sent${c.rx_dropped || c.tx_dropped ? `; dropped ${c.rx_dropped} in, ${c.tx_dropped} out` : ''}`);
    }
  }
  for (const p of s.peers) {
    // as wg show prints a peer, one level further in
    lines.push('', `  peer: ${p.public_key}`);
    if (p.endpoint) lines.push(`    endpoint: ${p.endpoint}`);
    lines.push(`    allowed ips: ${p.allowed_ips.join(', ') || '(none)'}`);
    if (p.latest_handshake) lines.push(`    latest handshake: ${relativeTime(p.latest_handshake, now)}`);
    if (p.rx_bytes || p.tx_bytes) lines.push(`    transfer: ${humanBytes(p.rx_bytes)} received, ${humanBytes(p.tx_bytes)} sent`);
    if (p.persistent_keepalive_s) lines.push(`    persistent keepalive: every ${p.persistent_keepalive_s} seconds`);
  }
  return lines.join('\n');
}

export function renderStatus(doc: StatusJson, now = Date.now(), p: Palette = palette(false)): string {
  return doc.sessions.map((s) => renderSession(s, now, p)).join('\n\n');
}

/**
 * Where a session's log is: the journal of its unit, or (started by hand) its own stderr. The
 * unit is the one the session reports; tunctl itself running under systemd (ExecReload=, with
 * INVOCATION_ID set) means the session is tund@NAME.service.
 */
export function logHint(name: string, unit: string | null, env: NodeJS.ProcessEnv = process.env): string {
  const known = unit ?? (env.INVOCATION_ID ? `tund@${name}.service` : null);
  return known ? `see "journalctl -u ${known}"` : `see the log of "tund ${name}" (its standard error)`;
}

/** One `tunctl watch --json` line: {"time","name","state","reason","endpoint","status"}. */
export function eventJson(e: StateEvent): string {
  return JSON.stringify({
    time: rfc3339(e.time),
    name: e.name,
    state: e.state,
    reason: e.reason ?? null,
    endpoint: e.endpoint ?? null,
    status: e.status,
  });
}

/** One human `tunctl watch` line: "TIME NAME: status text". */
export function eventLine(e: StateEvent): string {
  return `${rfc3339(e.time) ?? e.time} ${e.name}: ${e.status}`;
}
