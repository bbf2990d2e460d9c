// Applies and removes entries with an intent log and rollback:
//  - the state file lists an entry *before* it is added, so a crash at any point leaves nothing
//    that `cleanup` does not know about;
//  - a failure half-way removes what this call added (in reverse order) and restores the state
//    file, so the tables end as they began;
//  - removal only deletes what the kernel still has and what carries our tag (proto 250 /
//    protocol 250 in the del command, so a hand-made route with the same prefix is never hit).
import { TundError } from '../errors.js';
import { CommandFailed, Ip, SystemRunner, type ProcessRunner } from '../ip.js';
import { applyDns, removeDns } from '../dns/index.js';
import { entryArgs, isGone, isOurs, present, snapshot, type KernelRoute, type Snapshot } from './kernel.js';
import { kernelDst } from './prefix.js';
import { listStates, readState, saveOrDelete, sameEntry, writeState, type DnsEntry, type Entry, type Origin, type RouteEntry, type RouteState } from './state.js';

export interface RouteOptions {
  /** Called with every changing command line (`ip -4 route add ...`), without the `[#] ` prefix. */
  echo?: (line: string) => void;
  /** Print the plan only: nothing changes, no state is written. */
  dryRun?: boolean;
  /** Test seam: what runs `ip`, `resolvectl`, `resolvconf`. */
  runner?: ProcessRunner;
  /** Non-fatal problems (host bits set, a skipped family, ...). */
  warn?: (message: string) => void;
}

export interface Context {
  system: SystemRunner;
  ip: Ip;
  opts: RouteOptions;
}

export function makeContext(opts: RouteOptions = {}): Context {
  const system = new SystemRunner({ echo: opts.echo, dryRun: opts.dryRun ?? false, runner: opts.runner });
  return { system, ip: new Ip(system), opts };
}

export function describeEntry(e: Entry): string {
  if (e.kind === 'route') {
    return `route "${e.dst === 'default' ? (e.family === 4 ? 'default' : 'default (IPv6)') : e.dst}"${e.table === 'main' ? '' : ` in table ${e.table}`}`;
  }
  return `rule ${e.priority}${e.to ? ` to "${e.to}"` : ''} lookup ${e.table}`;
}

function conflictMessage(name: string, e: Entry, error: CommandFailed): TundError {
  const stderr = error.result.stderr;
  if (/File exists/i.test(stderr)) {
    const where = e.kind === 'route' ? `route exists in table ${e.table}` : 'the same rule exists already';
    return new TundError(`${name}: cannot add ${describeEntry(e)}: ${where}; rolled back`, {
      hint: `remove the conflicting ${e.kind} or change the session's routes; if it is a leftover of ours, run "tunroute cleanup ${name}"`,
      cause: error,
    });
  }
  if (e.kind === 'route' && /Cannot find device/i.test(stderr)) {
    return new TundError(`${name}: cannot add ${describeEntry(e)}: device "${e.dev}" does not exist; rolled back`, {
      hint: `start the session (tund@${name}) or create the device with "tunctl add ${e.dev}"`,
      cause: error,
    });
  }
  if (e.kind === 'route' && /not up|Network is down/i.test(stderr)) {
    return new TundError(`${name}: cannot add ${describeEntry(e)}: device "${e.dev}" is down; rolled back`, {
      hint: `bring it up first ("tunctl up ${e.dev}" or "ip link set ${e.dev} up")`,
      cause: error,
    });
  }
  return new TundError(`${name}: cannot add ${describeEntry(e)}: ${error.message}; rolled back`, { hint: error.hint, cause: error });
}

/**
 * Adds ENTRIES (and DNS) for session STATE.name; on any failure removes what it added, restores
 * the state file and throws. STATE is the current state (possibly empty) and is updated in place.
 */
export async function applyEntries(ctx: Context, state: RouteState, entries: Entry[], dns: DnsEntry | null, meta: Partial<Pick<RouteState, 'mode' | 'table' | 'endpoints' | 'dnsRequest'>> = {}): Promise<void> {
  if (entries.length === 0 && dns === null && !meta.dnsRequest) return; // Mode = none without DNS: nothing to record
  if (ctx.system.dryRun) {
    for (const e of entries) await ctx.ip.run(entryArgs('add', e));
    if (dns) await applyDns(ctx.system, dns);
    return;
  }
  const before: RouteState = structuredClone(state);
  state.entries.push(...entries);
  if (dns) state.dns = dns;
  Object.assign(state, meta);
  await writeState(state); // intent first
  const done: Entry[] = [];
  let dnsTouched = false;
  // SIGINT/SIGTERM half-way: finish the step under way, then roll back like any other failure
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!interrupted) ctx.opts.warn?.(`${state.name}: ${signal}: finishing the current step, then rolling back`);
    interrupted ??= signal;
  };
  const interruptedError = (signal: NodeJS.Signals) =>
    new TundError(`${state.name}: interrupted by ${signal}; rolled back`, { exitCode: 128 + (signal === 'SIGINT' ? 2 : 15) });
  const checkInterrupted = () => {
    if (interrupted) throw interruptedError(interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const e of entries) {
      checkInterrupted();
      try {
        await ctx.ip.run(entryArgs('add', e));
      } catch (error) {
        if (error instanceof CommandFailed) throw conflictMessage(state.name, e, error);
        throw error;
      }
      done.push(e);
    }
    checkInterrupted();
    if (dns) {
      dnsTouched = true;
      await applyDns(ctx.system, dns);
    }
    checkInterrupted();
  } catch (error) {
    // roll back in reverse order; each step is best effort, the first error is the one reported
    if (dnsTouched && dns) await removeDns(ctx.system, dns).catch(() => undefined);
    for (const e of done.reverse()) {
      const r = await ctx.ip.tryRun(entryArgs('del', e));
      if (r.exitCode !== 0) ctx.opts.warn?.(`rollback: could not remove ${describeEntry(e)}: ${r.stderr.trim()}`);
    }
    Object.assign(state, before);
    state.entries = before.entries;
    state.dns = before.dns;
    state.dnsRequest = before.dnsRequest ?? null;
    await saveOrDelete(state);
    // a step that failed because of the signal (its child was killed too) reports the signal
    throw interrupted ? interruptedError(interrupted) : error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Entries of other sessions (so that cleanup never deletes a twin that belongs to someone else). */
async function othersEntries(name: string): Promise<Entry[]> {
  return (await listStates()).filter((s) => s.name !== name).flatMap((s) => s.entries);
}

/**
 * Removes the entries of STATE selected by WHICH (and its DNS setting if withDns), deleting only
 * what the kernel still has. Idempotent. Returns the number of system changes made.
 */
export async function removeEntries(ctx: Context, state: RouteState, which: (e: Entry) => boolean, withDns: boolean, snap?: Snapshot): Promise<number> {
  const kernel = snap ?? (await snapshot(ctx.ip));
  const others = await othersEntries(state.name);
  const selected = state.entries.filter(which);
  let changes = 0;
  let firstError: unknown = null;
  const kept: Entry[] = state.entries.filter((e) => !which(e));
  // reverse order of creation: the switch-over rules go first, the routes last
  for (const e of [...selected].reverse()) {
    if (!present(kernel, e)) continue;
    if (others.some((o) => sameEntry(o, e))) {
      ctx.opts.warn?.(`${state.name}: not removing ${describeEntry(e)}: another session lists it`);
      continue;
    }
    try {
      await ctx.ip.run(entryArgs('del', e));
      changes++;
    } catch (error) {
      if (isGone(error)) continue;
      firstError ??= error;
      kept.push(e);
    }
  }
  if (withDns && state.dns) {
    try {
      await removeDns(ctx.system, state.dns);
      changes++;
      state.dns = null;
    } catch (error) {
      firstError ??= error;
    }
  }
  if (!ctx.system.dryRun) {
    state.entries = kept;
    if (!state.entries.some((e) => e.origin === 'up' || e.origin === 'full')) {
      state.mode = null;
      state.table = null;
      state.endpoints = [];
    }
    await saveOrDelete(state);
  }
  if (firstError) throw firstError;
  return changes;
}

/** Routes tagged proto 250 on DEVICE that no state lists (a lost or damaged state file). */
export function strayRoutes(snap: Snapshot, device: string, known: Entry[]): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const family of [4, 6] as const) {
    for (const k of snap.routes[family] as KernelRoute[]) {
      if (!isOurs(k.protocol) || k.dev !== device) continue;
      if (k.type !== undefined && k.type !== 'unicast') continue;
      const table = k.table === undefined || k.table === 'main' ? 'main' : Number(k.table);
      if (table !== 'main' && !Number.isInteger(table)) continue;
      const entry: RouteEntry = {
        kind: 'route', family, dst: kernelDst(family, k.dst), dev: device, via: k.gateway ?? null,
        table, metric: k.metric ?? null, origin: 'add' as Origin,
      };
      if (!known.some((e) => e.kind === 'route' && e.dst === entry.dst && e.dev === entry.dev && e.table === entry.table && e.family === family)) out.push(entry);
    }
  }
  return out;
}

export { readState };
