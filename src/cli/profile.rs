//! `diskless profile check`.

use super::GlobalArgs;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Parse and validate a profile and the .repo files it names
    Check {
        profile: PathBuf,
        /// Print the resolved profile as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(_cmd: ProfileCommand, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless profile check` is not implemented yet")
}
