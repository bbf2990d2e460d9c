// The one command skeleton every tund command extends (yarn berry's BaseCommand, adapted):
// diagnostics go to stderr, data to stdout, and every failure becomes a documented exit code.
import { Command, Option, UsageError } from 'clipanion';
import { TundError } from '../errors.js';
import { ExitCode } from '../exit.js';
import { failureText } from './failure.js';
import { colorEnabled, jsonText, palette, type Palette } from './output.js';

/** The options every command has; help lists them last and leaves them out of the synopsis. */
export const COMMON_OPTIONS: readonly string[] = ['--quiet', '--verbose'];

export abstract class BaseCommand extends Command {
  quiet = Option.Boolean('-q,--quiet', false, {
    description: 'Do not echo the system commands that are run ([#] ip ...)',
  });

  verbose = Option.Counter('-v,--verbose', 0, {
    description: 'Say more on stderr; -vv also prints stack traces of internal errors',
  });

  /** The program name used to prefix diagnostics (tunctl, tund, ...). */
  get programName(): string {
    return this.cli?.binaryName ?? 'tund';
  }

  /** The work of the command. Return an exit code, or nothing for 0. */
  abstract run(): Promise<number | void>;

  /** Print one diagnostic line, prefixed with the program name. */
  warn(message: string): void {
    this.context.stderr.write(`${this.programName}: warning: ${message}\n`);
  }

  note(message: string): void {
    this.context.stderr.write(`${this.programName}: ${message}\n`);
  }

  /** Echo of a system change, wg-quick style; silenced by --quiet. */
  echo(line: string): void {
    if (!this.quiet) this.context.stderr.write(`[#] ${line}\n`);
  }

  /** Write data to stdout. */
  out(text: string): void {
    this.context.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** One JSON document on stdout: indented on a terminal, one line for a pipe. */
  printJson(value: unknown): void {
    this.context.stdout.write(jsonText(value, this.context.stdout as { isTTY?: boolean }));
  }

  /** Colours for the human view: only on a terminal, never with NO_COLOR (TUND_COLOR forces). */
  get colors(): Palette {
    return palette(colorEnabled(this.context.stdout as { isTTY?: boolean }));
  }

  // Do not override: clipanion would print errors to stdout and exit 1 (clipanion#176).
  async execute(): Promise<number> {
    try {
      const code = await this.run();
      return typeof code === 'number' ? code : ExitCode.ok;
    } catch (error) {
      return this.reportFailure(error);
    }
  }

  // Schema cascades are checked by clipanion before execute(); their errors are usage errors too.
  override async validateAndExecute(): Promise<number> {
    try {
      return await super.validateAndExecute();
    } catch (error) {
      return this.reportFailure(error);
    }
  }

  protected reportFailure(error: unknown): number {
    const failure = failureText(this.programName, error, this.verbose);
    this.context.stderr.write(failure.text);
    return failure.exitCode;
  }
}

export { UsageError, TundError };
