// Which command lines of tund are a plain session start: `tund NAME` and `tund --instance NAME`
// (what tund@NAME.service runs), with -q/--quiet and -v/--verbose. Such a process lives as long as
// its session, so index.ts starts it without the command-line framework and the other commands
// (docs/benchmark.md, "Memory"). Anything else, including every mistake, goes to the full CLI,
// which parses and reports it as always: this parser only says yes to what it fully understands.

/** The first words of tund's other commands (cli.ts): `tund serve` is not the session "serve". */
export const COMMAND_WORDS: readonly string[] = ['new', 'peer', 'serve', 'check', 'showconf', 'import-vtun'];

export interface SessionInvocation {
  name: string;
  quiet: boolean;
  verbose: number;
}

export function sessionInvocation(argv: readonly string[]): SessionInvocation | null {
  let name: string | undefined;
  let quiet = false;
  let verbose = 0;
  const setName = (value: string | undefined): boolean => {
    if (value === undefined || value === '' || value.startsWith('-') || (name !== undefined && name !== value)) return false;
    name = value;
    return true;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quiet') quiet = true;
    else if (arg === '--verbose') verbose++;
    else if (/^-[qv]+$/.test(arg)) {
      for (const flag of arg.slice(1)) flag === 'q' ? (quiet = true) : verbose++;
    } else if (arg === '--instance') {
      if (!setName(argv[++i])) return null;
    } else if (arg.startsWith('--instance=')) {
      if (!setName(arg.slice('--instance='.length))) return null;
    } else if (arg.startsWith('-') || COMMAND_WORDS.includes(arg) || !setName(arg)) return null;
  }
  return name === undefined ? null : { name, quiet, verbose };
}
