//! `diskless why`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The profile whose lock to explain
    pub profile: PathBuf,
    /// The package name
    pub name: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: WhyArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless why` is not implemented yet")
}
