#!/bin/bash
# Prove the corpus built by bench/corpus/build.sh works with the real tools (run as root):
#  1. rpm -K accepts every RPM;
#  2. dnf --installroot installs packages.txt (noscripts, the old way's command): time, du;
#  3. diskless lock + build of corpus.toml with a file:// baseurl: an initramfs comes out.
#
#   bench/corpus/check.sh [OUT]    # OUT defaults to target/bench-corpus
#
# Env: DISKLESS (default target/release/diskless, built with `cargo build --release` if absent).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(cd "${1:-$root/target/bench-corpus}" && pwd)
diskless=${DISKLESS:-$root/target/release/diskless}
export LC_ALL=C
scratch=$(mktemp -d "${TMPDIR:-/tmp}/corpus-check.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "== rpm -K"
rpm -K --nosignature "$out"/repo/Packages/*.rpm | grep -v ': digests OK$' && exit 1
echo "$(ls "$out"/repo/Packages/*.rpm | wc -l) RPMs, digests OK"

echo "== dnf --installroot (the old way's install)"
mkdir -p "$scratch/root"
/usr/bin/time -f 'dnf: wall %es, user %Us, sys %Ss, max RSS %MkB' \
  dnf --installroot="$scratch/root" --setopt=reposdir=/dev/null \
  --repofrompath=corpus,"file://$out/repo" --setopt=tsflags=noscripts --setopt=gpgcheck=0 \
  --releasever=9 --forcearch=x86_64 -y -q install $(cat "$out/packages.txt") \
  >"$out/check-dnf.log" 2> >(grep -v 'does not exist - using root' >&2)
echo "dnf: $(rpm --root "$scratch/root" -qa | wc -l) packages installed," \
  "$(du -sm --apparent-size "$scratch/root" | cut -f1) MiB apparent," \
  "$(find "$scratch/root" | wc -l) entries; kernel: $(cd "$scratch/root" && ls boot/vmlinuz-*)"
rm -rf "$scratch/root"

echo "== diskless lock + build"
[[ -x $diskless ]] || (cd "$root" && cargo build --release)
sed "s|^baseurl = .*|baseurl = \"file://$out/repo/\"|" "$out/corpus.toml" >"$scratch/corpus.toml"
/usr/bin/time -f 'diskless lock: wall %es, max RSS %MkB' \
  "$diskless" --cache-dir "$scratch/cache" lock "$scratch/corpus.toml"
/usr/bin/time -f 'diskless build: wall %es, user %Us, sys %Ss, max RSS %MkB' \
  "$diskless" --cache-dir "$scratch/cache" build "$scratch/corpus.toml" --out "$scratch/out"
find "$scratch/out" -name 'initramfs*' -printf '%p %s bytes\n'
find "$scratch/out" -name 'vmlinuz' -printf '%p %s bytes\n'
find "$scratch/out" -name 'pxelinux.0' -printf '%p\n'
