//! `diskless lock`: resolve the profile and write `<profile>.lock`.

use super::GlobalArgs;
use super::hint::HintExt;
use anyhow::Context;
use clap::Args;
use diskless::lock::{LockError, Lockfile};
use diskless::plan::{Plan, resolve};
use diskless::repo::LoadOptions;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The profile to resolve
    pub profile: PathBuf,
    /// Exit non-zero if the lock is missing or stale instead of writing it
    #[arg(long, conflicts_with = "update")]
    pub check: bool,
    /// Move only these packages (and what must move with them)
    #[arg(long, value_name = "NAME")]
    pub update: Vec<String>,
    /// Print the lock as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn load_profile(
    path: &std::path::Path,
    g: &GlobalArgs,
) -> anyhow::Result<diskless::profile::Profile> {
    g.load_profile(path).map_err(|e| {
        // The error's own hint (a typo, `--allow-host-path`) says more than the generic one.
        let hint = e.hint().map_or_else(
            || format!("check it with `diskless profile check {}`", path.display()),
            str::to_owned,
        );
        super::hint::hint(
            anyhow::Error::new(e).context(format!("Invalid profile `{}`", path.display())),
            hint,
        )
    })
}

pub fn load_options(g: &GlobalArgs) -> LoadOptions {
    LoadOptions {
        cache_dir: g.cache_dir(),
        offline: g.offline,
    }
}

/// Read the lock next to the profile and insist it matches the profile.
pub fn read_fresh_lock(plan: &Plan) -> anyhow::Result<Lockfile> {
    match plan.read_lock() {
        Ok(l) => Ok(l),
        Err(e @ (LockError::Missing { .. } | LockError::Stale { .. })) => Err(e).hint(format!(
            "to resolve the profile and write the lock, run `diskless lock {}`",
            plan.profile.path.display()
        )),
        Err(e) => Err(e.into()),
    }
}

pub fn run(args: LockArgs, g: &GlobalArgs) -> anyhow::Result<()> {
    let plan = Plan::new(load_profile(&args.profile, g)?);
    let (profile, path) = (&plan.profile, &plan.lock_path);
    if args.check {
        let lock = read_fresh_lock(&plan)?;
        eprintln!(
            "`{}` is up to date ({} packages, {} boot packages)",
            path.display(),
            lock.packages.len(),
            lock.boot_packages.len()
        );
        return Ok(());
    }
    let previous = match Lockfile::read(path) {
        Ok(l) => Some(l),
        Err(LockError::Missing { .. }) if args.update.is_empty() => None,
        // Without --update the old lock is only compared against: an unreadable one is replaced.
        Err(e) if args.update.is_empty() => {
            tracing::warn!("{e}; writing a new lock");
            None
        }
        Err(e) => {
            return Err(e)
                .context("`--update` moves packages of an existing lock")
                .hint(format!(
                    "write the lock first with `diskless lock {}`",
                    profile.path.display()
                ));
        }
    };
    // Without --update a lock is resolved afresh: repositories moved on, so does the lock.
    let pins = if args.update.is_empty() {
        None
    } else {
        previous.as_ref()
    };
    let new =
        resolve::resolve(profile, &load_options(g), pins, &args.update).map_err(with_repo_hint)?;
    new.write(path)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&new)?);
    }
    if g.quiet == 0 {
        eprintln!(
            "Locked {} packages and {} boot packages from {} repositories into `{}`",
            new.packages.len(),
            new.boot_packages.len(),
            new.repos.len(),
            path.display()
        );
        if let Some(old) = &previous {
            for line in changes(old, &new) {
                eprintln!("  {line}");
            }
        }
    }
    Ok(())
}

/// A repository that failed to load gets its hint (signature, mirrors, offline cache).
fn with_repo_hint(e: resolve::ResolveError) -> anyhow::Error {
    match e.hint() {
        Some(h) => super::hint::hint(e, h),
        None => e.into(),
    }
}

/// What moved between two locks, one line per package name: `+ added`, `- removed`,
/// `~ name old -> new`.
pub fn changes(old: &Lockfile, new: &Lockfile) -> Vec<String> {
    let index = |l: &Lockfile| -> BTreeMap<(String, String), String> {
        l.all_packages()
            .map(|p| ((p.name.clone(), p.arch.clone()), p.nevra()))
            .collect()
    };
    let (a, b) = (index(old), index(new));
    let mut out = Vec::new();
    for (k, v) in &a {
        match b.get(k) {
            None => out.push(format!("- {v}")),
            Some(w) if w != v => out.push(format!("~ {v} -> {w}")),
            _ => {}
        }
    }
    for (k, v) in &b {
        if !a.contains_key(k) {
            out.push(format!("+ {v}"));
        }
    }
    out
}
