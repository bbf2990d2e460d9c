// What a split or full tunnel needs, as a list of route and rule entries (no system access here).
//
// Full tunnel, the wg-quick way but without a firewall mark: the default routes (IPv4 and IPv6)
// go into a table of their own, and three rule levels decide which table a packet uses:
//   31000  to ENDPOINT lookup main       the peer's endpoint (and every Exclude prefix) keeps
//                                        using the main table, i.e. the previous gateway
//   31001  lookup main suppress_prefixlength 0
//                                        every more specific route of main (LAN, connected
//                                        subnets) still wins; main's default route does not
//   31002  lookup TABLE                  everything else goes into the tunnel
// Nothing in main is changed, so the old default route is still there, and it is read live: if
// DHCP changes the gateway, the endpoint follows it.
import { ConfigFailure, UsageFailure } from '../errors.js';
import { parsePrefix } from '../net.js';
import type { Entry, Origin, RouteEntry, RuleEntry, TableRef } from './state.js';

export const PRIORITY_EXCEPT = 31000;
export const PRIORITY_SUPPRESS = 31001;
export const PRIORITY_TABLE = 31002;
/** First table number tried for Table = auto in full mode (as wg-quick: 51820 upward). */
export const TABLE_BASE = 51820;
export const TABLE_SEARCH = 1000;

export interface SplitPlanInput {
  device: string;
  prefixes: string[];
  via?: string | null;
  table: TableRef;
  metric: number | null;
  origin: Origin;
  /** add `lookup TABLE` rules when the table is not main (for `up` with Table = N) */
  withRule: boolean;
}

export interface FullPlanInput {
  device: string;
  /** endpoint addresses (IP literals) that must stay outside the tunnel */
  endpoints: string[];
  exclude: string[];
  table: number;
  metric: number | null;
  origin: Origin;
  families: (4 | 6)[];
}

/** Normalises a list of prefixes; throws with every bad one listed. */
export function normalisePrefixes(list: string[], what: string, warn?: (m: string) => void): { family: 4 | 6; dst: string; cidr: string }[] {
  const out: { family: 4 | 6; dst: string; cidr: string }[] = [];
  const bad: string[] = [];
  for (const text of list) {
    const p = parsePrefix(text, { allowDefault: true });
    if (!p.ok) {
      bad.push(`${what} ${JSON.stringify(text)}: ${p.problem}`);
      continue;
    }
    if (p.hostBitsSet) warn?.(`${what} "${text}" has host bits set (using ${p.cidr})`);
    if (!out.some((o) => o.dst === p.dst && o.family === p.family)) out.push({ family: p.family, dst: p.dst, cidr: p.cidr });
  }
  if (bad.length > 0) throw new UsageFailure(`${bad.join('; ')} (expected an address with prefix length such as 198.18.0.0/24)`);
  return out;
}

export function tableRef(table: 'auto' | 'off' | number | 'main'): TableRef {
  if (table === 'auto' || table === 'off' || table === 'main' || table === 254) return 'main';
  return table;
}

export function planSplit(input: SplitPlanInput, warn?: (m: string) => void): Entry[] {
  const prefixes = normalisePrefixes(input.prefixes, 'prefix', warn);
  const routes: RouteEntry[] = prefixes.map((p) => ({
    kind: 'route', family: p.family, dst: p.dst, dev: input.device, via: input.via ?? null,
    table: input.table, metric: input.metric, origin: input.origin,
  }));
  const rules: RuleEntry[] = [];
  if (input.withRule && input.table !== 'main') {
    for (const family of [4, 6] as const) {
      if (!prefixes.some((p) => p.family === family)) continue;
      rules.push({ kind: 'rule', family, priority: PRIORITY_TABLE, to: null, table: input.table, suppressPrefixlength: null, origin: input.origin });
    }
  }
  return [...routes, ...rules];
}

export function planFull(input: FullPlanInput, warn?: (m: string) => void): Entry[] {
  const origin = input.origin;
  const entries: Entry[] = [];
  for (const family of input.families) {
    entries.push({ kind: 'route', family, dst: 'default', dev: input.device, via: null, table: input.table, metric: input.metric, origin });
  }
  const exceptions = normalisePrefixes(
    [...input.endpoints.map((e) => (e.includes('/') ? e : `${e}/${e.includes(':') ? 128 : 32}`))],
    'endpoint',
  ).concat(normalisePrefixes(input.exclude, 'exclude', warn));
  const seen = new Set<string>();
  for (const x of exceptions) {
    if (seen.has(`${x.family} ${x.dst}`)) continue;
    seen.add(`${x.family} ${x.dst}`);
    if (x.dst === 'default') throw new UsageFailure(`exclude "${x.cidr}" would keep everything outside the tunnel (expected a narrower prefix)`);
    entries.push({ kind: 'rule', family: x.family, priority: PRIORITY_EXCEPT, to: x.cidr, table: 'main', suppressPrefixlength: null, origin });
  }
  for (const family of input.families) {
    entries.push({ kind: 'rule', family, priority: PRIORITY_SUPPRESS, to: null, table: 'main', suppressPrefixlength: 0, origin });
  }
  for (const family of input.families) {
    entries.push({ kind: 'rule', family, priority: PRIORITY_TABLE, to: null, table: input.table, suppressPrefixlength: null, origin });
  }
  return entries;
}

/** Full mode cannot work in the main table: the policy rules need a table of their own. */
export function fullTableProblem(file: string | null, table: 'auto' | 'off' | number): ConfigFailure | null {
  if (table === 'off' || table === 254 || table === 255 || table === 253 || table === 0) {
    return new ConfigFailure(
      [{ file: file ?? 'tunroute', line: 0, message: `[Route] Mode = full needs its own routing table (Table is ${JSON.stringify(table)}; expected auto or a number such as 51820)` }],
      'set "Table = auto" in [Route]',
    );
  }
  return null;
}
