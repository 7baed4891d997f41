//! `diskless verify`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The build output directory
    pub out: PathBuf,
    /// The SHA256SUMS to check against (default: OUT/SHA256SUMS)
    #[arg(long)]
    pub sums: Option<PathBuf>,
}

pub fn run(_args: VerifyArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless verify` is not implemented yet")
}
