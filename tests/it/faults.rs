//! Fault injection for every stage, on the offline fixture profile (examples/fixture.toml
//! over the repository tests/boot/fixture_repo.rs builds; served from a folder, or over HTTP
//! by the test server when the network is the point):
//! - `kill -9` during fetch, root filesystem and artifacts, then build again: the output
//!   is never a half-written folder presented as done, the cache is never poisoned, the
//!   killed build's work folder is cleaned up, and the next build gives the undisturbed
//!   build's SHA256SUMS;
//! - two builds at once on one cache and one output;
//! - a read-only cache: a build works from it when it holds every package, and otherwise
//!   fails naming the cache and `--cache-dir`;
//! - a full disk (an 8 MiB tmpfs, when the tests run as root): the error says what was
//!   written where and how much the build needs;
//! - metadata and package servers that reset, stall, say nothing, trickle, or send too much
//!   or too little (package-side faults against built RPMs are in `fetch.rs`); timeouts and
//!   `minrate`, the progress line while waiting, `proxy`, `skip_if_unavailable`;
//! - log lines on a pipe carry no colour codes.

use crate::reprotest::fixture;
use crate::support::files_under;
use crate::support::http::{Fault, Server};
use crate::support::proc::{free_port, is_root};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_diskless");

/// One test's copy of the fixture: its own profile folder (the profile, its lock, the
/// repository linked in), cache and output.
struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Case {
    /// `None`: the fixture cannot be built here (skipped outside CI, with the reason).
    fn new() -> Option<Case> {
        let fx = fixture()?;
        let tmp = tempfile::Builder::new()
            .prefix("diskless-faults-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        for f in ["fixture.toml", "fixture.lock"] {
            std::fs::copy(fx.join(f), dir.join(f)).unwrap();
        }
        std::os::unix::fs::symlink(fx.join("repo"), dir.join("repo")).unwrap();
        Some(Case { _tmp: tmp, dir })
    }

    fn profile(&self) -> PathBuf {
        self.dir.join("fixture.toml")
    }
    fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }
    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// The profile served by `server` instead of from the folder (no lock yet).
    fn over_http(&self, server: &Server, extra: &str) -> PathBuf {
        let text = std::fs::read_to_string(self.profile()).unwrap().replace(
            "baseurl = \"./repo/\"",
            &format!("baseurl = \"{}\"\n{extra}", server.base()),
        );
        let p = self.dir.join("http.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `diskless ARGS` in the case's folder, with its cache, and nothing of the test's
    /// environment that changes a build.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(&self.dir)
            .env("DISKLESS_CACHE_DIR", self.cache())
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("DISKLESS_ALLOW_HOST_PATH")
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn build(&self, profile: &Path, out: &Path) -> Output {
        self.cmd(&["-q", "build"])
            .arg(profile)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    }

    /// The killed builds' work folders next to the output.
    fn work_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".diskless-build-"))
            })
            .collect();
        v.sort();
        v
    }
}

fn ok(o: &Output) -> String {
    let text = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{:?}: {text}", o.status);
    text
}

fn failed(o: &Output) -> String {
    let text = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "expected an error, got:\n{text}");
    text
}

fn sums(out: &Path) -> String {
    std::fs::read_to_string(out.join("SHA256SUMS")).unwrap()
}

/// SHA256SUMS of an undisturbed build of the fixture profile.
fn reference() -> &'static str {
    static SUMS: OnceLock<String> = OnceLock::new();
    SUMS.get_or_init(|| {
        let c = Case::new().expect("the fixture was built already");
        ok(&c.build(&c.profile(), &c.out()));
        sums(&c.out())
    })
}

/// Every cache entry's content has the sha256 its name says (temporary files of killed
/// downloads may lie around: `cache gc` collects them, lookups never see them).
fn assert_cache_clean(cache: &Path) {
    let root = cache.join("packages/sha256");
    for f in files_under(&root) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            continue;
        }
        let dir = f.parent().unwrap().file_name().unwrap().to_string_lossy();
        let got = hex::encode(sha2::Sha256::digest(std::fs::read(&f).unwrap()));
        assert_eq!(
            format!("{dir}{name}"),
            got,
            "poisoned entry {}",
            f.display()
        );
    }
}

/// Start `cmd`, and SIGKILL it as soon as `cond` holds (polled every millisecond). True when
/// it was killed; false when it ended first (the caller decides whether that is a failure).
fn kill_when(mut cmd: Command, cond: impl Fn() -> bool, limit: Duration) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if cond() {
            // Child::kill is SIGKILL: no destructor, no cleanup runs.
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the condition never held within {limit:?}");
}

/// Some path under `dir` (not following symlinks) for which `f` holds.
fn any_under(dir: &Path, f: &dyn Fn(&Path) -> bool) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in rd.flatten() {
        let p = e.path();
        if f(&p) || (e.file_type().is_ok_and(|t| t.is_dir()) && any_under(&p, f)) {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// kill -9 during each stage.

#[test]
fn killed_during_fetch_the_cache_stays_clean_and_the_next_build_completes() {
    let Some(c) = Case::new() else { return };
    let server = Server::serve_dir(&c.dir.join("repo"));
    let profile = c.over_http(&server, "");
    ok(&c.cmd(&["-q", "lock"]).arg(&profile).output().unwrap());
    // Slow enough that the kill lands in the middle of a download.
    server.throttle(Duration::from_millis(3));
    let cache = c.cache();
    let mut cmd = c.cmd(&["-q", "build"]);
    cmd.arg(&profile).arg("--out").arg(c.out());
    let downloading = || {
        any_under(&cache.join("packages"), &|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
                && p.metadata().is_ok_and(|m| m.len() > 64 * 1024)
        })
    };
    assert!(kill_when(cmd, downloading, Duration::from_secs(60)));
    assert!(!c.out().exists(), "a killed build left an output");
    assert_cache_clean(&cache);
    server.throttle(Duration::ZERO);

    let again = ok(&c.build(&profile, &c.out()));
    assert_cache_clean(&cache);
    assert!(c.work_dirs().is_empty(), "{:?} {again}", c.work_dirs());
    // The same as an undisturbed build of the same profile and lock, on a cold cache.
    let undisturbed = c.dir.join("undisturbed");
    let mut cmd = c.cmd(&["-q", "build"]);
    cmd.arg(&profile)
        .arg("--out")
        .arg(&undisturbed)
        .env("DISKLESS_CACHE_DIR", c.dir.join("cache2"));
    ok(&cmd.output().unwrap());
    assert_eq!(sums(&c.out()), sums(&undisturbed));
}

#[test]
fn killed_during_the_root_filesystem_no_output_and_the_next_build_completes() {
    let Some(c) = Case::new() else { return };
    let dir = c.dir.clone();
    // A work folder exists and the cache's content store has files: assembly is running.
    let store = c.cache().join("store");
    let assembling = move || {
        std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".diskless-build-")
        }) && std::fs::read_dir(&store)
            .is_ok_and(|mut d| d.any(|x| x.is_ok_and(|x| x.path().is_dir())))
    };
    let mut cmd = c.cmd(&["-q", "build"]);
    cmd.arg(c.profile()).arg("--out").arg(c.out());
    assert!(kill_when(cmd, assembling, Duration::from_secs(60)));
    assert!(!c.out().exists(), "a killed build left an output");
    assert_eq!(c.work_dirs().len(), 1, "the killed build's work folder");
    assert_cache_clean(&c.cache());

    ok(&c.build(&c.profile(), &c.out()));
    assert!(c.work_dirs().is_empty(), "{:?}", c.work_dirs());
    assert_eq!(sums(&c.out()), reference());
}

#[test]
fn killed_while_writing_artifacts_the_previous_output_stays_whole() {
    let Some(c) = Case::new() else { return };
    ok(&c.build(&c.profile(), &c.out()));
    let before = sums(&c.out());
    let dir = c.dir.clone();
    let emitting = move || {
        std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".diskless-build-")
                && e.path()
                    .join("out/tftpboot/pxelinux/images/fixture/initramfs.img")
                    .metadata()
                    .is_ok_and(|m| m.len() > 0)
        })
    };
    // --rebuild: the same build into the same folder is otherwise found up to date.
    let mut cmd = c.cmd(&["-q", "build", "--rebuild"]);
    cmd.arg(c.profile()).arg("--out").arg(c.out());
    assert!(kill_when(cmd, emitting, Duration::from_secs(60)));
    // The previous build is still there, whole.
    assert_eq!(sums(&c.out()), before);
    ok(&c.run(&["verify", "out"]));

    ok(&c.build(&c.profile(), &c.out()));
    assert!(c.work_dirs().is_empty(), "{:?}", c.work_dirs());
    assert_eq!(sums(&c.out()), reference());
}

#[test]
fn two_builds_at_once_on_one_cache_and_one_output() {
    let Some(c) = Case::new() else { return };
    let spawn = || {
        c.cmd(&["-q", "build"])
            .arg(c.profile())
            .arg("--out")
            .arg(c.out())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    ok(&a.wait_with_output().unwrap());
    ok(&b.wait_with_output().unwrap());
    assert_eq!(sums(&c.out()), reference());
    ok(&c.run(&["verify", "out"]));
    assert_cache_clean(&c.cache());
    assert!(c.work_dirs().is_empty(), "{:?}", c.work_dirs());
}

// ---------------------------------------------------------------------------------------
// A read-only cache and a full disk.

/// Runs `diskless` as `nobody` when the tests run as root (root ignores file modes), so
/// a folder without write permission is read-only for it.
fn as_user(c: &Case, args: &[&str], bin: &Path) -> Output {
    let mut cmd = if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(bin);
        cmd
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .current_dir(&c.dir)
        .env("DISKLESS_CACHE_DIR", c.cache())
        .env("HOME", &c.dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DISKLESS_ALLOW_HOST_PATH");
    cmd.output().unwrap()
}

fn chmod_tree(dir: &Path, dirs: u32, files: u32) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    for f in files_under(dir) {
        mode(&f, files).unwrap();
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        mode(&d, dirs).unwrap();
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

#[test]
fn a_read_only_cache_serves_what_it_holds_and_names_itself_when_it_lacks_a_package() {
    let Some(c) = Case::new() else { return };
    if is_root() && Command::new("setpriv").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "setpriv is missing");
        eprintln!("skipped: running as root without setpriv");
        return;
    }
    ok(&c.run(&["-q", "fetch", "fixture.toml"]));
    // Everyone may read and traverse the case (the user may be `nobody`); the cache is
    // read-only; the build writes next to `--out` in a folder of its own.
    let bin = c.dir.join("diskless");
    std::fs::copy(BIN, &bin).unwrap();
    chmod_tree(&c.dir.join("cache"), 0o555, 0o444);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&c.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    // A copy of the repository the user can read (the shared fixture's folder is private).
    let repo = c.dir.join("repo");
    let shared = std::fs::read_link(&repo).unwrap();
    std::fs::remove_file(&repo).unwrap();
    std::fs::create_dir_all(repo.join("repodata")).unwrap();
    for f in files_under(&shared) {
        std::fs::copy(&f, repo.join(f.strip_prefix(&shared).unwrap())).unwrap();
    }
    chmod_tree(&repo, 0o755, 0o644);
    for f in ["fixture.toml", "fixture.lock"] {
        std::fs::set_permissions(c.dir.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    for offline in [false, true] {
        let mut args = vec!["-q", "build", "fixture.toml", "--out"];
        let out = if offline { "out-offline" } else { "out" };
        args.push(out);
        if offline {
            args.push("--offline");
        }
        ok(&as_user(&c, &args, &bin));
        assert_eq!(sums(&c.dir.join(out)), reference());
    }

    // A package the cache lacks: it cannot be stored, and the error says where and what to
    // do.
    chmod_tree(&c.dir.join("cache"), 0o755, 0o644);
    let entry = files_under(&c.dir.join("cache/packages/sha256"))
        .into_iter()
        .find(|f| std::fs::metadata(f).unwrap().len() > 1 << 20)
        .unwrap();
    std::fs::remove_file(&entry).unwrap();
    chmod_tree(&c.dir.join("cache"), 0o555, 0o444);
    let text = failed(&as_user(
        &c,
        &["build", "fixture.toml", "--out", "out"],
        &bin,
    ));
    assert!(
        text.contains(&*c.dir.join("cache").to_string_lossy()),
        "{text}"
    );
    assert!(
        text.contains("Permission denied") || text.contains("Read-only file system"),
        "{text}"
    );
    assert!(text.contains("--cache-dir"), "{text}");
    chmod_tree(&c.dir.join("cache"), 0o755, 0o644);
}

/// An 8 MiB tmpfs at `dir` for the test (root only); `None` (skipped) when it cannot be
/// mounted. Unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path) -> Option<SmallDisk> {
        if !is_root() {
            assert!(
                std::env::var_os("CI").is_none(),
                "the full-disk test needs root in CI"
            );
            eprintln!("skipped: mounting a small tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "skipped: cannot mount a tmpfs here: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_says_what_was_written_where_and_how_much_is_needed() {
    let Some(c) = Case::new() else { return };
    let Some(disk) = SmallDisk::mount(&c.dir.join("small")) else {
        return;
    };
    // The packages are cached elsewhere; the output (and so the work folder and its
    // content store) is on the small disk: the kernel alone does not fit.
    ok(&c.run(&["-q", "fetch", "fixture.toml"]));
    let out = disk.0.join("out");
    let text = failed(&c.build(&c.profile(), &out));
    for want in [
        // The content store is in the cache (on a big disk): the artifacts fill this one.
        "Out of disk space writing the artifacts in `",
        "the build needs about",
        "No space left on device",
        "hint: `",
        " free, the build needs about ",
        "; free space there, or build on another file system: `--out` elsewhere",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
    assert!(!text.contains("Cannot read the payload"), "{text}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(&disk.0).unwrap().count(), 0, "left-overs");

    // The cache on the small disk: the download cannot be stored.
    let mut cmd = c.cmd(&["fetch", "fixture.toml"]);
    cmd.env("DISKLESS_CACHE_DIR", disk.0.join("cache"));
    let text = failed(&cmd.output().unwrap());
    for want in [
        "Cannot write the download into `",
        "(the package cache)",
        "No space left on device",
        "hint: free space in the cache, or put it on another file system with `--cache-dir`",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
    assert_cache_clean(&disk.0.join("cache"));
}

// ---------------------------------------------------------------------------------------
// Servers that misbehave, and the settings that bound them.

/// The fixture repository's primary.xml path on the server.
fn primary_path(c: &Case) -> String {
    let repomd = std::fs::read(c.dir.join("repo/repodata/repomd.xml")).unwrap();
    let md = diskless::repo::Repomd::parse(&repomd).unwrap();
    format!("/{}", md.record("primary").unwrap().href)
}

#[test]
fn metadata_resets_and_truncations_are_retried() {
    let Some(c) = Case::new() else { return };
    let server = Server::serve_dir(&c.dir.join("repo"));
    let primary = primary_path(&c);
    server.faults("/repodata/repomd.xml", &[Fault::Reset]);
    server.faults(&primary, &[Fault::Truncate, Fault::Status(503)]);
    let profile = c.over_http(&server, "");
    ok(&c.cmd(&["-q", "lock"]).arg(&profile).output().unwrap());
    // The reset one, then the resolution cache's probe of the repository's state, then
    // the load (the probe's bytes are not handed on).
    assert_eq!(server.hits("/repodata/repomd.xml"), 3);
    assert_eq!(server.hits(&primary), 3);
}

#[test]
fn metadata_longer_or_shorter_than_repomd_says_is_refused_naming_the_url() {
    let Some(c) = Case::new() else { return };
    let server = Server::serve_dir(&c.dir.join("repo"));
    let primary = primary_path(&c);
    let profile = c.over_http(&server, "");
    for fault in [Fault::LongNoLength, Fault::ShortNoLength] {
        server.always(&primary, fault);
        let text = failed(&c.cmd(&["lock"]).arg(&profile).output().unwrap());
        assert!(text.contains(&primary[1..]), "{fault:?}: {text}");
        assert!(text.contains("mismatch"), "{fault:?}: {text}");
    }
}

/// No server where the profile points (the README's first command on a machine without
/// DNS): the first build, which resolves, names the URL and says what to check.
#[test]
fn an_unreachable_repository_says_what_to_check() {
    let Some(c) = Case::new() else { return };
    let text = std::fs::read_to_string(c.profile()).unwrap().replace(
        "baseurl = \"./repo/\"",
        &format!("baseurl = \"http://127.0.0.1:{}/\"", free_port()),
    );
    let p = c.dir.join("nowhere.toml");
    std::fs::write(&p, text).unwrap();
    let mut cmd = c.cmd(&["build"]);
    cmd.arg(&p).arg("--out").arg(c.out());
    let text = failed(&cmd.output().unwrap());
    assert!(
        text.contains("Could not connect to `http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("hint: the repository cannot be reached from here: check the network"),
        "{text}"
    );
    assert!(!c.out().exists());
}

#[test]
fn a_silent_mirror_costs_the_configured_timeout_not_a_minute() {
    let Some(c) = Case::new() else { return };
    let server = Server::serve_dir(&c.dir.join("repo"));
    server.always("/repodata/repomd.xml", Fault::Silent);
    // The repository's dnf-style `timeout`, then the command line's.
    let in_profile = c.over_http(&server, "timeout = 1\n");
    let plain = c.dir.join("plain.toml");
    std::fs::write(
        &plain,
        std::fs::read_to_string(&in_profile)
            .unwrap()
            .replace("timeout = 1\n", ""),
    )
    .unwrap();
    for (profile, flags) in [(&in_profile, vec![]), (&plain, vec!["--read-timeout", "1"])] {
        let start = Instant::now();
        let mut cmd = c.cmd(&["lock"]);
        cmd.arg(profile).args(&flags);
        let text = failed(&cmd.output().unwrap());
        let took = start.elapsed();
        assert!(text.contains("Timed out waiting for"), "{text}");
        assert!(
            text.contains("hint: the repository cannot be reached"),
            "{text}"
        );
        // Two silent attempts of 1 s each, and a pause: not 2 x 60 s.
        assert!(took < Duration::from_secs(15), "{took:?}");
    }
    assert!(server.hits("/repodata/repomd.xml") >= 4);
}

#[test]
fn a_trickling_mirror_is_cut_off_below_minrate() {
    let Some(c) = Case::new() else { return };
    let server = Server::serve_dir(&c.dir.join("repo"));
    let fast = c.over_http(&server, "");
    ok(&c.cmd(&["-q", "lock"]).arg(&fast).output().unwrap());
    // Same repository, with a rate floor far above what the throttled server sends.
    let slow = c.dir.join("slow.toml");
    std::fs::write(
        &slow,
        std::fs::read_to_string(&fast).unwrap().replace(
            "gpgcheck = false",
            "gpgcheck = false\ntimeout = 1\nminrate = 100000000",
        ),
    )
    .unwrap();
    std::fs::copy(c.dir.join("http.lock"), c.dir.join("slow.lock")).unwrap();
    server.throttle(Duration::from_millis(5));
    let start = Instant::now();
    let text = failed(&c.cmd(&["fetch", "slow.toml"]).output().unwrap());
    assert!(text.contains("slower than the minimum rate of"), "{text}");
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_stalled_download_shows_whom_it_waits_for() {
    let Some(c) = Case::new() else { return };
    let server = Server::serve_dir(&c.dir.join("repo"));
    let profile = c.over_http(&server, "");
    ok(&c.cmd(&["-q", "lock"]).arg(&profile).output().unwrap());
    // Half the kernel, then 6 s of silence, then the rest: within an 8 s read timeout.
    let kernel = std::fs::read_dir(c.dir.join("repo"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("kernel-core-"))
        .unwrap();
    server.faults(&format!("/{kernel}"), &[Fault::Stall]);
    let mut cmd = c.cmd(&["fetch", "http.toml", "--read-timeout", "8"]);
    let text = ok(&cmd.output().unwrap());
    let port = server
        .base()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let want = format!("waiting for 127.0.0.1:{port} (5 s)");
    assert!(text.contains(&want), "no `{want}` in:\n{text}");
}

#[test]
fn skip_if_unavailable_skips_a_dead_repository_when_locking_only() {
    let Some(c) = Case::new() else { return };
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let with = |skip: bool| {
        let text = std::fs::read_to_string(c.profile()).unwrap().replace(
            "[packages]",
            &format!(
                "[[repo]]\nid = \"gone\"\nbaseurl = \"{dead}\"\ngpgcheck = false\nskip_if_unavailable = {skip}\n\n[packages]"
            ),
        );
        let p = c.dir.join(format!("skip-{skip}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    };
    let text = failed(&c.cmd(&["lock"]).arg(with(false)).output().unwrap());
    assert!(text.contains("Cannot load repository `gone`"), "{text}");
    let text = ok(&c.cmd(&["lock"]).arg(with(true)).output().unwrap());
    assert!(
        text.contains("repository `gone` is unavailable and skipped (skip_if_unavailable)"),
        "{text}"
    );
    // The lock does not know the skipped repository; building from it works.
    let lock = std::fs::read_to_string(c.dir.join("skip-true.lock")).unwrap();
    assert!(!lock.contains("gone"), "{lock}");
    ok(&c.run(&["-q", "fetch", "skip-true.toml"]));
}

#[test]
fn proxy_with_credentials_and_proxy_none_apply_to_metadata_and_packages() {
    let Some(c) = Case::new() else { return };
    // The repository's host does not resolve: only the proxy (the test server, serving the
    // folder for any host) reaches it.
    let proxy = Server::serve_dir(&c.dir.join("repo"));
    let text = std::fs::read_to_string(c.profile()).unwrap().replace(
        "baseurl = \"./repo/\"",
        &format!(
            "baseurl = \"http://fixture.invalid/\"\nproxy = \"{}\"\nproxy_username = \"builder\"\nproxy_password = \"s3cret\"",
            proxy.base().trim_end_matches('/')
        ),
    );
    std::fs::write(c.dir.join("proxied.toml"), text).unwrap();
    ok(&c.run(&["-q", "lock", "proxied.toml"]));
    ok(&c.run(&["-q", "fetch", "proxied.toml"]));
    let target = "http://fixture.invalid/repodata/repomd.xml";
    assert!(proxy.hits(target) >= 1);
    assert!(proxy.rpm_hits() >= 10, "{}", proxy.rpm_hits());
    // base64("builder:s3cret")
    assert_eq!(
        proxy.header(target, "proxy-authorization").as_deref(),
        Some("Basic YnVpbGRlcjpzM2NyZXQ=")
    );
    let check = String::from_utf8_lossy(
        &c.run(&["profile", "check", "--json", "proxied.toml"])
            .stdout,
    )
    .into_owned();
    assert!(
        !check.contains("s3cret"),
        "the password is printed:\n{check}"
    );

    // `proxy = _none_`: the environment's proxy (nothing listens there) is ignored.
    let direct = Server::serve_dir(&c.dir.join("repo"));
    let text = std::fs::read_to_string(c.profile()).unwrap().replace(
        "baseurl = \"./repo/\"",
        &format!("baseurl = \"{}\"\nproxy = \"_none_\"", direct.base()),
    );
    std::fs::write(c.dir.join("direct.toml"), text).unwrap();
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    for (args, what) in [(["-q", "lock"], "lock"), (["-q", "fetch"], "fetch")] {
        let mut cmd = c.cmd(&args);
        cmd.arg("direct.toml")
            .env("DISKLESS_CACHE_DIR", c.dir.join("cache-direct"))
            .env("http_proxy", &nowhere)
            .env("HTTP_PROXY", &nowhere)
            .env("all_proxy", &nowhere)
            .env_remove("no_proxy")
            .env_remove("NO_PROXY");
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(direct.rpm_hits() >= 10);
}

// ---------------------------------------------------------------------------------------
// Logs.

#[test]
fn a_warning_in_a_redirected_log_has_no_colour_codes() {
    let Some(c) = Case::new() else { return };
    // `fetch` warns that the fixture repository's signatures are off.
    let plain = c.run(&["fetch", "fixture.toml"]);
    let text = ok(&plain);
    assert!(text.contains("WARN"), "{text}");
    assert!(!text.contains('\x1b'), "colour codes on a pipe:\n{text:?}");
    let forced = ok(&c.run(&["fetch", "fixture.toml", "--color", "always"]));
    assert!(forced.contains("\x1b["), "{forced:?}");
    let never = ok(&c.run(&["fetch", "fixture.toml", "--color", "never"]));
    assert!(!never.contains('\x1b'), "{never:?}");
}
