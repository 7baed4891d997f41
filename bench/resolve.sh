#!/usr/bin/env bash
# Parse + solve benchmark: diskless (bench/resolve.rs, release build) against dnf
# (recipes/dnf-resolve.py: Debian's python3-dnf, libsolv) on the same metadata, same run.
#
#   bench/resolve.sh            # RUNS=3 by default; FIXTURES=... SHARED=... to relocate
#   BASELINE=/path/to/old/resolve bench/resolve.sh   # also time an older build of the
#                               # driver (rows `NAME@base`, ratios dnf/that build)
#
# Datasets:
#   cs9-default  CentOS Stream 9 BaseOS + AppStream fixture metadata, default profile's list
#   cs9-boot     the same repositories, boot set (syslinux-tftpboot)
#   deb63k       ~63,000-package Debian bookworm index turned into primary.xml by
#                shared/bench/deb2repodata.py (apt lists of this machine), two requests
# Both tools start cold each run (fresh process, fresh cache dir), so each time is
# "read + verify + parse the metadata, then solve". Reported: the best wall time and the
# best CPU time (user+sys) of RUNS runs (the machine is shared: CPU time is the steadier
# number), and dnf/diskless ratios (> 1 means diskless is faster). The answers of both
# tools are diffed (NEVRA sets) and the difference count printed.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$(cd "$here/../shared" 2>/dev/null && pwd || echo /work/shared)}
FIXTURES=${FIXTURES:-${DISKLESS_FIXTURES:-$SHARED/fixtures}}
RUNS=${RUNS:-3}
DNF_RESOLVE=$SHARED/recipes/dnf-resolve.py

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building bench/resolve.rs (release)..." >&2
(cd "$here" && cargo build --quiet --release --example resolve)
bin=$here/target/release/examples/resolve

echo "generating Debian-shaped metadata..." >&2
python3 "$SHARED/bench/deb2repodata.py" "$work/deb" >&2

baseos=file://$FIXTURES/osbuild-cs9-baseos-2022snap/test/data/testrepos/baseos
appstream=file://$FIXTURES/osbuild-cs9-appstream/test/data/testrepos/appstream
default_set="basesystem filesystem bash kernel passwd dhcp-client openssh-server openssh-clients nfs-utils cronie-anacron vim-minimal"

# best-of-RUNS wall and cpu seconds of a command; its stdout of the last run -> $out
measure() {
  local out=$1; shift
  local best_wall="" best_cpu=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$out" 2>"$out.err" || true
    read -r wall user sys <"$work/time"
    cpu=$(echo "$user + $sys" | bc)
    if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ]; then best_wall=$wall; fi
    if [ -z "$best_cpu" ] || [ "$(echo "$cpu < $best_cpu" | bc)" = 1 ]; then best_cpu=$cpu; fi
  done
  echo "$best_wall $best_cpu"
}

nevras() { grep -v '^UNSOLVABLE' "$1" | awk '{print $1}' | sort; }

printf '%-12s %8s %8s %8s %8s %7s %7s %6s %6s %5s\n' dataset dl_wall dl_cpu dnf_wall dnf_cpu x_wall x_cpu dl_n dnf_n diff
run() {
  local name=$1 urls=$2; shift 2
  read -r dw dc < <(measure "$work/$name.dl" "$bin" "$urls" "$@")
  read -r nw nc < <(measure "$work/$name.dnf" /usr/bin/python3 "$DNF_RESOLVE" "$urls" "$@")
  local dn nn diff
  dn=$(nevras "$work/$name.dl" | wc -l); nn=$(nevras "$work/$name.dnf" | wc -l)
  diff=$(comm -3 <(nevras "$work/$name.dl") <(nevras "$work/$name.dnf") | wc -l)
  printf '%-12s %8s %8s %8s %8s %7s %7s %6s %6s %5s\n' "$name" "$dw" "$dc" "$nw" "$nc" \
    "$(echo "scale=2; $nw / $dw" | bc)" "$(echo "scale=2; $nc / $dc" | bc)" "$dn" "$nn" "$diff"
  grep -h '^timing:' "$work/$name.dl.err" >&2 || true
  if [ "$diff" != 0 ]; then
    comm -3 <(nevras "$work/$name.dl") <(nevras "$work/$name.dnf") | sed 's/^\t/  only dnf: /; t; s/^/  only diskless: /' | head -20 >&2
  fi
  grep -h '^UNSOLVABLE' "$work/$name.dl" "$work/$name.dnf" | head -5 >&2 || true
  if [ -n "${BASELINE:-}" ]; then
    local bw bc bn bdiff
    read -r bw bc < <(measure "$work/$name.base" "$BASELINE" "$urls" "$@")
    bn=$(nevras "$work/$name.base" | wc -l)
    bdiff=$(comm -3 <(nevras "$work/$name.base") <(nevras "$work/$name.dnf") | wc -l)
    printf '%-12s %8s %8s %8s %8s %7s %7s %6s %6s %5s\n' "$name@base" "$bw" "$bc" "$nw" "$nc" \
      "$(echo "scale=2; $nw / $bw" | bc)" "$(echo "scale=2; $nc / $bc" | bc)" "$bn" "$nn" "$bdiff"
  fi
}

# shellcheck disable=SC2086
run cs9-default "$baseos,$appstream" $default_set
run cs9-boot "$baseos,$appstream" syslinux-tftpboot
run deb63k-small "file://$work/deb" openssh-server vim nfs-common cron isc-dhcp-client bash systemd
run deb63k-xorg "file://$work/deb" xorg openssh-server vim nfs-common cron isc-dhcp-client bash systemd
echo "(times in seconds, best of $RUNS; x_* = dnf / diskless; diff = NEVRAs in one answer only)"
