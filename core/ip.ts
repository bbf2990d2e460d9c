// Runs `ip` and friends as child processes. Every changing call is echoed as `[#] ip ...` on
// stderr (the line is made from the very file and arguments that are spawned) unless quiet;
// `--dry-run` prints the plan without running it. Output is parsed from `ip -json`, never from text.
import { runChild } from './child.js';
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

/** The output as the caller wants it: text without the one final newline every tool prints. */
function withoutFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** Runs FILE with ARGS under LC_ALL=C; a program that cannot start fails with its reason in stderr. */
export const childRunner: ProcessRunner = {
  async run(file, args, { echo, input }) {
    echo?.(echoLine(file, args));
    const { stdout, stderr, code, startError } = await runChild(file, args, { output: 'collect', ...(input === undefined ? {} : { input }) });
    const reason = startError ? `${file}: ${startError.message}` : '';
    // killed by a signal (code null) or never started: a failure all the same
    return { stdout: withoutFinalNewline(stdout), stderr: withoutFinalNewline(stderr || reason), exitCode: startError ? 1 : (code ?? 1) };
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

function quote(arg: string, bare: RegExp): string {
  return bare.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command line as a shell would take it (plans of --dry-run, error messages). */
export function commandLine(file: string, args: string[]): string {
  return [file, ...args].map((a) => quote(a, /^[\w@%+=:,./-]+$/)).join(' ');
}

const CONTROL_ESCAPES: Record<string, string> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * ARG with control characters and whitespace but the space written as escapes. (Not with Unicode
 * property classes: compiling one maps ICU's tables into every session, 1 MiB for one echo.)
 */
function visible(arg: string): string {
  return arg.replace(/[^\S ]|[\0-\x1f\x7f-\x9f\xad]/g, (c) => CONTROL_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The `[#]` echo of a command that runs, in the form the tools have always printed (execa's
 * escaped command: `ip link set dev tap0 address '02:00:5e:10:00:01'`); one command, one line.
 */
export function echoLine(file: string, args: string[]): string {
  return [file, ...args].map((a) => quote(visible(a), /^[\w./-]+$/)).join(' ');
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
