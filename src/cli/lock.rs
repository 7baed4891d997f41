//! `diskless lock`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The profile to resolve
    pub profile: PathBuf,
    /// Exit non-zero if the lock is missing or stale instead of writing it
    #[arg(long, conflicts_with = "update")]
    pub check: bool,
    /// Move only these packages (and what must move with them)
    #[arg(long, value_name = "NAME")]
    pub update: Vec<String>,
    /// Print the resolution as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: LockArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless lock` is not implemented yet")
}
