// Resolves --owner / --group values (a name or a number) to ids through `getent`, so that names
// from NSS (LDAP, systemd-userdb, ...) work as well as /etc/passwd ones.
import { UsageFailure } from '../errors.js';
import { childRunner, type ProcessRunner } from '../ip.js';

export type IdDatabase = 'passwd' | 'group';

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "none" to the kernel

/** A uid/gid for NAME-or-NUMBER; throws a usage error (exit 2) when it names nobody. */
export async function resolveId(db: IdDatabase, spec: string, runner: ProcessRunner = childRunner): Promise<number> {
  const what = db === 'passwd' ? 'user' : 'group';
  if (/^\d+$/.test(spec)) {
    const id = Number(spec);
    if (id > MAX_ID) throw new UsageFailure(`${what} id "${spec}" out of range (0-${MAX_ID})`);
    return id;
  }
  if (spec === '' || /[\s:/]/.test(spec)) {
    throw new UsageFailure(`invalid ${what} name ${JSON.stringify(spec)} (expected a name or a number)`);
  }
  let result;
  try {
    result = await runner.run('getent', [db, spec], { echo: undefined });
  } catch (error) {
    throw new UsageFailure(`cannot look up ${what} "${spec}": ${error instanceof Error ? error.message : String(error)}`);
  }
  if (result.exitCode === 2 || (result.exitCode === 0 && result.stdout.trim() === '')) {
    throw new UsageFailure(`unknown ${what} "${spec}"`, `check the name with "getent ${db} ${spec}", or give a number`);
  }
  if (result.exitCode !== 0) {
    throw new UsageFailure(`cannot look up ${what} "${spec}": getent exited with ${result.exitCode}`);
  }
  // passwd: name:x:uid:gid:...   group: name:x:gid:members
  const fields = result.stdout.trim().split('\n')[0]!.split(':');
  const id = Number(fields[2]);
  if (!/^\d+$/.test(fields[2] ?? '') || id > MAX_ID) {
    throw new UsageFailure(`cannot look up ${what} "${spec}": unexpected getent output`);
  }
  return id;
}
