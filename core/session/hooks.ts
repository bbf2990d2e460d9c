// Hook commands: [Hooks] Up/Down (import-vtun) and wg-quick's PreUp/PostUp/PreDown/PostDown. Each
// runs with /bin/sh -c, echoed as `[#] sh -c ...`, one after the other. vtund only logs a failing
// command and goes on; wg-quick stops at the first failing PreUp or PostUp (and takes back what
// it set up): runHooks stops at the first failure and says which command failed, the session
// decides what that means (HooksSection.abortOnFailure).
// node:child_process, not execa: a session process runs its hooks, and execa would stay in its
// memory for as long as it runs (docs/benchmark.md, "Memory").
import { spawn } from 'node:child_process';

/** How long one hook may run before it is stopped (SIGTERM). */
const HOOK_TIMEOUT_MS = 60_000;

/** Runs COMMAND with /bin/sh, its output on ours; resolves with what went wrong (null: nothing). */
function runHook(command: string, env: Record<string, string>): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { env: { ...process.env, ...env, LC_ALL: 'C' }, stdio: ['ignore', 'inherit', 'inherit'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, HOOK_TIMEOUT_MS);
    let startError: Error | undefined;
    child.on('error', (error) => (startError = error));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (startError) resolve(`failed: ${startError.message}`);
      else if (timedOut) resolve(`timed out after ${HOOK_TIMEOUT_MS / 1000} s`);
      else resolve(code === 0 ? null : `exited with status ${code ?? `signal ${signal ?? 'unknown'}`}`);
    });
  });
}

export async function runHooks(
  commands: string[],
  env: Record<string, string>,
  echo: ((line: string) => void) | undefined,
  log: (line: string) => void,
  { stopOnFailure = false } = {},
): Promise<string | null> {
  for (const command of commands) {
    echo?.(`sh -c ${JSON.stringify(command)}`);
    const problem = await runHook(command, env);
    if (problem === null) continue;
    const failure = `hook "${command}" ${problem}`;
    if (stopOnFailure) return failure;
    log(failure);
  }
  return null;
}
