// zsh completion function for one binary (works autoloaded from $fpath as _NAME, or sourced).
// Same walk over the words as the bash script; candidates carry their descriptions (_describe).
import { nextWords, TOP_LEVEL_OPTIONS, allPaths, verbPrefixes, type BinaryModel, type OptionModel } from './model.js';
import { GENERATED_NOTE, hintWord, ident, sq } from './shell.js';

const described = (value: string, description: string) => sq(`${value.replace(/:/g, '\\:')}${description ? `:${description}` : ''}`);

export function zshScript(model: BinaryModel): string {
  const f = `_${ident(model.name)}`;
  const L: string[] = [];
  L.push(`#compdef ${model.name}`);
  L.push(GENERATED_NOTE(model.name, 'zsh'));
  L.push('');

  L.push(`${f}__is_path() {`);
  const paths = allPaths(model);
  if (paths.length) L.push('  case $1 in', `    (${paths.map(sq).join('|')}) return 0 ;;`, '  esac');
  L.push('  return 1', '}', '');

  L.push(`${f}__next_words() { # VERB -> reply: 'word:description' of the verb words that may follow`);
  L.push('  reply=()');
  L.push('  case $1 in');
  for (const prefix of verbPrefixes(model)) {
    L.push(`    (${sq(prefix.join(' '))}) reply=(${nextWords(model, prefix).map((w) => described(w.word, w.description)).join(' ')}) ;;`);
  }
  L.push('  esac', '}', '');

  L.push(`${f}__options() { # VERB -> reply: 'option:description'`);
  L.push('  reply=()');
  L.push('  case $1 in');
  const hasDefault = model.commands.some((c) => c.path.length === 0);
  const optionWords = (opts: OptionModel[]) => opts.flatMap((o) => o.names.map((n) => described(n, o.description)));
  for (const c of model.commands) {
    const opts = c.path.length === 0 ? [...c.options.filter((o) => !o.names.includes('--help')), ...TOP_LEVEL_OPTIONS] : c.options;
    L.push(`    (${sq(c.path.join(' '))}) reply=(${optionWords(opts).join(' ')}) ;;`);
  }
  if (!hasDefault) L.push(`    ('') reply=(${optionWords(TOP_LEVEL_OPTIONS).join(' ')}) ;;`);
  L.push('  esac', '}', '');

  L.push(`${f}__option_value() { # "VERB OPTION" -> value hint; fails when the option takes no value`);
  L.push('  case $1 in');
  for (const c of model.commands) {
    for (const o of c.options.filter((o) => o.takesValue)) {
      L.push(`    (${o.names.map((n) => sq(`${c.path.join(' ')} ${n}`)).join('|')}) print -r -- ${sq(hintWord(o.value))} ;;`);
    }
  }
  L.push('    (*) return 1 ;;', '  esac', '}', '');

  L.push(`${f}__positional() { # VERB INDEX -> value hint of that positional`);
  L.push('  local -a hints; local rest=0');
  L.push('  case $1 in');
  for (const c of model.commands) {
    if (!c.positionals.length) continue;
    L.push(`    (${sq(c.path.join(' '))}) hints=(${c.positionals.map((p) => sq(hintWord(p.value))).join(' ')}); rest=${c.rest ? 1 : 0} ;;`);
  }
  L.push('  esac');
  L.push('  if (( $2 < $#hints )); then print -r -- ${hints[$2+1]}');
  L.push('  elif (( rest && $#hints )); then print -r -- ${hints[-1]}');
  L.push('  else print -r -- none; fi', '}', '');

  L.push(`${f}__add() { # HINT: offers the candidates of a value hint`);
  L.push('  local -a cands; local line');
  L.push('  case $1 in');
  L.push('    (words:*) cands=(${=${1#words:}}); (( $#cands )) && compadd -a cands ;;');
  L.push('    (noun:*)');
  L.push('      for line in ${(f)"$(command tunctl __complete ${1#noun:} "$PREFIX" 2>/dev/null)"}; do');
  L.push("        if [[ $line == *$'\\t'* ]]; then cands+=(\"${${line%%$'\\t'*}//:/\\\\:}:${line#*$'\\t'}\")");
  L.push('        elif [[ -n $line ]]; then cands+=("${line//:/\\\\:}"); fi');
  L.push('      done');
  L.push('      (( $#cands )) && _describe -t ${1#noun:} ${1#noun:} cands ;;');
  L.push('    (file) _files ;;');
  L.push('    (user) _users ;;');
  L.push('    (group) _groups ;;');
  L.push('  esac', '}', '');

  L.push(`${f}() {`);
  L.push('  local verb= opt= w hint');
  L.push('  local -i nverb=0 skip=0 i idx');
  L.push('  local -a pos reply');
  L.push('  for (( i = 2; i < CURRENT; i++ )); do');
  L.push('    w=${words[i]}');
  L.push('    if (( skip )); then skip=0; continue; fi');
  L.push('    case $w in');
  L.push('      (-*=*) ;;');
  L.push(`      (-*) if ${f}__option_value "$verb $w" >/dev/null; then skip=1; opt=$w; fi ;;`);
  L.push('      (*)');
  L.push('        pos+=("$w")');
  L.push(`        if (( $#pos == nverb + 1 )) && ${f}__is_path "\${(j: :)pos}"; then verb=\${(j: :)pos}; nverb=$#pos; fi ;;`);
  L.push('    esac');
  L.push('  done');
  L.push('  if (( skip )); then');
  L.push(`    ${f}__add "$(${f}__option_value "$verb $opt")"`);
  L.push('    return');
  L.push('  fi');
  L.push('  if [[ $PREFIX == -*=* ]]; then');
  L.push('    opt=${PREFIX%%=*}');
  L.push(`    hint=$(${f}__option_value "$verb $opt") || return 1`);
  L.push("    compset -P '*='");
  L.push(`    ${f}__add "$hint"`);
  L.push('    return');
  L.push('  fi');
  L.push('  if [[ $PREFIX == -* ]]; then');
  L.push(`    ${f}__options "$verb"`);
  L.push('    (( $#reply )) && _describe -t options option reply');
  L.push('    return');
  L.push('  fi');
  L.push('  idx=$(( $#pos - nverb ))');
  L.push('  if (( idx == 0 )); then');
  L.push(`    ${f}__next_words "$verb"`);
  L.push('    (( $#reply )) && _describe -t commands command reply');
  L.push('  fi');
  L.push(`  ${f}__add "$(${f}__positional "$verb" $idx)"`);
  L.push('  return 0');
  L.push('}', '');
  L.push('if [[ $zsh_eval_context[-1] == loadautofunc ]]; then');
  L.push(`  ${f} "$@"`);
  L.push('else');
  L.push(`  compdef ${f} ${model.name}`);
  L.push('fi', '');
  return L.join('\n');
}
