#!/usr/bin/env bash
# Build the static diskless binary the way the Containerfile does (ci/build-static.sh),
# prove it is static and runs, and, given a profile with its lock, that it builds that
# profile reproducibly (reprotest/reprotest.sh with the static binary).
#
#   ci/check-static.sh [PROFILE]
#
# A cold release build takes several minutes (thin LTO); .ci/run and the CI workflow may
# run it as a separate step.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(bash ci/build-static.sh target/static/diskless | tail -n1)"
kind="$(file -L "$bin")"
echo "$kind"
case "$kind" in
  *"statically linked"*|*"static-pie linked"*) ;;
  *) echo "error: $bin is not statically linked" >&2; exit 1 ;;
esac
# ldd prints `statically linked` (or fails) for a static binary, `lib => path` lines otherwise.
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "error: $bin loads shared libraries:" >&2
  ldd "$bin" >&2
  exit 1
fi
# No environment, no PATH: what a FROM-scratch image gives it.
env -i "$bin" --version
if [ $# -ge 1 ]; then
  reprotest/reprotest.sh "$1" "$bin"
fi
