//! `diskless repoquery`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RepoqueryArgs {
    /// The profile whose repositories to query
    pub profile: PathBuf,
    /// Package names or globs (all packages when none)
    pub names: Vec<String>,
    /// Packages that provide this capability (a name, a file path, or `name op version`)
    #[arg(long, value_name = "CAP")]
    pub whatprovides: Option<String>,
    /// Print JSON instead of lines
    #[arg(long)]
    pub json: bool,
    /// Show packages of non-default module streams too (like dnf's --disable-modular-filtering)
    #[arg(long)]
    pub disable_modular_filtering: bool,
}

pub fn run(_args: RepoqueryArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless repoquery` is not implemented yet")
}
