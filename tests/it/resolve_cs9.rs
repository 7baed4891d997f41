//! CentOS Stream 9 BaseOS + AppStream (fixture metadata): the default profile's package list
//! and the boot set (`syslinux-tftpboot`) resolved by `diskless::solve`, then
//! - checked by the independent checker (`libsolv/check.rs`: its own rpmvercmp, range
//!   matching and rich-dependency evaluator): every Requires of every chosen package is met
//!   inside the set, no Conflicts or Obsoletes between members, one version per name except
//!   install-only ones. File requirements not in primary.xml's file subset are answered
//!   from the full filelists that `repo::Pool` loads (repository data, not solver code);
//! - compared with dnf on the same metadata (`recipes/dnf-resolve.py`, Debian's dnf and
//!   libsolv): the NEVRA sets must be equal, differences are printed;
//! - solved 10 times: the same packages and the same reasons every time.

use crate::libsolv::check;
use crate::support::repo::{cs9, file_url, options};
use diskless::net::Remote;
use diskless::package::Package;
use diskless::repo::{self, Pool, PoolOptions};
use diskless::solve::{self, Request, Solution};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The default profile's `packages` (profiles/default.toml).
pub const DEFAULT_SET: &[&str] = &[
    "basesystem",
    "filesystem",
    "bash",
    "kernel",
    "passwd",
    "dhcp-client",
    "openssh-server",
    "openssh-clients",
    "nfs-utils",
    "cronie-anacron",
    "vim-minimal",
];
pub const BOOT_SET: &[&str] = &["syslinux-tftpboot"];

/// dnf's default `installonlypkgs` names that exist on EL9.
const INSTALL_ONLY: &[&str] = &[
    "kernel",
    "kernel-core",
    "kernel-modules",
    "kernel-modules-core",
];

/// Differences from dnf that are understood, as (NEVRA, explanation). Keep empty unless a
/// difference is explained (and the explanation is also in the report).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

pub fn repo_dirs(fx: &Path) -> [(&'static str, PathBuf); 2] {
    let (baseos, appstream) = cs9(fx);
    [("baseos", baseos), ("appstream", appstream)]
}

/// Load both repositories into one pool, with dnf's modular filtering.
pub fn load_pool(fx: &Path, cache: &Path) -> Pool {
    let opts = options(cache);
    let repos = repo_dirs(fx)
        .iter()
        .map(|(id, dir)| repo::load(&Remote::new(*id, file_url(dir)), &opts).unwrap())
        .collect();
    Pool::new(
        repos,
        &PoolOptions {
            modular_filtering: true,
            ..Default::default()
        },
    )
}

pub fn request(install: &[&str]) -> Request {
    Request {
        install: install.iter().map(|s| s.to_string()).collect(),
        arch: "x86_64".into(),
        install_only: INSTALL_ONLY.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// What dnf installs into an empty root for `specs` on the same repositories
/// (`name-[E:]V-R.arch` as Package::nevra prints it).
pub fn dnf_resolve(fx: &Path, specs: &[&str]) -> Result<BTreeSet<String>, String> {
    let urls: Vec<String> = repo_dirs(fx).iter().map(|(_, d)| file_url(d)).collect();
    let out = Command::new("/usr/bin/python3")
        .arg(fx.parent().unwrap().join("recipes/dnf-resolve.py"))
        .arg(urls.join(","))
        .args(specs)
        .output()
        .map_err(|e| format!("cannot run dnf-resolve.py: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|n| {
            // name-E:V-R.arch; drop a zero epoch as Package::nevra does.
            let (name, rest) = n.split_once(':').unwrap_or((n, ""));
            let (name, epoch) = name.rsplit_once('-').unwrap();
            if epoch == "0" {
                format!("{name}-{rest}")
            } else {
                format!("{name}-{epoch}:{rest}")
            }
        })
        .collect())
}

fn nevras(pool: &Pool, sol: &Solution) -> Vec<String> {
    sol.packages
        .iter()
        .map(|&i| pool.packages()[i].nevra())
        .collect()
}

/// Solve, check, compare with dnf, and solve 9 more times for determinism.
fn resolve_and_verify(fx: &Path, pool: &Pool, specs: &[&str]) -> Vec<String> {
    let req = request(specs);
    let t = std::time::Instant::now();
    let sol =
        solve::solve(pool.packages(), pool, &req).unwrap_or_else(|e| panic!("{specs:?}: {e}"));
    println!(
        "{specs:?}: {} packages in {:?}",
        sol.packages.len(),
        t.elapsed()
    );
    let mut problems = Vec::new();

    // 1. The independent checker.
    let set: Vec<&Package> = sol.packages.iter().map(|&i| &pool.packages()[i]).collect();
    let owners = |path: &str| -> Vec<String> {
        pool.file_owners(path)
            .unwrap()
            .iter()
            .map(|&i| pool.packages()[i].nevra())
            .collect()
    };
    let rep = check::check_set(&set, INSTALL_ONLY, &owners);
    println!(
        "checker: {} requires checked, {} rich evaluated, {} rich unparsed, {} rpmlib() skipped",
        rep.checked, rep.rich_evaluated, rep.rich_unparsed, rep.rpmlib_skipped
    );
    for (what, list) in [
        ("unsatisfied", &rep.unsatisfied),
        ("conflict", &rep.conflicts),
        ("obsoleted", &rep.obsoleted),
        ("duplicate", &rep.duplicates),
    ] {
        for x in list {
            problems.push(format!("checker: {what}: {x}"));
        }
    }
    if rep.rich_unparsed > 0 {
        problems.push(format!(
            "checker: {} rich dependencies did not parse",
            rep.rich_unparsed
        ));
    }
    // The checker is not vacuous here: without glibc the set must fall apart.
    if let Some(g) = set.iter().position(|p| p.name == "glibc") {
        let mut short = set.clone();
        short.remove(g);
        if check::check_set(&short, INSTALL_ONLY, &owners)
            .unsatisfied
            .is_empty()
        {
            problems.push("checker: removing glibc went unnoticed".into());
        }
    }
    // Every requested name is in.
    for s in specs {
        if !set.iter().any(|p| p.name == *s) {
            problems.push(format!("requested `{s}` is not in the set"));
        }
    }

    // 2. dnf on the same metadata.
    let ours: BTreeSet<String> = nevras(pool, &sol).into_iter().collect();
    match dnf_resolve(fx, specs) {
        Ok(dnf) => {
            for n in dnf.difference(&ours) {
                let known = KNOWN_DIFFERENCES.iter().find(|(k, _)| k == n);
                println!(
                    "only dnf: {n}{}",
                    known
                        .map(|(_, w)| format!(" (known: {w})"))
                        .unwrap_or_default()
                );
                if known.is_none() {
                    problems.push(format!("dnf installs {n}, diskless does not"));
                }
            }
            for n in ours.difference(&dnf) {
                let known = KNOWN_DIFFERENCES.iter().find(|(k, _)| k == n);
                println!(
                    "only diskless: {n}{}",
                    known
                        .map(|(_, w)| format!(" (known: {w})"))
                        .unwrap_or_default()
                );
                if known.is_none() {
                    problems.push(format!("diskless installs {n}, dnf does not"));
                }
            }
            println!(
                "dnf: {} packages, diskless: {}, common: {}",
                dnf.len(),
                ours.len(),
                dnf.intersection(&ours).count()
            );
        }
        Err(e) => problems.push(format!("dnf-resolve.py failed: {e}")),
    }

    // 3. Determinism: 10 runs, same packages and reasons.
    for run in 2..=10 {
        let again = solve::solve(pool.packages(), pool, &req).unwrap();
        if again.packages != sol.packages || again.reasons != sol.reasons {
            problems.push(format!("run {run} gave a different solution"));
        }
    }
    problems
}

#[test]
fn cs9_default_and_boot_sets_check_out_and_match_dnf() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let pool = load_pool(&fx, cache.path());
    let mut problems = Vec::new();
    for (label, specs) in [("default profile", DEFAULT_SET), ("boot set", BOOT_SET)] {
        println!("\n== {label}");
        for p in resolve_and_verify(&fx, &pool, specs) {
            println!("PROBLEM: {p}");
            problems.push(format!("{label}: {p}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
