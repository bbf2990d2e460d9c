// VTun's `multi` policy (docs/vtun-protocol.md §4.9) with lock files runDir()/lock/HOST holding the PID
// of the session process. A lock whose PID is dead is stale and removed.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { MultiPolicy } from '../config/types.js';
import { runDir } from '../paths.js';
import { isProcessAlive } from '../process.js';

export function lockPath(host: string): string {
  return path.join(runDir(), 'lock', host);
}

async function readPid(file: string): Promise<number | null> {
  try {
    const n = Number((await fs.readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Writes our PID atomically into the lock with link(): fails with EEXIST when someone holds it. */
async function tryCreate(file: string, pid: number): Promise<boolean> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${pid}.tmp`;
  await fs.writeFile(tmp, `${pid}\n`, { mode: 0o600 });
  try {
    await fs.link(tmp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

export interface HostLock {
  release(): Promise<void>;
}

const noLock: HostLock = { release: async () => {} };

/**
 * Applies the policy for HOST. Returns a lock to release when the session ends, or a string
 * (the reason) when the connection must be refused.
 */
export async function acquireHostLock(host: string, policy: MultiPolicy, log: (line: string) => void, pid = process.pid): Promise<HostLock | string> {
  if (policy === 'yes') return noLock;
  const file = lockPath(host);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await tryCreate(file, pid)) return { release: () => releaseLock(file, pid) };
    const holder = await readPid(file);
    if (holder === null || holder === pid || !isProcessAlive(holder)) {
      await fs.rm(file, { force: true }); // stale
      continue;
    }
    if (policy === 'no') return `session "${host}" is already connected (pid ${holder}) and Multi = no`;
    // killold: SIGTERM, wait up to 5 s (every 0.5 s), then SIGKILL
    log(`${host}: Multi = killold: stopping the old session (pid ${holder})`);
    try {
      process.kill(holder, 'SIGTERM');
    } catch {
      // gone already
    }
    for (let i = 0; i < 10 && isProcessAlive(holder); i++) await new Promise((r) => setTimeout(r, 500));
    if (isProcessAlive(holder)) {
      log(`${host}: old session (pid ${holder}) still alive after 5 s: SIGKILL`);
      try {
        process.kill(holder, 'SIGKILL');
      } catch {
        // gone
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    if ((await readPid(file)) === holder) await fs.rm(file, { force: true });
  }
  return `cannot take the lock ${file}`;
}

async function releaseLock(file: string, pid: number): Promise<void> {
  if ((await readPid(file)) === pid) await fs.rm(file, { force: true });
}
