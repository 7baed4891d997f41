//! `diskless cache`: where the cache is, and garbage collection of packages no lock uses.

use super::GlobalArgs;
use anyhow::Context;
use clap::Subcommand;
use diskless::fetch::Cache;
use diskless::lock::{self, Lockfile};
use diskless::plan::inputs;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove cached packages that none of the given locks reference
    Gc {
        /// Lockfiles (or profiles, whose `<profile>.lock` is used) to keep
        #[arg(required = true)]
        locks: Vec<PathBuf>,
    },
    /// Print the cache directory
    Dir,
}

pub fn run(cmd: CacheCommand, g: &GlobalArgs) -> anyhow::Result<()> {
    match cmd {
        CacheCommand::Dir => {
            println!("{}", g.cache_dir().display());
            Ok(())
        }
        CacheCommand::Gc { locks } => gc(&locks, g),
    }
}

/// A lockfile argument: `x.lock` as is, anything else as a profile whose lock sits next to it.
fn lock_path(arg: &Path) -> PathBuf {
    if arg.extension().is_some_and(|e| e == "lock") {
        arg.to_path_buf()
    } else {
        lock::path_for_profile(arg)
    }
}

fn gc(locks: &[PathBuf], g: &GlobalArgs) -> anyhow::Result<()> {
    let cache = Cache::new(&g.cache_dir());
    let mut keep = BTreeSet::new();
    for arg in locks {
        let path = lock_path(arg);
        // A lock that cannot be read must stop the gc: its packages would be deleted.
        let lock = Lockfile::read(&path)
            .with_context(|| format!("Cannot read the lock `{}`", path.display()))?;
        keep.extend(inputs::cache_keep(&cache, &lock)?);
    }
    let stats = cache.gc(&keep)?;
    if g.quiet == 0 {
        eprintln!(
            "Removed {} file{} ({}) from `{}`; kept what {} lock{} reference{}",
            stats.files,
            if stats.files == 1 { "" } else { "s" },
            super::fetch::human_bytes(stats.bytes),
            cache.root().display(),
            locks.len(),
            if locks.len() == 1 { "" } else { "s" },
            if locks.len() == 1 { "s" } else { "" },
        );
    }
    Ok(())
}
