// Runs a binary's Cli so that usage errors go to stderr with exit 2 (clipanion would print them on
// stdout and exit 1), help goes to stdout with exit 0, and everything else through BaseCommand.
import { Builtins, Cli, type CommandClass } from 'clipanion';
import { describeFailure } from './failure.js';
import { ExitCode } from '../exit.js';

export const VERSION = '0.1.0';

export interface BinaryDefinition {
  name: string; // tunctl, tund, ...
  label: string; // one line shown atop --help
  commands: CommandClass[];
}

export function buildCli(def: BinaryDefinition): Cli {
  const cli = new Cli({
    binaryLabel: def.label,
    binaryName: def.name,
    binaryVersion: VERSION,
    enableCapture: false,
    enableColors: process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TUND_COLOR !== 'never',
  });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  cli.register(Builtins.DefinitionsCommand);
  for (const command of def.commands) cli.register(command);
  return cli;
}

export async function runCli(def: BinaryDefinition, argv = process.argv.slice(2)): Promise<number> {
  const cli = buildCli(def);
  const context = { ...Cli.defaultContext, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  let command;
  try {
    command = cli.process(argv, context);
  } catch (error) {
    const failure = describeFailure(error);
    const lines = failure.lines.join('\n').split('\n').filter((l) => l.trim() !== '');
    process.stderr.write(`${def.name}: ${lines.join('\n')}\n`);
    process.stderr.write(`hint: see "${def.name} --help"\n`);
    return ExitCode.usage;
  }
  return cli.run(command, context);
}

/** Entry point of a bin/ script: run, then exit with the code (stdout flushed first). */
export function main(def: BinaryDefinition): void {
  runCli(def).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`${def.name}: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = ExitCode.failure;
    },
  );
}
