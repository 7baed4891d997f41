//! The library build, `plan::build::run`, on the offline fixture profile
//! (examples/fixture.toml over the repository tests/boot/fixture_repo.rs writes): the
//! events a reporter sees, stage stops, the first lock, where SOURCE_DATE_EPOCH came from,
//! and the errors that stop a build before any step.

use crate::reprotest::fixture_repo;
use diskless::plan::{
    self, BuildOptions, EpochSource, Event, Plan, PlanError, Stage, build, inputs,
};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const PROFILE: &str = include_str!("../../examples/fixture.toml");

/// The fixture folder (repo/ and fixture.toml, no lock yet). `None`: skip (outside CI,
/// when the host cannot build the fixture: no kernel, createrepo_c or grub-mkimage).
fn fixture(dir: &Path) -> Option<()> {
    if let Err(e) = fixture_repo::build(&dir.join("repo")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "building the fixture failed: {e:#}"
        );
        eprintln!("skipped: building the fixture failed: {e:#}");
        return None;
    }
    fs_err::write(dir.join("fixture.toml"), PROFILE).unwrap();
    Some(())
}

/// Records each event as a short line.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl plan::Reporter for Recorder {
    fn on_event(&self, event: &Event<'_>) {
        let line = match event {
            Event::Resolving { .. } => "resolving".to_string(),
            Event::Locked {
                packages,
                boot_packages,
                ..
            } => format!("locked {packages}+{boot_packages}"),
            Event::Fetching { packages } => format!("fetching {packages}"),
            Event::Assembling { packages } => format!("assembling {packages}"),
            Event::Assembled { .. } => "assembled".to_string(),
            Event::Emitting => "emitting".to_string(),
            _ => format!("{event:?}"),
        };
        self.0.lock().unwrap().push(line);
    }
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn options(dir: &Path, stage: Stage, out: PathBuf) -> BuildOptions {
    BuildOptions {
        out,
        stage,
        force: false,
        rebuild: false,
        cache_dir: dir.join("cache"),
        offline: false,
        jobs: 2,
    }
}

fn stage_names(o: &plan::BuildOutcome) -> Vec<&'static str> {
    o.stages.iter().map(|s| s.name).collect()
}

#[test]
fn library_build_reports_each_step_stops_where_asked_and_records_the_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let mut plan = Plan::new(diskless::profile::load(dir.join("fixture.toml")).unwrap());
    plan.env_source_date_epoch = None;
    let out = dir.join("out");
    let r = Recorder::default();

    // No lock yet: the first build resolves and writes it; `--stage rootfs` stops after the
    // root filesystem and leaves its listing.
    let o = build::run(&plan, &options(dir, Stage::Rootfs, out.clone()), &r).unwrap();
    assert_eq!(
        r.take(),
        [
            "resolving",
            "locked 7+3",
            "fetching 10",
            "assembling 7",
            "assembled"
        ]
    );
    assert_eq!(stage_names(&o), ["fetch", "root filesystem"]);
    assert!(o.artifacts.is_none());
    assert!(out.join("rootfs.txt").is_file() && out.join("rootfs.json").is_file());
    let lock = plan.read_lock().unwrap();
    let newest = lock.all_packages().map(|p| p.build_time).max().unwrap();
    assert_eq!(o.source_date_epoch.value, newest);
    assert_eq!(o.source_date_epoch.from, EpochSource::Lock);

    // The environment's value wins, reaches every timestamp and the manifest; the previous
    // (rootfs) output is replaced.
    plan.env_source_date_epoch = Some("1234567890".into());
    let o = build::run(&plan, &options(dir, Stage::All, out.clone()), &r).unwrap();
    assert_eq!(
        r.take(),
        ["fetching 10", "assembling 7", "assembled", "emitting"]
    );
    assert_eq!(stage_names(&o), ["fetch", "root filesystem", "artifacts"]);
    assert!(!out.join("rootfs.txt").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs_err::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["source_date_epoch"],
        serde_json::json!({"value": 1234567890, "from": "env"})
    );
    let expected = inputs::provenance(
        &plan.profile,
        &lock,
        &fs_err::read(&plan.lock_path).unwrap(),
    );
    assert_eq!(manifest["lock"]["digest"], expected.lock_digest.as_str());
    assert_eq!(
        manifest["packages"].as_array().unwrap().len(),
        lock.packages.len()
    );
    let a = o.artifacts.unwrap();
    assert!(a.files.contains_key("manifest.json"));
    assert!(a.oci.manifest_digest.starts_with("sha256:"));

    // A malformed SOURCE_DATE_EPOCH stops the build before any step (not a silent fallback).
    plan.env_source_date_epoch = Some("soon".into());
    let e = build::run(&plan, &options(dir, Stage::All, dir.join("o2")), &r).unwrap_err();
    assert!(matches!(e, PlanError::SourceDateEpoch(_)), "{e}");
    assert!(r.take().is_empty());
    assert!(!dir.join("o2").exists());

    // A folder no build wrote is not replaced.
    plan.env_source_date_epoch = None;
    let theirs = dir.join("theirs");
    fs_err::create_dir(&theirs).unwrap();
    fs_err::write(theirs.join("notes.txt"), "mine").unwrap();
    let e = build::run(&plan, &options(dir, Stage::Fetch, theirs.clone()), &r).unwrap_err();
    assert!(matches!(e, PlanError::NotAnOutput { .. }), "{e}");
    assert_eq!(
        fs_err::read_to_string(theirs.join("notes.txt")).unwrap(),
        "mine"
    );
}
