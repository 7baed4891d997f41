#!/usr/bin/env bash
# Build the static diskless binary exactly as the Containerfile does, and install it at $1
# (default: target/static/diskless). glibc with crt-static: a self-contained binary that runs
# on any x86_64 Linux and in a FROM-scratch image.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-target/static/diskless}"
target="x86_64-unknown-linux-gnu"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --release --target "$target"
mkdir -p "$(dirname "$dest")"
install -m 0755 "target/$target/release/diskless" "$dest"
# Refuse to call a dynamic binary static.
if file "$dest" | grep -q "dynamically linked"; then
  echo "error: $dest is dynamically linked" >&2
  exit 1
fi
echo "$dest"
