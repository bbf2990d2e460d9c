// Runs a binary's commands. Everything clipanion would decide by itself and get wrong for us is
// decided here, once for the four tools:
//   - `-h`/`--help` anywhere (before `--`) prints the help of the command the words select
//     (`tund office --help` is the help of `tund NAME`), on stdout, exit 0;
//   - `-V`/`--version` prints the version; `-v` is `--verbose` everywhere;
//   - a command line that does not parse gets one line that names the problem (diagnose.ts), on
//     stderr, exit 2, never the table of every command with the internals in it;
//   - help and the definitions document show real placeholders (`--mode tun|tap`) and hide the
//     internals (`__complete`, `--clipanion=definitions`), which still work for completion.
import { Cli, Command, type CommandClass } from 'clipanion';
import { describeFailure } from './failure.js';
import { ExitCode } from '../exit.js';
import { diagnose, selectCommand } from './diagnose.js';
import { binaryHelp, commandHelp, definitions, type BinaryInfo } from './help.js';
import { colorEnabled, palette } from './output.js';
import { commandSpec, type CommandSpec } from './spec.js';

export const VERSION = '0.1.0';

export interface BinaryDefinition {
  name: string; // tunctl, tund, ...
  label: string; // one line shown atop --help
  commands: CommandClass[];
}

function binaryInfo(def: BinaryDefinition): BinaryInfo {
  return { name: def.name, label: def.label, version: VERSION, specs: def.commands.map(commandSpec) };
}

/** What `BIN --clipanion=definitions` prints for this binary. */
export function binaryDefinitions(def: BinaryDefinition) {
  return definitions(def.name, def.commands.map(commandSpec));
}

/** Builds the clipanion Cli with our own help, version and definitions commands. */
export function buildCli(def: BinaryDefinition): Cli {
  const info = binaryInfo(def);
  // hidden (no usage): they are the binary's own options, listed in its help instead
  class HelpCommand extends Command {
    static override paths = [['-h'], ['--help']];
    async execute(): Promise<number> {
      this.context.stdout.write(binaryHelp(info, palette(colorEnabled(this.context.stdout as { isTTY?: boolean }))));
      return ExitCode.ok;
    }
  }
  class VersionCommand extends Command {
    static override paths = [['-V'], ['--version']];
    async execute(): Promise<number> {
      this.context.stdout.write(`${VERSION}\n`);
      return ExitCode.ok;
    }
  }
  class DefinitionsCommand extends Command {
    static override paths = [['--clipanion=definitions']];
    async execute(): Promise<number> {
      this.context.stdout.write(`${JSON.stringify(definitions(def.name, info.specs), null, 2)}\n`);
      return ExitCode.ok;
    }
  }
  const cli = new Cli({ binaryLabel: def.label, binaryName: def.name, binaryVersion: VERSION, enableCapture: false, enableColors: false });
  for (const command of [HelpCommand, VersionCommand, DefinitionsCommand, ...def.commands]) cli.register(command);
  return cli;
}

/** The command whose help `argv` asks for (`--help` before any `--`), or undefined. */
function helpRequest(specs: CommandSpec[], argv: string[]): { spec: CommandSpec | null } | undefined {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  if (!head.some((t) => t === '-h' || t === '--help')) return undefined;
  const selected = selectCommand(specs, head.filter((t) => t !== '-h' && t !== '--help'));
  // `tund --help` lists every command; `tund office --help` is the help of `tund NAME`
  const words = head.filter((t) => !t.startsWith('-'));
  if (!selected || selected.spec.hidden || (selected.path.length === 0 && words.length === 0)) return { spec: null };
  return { spec: selected.spec };
}

interface Streams {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

export async function runCli(def: BinaryDefinition, argv = process.argv.slice(2), streams: Streams = process): Promise<number> {
  const cli = buildCli(def);
  const specs = def.commands.map(commandSpec);
  const context = { ...Cli.defaultContext, stdin: streams.stdin as typeof process.stdin, stdout: streams.stdout as typeof process.stdout, stderr: streams.stderr as typeof process.stderr };
  const usageError = (message: string, hintFor: CommandSpec | null | undefined): number => {
    const help = hintFor ? `${def.name} ${hintFor.path.join(' ')}`.trimEnd() : def.name;
    streams.stderr.write(`${def.name}: ${message}\n`);
    if (hintFor !== undefined) streams.stderr.write(`hint: see "${help} --help"\n`);
    return ExitCode.usage;
  };

  // a binary without a default command, called bare, shows what it can do
  const help = argv.length === 0 && !specs.some((s) => s.paths.some((p) => p.length === 0)) ? { spec: null } : helpRequest(specs, argv);
  if (help) {
    const p = palette(colorEnabled(streams.stdout));
    const info = { name: def.name, label: def.label, version: VERSION, specs };
    streams.stdout.write(help.spec ? commandHelp(def.name, help.spec, p) : binaryHelp(info, p));
    return ExitCode.ok;
  }

  let command;
  try {
    command = cli.process(argv, context);
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'UnknownSyntaxError' || name === 'AmbiguousSyntaxError') {
      const problem = diagnose(specs, argv);
      if (problem) return usageError(problem.message, problem.hint ? problem.command : undefined);
      return usageError('cannot make sense of these arguments', selectCommand(specs, argv)?.spec ?? null);
    }
    // a validator refused a value (typanion): the message names the option as typed
    const failure = describeFailure(error);
    const lines = failure.lines.join('\n').split('\n').filter((l) => l.trim() !== '');
    streams.stderr.write(`${def.name}: ${lines.join('\n')}\n`);
    return failure.exitCode === ExitCode.failure ? ExitCode.usage : failure.exitCode;
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
