// Turns any thrown value into the lines to print and the exit code to return.
import { errnoOf, hintLine, isPermissionErrno, prefixProblemLines, TundError } from '../errors.js';
import { ExitCode } from '../exit.js';

export interface Failure {
  exitCode: number;
  lines: string[]; // printed on stderr; the CLI base prefixes them with the program name
}

export function describeFailure(error: unknown, verbosity = 0): Failure {
  if (error instanceof TundError) {
    const lines = error.message.split('\n');
    if (error.hint) lines.push(hintLine(error.hint));
    if (verbosity >= 2 && error.stack) lines.push(...indent(error.stack));
    return { exitCode: error.exitCode, lines };
  }
  // clipanion's UsageError, known by name: the session entry (tund NAME) runs without clipanion
  if (error instanceof Error && error.name === 'UsageError') {
    return { exitCode: ExitCode.usage, lines: [asTyped(lowerFirst((error as Error).message))] };
  }
  const code = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const lines = [lowerFirst(message)];
  if (verbosity >= 2 && error instanceof Error && error.stack) lines.push(...indent(error.stack));
  if (isPermissionErrno(code)) {
    lines.push(hintLine('this needs CAP_NET_ADMIN (run as root, or grant the capability)'));
    return { exitCode: ExitCode.noPermission, lines };
  }
  return { exitCode: ExitCode.failure, lines };
}

/** The failure as printed on stderr by PROGRAM: its lines, prefixed with the program's name. */
export function failureText(programName: string, error: unknown, verbosity = 0): { exitCode: number; text: string } {
  const failure = describeFailure(error, verbosity);
  const text = prefixProblemLines(programName, failure.lines).map((l) => `${l}\n`).join('');
  return { exitCode: failure.exitCode, text };
}

/**
 * typanion names an element of a repeatable option by its index ("--address[0]"); people typed
 * "--address", so that is what the message says.
 */
function asTyped(message: string): string {
  return message.replace(/^(invalid value for [^\s:]+?)\[\d+\]/, '$1');
}

function lowerFirst(s: string): string {
  return s.length > 1 && /^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s;
}

function indent(stack: string): string[] {
  return stack.split('\n').map((l) => `  ${l}`);
}
