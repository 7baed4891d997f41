//! The reproducibility harness and the "verify by hash" step, on the offline fixture profile
//! users try first (examples/fixture.toml over the repository `cargo run --example
//! fixture_repo` writes; the same builder makes it here):
//! - `reprotest/reprotest.sh` passes on it, with the built binary;
//! - it fails, naming the differing entry in a `diskless diff` report, when the profile
//!   leaks the build's environment into the image (a file whose source is
//!   `/proc/self/environ`);
//! - a second party's build verifies against the first party's SHA256SUMS, and a tampered
//!   file fails `diskless verify`, named.

#[allow(dead_code)]
#[path = "../boot/fixture_repo.rs"]
pub(crate) mod fixture_repo;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const PROFILE: &str = include_str!("../../examples/fixture.toml");
const BIN: &str = env!("CARGO_BIN_EXE_diskless");
const TOOLS: [&str; 4] = ["createrepo_c", "grub-mkimage", "bash", "sha256sum"];

/// Why the fixture cannot be built here, if it cannot. Outside CI that skips the tests; in
/// CI (`CI` set) it fails them.
fn missing_requirement() -> Option<String> {
    for t in TOOLS {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()));
        if !found {
            return Some(format!("`{t}` is not installed (see ci/setup.sh)"));
        }
    }
    if fixture_repo::host_kernel().is_err() {
        return Some("no /boot/vmlinuz-* (install linux-image-amd64)".into());
    }
    None
}

/// The fixture folder (repo/, fixture.toml and its lock), built once per test process.
/// `None`: skip (outside CI, with the reason printed).
pub(crate) fn fixture() -> Option<&'static Path> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(why) = missing_requirement() {
        assert!(
            std::env::var_os("CI").is_none(),
            "reprotest tests cannot run: {why}"
        );
        eprintln!("skipped: {why}");
        return None;
    }
    let r = DIR.get_or_init(|| {
        // Kept for the whole process (a static); removed by the OS's tmp cleaning.
        let dir = tempfile::Builder::new()
            .prefix("diskless-fixture-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        fixture_repo::build(&dir.join("repo")).map_err(|e| format!("{e:#}"))?;
        std::fs::write(dir.join("fixture.toml"), PROFILE).map_err(|e| e.to_string())?;
        let out = Command::new(BIN)
            .args(["-q", "lock"])
            .arg(dir.join("fixture.toml"))
            .env("DISKLESS_CACHE_DIR", dir.join("cache"))
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "diskless lock failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(dir)
    });
    match r {
        Ok(d) => Some(d),
        Err(e) => panic!("building the fixture failed: {e}"),
    }
}

fn reprotest(profile: &Path) -> (Output, String) {
    reprotest_allowing(profile, "")
}

/// reprotest.sh with `DISKLESS_ALLOW_HOST_PATH` set to `allow` (when not empty).
fn reprotest_allowing(profile: &Path, allow: &str) -> (Output, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("reprotest/reprotest.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script).arg(profile).arg(BIN);
    if allow.is_empty() {
        cmd.env_remove("DISKLESS_ALLOW_HOST_PATH");
    } else {
        cmd.env("DISKLESS_ALLOW_HOST_PATH", allow);
    }
    let out = cmd.output().expect("running reprotest.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn reprotest_passes_on_the_fixture_profile() {
    let Some(dir) = fixture() else { return };
    let (out, text) = reprotest(&dir.join("fixture.toml"));
    assert!(out.status.success(), "reprotest failed:\n{text}");
    for want in [
        "identical: one/out and elsewhere/out-two",
        "identical: one/out and three/out",
        "varied: TZ",
        "varied: umask",
        "varied: thread count",
        "reproducible: OCI sha256:",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
    assert!(!text.contains("MISMATCH"), "{text}");
}

#[test]
fn reprotest_names_the_entry_an_environment_leak_changes() {
    let Some(dir) = fixture() else { return };
    // The build's own environment (HOME, TZ, LANG … differ between the builds) copied into
    // the image: the kind of leak the harness exists to catch.
    let profile = dir.join("leak.toml");
    std::fs::write(
        &profile,
        format!(
            "{PROFILE}\n[[file]]\npath = \"/etc/build-env\"\nsource = \"/proc/self/environ\"\nmode = \"0644\"\n"
        ),
    )
    .unwrap();
    // A host file outside the profile's folder: read only because the user allows it.
    let lock = Command::new(BIN)
        .args(["-q", "lock"])
        .arg(&profile)
        .env("DISKLESS_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap();
    assert!(!lock.status.success(), "{lock:?}");
    let stderr = String::from_utf8_lossy(&lock.stderr);
    assert!(stderr.contains("--allow-host-path /proc/"), "{stderr}");
    let lock = Command::new(BIN)
        .args(["-q", "lock"])
        .arg(&profile)
        .env("DISKLESS_CACHE_DIR", dir.join("cache"))
        .env("DISKLESS_ALLOW_HOST_PATH", "/proc/self/environ")
        .output()
        .unwrap();
    assert!(lock.status.success(), "{lock:?}");
    let (out, text) = reprotest_allowing(&profile, "/proc/self/environ");
    assert_eq!(out.status.code(), Some(1), "expected a mismatch:\n{text}");
    let want = "MISMATCH between one/out and elsewhere/out-two";
    assert!(text.contains(want), "no `{want}` in:\n{text}");
    // The diff report names the initramfs and, inside it, the leaking file.
    let entry =
        "tftpboot/pxelinux/images/fixture/initramfs.img: /etc/build-env: content digest differs";
    assert!(text.contains(entry), "no `{entry}` in:\n{text}");
    // Only the leak differs: the kernel and boot loaders are still identical.
    assert!(!text.contains("vmlinuz:"), "{text}");
    assert!(!text.contains("pxelinux.0:"), "{text}");
    assert!(text.contains("NOT reproducible"), "{text}");
}

fn build(dir: &Path, cwd: &Path, out: &Path, tz: &str) {
    std::fs::create_dir_all(cwd).unwrap();
    let r = Command::new(BIN)
        .args(["-q", "build"])
        .arg(dir.join("fixture.toml"))
        .arg("--out")
        .arg(out)
        .current_dir(cwd)
        .env("HOME", cwd)
        .env("TZ", tz)
        .env("DISKLESS_CACHE_DIR", cwd.join("cache"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{r:?}");
}

#[test]
fn a_second_partys_build_verifies_against_the_first_partys_sums() {
    let Some(dir) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one/out"), tmp.path().join("two/out"));
    build(dir, &tmp.path().join("one"), &one, "UTC");
    build(dir, &tmp.path().join("two"), &two, "Asia/Kolkata");

    // The first party's sums check with coreutils, and with diskless.
    let sums = Command::new("sha256sum")
        .args(["--check", "--strict", "--quiet", "SHA256SUMS"])
        .current_dir(&one)
        .output()
        .unwrap();
    assert!(sums.status.success(), "{sums:?}");
    let verify = |sums: &Path| {
        Command::new(BIN)
            .arg("verify")
            .arg(&two)
            .arg("--sums")
            .arg(sums)
            .output()
            .unwrap()
    };
    let ok = verify(&one.join("SHA256SUMS"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // Tamper with one file of the second build: verify fails and names it.
    let cfg = two.join("tftpboot/pxelinux/pxelinux.cfg/default");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("# tampered\n");
    std::fs::write(&cfg, text).unwrap();
    let bad = verify(&one.join("SHA256SUMS"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(!bad.status.success(), "tampered build verified:\n{report}");
    assert!(
        report.contains("tftpboot/pxelinux/pxelinux.cfg/default"),
        "the tampered file is not named:\n{report}"
    );
    assert!(!report.contains("vmlinuz"), "{report}");
}
