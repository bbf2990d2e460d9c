// Runs a program to its end as a child process: the one wrapper over node:child_process for the
// short-lived programs the tools run (`ip` and friends, hook commands, completion queries).
// Long-lived children are not this: a session's own process (session/serve.ts) and a pipe
// device's program (session/stream-device.ts) are supervised where they are started.
// node:child_process, not execa: a session process runs `ip` and its hooks too, and execa with its
// dependencies would add some 13 MiB to every session's resident memory (docs/benchmark.md, "Memory").
import { spawn } from 'node:child_process';

export interface ChildOptions {
  /** Added to our environment; LC_ALL is always C (the output is parsed, the messages logged). */
  env?: Record<string, string>;
  /** Written to the program's stdin; without it stdin is /dev/null. */
  input?: string;
  /** 'collect': stdout and stderr come back as text; 'inherit': they go to ours. */
  output: 'collect' | 'inherit';
  /** Stopped with SIGTERM after this long (then `timedOut`). */
  timeoutMs?: number;
}

export interface ChildResult {
  /** The collected output ('' with output 'inherit'). */
  stdout: string;
  stderr: string;
  /** The exit status; null when a signal ended it or it never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the program could not be started (ENOENT, EACCES, ...). */
  startError?: Error;
  timedOut: boolean;
}

/** Runs FILE with ARGS and resolves when it has ended (never rejects: the result says what happened). */
export function runChild(file: string, args: string[], options: ChildOptions): Promise<ChildResult> {
  const { input, output, timeoutMs } = options;
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...options.env, LC_ALL: 'C' },
      stdio: [input === undefined ? 'ignore' : 'pipe', output === 'collect' ? 'pipe' : 'inherit', output === 'collect' ? 'pipe' : 'inherit'],
    });
    let stdout = '';
    let stderr = '';
    let startError: Error | undefined;
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // EPIPE when the program exits without reading its input: its exit status says what happened
    child.stdin?.on('error', () => undefined).end(input);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
          }, timeoutMs);
    child.on('error', (error) => (startError = error));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: startError ? null : code, signal, timedOut, ...(startError ? { startError } : {}) });
    });
  });
}
