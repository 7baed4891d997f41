//! `diskless repoquery`: list the packages of a profile's repositories as
//! `dnf repoquery` does (`name-epoch:version-release.arch`, sorted), or as JSON records
//! with repository and location.

use super::GlobalArgs;
use clap::Args;
use diskless::net::Remote;
use diskless::plan::inputs;
use diskless::repo::modules::ModuleSelection;
use diskless::repo::query::{self, Query};
use diskless::repo::{self, LoadOptions, Pool, PoolOptions, RepoError};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RepoqueryArgs {
    /// The profile whose repositories to query
    pub profile: PathBuf,
    /// Package names or globs (all packages when none)
    pub names: Vec<String>,
    /// Packages that provide this capability (a name, a file path, or `name op version`);
    /// may be given more than once
    #[arg(long, value_name = "CAP")]
    pub whatprovides: Vec<String>,
    /// Print JSON instead of lines
    #[arg(long)]
    pub json: bool,
    /// Show packages of non-default module streams too (like dnf's --disable-modular-filtering)
    #[arg(long)]
    pub disable_modular_filtering: bool,
}

pub fn run(args: RepoqueryArgs, g: &GlobalArgs) -> anyhow::Result<()> {
    let profile = super::profile::load(&args.profile, g)?;
    let sources = inputs::remotes(&profile);
    if sources.is_empty() {
        return Err(super::hint::hint(
            anyhow::anyhow!(
                "Profile `{}` enables no repositories",
                args.profile.display()
            ),
            "add a `[[repo]]` table or `repo_files = [...]` to the profile",
        ));
    }
    let modules = inputs::module_selection(&profile);
    let stdout = std::io::stdout();
    run_with_sources(&sources, modules, &args, g, &mut stdout.lock())
}

/// The command once the profile's repositories are known: load them (in parallel, the
/// result in profile order), build the pool, query, print to `out`.
pub fn run_with_sources(
    sources: &[Remote],
    modules: ModuleSelection,
    args: &RepoqueryArgs,
    g: &GlobalArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let options = LoadOptions {
        cache_dir: g.cache_dir(),
        offline: g.offline,
    };
    let mut repos = Vec::new();
    for (s, loaded) in sources.iter().zip(repo::load_all(sources, &options)) {
        match loaded {
            Ok(r) => repos.push(r),
            Err(e) if s.skip_if_unavailable && e.is_unavailable() => tracing::warn!(
                "repository `{}` is unavailable and skipped (skip_if_unavailable): {}",
                s.id,
                diskless::net::error_chain(&e)
            ),
            Err(e) => return Err(with_hint(e, &s.id)),
        }
    }
    let pool = Pool::new(
        repos,
        &PoolOptions {
            modular_filtering: !args.disable_modular_filtering,
            modules,
        },
    );
    if pool.hidden_by_modules() > 0 {
        tracing::info!(
            "{} packages of inactive module streams hidden (--disable-modular-filtering shows them)",
            pool.hidden_by_modules()
        );
    }
    let q = Query {
        specs: args.names.clone(),
        whatprovides: args.whatprovides.clone(),
    };
    let ids = query::run(&pool, &q).map_err(|e| {
        let err = anyhow::Error::new(e).context("Cannot answer the query");
        // Only file-path queries read filelists.xml, so that is what failed.
        super::hint::hint(err, "a file path in `--whatprovides` needs every repository's filelists.xml; query a capability instead, or fix the repository")
    })?;
    if args.json {
        let records = query::records(&pool, &ids)?;
        serde_json::to_writer_pretty(&mut *out, &records)?;
        writeln!(out)?;
    } else {
        for line in query::nevra_lines(&pool, &ids) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Wrap a load error with the repository id and, where the user can act, a hint.
fn with_hint(e: RepoError, id: &str) -> anyhow::Error {
    let hint = e.hint();
    let err = anyhow::Error::new(e).context(format!("Cannot load repository `{id}`"));
    match hint {
        Some(h) => super::hint::hint(err, h),
        None => err,
    }
}
