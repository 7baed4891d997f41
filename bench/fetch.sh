#!/usr/bin/env bash
# Download throughput of `plan::fetch_lock` with 1 vs N jobs from a local HTTP server
# (see bench/fetch.rs). Arguments go to the bench binary:
#   --pkgs N --size-kib N --jobs 1,4,8 --latency-ms N --conn-mbps X
# BENCH_PROFILE=dev runs it unoptimised (dependencies are still built at opt-level 2), which
# skips the long release build on small machines.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_PROFILE:-release}" = dev ]; then
  exec cargo test --bench fetch -- "$@"
fi
exec cargo bench --bench fetch -- "$@"
