// Hook commands: [Hooks] Up/Down (import-vtun) and wg-quick's PreUp/PostUp/PreDown/PostDown. Each
// runs with /bin/sh -c, echoed as `[#] sh -c ...`, one after the other. vtund only logs a failing
// command and goes on; wg-quick stops at the first failing PreUp or PostUp (and takes back what
// it set up): runHooks stops at the first failure and says which command failed, the session
// decides what that means (HooksSection.abortOnFailure).
import { spawn } from 'node:child_process';

/** A hook that runs longer is killed (SIGTERM). */
const HOOK_TIMEOUT_MS = 60_000;

export async function runHooks(
  commands: string[],
  env: Record<string, string>,
  echo: ((line: string) => void) | undefined,
  log: (line: string) => void,
  { stopOnFailure = false } = {},
): Promise<string | null> {
  for (const command of commands) {
    echo?.(`sh -c ${JSON.stringify(command)}`);
    const failure = await new Promise<string | null>((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], { env: { ...process.env, ...env, LC_ALL: 'C' }, stdio: ['ignore', 'inherit', 'inherit'] });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
      }, HOOK_TIMEOUT_MS);
      child.on('error', (error) => {
        clearTimeout(timer);
        resolve(`hook "${command}" failed: ${error.message}`);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(null);
        else resolve(`hook "${command}" ${timedOut ? `timed out after ${HOOK_TIMEOUT_MS / 1000} s` : `exited with status ${code ?? `signal ${signal ?? 'unknown'}`}`}`);
      });
    });
    if (failure === null) continue;
    if (stopOnFailure) return failure;
    log(failure);
  }
  return null;
}
