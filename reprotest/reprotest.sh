#!/usr/bin/env bash
# Build a profile twice under varied conditions and compare every artifact's SHA-256.
#
#   reprotest/reprotest.sh PROFILE [DISKLESS_BINARY]
#
# The second build varies: TZ, LANG/LC_ALL, umask, working directory and output path,
# HOME and cache dir (the first build is cold, the second starts from a different, empty
# cache... then a third build reuses the warm cache), thread count (RAYON_NUM_THREADS),
# the clock (faketime, a year later, when installed), directory order (disorderfs
# --shuffle-dirents=yes over the profile folder, when FUSE is available), and the user
# (root vs nobody, when run as root). On a mismatch it runs `diskless diff` and exits 1.
set -euo pipefail

profile="$(realpath "${1:?usage: reprotest.sh PROFILE [DISKLESS]}")"
diskless="$(realpath "${2:-$(command -v diskless || echo target/debug/diskless)}")"
work="$(mktemp -d "${TMPDIR:-/tmp}/reprotest.XXXXXX")"
chmod 0755 "$work"
trap 'fusermount -u "$work/shuffled" 2>/dev/null || true; rm -rf "$work"' EXIT
log() { printf 'reprotest: %s\n' "$*" >&2; }

# The lock must exist: reproducibility is promised for the same profile + lock.
[ -f "${profile%.toml}.lock" ] || { log "no lock next to $profile; run \`diskless lock\` first"; exit 2; }

# Build 1: the reference, in a plain environment.
log "build 1 (reference)"
(
  cd "$work" && mkdir -p home1 && \
  env -i PATH="$PATH" HOME="$work/home1" TZ=UTC LANG=C.UTF-8 \
    DISKLESS_CACHE_DIR="$work/cache1" RAYON_NUM_THREADS=1 \
    ${SOURCE_DATE_EPOCH:+SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH} ${DISKLESS_OFFLINE_SRC:+} \
    "$diskless" -q build "$profile" --out "$work/out1"
)

# Build 2: everything varied.
variant_profile="$profile"
if command -v disorderfs >/dev/null 2>&1 && [ -e /dev/fuse ]; then
  mkdir -p "$work/shuffled"
  if disorderfs --shuffle-dirents=yes --multi-user=yes "$(dirname "$profile")" "$work/shuffled" >/dev/null 2>&1; then
    variant_profile="$work/shuffled/$(basename "$profile")"
    log "directory order shuffled with disorderfs"
  fi
fi
faketime=()
if command -v faketime >/dev/null 2>&1; then
  faketime=(faketime -f "+365d")
  log "clock moved a year ahead with faketime"
fi
runas=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
  runas=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  chown -R 65534:65534 "$work" 2>/dev/null || true
  log "second build runs as nobody"
fi
log "build 2 (varied)"
mkdir -p "$work/elsewhere/deeper" "$work/home2"
[ "${#runas[@]}" -gt 0 ] && chown -R 65534:65534 "$work" 2>/dev/null || true
(
  cd "$work/elsewhere/deeper" && umask 0077 && \
  env -i PATH="$PATH" HOME="$work/home2" TZ=Pacific/Chatham LANG=de_DE.UTF-8 LC_ALL=tr_TR.UTF-8 \
    DISKLESS_CACHE_DIR="$work/cache2" RAYON_NUM_THREADS=4 \
    ${SOURCE_DATE_EPOCH:+SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH} \
    "${runas[@]}" "${faketime[@]}" "$diskless" -q build "$variant_profile" --out "$work/elsewhere/out-two"
)

# Build 3: warm cache (reuses build 2's cache).
log "build 3 (warm cache)"
(
  cd "$work" && env -i PATH="$PATH" HOME="$work/home2" TZ=UTC LANG=C.UTF-8 \
    DISKLESS_CACHE_DIR="$work/cache2" \
    ${SOURCE_DATE_EPOCH:+SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH} \
    "${runas[@]}" "$diskless" -q build "$profile" --out "$work/out3"
)

status=0
for other in "$work/elsewhere/out-two" "$work/out3"; do
  if cmp -s "$work/out1/SHA256SUMS" "$other/SHA256SUMS"; then
    log "identical: $(basename "$other") ($(wc -l <"$other/SHA256SUMS") artifacts)"
  else
    log "MISMATCH between out1 and $(basename "$other"):"
    diff -u "$work/out1/SHA256SUMS" "$other/SHA256SUMS" >&2 || true
    "$diskless" diff "$work/out1" "$other" >&2 || true
    status=1
  fi
done
[ "$status" -eq 0 ] && log "reproducible: $(sha256sum "$work/out1/SHA256SUMS" | cut -c1-64) (sha256 of SHA256SUMS)"
exit "$status"
