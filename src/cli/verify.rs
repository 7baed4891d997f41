//! `diskless verify OUT [--sums FILE]`: recompute every artifact's sha256 and compare with
//! SHA256SUMS (the build's own, or one published by another builder).

use super::GlobalArgs;
use super::hint::HintExt;
use anyhow::Context;
use clap::Args;
use diskless::emit::sums;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The build output directory
    pub out: PathBuf,
    /// The SHA256SUMS to check against (default: OUT/SHA256SUMS)
    #[arg(long)]
    pub sums: Option<PathBuf>,
}

pub fn run(args: VerifyArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    let sums_path = args
        .sums
        .clone()
        .unwrap_or_else(|| args.out.join(sums::FILE_NAME));
    let text = fs_err::read_to_string(&sums_path)
        .context("Cannot read the sums file")
        .hint("build first (`diskless build PROFILE --out DIR`), or pass `--sums FILE`")?;
    let expected = sums::parse(&text, &sums_path)?;
    // A sums file kept inside OUT under another name is not an artifact.
    let inside_name = args
        .sums
        .as_ref()
        .and_then(|s| s.strip_prefix(&args.out).ok())
        .and_then(|r| r.to_str())
        .map(str::to_string);
    let rep = sums::verify(&args.out, &expected, inside_name.as_deref())
        .with_context(|| format!("Cannot verify `{}`", args.out.display()))?;
    for (p, want, got) in &rep.mismatched {
        println!("{p}: FAILED (expected sha256 {want}, got {got})");
    }
    for p in &rep.missing {
        println!("{p}: MISSING");
    }
    for p in &rep.unlisted {
        println!("{p}: NOT LISTED in {}", sums_path.display());
    }
    if rep.is_ok() {
        println!("{} artifacts OK", rep.ok.len());
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} of {} artifacts do not match `{}`",
            rep.mismatched.len() + rep.missing.len() + rep.unlisted.len(),
            expected.len() + rep.unlisted.len(),
            sums_path.display()
        ))
        .hint("`diskless diff A B` on two builds shows which entries differ")
    }
}
