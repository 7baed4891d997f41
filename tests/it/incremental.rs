//! Incremental builds on the offline fixture profile (examples/fixture.toml): the pieces
//! kept in the cache (content store, extraction manifests, initramfs segments, parsed
//! metadata, build records) never change a byte of the output. The same profile and lock
//! give the same SHA256SUMS from a cold cache, a warm one, a warm one filled by another
//! build, and with one thread; a warm build writes nothing new to the store and compresses
//! nothing; one changed `[[file]]` recompresses one segment; `cache gc` keeps what the
//! lock's build needs and drops the rest.

use crate::reprotest::fixture_repo;
use diskless::plan::cache::{self, KeepLock, Kind};
use diskless::plan::{self, BuildOptions, Plan, Stage, build};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const PROFILE: &str = include_str!("../../examples/fixture.toml");

struct Quiet;
impl plan::Reporter for Quiet {}

pub(crate) fn fixture(dir: &Path) -> Option<()> {
    if let Err(e) = fixture_repo::build(&dir.join("repo")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "building the fixture failed: {e:#}"
        );
        eprintln!("skipped: building the fixture failed: {e:#}");
        return None;
    }
    Some(())
}

/// Build `profile` (text) as `name.toml` in `dir` with `cache`, into `dir/<out>`.
pub(crate) fn build_with(dir: &Path, name: &str, profile: &str, cache: &Path, out: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    fs_err::write(&path, profile).unwrap();
    let mut plan = Plan::new(diskless::profile::load(&path).unwrap());
    plan.env_source_date_epoch = None;
    let opts = BuildOptions {
        out: dir.join(out),
        stage: Stage::All,
        force: true,
        cache_dir: cache.to_path_buf(),
        offline: false,
        jobs: 2,
    };
    build::run(&plan, &opts, &Quiet).unwrap();
    fs_err::read_to_string(dir.join(out).join("SHA256SUMS")).unwrap()
}

/// Every file of a cache folder kind with its mtime.
fn files(cache: &Path, kind: Kind) -> BTreeMap<PathBuf, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![cache.join(kind.dir())];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.map(Result::unwrap) {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), m.modified().unwrap());
            }
        }
    }
    out
}

#[test]
fn cold_warm_and_incremental_builds_give_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let (c1, c2) = (dir.join("cache1"), dir.join("cache2"));

    // Cold.
    let cold = build_with(dir, "fixture", PROFILE, &c1, "cold");
    let segments = files(&c1, Kind::Segments);
    let store = files(&c1, Kind::Store);
    assert!(segments.len() >= 3, "directories, packages, generated");
    assert!(!files(&c1, Kind::Extracted).is_empty());
    assert!(!files(&c1, Kind::Parsed).is_empty());
    assert_eq!(files(&c1, Kind::Builds).len(), 1);

    // Warm: the same bytes, no new segment, nothing written to the store (same files,
    // same mtimes).
    let warm = build_with(dir, "fixture", PROFILE, &c1, "warm");
    assert_eq!(cold, warm);
    let after = files(&c1, Kind::Segments);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        segments.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        files(&c1, Kind::Store),
        store,
        "a warm build rewrote the store"
    );

    // With one thread: the same bytes.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| build_with(dir, "fixture", PROFILE, &c1, "one"));
    assert_eq!(cold, one);

    // One changed [[file]]: one new segment (the generated entries'), the rest reused.
    let changed = PROFILE.replace("try-it-offline\\n", "changed\\n");
    assert_ne!(changed, PROFILE);
    let other = build_with(dir, "fixture", &changed, &c1, "changed");
    assert_ne!(other, cold);
    let grown = files(&c1, Kind::Segments);
    assert_eq!(grown.len(), segments.len() + 1, "one segment recompressed");

    // A warm cache filled by another build (the changed profile) first: the same bytes
    // as the cold build of the original.
    build_with(dir, "fixture", &changed, &c2, "c2-changed");
    let incremental = build_with(dir, "fixture", PROFILE, &c2, "c2");
    assert_eq!(cold, incremental);
    // ... and the same files in `diskless diff`'s eyes.
    let d = diskless::emit::diff::diff(&dir.join("cold"), &dir.join("c2")).unwrap();
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn gc_keeps_what_the_lock_needs_and_info_counts_every_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let c = dir.join("cache");
    let first = build_with(dir, "fixture", PROFILE, &c, "a");
    let changed = PROFILE.replace("try-it-offline\\n", "other\\n");
    build_with(dir, "fixture", &changed, &c, "b");
    let lock_path = dir.join("fixture.lock");
    let bytes = fs_err::read(&lock_path).unwrap();
    let keep = KeepLock {
        lock: diskless::lock::Lockfile::read(&lock_path).unwrap(),
        bytes,
    };
    let info = cache::info(&c).unwrap();
    let size = |k: Kind| info.iter().find(|(x, _)| *x == k).unwrap().1;
    for k in [
        Kind::Packages,
        Kind::Store,
        Kind::Segments,
        Kind::Parsed,
        Kind::Extracted,
    ] {
        assert!(size(k).files > 0 && size(k).bytes > 0, "{k:?}: {info:?}");
    }

    // Everything is fresh: with the default age nothing goes.
    let report = cache::gc(&c, &[keep], Duration::from_secs(14 * 86400), false).unwrap();
    assert!(report.iter().all(|(_, u)| u.files == 0), "{report:?}");

    // Age 0: only what the lock's last build (the changed profile) used stays. A dry run
    // counts it and removes nothing.
    let keep = || KeepLock {
        lock: diskless::lock::Lockfile::read(&lock_path).unwrap(),
        bytes: fs_err::read(&lock_path).unwrap(),
    };
    let before = files(&c, Kind::Segments).len();
    let dry = cache::gc(&c, &[keep()], Duration::ZERO, true).unwrap();
    let would = dry.iter().find(|(k, _)| *k == Kind::Segments).unwrap().1;
    assert!(would.files >= 1, "{dry:?}");
    assert_eq!(files(&c, Kind::Segments).len(), before);
    let done = cache::gc(&c, &[keep()], Duration::ZERO, false).unwrap();
    assert_eq!(dry, done);
    assert_eq!(
        files(&c, Kind::Segments).len(),
        before - would.files as usize
    );
    assert!(
        files(&c, Kind::Parsed).is_empty(),
        "parsed metadata goes by age"
    );
    assert!(!files(&c, Kind::Packages).is_empty());
    // The last build still has every piece: a rebuild compresses nothing new.
    let segs = files(&c, Kind::Segments);
    build_with(dir, "fixture", &changed, &c, "b2");
    assert_eq!(files(&c, Kind::Segments).len(), segs.len());
    // And the first profile still builds, to the same bytes, remaking what went.
    assert_eq!(build_with(dir, "fixture", PROFILE, &c, "a2"), first);
}
