// Runs `ip` and friends through execa. Every changing call is echoed as `[#] ip ...` on stderr
// (through execa's verbose hook, so the line is exactly what ran) unless quiet; `--dry-run` prints
// the plan without running it. Output is parsed from `ip -json`, never from text.
import { execa, type Options } from 'execa';
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

export const execaRunner: ProcessRunner = {
  async run(file, args, { echo, input }) {
    const options: Options = {
      reject: false,
      env: { LC_ALL: 'C' },
      stdin: input === undefined ? 'ignore' : 'pipe',
      ...(input === undefined ? {} : { input }),
      verbose: echo
        ? (_line, info) => {
            if (info.type === 'command') echo(info.escapedCommand);
            return undefined;
          }
        : 'none',
    };
    const result = await execa(file, args, options);
    return {
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      exitCode: result.exitCode ?? (result.failed ? 1 : 0),
    };
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

/** Runs system tools (ip, resolvectl, ...) with the echo / dry-run policy of the calling command. */
export class SystemRunner {
  readonly dryRun: boolean;
  private readonly runner: ProcessRunner;
  private readonly echoFn: ((line: string) => void) | undefined;

  constructor(options: SystemOptions = {}) {
    this.dryRun = options.dryRun ?? false;
    this.runner = options.runner ?? execaRunner;
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
