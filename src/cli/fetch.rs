//! `diskless fetch`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The profile whose lock to fetch
    pub profile: PathBuf,
    /// Parallel downloads
    #[arg(short, long, default_value_t = 8)]
    pub jobs: usize,
}

pub fn run(_args: FetchArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless fetch` is not implemented yet")
}
