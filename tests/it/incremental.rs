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
    build_result(dir, name, profile, cache, out).unwrap();
    fs_err::read_to_string(dir.join(out).join("SHA256SUMS")).unwrap()
}

/// [`build_with`], giving the build's error.
pub(crate) fn build_result(
    dir: &Path,
    name: &str,
    profile: &str,
    cache: &Path,
    out: &str,
) -> Result<(), diskless::plan::PlanError> {
    let path = dir.join(format!("{name}.toml"));
    fs_err::write(&path, profile).unwrap();
    let mut plan = Plan::new(diskless::profile::load(&path).unwrap());
    plan.env_source_date_epoch = None;
    let opts = BuildOptions {
        out: dir.join(out),
        stage: Stage::All,
        force: true,
        rebuild: true,
        cache_dir: cache.to_path_buf(),
        offline: false,
        jobs: 2,
    };
    build::run(&plan, &opts, &Quiet).map(|_| ())
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
    assert_eq!(
        files(&c1, Kind::Builds).len(),
        2,
        "the lock's build record and the output folder's stamp"
    );

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

/// `diskless build` with `args` in `dir` (its own cache): the exit status and stderr.
fn cli_build(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_diskless"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("build")
        .arg(dir.join("nochange.toml"))
        .arg("--out")
        .arg(dir.join("out"))
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build {args:?} failed: {stderr}");
    stderr
}

/// (inode, mtime) of the output's image: whether a build rewrote it.
fn image_identity(dir: &Path) -> (u64, SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let m =
        std::fs::metadata(dir.join("out/tftpboot/pxelinux/images/fixture/initramfs.img")).unwrap();
    (m.ino(), m.modified().unwrap())
}

#[test]
fn a_no_change_rebuild_does_nothing_and_any_change_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    fs_err::write(dir.join("motd"), "first\n").unwrap();
    let profile =
        format!("{PROFILE}\n[[file]]\npath = \"/etc/motd\"\nsource = \"motd\"\nmode = \"0644\"\n");
    fs_err::write(dir.join("nochange.toml"), &profile).unwrap();
    let built = |e: &str| e.contains("Built `");
    let fresh = |e: &str| e.contains("is up to date");

    let e = cli_build(dir, &[], &[]);
    assert!(built(&e) && !fresh(&e), "{e}");
    let first = image_identity(dir);
    let sums = fs_err::read_to_string(dir.join("out/SHA256SUMS")).unwrap();

    // Nothing changed: nothing is written, and it says so.
    let e = cli_build(dir, &[], &[]);
    assert!(fresh(&e) && !built(&e), "{e}");
    assert_eq!(image_identity(dir), first);
    // --force (replace a folder) is not --rebuild.
    let e = cli_build(dir, &["--force"], &[]);
    assert!(fresh(&e), "{e}");

    // Each input, and a touched output, builds again.
    let e = cli_build(dir, &["--rebuild"], &[]);
    assert!(built(&e), "--rebuild: {e}");
    assert_ne!(image_identity(dir), first);
    assert_eq!(
        fs_err::read_to_string(dir.join("out/SHA256SUMS")).unwrap(),
        sums
    );

    fs_err::write(dir.join("motd"), "second\n").unwrap();
    let e = cli_build(dir, &[], &[]);
    assert!(built(&e), "a changed [[file]] source: {e}");
    assert_ne!(
        fs_err::read_to_string(dir.join("out/SHA256SUMS")).unwrap(),
        sums
    );
    assert!(fresh(&cli_build(dir, &[], &[])));

    let e = cli_build(dir, &[], &[("SOURCE_DATE_EPOCH", "1600000000")]);
    assert!(built(&e), "another SOURCE_DATE_EPOCH: {e}");
    assert!(fresh(&cli_build(
        dir,
        &[],
        &[("SOURCE_DATE_EPOCH", "1600000000")]
    )));
    assert!(built(&cli_build(dir, &[], &[])));

    fs_err::write(
        dir.join("nochange.toml"),
        profile.replace("try-it-offline", "try-it-again"),
    )
    .unwrap();
    assert!(built(&cli_build(dir, &[], &[])), "a changed profile");

    // The output edited in place (same size), then restored by hand: built again.
    let sums_path = dir.join("out/SHA256SUMS");
    let text = fs_err::read_to_string(&sums_path).unwrap();
    fs_err::write(&sums_path, &text).unwrap();
    let e = cli_build(dir, &[], &[]);
    assert!(built(&e), "a rewritten output file: {e}");
    fs_err::write(dir.join("out/extra"), "").unwrap();
    assert!(built(&cli_build(dir, &[], &[])), "an added output file");

    // Another stage replaced the folder: the full build runs.
    cli_build(dir, &["--stage", "rootfs"], &[]);
    let e = cli_build(dir, &[], &[]);
    assert!(built(&e), "after --stage rootfs: {e}");
    assert!(dir.join("out/SHA256SUMS").is_file());
}
