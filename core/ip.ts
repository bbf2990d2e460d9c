// Runs `ip` and friends as child processes (node:child_process: a package such as execa costs
// every tund and tunctl process about 130 more modules to load at start-up, measured by
// handshake-flood.sh). Every changing call is echoed as `[#] ip ...` on stderr (exactly what
// runs, quoted) unless quiet; `--dry-run` prints the plan without running it. Output is parsed
// from `ip -json`, never from text.
import { spawn } from 'node:child_process';
import { PermissionFailure, TundError } from './errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The seam for tests: something that runs a program and returns its output. */
export interface ProcessRunner {
  run(file: string, args: string[], options: { echo: ((line: string) => void) | undefined; input?: string }): Promise<CommandResult>;
}

/** A program's output without its last line end (what callers compare and parse). */
function text(chunks: Buffer[]): string {
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Runs the program with LC_ALL=C; never rejects: a program that cannot start is exit status 127. */
export const childRunner: ProcessRunner = {
  run(file, args, { echo, input }) {
    echo?.(echoLine(file, args));
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const child = spawn(file, args, { env: { ...process.env, LC_ALL: 'C' }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let spawnError: Error | null = null;
      child.stdout!.on('data', (c: Buffer) => out.push(c));
      child.stderr!.on('data', (c: Buffer) => err.push(c));
      child.on('error', (error) => (spawnError = error));
      child.on('close', (code) => {
        const stderr = text(err);
        if (spawnError) resolve({ stdout: '', stderr: stderr || `${file}: ${spawnError.message}`, exitCode: 127 });
        else resolve({ stdout: text(out), stderr, exitCode: code ?? 1 });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  },
};

export interface SystemOptions {
  /** Called with the command line of every changing call (without the `[#] ` prefix). */
  echo?: (line: string) => void;
  /** Print the plan, run nothing that changes the system. */
  dryRun?: boolean;
  runner?: ProcessRunner;
  /** The program prefix for error messages (tunctl, tunroute, ...). */
  context?: string;
}

export class CommandFailed extends TundError {
  readonly result: CommandResult;
  readonly commandLine: string;
  constructor(commandLine: string, result: CommandResult, hint?: string) {
    const detail = result.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit status ${result.exitCode}`;
    super(`${commandLine}: ${detail}`, { hint });
    this.result = result;
    this.commandLine = commandLine;
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(file: string, args: string[]): string {
  return [file, ...args].map(quote).join(' ');
}

/** The `[#] ...` echo of a command: plain words as they are, anything else in single quotes. */
export function echoLine(file: string, args: string[]): string {
  return [file, ...args].map((a) => (/^[\w./-]+$/.test(a) ? a : `'${a.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1)).replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs system tools (ip, resolvectl, ...) with the echo / dry-run policy of the calling command. */
export class SystemRunner {
  readonly dryRun: boolean;
  private readonly runner: ProcessRunner;
  private readonly echoFn: ((line: string) => void) | undefined;

  constructor(options: SystemOptions = {}) {
    this.dryRun = options.dryRun ?? false;
    this.runner = options.runner ?? childRunner;
    this.echoFn = options.echo;
  }

  /** A read-only query: never echoed, always run (also in dry-run). */
  async query(file: string, args: string[]): Promise<CommandResult> {
    const result = await this.runner.run(file, args, { echo: undefined });
    if (result.exitCode !== 0) throw this.failure(file, args, result);
    return result;
  }

  /** A change: echoed, skipped in dry-run. Throws CommandFailed (or PermissionFailure) on failure. */
  async change(file: string, args: string[], options: { input?: string } = {}): Promise<CommandResult> {
    if (this.dryRun) {
      this.echoFn?.(commandLine(file, args));
      return { stdout: '', stderr: '', exitCode: 0 };
    }
    const result = await this.runner.run(file, args, { echo: this.echoFn, ...options });
    if (result.exitCode !== 0) throw this.failure(file, args, result);
    return result;
  }

  /** Like change() but returns the result instead of throwing (for "may already be gone" steps). */
  async tryChange(file: string, args: string[]): Promise<CommandResult> {
    if (this.dryRun) {
      this.echoFn?.(commandLine(file, args));
      return { stdout: '', stderr: '', exitCode: 0 };
    }
    return this.runner.run(file, args, { echo: this.echoFn });
  }

  private failure(file: string, args: string[], result: CommandResult): TundError {
    const line = commandLine(file, args);
    if (/Operation not permitted|Permission denied/i.test(result.stderr)) {
      return new PermissionFailure(
        `${line}: ${result.stderr.trim().split('\n').pop()}`,
        'this needs CAP_NET_ADMIN: run as root or give the program that capability',
      );
    }
    return new CommandFailed(line, result);
  }
}

/** The `ip` tool: JSON queries and echoed changes. */
export class Ip {
  constructor(private readonly system: SystemRunner) {}

  get dryRun(): boolean {
    return this.system.dryRun;
  }

  async json<T = unknown>(args: string[]): Promise<T> {
    const result = await this.system.query('ip', ['-json', ...args]);
    const text = result.stdout.trim();
    return (text === '' ? [] : JSON.parse(text)) as T;
  }

  /** `ip -json ...` that returns [] instead of failing when the object does not exist. */
  async jsonOrEmpty<T = unknown[]>(args: string[]): Promise<T> {
    try {
      return await this.json<T>(args);
    } catch (error) {
      if (error instanceof CommandFailed && /does not exist|Cannot find device/i.test(error.result.stderr)) {
        return [] as unknown as T;
      }
      throw error;
    }
  }

  async run(args: string[]): Promise<void> {
    await this.system.change('ip', args);
  }

  async tryRun(args: string[]): Promise<CommandResult> {
    return this.system.tryChange('ip', args);
  }
}
