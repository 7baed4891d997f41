//! Benchmark driver (an example binary, not part of the product): resolve package specs
//! against repositories with the library (`repo::load` + `solve::solve`), the way
//! `recipes/dnf-resolve.py` does with dnf, and with the same command line and output, so
//! `bench/resolve.sh` can time both on the same metadata and diff their answers.
//!
//! usage: resolve REPO_URL[,REPO_URL...] SPEC...
//! stdout: `name-E:V-R.arch  repoid  location` per package, sorted (dnf-resolve.py's format);
//! stderr: one `timing: load_ms=.. solve_ms=.. total_ms=.. packages=.. chosen=..` line.
//! Repositories are named r0, r1, ... in order, with dnf's default priority and cost.

use diskless::net::Remote;
use diskless::repo::{self, LoadOptions, Pool, PoolOptions};
use diskless::solve::{self, Request};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    // Warnings (e.g. unreadable filelists) on stderr; RUST_LOG=info for more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((urls, specs)) = args.split_first() else {
        eprintln!("usage: resolve REPO_URL[,REPO_URL...] SPEC...");
        return ExitCode::from(2);
    };
    let cache = match tempfile::tempdir() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = LoadOptions {
        cache_dir: cache.path().to_path_buf(),
        offline: false,
    };
    let start = Instant::now();
    let sources: Vec<Remote> = urls
        .split(',')
        .enumerate()
        .map(|(i, url)| Remote::new(format!("r{i}"), url))
        .collect();
    let mut repos = Vec::new();
    for r in repo::load_all(&sources, &opts) {
        match r {
            Ok(r) => repos.push(r),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let pool = Pool::new(
        repos,
        &PoolOptions {
            modular_filtering: true,
            ..Default::default()
        },
    );
    let loaded = start.elapsed();
    let req = Request {
        install: specs.to_vec(),
        arch: "x86_64".into(),
        install_only: [
            "kernel",
            "kernel-core",
            "kernel-modules",
            "kernel-modules-core",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..Default::default()
    };
    let t = Instant::now();
    let result = solve::solve(pool.packages(), &pool, &req);
    let solved = t.elapsed();
    let total = start.elapsed();
    let chosen = result.as_ref().map(|s| s.packages.len()).unwrap_or(0);
    eprintln!(
        "timing: load_ms={} solve_ms={} total_ms={} packages={} chosen={chosen}",
        loaded.as_millis(),
        solved.as_millis(),
        total.as_millis(),
        pool.packages().len()
    );
    let code = match result {
        Ok(sol) => {
            let mut lines: Vec<String> = sol
                .packages
                .iter()
                .map(|&i| {
                    let p = pool.package(i);
                    format!("{}  {}  {}", p.nevra_full_epoch(), p.repo, p.location)
                })
                .collect();
            lines.sort();
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("UNSOLVABLE: {e}");
            ExitCode::from(1)
        }
    };
    // Like a CLI about to exit, leave the ~1.5 million small allocations of the pool to
    // the OS instead of freeing them one by one (glibc spends 0.1 s on that for CS9);
    // `KEEP_TEARDOWN=1` frees them, to see that cost.
    if std::env::var_os("KEEP_TEARDOWN").is_some() {
        drop(pool);
    } else {
        std::mem::forget(pool);
    }
    drop(cache);
    code
}
