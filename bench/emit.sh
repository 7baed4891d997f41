#!/usr/bin/env bash
# Emit stage: time and peak memory of diskless's initramfs writer (sorted cpio newc +
# deterministic parallel gzip -9) against the recipe's `find . | cpio -o -H newc | gzip -9`
# on the same directory, in the same run. Also pigz -9 for reference, and diskless with one
# thread (the output must be identical).
#
# usage: bench/emit.sh [DIR]   (default: /usr/lib/python3, any extracted root filesystem works)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$(realpath "${1:-/usr/lib/python3}")
cargo build --release --bench emit -q 2>/dev/null || cargo build --release --benches -q
BIN=$(ls -t target/release/deps/emit-* | grep -v '\.d$' | head -1)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" import "$DIR" "$WORK/state"
echo "tree: $DIR ($(du -sh "$DIR" | cut -f1)), cores: $(nproc)"
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/stdout"
  read -r secs kib <"$WORK/time"
  printf '%-44s %8.2f s %8d MiB peak  %s\n' "$label" "$secs" "$((kib / 1024))" "$(cat "$WORK/stdout")"
}
measure "diskless emit (gzip -9, all cores)" "$BIN" run "$WORK/state" "$WORK/a.img"
measure "diskless emit (gzip -9, RAYON_NUM_THREADS=1)" env RAYON_NUM_THREADS=1 "$BIN" run "$WORK/state" "$WORK/b.img"
cmp -s "$WORK/a.img" "$WORK/b.img" && echo "  same bytes with 1 thread and $(nproc): yes" || { echo "  OUTPUT DIFFERS BY THREAD COUNT"; exit 1; }
measure "find | cpio -o -H newc | gzip -9" sh -c "cd '$DIR' && find . | cpio -o -H newc --quiet | gzip -9 > '$WORK/r.img'"
measure "find | cpio -o -H newc | pigz -9" sh -c "cd '$DIR' && find . | cpio -o -H newc --quiet | pigz -9 > '$WORK/p.img'"
ls -l "$WORK"/*.img | awk '{printf "  %-10s %12d bytes\n", $NF, $5}' | sed "s|$WORK/||"
