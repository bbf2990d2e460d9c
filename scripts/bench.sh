#!/usr/bin/env bash
# bench.sh - the benchmark (same as `npm run bench`); it lives in bench/, see docs/benchmark.md.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../bench/run.sh" "$@"
