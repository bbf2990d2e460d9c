// bash completion script for one binary. The function walks COMP_WORDS like clipanion parses:
// verb words first, options (skipping the value of those that take one), then positionals; and
// completes the current word from the verb list, the options, an option's values or a positional's
// values (dynamic ones through `tunctl __complete`).
import { allPaths, nextWords, TOP_LEVEL_OPTIONS, verbPrefixes, type BinaryModel } from './model.js';
import { GENERATED_NOTE, hintWord, ident, sq } from './shell.js';

export function bashScript(model: BinaryModel): string {
  const f = `_${ident(model.name)}`;
  const L: string[] = [];
  L.push(`# bash completion for ${model.name}                      -*- shell-script -*-`);
  L.push(GENERATED_NOTE(model.name, 'bash').split('\n').slice(1).join('\n'));
  L.push('');

  L.push(`${f}__is_path() {`);
  const paths = allPaths(model);
  if (paths.length) L.push(`  case $1 in`, `    ${paths.map(sq).join('|')}) return 0 ;;`, '  esac');
  L.push('  return 1', '}', '');

  L.push(`${f}__next_words() { # VERB -> the verb words that may follow`);
  L.push('  case $1 in');
  for (const prefix of verbPrefixes(model)) {
    L.push(`    ${sq(prefix.join(' '))}) echo ${sq(nextWords(model, prefix).map((w) => w.word).join(' '))} ;;`);
  }
  L.push('  esac', '}', '');

  L.push(`${f}__options() { # VERB -> its options`);
  L.push('  case $1 in');
  const hasDefault = model.commands.some((c) => c.path.length === 0);
  for (const c of model.commands) {
    const names = c.options.flatMap((o) => o.names);
    if (c.path.length === 0) names.push(...TOP_LEVEL_OPTIONS.flatMap((o) => o.names));
    L.push(`    ${sq(c.path.join(' '))}) echo ${sq([...new Set(names)].join(' '))} ;;`);
  }
  if (!hasDefault) L.push(`    '') echo ${sq(TOP_LEVEL_OPTIONS.flatMap((o) => o.names).join(' '))} ;;`);
  L.push('  esac', '}', '');

  L.push(`${f}__option_value() { # "VERB OPTION" -> value hint; fails when the option takes no value`);
  L.push('  case $1 in');
  for (const c of model.commands) {
    for (const o of c.options.filter((o) => o.takesValue)) {
      L.push(`    ${o.names.map((n) => sq(`${c.path.join(' ')} ${n}`)).join('|')}) echo ${sq(hintWord(o.value))} ;;`);
    }
  }
  L.push('    *) return 1 ;;', '  esac', '}', '');

  L.push(`${f}__positional() { # VERB INDEX -> value hint of that positional`);
  L.push('  local -a hints=() ; local rest=0');
  L.push('  case $1 in');
  for (const c of model.commands) {
    if (!c.positionals.length) continue;
    L.push(`    ${sq(c.path.join(' '))}) hints=(${c.positionals.map((p) => sq(hintWord(p.value))).join(' ')}); rest=${c.rest ? 1 : 0} ;;`);
  }
  L.push('  esac');
  L.push('  if (( $2 < ${#hints[@]} )); then echo "${hints[$2]}"');
  L.push('  elif (( rest && ${#hints[@]} )); then echo "${hints[${#hints[@]}-1]}"');
  L.push('  else echo none; fi', '}', '');

  L.push(`${f}__add() { # HINT CUR: adds the candidates of a value hint to COMPREPLY`);
  L.push('  local c _d');
  L.push('  case $1 in');
  L.push('    words:*) local IFS=$\' \\t\\n\'; COMPREPLY+=($(compgen -W "${1#words:}" -- "$2")) ;;');
  L.push('    noun:*)');
  L.push('      while IFS=$\'\\t\' read -r c _d; do');
  L.push('        [[ -n $c && $c == "$2"* ]] && COMPREPLY+=("$c")');
  L.push('      done < <(command tunctl __complete "${1#noun:}" "$2" 2>/dev/null) ;;');
  L.push('    file) compopt -o filenames 2>/dev/null; while IFS= read -r c; do COMPREPLY+=("$c"); done < <(compgen -f -- "$2") ;;');
  L.push('    user) COMPREPLY+=($(compgen -u -- "$2")) ;;');
  L.push('    group) COMPREPLY+=($(compgen -g -- "$2")) ;;');
  L.push('  esac', '}', '');

  L.push(`${f}() {`);
  L.push('  local cur=${COMP_WORDS[COMP_CWORD]} verb= nverb=0 skip=0 opt= i w hint');
  L.push('  local -a pos=()');
  L.push('  COMPREPLY=()');
  L.push('  for (( i = 1; i < COMP_CWORD; i++ )); do');
  L.push('    w=${COMP_WORDS[i]}');
  L.push('    if [[ $w == = ]]; then skip=1; continue; fi   # --opt=value is split at "=" by bash');
  L.push('    if (( skip )); then skip=0; continue; fi');
  L.push('    case $w in');
  L.push('      -*=*) ;;');
  L.push(`      -*) if ${f}__option_value "$verb $w" >/dev/null; then skip=1; opt=$w; fi ;;`);
  L.push('      *)');
  L.push('        pos+=("$w")');
  L.push(`        if (( \${#pos[@]} == nverb + 1 )) && ${f}__is_path "\${pos[*]}"; then verb=\${pos[*]}; nverb=\${#pos[@]}; fi ;;`);
  L.push('    esac');
  L.push('  done');
  L.push('  [[ $cur == = ]] && cur=');
  L.push('  if (( skip )); then');
  L.push(`    ${f}__add "$(${f}__option_value "$verb $opt")" "$cur"`);
  L.push('    return 0');
  L.push('  fi');
  L.push('  if [[ $cur == -* ]]; then');
  L.push(`    local IFS=$' \\t\\n'; COMPREPLY=($(compgen -W "$(${f}__options "$verb")" -- "$cur"))`);
  L.push('    return 0');
  L.push('  fi');
  L.push('  local idx=$(( ${#pos[@]} - nverb ))');
  L.push(`  (( idx == 0 )) && ${f}__add "words:$(${f}__next_words "$verb")" "$cur"`);
  L.push(`  ${f}__add "$(${f}__positional "$verb" "$idx")" "$cur"`);
  L.push('  return 0');
  L.push('}', '');
  L.push(`complete -F ${f} ${model.name}`, '');
  return L.join('\n');
}
