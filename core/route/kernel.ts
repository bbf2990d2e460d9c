// Entries <-> `ip` command lines, and matching entries against what `ip -json` reports.
import { CommandFailed, type Ip } from '../ip.js';
import { kernelDst } from './prefix.js';
import { ROUTE_PROTO, ROUTE_PROTO_NAMES, type Entry, type RouteEntry, type RuleEntry, type TableRef } from './state.js';

export function familyFlag(family: 4 | 6): string {
  return family === 4 ? '-4' : '-6';
}

function tableArgs(table: TableRef): string[] {
  return table === 'main' ? [] : ['table', String(table)];
}

export function routeArgs(verb: 'add' | 'del', r: RouteEntry): string[] {
  return [
    familyFlag(r.family), 'route', verb, r.dst,
    ...(r.via ? ['via', r.via] : []),
    'dev', r.dev,
    ...tableArgs(r.table),
    ...(r.metric !== null ? ['metric', String(r.metric)] : []),
    'proto', String(ROUTE_PROTO),
  ];
}

export function ruleArgs(verb: 'add' | 'del', r: RuleEntry): string[] {
  return [
    familyFlag(r.family), 'rule', verb,
    ...(r.to ? ['to', r.to] : []),
    'lookup', String(r.table),
    ...(r.suppressPrefixlength !== null ? ['suppress_prefixlength', String(r.suppressPrefixlength)] : []),
    'priority', String(r.priority),
    'protocol', String(ROUTE_PROTO),
  ];
}

export function entryArgs(verb: 'add' | 'del', e: Entry): string[] {
  return e.kind === 'route' ? routeArgs(verb, e) : ruleArgs(verb, e);
}

/** `ip -json route` / `ip -json rule` objects (the keys we use). */
export interface KernelRoute {
  type?: string;
  dst?: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  metric?: number;
}

export interface KernelRule {
  priority?: number;
  src?: string;
  dst?: string;
  dstlen?: number;
  table?: string;
  protocol?: string;
  suppress_prefixlen?: number;
  not?: null;
  fwmark?: string;
  iif?: string;
  oif?: string;
}

export interface Snapshot {
  routes: { 4: KernelRoute[]; 6: KernelRoute[] };
  rules: { 4: KernelRule[]; 6: KernelRule[] };
}

export async function snapshot(ip: Ip): Promise<Snapshot> {
  const [r4, r6, u4, u6] = await Promise.all([
    ip.json<KernelRoute[]>(['-4', 'route', 'show', 'table', 'all']),
    ip.json<KernelRoute[]>(['-6', 'route', 'show', 'table', 'all']).catch(() => [] as KernelRoute[]),
    ip.json<KernelRule[]>(['-4', 'rule', 'show']),
    ip.json<KernelRule[]>(['-6', 'rule', 'show']).catch(() => [] as KernelRule[]),
  ]);
  return { routes: { 4: r4, 6: r6 }, rules: { 4: u4, 6: u6 } };
}

export function isOurs(protocol: string | undefined): boolean {
  return protocol !== undefined && ROUTE_PROTO_NAMES.includes(protocol);
}

function tableName(table: TableRef): string {
  return table === 'main' || table === 254 ? 'main' : String(table);
}

export function routeMatches(k: KernelRoute, r: RouteEntry): boolean {
  if (!isOurs(k.protocol)) return false;
  if (k.type !== undefined && k.type !== 'unicast') return false;
  if ((k.table ?? 'main') !== tableName(r.table)) return false;
  if (kernelDst(r.family, k.dst) !== r.dst) return false;
  if (k.dev !== r.dev) return false;
  if ((k.gateway ?? null) !== r.via) return false;
  if (r.metric !== null && (k.metric ?? 0) !== r.metric) return false;
  return true;
}

export function ruleMatches(k: KernelRule, r: RuleEntry): boolean {
  if (!isOurs(k.protocol)) return false;
  if (k.priority !== r.priority) return false;
  if ((k.table ?? 'main') !== tableName(r.table)) return false;
  if ('not' in k || k.fwmark !== undefined || k.iif !== undefined || k.oif !== undefined) return false;
  const dst = k.dst === undefined ? null : kernelDst(r.family, k.dst, k.dstlen ?? (r.family === 4 ? 32 : 128));
  const want = r.to === null ? null : kernelDst(r.family, r.to);
  if (dst !== want) return false;
  if ((k.suppress_prefixlen ?? null) !== r.suppressPrefixlength) return false;
  return true;
}

export function present(snap: Snapshot, e: Entry): boolean {
  return e.kind === 'route'
    ? snap.routes[e.family].some((k) => routeMatches(k, e))
    : snap.rules[e.family].some((k) => ruleMatches(k, e));
}

/** Messages of `ip ... del` that mean "it is not there (any more)". */
export function isGone(error: unknown): boolean {
  return (
    error instanceof CommandFailed &&
    /No such process|No such file or directory|Cannot find device|does not exist|FIB table does not exist/i.test(error.result.stderr)
  );
}

/** Tables referenced by any route or rule (for picking a free one). */
export function tablesInUse(snap: Snapshot): Set<string> {
  const used = new Set<string>();
  for (const f of [4, 6] as const) {
    for (const k of snap.routes[f]) used.add(k.table ?? 'main');
    for (const k of snap.rules[f]) if (k.table) used.add(k.table);
  }
  return used;
}
