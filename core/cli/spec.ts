// What a registered command accepts, read from its clipanion option declarations: paths, options
// (names, value count, placeholder), positionals. One model serves the help text, the
// `--clipanion=definitions` document (completion, man drift tests) and the explanation of a
// command line that does not parse (diagnose.ts), so the three never disagree.
import { Command, type CommandClass, type Usage } from 'clipanion';

const PLACEHOLDER = Symbol('tund/placeholder');

/**
 * Names the value an option takes, for help and errors: `--mode tun|tap`, `--address CIDR`.
 * Wrap the option declaration: `mode = placeholder('tun|tap', Option.String('--mode', ...))`.
 */
export function placeholder<T>(text: string, option: T): T {
  (option as unknown as Record<symbol, string>)[PLACEHOLDER] = text;
  return option;
}

export interface OptionSpec {
  /** as declared, short first: ['-q', '--quiet'] */
  names: string[];
  /** how many values follow the option (0 for a flag) */
  arity: number;
  required: boolean;
  hidden: boolean;
  description: string;
  /** the value's name in help and errors (VALUE when the command did not say) */
  placeholder: string;
  /** true when the command declared a placeholder for it */
  namedValue: boolean;
}

export interface PositionalSpec {
  name: string;
  required: boolean;
}

export interface CommandSpec {
  commandClass: CommandClass;
  /** every path the command answers to; [] is the binary's default command */
  paths: string[][];
  /** the path shown in help (the first one) */
  path: string[];
  /** commands without a `usage` (completion helpers, the definitions dump) stay out of help */
  hidden: boolean;
  usage: Usage | undefined;
  options: OptionSpec[];
  positionals: PositionalSpec[];
  /** name of the repeating last positional (Option.Rest), or null */
  rest: string | null;
  /** everything after the path is passed through unparsed (Option.Proxy) */
  proxy: boolean;
}

interface OptionDeclaration {
  names: string[];
  arity?: number;
  required?: boolean;
  hidden?: boolean;
  description?: string;
}

type OptionValue = {
  definition: (builder: unknown, key: string) => void;
  [PLACEHOLDER]?: string;
};

/** Reads one command class: instantiates it and replays its option declarations. */
export function commandSpec(commandClass: CommandClass): CommandSpec {
  const instance = new commandClass() as unknown as Record<string, unknown>;
  const spec: CommandSpec = {
    commandClass,
    paths: (commandClass.paths ?? [[]]).map((p) => [...p]),
    path: [...(commandClass.paths?.[0] ?? [])],
    hidden: commandClass.usage === undefined,
    usage: commandClass.usage,
    options: [],
    positionals: [],
    rest: null,
    proxy: false,
  };
  let current: OptionValue | null = null;
  // the part of clipanion's CommandBuilder that option declarations call
  const recorder = {
    addOption(o: OptionDeclaration) {
      const arity = o.arity ?? 0;
      const declared = current?.[PLACEHOLDER];
      spec.options.push({
        names: [...o.names].sort((a, b) => a.length - b.length),
        arity,
        required: o.required ?? false,
        hidden: o.hidden ?? false,
        description: o.description ?? '',
        placeholder: declared ?? (arity > 0 ? 'VALUE' : ''),
        namedValue: declared !== undefined,
      });
    },
    addPositional({ name = 'arg', required = true }: { name?: string; required?: boolean } = {}) {
      spec.positionals.push({ name, required });
    },
    addRest({ name = 'arg', required = 0 }: { name?: string; required?: number } = {}) {
      for (let i = 0; i < required; i++) spec.positionals.push({ name, required: true });
      spec.rest = name;
    },
    addProxy({ required = 0 }: { required?: number } = {}) {
      recorder.addRest({ name: 'arg', required });
      spec.proxy = true;
    },
  };
  for (const key of Object.keys(instance)) {
    const value = instance[key] as OptionValue | null;
    if (typeof value !== 'object' || value === null || !(value as Record<symbol, unknown>)[Command.isOption]) continue;
    current = value;
    value.definition(recorder, key);
    current = null;
  }
  return spec;
}

/** The long name of an option (--quiet), else its only name. */
export function longName(o: OptionSpec): string {
  return o.names[o.names.length - 1]!;
}

/** `--mode tun|tap`, `-n,--dry-run`: how help and errors name an option. */
export function optionLabel(o: OptionSpec, { allNames = false } = {}): string {
  const names = allNames ? o.names.join(', ') : longName(o);
  return o.arity > 0 ? `${names} ${Array<string>(o.arity).fill(o.placeholder).join(' ')}` : names;
}

export function findOption(spec: CommandSpec, name: string): OptionSpec | undefined {
  return spec.options.find((o) => o.names.includes(name));
}
