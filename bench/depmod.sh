#!/usr/bin/env bash
# depmod benchmark: diskless' declarative depmod (bench/depmod.rs, release build) against
# kmod's `depmod -b` on the same modules: every module of the host's newest kernel
# (/lib/modules/<kver>, Debian: uncompressed .ko), linked into a scratch root, and the same
# set recompressed with xz as EL9 ships it (XZ=1). Prints wall and CPU seconds of each (best
# of RUNS, default 3) and checks that the files are byte-identical.
#
#   bench/depmod.sh          # KVER=... to pick a kernel; XZ=1 for the .ko.xz variant
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
KVER=${KVER:-$(ls /lib/modules | sort -V | tail -1)}
SRC=/lib/modules/$KVER
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$here" && cargo build -q --release --example depmod)
bin=$here/target/release/examples/depmod

mdir=$work/root/lib/modules/$KVER
mkdir -p "$mdir"
(cd "$SRC" && find kernel -name '*.ko' -print) | while read -r m; do
  mkdir -p "$mdir/$(dirname "$m")"
  if [ "${XZ:-0}" = 1 ]; then
    xz -T1 -0 -c "$SRC/$m" > "$mdir/$m.xz"
  else
    ln -s "$SRC/$m" "$mdir/$m"
  fi
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
  [ -f "$SRC/$f" ] && cp "$SRC/$f" "$mdir/"
done
n=$(find "$mdir/kernel" -name '*.ko*' | wc -l)
mkdir -p "$work/ours" "$work/cfg"

best() { sort -n | head -1; }
time_it() { # prints "wall cpu"
  /usr/bin/time -f '%e %U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1, $2+$3}'
}
kw=(); kc=(); dw=(); dc=()
for _ in $(seq "$RUNS"); do
  read -r w c < <(time_it /usr/sbin/depmod -C "$work/cfg" -b "$work/root" "$KVER")
  kw+=("$w"); kc+=("$c")
  read -r w c < <(time_it "$bin" "$mdir" "$work/ours")
  dw+=("$w"); dc+=("$c")
done
diffs=0
for f in modules.dep modules.dep.bin modules.alias modules.alias.bin modules.softdep \
  modules.symbols modules.symbols.bin modules.builtin.alias.bin modules.builtin.bin modules.devname; do
  cmp -s "$mdir/$f" "$work/ours/$f" || { echo "DIFFERS: $f"; diffs=$((diffs + 1)); }
done
printf '%s: %d modules%s, best of %d\n' "$KVER" "$n" "$([ "${XZ:-0}" = 1 ] && echo ' (.ko.xz)')" "$RUNS"
printf '  %-18s wall %6.2fs  cpu %6.2fs\n' "kmod depmod" \
  "$(printf '%s\n' "${kw[@]}" | best)" "$(printf '%s\n' "${kc[@]}" | best)"
printf '  %-18s wall %6.2fs  cpu %6.2fs\n' "diskless depmod" \
  "$(printf '%s\n' "${dw[@]}" | best)" "$(printf '%s\n' "${dc[@]}" | best)"
echo "  files differing: $diffs"
[ "$diffs" = 0 ]
