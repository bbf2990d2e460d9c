#!/usr/bin/env bats
# Shell completion: the committed scripts match the generator, bash's function completes verbs,
# options, option values and dynamic nouns (sessions, devices in a namespace, running sessions)
# when driven the way bash drives it, and the zsh and fish scripts load (and complete) in those
# shells. The nouns come from the hidden `tunctl __complete`.

load ../helpers/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
  for s in office lab branch; do printf '[Session]\nRole = client\nEndpoint = 198.18.70.1:5000\n' >"$TUND_CONFIG_DIR/$s.conf"; done
}

teardown() { common_teardown; }

# bash_complete BINARY WORD... : what bash's completion function puts in COMPREPLY when the
# cursor is at the end of the last WORD ('' = a new, empty word), one candidate per line, sorted.
bash_complete() {
  bash --norc --noprofile -c '
    script=$1; shift
    source "$script" || exit 9
    COMP_WORDS=("$@")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    spec=$(complete -p "$1") || exit 8
    fn=${spec##*-F }; fn=${fn%% *}
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"
  ' _ "$PROJECT_ROOT/completions/bash/$1" "$@" | sed '/^$/d' | sort
}

@test "committed completion scripts are what the generator makes from the current commands" {
  run node "$PROJECT_ROOT/scripts/gen-completions.mjs" --check
  assert_success
  out=$BATS_TEST_TMPDIR/gen
  run node "$PROJECT_ROOT/scripts/gen-completions.mjs" --out "$out"
  assert_success
  run diff -r "$out" "$PROJECT_ROOT/completions"
  assert_success
  # every binary, every shell
  for b in tunctl tund tunauth tunroute; do
    [ -s "$PROJECT_ROOT/completions/bash/$b" ]
    [ -s "$PROJECT_ROOT/completions/zsh/_$b" ]
    [ -s "$PROJECT_ROOT/completions/fish/$b.fish" ]
  done
}

@test "the drift check fails when a script is stale or missing" {
  out=$BATS_TEST_TMPDIR/gen
  node "$PROJECT_ROOT/scripts/gen-completions.mjs" --out "$out"
  run node "$PROJECT_ROOT/scripts/gen-completions.mjs" --check --out "$out"
  assert_success
  sed -i 's/--quiet/--quiet-not/' "$out/bash/tunctl"
  rm "$out/fish/tund.fish"
  run --separate-stderr node "$PROJECT_ROOT/scripts/gen-completions.mjs" --check --out "$out"
  assert_failure 1
  [[ $stderr == *"bash/tunctl differs"* ]]
  [[ $stderr == *"fish/tund.fish differs"* ]]
}

@test "bash: tunctl st<TAB> gives status and only words starting with st" {
  run bash_complete tunctl st
  assert_success
  assert_line status
  for w in "${lines[@]}"; do [[ $w == st* ]]; done
  # every verb of tunctl --help is offered on an empty word; the hidden __complete is not
  run bash_complete tunctl ''
  for verb in $(tunctl --clipanion=definitions | jq -r '.[].path | select(startswith("tunctl ")) | sub("^tunctl "; "")'); do
    assert_line "$verb"
  done
  refute_line __complete
}

@test "bash: tund <TAB> gives the session names of TUND_CONFIG_DIR and the verbs" {
  run bash_complete tund ''
  assert_line office
  assert_line lab
  assert_line branch
  assert_line check
  run bash_complete tund o
  assert_output office
  # tunauth and tunroute complete sessions the same way
  run bash_complete tunauth probe ''
  assert_output "$(printf 'branch\nlab\noffice')"
  run bash_complete tunroute up b
  assert_output branch
  # after the name, nothing more for a one-argument verb
  run bash_complete tunauth probe office ''
  assert_output ''
}

@test "bash: tunctl show <TAB> gives the TUN/TAP devices of the namespace, not other links" {
  ns=$(make_netns)
  ip -n "$ns" tuntap add dev cmpltun0 mode tun
  ip -n "$ns" tuntap add dev cmpltap0 mode tap
  ip -n "$ns" link add cmplveth0 type veth peer name cmplveth1
  run in_ns "$ns" bash -c "$(declare -f bash_complete); PROJECT_ROOT=$PROJECT_ROOT; bash_complete tunctl show ''"
  assert_success
  assert_output "$(printf 'cmpltap0\ncmpltun0')"
  run in_ns "$ns" bash -c "$(declare -f bash_complete); PROJECT_ROOT=$PROJECT_ROOT; bash_complete tunctl del cmpltu"
  assert_output cmpltun0
  # the kernel agrees about which links are TUN/TAP
  [ "$(ip -n "$ns" -j -d link show | jq -r '[.[] | select(.linkinfo.info_kind=="tun") | .ifname] | sort | join(" ")')" = "cmpltap0 cmpltun0" ]
}

@test "bash: tunctl up NAME --bridge <TAB> gives the Linux bridges of the namespace" {
  ns=$(make_netns)
  ip -n "$ns" link add cmplbr0 type bridge
  ip -n "$ns" link add cmplbr1 type bridge
  ip -n "$ns" tuntap add dev cmpltap0 mode tap
  run in_ns "$ns" bash -c "$(declare -f bash_complete); PROJECT_ROOT=$PROJECT_ROOT; bash_complete tunctl up cmpltap0 --bridge ''"
  assert_success
  assert_output "$(printf 'cmplbr0\ncmplbr1')"
  run in_ns "$ns" tunctl __complete bridges cmplbr1
  assert_output "$(printf 'cmplbr1\tbridge')"
}

@test "bash: tunctl status <TAB> gives the running sessions (control sockets)" {
  touch "$TUND_RUN_DIR/office.sock"
  run bash_complete tunctl status ''
  assert_output office
  run bash_complete tunctl wait ''
  assert_output "$(printf 'branch\nlab\noffice')"
}

@test "bash: options after -, and option values" {
  run bash_complete tunctl add office --m
  assert_output "$(printf -- '--mac\n--mode\n--multi-queue')"
  run bash_complete tunroute up office -
  assert_line --regexp '^--dry-run$'
  assert_line --regexp '^-n$'
  assert_line --regexp '^--help$'
  run bash_complete tunctl add office --mode ''
  assert_output "$(printf 'tap\ntun')"
  # --mode=t: bash splits the word at "="
  run bash_complete tunctl add office --mode = t
  assert_output "$(printf 'tap\ntun')"
  run bash_complete tunctl wait office --state conn
  assert_output "$(printf 'connected\nconnecting')"
  # the value of an option is not taken for a positional: after it, the session name is still next
  run bash_complete tunctl wait --timeout 5s ''
  assert_output "$(printf 'branch\nlab\noffice')"
  # top-level options
  run bash_complete tunctl --
  assert_line --regexp '^--help$'
  assert_line --regexp '^--version$'
}

@test "tunctl __complete is hidden, exits 0 and stays silent on nonsense" {
  run --separate-stderr tunctl __complete sessions of
  assert_success
  assert_output "$(printf 'office\tsession')"
  run --separate-stderr tunctl __complete no-such-kind x
  assert_success
  assert_output ''
  [ -z "$stderr" ]
  run --separate-stderr tunctl __complete
  assert_success
  [ -z "$output$stderr" ]
  run --separate-stderr tunctl __complete sessions -x --bogus
  assert_success
  [ -z "$stderr" ]
  TUND_CONFIG_DIR=/nonexistent run --separate-stderr tunctl __complete sessions ''
  assert_success
  [ -z "$output$stderr" ]
  run tunctl --help
  refute_output --partial __complete
  run tunctl --clipanion=definitions
  refute_output --partial __complete
}

@test "zsh: the scripts load after compinit and their tables know the verbs" {
  for b in tunctl tund tunauth tunroute; do
    run --separate-stderr zsh -f -c "autoload -U compinit; compinit -u -D; source $PROJECT_ROOT/completions/zsh/_$b"
    assert_success
    [ -z "$stderr" ]
  done
  run zsh -f -c "autoload -U compinit; compinit -u -D; source $PROJECT_ROOT/completions/zsh/_tunctl; _tunctl__next_words ''; print -l \${reply%%:*}; _tunctl__positional show 0; _tunctl__option_value 'add --mode'; print \${_comps[tunctl]}"
  assert_success
  assert_line status
  assert_line add
  assert_line noun:devices
  assert_line 'words:tun tap'
  assert_line _tunctl
}

# zsh_complete SCRIPT LINE: types LINE and TAB into an interactive zsh on a pty (zsh/zpty) with
# the completion script loaded, prints what the terminal shows (escape sequences removed).
zsh_complete() {
  cat >"$BATS_TEST_TMPDIR/zc.zsh" <<'ZSH'
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='%% '; autoload -U compinit; compinit -u -D; source $1; unsetopt beep"
zpty -w -n z "$2"$'\t'
out= chunk=
integer idle=0 total=0
while (( idle < 40 && total < 300 )); do
  if zpty -r -t z chunk; then out+=$chunk; idle=0; else sleep 0.1; idle+=1; fi
  total+=1
done
zpty -d z
print -r -- "$out" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'
ZSH
  timeout 60 zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$1" "$2"
}

@test "zsh: TAB completes verbs and session names in an interactive zsh" {
  run zsh_complete "$PROJECT_ROOT/completions/zsh/_tunctl" 'tunctl st'
  assert_success
  assert_output --partial 'tunctl status '
  run zsh_complete "$PROJECT_ROOT/completions/zsh/_tund" 'tund '
  assert_success
  assert_output --partial 'office'
  assert_output --partial 'branch'
  assert_output --partial 'import-vtun'
  run zsh_complete "$PROJECT_ROOT/completions/zsh/_tunctl" 'tunctl add x --mo'
  assert_output --partial 'tunctl add x --mode '
}

@test "fish: the scripts load and complete verbs, sessions and option values" {
  for b in tunctl tund tunauth tunroute; do
    run --separate-stderr fish --no-config -c "source $PROJECT_ROOT/completions/fish/$b.fish"
    assert_success
    [ -z "$stderr" ]
  done
  run fish --no-config -c "source $PROJECT_ROOT/completions/fish/tunctl.fish; complete -C 'tunctl st'"
  assert_line --regexp $'^status\t'
  run fish --no-config -c "source $PROJECT_ROOT/completions/fish/tund.fish; complete -C 'tund '"
  assert_line --regexp $'^office\t'
  assert_line --regexp $'^check\t'
  run fish --no-config -c "source $PROJECT_ROOT/completions/fish/tunctl.fish; complete -C 'tunctl add x --mode '"
  assert_line --regexp $'^tap\t'
  assert_line --regexp $'^tun\t'
}

@test "tunctl completion SHELL prints the committed scripts" {
  run tunctl completion bash tunctl
  assert_success
  [ "$output" = "$(cat "$PROJECT_ROOT/completions/bash/tunctl")" ]
  run tunctl completion fish
  assert_success
  assert_output --partial 'complete -c tunroute'
  run tunctl completion tcsh
  assert_failure 2
  run bash --norc -c "source <(tunctl completion bash) && complete -p tund tunctl tunauth tunroute"
  assert_success
  assert_line 'complete -F _tund tund'
}
