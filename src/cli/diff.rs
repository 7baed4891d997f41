//! `diskless diff A B`: compare two builds: first the package changes (from their SBOMs,
//! or their manifests), then entry by entry what differs.

use super::GlobalArgs;
use super::hint::HintExt;
use anyhow::Context;
use clap::Args;
use diskless::emit::sbom::read as sbom;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First build (out dir, initramfs file or OCI layout)
    pub a: PathBuf,
    /// Second build
    pub b: PathBuf,
    /// Print the package changes and the differences as JSON
    /// (`{"packages": [...], "differences": [...]}`)
    #[arg(long)]
    pub json: bool,
}

/// Prints one line per package change (`upgraded: name.arch a -> b (image)`), then one per
/// difference (`artifact: entry: field differs: a != b`); exits with 1 when the builds
/// differ, like diff(1).
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
    // Package lists exist for builds (and their OCI layouts), not for two initramfs files.
    let changes = match (sbom::read(&args.a), sbom::read(&args.b)) {
        (Ok(a), Ok(b)) => sbom::changes(&a, &b),
        _ => Vec::new(),
    };
    if args.json {
        let v = serde_json::json!({"packages": changes, "differences": diffs});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for c in &changes {
            println!("{c}");
        }
        for d in &diffs {
            println!("{d}");
        }
    }
    if !changes.is_empty() {
        eprintln!("{} package change(s)", changes.len());
    }
    if diffs.is_empty() && changes.is_empty() {
        if !args.json {
            eprintln!("identical");
        }
        Ok(())
    } else {
        eprintln!("{} difference(s)", diffs.len());
        std::process::exit(1);
    }
}
