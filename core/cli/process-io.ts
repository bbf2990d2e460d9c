// How a long-running command (tund NAME, tund serve) hands its output channels to core/session.
import type { ProcessIo } from '../session/process.js';
import type { BaseCommand } from './base.js';

/** The channels on STDERR of PROGRAM: log lines, `[#]` echoes (none when QUIET), warnings. */
export function stderrIo(programName: string, stderr: NodeJS.WritableStream, quiet: boolean): ProcessIo {
  return {
    programName,
    log: (line) => stderr.write(`${line}\n`),
    echo: quiet ? undefined : (line) => stderr.write(`[#] ${line}\n`),
    warn: (message) => stderr.write(`${programName}: warning: ${message}\n`),
  };
}

export function processIo(cmd: BaseCommand): ProcessIo {
  return stderrIo(cmd.programName, cmd.context.stderr, cmd.quiet);
}
