// Hook commands: [Hooks] Up/Down (import-vtun) and wg-quick's PreUp/PostUp/PreDown/PostDown. Each
// runs with /bin/sh -c, echoed as `[#] sh -c ...`, one after the other. vtund only logs a failing
// command and goes on; wg-quick stops at the first failing PreUp or PostUp (and takes back what
// it set up): runHooks stops at the first failure and says which command failed, the session
// decides what that means (HooksSection.abortOnFailure).
import { execa } from 'execa';

export async function runHooks(
  commands: string[],
  env: Record<string, string>,
  echo: ((line: string) => void) | undefined,
  log: (line: string) => void,
  { stopOnFailure = false } = {},
): Promise<string | null> {
  for (const command of commands) {
    echo?.(`sh -c ${JSON.stringify(command)}`);
    let failure: string | null = null;
    try {
      const r = await execa('/bin/sh', ['-c', command], { reject: false, env: { ...env, LC_ALL: 'C' }, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', timeout: 60_000 });
      if (r.exitCode !== 0) failure = `hook "${command}" ${r.timedOut ? 'timed out after 60 s' : `exited with status ${r.exitCode ?? `signal ${r.signal ?? 'unknown'}`}`}`;
    } catch (error) {
      failure = `hook "${command}" failed: ${(error as Error).message}`;
    }
    if (failure === null) continue;
    if (stopOnFailure) return failure;
    log(failure);
  }
  return null;
}
