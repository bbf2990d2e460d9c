// [Hooks] Up/Down commands (from import-vtun): run with /bin/sh -c after the device is up and
// before it goes away; each is echoed as `[#] sh -c ...`; a failure is only logged (as vtund).
import { execa } from 'execa';

export async function runHooks(
  commands: string[],
  env: Record<string, string>,
  echo: ((line: string) => void) | undefined,
  log: (line: string) => void,
): Promise<void> {
  for (const command of commands) {
    echo?.(`sh -c ${JSON.stringify(command)}`);
    try {
      const r = await execa('/bin/sh', ['-c', command], { reject: false, env: { ...env, LC_ALL: 'C' }, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', timeout: 60_000 });
      if (r.exitCode !== 0) log(`hook "${command}" exited with status ${r.exitCode ?? 'unknown'}`);
    } catch (error) {
      log(`hook "${command}" failed: ${(error as Error).message}`);
    }
  }
}
