#!/bin/bash
# The corpus one package upgrade earlier, for bench/run's "one package upgraded" row: a
# second repository, OUT/before/repo, with every RPM of OUT/repo except one package, which
# is at an older version (default zlib1g 1:1.2.13.dfsg-1, bookworm's release, before the
# 1:1.2.13.dfsg-1+deb12u1 security update the corpus has). bench/run builds from it, then
# moves the lock to the corpus' version (`diskless lock --update NAME`) and rebuilds.
#
#   bench/corpus/upgrade.sh [OUT]            # OUT defaults to target/bench-corpus
#   UPGRADE=name=older-version bench/corpus/upgrade.sh
#
# Needs OUT built by build.sh (its debs/ download cache is shared) and Debian's apt mirror
# (one .deb is downloaded). The older RPM is made by deb2rpm.py with the same fixed
# SOURCE_DATE_EPOCH as the corpus, so the build time (and a profile's derived
# SOURCE_DATE_EPOCH) does not move.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
corpus=$(cd "${1:-$root/target/bench-corpus}" && pwd)
spec=${UPGRADE:-zlib1g=1:1.2.13.dfsg-1}
name=${spec%%=*}
ver=${spec#*=}
out=$corpus/before
export LC_ALL=C
mkdir -p "$out"

# The selection with the package at the older version.
awk -v n="$name" -v v="$ver" '$1 == n { $2 = v } { print }' "$here/selection.txt" >"$out/selection.txt"
grep -q "^$name $ver " "$out/selection.txt" || { echo "upgrade: $name is not in the selection" >&2; exit 1; }
arch=$(awk -v n="$name" '$1 == n { print $3 }' "$out/selection.txt")
deb=$corpus/debs/${name}_${ver//:/%3a}_${arch}.deb
[[ -s $deb ]] || (cd "$corpus/debs" && apt-get download -q -o APT::Sandbox::User=root "$name=$ver")

/usr/bin/python3 "$here/deb2rpm.py" --selection "$out/selection.txt" --debs "$corpus/debs" \
  --out "$out" --jobs "${JOBS:-2}" --only "$name"

# Every other RPM of the corpus, linked.
for f in "$corpus"/repo/Packages/*.rpm; do
  base=$(basename "$f")
  if [[ $base == "$name"-* ]] && [[ $(rpm -qp --qf '%{NAME}' "$f" 2>/dev/null) == "$name" ]]; then
    continue
  fi
  ln -sf "$f" "$out/repo/Packages/$base"
done
rm -rf "$out/repo/repodata"
find "$out/repo/Packages" -name '*.rpm' -exec touch -h -d @1700000000 {} +
createrepo_c --quiet --no-database --revision 1700000000 --set-timestamp-to-revision "$out/repo"
echo "upgrade: $out/repo has $name $ver; $corpus/repo has $(awk -v n="$name" '$1 == n { print $2 }' "$here/selection.txt")"
