//! `diskless diff`.

use super::GlobalArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First build (out dir, initramfs file or OCI layout)
    pub a: PathBuf,
    /// Second build
    pub b: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: DiffArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`diskless diff` is not implemented yet")
}
