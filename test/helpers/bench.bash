# shellcheck shell=bash
# bench_run VAR=VALUE... CMD...: `run` a short benchmark (bench/run.sh) that installs nothing and,
# while another run holds the machine (another file's short run, or `npm run bench`), waits up to
# ten minutes for it; skips the test if it still holds the machine then.
#
#   load ../helpers/bench
#   bench_run REPS=1 RESULTS_DIR="$dir" bash "$PROJECT_ROOT/bench/run.sh" veth
bench_run() {
  run env BENCH_NO_INSTALL=1 BENCH_LOCK_WAIT=600 "$@"
  [[ $output != *"another benchmark run holds"* ]] || skip "a benchmark is running on this machine"
}
