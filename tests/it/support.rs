//! Shared test helpers.

use std::path::PathBuf;

/// The shared fixtures folder (`DISKLESS_FIXTURES`). `None` when unset and not in CI:
/// tests that need it then skip (printing why); in CI (`CI` set) a missing folder fails.
#[allow(dead_code)]
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

/// Whether the tests run as root (the rpm oracles install into temporary roots).
#[allow(dead_code)]
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
