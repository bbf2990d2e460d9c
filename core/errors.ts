// Typed errors: each carries the exit code and an optional hint, so that commands only throw and
// the CLI base decides how to print them (`prog: context: problem`, then `hint: ...`).
import { ExitCode } from './exit.js';

export interface TundErrorOptions {
  exitCode?: number;
  hint?: string;
  cause?: unknown;
}

export class TundError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(message: string, options: TundErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.hint = options.hint;
  }
}

/** Bad arguments that typanion could not catch (e.g. a CIDR list that is inconsistent): exit 2. */
export class UsageFailure extends TundError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
  }
}

/** Missing CAP_NET_ADMIN or file permission: exit 77. */
export class PermissionFailure extends TundError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.noPermission, hint, cause });
  }
}

/** No /dev/net/tun or no kernel support: exit 69. */
export class NoTunFailure extends TundError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.noTun, hint, cause });
  }
}

/** A session or device that is not there / not running: exit 3. */
export class NotRunningFailure extends TundError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.notRunning, hint });
  }
}

export interface ConfigProblem {
  file: string;
  line: number; // 0 when the problem is about the file as a whole
  message: string;
}

export function formatConfigProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** Every problem of a configuration at once, GNU `file:line: problem` style: exit 78. */
export class ConfigFailure extends TundError {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], hint?: string) {
    super(problems.map(formatConfigProblem).join('\n'), { exitCode: ExitCode.badConfig, hint });
    this.problems = problems;
  }
}

/** The line after a problem that says what to do about it: `hint: ...`, never prefixed. */
export function hintLine(hint: string): string {
  return `hint: ${hint}`;
}

/**
 * The house format of a problem, on a command's stderr as in a session's log: PREFIX (the program,
 * or the session's name) before each line, but not before hint lines nor indented ones (a stack),
 * so that `prog: context: problem` is followed by `hint: ...` as it is everywhere.
 */
export function prefixProblemLines(prefix: string, lines: string[]): string[] {
  return lines.map((l) => (l.startsWith('hint:') || l.startsWith('  ') ? l : `${prefix}: ${l}`));
}

/** MESSAGE, then HINT, in the house format: what a log says of a failure it goes on after. */
function problemLines(prefix: string, message: string, hint: string | undefined): string[] {
  const lines = message.split('\n');
  if (hint) lines.push(hintLine(hint));
  return prefixProblemLines(prefix, lines);
}

/** Writes MESSAGE, then HINT, to LOG (a line per call) in the house format: problemLines. */
export function logProblem(log: (line: string) => void, prefix: string, message: string, hint: string | undefined): void {
  for (const line of problemLines(prefix, message, hint)) log(line);
}

/** The hint of an error, if it is a TundError with one. */
export function hintOf(error: unknown): string | undefined {
  return error instanceof TundError ? error.hint : undefined;
}

/** errno codes that mean "you are not allowed to" rather than "it failed". */
export function isPermissionErrno(code: unknown): boolean {
  return code === 'EPERM' || code === 'EACCES';
}

export function errnoOf(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    return (error as { code: string }).code;
  }
  return undefined;
}
