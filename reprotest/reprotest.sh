#!/usr/bin/env bash
# Build a profile three times under varied conditions and compare every artifact's SHA-256.
#
#   reprotest/reprotest.sh PROFILE [DISKLESS_BINARY]
#
# The profile's lock must exist (`diskless lock PROFILE`, or one `diskless build`): the
# promise is "same profile + same lock => same bytes". The profile's folder is copied into a
# temporary work folder for the varied builds, so files the profile names must live in that
# folder (relative paths) or be readable by everyone (absolute paths, which diskless reads
# only when allowed: DISKLESS_ALLOW_HOST_PATH, like SOURCE_DATE_EPOCH, reaches every build).
#
# Build 1 (reference): the profile where it is, TZ=UTC, LANG=C.UTF-8, umask 022, one thread,
#   a fresh HOME and an empty cache.
# Build 2 (varied): TZ, LANG/LC_ALL, umask 077, another working directory, output path,
#   profile path, HOME and (empty) cache, 4 threads, the clock a year ahead (`faketime`, when
#   installed and the binary is dynamically linked), shuffled directory order (`disorderfs
#   --shuffle-dirents=yes` over the profile's folder, when FUSE works), and, when run as
#   root, the user: uid/gid 65534 (nobody) via `setpriv`.
# Build 3 (warm cache): build 2's cache, reused.
#
# It prints which variations ran and which were skipped (and why). It exits 0 when all three
# SHA256SUMS (which cover every artifact, the OCI blobs and index included) are identical;
# on a mismatch it prints the differing sums and a `diskless diff` report, and exits 1.
# Usage errors exit 2, a failed build exits 3. REPROTEST_KEEP=1 keeps the work folder (its
# path is printed).
set -euo pipefail

log() { printf 'reprotest: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: reprotest.sh PROFILE [DISKLESS_BINARY]"
profile="$(realpath "$1")" || die "no profile \`$1\`"
[ -f "$profile" ] || die "no profile \`$1\`"
profile_dir="$(dirname "$profile")"
profile_name="$(basename "$profile")"
[ -f "${profile%.toml}.lock" ] \
  || die "no lock next to $profile; run \`diskless lock $1\` (or one \`diskless build\`) first"
bin_arg="${2:-$(command -v diskless || true)}"
[ -n "$bin_arg" ] || die "no diskless binary: pass its path or put it on PATH"
diskless="$(realpath "$bin_arg")" || die "no diskless binary at \`$bin_arg\`"
[ -x "$diskless" ] || die "\`$diskless\` is not executable"

work="$(mktemp -d "${TMPDIR:-/tmp}/reprotest.XXXXXX")"
chmod 0755 "$work"
mounted=""
cleanup() {
  if [ -n "$mounted" ]; then
    fusermount -u "$mounted" 2>/dev/null || umount "$mounted" 2>/dev/null || true
  fi
  if [ "${REPROTEST_KEEP:-}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A private copy of the binary: the build tree it came from (a cargo target dir under a
# home or project folder) may not be reachable by the unprivileged user.
mkdir -p "$work/bin"
cp "$diskless" "$work/bin/diskless"
chmod 0755 "$work/bin/diskless"
bin="$work/bin/diskless"
path="/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
sde=()
[ -n "${SOURCE_DATE_EPOCH:-}" ] && sde=("SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH")
# Host files the user allowed the profile to read are an input of the build, not noise.
[ -n "${DISKLESS_ALLOW_HOST_PATH:-}" ] \
  && sde+=("DISKLESS_ALLOW_HOST_PATH=$DISKLESS_ALLOW_HOST_PATH")

# Build 1: the reference, in a plain environment.
log "build 1 (reference): $profile"
mkdir -p "$work/one/home"
if ! (
  cd "$work/one" && umask 0022 && \
  env -i PATH="$path" HOME="$work/one/home" TZ=UTC LANG=C.UTF-8 \
    DISKLESS_CACHE_DIR="$work/one/cache" RAYON_NUM_THREADS=1 "${sde[@]}" \
    "$bin" -q build "$profile" --out "$work/one/out"
); then
  log "build 1 failed"
  exit 3
fi

# Build 2: everything varied.
varied=("TZ" "LANG/LC_ALL" "umask" "working directory" "output path" "profile path" "HOME"
  "cold cache dir" "thread count")
skipped=()
two="$work/elsewhere/deeper"
mkdir -p "$two/home" "$two/src" "$work/three"
cp -a "$profile_dir/." "$two/src/"
runas=()
if [ "$(id -u)" -eq 0 ]; then
  if command -v setpriv >/dev/null 2>&1; then
    runas=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
    chown -R 65534:65534 "$work/elsewhere" "$work/three"
    varied+=("user (root -> nobody)")
  else
    skipped+=("user: setpriv is not installed")
  fi
else
  skipped+=("user: not run as root, both builds run as $(id -un)")
fi
profile_two="$two/src/$profile_name"
if ! command -v disorderfs >/dev/null 2>&1; then
  skipped+=("directory order: disorderfs is not installed")
elif [ ! -e /dev/fuse ]; then
  skipped+=("directory order: no /dev/fuse (FUSE unavailable)")
else
  mkdir -p "$two/shuffled"
  # Other users (nobody, below) can read a FUSE mount only with --multi-user, which
  # non-root users may use only with user_allow_other in /etc/fuse.conf.
  multi=()
  [ "${#runas[@]}" -gt 0 ] && multi=(--multi-user=yes)
  if disorderfs --shuffle-dirents=yes "${multi[@]}" "$two/src" "$two/shuffled" >"$work/disorderfs.log" 2>&1; then
    mounted="$two/shuffled"
    profile_two="$two/shuffled/$profile_name"
    varied+=("directory order (disorderfs)")
  else
    skipped+=("directory order: disorderfs could not mount ($(tail -n1 "$work/disorderfs.log"))")
  fi
fi
faketime=()
if ! command -v faketime >/dev/null 2>&1; then
  skipped+=("clock: faketime is not installed")
elif file -L "$bin" 2>/dev/null | grep -Eq 'statically linked|static-pie linked'; then
  skipped+=("clock: the binary is statically linked (faketime works through LD_PRELOAD)")
else
  faketime=(faketime -f "+365d")
  varied+=("clock (+1 year, faketime)")
fi
log "build 2 (varied): $profile_two"
if ! (
  cd "$two" && umask 0077 && \
  env -i PATH="$path" HOME="$two/home" TZ=Pacific/Chatham LANG=de_DE.UTF-8 LC_ALL=tr_TR.UTF-8 \
    DISKLESS_CACHE_DIR="$two/cache" RAYON_NUM_THREADS=4 "${sde[@]}" \
    "${runas[@]}" "${faketime[@]}" "$bin" -q build "$profile_two" --out "$work/elsewhere/out-two"
); then
  log "build 2 failed"
  exit 3
fi

# Build 3: warm cache (build 2's), the unshuffled copy of the profile.
log "build 3 (warm cache)"
if ! (
  cd "$work/three" && umask 0022 && \
  env -i PATH="$path" HOME="$two/home" TZ=UTC LANG=C.UTF-8 \
    DISKLESS_CACHE_DIR="$two/cache" "${sde[@]}" \
    "${runas[@]}" "$bin" -q build "$two/src/$profile_name" --out "$work/three/out"
); then
  log "build 3 failed"
  exit 3
fi

for v in "${varied[@]}"; do log "varied: $v"; done
for s in "${skipped[@]}"; do log "skipped: $s"; done

oci_digest() { grep -o '"digest":"sha256:[0-9a-f]*"' "$1/oci/index.json" | head -n1 | cut -d'"' -f4; }
status=0
for other in "$work/elsewhere/out-two" "$work/three/out"; do
  name="${other#"$work"/}"
  if cmp -s "$work/one/out/SHA256SUMS" "$other/SHA256SUMS"; then
    log "identical: one/out and $name ($(wc -l <"$other/SHA256SUMS") artifacts, OCI $(oci_digest "$other"))"
  else
    log "MISMATCH between one/out and $name:"
    diff -u --label one/out/SHA256SUMS --label "$name/SHA256SUMS" \
      "$work/one/out/SHA256SUMS" "$other/SHA256SUMS" >&2 || true
    log "diskless diff one/out $name:"
    (cd "$work" && "$bin" diff one/out "$name" >&2) || true
    status=1
  fi
done
if [ "$status" -eq 0 ]; then
  log "reproducible: OCI $(oci_digest "$work/one/out"), SHA256SUMS $(sha256sum <"$work/one/out/SHA256SUMS" | cut -c1-64)"
else
  log "NOT reproducible"
fi
exit "$status"
