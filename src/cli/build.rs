//! `diskless build`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The profile to build
    pub profile: PathBuf,
    /// Output directory (written to a temporary sibling and renamed when complete)
    #[arg(short, long, default_value = "out")]
    pub out: PathBuf,
    /// Parallel downloads
    #[arg(short, long, default_value_t = 8)]
    pub jobs: usize,
    /// Stop after this stage (`rootfs` writes the tree listing)
    #[arg(long)]
    pub stage: Option<String>,
}

pub fn run(_args: BuildArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless build` is not implemented yet")
}
