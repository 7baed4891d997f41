#!/bin/bash
# Build the benchmark corpus: ~300 real Debian bookworm packages of a server install turned
# into RPMs, indexed with createrepo_c, plus a diskless profile and the old way's package list.
# See bench/README.md, section "Corpus".
#
#   bench/corpus/build.sh [OUT]        # OUT defaults to target/bench-corpus
#
# Env: DEB_CACHE (default OUT/debs: downloaded .debs, reused by re-runs), RESELECT=1 (re-pick
# the package set from apt's current lists and rewrite bench/corpus/selection.txt), JOBS
# (parallel conversions, default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/target/bench-corpus}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=${DEB_CACHE:-$out/debs}
jobs=${JOBS:-2}
selection=$here/selection.txt
export LC_ALL=C
start=$(date +%s)

# 1. The package set (committed; RESELECT=1 to refresh from apt's lists).
if [[ ${RESELECT:-0} == 1 || ! -s $selection ]]; then
  /usr/bin/python3 "$here/select.py" "$selection"
fi

# 2. Download what the cache lacks (apt-get download names files name_version_arch.deb with
#    the epoch's colon as %3a).
mkdir -p "$cache"
missing=()
while read -r name ver arch _role; do
  [[ $name == \#* ]] && continue
  [[ -s $cache/${name}_${ver//:/%3a}_${arch}.deb ]] || missing+=("$name=$ver")
done <"$selection"
if ((${#missing[@]})); then
  echo "download: ${#missing[@]} packages into $cache"
  (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}")
fi
t_download=$(date +%s)

# 3. Convert (rpmbuild, two passes: manifests, then one RPM per package) and 4. index.
/usr/bin/python3 "$here/deb2rpm.py" --selection "$selection" --debs "$cache" --out "$out" --jobs "$jobs"
t_convert=$(date +%s)
rm -rf "$out/repo/repodata"
# createrepo_c records each RPM's mtime (<time file=..>): pin it so repodata is byte-stable.
find "$out/repo/Packages" -name '*.rpm' -exec touch -h -d @1700000000 {} +
createrepo_c --quiet --no-database --workers "$jobs" --revision 1700000000 \
  --set-timestamp-to-revision "$out/repo"
t_index=$(date +%s)

echo "corpus: download $((t_download - start))s, convert $((t_convert - t_download))s, index $((t_index - t_convert))s, total $((t_index - start))s"
echo "corpus: repo $out/repo, profile $out/corpus.toml, install list $out/packages.txt"
