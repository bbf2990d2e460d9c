#!/usr/bin/env bats
# The addon's code layout, which a lone packet's latency depends on (docs/engine.md, "The path
# after idle"): the per-packet functions native/hot-order.txt lists sit side by side (gold's
# --section-ordering-file), every line of that list still names a function of the addon (a
# renamed function would silently drop out of the order), and the addon exports only what node
# loads it by (-fvisibility=hidden: no calls through the PLT between its own functions).

load ../helpers/common
bats_require_minimum_version 1.5.0

ADDON=$PROJECT_ROOT/native/build/Release/tund_native.node
ORDER=$PROJECT_ROOT/native/hot-order.txt

setup() { common_setup; }
teardown() { common_teardown; }

# the functions hot-order.txt lists, without the ".text." of their input sections
listed() { sed -n 's/^\.text\.//p' "$ORDER"; }

# "NAME ADDRESS SIZE" (decimal) of each function the addon defines
defined_functions() {
  nm -S --defined-only "$ADDON" | awk 'NF == 4 && $3 ~ /^[tTwW]$/ {print $4, $1, $2}' |
    while read -r name addr size; do echo "$name $((16#$addr)) $((16#$size))"; done
}

@test "hot-order.txt: every line names a function the addon defines" {
  [ -f "$ADDON" ]
  run listed
  assert_success
  [ "${#lines[@]}" -ge 30 ]
  local defs missing=()
  defs=$(defined_functions | awk '{print $1}' | sort -u)
  while IFS= read -r fn; do
    grep -qxF -- "$fn" <<<"$defs" || missing+=("$fn")
  done < <(listed)
  if ((${#missing[@]})); then
    printf 'not in the addon (renamed? regenerate native/hot-order.txt): %s\n' "${missing[@]}" >&2
    return 1
  fi
}

@test "the listed functions sit side by side: their span is their size plus alignment padding" {
  local span
  span=$(defined_functions | awk 'NR == FNR {want[$1] = 1; next}
    ($1 in want) && !seen[$1]++ {sum += $3; if (lo == "" || $2 < lo) lo = $2; if ($2 + $3 > hi) hi = $2 + $3; n++}
    END {printf "%d %d %d\n", n, sum, hi - lo}' <(listed) -)
  read -r n sum extent <<<"$span"
  echo "# $n functions, $sum bytes, spread over $extent bytes" >&3
  # each function is aligned to at most 16 bytes: padding adds under 16 bytes per function
  ((extent <= sum + 16 * n))
}

@test "the addon exports node's entry point and none of its own C++ symbols" {
  run nm -D --defined-only "$ADDON"
  assert_success
  assert_output --partial napi_register_module_v1
  refute_output --regexp ' _ZN4tund'
}
