// What tunroute made for a session, kept in runDir()/routes/NAME.json. It is written *before* the
// system is changed (an intent log), so that after a crash at any point `tunroute cleanup NAME`
// knows every route, rule and DNS setting that may exist. Writes are atomic (temp file + rename).
import { constants as fsc, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TundError } from '../errors.js';
import { runDir } from '../paths.js';
import { NAME_PATTERN } from '../names.js';
import type { DnsRequest } from '../dns/index.js';
import { isBusy, lockWithin, type LockAttempt } from '../lock.js';
import { giveRunFile, makeRunDirectory, runFileOwner } from '../auth/account.js';

/** The routing protocol number that tags our routes (`proto 250`) and rules (`protocol 250`). */
export const ROUTE_PROTO = 250;
/** Names `ip -json` may print for our protocol (if rt_protos.d registers one). */
export const ROUTE_PROTO_NAMES = ['250', 'tunroute'];

/** Which verb made an entry: `up`/`full` entries go on `down`; `add` entries on `del`; all on `cleanup`. */
export type Origin = 'up' | 'full' | 'add';

export type TableRef = number | 'main';

export interface RouteEntry {
  kind: 'route';
  family: 4 | 6;
  /** `ip -json` form: default | ADDR | ADDR/LEN */
  dst: string;
  dev: string;
  via: string | null;
  table: TableRef;
  metric: number | null;
  origin: Origin;
}

export interface RuleEntry {
  kind: 'rule';
  family: 4 | 6;
  priority: number;
  /** `ip rule ... to CIDR`, or null for all destinations */
  to: string | null;
  table: TableRef;
  suppressPrefixlength: number | null;
  origin: Origin;
}

export type Entry = RouteEntry | RuleEntry;

export interface DnsEntry {
  backend: 'resolved' | 'resolvconf';
  link: string;
  servers: string[];
  domains: string[];
  /** resolved: the link is a default route for DNS (full tunnel) */
  defaultRoute: boolean | null;
  /** resolvconf: the interface record name (LINK.tund) */
  record: string | null;
  origin: Origin;
}

export interface RouteState {
  format: 1;
  name: string;
  device: string;
  mode: 'none' | 'split' | 'full' | null;
  table: number | null;
  endpoints: string[];
  entries: Entry[];
  dns: DnsEntry | null;
  /**
   * The DNS a session that is not root asks for while its link is up (tund@.service sets
   * TUND_DNS=delegate): root's `tunroute dns NAME` applies it and records that in `dns`.
   * Absent or null: nothing asked.
   */
  dnsRequest?: DnsRequest | null;
  updated: string;
}

export function stateDir(): string {
  return path.join(runDir(), 'routes');
}

export function statePath(name: string): string {
  return path.join(stateDir(), `${name}.json`);
}

export function emptyState(name: string, device: string): RouteState {
  return { format: 1, name, device, mode: null, table: null, endpoints: [], entries: [], dns: null, updated: new Date().toISOString() };
}

/**
 * The names cleanup passes to resolvconf and resolvectl are interface names (and LINK.tund): the
 * file may be written by the session's user and read by root, who must not be steered to another
 * path (resolvconf -d ../x).
 */
function saneDns(dns: DnsEntry | null | undefined): boolean {
  if (dns === null) return true;
  if (typeof dns !== 'object' || dns === undefined || typeof dns.link !== 'string' || !isInterfaceName(dns.link)) return false;
  return dns.record === null || (typeof dns.record === 'string' && dns.record === `${dns.link}.tund`);
}

export function isInterfaceName(s: unknown): s is string {
  return typeof s === 'string' && NAME_PATTERN.test(s) && s !== '.' && s !== '..';
}

/** A DNS server root may pass to resolvectl or write into a resolvconf record: an IP literal. */
function isServer(s: unknown): boolean {
  return typeof s === 'string' && net.isIP(s) !== 0;
}

/** A search or routing domain: "~." or labels of letters, digits, "-" and "_", optionally "~" first. */
function isDomain(s: unknown): boolean {
  if (typeof s !== 'string' || s.length > 254) return false;
  const name = s.replace(/^~/, '');
  if (name === '.') return true;
  const labels = name.replace(/\.$/, '').split('.');
  return labels.every((l) => /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/.test(l));
}

/**
 * A session's DNS request as root may act on it (core/route/dns-follow.ts): the file belongs to the
 * session's user, so every field is checked (a link name, IP literals, domain names), and nothing
 * in it can name a path or an option.
 */
export function saneDnsRequest(r: unknown): r is DnsRequest {
  if (typeof r !== 'object' || r === null) return false;
  const q = r as Partial<DnsRequest>;
  return (
    isInterfaceName(q.link) &&
    Array.isArray(q.servers) && q.servers.length <= 16 && q.servers.every(isServer) &&
    Array.isArray(q.domains) && q.domains.length <= 64 && q.domains.every(isDomain) &&
    (q.mode === 'split' || q.mode === 'full' || q.mode === 'none')
  );
}

export async function readState(name: string): Promise<RouteState | null> {
  let text: string;
  try {
    // O_NOFOLLOW|O_NONBLOCK, a regular file only: root reads a file in a directory of the
    // session's user, who must not make it read another file or hang on a FIFO
    const handle = await fs.open(statePath(name), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      if (!(await handle.stat()).isFile()) return null;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') return null; // a symbolic link: not ours, treated as missing
    throw error;
  }
  try {
    const state = JSON.parse(text) as RouteState;
    if (state && state.format === 1 && Array.isArray(state.entries) && saneDns(state.dns)) return state;
  } catch {
    // fall through: a damaged file is treated as missing (cleanup then sweeps by tag)
  }
  return null;
}

/** Atomic replace: write a temp file in the same directory, fsync, rename over the old one. */
export async function writeState(state: RouteState): Promise<void> {
  const dir = stateDir();
  makeRunDirectory(dir);
  const file = statePath(state.name);
  const tmp = `${file}.${process.pid}.tmp`;
  const body = `${JSON.stringify({ ...state, updated: new Date().toISOString() }, null, 2)}\n`;
  // O_EXCL|O_NOFOLLOW: the directory may belong to the session's user, and root's tunroute must
  // not write through a link planted there; a temp file a crash left is removed first
  await fs.rm(tmp, { force: true });
  const handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
  try {
    // a state that root's tunroute rewrites stays the session's (the run directory's owner)
    giveRunFile(handle.fd, runFileOwner(file));
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}

export async function deleteState(name: string): Promise<void> {
  await fs.rm(statePath(name), { force: true });
}

/** Saves the state, or removes the file when nothing is left in it. */
export async function saveOrDelete(state: RouteState): Promise<void> {
  if (state.entries.length === 0 && state.dns === null && !state.dnsRequest) await deleteState(state.name);
  else await writeState(state);
}

export async function listStates(): Promise<RouteState[]> {
  let names: string[];
  try {
    names = await fs.readdir(stateDir());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: RouteState[] = [];
  for (const file of names.sort()) {
    if (!file.endsWith('.json')) continue;
    const state = await readState(file.slice(0, -'.json'.length));
    if (state) out.push(state);
  }
  return out;
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a.kind !== b.kind || a.family !== b.family || a.table !== b.table) return false;
  if (a.kind === 'route' && b.kind === 'route') {
    return a.dst === b.dst && a.dev === b.dev && a.via === b.via && a.metric === b.metric;
  }
  if (a.kind === 'rule' && b.kind === 'rule') {
    return a.priority === b.priority && a.to === b.to && a.suppressPrefixlength === b.suppressPrefixlength;
  }
  return false;
}

/**
 * A per-session lock (routes/NAME.lock, core/lock.ts), so that tund and a tunroute command never
 * edit the same session's routes and state at once. Waits up to timeoutMs, then fails.
 */
export async function withSessionLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 10000): Promise<T> {
  const file = path.join(stateDir(), `${name}.lock`);
  let attempt: LockAttempt;
  try {
    attempt = await lockWithin(file, timeoutMs);
  } catch (error) {
    // a read-only /run (a unit without ReadWritePaths): cleanup with nothing recorded must still work
    if (['EROFS', 'EACCES', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '')) return fn();
    throw error;
  }
  if (isBusy(attempt)) {
    const who = attempt.holder === null ? 'another tunroute' : `another tunroute (PID ${attempt.holder})`;
    throw new TundError(`${name}: ${who} is changing this session's routes (lock ${file})`);
  }
  try {
    return await fn();
  } finally {
    attempt.release();
  }
}
