#!/usr/bin/env bats
# Man pages: mandoc lint is clean, groff renders them without warnings, every page lists the whole
# suite in SEE ALSO, and nothing drifts: each verb and option a binary defines (from
# `BIN --clipanion=definitions`) is in its page, and each key the config parser accepts
# (knownKeys() of core/config) is in tund.conf(5) under its section.

load ../helpers/common
bats_require_minimum_version 1.5.0

PAGES=(tunctl.8 tund.8 tunauth.8 tunroute.8 tund.conf.5 tund-intro.7)

setup() { common_setup; }
teardown() { common_teardown; }

# The page as plain text, one paragraph per line (wide, so no option is broken across lines).
page_text() { mandoc -T ascii -O width=1000 "$1" | col -bx; }

# missing_from_page BIN PAGE: prints each "BIN VERB" path and each option of BIN's definitions
# that PAGE does not mention.
missing_from_page() {
  local bin=$1 page=$2 text defs path opt
  text=$(page_text "$page")
  defs=$("$bin" --clipanion=definitions) && jq -e 'length > 0' <<<"$defs" >/dev/null || { echo "no definitions from $bin"; return; }
  while IFS= read -r path; do
    grep -qF -- "$path" <<<"$text" || echo "verb: $path"
  done < <(jq -r '.[].path' <<<"$defs")
  while IFS= read -r opt; do
    grep -qE -- "(^|[^[:alnum:]-])${opt}([^[:alnum:]-]|$)" <<<"$text" || echo "option: $opt"
  done < <(jq -r '.[].options[].definition | split(" ")[0] | split(",")[]' <<<"$defs" | sort -u)
}

# missing_keys PAGE [MODULE FUNCTION]: each "[Section] Key" the parser accepts (FUNCTION of MODULE
# under dist/, default core/config knownKeys) that PAGE does not mention in the part of the page
# about that section (the subsection headed "[Section]").
missing_keys() {
  local page=$1 module=${2:-core/config/index.js} fn=${3:-knownKeys} keys
  keys=$(cd "$PROJECT_ROOT" && node --input-type=module -e \
    "const m = await import('./dist/$module'); const k = m.$fn(); for (const s of Object.keys(k)) for (const key of k[s]) console.log(s + ' ' + key)")
  [ -n "$keys" ] || { echo "no keys from $module $fn()"; return; }
  page_text "$page" | awk -v keys="$keys" '
    BEGIN { n = split(keys, lines, "\n") }
    /^   \[[A-Za-z]+\][[:space:]]*$/ { s = $1; gsub(/[\[\]]/, "", s); section = s; next }
    /^[A-Z]/ { section = "" }
    section != "" { text[section] = text[section] " " $0 }
    END {
      for (i = 1; i <= n; i++) {
        split(lines[i], kv, " ")
        if (!(kv[1] in text)) { print "section: [" kv[1] "]"; continue }
        if (text[kv[1]] !~ ("(^|[^A-Za-z])" kv[2] "([^A-Za-z]|$)")) print "key: [" kv[1] "] " kv[2]
      }
    }' | sort -u
}

@test "every page is there and mandoc -T lint -W warning reports nothing" {
  for p in "${PAGES[@]}"; do [ -f "$PROJECT_ROOT/man/$p" ]; done
  run mandoc -T lint -W warning "$PROJECT_ROOT"/man/*
  assert_success
  assert_output ''
  # package.json installs exactly these pages
  [ "$(jq -r '.man | map(sub("^man/"; "")) | sort | join(" ")' "$PROJECT_ROOT/package.json")" = "$(printf '%s\n' "${PAGES[@]}" | sort | paste -sd' ')" ]
}

@test "groff renders every page without warnings (what man -l shows)" {
  for p in "${PAGES[@]}"; do
    run --separate-stderr groff -man -Tutf8 -ww -z "$PROJECT_ROOT/man/$p"
    assert_success
    [ -z "$stderr" ] || { echo "$p: $stderr"; false; }
  done
  run bash -c "MANWIDTH=80 man -l '$PROJECT_ROOT/man/tund.8' 2>&1 >/dev/null"
  assert_output ''
  run bash -c "MANWIDTH=80 man -l '$PROJECT_ROOT/man/tund.8' | col -b"
  assert_line --regexp '^NAME$'
  assert_line --regexp '^EXIT STATUS$'
}

@test "pages follow the house layout: ISO date, section order, .SY synopsis, .EX examples, full SEE ALSO" {
  for p in "${PAGES[@]}"; do
    f=$PROJECT_ROOT/man/$p
    grep -qE '^\.TH [A-Z.-]+ [1-8] [0-9]{4}-[0-9]{2}-[0-9]{2} "tund [0-9.]+"' "$f" || { echo "$p: .TH"; false; }
    grep -q '^\.EX' "$f" || { echo "$p: no .EX example"; false; }
    order=$(grep -E '^\.SH ' "$f" | sed 's/^\.SH //; s/"//g' | grep -E '^(NAME|SYNOPSIS|DESCRIPTION|EXIT STATUS|ENVIRONMENT|FILES|EXAMPLES|SEE ALSO)$' | paste -sd,)
    case $p in
      *.8) expect='NAME,SYNOPSIS,DESCRIPTION,EXIT STATUS,ENVIRONMENT,FILES,EXAMPLES,SEE ALSO'; grep -q '^\.SY' "$f" || { echo "$p: no .SY"; false; } ;;
      *) expect=$(grep -E '^\.SH ' "$f" | sed 's/^\.SH //; s/"//g' | grep -E '^(NAME|SYNOPSIS|DESCRIPTION|EXIT STATUS|ENVIRONMENT|FILES|EXAMPLES|SEE ALSO)$' | paste -sd,) ;;
    esac
    [ "$order" = "$expect" ] || { echo "$p: sections $order"; false; }
    [[ $order == NAME,* && $order == *"SEE ALSO" ]] || { echo "$p: sections $order"; false; }
    see=$(sed -n '/^\.SH "*SEE ALSO/,$p' "$f")
    for other in tund-intro.7 tunctl.8 tund.8 tunauth.8 tunroute.8 tund.conf.5; do
      [ "$other" = "$p" ] && continue
      name=${other%.*} sec=${other##*.}
      grep -qE "^\.BR $name \($sec\)" <<<"$see" || { echo "$p: SEE ALSO lacks $name($sec)"; false; }
    done
  done
}

@test "drift: every verb and option of tunctl, tund, tunauth and tunroute is in its page" {
  local all=""
  for b in tunctl tund tunauth tunroute; do
    out=$(missing_from_page "$b" "$PROJECT_ROOT/man/$b.8")
    [ -z "$out" ] || all+="$b.8: ${out//$'\n'/, }"$'\n'
  done
  [ -z "$all" ] || { echo "$all"; false; }
}

@test "drift check fails for a page that lacks an option or a verb" {
  sed -e 's/\\-\\-missing\\-ok/--gone/g' "$PROJECT_ROOT/man/tunctl.8" >"$BATS_TEST_TMPDIR/tunctl.8"
  run missing_from_page tunctl "$BATS_TEST_TMPDIR/tunctl.8"
  assert_output 'option: --missing-ok'
  sed -e '/^\.B watch$/d; s/^\.BI watch " name"/.BI xwatch " name"/' "$PROJECT_ROOT/man/tunctl.8" \
    | sed -e 's/tunctl watch/tunctl xwatch/g' >"$BATS_TEST_TMPDIR/tunctl.8"
  run missing_from_page tunctl "$BATS_TEST_TMPDIR/tunctl.8"
  assert_line 'verb: tunctl watch'
}

@test "drift: tund.conf(5) documents every key the parser accepts, under its section" {
  run missing_keys "$PROJECT_ROOT/man/tund.conf.5"
  assert_success
  assert_output ''
  # and the check can fail: drop the MTU key from the page
  sed -e '/^\.TP$/{N;/\n\.BR* MTU/{s/.*/.TP\n.B Nothing/}}' "$PROJECT_ROOT/man/tund.conf.5" >"$BATS_TEST_TMPDIR/tund.conf.5"
  sed -i -e 's/\bMTU\b/M_T_U/g' "$BATS_TEST_TMPDIR/tund.conf.5"
  run missing_keys "$BATS_TEST_TMPDIR/tund.conf.5"
  assert_line 'key: [Device] MTU'
}

@test "drift: tund.conf(5) documents every wg-quick key the WireGuard parser accepts, under [Interface] and [Peer]" {
  run missing_keys "$PROJECT_ROOT/man/tund.conf.5" core/wireguard/conf.js wgQuickKeys
  assert_success
  assert_output ''
  sed -e 's/PersistentKeepalive/Persistent_Keepalive/g' "$PROJECT_ROOT/man/tund.conf.5" >"$BATS_TEST_TMPDIR/tund.conf.5"
  run missing_keys "$BATS_TEST_TMPDIR/tund.conf.5" core/wireguard/conf.js wgQuickKeys
  assert_line 'key: [Peer] PersistentKeepalive'
}
