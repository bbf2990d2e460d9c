// Why a command line does not parse, in one line a person can act on. clipanion only says "command
// not found" and lists every command it knows (internals included); this walks the arguments
// against the command specs instead and names the first real problem: an unknown command or
// option (with "did you mean"), a missing option or argument, an option without its value, an
// argument too many.
import { closest, editDistance } from '../config/suggest.js';
import { findOption, longName, optionLabel, type CommandSpec, type OptionSpec } from './spec.js';

export interface UsageProblem {
  message: string;
  /** the command whose help fits (null: the binary's help) */
  command: CommandSpec | null;
  /** false when the message already says what to do (a did-you-mean) */
  hint: boolean;
}

const HELP = ['-h', '--help'];
const isOptionLike = (t: string) => t !== '-' && t.startsWith('-');

/** The command the words of argv select: the longest matching path, else the default command. */
export function selectCommand(specs: CommandSpec[], argv: string[]): { spec: CommandSpec; path: string[]; pathIndexes: number[] } | null {
  const words: { word: string; index: number }[] = [];
  const valueOptions = new Set(specs.flatMap((s) => s.options.filter((o) => o.arity > 0).flatMap((o) => o.names)));
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === '--') break;
    if (isOptionLike(t)) {
      if (valueOptions.has(t)) i++;
      continue;
    }
    words.push({ word: t, index: i });
  }
  let best: { spec: CommandSpec; path: string[]; pathIndexes: number[] } | null = null;
  for (const spec of specs) {
    for (const path of spec.paths) {
      if (path.length > words.length || !path.every((w, i) => words[i]!.word === w)) continue;
      if (best === null || path.length > best.path.length) best = { spec, path, pathIndexes: words.slice(0, path.length).map((w) => w.index) };
    }
  }
  return best;
}

const quote = (s: string) => JSON.stringify(s);

/** A did-you-mean only for a plausible typo: one edit in a short word, two in a longer one. */
function suggest(word: string, candidates: string[]): string | undefined {
  const guess = closest(word, candidates);
  if (guess === undefined) return undefined;
  return editDistance(word, guess) <= (Math.max(word.length, guess.length) <= 5 ? 1 : 2) || guess.startsWith(word) ? guess : undefined;
}

function verbsAfter(specs: CommandSpec[], prefix: string[]): string[] {
  const verbs = new Set<string>();
  for (const s of specs) {
    if (s.hidden) continue;
    for (const p of s.paths) if (p.length > prefix.length && prefix.every((w, i) => p[i] === w)) verbs.add(p[prefix.length]!);
  }
  return [...verbs];
}

function listOr(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function unknownCommand(specs: CommandSpec[], word: string): UsageProblem {
  const verbs = verbsAfter(specs, []);
  const guess = suggest(word, verbs);
  if (guess) return { message: `unknown command ${quote(word)} (did you mean ${quote(guess)}?)`, command: null, hint: false };
  return { message: `unknown command ${quote(word)} (expected ${listOr(verbs)})`, command: null, hint: true };
}

function unknownOption(spec: CommandSpec, name: string, context: string): UsageProblem {
  const names = [...spec.options.filter((o) => !o.hidden).flatMap((o) => o.names), ...HELP].filter((n) => n.startsWith('--') === name.startsWith('--'));
  const guess = suggest(name.replace(/^-+/, ''), names.map((n) => n.replace(/^-+/, '')));
  const full = guess === undefined ? undefined : names.find((n) => n.replace(/^-+/, '') === guess);
  if (full) return { message: `${context}unknown option ${quote(name)} (did you mean ${quote(full)}?)`, command: spec, hint: false };
  return { message: `${context}unknown option ${quote(name)}`, command: spec, hint: true };
}

/** The first problem of argv, or null when nothing is wrong that this can see. */
export function diagnose(specs: CommandSpec[], argv: string[]): UsageProblem | null {
  const selected = selectCommand(specs, argv);
  if (selected === null || selected.spec.hidden) {
    const first = argv.find((t) => !isOptionLike(t));
    if (first !== undefined) return unknownCommand(specs, first);
    const known = new Set(specs.flatMap((s) => s.options.flatMap((o) => o.names)));
    const option = argv.find((t) => isOptionLike(t) && !known.has(t.replace(/=.*$/, '')));
    if (option !== undefined) return { message: `unknown option ${quote(option)}`, command: null, hint: true };
    return { message: `missing command (expected ${listOr(verbsAfter(specs, []))})`, command: null, hint: true };
  }
  const { spec, pathIndexes } = selected;
  if (spec.proxy) return null;
  const context = spec.path.length > 0 ? `${spec.path.join(' ')}: ` : '';
  const positionals: string[] = [];
  const seen = new Set<OptionSpec>();
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    if (pathIndexes.includes(i)) continue;
    const token = argv[i]!;
    if (onlyPositionals || !isOptionLike(token)) {
      positionals.push(token);
      continue;
    }
    if (token === '--') {
      onlyPositionals = true;
      continue;
    }
    if (HELP.includes(token)) continue;
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const name = eq > 0 ? token.slice(0, eq) : token;
    if (!name.startsWith('--') && name.length > 2) {
      // -qv: a batch of flags
      for (const c of name.slice(1)) {
        const o = findOption(spec, `-${c}`);
        if (!o) return unknownOption(spec, `-${c}`, context);
        if (o.arity > 0) return { message: `${context}option -${c} takes a value (${optionLabel(o)}), so it cannot be combined with other flags in ${quote(name)}`, command: spec, hint: true };
        seen.add(o);
      }
      continue;
    }
    const negated = name.startsWith('--no-') ? findOption(spec, `--${name.slice(5)}`) : undefined;
    const option = findOption(spec, name) ?? (negated && negated.arity === 0 ? negated : undefined);
    if (!option) return unknownOption(spec, name, context);
    seen.add(option);
    if (option.arity === 0) {
      if (eq > 0) return { message: `${context}option ${longName(option)} takes no value (got ${quote(token)})`, command: spec, hint: true };
      continue;
    }
    if (eq > 0) continue;
    for (let k = 0; k < option.arity; k++) {
      const value = argv[i + 1];
      if (value === undefined || isOptionLike(value)) {
        return { message: `${context}option ${longName(option)} needs a value (${optionLabel(option)})`, command: spec, hint: true };
      }
      i++;
    }
  }
  const max = spec.rest !== null ? Infinity : spec.positionals.length;
  if (positionals.length > max) {
    // `tund chek office`: a mistyped verb reads as an argument too many of the default command
    if (spec.path.length === 0) {
      const guess = suggest(positionals[0]!, verbsAfter(specs, []));
      if (guess) return { message: `unknown command ${quote(positionals[0]!)} (did you mean ${quote(guess)}?)`, command: null, hint: false };
    }
    return { message: `${context}unexpected argument ${quote(positionals[max]!)}`, command: spec, hint: true };
  }
  const missing = spec.positionals.filter((p) => p.required)[positionals.length];
  if (missing && positionals.length < spec.positionals.filter((p) => p.required).length) {
    return { message: `${context}missing argument ${missing.name}`, command: spec, hint: true };
  }
  const absent = spec.options.find((o) => o.required && !seen.has(o));
  if (absent) return { message: `${context}missing option ${optionLabel(absent)}`, command: spec, hint: true };
  return null;
}
