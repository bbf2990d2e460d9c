// The completion model of one binary, built from its command definitions (the JSON that
// clipanion's `--clipanion=definitions` prints, i.e. `cli.definitions()`), plus what the
// definitions cannot say: which values an option or a positional takes (hints.ts).
import { hintForOption, hintForPositional, hintForRest, type ValueHint } from './hints.js';

/** One entry of `BIN --clipanion=definitions` (core/cli/help.ts writes it). */
export interface CommandDefinition {
  path: string;
  usage: string;
  category?: string;
  description?: string;
  details?: string;
  examples?: [string, string][];
  options: { definition: string; description?: string; required: boolean }[];
}

export interface OptionModel {
  names: string[]; // e.g. ['-n', '--dry-run']
  takesValue: boolean;
  description: string;
  value: ValueHint;
}

export interface PositionalModel {
  name: string;
  optional: boolean;
  value: ValueHint;
}

export interface CommandModel {
  /** Words after the binary name; [] for the default command. */
  path: string[];
  description: string;
  options: OptionModel[];
  positionals: PositionalModel[];
  /** The last positional repeats (`...`). */
  rest: boolean;
}

export interface BinaryModel {
  name: string;
  commands: CommandModel[];
}

const clean = (s: string | undefined): string => (s ?? '').replace(/\s+/g, ' ').trim();

/** `-n,--dry-run` or `--mode tun|tap`: the names, and the value's placeholder (null for a flag). */
export function parseOptionDefinition(definition: string): { names: string[]; takesValue: boolean; placeholder: string | null } {
  const [namesPart = '', ...rest] = definition.trim().split(/\s+/);
  const names = namesPart.split(',').filter((n) => n.startsWith('-'));
  return { names, takesValue: rest.length > 0, placeholder: rest.length > 0 ? rest.join(' ') : null };
}

export function parseUsagePositionals(usage: string, binary: string, path: string[]): { positionals: { name: string; optional: boolean }[]; rest: boolean } {
  const prefix = [binary, ...path].join(' ');
  let text = usage.startsWith(prefix) ? usage.slice(prefix.length) : usage;
  text = text.replace(/\[-[^\]]*\]/g, ' '); // inline options, if any
  const positionals: { name: string; optional: boolean }[] = [];
  let rest = false;
  // <X>, [X], and a repeating last one: <X>... (at least one) or [X]... (any number)
  for (const m of text.matchAll(/<([^>\s]+)>(\.\.\.)?|\[([^\]\s-][^\]\s]*)\](\.\.\.)?|\.\.\./g)) {
    if (m[0] === '...' || m[4] !== undefined) rest = true;
    else positionals.push({ name: (m[1] ?? m[3])!, optional: m[3] !== undefined });
    if (m[2] !== undefined) rest = true;
  }
  return { positionals, rest };
}

export function buildModel(binary: string, definitions: CommandDefinition[]): BinaryModel {
  const commands: CommandModel[] = [];
  for (const def of definitions) {
    const words = def.path.split(/\s+/).filter(Boolean);
    if (words[0] !== binary) continue;
    const path = words.slice(1);
    const verb = path.join(' ');
    const options: OptionModel[] = def.options.map((o) => {
      const { names, takesValue, placeholder } = parseOptionDefinition(o.definition);
      return { names, takesValue, description: clean(o.description), value: takesValue ? hintForOption(binary, verb, names, placeholder) : { kind: 'none' } };
    });
    options.push({ names: ['-h', '--help'], takesValue: false, description: 'Show the help of this command', value: { kind: 'none' } });
    const { positionals, rest } = parseUsagePositionals(def.usage, binary, path);
    const typed = positionals.map((p, i) => ({ ...p, value: hintForPositional(binary, verb, i, p.name) }));
    // `...` repeats: a last positional that takes the rest (its values: hints.ts, else the previous one's)
    if (rest) typed.push({ name: '...', optional: true, value: hintForRest(binary, verb) ?? typed[typed.length - 1]?.value ?? { kind: 'none' } });
    commands.push({ path, description: clean(def.description), options, positionals: typed, rest });
  }
  return { name: binary, commands };
}

/** Options of the binary itself (core/cli/main.ts), offered before any verb. */
export const TOP_LEVEL_OPTIONS: OptionModel[] = [
  { names: ['-h', '--help'], takesValue: false, description: 'Show the list of commands', value: { kind: 'none' } },
  { names: ['-V', '--version'], takesValue: false, description: 'Show the version', value: { kind: 'none' } },
];

/** The verb words that may follow `prefix` (e.g. [] -> ['add', 'del', ...]) with descriptions. */
export function nextWords(model: BinaryModel, prefix: string[]): { word: string; description: string }[] {
  const out = new Map<string, string>();
  for (const c of model.commands) {
    if (c.path.length <= prefix.length) continue;
    if (!prefix.every((w, i) => c.path[i] === w)) continue;
    const word = c.path[prefix.length]!;
    if (!out.has(word)) out.set(word, c.path.length === prefix.length + 1 ? c.description : '');
  }
  return [...out].map(([word, description]) => ({ word, description }));
}

/** Every verb prefix that has a next word (always includes [] when there are verbs). */
export function verbPrefixes(model: BinaryModel): string[][] {
  const seen = new Map<string, string[]>();
  for (const c of model.commands) for (let i = 0; i < c.path.length; i++) seen.set(c.path.slice(0, i).join(' '), c.path.slice(0, i));
  return [...seen.values()];
}

/** Every verb path that is a command or a prefix of one. */
export function allPaths(model: BinaryModel): string[] {
  const set = new Set<string>();
  for (const c of model.commands) for (let i = 1; i <= c.path.length; i++) set.add(c.path.slice(0, i).join(' '));
  return [...set];
}
