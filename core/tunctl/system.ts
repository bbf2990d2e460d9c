// The system access of a tunctl verb: an `ip` that echoes `[#] ip ...` through the command
// (silenced by -q), and the process runner (replaceable in tests).
import { Ip, SystemRunner, childRunner, type ProcessRunner } from '../ip.js';

export interface Echoer {
  echo(line: string): void;
}

let runnerOverride: ProcessRunner | undefined;

/** Tests: run every tunctl child process through this runner instead of real programs. */
export function setProcessRunner(runner: ProcessRunner | undefined): void {
  runnerOverride = runner;
}

export function processRunner(): ProcessRunner {
  return runnerOverride ?? childRunner;
}

export function ipFor(command: Echoer, options: { dryRun?: boolean } = {}): Ip {
  return new Ip(
    new SystemRunner({
      echo: (line) => command.echo(line),
      dryRun: options.dryRun ?? false,
      runner: processRunner(),
      context: 'tunctl',
    }),
  );
}
