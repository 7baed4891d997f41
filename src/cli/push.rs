//! `diskless push`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The build output directory holding the OCI layout
    pub out: PathBuf,
    /// The reference to push to (registry/name:tag)
    pub reference: String,
}

pub fn run(_args: PushArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless push` is not implemented yet")
}
