#!/usr/bin/env bash
# Runs a command with CPU-bound processes beside it for its whole run (two
# by default, BUSY_PROCS): what a busy laptop or a noisy CI neighbour does
# to the timings of a test suite. `make test-busy` runs `make test` so.
set -euo pipefail
n="${BUSY_PROCS:-2}"
pids=()
cleanup() { ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq "$n"); do
  yes >/dev/null &
  pids+=($!)
done
echo "busy: ${n} CPU-bound processes beside: $*" >&2
"$@"
