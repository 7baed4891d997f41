//! `diskless build` as a library function: lock check (or the first lock), fetch, root
//! filesystem, artifacts; each a named step below, so a feature adds a step (or a stage
//! stop) here without growing [`run`].
//!
//! Everything is written under a temporary folder next to `out` and renamed into place
//! only when complete, so a failed or interrupted build never leaves a half-written output
//! that looks done. The work folder is locked (`flock`) while its build runs: a later build
//! removes the folders of killed builds (their lock is free) and leaves a running build's
//! alone. Progress goes to a [`Reporter`] (the binary prints it); nothing here prints.
//!
//! A full disk stops the build with [`PlanError::NoSpace`]: which folder, and about how
//! much the build needs there (from the lock's sizes and the packages' headers).

use super::{Plan, PlanError, SourceDateEpoch, fresh, inputs, resolve};
use crate::emit::{self, Artifacts, EmitInputs, Provenance};
use crate::fetch::{self, FetchOptions, FetchedPackage};
use crate::lock::{LockedPackage, Lockfile};
use crate::repo::LoadOptions;
use crate::rootfs::{self, Assembled, RpmFile, listing, scriptlets, store::Store};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where a build stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// After fetching the packages.
    Fetch,
    /// After assembling the root filesystem; its listing (rootfs.txt, rootfs.json) is the
    /// output.
    Rootfs,
    /// Everything.
    All,
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The output folder (written to a temporary sibling and renamed when complete).
    pub out: PathBuf,
    pub stage: Stage,
    /// Replace an existing output folder even when it is not a previous build's.
    pub force: bool,
    /// Build even when the output folder already holds this build ([`fresh`]).
    pub rebuild: bool,
    /// Metadata and package cache.
    pub cache_dir: PathBuf,
    /// Use only the cache: no download, and no resolving of a missing lock.
    pub offline: bool,
    /// Parallel downloads (at least 1).
    pub jobs: usize,
}

/// A step of the build began or ended: the binary prints a line for each.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The profile has no lock yet: resolving it.
    Resolving { profile: &'a Path },
    /// The first lock was written.
    Locked {
        packages: usize,
        boot_packages: usize,
        lock: &'a Path,
    },
    /// Fetching the locked packages (image and boot).
    Fetching { packages: usize },
    /// Assembling the root filesystem from the image's packages.
    Assembling { packages: usize },
    /// The root filesystem is assembled; what happened to the packages' scriptlets.
    Assembled { report: &'a scriptlets::Report },
    /// Writing the initramfs, tftp tree, configs and OCI image.
    Emitting,
    /// The output folder already holds this build, untouched: nothing was done.
    UpToDate { out: &'a Path },
}

/// What the build reports as it goes. Every method has an empty default.
pub trait Reporter {
    fn on_event(&self, _event: &Event<'_>) {}
    /// Where download progress goes.
    fn downloads(&self) -> &dyn fetch::Reporter {
        &fetch::Silent
    }
}

/// The wall time of one finished stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTime {
    /// `fetch`, `root filesystem` or `artifacts`.
    pub name: &'static str,
    pub secs: f64,
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// The output folder, complete.
    pub out: PathBuf,
    pub source_date_epoch: SourceDateEpoch,
    /// Each stage that ran, in order.
    pub stages: Vec<StageTime>,
    /// What emit wrote (`None` when the build stopped earlier or was up to date).
    pub artifacts: Option<Artifacts>,
    /// The output folder already held this build; nothing ran ([`fresh`]).
    pub up_to_date: bool,
}

/// Build `plan` into `opts.out`, stopping after `opts.stage`.
pub fn run(
    plan: &Plan,
    opts: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<BuildOutcome, PlanError> {
    check_out(&opts.out, &opts.cache_dir, &plan.profile.dir)?;
    let lock = lock_step(plan, opts, reporter)?;
    let lock_bytes = fs_err::read(&plan.lock_path)?;
    let sde = plan.source_date_epoch(&lock)?;
    let mut outcome = BuildOutcome {
        out: opts.out.clone(),
        source_date_epoch: sde,
        stages: Vec::new(),
        artifacts: None,
        up_to_date: false,
    };
    // The no-change rebuild: nothing to do when `out` holds this build, untouched.
    let inputs_digest = (opts.stage == Stage::All)
        .then(|| fresh::inputs_digest(plan, &lock_bytes, sde.value))
        .flatten();
    if let Some(d) = &inputs_digest
        && !opts.rebuild
        && fresh::is_up_to_date(&opts.cache_dir, &opts.out, d)
    {
        reporter.on_event(&Event::UpToDate { out: &opts.out });
        outcome.up_to_date = true;
        return Ok(outcome);
    }
    // `out` is about to be replaced: a build that fails, is killed or stops at another
    // stage never leaves a stamp vouching for it.
    fresh::forget(&opts.cache_dir, &opts.out);
    let work = WorkDir::next_to(&opts.out, opts.force)?;
    let mut clock = Clock::new();

    let fetched = fetch_step(plan, &lock, opts, reporter).map_err(|e| {
        no_space(e, "package cache", &opts.cache_dir, || {
            Some(lock.all_packages().map(|p| p.size).sum())
        })
    })?;
    clock.done("fetch", &mut outcome);
    if opts.stage == Stage::Fetch {
        work.publish(&opts.out)?;
        return Ok(outcome);
    }

    // The content store and the pieces built from it live in the cache, shared by every
    // build on it (see super::cache): a full disk there is reported with the image's size
    // (what the store holds, uncompressed); one under the output with the output's folder.
    let work_dir = work.path().parent().unwrap_or(work.path()).to_path_buf();
    let image_paths: Vec<PathBuf> = fetched.image.iter().map(|f| f.path.clone()).collect();
    let in_work = |e: PlanError, what: &'static str| {
        no_space(e, what, &work_dir, || image_bytes(&image_paths))
    };
    let in_store = |e: PlanError, what: &'static str| {
        no_space(e, what, &opts.cache_dir, || image_bytes(&image_paths))
    };
    let mut cache_writable = true;
    let store = match Store::in_cache(&opts.cache_dir) {
        Ok(s) => s,
        // A read-only cache still serves the packages it holds: this build's store goes
        // into its work folder instead (nothing is reused, nothing is shared).
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            cache_writable = false;
            Store::new(work.path().join("store"))
                .map_err(|e| in_work(e.into(), "root filesystem"))?
        }
        Err(e) => return Err(in_store(e.into(), "root filesystem")),
    };
    let assembled = rootfs_step(plan, &fetched.image, sde.value, &store, reporter)
        .map_err(|e| in_store(e, "root filesystem"))?;
    clock.done("root filesystem", &mut outcome);
    if opts.stage == Stage::Rootfs {
        listing_step(&assembled, &work.out).map_err(|e| in_work(e, "root filesystem"))?;
        work.publish(&opts.out)?;
        return Ok(outcome);
    }

    let host_overlays = host_overlays(plan, &assembled.tree, &store, sde.value)
        .map_err(|e| in_store(e, "host overlays"))?;
    reporter.on_event(&Event::Emitting);
    let segments = super::cache::segment_cache(&opts.cache_dir);
    let mut provenance = inputs::provenance(&plan.profile, &lock, &lock_bytes);
    // The RPM files' own sha256 for the SBOM, also where the lock pins another kind.
    for (records, digests) in [
        (&mut provenance.packages, &fetched.image_sha256),
        (&mut provenance.boot_packages, &fetched.boot_sha256),
    ] {
        for (r, d) in records.iter_mut().zip(digests) {
            r.sha256 = Some(d.clone());
        }
    }
    let inputs = EmitInputs {
        images: vec![inputs::image_input(
            &plan.profile,
            &assembled.tree,
            &assembled.headers,
        )],
        store: &store,
        // Segments are kept only where the cache can take them.
        segment_cache: cache_writable.then_some(&segments),
        provenance: Provenance {
            host_files: inputs::host_files(&plan.profile)?,
            ..provenance
        },
        boot_rpms: fetched.boot,
        source_date_epoch: sde.value,
        source_date_epoch_from: sde.from.as_str().to_owned(),
        scriptlets: serde_json::to_value(&assembled.report)?,
        settings: inputs::emit_settings(&plan.profile),
        host_overlays,
    };
    let artifacts = emit::emit(&inputs, &work.out).map_err(|source| {
        in_work(
            PlanError::Emit {
                profile: plan.profile.path.clone(),
                source: Box::new(source),
            },
            "artifacts",
        )
    })?;
    for w in &artifacts.warnings {
        tracing::warn!("{w}");
    }
    super::cache::record_build(
        &opts.cache_dir,
        &lock_bytes,
        &assembled.tree,
        &artifacts.segment_keys,
    );
    clock.done("artifacts", &mut outcome);
    // Stat records of what is published, taken before the rename (see fresh::record).
    let published = inputs_digest.and_then(|d| Some((d, fresh::stat_tree(&work.out).ok()?)));
    work.publish(&opts.out)?;
    if let Some((d, entries)) = published {
        fresh::record(&opts.cache_dir, &opts.out, &d, entries);
    }
    outcome.artifacts = Some(artifacts);
    Ok(outcome)
}

/// Each `[[host]]`'s overlay against the assembled image (none when `[pxe]
/// host_overlays = false`).
fn host_overlays(
    plan: &Plan,
    tree: &rootfs::tree::Tree,
    store: &Store,
    sde: u64,
) -> Result<Vec<emit::HostOverlay>, PlanError> {
    let p = &plan.profile;
    if !p.pxe.host_overlays {
        return Ok(Vec::new());
    }
    p.hosts
        .iter()
        .map(|h| {
            let err = |source| PlanError::HostOverlay {
                profile: p.path.clone(),
                host: h.name.clone(),
                source: Box::new(source),
            };
            let files = inputs::host_overlay_files(p, h).map_err(err)?;
            Ok(emit::HostOverlay {
                host: h.name.clone(),
                image: p.image.name.clone(),
                tree: rootfs::overlay::host_overlay(tree, store, &files, sde).map_err(err)?,
            })
        })
        .collect()
}

/// `e` as [`PlanError::NoSpace`] when a full disk (or quota) caused it: `what` was being
/// written in `dir`, which needs about `needed` bytes.
fn no_space(
    e: PlanError,
    what: &'static str,
    dir: &Path,
    needed: impl FnOnce() -> Option<u64>,
) -> PlanError {
    let full = match &e {
        PlanError::Fetch(f) => f.is_out_of_space(),
        _ => crate::fsx::is_out_of_space(&e),
    };
    if !full {
        return e;
    }
    PlanError::NoSpace {
        what,
        dir: dir.to_path_buf(),
        needed: needed(),
        source: Box::new(e),
    }
}

/// The image's files, uncompressed, from the packages' headers: what the content store
/// holds, and about what the output (initramfs, its OCI copies) needs again.
fn image_bytes(rpms: &[PathBuf]) -> Option<u64> {
    let headers = rootfs::read_headers(rpms).ok()?;
    let files = headers
        .iter()
        .flat_map(|h| h.files.iter())
        .filter(|f| f.is_reg() && !f.is_ghost());
    Some(files.map(|f| f.size).sum::<u64>().saturating_mul(2))
}

/// Refuse an `--out` whose replacement would destroy what the build reads or the user's
/// folders: the file system root, the user's home, the current folder, the profile's folder
/// or the cache, or a folder holding one of them. (`--force` replaces other folders.)
fn check_out(out: &Path, cache_dir: &Path, profile_dir: &Path) -> Result<(), PlanError> {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .ok()
            .map(|a| fs_err::canonicalize(&a).unwrap_or(a))
    };
    let Some(o) = abs(out) else { return Ok(()) };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cwd = std::env::current_dir().ok();
    let protected = [
        (Some(PathBuf::from("/")), "the file system root"),
        (home, "your home folder"),
        (cwd, "the current folder"),
        (Some(profile_dir.to_path_buf()), "the profile's folder"),
        (Some(cache_dir.to_path_buf()), "the cache"),
    ];
    for (p, what) in protected {
        let Some(p) = p.as_deref().and_then(abs) else {
            continue;
        };
        if p.starts_with(&o) {
            return Err(PlanError::UnsafeOut {
                out: out.to_path_buf(),
                what,
            });
        }
    }
    Ok(())
}

/// Like cargo with Cargo.lock: a missing lock is written on the first build (unless
/// offline); a stale one is an error.
fn lock_step(
    plan: &Plan,
    opts: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Lockfile, PlanError> {
    if !plan.lock_path.exists() && !opts.offline {
        reporter.on_event(&Event::Resolving {
            profile: &plan.profile.path,
        });
        let load = LoadOptions {
            cache_dir: opts.cache_dir.clone(),
            offline: opts.offline,
        };
        let lock = resolve::resolve(&plan.profile, &load, None, &[])?;
        lock.write(&plan.lock_path)?;
        reporter.on_event(&Event::Locked {
            packages: lock.packages.len(),
            boot_packages: lock.boot_packages.len(),
            lock: &plan.lock_path,
        });
    }
    Ok(plan.read_lock()?)
}

/// The RPM files of the image's and the boot packages, from the cache, in lock order,
/// with their sha256.
struct Fetched {
    image: Vec<RpmFile>,
    boot: Vec<PathBuf>,
    image_sha256: Vec<String>,
    boot_sha256: Vec<String>,
}

fn fetch_step(
    plan: &Plan,
    lock: &Lockfile,
    opts: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Fetched, PlanError> {
    reporter.on_event(&Event::Fetching {
        packages: lock.all_packages().count(),
    });
    let repos = inputs::remotes(&plan.profile);
    let mut fopts = FetchOptions::new(&opts.cache_dir);
    fopts.jobs = opts.jobs.max(1);
    fopts.offline = opts.offline;
    let fetched = super::fetch_lock(lock, &repos, &fopts, reporter.downloads())?;
    let files = |set: &[LockedPackage]| {
        set.iter()
            .map(|p| file_of(&fetched, p).map(|f| (f.path.clone(), f.sha256.clone())))
            .collect::<Result<(Vec<_>, Vec<_>), _>>()
    };
    let (image, image_sha256) = files(&lock.packages)?;
    let (boot, boot_sha256) = files(&lock.boot_packages)?;
    let image = image
        .into_iter()
        .zip(&image_sha256)
        .map(|(path, sha256)| RpmFile {
            path,
            sha256: Some(sha256.clone()),
        })
        .collect();
    Ok(Fetched {
        image,
        boot,
        image_sha256,
        boot_sha256,
    })
}

fn file_of<'f>(
    fetched: &'f [FetchedPackage],
    p: &LockedPackage,
) -> Result<&'f FetchedPackage, PlanError> {
    let nevra = p.nevra();
    fetched
        .iter()
        .find(|f| f.name == p.name && f.arch == p.arch && f.nevra == nevra)
        .ok_or(PlanError::NotFetched { nevra })
}

fn rootfs_step(
    plan: &Plan,
    rpms: &[RpmFile],
    source_date_epoch: u64,
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<Assembled, PlanError> {
    reporter.on_event(&Event::Assembling {
        packages: rpms.len(),
    });
    let profile = &plan.profile.path;
    let cfg = inputs::assemble_config(&plan.profile, source_date_epoch).map_err(|source| {
        PlanError::Customisations {
            profile: profile.clone(),
            source: Box::new(source),
        }
    })?;
    let assembled =
        rootfs::assemble_files(rpms, &cfg, store).map_err(|source| PlanError::Assemble {
            profile: profile.clone(),
            source: Box::new(source),
        })?;
    for note in &assembled.notes {
        tracing::info!("{note}");
    }
    reporter.on_event(&Event::Assembled {
        report: &assembled.report,
    });
    Ok(assembled)
}

/// `--stage rootfs`'s output: the tree's listing, as text and JSON.
fn listing_step(assembled: &Assembled, out: &Path) -> Result<(), PlanError> {
    listing::write_listing(
        &assembled.tree,
        &out.join("rootfs.txt"),
        listing::Format::Text,
    )?;
    listing::write_listing(
        &assembled.tree,
        &out.join("rootfs.json"),
        listing::Format::Json,
    )?;
    Ok(())
}

/// Wall time per finished stage.
struct Clock {
    since: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            since: Instant::now(),
        }
    }

    fn done(&mut self, name: &'static str, outcome: &mut BuildOutcome) {
        let now = Instant::now();
        outcome.stages.push(StageTime {
            name,
            secs: now.duration_since(self.since).as_secs_f64(),
        });
        self.since = now;
    }
}

/// The temporary folder next to the output: `out/` (the build).
struct WorkDir {
    // Field order: the lock is released after the folder is gone.
    dir: tempfile::TempDir,
    _lock: std::fs::File,
    out: PathBuf,
}

const WORK_PREFIX: &str = ".diskless-build-";
const WORK_LOCK: &str = "lock";

impl WorkDir {
    /// Refuses to replace a folder a previous build did not write, unless `force`.
    fn next_to(out: &Path, force: bool) -> Result<WorkDir, PlanError> {
        if out.exists() && !force && !is_previous_build(out) {
            return Err(PlanError::NotAnOutput {
                out: out.to_path_buf(),
            });
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs_err::create_dir_all(&parent)?;
        remove_killed_builds(&parent);
        let work_err = |source| PlanError::WorkDir {
            path: parent.clone(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix(WORK_PREFIX)
            .tempdir_in(&parent)
            .map_err(work_err)?;
        // Locked before it gets its name: another build's sweep never sees an unlocked
        // `lock` of a live build.
        let pending = dir.path().join("lock.pending");
        let lock = std::fs::File::create(&pending).map_err(work_err)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| work_err(e.into()))?;
        std::fs::rename(&pending, dir.path().join(WORK_LOCK)).map_err(work_err)?;
        let out = dir.path().join("out");
        fs_err::create_dir(&out)?;
        Ok(WorkDir {
            dir,
            _lock: lock,
            out,
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Move the finished output into place (replacing a previous build) and drop the
    /// work folder. `out` is always one whole build: the new one is swapped in with a
    /// single atomic exchange where the file system has one, so two builds publishing into
    /// the same `out` at once cannot interleave their renames.
    fn publish(self, out: &Path) -> Result<(), PlanError> {
        let publish_err = |source| PlanError::Publish {
            out: out.to_path_buf(),
            source,
        };
        for _ in 0..16 {
            if out.symlink_metadata().is_ok() {
                match exchange(&self.out, out) {
                    // The previous output is now inside the work folder, deleted with it.
                    Ok(()) => return Ok(()),
                    // Gone between the check and the swap: another build moved it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                        // No RENAME_EXCHANGE here: rename the old output aside first, so
                        // `out` is never a mix of two builds.
                        fs_err::rename(out, self.path().join("previous-out"))?;
                        return fs_err::rename(&self.out, out).map_err(publish_err);
                    }
                    Err(e) => return Err(publish_err(e)),
                }
            }
            match std::fs::rename(&self.out, out) {
                Ok(()) => return Ok(()),
                // Another build published in between: swap with its output instead.
                Err(e) if out.symlink_metadata().is_ok() => {
                    tracing::debug!("{}: {e}; swapping instead", out.display());
                }
                Err(e) => return Err(publish_err(e)),
            }
        }
        Err(publish_err(std::io::Error::other(
            "other builds kept replacing it",
        )))
    }
}

/// Swap two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        a,
        rustix::fs::CWD,
        b,
        rustix::fs::RenameFlags::EXCHANGE,
    )
    .map_err(std::io::Error::from)
}

/// Remove the work folders next to `out` that killed builds left (their lock is free);
/// folders whose build still runs (locked), or without a lock file (just being created),
/// are left alone. Best effort: a folder that cannot be removed is left for the next build.
fn remove_killed_builds(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(WORK_PREFIX) {
            continue;
        }
        let dir = e.path();
        let Ok(lock) = std::fs::File::open(dir.join(WORK_LOCK)) else {
            continue;
        };
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            tracing::info!("removing `{}`, left by a killed build", dir.display());
            if let Err(err) = std::fs::remove_dir_all(&dir) {
                tracing::debug!("cannot remove `{}`: {err}", dir.display());
            }
        }
    }
}

/// A folder we may replace: one a previous build wrote (it has SHA256SUMS or a listing),
/// or an empty one.
fn is_previous_build(out: &Path) -> bool {
    out.join("SHA256SUMS").is_file()
        || out.join("rootfs.txt").is_file()
        || out.read_dir().is_ok_and(|mut d| d.next().is_none())
}
