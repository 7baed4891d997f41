//! The solver on real metadata: CentOS Stream 9 BaseOS + AppStream from the shared
//! fixtures, with the default profile's package list. Prints the set (for comparison
//! with `dnf-resolve.py`) and the time; the independent checks are in `tests/it`.

use super::*;
use crate::net::Remote;
use crate::repo::pool::{Pool, PoolOptions};
use crate::repo::{self, LoadOptions};

const DEFAULT_LIST: &[&str] = &[
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
    "NetworkManager",
];

fn cs9_pool() -> Option<Pool> {
    let fx = std::path::PathBuf::from(std::env::var_os("DISKLESS_FIXTURES")?);
    let cache = tempfile::tempdir().expect("tempdir");
    let opts = LoadOptions {
        cache_dir: cache.path().to_path_buf(),
        offline: false,
    };
    let mut repos = Vec::new();
    for (id, rel) in [
        (
            "baseos",
            "osbuild-cs9-baseos-2022snap/test/data/testrepos/baseos",
        ),
        (
            "appstream",
            "osbuild-cs9-appstream/test/data/testrepos/appstream",
        ),
    ] {
        let url = format!("file://{}", fx.join(rel).display());
        repos.push(repo::load(&Remote::new(id, url), &opts).expect("load"));
    }
    Some(Pool::new(
        repos,
        &PoolOptions {
            modular_filtering: true,
            ..PoolOptions::default()
        },
    ))
}

/// Counts and times the lazy file-list lookups, to tell the solver's time from the
/// file lists' (the fixture AppStream's filelists.xml is a broken stub, so every lookup
/// may retry loading it).
struct Timed<'a> {
    inner: &'a Pool,
    calls: std::cell::Cell<usize>,
    time: std::cell::Cell<std::time::Duration>,
}

impl FileProviders for Timed<'_> {
    fn providers(&self, path: &str) -> Vec<PkgId> {
        let t = std::time::Instant::now();
        let v = self.inner.providers(path);
        self.calls.set(self.calls.get() + 1);
        self.time.set(self.time.get() + t.elapsed());
        v
    }
}

#[test]
fn cs9_default_profile_resolves() {
    let Some(pool) = cs9_pool() else { return };
    let r = Request {
        install: DEFAULT_LIST.iter().map(|s| s.to_string()).collect(),
        arch: "x86_64".into(),
        install_only: vec![
            "kernel".into(),
            "kernel-core".into(),
            "kernel-modules".into(),
            "installonlypkg(kernel)".into(),
        ],
        ..Request::default()
    };
    let timed = Timed {
        inner: &pool,
        calls: Default::default(),
        time: Default::default(),
    };
    let t = std::time::Instant::now();
    let sol = solve(pool.packages(), &timed, &r).unwrap_or_else(|e| panic!("{e}"));
    let took = t.elapsed();
    eprintln!(
        "file list lookups: {} taking {:?}",
        timed.calls.get(),
        timed.time.get()
    );
    let mut out = String::new();
    for &i in &sol.packages {
        out.push_str(&pool.packages()[i].nevra_full_epoch());
        out.push('\n');
    }
    if let Some(path) = std::env::var_os("DISKLESS_SOLVE_OUT") {
        fs_err::write(path, &out).expect("write");
    }
    eprintln!("{} packages in {took:?}", sol.packages.len());
    assert!(sol.packages.len() > 100);
    // Same answer again (file lists are loaded by now: this one times the solver alone).
    let t = std::time::Instant::now();
    let again = solve(pool.packages(), &pool, &r).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("again in {:?}", t.elapsed());
    assert_eq!(again.packages, sol.packages);
    let mut weak = r.clone();
    weak.weak_deps = true;
    let t = std::time::Instant::now();
    let w = solve(pool.packages(), &pool, &weak).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "weak deps: {} packages in {:?}",
        w.packages.len(),
        t.elapsed()
    );
    if let Some(path) = std::env::var_os("DISKLESS_SOLVE_OUT_WEAK") {
        let out: String = w
            .packages
            .iter()
            .map(|&i| pool.packages()[i].nevra_full_epoch() + "\n")
            .collect();
        fs_err::write(path, out).expect("write");
    }
}
