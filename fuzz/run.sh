#!/usr/bin/env bash
# Coverage-guided fuzzing of diskless's parsers with cargo-fuzz (needs a nightly toolchain
# and `cargo install cargo-fuzz`). Seeds come from $DISKLESS_FIXTURES, as in the bounded
# stable run in tests/it/fuzz.rs. Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"; shift || true
fx="${DISKLESS_FIXTURES:-$(cd ../.. && pwd)/shared/fixtures}"
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(profile repomd primary filelists comps modules rpm cpio)
declare -A pat=([profile]='*.toml' [repomd]='repomd.xml' [primary]='*primary.xml' [filelists]='*filelists.xml'
  [comps]='comps*.xml' [modules]='modules.yaml' [rpm]='*.rpm' [cpio]='*.cpio')
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  if [ "$t" = profile ]; then src=../profiles; else src="$fx"; fi
  find "$src" -name "${pat[$t]}" -size -256k 2>/dev/null | head -50 | while read -r f; do
    cp -f "$f" "corpus/$t/$(sha256sum "$f" | cut -c1-16)"; done
  [ -d "regressions/$t" ] && cp -f regressions/"$t"/* "corpus/$t/" 2>/dev/null || true
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" 2>&1 | grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs|SUMMARY|panicked" || true
done
