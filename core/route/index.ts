// tunroute's library: routes, split and full tunnel, DNS and crash-safe cleanup for a session.
// tund calls applySessionRoutes() when a tunnel comes up and removeSessionRoutes() when it goes
// down; the unit runs `tunroute cleanup NAME` before start and after stop.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { lookupHost, plainAddress } from '../net.js';
import type { SessionConfig } from '../config/types.js';
import { ConfigFailure, TundError, UsageFailure, errnoOf } from '../errors.js';
import { detectBackend, noBackendError, planDns, type DnsRequest, type DnsSetting } from '../dns/index.js';
import { loadSessionConfig } from '../config/load.js';
import { makeContext, applyEntries, removeEntries, strayRoutes, describeEntry, type Context, type RouteOptions } from './engine.js';
import { present, snapshot, tablesInUse, type Snapshot } from './kernel.js';
import { fullTableProblem, planFull, planSplit, tableRef, TABLE_BASE, TABLE_SEARCH } from './plan.js';
import { canonicalAddress, parsePrefix } from '../net.js';
import { emptyState, listStates, readState, withSessionLock, type DnsEntry, type Entry, type Origin, type RouteState, type TableRef } from './state.js';

export type { RouteOptions } from './engine.js';
export type { RouteState, Entry, RouteEntry, RuleEntry, DnsEntry, TableRef } from './state.js';
export { ROUTE_PROTO, statePath, readState, listStates } from './state.js';
export { PRIORITY_EXCEPT, PRIORITY_SUPPRESS, PRIORITY_TABLE, TABLE_BASE } from './plan.js';

export interface ApplyOptions extends RouteOptions {
  /** Device to route through (default: [Device] Name of the config). */
  device?: string;
  /** Endpoint addresses for a full tunnel (default: the host of [Session] Endpoint, resolved). */
  endpoints?: string[];
  /** Remove what a previous up/full left for this session first, instead of failing with "already up". */
  replace?: boolean;
}

export interface DelegateOption {
  /**
   * Leave DNS to root (a session that is not root, TUND_DNS=delegate): record what the session
   * asks for as `dnsRequest` in its state, for `tunroute dns NAME` to apply, and never touch the
   * DNS setting root made (core/route/dns-follow.ts).
   */
  delegateDns?: boolean;
}

export interface ApplyResult {
  name: string;
  device: string;
  mode: 'none' | 'split' | 'full';
  table: number | null;
  entries: Entry[];
  dns: DnsEntry | null;
}

/** Resolves a host name (or takes an IP literal) to the addresses to keep outside the tunnel. */
export async function resolveEndpoint(host: string): Promise<string[]> {
  const bare = plainAddress(host.replace(/^\[(.*)\]$/, '$1'));
  if (net.isIP(bare)) return [canonicalAddress(bare)];
  try {
    const found = await lookupHost(bare, true);
    return [...new Set(found.map((a) => canonicalAddress(a)))];
  } catch (error) {
    throw new TundError(`cannot resolve endpoint ${JSON.stringify(host)}: ${errnoOf(error) ?? String(error)}`, {
      hint: 'use an IP address in [Session] Endpoint or --endpoint, or fix name resolution',
    });
  }
}

/** Does IPv6 work on DEVICE (kernel built with it and not disabled on the link)? */
async function ipv6Usable(device: string): Promise<boolean> {
  try {
    const v = await fs.readFile(`/proc/sys/net/ipv6/conf/${device}/disable_ipv6`, 'utf8');
    return v.trim() === '0';
  } catch {
    return false;
  }
}

/** First table from 51820 upward that no route, rule or other session uses. */
export async function pickTable(snap: Snapshot, name: string): Promise<number> {
  const used = tablesInUse(snap);
  for (const s of await listStates()) if (s.name !== name && s.table !== null) used.add(String(s.table));
  for (let t = TABLE_BASE; t < TABLE_BASE + TABLE_SEARCH; t++) if (!used.has(String(t))) return t;
  throw new TundError(`no free routing table between ${TABLE_BASE} and ${TABLE_BASE + TABLE_SEARCH - 1}`, { hint: 'set Table = N in [Route]' });
}

async function currentState(name: string, device: string): Promise<RouteState> {
  const state = (await readState(name)) ?? emptyState(name, device);
  if (state.entries.length === 0 && state.dns === null) state.device = device;
  return state;
}

function refuseIfUp(state: RouteState, delegateDns = false): void {
  // a DNS setting root made for a delegating session is root's to revert, not a sign of "up"
  if (state.entries.some((e) => e.origin === 'up' || e.origin === 'full') || (state.dns && !delegateDns) || state.dnsRequest) {
    throw new TundError(`${state.name}: routes are already up (mode ${state.mode ?? 'unknown'}, device ${state.device})`, {
      hint: `run "tunroute down ${state.name}" (or "tunroute cleanup ${state.name}") first`,
    });
  }
}

async function dnsFor(ctx: Context, name: string, device: string, mode: 'none' | 'split' | 'full', servers: string[], domains: string[], origin: Origin): Promise<DnsEntry | null> {
  if (servers.length === 0 && domains.length === 0) return null;
  const backend = await detectBackend(ctx.system);
  if (!backend) throw noBackendError(name);
  if (servers.length === 0) ctx.opts.warn?.(`${name}: DNSDomains without DNS servers: the domains are set on ${device} but nothing answers for them there`);
  if (mode === 'split' && domains.length === 0 && backend === 'resolved') {
    ctx.opts.warn?.(`${name}: DNS without DNSDomains in a split tunnel: resolved uses these servers only as a fallback`);
  }
  const s: DnsSetting = planDns(backend, { link: device, servers, domains, mode });
  return { ...s, origin };
}

interface FullRequest {
  name: string;
  device: string;
  endpoints: string[];
  exclude: string[];
  table: 'auto' | number;
  metric: number | null;
  dns: DnsEntry | null;
  /** DNS left to root (DelegateOption) */
  dnsRequest?: DnsRequest | null;
  origin: Origin;
}

async function applyFull(ctx: Context, req: FullRequest): Promise<ApplyResult> {
  const state = await currentState(req.name, req.device);
  refuseIfUp(state, req.dnsRequest !== undefined);
  const snap = await snapshot(ctx.ip);
  const table = req.table === 'auto' ? await pickTable(snap, req.name) : req.table;
  const families: (4 | 6)[] = [4];
  if (await ipv6Usable(req.device)) families.push(6);
  else if (!ctx.system.dryRun) ctx.opts.warn?.(`${req.name}: IPv6 is disabled on "${req.device}": only IPv4 goes into the tunnel`);
  if (req.endpoints.length === 0) ctx.opts.warn?.(`${req.name}: full tunnel without an endpoint: traffic to the peer itself would go into the tunnel`);
  for (const ep of req.endpoints) {
    // the endpoint keeps using the main table: it needs a route there that is not the tunnel
    let via: { dev?: string }[] = [];
    try {
      via = await ctx.ip.json<{ dev?: string }[]>([net.isIPv6(ep) ? '-6' : '-4', 'route', 'get', ep]);
    } catch {
      via = [];
    }
    if (via.length === 0 || via[0]?.dev === req.device) {
      ctx.opts.warn?.(`${req.name}: the endpoint ${ep} has no route outside "${req.device}" in the main table: the tunnel's own traffic would loop into it`);
    }
  }
  const entries = planFull({ device: req.device, endpoints: req.endpoints, exclude: req.exclude, table, metric: req.metric, origin: req.origin, families }, ctx.opts.warn);
  await applyEntries(ctx, state, entries, req.dns, { mode: 'full', table, endpoints: req.endpoints, ...(req.dnsRequest !== undefined ? { dnsRequest: req.dnsRequest } : {}) });
  return { name: req.name, device: req.device, mode: 'full', table, entries, dns: req.dns };
}

/** Applies what the session config asks: [Route] Mode, AllowedIPs, Exclude, Table, Metric, DNS, DNSDomains. */
export async function applySessionRoutes(config: SessionConfig, opts: ApplyOptions & DelegateOption = {}): Promise<ApplyResult> {
  return locked(config.name, opts, () => applySessionRoutesUnlocked(config, opts));
}

async function applySessionRoutesUnlocked(config: SessionConfig, opts: ApplyOptions & DelegateOption): Promise<ApplyResult> {
  const ctx = makeContext(opts);
  const name = config.name;
  const device = opts.device ?? config.device.name ?? name;
  if (opts.replace && !ctx.system.dryRun) await removeSessionRoutesUnlocked(name, opts);
  const r = config.route;
  const wantsDns = r.dns.length > 0 || r.dnsDomains.length > 0;
  const delegated = opts.delegateDns && wantsDns ? { link: device, servers: [...r.dns], domains: [...r.dnsDomains], mode: r.mode } : null;
  const dns = opts.delegateDns ? null : await dnsFor(ctx, name, device, r.mode, r.dns, r.dnsDomains, 'up');
  if (r.mode === 'full') {
    const problem = fullTableProblem(config.file, r.table);
    if (problem) throw problem;
    // given by tund (the peer's address of this connection): literals, maybe [v6] or v4-mapped
    let endpoints = opts.endpoints ? [...new Set((await Promise.all(opts.endpoints.map(resolveEndpoint))).flat())] : undefined;
    if (!endpoints) {
      const host = config.session.role === 'client' ? config.session.endpoint?.host : undefined;
      endpoints = host ? await resolveEndpoint(host) : [];
    }
    return applyFull(ctx, { name, device, endpoints, exclude: r.exclude, table: r.table as 'auto' | number, metric: r.metric, dns, ...(opts.delegateDns ? { dnsRequest: delegated } : {}), origin: 'up' });
  }
  const state = await currentState(name, device);
  refuseIfUp(state, opts.delegateDns);
  const table: TableRef = tableRef(r.table);
  const entries = r.mode === 'split' ? planSplit({ device, prefixes: r.allowedIps, table, metric: r.metric, origin: 'up', withRule: true }, opts.warn) : [];
  await applyEntries(ctx, state, entries, dns, { mode: r.mode, table: table === 'main' ? null : table, endpoints: [], ...(opts.delegateDns ? { dnsRequest: delegated } : {}) });
  return { name, device, mode: r.mode, table: table === 'main' ? null : table, entries, dns };
}

/**
 * Removes what applySessionRoutes (or `tunroute full`) made for NAME; ad-hoc `add` routes stay.
 * With delegateDns the session withdraws its DNS request and leaves root's setting to root.
 */
export async function removeSessionRoutes(name: string, opts: RouteOptions & DelegateOption = {}): Promise<number> {
  return locked(name, opts, () => removeSessionRoutesUnlocked(name, opts));
}

async function removeSessionRoutesUnlocked(name: string, opts: RouteOptions & DelegateOption): Promise<number> {
  const ctx = makeContext(opts);
  const state = await readState(name);
  if (!state) return 0;
  if (opts.delegateDns) state.dnsRequest = null;
  return removeEntries(ctx, state, (e) => e.origin === 'up' || e.origin === 'full', !opts.delegateDns);
}

/**
 * Removes everything tunroute made for NAME (state + tag), and nothing else. Idempotent: 0
 * changes and no error when there is nothing left. DEVICE is used for the tag sweep when no state
 * file exists (default: the config's [Device] Name, else NAME).
 */
export async function cleanupSession(name: string, opts: RouteOptions & { device?: string } = {}): Promise<number> {
  return locked(name, opts, async () => {
    const ctx = makeContext(opts);
    const state = (await readState(name)) ?? emptyState(name, opts.device ?? (await deviceOf(name)));
    const snap = await snapshot(ctx.ip);
    // routes with our tag on the session's device that no state lists (a lost state file)
    const stray = strayRoutes(snap, state.device, state.entries);
    state.entries.push(...stray);
    if (stray.length > 0) ctx.opts.warn?.(`${name}: ${stray.length} tagged route(s) on "${state.device}" were not in the state file; removing them too`);
    state.dnsRequest = null;
    return removeEntries(ctx, state, () => true, true, snap);
  });
}

/** The device of session NAME: [Device] Name of its config; NAME when there is no (valid) config. */
export async function deviceOf(name: string): Promise<string> {
  try {
    const { config } = await loadSessionConfig(name);
    return config.device.name || name;
  } catch (error) {
    if (error instanceof ConfigFailure) return name;
    throw error;
  }
}

export interface AddOptions extends RouteOptions {
  device: string;
  via?: string | null;
  table?: TableRef;
  metric?: number | null;
}

/** Ad-hoc routes through the session's device, tagged and recorded (origin "add"). */
export async function addRoutes(name: string, prefixes: string[], opts: AddOptions): Promise<Entry[]> {
  return locked(name, opts, async () => {
    const ctx = makeContext(opts);
    const state = await currentState(name, opts.device);
    const entries = planSplit({ device: opts.device, prefixes, via: opts.via ?? null, table: opts.table ?? 'main', metric: opts.metric ?? null, origin: 'add', withRule: false }, opts.warn);
    for (const e of entries) {
      if (state.entries.some((s) => s.kind === 'route' && e.kind === 'route' && s.dst === e.dst && s.table === e.table && s.metric === e.metric)) {
        throw new TundError(`${name}: ${describeEntry(e)} is already routed by this session`, { hint: `see "tunroute show ${name}"` });
      }
    }
    await applyEntries(ctx, state, entries, null);
    return entries;
  });
}

/** Removes routes of NAME with these prefixes (any origin), optionally only in TABLE. */
export async function delRoutes(name: string, prefixes: string[], opts: RouteOptions & { table?: TableRef } = {}): Promise<number> {
  return locked(name, opts, async () => {
    const ctx = makeContext(opts);
    const state = await readState(name);
    const wanted = prefixes.map((p) => {
      const x = parsePrefix(p, { allowDefault: true });
      if (!x.ok) throw new UsageFailure(`prefix ${JSON.stringify(p)}: ${x.problem} (expected an address with prefix length such as 198.18.0.0/24)`);
      return x;
  });
  const match = (e: Entry) => e.kind === 'route' && wanted.some((w) => w.dst === e.dst && w.family === e.family) && (opts.table === undefined || e.table === opts.table);
  const missing = wanted.filter((w) => !state?.entries.some((e) => e.kind === 'route' && e.dst === w.dst && e.family === w.family && (opts.table === undefined || e.table === opts.table)));
  if (!state || missing.length > 0) {
    throw new TundError(`${name}: no route ${missing.map((m) => JSON.stringify(m.cidr)).join(', ') || JSON.stringify(prefixes[0])} recorded for this session`, { hint: `see "tunroute show ${name}"` });
  }
  return removeEntries(ctx, state, match, false);
  });
}

export interface FullOptions extends RouteOptions {
  device: string;
  endpoints: string[];
  exclude?: string[];
  table?: 'auto' | number;
  metric?: number | null;
}

/** Ad-hoc full tunnel (origin "full"): `tunroute full NAME --endpoint ADDR [--exclude P...]`. */
export async function fullTunnel(name: string, opts: FullOptions): Promise<ApplyResult> {
  const ctx = makeContext(opts);
  const table = opts.table ?? 'auto';
  if (table !== 'auto') {
    const problem = fullTableProblem(null, table);
    if (problem) throw new UsageFailure(`--table ${table}: a full tunnel needs its own routing table (expected auto or a number such as 51820)`);
  }
  return locked(name, opts, () =>
    applyFull(ctx, { name, device: opts.device, endpoints: opts.endpoints, exclude: opts.exclude ?? [], table, metric: opts.metric ?? null, dns: null, origin: 'full' }),
  );
}

/** Runs FN under the session lock (not in dry-run, which changes nothing). */
function locked<T>(name: string, opts: RouteOptions, fn: () => Promise<T>): Promise<T> {
  return opts.dryRun ? fn() : withSessionLock(name, fn);
}

export interface SessionView {
  state: RouteState;
  /** per entry: does the kernel have it (null when it could not be checked) */
  present: (boolean | null)[];
}

/** The recorded sessions (or one), each entry checked against the kernel. */
export async function showSessions(name?: string, opts: RouteOptions = {}): Promise<SessionView[]> {
  const ctx = makeContext(opts);
  const states = name ? [await readState(name)].filter((s): s is RouteState => s !== null) : await listStates();
  let snap: Snapshot | null = null;
  try {
    snap = await snapshot(ctx.ip);
  } catch {
    snap = null;
  }
  return states.map((state) => ({ state, present: state.entries.map((e) => (snap ? present(snap, e) : null)) }));
}

/** For `tunctl status` (core/status RouteInfo/DnsInfo): what a session's routes and DNS are. */
export function routeInfo(x: Pick<ApplyResult, 'mode' | 'table' | 'entries'> | RouteState): { mode: 'none' | 'split' | 'full'; prefixes: string[]; table: number | null } {
  const mode = x.mode ?? 'none';
  const prefixes = x.entries
    .filter((e): e is Extract<Entry, { kind: 'route' }> => e.kind === 'route' && e.origin !== 'add')
    .map((e) => (e.dst === 'default' ? (e.family === 4 ? '0.0.0.0/0' : '::/0') : e.dst.includes('/') ? e.dst : `${e.dst}/${e.family === 4 ? 32 : 128}`));
  return { mode, prefixes, table: x.table ?? null };
}

export function dnsInfo(x: { dns: DnsEntry | null }): { backend: 'resolved' | 'resolvconf' | null; servers: string[]; domains: string[] } | null {
  return x.dns ? { backend: x.dns.backend, servers: [...x.dns.servers], domains: [...x.dns.domains] } : null;
}
