//! Shared test helpers, each written once: the test RPM builder ([`rpm`]), the HTTP server
//! with fault injection ([`http`]), OpenPGP keys ([`keys`]), a private PKI and an mTLS server
//! ([`tls`]), repositories ([`repo`]), child processes and ports ([`proc`]), assembled trees
//! written to disk for the real tools ([`tree`]), and the small
//! helpers below. `rpm`, `http`, `proc` and `repo` are also compiled into the boot tests
//! (tests/boot/support.rs includes their files), so they refer to nothing outside themselves
//! but each other.

pub mod http;
pub mod keys;
pub mod proc;
pub mod repo;
pub mod rpm;
pub mod tls;
pub mod tree;

use std::path::{Path, PathBuf};

/// The shared fixtures folder (`DISKLESS_FIXTURES`). `None` when unset and not in CI:
/// tests that need it then skip (printing why); in CI (`CI` set) a missing folder fails.
pub fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("DISKLESS_FIXTURES") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_dir(),
                "DISKLESS_FIXTURES={} is not a directory",
                p.display()
            );
            Some(p)
        }
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "DISKLESS_FIXTURES must be set in CI (.ci/run sets it)"
            );
            eprintln!("skipped: DISKLESS_FIXTURES is not set");
            None
        }
    }
}

/// `let Some(fx) = fixtures_or_skip!() else { return };`
#[macro_export]
macro_rules! fixtures_or_skip {
    () => {
        $crate::support::fixtures()
    };
}

/// Deterministic incompressible bytes.
pub fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = seed.bytes().fold(0x9e3779b97f4a7c15, |a, b| {
        (a ^ b as u64).wrapping_mul(0x100000001b3)
    });
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every regular file under `dir` (cache entries, aliases, left-over temp files), sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// An error and its sources on one string, each source after `sep` (`" | "` for one line,
/// `"\nCaused by: "` as the CLI prints them).
pub fn error_chain(e: &dyn std::error::Error, sep: &str) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(sep);
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// `s` as a regex matching itself (for insta filters on temporary paths).
pub fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}
