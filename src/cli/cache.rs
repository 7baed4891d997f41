//! `diskless cache`.

use super::GlobalArgs;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove cached packages that none of the given locks reference
    Gc {
        /// Lockfiles (or profiles, whose `<profile>.lock` is used) to keep
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
        CacheCommand::Gc { .. } => anyhow::bail!("`diskless cache gc` is not implemented yet"),
    }
}
