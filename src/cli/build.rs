//! `diskless build`: parse the arguments, run the library's build
//! ([`diskless::plan::build::run`]: lock check, fetch, root filesystem, artifacts), print
//! its stage lines and the closing summary.

use super::GlobalArgs;
use super::lock::load_profile;
use clap::{Args, ValueEnum};
use diskless::fetch;
use diskless::lock::LockError;
use diskless::plan::{self, BuildOptions, Event, Plan, PlanError, StageTime};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// Stop after fetching the packages
    Fetch,
    /// Stop after assembling the root filesystem; write its listing (rootfs.txt, rootfs.json)
    Rootfs,
    /// Everything (the default)
    All,
}

impl From<Stage> for plan::Stage {
    fn from(s: Stage) -> plan::Stage {
        match s {
            Stage::Fetch => plan::Stage::Fetch,
            Stage::Rootfs => plan::Stage::Rootfs,
            Stage::All => plan::Stage::All,
        }
    }
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The profile to build (its lock, `<profile>.lock`, must be up to date)
    pub profile: PathBuf,
    /// Output directory (written to a temporary sibling and renamed when complete)
    #[arg(short, long, default_value = "out")]
    pub out: PathBuf,
    /// Parallel downloads
    #[arg(short, long, default_value_t = fetch::default_jobs())]
    pub jobs: usize,
    /// Stop after this stage
    #[arg(long, value_enum, default_value = "all")]
    pub stage: Stage,
    /// Replace an existing output directory
    #[arg(long)]
    pub force: bool,
    /// Build even when the output directory already holds this build (same diskless,
    /// profile, files, lock and SOURCE_DATE_EPOCH, output untouched since)
    #[arg(long)]
    pub rebuild: bool,
}

/// The build's progress on stderr: a line per stage (not under -q) and the download display.
struct StageLines {
    quiet: u8,
    downloads: Box<dyn fetch::Reporter>,
}

impl plan::Reporter for StageLines {
    fn on_event(&self, event: &Event<'_>) {
        if self.quiet > 0 {
            return;
        }
        match event {
            Event::Resolving { profile } => {
                eprintln!("No lock yet: resolving `{}`…", profile.display());
            }
            Event::Locked {
                packages,
                boot_packages,
                lock,
            } => eprintln!(
                "Locked {packages} packages and {boot_packages} boot packages into `{}` (commit it next to the profile)",
                lock.display()
            ),
            Event::Fetching { packages } => eprintln!("Fetching {packages} packages…"),
            Event::Assembling { packages } => {
                eprintln!("Assembling the root filesystem from {packages} packages…");
            }
            Event::Assembled { report } => eprintln!("  {}", report.summary()),
            Event::Emitting => {
                eprintln!("Writing the initramfs, tftp tree, configs and OCI image…");
            }
            Event::UpToDate { out } => eprintln!(
                "`{}` is up to date: built by this diskless from the same profile, files, lock and SOURCE_DATE_EPOCH, and untouched since (`--rebuild` builds it again; `diskless verify {}` checks its bytes)",
                out.display(),
                out.display()
            ),
            _ => {}
        }
    }

    fn downloads(&self) -> &dyn fetch::Reporter {
        self.downloads.as_ref()
    }
}

pub fn run(args: BuildArgs, g: &GlobalArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let plan = Plan::new(load_profile(&args.profile, g)?);
    let opts = BuildOptions {
        out: args.out.clone(),
        stage: args.stage.into(),
        force: args.force,
        rebuild: args.rebuild,
        cache_dir: g.cache_dir(),
        offline: g.offline,
        jobs: args.jobs,
    };
    let reporter = StageLines {
        quiet: g.quiet,
        downloads: super::fetch::reporter(g.quiet),
    };
    let outcome = plan::build::run(&plan, &opts, &reporter).map_err(|e| with_hint(e, &plan))?;
    if g.quiet == 0 && !outcome.up_to_date {
        // Each stage's wall time goes into the closing line, so a slow build says where.
        eprintln!(
            "Built `{}` in {:.1} s ({})",
            outcome.out.display(),
            started.elapsed().as_secs_f64(),
            summary(&outcome.stages)
        );
        if let Some(a) = &outcome.artifacts {
            eprintln!("OCI image {}", a.oci.manifest_digest);
            eprintln!(
                "{} artifacts in `{}`; check them with `sha256sum -c SHA256SUMS` or `diskless verify {}`",
                a.files.len(),
                args.out.display(),
                args.out.display()
            );
        }
    }
    Ok(())
}

/// `fetch 0.3 s, root filesystem 4.5 s, artifacts 23.4 s`
fn summary(stages: &[StageTime]) -> String {
    stages
        .iter()
        .map(|s| format!("{} {:.1} s", s.name, s.secs))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to do about a full disk: the free space now (the failed build's files are gone),
/// against what the build needs, and where else to build.
fn space_hint(dir: &std::path::Path, needed: Option<u64>) -> String {
    use diskless::fsx::{free_space, human_bytes};
    let free = free_space(dir).map_or(String::new(), |f| {
        format!("`{}` has {} free", dir.display(), human_bytes(f))
    });
    let need = needed.map_or(String::new(), |n| {
        format!(", the build needs about {}", human_bytes(n))
    });
    let facts = if free.is_empty() {
        String::new()
    } else {
        format!("{free}{need}; ")
    };
    format!(
        "{facts}free space there, or build on another file system: `--out` elsewhere (the work folder sits next to it), `--cache-dir` elsewhere for the package cache and the content store"
    )
}

/// The `hint:` line for the build errors a user can act on.
fn with_hint(e: PlanError, plan: &Plan) -> anyhow::Error {
    let hint = match &e {
        PlanError::Lock(LockError::Missing { .. } | LockError::Stale { .. }) => Some(format!(
            "to resolve the profile and write the lock, run `diskless lock {}`",
            plan.profile.path.display()
        )),
        PlanError::NotAnOutput { .. } => {
            Some("choose another `--out`, or pass `--force` to replace it".to_owned())
        }
        PlanError::UnsafeOut { .. } => Some(
            "choose another `--out`: a new or empty folder, or one a previous build wrote".to_owned(),
        ),
        PlanError::NoSpace { dir, needed, .. } => Some(space_hint(dir, *needed)),
        PlanError::Fetch(f) => super::fetch::hint_for(f).map(str::to_owned),
        PlanError::Resolve(r) => r.hint().map(str::to_owned),
        PlanError::Emit { source, .. } => match source.as_ref() {
            diskless::emit::EmitError::Initrd(i) => i.hint(),
            _ => None,
        },
        PlanError::SourceDateEpoch(_) => Some(
            "unset it, or set it to the build's date in seconds since 1970 (e.g. `git log -1 --format=%ct`)"
                .to_owned(),
        ),
        _ => None,
    };
    match hint {
        Some(h) => super::hint::hint(e, h),
        None => e.into(),
    }
}
