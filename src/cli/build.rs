//! `diskless build`: lock check, fetch, root filesystem, then every artifact.
//!
//! Everything is written under a temporary folder next to `--out` and renamed into place
//! only when complete, so a failed or interrupted build never leaves a half-written output
//! that looks done.

use super::GlobalArgs;
use super::hint::HintExt;
use super::lock::{load_profile, read_fresh_lock};
use anyhow::Context;
use clap::{Args, ValueEnum};
use diskless::emit::{self, EmitInputs};
use diskless::fetch::{self, FetchOptions};
use diskless::rootfs::{self, listing, store::Store};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
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
}

/// Print a stage line on stderr (not under -q): the build's progress.
fn step(g: &GlobalArgs, what: &str) {
    if g.quiet == 0 {
        eprintln!("{what}");
    }
}

pub fn run(args: BuildArgs, g: &GlobalArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let profile = load_profile(&args.profile)?;
    let lock_path = diskless::lock::path_for_profile(&profile.path);
    // Like cargo with Cargo.lock: a missing lock is written on the first build; a stale one
    // is an error (moving the packages of an existing image is a decision, not a side effect).
    if !lock_path.exists() && !g.offline {
        step(
            g,
            &format!("No lock yet: resolving `{}`…", profile.path.display()),
        );
        let lock = diskless::resolve::resolve(&profile, &super::lock::load_options(g), None, &[])?;
        lock.write(&lock_path)?;
        step(
            g,
            &format!(
                "Locked {} packages and {} boot packages into `{}` (commit it next to the profile)",
                lock.packages.len(),
                lock.boot_packages.len(),
                lock_path.display()
            ),
        );
    }
    let lock = read_fresh_lock(&profile)?;
    let lock_bytes = fs_err::read(&lock_path)?;
    let lock_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&lock_bytes)));

    if args.out.exists() && !args.force && !is_previous_build(&args.out) {
        return Err(anyhow::anyhow!(
            "`{}` exists and is not a diskless output",
            args.out.display()
        ))
        .hint("choose another `--out`, or pass `--force` to replace it");
    }
    let parent = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let work = tempfile::Builder::new()
        .prefix(".diskless-build-")
        .tempdir_in(&parent)
        .with_context(|| format!("Cannot create a work folder in `{}`", parent.display()))?;

    // Fetch. Each stage's wall time goes into the closing line, so a slow build says where.
    let mut stages = Stages::default();
    step(
        g,
        &format!("Fetching {} packages…", lock.all_packages().count()),
    );
    let repos = fetch::repos_of(&profile);
    let mut opts = FetchOptions::new(g.cache_dir());
    opts.jobs = args.jobs.max(1);
    opts.offline = g.offline;
    let reporter = super::fetch::reporter(g.quiet);
    let fetched = super::fetch::fetch_with_hints(&lock, &repos, &opts, reporter.as_ref())?;
    let path_of = |p: &diskless::lock::LockedPackage| {
        fetched
            .iter()
            .find(|f| f.name == p.name && f.arch == p.arch && f.nevra == p.nevra())
            .map(|f| f.path.clone())
            .ok_or_else(|| anyhow::anyhow!("`{}` was not fetched", p.nevra()))
    };
    let image_rpms = lock
        .packages
        .iter()
        .map(path_of)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let boot_rpms = lock
        .boot_packages
        .iter()
        .map(path_of)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let out_tmp = work.path().join("out");
    fs_err::create_dir(&out_tmp)?;
    stages.done("fetch");
    if args.stage == Stage::Fetch {
        return finish(g, work.path(), &out_tmp, &args.out, started, &stages);
    }

    // SOURCE_DATE_EPOCH: the environment wins, then the profile's pin, then the lock.
    let (sde, sde_from) = match (
        std::env::var_os("SOURCE_DATE_EPOCH"),
        profile.image.source_date_epoch,
    ) {
        (None, Some(pinned)) => (pinned, "profile"),
        _ => emit::source_date_epoch(&lock),
    };

    // Root filesystem.
    step(
        g,
        &format!(
            "Assembling the root filesystem from {} packages…",
            image_rpms.len()
        ),
    );
    let store = Store::new(work.path().join("store"))?;
    let mut cfg = rootfs::AssembleConfig::from_profile(&profile)
        .with_context(|| format!("Invalid customisations in `{}`", profile.path.display()))?;
    cfg.source_date_epoch = Some(sde);
    let assembled = rootfs::assemble(&image_rpms, &cfg, &store).with_context(|| {
        format!(
            "Cannot assemble the root filesystem of `{}`",
            profile.path.display()
        )
    })?;
    for note in &assembled.notes {
        tracing::info!("{note}");
    }
    step(g, &format!("  {}", assembled.report.summary()));
    stages.done("root filesystem");
    if args.stage == Stage::Rootfs {
        listing::write_listing(
            &assembled.tree,
            &out_tmp.join("rootfs.txt"),
            listing::Format::Text,
        )?;
        listing::write_listing(
            &assembled.tree,
            &out_tmp.join("rootfs.json"),
            listing::Format::Json,
        )?;
        return finish(g, work.path(), &out_tmp, &args.out, started, &stages);
    }

    // Artifacts.
    step(
        g,
        "Writing the initramfs, tftp tree, configs and OCI image…",
    );
    let inputs = EmitInputs {
        images: vec![emit::from_profile::image(&profile, &assembled.tree)],
        store: &store,
        lock: &lock,
        lock_digest,
        profile_name: profile.image.name.clone(),
        profile_digest: profile.resolution_digest(),
        boot_rpms,
        source_date_epoch: sde,
        source_date_epoch_from: sde_from.to_owned(),
        scriptlets: serde_json::to_value(&assembled.report)?,
        settings: emit::from_profile::settings(&profile),
    };
    let artifacts = emit::emit(&inputs, &out_tmp)
        .with_context(|| format!("Cannot write the artifacts of `{}`", profile.path.display()))?;
    for w in &artifacts.warnings {
        tracing::warn!("{w}");
    }
    stages.done("artifacts");
    finish(g, work.path(), &out_tmp, &args.out, started, &stages)?;
    if g.quiet == 0 {
        eprintln!("OCI image {}", artifacts.oci.manifest_digest);
        eprintln!(
            "{} artifacts in `{}`; check them with `sha256sum -c SHA256SUMS` or `diskless verify {}`",
            artifacts.files.len(),
            args.out.display(),
            args.out.display()
        );
    }
    Ok(())
}

/// Wall time per finished stage, in order.
struct Stages {
    since: Instant,
    done: Vec<(&'static str, f64)>,
}

impl Default for Stages {
    fn default() -> Stages {
        Stages {
            since: Instant::now(),
            done: Vec::new(),
        }
    }
}

impl Stages {
    fn done(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done
            .push((name, now.duration_since(self.since).as_secs_f64()));
        self.since = now;
    }

    /// `fetch 0.3 s, root filesystem 4.5 s, artifacts 23.4 s`
    fn summary(&self) -> String {
        self.done
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A folder we may replace: one a previous build wrote (it has SHA256SUMS or a listing).
fn is_previous_build(out: &Path) -> bool {
    out.join("SHA256SUMS").is_file()
        || out.join("rootfs.txt").is_file()
        || out.read_dir().is_ok_and(|mut d| d.next().is_none())
}

/// Move the finished output into place (replacing a previous build) and drop the work dir.
fn finish(
    g: &GlobalArgs,
    work: &Path,
    out_tmp: &Path,
    out: &Path,
    started: Instant,
    stages: &Stages,
) -> anyhow::Result<()> {
    if out.exists() {
        // Rename the old output aside first, so `out` is never a mix of two builds.
        let old = work.join("previous-out");
        fs_err::rename(out, &old)?;
    }
    fs_err::rename(out_tmp, out)
        .with_context(|| format!("Cannot move the finished build into `{}`", out.display()))?;
    if g.quiet == 0 {
        eprintln!(
            "Built `{}` in {:.1} s ({})",
            out.display(),
            started.elapsed().as_secs_f64(),
            stages.summary()
        );
    }
    Ok(())
}
