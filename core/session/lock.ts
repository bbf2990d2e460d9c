// The locks of a session process (core/lock.ts, flock(2)):
//  - instanceLock(NAME): one `tund NAME` at a time (runDir()/NAME.lock), taken before anything
//    touches the network or a device;
//  - acquireHostLock(HOST, Multi): VTun's `multi` policy (docs/vtun-protocol.md §4.9) for the processes
//    that serve connections of one HOST (runDir()/lock/HOST).
import path from 'node:path';
import type { MultiPolicy } from '../config/types.js';
import { TundError } from '../errors.js';
import { isBusy, tryLock, type HeldLock } from '../lock.js';
import { runDir } from '../paths.js';
import { isProcessAlive } from '../process.js';

export function lockPath(host: string): string {
  return path.join(runDir(), 'lock', host);
}

export function instanceLockPath(name: string): string {
  return path.join(runDir(), `${name}.lock`);
}

/** Refuses a second `tund NAME`: `NAME: already running (pid N)` (exit 1). */
export function instanceLock(name: string): HeldLock {
  const attempt = tryLock(instanceLockPath(name));
  if (isBusy(attempt)) {
    throw new TundError(`${name}: already running${attempt.holder === null ? '' : ` (pid ${attempt.holder})`}`, {
      hint: `see "tunctl status ${name}"; stop it first to start it again`,
    });
  }
  return attempt;
}

export interface HostLock {
  release(): Promise<void>;
}

const noLock: HostLock = { release: async () => {} };

const KILLOLD_WAIT_MS = 5000;
const KILLOLD_POLL_MS = 100;

/**
 * Applies the policy for HOST. Returns a lock to release when the session ends, or a string
 * (the reason) when the connection must be refused.
 */
export async function acquireHostLock(host: string, policy: MultiPolicy, log: (line: string) => void): Promise<HostLock | string> {
  if (policy === 'yes') return noLock;
  const file = lockPath(host);
  let attempt = tryLock(file);
  if (isBusy(attempt) && policy === 'no') {
    return `session "${host}" is already connected${attempt.holder === null ? '' : ` (pid ${attempt.holder})`} and Multi = no`;
  }
  if (isBusy(attempt)) {
    // killold: SIGTERM, wait up to 5 s for the lock, then SIGKILL
    const holder = attempt.holder;
    if (holder === null || holder === process.pid) return `cannot take the lock ${file}: held by an unknown process`;
    log(`${host}: Multi = killold: stopping the old session (pid ${holder})`);
    signal(holder, 'SIGTERM');
    for (let waited = 0; isBusy(attempt) && waited < KILLOLD_WAIT_MS; waited += KILLOLD_POLL_MS) {
      await new Promise((r) => setTimeout(r, KILLOLD_POLL_MS));
      attempt = tryLock(file);
    }
    if (isBusy(attempt) && isProcessAlive(holder)) {
      log(`${host}: old session (pid ${holder}) still alive after 5 s: SIGKILL`);
      signal(holder, 'SIGKILL');
      for (let waited = 0; isBusy(attempt) && waited < 2000; waited += KILLOLD_POLL_MS) {
        await new Promise((r) => setTimeout(r, KILLOLD_POLL_MS));
        attempt = tryLock(file);
      }
    }
    if (isBusy(attempt)) return `cannot take the lock ${file}: still held${attempt.holder === null ? '' : ` by pid ${attempt.holder}`}`;
  }
  const held = attempt;
  return { release: async () => held.release() };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}
