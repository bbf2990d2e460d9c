#!/usr/bin/env bats
# A smoke run of every fuzz target (test/fuzz, docs/fuzzing.md): each target for a few seconds
# from its seed corpus, ASan+UBSan for the native ones; any crash, sanitizer report, hang or
# failed property fails the test and prints where the input was saved and how to reproduce it.
# Real campaigns: `npm run fuzz -- --seconds N`. FUZZ_SMOKE_SECONDS changes the period.

load ../helpers/common

setup_file() {
  # build once (clang, libFuzzer); the tests then only run
  node "$PROJECT_ROOT/test/fuzz/run.mjs" --build-only
}

# smoke TARGET : runs it, expects no finding and some inputs executed
smoke() {
  run node "$PROJECT_ROOT/test/fuzz/run.mjs" --seconds "${FUZZ_SMOKE_SECONDS:-4}" --work "$BATS_FILE_TMPDIR/work" "$1"
  echo "$output"
  assert_success
  assert_output --partial 'fuzz: 1 target(s), 0 with findings'
  local inputs
  inputs=$(awk -v t="$1" '$1 == t { print $4 }' <<<"$output")
  ((inputs > 0))
}

@test "the runner knows every target and refuses an unknown one" {
  run node "$PROJECT_ROOT/test/fuzz/run.mjs" --list
  assert_success
  for t in vtun_decode vtun_roundtrip vtun_tcp_split wg_initiation wg_response wg_cookie \
    wg_transport wg_allowed_ips wg_replay ws_frames http_upgrade iov_advance offload_sum blowfish_ecb vtun_handshake tund_conf wg_quick uapi vtund_conf wg_device; do
    assert_output --partial "$t"
  done
  run node "$PROJECT_ROOT/test/fuzz/run.mjs" --seconds 1 no_such_target
  assert_failure 2
  assert_output --partial 'unknown target "no_such_target"'
}

@test "fuzz smoke: vtun_decode (native)" { smoke vtun_decode; }
@test "fuzz smoke: vtun_roundtrip (native)" { smoke vtun_roundtrip; }
@test "fuzz smoke: vtun_tcp_split (native)" { smoke vtun_tcp_split; }
@test "fuzz smoke: wg_initiation (native)" { smoke wg_initiation; }
@test "fuzz smoke: wg_response (native)" { smoke wg_response; }
@test "fuzz smoke: wg_cookie (native)" { smoke wg_cookie; }
@test "fuzz smoke: wg_transport (native)" { smoke wg_transport; }
@test "fuzz smoke: wg_allowed_ips (native)" { smoke wg_allowed_ips; }
@test "fuzz smoke: wg_replay (native)" { smoke wg_replay; }
@test "fuzz smoke: ws_frames (native)" { smoke ws_frames; }
@test "fuzz smoke: http_upgrade (native)" { smoke http_upgrade; }
@test "fuzz smoke: iov_advance (native)" { smoke iov_advance; }
@test "fuzz smoke: offload_sum (native)" { smoke offload_sum; }
@test "fuzz smoke: blowfish_ecb (native)" { smoke blowfish_ecb; }
@test "fuzz smoke: vtun_handshake (js)" { smoke vtun_handshake; }
@test "fuzz smoke: tund_conf (js)" { smoke tund_conf; }
@test "fuzz smoke: wg_quick (js)" { smoke wg_quick; }
@test "fuzz smoke: uapi (js)" { smoke uapi; }
@test "fuzz smoke: vtund_conf (js)" { smoke vtund_conf; }
@test "fuzz smoke: wg_device (js)" { smoke wg_device; }
