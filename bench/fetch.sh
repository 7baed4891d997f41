#!/usr/bin/env bash
# Download throughput of `diskless fetch` with 1 vs N jobs from a local HTTP server.
# Arguments go to the bench binary: --pkgs N --size-kib N --jobs 1,4,8 --latency-ms N --conn-mbps X
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench fetch -- "$@"
