// fish completion for one binary: verbs, options (fish parses those itself: -r/-x for options
// that take a value) and positionals, placed by a helper that walks the command line the way
// clipanion parses it.
import { nextWords, TOP_LEVEL_OPTIONS, allPaths, verbPrefixes, type BinaryModel, type OptionModel } from './model.js';
import type { ValueHint } from './hints.js';
import { GENERATED_NOTE, fq, ident } from './shell.js';

function valueArgs(h: ValueHint): string {
  switch (h.kind) {
    case 'words':
      return `-x -a ${fq(h.words.join(' '))}`;
    case 'noun':
      return `-x -a ${fq(`(command tunctl __complete ${h.noun} (commandline -ct) 2>/dev/null)`)}`;
    case 'file':
      return '-r -F';
    case 'user':
      return `-x -a ${fq('(__fish_complete_users)')}`;
    case 'group':
      return `-x -a ${fq('(__fish_complete_groups)')}`;
    default:
      return '-x';
  }
}

function optionArgs(o: OptionModel): string {
  const parts: string[] = [];
  for (const n of o.names) {
    if (n.startsWith('--')) parts.push(`-l ${fq(n.slice(2))}`);
    else if (n.length === 2) parts.push(`-s ${fq(n.slice(1))}`);
    else parts.push(`-o ${fq(n.slice(1))}`);
  }
  if (o.takesValue) parts.push(valueArgs(o.value));
  if (o.description) parts.push(`-d ${fq(o.description)}`);
  return parts.join(' ');
}

export function fishScript(model: BinaryModel): string {
  const b = model.name;
  const p = `__${ident(b)}`;
  const L: string[] = [];
  L.push(GENERATED_NOTE(b, 'fish'), '');

  L.push(`function ${p}_is_path`);
  const paths = allPaths(model);
  L.push('    switch "$argv[1]"');
  if (paths.length) L.push(`        case ${paths.map(fq).join(' ')}`, '            return 0');
  L.push('    end', '    return 1', 'end', '');

  L.push(`function ${p}_takes_value --description 'VERB OPTION: does the option take a value?'`);
  L.push('    switch "$argv[1] $argv[2]"');
  const withValue = model.commands.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap((o) => o.names.map((n) => `${c.path.join(' ')} ${n}`)));
  if (withValue.length) L.push(`        case ${withValue.map(fq).join(' ')}`, '            return 0');
  L.push('    end', '    return 1', 'end', '');

  L.push(`# ${p}_at VERB [INDEX]: the verb typed so far is VERB (and the word being completed is its`);
  L.push('# positional INDEX; "rest" matches INDEX or any later one).');
  L.push(`function ${p}_at`);
  L.push('    set -l tokens (commandline -opc)');
  L.push('    set -e tokens[1]');
  L.push("    set -l verb ''");
  L.push('    set -l pos');
  L.push('    set -l nverb 0');
  L.push('    set -l skip 0');
  L.push('    for w in $tokens');
  L.push('        if test $skip -eq 1');
  L.push('            set skip 0');
  L.push('            continue');
  L.push('        end');
  L.push('        switch $w');
  L.push("            case '-*=*'");
  L.push("            case '-*'");
  L.push(`                ${p}_takes_value "$verb" $w; and set skip 1`);
  L.push("            case '*'");
  L.push('                set -a pos $w');
  L.push(`                if test (count $pos) -eq (math $nverb + 1); and ${p}_is_path "$pos"`);
  L.push('                    set verb "$pos"');
  L.push('                    set nverb (count $pos)');
  L.push('                end');
  L.push('        end');
  L.push('    end');
  L.push('    test "$verb" = "$argv[1]"; or return 1');
  L.push('    set -q argv[2]; or return 0');
  L.push('    set -l idx (math (count $pos) - $nverb)');
  L.push('    test $idx -eq $argv[2]; and return 0');
  L.push('    test "$argv[3]" = rest; and test $idx -gt $argv[2]');
  L.push('end', '');

  L.push(`complete -c ${b} -f`);
  for (const prefix of verbPrefixes(model)) {
    for (const w of nextWords(model, prefix)) {
      L.push(`complete -c ${b} -n ${fq(`${p}_at ${fq(prefix.join(' '))} 0`)} -a ${fq(w.word)}${w.description ? ` -d ${fq(w.description)}` : ''}`);
    }
  }
  const hasDefault = model.commands.some((c) => c.path.length === 0);
  if (!hasDefault) {
    for (const o of TOP_LEVEL_OPTIONS) L.push(`complete -c ${b} -n ${fq(`${p}_at ''`)} ${optionArgs(o)}`);
  }
  for (const c of model.commands) {
    const verb = fq(c.path.join(' '));
    const opts = c.path.length === 0 ? [...c.options.filter((o) => !o.names.includes('--help')), ...TOP_LEVEL_OPTIONS] : c.options;
    for (const o of opts) L.push(`complete -c ${b} -n ${fq(`${p}_at ${verb}`)} ${optionArgs(o)}`);
    c.positionals.forEach((pos, i) => {
      if (pos.value.kind === 'none') return;
      const rest = c.rest && i === c.positionals.length - 1 ? ' rest' : '';
      const cond = fq(`${p}_at ${verb} ${i}${rest}`);
      const v = valueArgs(pos.value).replace(/^-[xr] /, '');
      L.push(`complete -c ${b} -n ${cond} ${v === '-F' ? '-F' : v}`);
    });
  }
  L.push('');
  return L.join('\n');
}
