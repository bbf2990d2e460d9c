// Hook commands: [Hooks] Up/Down (import-vtun) and wg-quick's PreUp/PostUp/PreDown/PostDown. Each
// runs with /bin/sh -c, echoed as `[#] sh -c ...`, one after the other. vtund only logs a failing
// command and goes on; wg-quick stops at the first failing PreUp or PostUp (and takes back what
// it set up): runHooks stops at the first failure and says which command failed, the session
// decides what that means (HooksSection.abortOnFailure).
import { runChild } from '../child.js';

/** How long one hook may run before it is stopped (SIGTERM). */
const HOOK_TIMEOUT_MS = 60_000;

/** Runs COMMAND with /bin/sh, its output on ours; resolves with what went wrong (null: nothing). */
async function runHook(command: string, env: Record<string, string>): Promise<string | null> {
  const { code, signal, startError, timedOut } = await runChild('/bin/sh', ['-c', command], { env, output: 'inherit', timeoutMs: HOOK_TIMEOUT_MS });
  if (startError) return `failed: ${startError.message}`;
  if (timedOut) return `timed out after ${HOOK_TIMEOUT_MS / 1000} s`;
  return code === 0 ? null : `exited with status ${code ?? `signal ${signal ?? 'unknown'}`}`;
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
