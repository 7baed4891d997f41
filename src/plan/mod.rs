//! The build plan: the one place that maps a profile (and its lock) onto every stage's
//! input, and runs the stages in order.
//!
//! Stages below the plan (`repo`, `solve`, `fetch`, `rootfs`, `emit`) take plain values and
//! import neither `profile` nor `lock`; [`inputs`] builds those values, one function per
//! target type. [`resolve`] turns a profile into a lockfile. [`epoch`] decides
//! SOURCE_DATE_EPOCH once. [`fresh`] tells a no-change rebuild. [`build`] is `diskless build` as a library function: lock check,
//! fetch, root filesystem, artifacts, each a named step, reporting progress through a
//! [`build::Reporter`] so that only the binary prints. `docs/architecture.md` has the map.

pub mod build;
pub mod cache;
pub mod epoch;
pub mod fresh;
pub mod inputs;
pub mod resolve;

pub use build::{BuildOptions, BuildOutcome, Event, Reporter, Stage, StageTime};
pub use epoch::{EpochSource, SourceDateEpoch};
pub use resolve::{ResolveError, Resolved};

use crate::emit::EmitError;
use crate::fetch::{self, FetchError, FetchOptions, FetchedPackage};
use crate::lock::{self, LockError, Lockfile};
use crate::net::Remote;
use crate::profile::Profile;
use crate::rootfs::RootfsError;
use std::path::PathBuf;

/// A loaded profile and where its lock lives: what every command starts from.
#[derive(Debug, Clone)]
pub struct Plan {
    pub profile: Profile,
    /// `<profile>.lock`, next to the profile.
    pub lock_path: PathBuf,
    /// The `SOURCE_DATE_EPOCH` environment variable when the plan was made (it wins over
    /// the profile's pin and the lock; see [`epoch`]).
    pub env_source_date_epoch: Option<String>,
}

impl Plan {
    /// The plan of a loaded profile; reads `SOURCE_DATE_EPOCH` from the environment.
    pub fn new(profile: Profile) -> Plan {
        Plan {
            lock_path: lock::path_for_profile(&profile.path),
            env_source_date_epoch: std::env::var_os("SOURCE_DATE_EPOCH")
                .map(|v| v.to_string_lossy().into_owned()),
            profile,
        }
    }

    /// The lock next to the profile, checked to be made from this profile (missing or stale
    /// is an error: moving the packages of an image is a decision, not a side effect).
    pub fn read_lock(&self) -> Result<Lockfile, LockError> {
        Lockfile::read_fresh(&self.lock_path, &self.profile.resolution_digest())
    }

    /// The build's SOURCE_DATE_EPOCH: the environment, then the profile's pin, then the
    /// newest build time in `lock`.
    pub fn source_date_epoch(&self, lock: &Lockfile) -> Result<SourceDateEpoch, PlanError> {
        Ok(epoch::decide(
            self.env_source_date_epoch.as_deref(),
            self.profile.image.source_date_epoch,
            lock,
        )?)
    }
}

/// Fetch every package `lock` pins from `repos` (the profile's: [`inputs::remotes`]):
/// [`inputs::fetch_wants`], then [`fetch::fetch_packages`]. In lock order (`packages`, then
/// `boot_packages`).
pub fn fetch_lock(
    lock: &Lockfile,
    repos: &[Remote],
    opts: &FetchOptions,
    reporter: &dyn fetch::Reporter,
) -> Result<Vec<FetchedPackage>, FetchError> {
    let wants = inputs::fetch_wants(lock, repos)?;
    fetch::fetch_packages(&wants, repos, opts, reporter)
}

/// Why a planned command failed. Stage errors pass through unchanged; the build's own
/// steps name the profile or folder they were working on.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    // Boxed: fetch, rootfs and emit errors carry URLs, paths and checksums; this enum travels
    // up through every step.
    #[error(transparent)]
    Fetch(Box<FetchError>),
    #[error(transparent)]
    SourceDateEpoch(#[from] epoch::MalformedEpoch),
    #[error("`{}` exists and is not a diskless output", out.display())]
    NotAnOutput { out: PathBuf },
    #[error("`--out {}` would replace {what}", out.display())]
    UnsafeOut { out: PathBuf, what: &'static str },
    #[error(
        "Out of disk space writing the {what} in `{}`{}",
        dir.display(),
        needed.map(|n| format!(" (the build needs about {} there)", crate::fsx::human_bytes(n))).unwrap_or_default()
    )]
    NoSpace {
        what: &'static str,
        /// Where it was writing (the work folder next to `--out`, or the cache).
        dir: PathBuf,
        /// About how many bytes the step needs there.
        needed: Option<u64>,
        #[source]
        source: Box<PlanError>,
    },
    #[error("Cannot create a work folder in `{}`", path.display())]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{nevra}` was not fetched")]
    NotFetched { nevra: String },
    #[error("Invalid customisations in `{}`", profile.display())]
    Customisations {
        profile: PathBuf,
        #[source]
        source: Box<RootfsError>,
    },
    #[error("Cannot assemble the root filesystem of `{}`", profile.display())]
    Assemble {
        profile: PathBuf,
        #[source]
        source: Box<RootfsError>,
    },
    #[error("Cannot make the overlay of host `{host}` (`[[host]]` in `{}`)", profile.display())]
    HostOverlay {
        profile: PathBuf,
        host: String,
        #[source]
        source: Box<RootfsError>,
    },
    #[error("Cannot write the artifacts of `{}`", profile.display())]
    Emit {
        profile: PathBuf,
        #[source]
        source: Box<EmitError>,
    },
    #[error("Cannot move the finished build into `{}`", out.display())]
    Publish {
        out: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<FetchError> for PlanError {
    fn from(e: FetchError) -> PlanError {
        PlanError::Fetch(Box::new(e))
    }
}
