//! `diskless repoquery` against dnf as the oracle, on the CentOS Stream 9 fixtures.

use crate::support::repo::{cs9, file_url, options};
use diskless::net::Remote;
use diskless::repo::modules::ModuleSelection;
use diskless::repo::query::{self, Query};
use diskless::repo::{self, Pool, PoolOptions};
use std::path::Path;
use std::process::Command;

const DNF: &str = "/usr/bin/dnf";

/// dnf is the oracle: without it the comparison can't run. Outside CI that is a skip
/// (said so); in CI it is a failure.
fn have_dnf() -> bool {
    if Path::new(DNF).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{DNF} is missing; ci/setup.sh installs it"
    );
    eprintln!("skipped: {DNF} is not installed (apt-get install dnf)");
    false
}

/// A throwaway dnf setup over the two CS9 fixture repositories.
struct Dnf {
    dir: tempfile::TempDir,
    baseos: String,
    appstream: String,
}

impl Dnf {
    fn new(fx: &Path) -> Dnf {
        let (b, a) = cs9(fx);
        Dnf {
            dir: tempfile::tempdir().unwrap(),
            baseos: file_url(&b),
            appstream: file_url(&a),
        }
    }

    fn run(&self, args: &[&str]) -> Vec<String> {
        let root = self.dir.path().join("root");
        let out = Command::new(DNF)
            .args([
                "-q",
                "-y",
                "--releasever=9",
                "--forcearch=x86_64",
                "--disablerepo=*",
            ])
            .arg(format!("--installroot={}", root.display()))
            .arg(format!(
                "--setopt=cachedir={}",
                self.dir.path().join("cache").display()
            ))
            .args([
                "--setopt=reposdir=/dev/null",
                "--setopt=module_platform_id=platform:el9",
            ])
            .arg(format!("--repofrompath=baseos,{}", self.baseos))
            .arg(format!("--repofrompath=appstream,{}", self.appstream))
            .args(["--enablerepo=baseos", "--enablerepo=appstream"])
            .args(args)
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dnf {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }
}

fn sources(fx: &Path) -> Vec<Remote> {
    let (b, a) = cs9(fx);
    vec![
        Remote::new("baseos", file_url(&b)),
        Remote::new("appstream", file_url(&a)),
    ]
}

fn pool(fx: &Path, cache: &Path, opts: &PoolOptions) -> Pool {
    let repos = sources(fx)
        .iter()
        .map(|s| repo::load(s, &options(cache)).unwrap())
        .collect();
    Pool::new(repos, opts)
}

fn ours(pool: &Pool, specs: &[&str], whatprovides: &[&str]) -> Vec<String> {
    let q = Query {
        specs: specs.iter().map(|s| s.to_string()).collect(),
        whatprovides: whatprovides.iter().map(|s| s.to_string()).collect(),
    };
    let ids = query::run(pool, &q).unwrap();
    query::nevra_lines(pool, &ids)
}

fn assert_same(what: &str, dnf: &[String], ours: &[String]) {
    if dnf != ours {
        let only_dnf: Vec<_> = dnf.iter().filter(|l| !ours.contains(l)).take(10).collect();
        let only_ours: Vec<_> = ours.iter().filter(|l| !dnf.contains(l)).take(10).collect();
        panic!(
            "{what}: dnf {} lines, ours {}\nonly dnf: {only_dnf:#?}\nonly ours: {only_ours:#?}",
            dnf.len(),
            ours.len()
        );
    }
}

#[test]
fn repoquery_matches_dnf_without_modular_filtering() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    if !have_dnf() {
        return;
    }
    let dnf = Dnf::new(&fx);
    let cache = tempfile::tempdir().unwrap();
    let pool = pool(&fx, cache.path(), &PoolOptions::default());
    let flag = "--disable-modular-filtering";
    let all = dnf.run(&["repoquery", flag]);
    assert!(all.len() > 18000, "{}", all.len());
    assert_same("all packages", &all, &ours(&pool, &[], &[]));
    assert_same(
        "/bin/sh",
        &dnf.run(&["repoquery", flag, "--whatprovides", "/bin/sh"]),
        &ours(&pool, &[], &["/bin/sh"]),
    );
    let libc = "libc.so.6()(64bit)";
    assert_same(
        libc,
        &dnf.run(&["repoquery", flag, "--whatprovides", libc]),
        &ours(&pool, &[], &[libc]),
    );
    let ge = "glibc >= 2.34";
    assert_same(
        ge,
        &dnf.run(&["repoquery", flag, "--whatprovides", ge]),
        &ours(&pool, &[], &[ge]),
    );
    assert_same(
        "names",
        &dnf.run(&[
            "repoquery",
            flag,
            "bash",
            "python3*",
            "NodeJS",
            "glibc.i686",
            "kernel-5.14.0",
        ]),
        &ours(
            &pool,
            &["bash", "python3*", "NodeJS", "glibc.i686", "kernel-5.14.0"],
            &[],
        ),
    );
}

#[test]
fn repoquery_matches_dnf_with_modular_filtering() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    if !have_dnf() {
        return;
    }
    let dnf = Dnf::new(&fx);
    let cache = tempfile::tempdir().unwrap();
    let filtering = |enabled: &[(&str, &str)]| PoolOptions {
        modular_filtering: true,
        modules: ModuleSelection {
            enabled: enabled
                .iter()
                .map(|(m, s)| (m.to_string(), s.to_string()))
                .collect(),
            platform: Some("el9".into()),
        },
    };
    let pool_default = pool(&fx, cache.path(), &filtering(&[]));
    assert!(pool_default.hidden_by_modules() > 0);
    assert_same(
        "filtered",
        &dnf.run(&["repoquery"]),
        &ours(&pool_default, &[], &[]),
    );
    assert_same(
        "/bin/sh",
        &dnf.run(&["repoquery", "--whatprovides", "/bin/sh"]),
        &ours(&pool_default, &[], &["/bin/sh"]),
    );
    let libc = "libc.so.6()(64bit)";
    assert_same(
        libc,
        &dnf.run(&["repoquery", "--whatprovides", libc]),
        &ours(&pool_default, &[], &[libc]),
    );
    // Enabling a stream (as a profile can) shows its packages and hides the non-modular
    // packages of the same names, as `dnf module enable` does.
    dnf.run(&["module", "enable", "nodejs:20"]);
    let pool_nodejs = pool(&fx, cache.path(), &filtering(&[("nodejs", "20")]));
    let enabled = dnf.run(&["repoquery"]);
    assert!(enabled.iter().any(|l| l.starts_with("nodejs-1:20.")));
    assert_same("nodejs:20 enabled", &enabled, &ours(&pool_nodejs, &[], &[]));
}

/// A profile over the CS9 fixture repositories, written into `dir`.
fn cs9_profile(fx: &Path, dir: &Path) -> std::path::PathBuf {
    let (b, a) = cs9(fx);
    let text = format!(
        r#"[image]
name = "cs9"
arch = "x86_64"
releasever = "9"

[[repo]]
id = "baseos"
baseurl = "{}"
gpgcheck = false

[[repo]]
id = "appstream"
baseurl = "{}"
gpgcheck = false

[packages]
install = ["bash"]
"#,
        file_url(&b),
        file_url(&a)
    );
    let path = dir.join("cs9.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn diskless(cache: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::cargo::cargo_bin_cmd!("diskless");
    c.env("DISKLESS_CACHE_DIR", cache).env_remove("RUST_LOG");
    c
}

fn stdout_lines(out: &std::process::Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn cli_repoquery_answers_like_dnf() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    if !have_dnf() {
        return;
    }
    let dnf = Dnf::new(&fx);
    let t = tempfile::tempdir().unwrap();
    let profile = cs9_profile(&fx, t.path());
    let run = |args: &[&str]| {
        stdout_lines(
            &diskless(t.path())
                .arg("repoquery")
                .arg(&profile)
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let flag = "--disable-modular-filtering";
    assert_same("cli: all", &dnf.run(&["repoquery", flag]), &run(&[flag]));
    assert_same("cli: filtered", &dnf.run(&["repoquery"]), &run(&[]));
    for cap in ["/bin/sh", "libc.so.6()(64bit)"] {
        let want = dnf.run(&["repoquery", "--whatprovides", cap]);
        assert!(!want.is_empty());
        assert_same(cap, &want, &run(&["--whatprovides", cap]));
    }
}

#[test]
fn cli_repoquery_json_has_repo_and_location() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let profile = cs9_profile(&fx, t.path());
    let out = diskless(t.path())
        .arg("repoquery")
        .arg(&profile)
        .args(["--json", "bash", "glibc.x86_64"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recs = v.as_array().unwrap();
    let names: Vec<&str> = recs.iter().map(|r| r["nevra"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["bash-0:5.1.8-2.el9.x86_64", "glibc-0:2.34-21.el9.x86_64"]
    );
    assert_eq!(recs[0]["repo"], "baseos");
    assert_eq!(recs[0]["location"], "Packages/bash-5.1.8-2.el9.x86_64.rpm");
    let url = recs[0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("file://") && url.ends_with("/baseos/Packages/bash-5.1.8-2.el9.x86_64.rpm"),
        "{url}"
    );
    assert!(recs[0]["checksum"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn cli_repoquery_broken_repository_error_and_hint() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("repo");
    crate::support::repo::make_repo(&dir, "gz");
    let md =
        diskless::repo::Repomd::parse(&std::fs::read(dir.join("repodata/repomd.xml")).unwrap())
            .unwrap();
    let primary = dir.join(&md.record("primary").unwrap().href);
    let mut bytes = std::fs::read(&primary).unwrap();
    bytes.push(0);
    std::fs::write(&primary, bytes).unwrap();
    let profile = t.path().join("p.toml");
    std::fs::write(
        &profile,
        format!(
            "[image]\nname = \"x\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n[[repo]]\nid = \"local\"\nbaseurl = \"{}\"\ngpgcheck = false\n\n[packages]\ninstall = [\"foo\"]\n",
            file_url(&dir)
        ),
    )
    .unwrap();
    let out = diskless(&t.path().join("cache"))
        .arg("repoquery")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let tmp = t.path().display().to_string();
    insta::with_settings!({filters => vec![
        (tmp.as_str(), "[TMP]"),
        (r"[0-9a-f]{64}", "[SHA256]"),
    ]}, {
        insta::assert_snapshot!("cli_checksum_mismatch", stderr);
    });
}
