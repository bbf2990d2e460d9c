#!/usr/bin/env bats
# The command line of the four tools as a user meets it: a mistyped verb or option gets one line
# with "did you mean", a missing option is named, NAME --help is the help, placeholders are real,
# -V is the version and -v is --verbose, and clipanion's internals never show.
bats_require_minimum_version 1.5.0

load ../helpers/common

setup() { common_setup; export NO_COLOR=1; }
teardown() { common_teardown; }

# What clipanion prints by itself and a user must never see.
INTERNALS='--clipanion|__complete|#0|--[a-z-]+\[0\]|command not found|While running'

@test "tunctl stauts: one line on stderr with did-you-mean, exit 2, nothing on stdout" {
  run --separate-stderr tunctl stauts
  assert_failure 2
  assert_output ''
  assert_equal "$stderr" 'tunctl: unknown command "stauts" (did you mean "status"?)'
  run --separate-stderr tunroute ful office
  assert_failure 2
  assert_equal "$stderr" 'tunroute: unknown command "ful" (did you mean "full"?)'
  run --separate-stderr tunauth prbe office
  assert_failure 2
  assert_equal "$stderr" 'tunauth: unknown command "prbe" (did you mean "probe"?)'
}

@test "unknown options: did-you-mean, named as typed; a bad value names the option, not --address[0]" {
  run --separate-stderr tunctl add t0 --mdoe tun
  assert_failure 2
  assert_equal "$stderr" 'tunctl: add: unknown option "--mdoe" (did you mean "--mode"?)'
  run --separate-stderr tunctl up t0 --address 198.18.0.1/33
  assert_failure 2
  [[ $stderr == 'tunctl: invalid value for --address: '* ]]
  ! grep -qE "$INTERNALS" <<<"$stderr"
  run --separate-stderr tunroute add office 198.19.10.0/24 --tabel 100
  assert_failure 2
  assert_equal "$stderr" 'tunroute: add: unknown option "--tabel" (did you mean "--table"?)'
}

@test "tunroute full office without --endpoint: missing option --endpoint, exit 2, nothing changed" {
  ns=$(make_netns)
  before=$(ip -n "$ns" -j route show table all)
  run --separate-stderr in_ns "$ns" tunroute full office
  assert_failure 2
  assert_output ''
  assert_equal "${stderr_lines[0]}" 'tunroute: full: missing option --endpoint ADDR'
  assert_equal "${stderr_lines[1]}" 'hint: see "tunroute full --help"'
  assert_equal "$(ip -n "$ns" -j route show table all)" "$before"
}

@test "tund office --help shows tund's help for NAME, once, exit 0" {
  run --separate-stderr tund office --help
  assert_success
  assert_equal "$stderr" ''
  assert_line --index 0 'Run one session (WireGuard or VTun) in the foreground'
  assert_equal "$(grep -c '^Usage: ' <<<"$output")" 1
  assert_line 'Usage: tund [--instance NAME] [NAME]'
  refute_output --regexp "$INTERNALS"
  # and every verb's help, with real placeholders
  run tunctl add --help
  assert_line 'Usage: tunctl add [--mode tun|tap] [--mac ADDR] [--owner USER] [--group GROUP] [--multi-queue] [--exist-ok] <NAME>'
  run tunctl up --help
  assert_output --partial '--address CIDR'
  run tunroute full --help
  assert_line --regexp '^Usage: tunroute full --endpoint ADDR '
}

@test "help of every binary and verb: no internals, no #0 placeholders" {
  for bin in tunctl tund tunauth tunroute; do
    run --separate-stderr "$bin" --help
    assert_success
    refute_output --regexp "$INTERNALS"
    for verb in $("$bin" --clipanion=definitions | jq -r '.[].path | split(" ")[1:] | join(" ")'); do
      run --separate-stderr "$bin" $verb --help
      assert_success
      refute_output --regexp "$INTERNALS"
    done
  done
}

@test "-V and --version print the version; -v is --verbose" {
  for bin in tunctl tund tunauth tunroute; do
    run --separate-stderr "$bin" -V
    assert_success
    assert_output --regexp '^[0-9]+\.[0-9]+\.[0-9]+$'
    run --separate-stderr "$bin" --version
    assert_success
    assert_output --regexp '^[0-9]+\.[0-9]+\.[0-9]+$'
  done
  # -v alone is not the version: it is --verbose, and a verb is missing
  run --separate-stderr tunctl -v
  assert_failure 2
  assert_output ''
  [[ $stderr == 'tunctl: missing command (expected '* ]]
  # -v says more: the verbose note of a no-op del
  ns=$(make_netns)
  run --separate-stderr in_ns "$ns" tunctl del nothere0 --missing-ok -v
  assert_success
  assert_equal "$stderr" 'tunctl: nothere0: no such device, nothing to do'
}

@test "the internals still work: definitions for completion, __complete for nouns" {
  printf '[Session]\nRole = server\n' >"$TUND_CONFIG_DIR/office.conf"
  run --separate-stderr tunctl __complete sessions of
  assert_success
  assert_output "$(printf 'office\tsession')"
  run --separate-stderr tund --clipanion=definitions
  assert_success
  jq -e 'map(.path) | index("tund check") != null' <<<"$output"
}
