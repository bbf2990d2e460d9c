// How a long-running command (tund NAME, tund serve) hands its output channels to core/session.
import type { ProcessIo } from '../session/process.js';
import type { BaseCommand } from './base.js';

export function processIo(cmd: BaseCommand): ProcessIo {
  const stderr = cmd.context.stderr;
  return {
    programName: cmd.programName,
    log: (line) => stderr.write(`${line}\n`),
    echo: cmd.quiet ? undefined : (line) => cmd.echo(line),
    warn: (message) => cmd.warn(message),
  };
}
