//! `diskless why NAME`: the chain of dependencies that pulled a package into the lock.

use super::GlobalArgs;
use super::lock::{load_options, load_profile, read_fresh_lock};
use clap::Args;
use diskless::plan::{Plan, resolve};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The profile whose lock to explain
    pub profile: PathBuf,
    /// The package name
    pub name: String,
    /// Print the chain as a JSON array of lines
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: WhyArgs, g: &GlobalArgs) -> anyhow::Result<()> {
    let plan = Plan::new(load_profile(&args.profile, g)?);
    let (profile, lock) = (&plan.profile, read_fresh_lock(&plan)?);
    if !lock.all_packages().any(|p| p.name == args.name) {
        anyhow::bail!(
            "`{}` is not in the lock of `{}`",
            args.name,
            profile.path.display()
        );
    }
    // The lock records what was chosen; the reasons come from resolving again with every
    // package pinned to its locked version, so the chain is the lock's own.
    let pool = resolve::load_pool(profile, &load_options(g))?;
    let resolved = resolve::resolve_in(profile, &pool, Some(&lock), &[])?;
    let chain = resolved.why(&args.name).ok_or_else(|| {
        anyhow::anyhow!(
            "`{}` is locked but not chosen by resolving again",
            args.name
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&chain)?);
    } else {
        for (i, line) in chain.iter().enumerate() {
            println!("{}{line}", "  ".repeat(i));
        }
    }
    Ok(())
}
