#!/usr/bin/env bash
# Load time and peak memory of repository metadata: `diskless repoquery` (release build)
# over the CentOS Stream 9 AppStream fixture (17,649 packages, 51 MB of primary.xml once
# unpacked), then BaseOS + AppStream. Needs DISKLESS_FIXTURES and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
fx="${DISKLESS_FIXTURES:?set DISKLESS_FIXTURES to the shared fixtures folder}"
cargo build --release --quiet --bin diskless
bin="$PWD/target/release/diskless"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

profile() { # profile FILE REPO_ID=PATH...
    local out="$1"; shift
    printf '[image]\nname = "bench"\narch = "x86_64"\nreleasever = "9"\n\n[packages]\ninstall = ["bash"]\n' > "$out"
    for r in "$@"; do
        printf '\n[[repo]]\nid = "%s"\nbaseurl = "file://%s"\ngpgcheck = false\n' "${r%%=*}" "${r#*=}" >> "$out"
    done
}
appstream="$fx/osbuild-cs9-appstream/test/data/testrepos/appstream"
baseos="$fx/osbuild-cs9-baseos-2022snap/test/data/testrepos/baseos"
profile "$tmp/appstream.toml" "appstream=$appstream"
profile "$tmp/both.toml" "baseos=$baseos" "appstream=$appstream"

measure() { # measure LABEL PROFILE
    local best=""
    for _ in 1 2 3; do
        /usr/bin/time -f '%e %M' -o "$tmp/time" \
            "$bin" --cache-dir "$tmp/cache" repoquery --disable-modular-filtering "$2" > "$tmp/out"
        read -r secs kib < "$tmp/time"
        if [[ -z "$best" ]] || awk "BEGIN{exit !($secs < ${best%% *})}"; then best="$secs $kib"; fi
    done
    printf '%-28s %6s packages  best of 3: %ss wall, peak RSS %s MiB\n' \
        "$1" "$(wc -l < "$tmp/out")" "${best%% *}" "$(( ${best##* } / 1024 ))"
}
measure "CS9 AppStream" "$tmp/appstream.toml"
measure "CS9 BaseOS + AppStream" "$tmp/both.toml"
