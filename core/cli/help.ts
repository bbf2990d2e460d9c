// The help text of a binary and of each command, and the `--clipanion=definitions` document, all
// from the command specs (spec.ts): real placeholders (`--mode tun|tap`), the internals (the
// completion helper, the definitions dump) never shown.
import { formatMarkdownish } from 'clipanion';
import { COMMON_OPTIONS } from './base.js';
import { palette, type Palette } from './output.js';
import type { CommandDefinition } from '../completion/model.js';
import { optionLabel, type CommandSpec, type OptionSpec } from './spec.js';

export interface BinaryInfo {
  name: string;
  label: string;
  version: string;
  specs: CommandSpec[];
}

/** The options every command has (-h/--help is answered before parsing, see main.ts). */
export const HELP_OPTION: OptionSpec = {
  names: ['-h', '--help'], arity: 0, required: false, hidden: false, description: 'Show this help', placeholder: '', namedValue: false,
};

const isCommon = (o: OptionSpec) => o.names.some((n) => COMMON_OPTIONS.includes(n));

/** `<NAME>`, `[NAME]`, `<PREFIX>...`: the positionals as clipanion's definitions write them. */
export function positionalsText(spec: CommandSpec): string[] {
  const words = spec.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`));
  if (spec.rest !== null) {
    const last = spec.positionals[spec.positionals.length - 1];
    if (last && last.name === spec.rest && last.required) words[words.length - 1] += '...';
    else words.push(`[${spec.rest}]...`);
  }
  return words;
}

/** One line: the command, its own options (not -q/-v) and its positionals. */
export function synopsis(binary: string, spec: CommandSpec): string {
  const words = [binary, ...spec.path];
  for (const o of spec.options) {
    if (o.hidden || isCommon(o)) continue;
    const label = optionLabel(o, { allNames: o.names.length > 1 && o.names[0]!.length === 2 });
    words.push(o.required ? label : `[${label.replace(', ', ',')}]`);
  }
  words.push(...positionalsText(spec));
  return words.join(' ');
}

function markdown(text: string, p: Palette, paragraphs: boolean): string {
  const format = { header: p.bold, bold: p.bold, error: p.red, code: (s: string) => s };
  return formatMarkdownish(text, { format, paragraphs });
}

function optionTable(options: OptionSpec[], p: Palette): string {
  const rows = options.map((o) => [optionLabel(o, { allNames: true }), o.description] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([label, description]) => `  ${p.bold(label.padEnd(width))}    ${description}`).join('\n');
}

/** `tunctl --help`: every command with its description, by category, then the binary's options. */
export function binaryHelp(info: BinaryInfo, p = palette(false)): string {
  const out: string[] = [p.bold(`${info.label} (version ${info.version})`), ''];
  const visible = info.specs.filter((s) => !s.hidden);
  const hasDefault = visible.some((s) => s.path.length === 0);
  const hasVerbs = visible.some((s) => s.path.length > 0);
  out.push(`Usage: ${info.name} ${hasDefault ? (hasVerbs ? 'NAME | COMMAND ...' : '...') : 'COMMAND ...'}`);
  const categories = new Map<string, CommandSpec[]>();
  for (const s of visible) {
    const c = s.usage?.category ?? 'Commands';
    categories.set(c, [...(categories.get(c) ?? []), s]);
  }
  for (const [category, specs] of categories) {
    out.push('', p.bold(category), '');
    for (const s of specs) {
      out.push(`  ${p.bold(synopsis(info.name, s))}`);
      out.push(`    ${markdown(s.usage?.description ?? '', p, false).trimEnd()}`);
    }
  }
  out.push('', p.bold('Options'), '');
  out.push(optionTable([{ ...HELP_OPTION, description: `Show this help; "${info.name} COMMAND --help" shows one command` }, VERSION_OPTION], p));
  out.push('', `The reference is the manual page: man 8 ${info.name}`);
  return `${out.join('\n')}\n`;
}

export const VERSION_OPTION: OptionSpec = {
  names: ['-V', '--version'], arity: 0, required: false, hidden: false, description: 'Print the version', placeholder: '', namedValue: false,
};

/** `tunctl add --help`: description, usage, options, details, examples. */
export function commandHelp(binary: string, spec: CommandSpec, p = palette(false)): string {
  const usage = spec.usage ?? {};
  const out: string[] = [];
  const description = markdown(usage.description ?? '', p, false).trimEnd();
  if (description) out.push(description.replace(/^./, (c) => c.toUpperCase()), '');
  out.push(`${p.bold('Usage:')} ${synopsis(binary, spec)}`);
  const options = [...spec.options.filter((o) => !o.hidden && !isCommon(o)), ...spec.options.filter((o) => !o.hidden && isCommon(o)), HELP_OPTION];
  out.push('', p.bold('Options'), '', optionTable(options, p));
  if (usage.details) out.push('', p.bold('Details'), '', markdown(usage.details, p, true).trimEnd());
  if (usage.examples && usage.examples.length > 0) {
    out.push('', p.bold('Examples'));
    for (const [label, example] of usage.examples) {
      out.push('', markdown(label, p, false).trimEnd(), `  $ ${example.replace(/\$0/g, binary)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * What `BIN --clipanion=definitions` prints: the documented commands, options as
 * `-n,--dry-run` or `--mode tun|tap`. Completion generation and the man page drift test read it.
 */
export function definitions(binary: string, specs: CommandSpec[]): CommandDefinition[] {
  const text = (s: string | undefined, paragraphs: boolean) => (s === undefined ? undefined : markdown(s, palette(false), paragraphs).trimEnd());
  return specs
    .filter((s) => !s.hidden)
    .map((s) => {
      const u = s.usage!;
      const def: CommandDefinition = {
        path: [binary, ...s.path].join(' '),
        usage: [binary, ...s.path, ...positionalsText(s)].join(' '),
        options: s.options
          .filter((o) => !o.hidden)
          .map((o) => ({ definition: o.arity > 0 ? `${o.names.join(',')} ${o.placeholder}` : o.names.join(','), description: o.description, required: o.required })),
      };
      if (u.category !== undefined) def.category = text(u.category, false);
      if (u.description !== undefined) def.description = text(u.description, false);
      if (u.details !== undefined) def.details = text(u.details, true);
      if (u.examples !== undefined) def.examples = u.examples.map(([label, cli]) => [text(label, false)!, cli.replace(/\$0/g, binary)]);
      return def;
    });
}
