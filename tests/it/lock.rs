//! `diskless lock`, `lock --check`, `lock --update` and `why`, on real RPMs indexed by
//! createrepo_c, and the default package list on the CentOS Stream 9 fixture metadata.

use crate::support::repo::createrepo;
use crate::support::rpm::{Entry, Rpm};
use assert_cmd::Command;
use std::path::Path;

fn rpm(dir: &Path, name: &str, version: &str, requires: &[rpm::Dependency]) {
    let mut r = Rpm::new(name, version).entry(Entry::file(
        format!("/usr/share/{name}/VERSION"),
        format!("{name} {version}\n"),
    ));
    for d in requires {
        r = r.requires(d.clone());
    }
    r.write_in(&dir.join("Packages")).unwrap();
}

fn profile(dir: &Path, repo: &Path, install: &[&str]) -> std::path::PathBuf {
    let p = dir.join("p.toml");
    let list = install
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        &p,
        format!(
            "[image]\nname = \"t\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n[[repo]]\nid = \"local\"\nbaseurl = \"file://{}/\"\ngpgcheck = false\n\n[packages]\ninstall = [{list}]\n",
            repo.display()
        ),
    )
    .unwrap();
    p
}

fn diskless(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("diskless").unwrap();
    c.env("DISKLESS_CACHE_DIR", dir.join("cache"))
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

fn locked(lock: &Path) -> Vec<String> {
    let l = diskless::lock::Lockfile::read(lock).unwrap();
    l.packages.iter().map(|p| p.nevra()).collect()
}

#[test]
fn lock_check_update_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    // app requires lib; lib requires base.
    rpm(&repo, "base", "1.0", &[]);
    rpm(&repo, "lib", "1.0", &[rpm::Dependency::any("base")]);
    rpm(
        &repo,
        "app",
        "1.0",
        &[rpm::Dependency::greater_eq("lib", "1.0")],
    );
    createrepo(&repo, &[]).unwrap();
    let prof = profile(tmp.path(), &repo, &["app"]);
    let lock = tmp.path().join("p.lock");

    diskless(tmp.path())
        .arg("lock")
        .arg(&prof)
        .assert()
        .success();
    assert_eq!(
        locked(&lock),
        ["app-1.0-1.noarch", "base-1.0-1.noarch", "lib-1.0-1.noarch"]
    );
    diskless(tmp.path())
        .args(["lock", "--check"])
        .arg(&prof)
        .assert()
        .success();

    // why: the chain from base up to the request.
    let out = diskless(tmp.path())
        .arg("why")
        .arg(&prof)
        .arg("base")
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(
        lines[0].starts_with("base-1.0-1.noarch provides `base`, required by lib-1.0-1.noarch"),
        "{text}"
    );
    assert!(lines[1].contains("required by app-1.0-1.noarch"), "{text}");
    assert!(
        lines[2].contains("requested by the profile (`app`)"),
        "{text}"
    );

    // The repository moves on: new versions of all three.
    rpm(&repo, "base", "2.0", &[]);
    rpm(&repo, "lib", "2.0", &[rpm::Dependency::any("base")]);
    rpm(
        &repo,
        "app",
        "2.0",
        &[rpm::Dependency::greater_eq("lib", "1.0")],
    );
    createrepo(&repo, &[]).unwrap();
    // --update app moves app only: lib and base stay at the locked versions.
    diskless(tmp.path())
        .args(["lock", "--update", "app"])
        .arg(&prof)
        .assert()
        .success();
    assert_eq!(
        locked(&lock),
        ["app-2.0-1.noarch", "base-1.0-1.noarch", "lib-1.0-1.noarch"]
    );
    // A plain lock resolves afresh.
    diskless(tmp.path())
        .arg("lock")
        .arg(&prof)
        .assert()
        .success();
    assert_eq!(
        locked(&lock),
        ["app-2.0-1.noarch", "base-2.0-1.noarch", "lib-2.0-1.noarch"]
    );

    // The profile changes: the lock is stale, --check fails with a hint.
    let text = std::fs::read_to_string(&prof)
        .unwrap()
        .replace("[\"app\"]", "[\"app\", \"base\"]");
    std::fs::write(&prof, text).unwrap();
    let out = diskless(tmp.path())
        .args(["lock", "--check"])
        .arg(&prof)
        .assert()
        .failure();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("is stale"), "{err}");
    assert!(
        err.contains("hint: to resolve the profile and write the lock, run `diskless lock"),
        "{err}"
    );
}

#[test]
fn unsolvable_request_names_the_missing_capability() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    rpm(
        &repo,
        "bar",
        "1.0",
        &[rpm::Dependency::any("libfoo.so.1()(64bit)")],
    );
    createrepo(&repo, &[]).unwrap();
    let prof = profile(tmp.path(), &repo, &["bar"]);
    let out = diskless(tmp.path())
        .arg("lock")
        .arg(&prof)
        .assert()
        .failure()
        .code(1);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains("nothing provides libfoo.so.1()(64bit) needed by bar-1.0-1.noarch"),
        "{err}"
    );
    assert!(
        !tmp.path().join("p.lock").exists(),
        "no lock is written when resolution fails"
    );
}

/// The default profile's list on CentOS Stream 9 BaseOS + AppStream: ten resolutions give
/// the same lockfile bytes.
#[test]
fn cs9_default_list_locks_deterministically() {
    let Some(fx) = crate::support::fixtures() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("cs9.toml");
    std::fs::write(
        &p,
        format!(
            r#"[image]
name = "cs9"
arch = "x86_64"
releasever = "9"

[[repo]]
id = "baseos"
baseurl = "file://{fx}/osbuild-cs9-baseos-2022snap/test/data/testrepos/baseos/"
gpgcheck = false

[[repo]]
id = "appstream"
baseurl = "file://{fx}/osbuild-cs9-appstream/test/data/testrepos/appstream/"
gpgcheck = false

[packages]
install = ["basesystem", "filesystem", "bash", "kernel", "passwd", "dhcp-client", "openssh-server",
           "openssh-clients", "nfs-utils", "cronie-anacron", "vim-minimal"]

[boot]
packages = ["syslinux-tftpboot"]
"#,
            fx = fx.display()
        ),
    )
    .unwrap();
    let profile = diskless::profile::load(&p).unwrap();
    let opts = diskless::repo::LoadOptions {
        cache_dir: tmp.path().join("cache"),
        offline: false,
    };
    let mut first: Option<String> = None;
    let pool = diskless::plan::resolve::load_pool(&profile, &opts).unwrap();
    for _ in 0..10 {
        let r = diskless::plan::resolve::resolve_in(&profile, &pool, None, &[]).unwrap();
        let text = r.lockfile(&profile).to_toml();
        match &first {
            None => first = Some(text),
            Some(f) => assert_eq!(f, &text, "a second resolution gave different lock bytes"),
        }
    }
    let lock: diskless::lock::Lockfile = toml::from_str(first.as_deref().unwrap()).unwrap();
    let names: Vec<&str> = lock.packages.iter().map(|p| p.name.as_str()).collect();
    for n in [
        "bash",
        "kernel",
        "kernel-core",
        "openssh-server",
        "glibc",
        "systemd",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert_eq!(lock.boot_packages.len(), 1);
    assert_eq!(lock.boot_packages[0].name, "syslinux-tftpboot");
}
