//! `diskless diff A B`: compare two builds entry by entry and say what differs.

use super::GlobalArgs;
use super::hint::HintExt;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First build (out dir, initramfs file or OCI layout)
    pub a: PathBuf,
    /// Second build
    pub b: PathBuf,
    /// Print the differences as a JSON array
    #[arg(long)]
    pub json: bool,
}

/// Prints one line per difference (`artifact: entry: field differs: a != b`); exits with 1
/// when the builds differ, like diff(1).
pub fn run(args: DiffArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    for p in [&args.a, &args.b] {
        if !p.exists() {
            return Err(anyhow::anyhow!("`{}` does not exist", p.display()))
                .hint("pass two output directories, two initramfs files or two OCI layouts");
        }
    }
    let diffs = diskless::emit::diff::diff(&args.a, &args.b).with_context(|| {
        format!(
            "Cannot compare `{}` and `{}`",
            args.a.display(),
            args.b.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diffs)?);
    } else {
        for d in &diffs {
            println!("{d}");
        }
    }
    if diffs.is_empty() {
        if !args.json {
            eprintln!("identical");
        }
        Ok(())
    } else {
        eprintln!("{} difference(s)", diffs.len());
        std::process::exit(1);
    }
}
