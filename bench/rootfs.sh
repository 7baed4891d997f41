#!/bin/sh
# Peak memory and time of assembling a ~1 GB root filesystem (issue 5: under 300 MB).
#
# Builds a synthetic package set (40 zstd RPMs, ~88,000 paths, DISKLESS_BENCH_MB megabytes
# of file contents, default 1024) with the test suite's own generator, then assembles it
# through the library (tests/it/rootfs.rs `nobody_helper`) under /usr/bin/time -v.
# Usage: bench/rootfs.sh [workdir]   (needs ~2.5x DISKLESS_BENCH_MB of free disk)
set -eu
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d /tmp/diskless-bench-rootfs.XXXXXX)}
mkdir -p "$work"
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
    cargo test --release --test it --no-run 2>/dev/null
    bin=$(cargo test --release --test it --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\/deps\/it-[^"]*\)".*/\1/p' | tail -1)
else
    cargo test --test it --no-run 2>/dev/null
    bin=$(cargo test --test it --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\/deps\/it-[^"]*\)".*/\1/p' | tail -1)
fi
if [ ! -d "$work/rpms" ]; then
    DISKLESS_BENCH_RPMS="$work/rpms" "$bin" --exact rootfs::bench_fixture --ignored --quiet >/dev/null
fi
echo "packages: $(ls "$work/rpms" | wc -l), $(du -sm "$work/rpms" | cut -f1) MB of RPMs"
rm -rf "$work/out" && mkdir -p "$work/out"
/usr/bin/time -v env DISKLESS_ROOTFS_IN="$work/rpms" DISKLESS_ROOTFS_OUT="$work/out" \
    "$bin" --exact rootfs::nobody_helper --ignored --quiet >/dev/null 2>"$work/time.txt" || {
    cat "$work/time.txt"; exit 1; }
echo "tree: $(wc -l <"$work/out/listing.txt") paths, $(du -sm "$work/out/store" | cut -f1) MB in the store"
grep -E "Maximum resident set size|Elapsed \(wall clock\)|User time|System time" "$work/time.txt"
echo "work dir: $work (remove it when done)"
