//! `diskless fetch`: download (and verify) every package `<profile>.lock` pins into the cache.
//! Also the progress display every downloading command uses: one indicatif bar (package
//! count, bytes, rate) on a terminal, plain lines when stderr is not a terminal, nothing
//! under `-q`.

use super::GlobalArgs;
use clap::Args;
use diskless::fetch::{self, FetchOptions, Reporter};
use diskless::plan::{Plan, inputs};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The profile whose lock to fetch
    pub profile: PathBuf,
    /// Parallel downloads
    #[arg(short, long, default_value_t = fetch::default_jobs())]
    pub jobs: usize,
    /// Re-hash every cached package used (instead of trusting its content-addressed name)
    #[arg(long)]
    pub verify_cache: bool,
}

pub fn run(args: FetchArgs, g: &GlobalArgs) -> anyhow::Result<()> {
    let (lock, repos) = load_inputs(&args.profile)?;
    let mut opts = FetchOptions::new(g.cache_dir());
    opts.jobs = args.jobs.max(1);
    opts.offline = g.offline;
    opts.verify_cache = args.verify_cache;
    let reporter = reporter(g.quiet);
    let got = fetch_with_hints(&lock, &repos, &opts, reporter.as_ref())?;
    let unsigned: Vec<&str> = got
        .iter()
        .filter(|p| p.signature == fetch::SignatureCheck::Disabled)
        .map(|p| p.repo.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !unsigned.is_empty() {
        tracing::warn!(
            "signatures were not checked for repositories with gpgcheck off: {}",
            unsigned
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// The lock next to `profile` and the profile's repositories as fetch sees them. The lock
/// must be fresh: the packages of a stale lock may not be what the profile asks for.
pub fn load_inputs(
    profile: &std::path::Path,
) -> anyhow::Result<(diskless::lock::Lockfile, Vec<diskless::net::Remote>)> {
    use super::hint::HintExt;
    use diskless::lock::LockError;
    let plan = Plan::new(diskless::profile::load(profile)?);
    let lock = match plan.read_lock() {
        Ok(l) => l,
        Err(e @ (LockError::Missing { .. } | LockError::Stale { .. })) => {
            return Err(e).hint(format!("run `diskless lock {}` first", profile.display()));
        }
        Err(e) => return Err(e.into()),
    };
    Ok((lock, inputs::remotes(&plan.profile)))
}

/// [`diskless::plan::fetch_lock`] with `hint:` lines for the errors a user can fix.
pub fn fetch_with_hints(
    lock: &diskless::lock::Lockfile,
    repos: &[diskless::net::Remote],
    opts: &FetchOptions,
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<fetch::FetchedPackage>> {
    diskless::plan::fetch_lock(lock, repos, opts, reporter).map_err(|e| match hint_for(&e) {
        Some(h) => super::hint::hint(e, h),
        None => e.into(),
    })
}

/// The hint for a fetch error the user can fix.
pub fn hint_for(e: &fetch::FetchError) -> Option<&'static str> {
    use fetch::{FetchError, PackageError, VerifyError};
    match e {
        FetchError::Offline { .. } => {
            Some("run once without `--offline` (or `diskless fetch PROFILE`) to fill the cache")
        }
        FetchError::UnknownRepo { .. } | FetchError::UnlockedRepo { .. } => {
            Some("the lock is out of date with the profile: run `diskless lock PROFILE`")
        }
        FetchError::Package {
            source: PackageError::Verify(VerifyError::UnknownKey { .. }),
            ..
        } => Some(
            "add the repository's signing key to its `gpgkey` list, or check where the package came from",
        ),
        FetchError::Package {
            source: PackageError::AllSourcesFailed { .. },
            ..
        } => Some(
            "check the network, the proxy variables and the repository URLs; the lock may pin packages the mirrors have dropped (`diskless lock --update`)",
        ),
        _ => None,
    }
}

/// The reporter for this run: a bar on a terminal, lines otherwise, silent under `-q`.
pub fn reporter(quiet: u8) -> Box<dyn Reporter> {
    if quiet > 0 {
        Box::new(fetch::Silent)
    } else if super::logging::show_progress(quiet) {
        Box::new(BarReporter::new())
    } else {
        Box::new(LineReporter::new())
    }
}

/// `1.5 MiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Counts shared by both displays, and the closing summary line.
struct Tally {
    total: AtomicUsize,
    done: AtomicUsize,
    downloaded: AtomicUsize,
    bytes: AtomicU64,
    started: Mutex<Option<Instant>>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            downloaded: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            started: Mutex::new(None),
        }
    }
    fn summary(&self) -> String {
        let secs = self
            .started
            .lock()
            .ok()
            .and_then(|s| s.map(|t| t.elapsed().as_secs_f64()))
            .unwrap_or(0.0);
        let bytes = self.bytes.load(Ordering::SeqCst);
        let dl = self.downloaded.load(Ordering::SeqCst);
        let done = self.done.load(Ordering::SeqCst);
        let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
        let total = self.total.load(Ordering::SeqCst);
        if dl == 0 && done == total {
            return format!("{done} of {total} packages ready (all from the cache)");
        }
        format!(
            "{done} of {total} packages ready ({dl} downloaded, {} cached): {} in {secs:.1} s ({}/s)",
            done.saturating_sub(dl),
            human_bytes(bytes),
            human_bytes(rate as u64)
        )
    }
}

struct BarReporter {
    bar: ProgressBar,
    tally: Tally,
}

impl BarReporter {
    fn new() -> BarReporter {
        let bar = ProgressBar::hidden();
        BarReporter {
            bar,
            tally: Tally::new(),
        }
    }
    fn message(&self) {
        self.bar.set_message(format!(
            "{}/{} packages",
            self.tally.done.load(Ordering::SeqCst),
            self.tally.total.load(Ordering::SeqCst)
        ));
    }
}

impl Reporter for BarReporter {
    fn on_start(&self, total_pkgs: usize, total_bytes: u64) {
        self.tally.total.store(total_pkgs, Ordering::SeqCst);
        if let Ok(mut s) = self.tally.started.lock() {
            *s = Some(Instant::now());
        }
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.bar.set_length(total_bytes);
        let style = ProgressStyle::with_template(
            "{spinner} {msg:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        self.bar.set_style(style);
        self.message();
    }
    fn on_cached(&self, _nevra: &str, size: u64) {
        self.tally.done.fetch_add(1, Ordering::SeqCst);
        self.bar.inc(size);
        self.message();
    }
    fn on_progress(&self, bytes: u64) {
        self.tally.bytes.fetch_add(bytes, Ordering::SeqCst);
        self.bar.inc(bytes);
    }
    fn on_discard(&self, bytes: u64) {
        self.tally.bytes.fetch_sub(
            bytes.min(self.tally.bytes.load(Ordering::SeqCst)),
            Ordering::SeqCst,
        );
        self.bar
            .set_position(self.bar.position().saturating_sub(bytes));
    }
    fn on_retry(&self, nevra: &str, _url: &str, reason: &str) {
        self.bar.suspend(|| tracing::warn!("{nevra}: {reason}"));
    }
    fn on_done(&self, _nevra: &str, _size: u64) {
        self.tally.done.fetch_add(1, Ordering::SeqCst);
        self.tally.downloaded.fetch_add(1, Ordering::SeqCst);
        self.message();
    }
    fn on_finish(&self) {
        self.bar.finish_and_clear();
        eprintln!("{}", self.tally.summary());
    }
}

/// For logs (CI): a line per downloaded package and per retry, and a summary.
struct LineReporter {
    tally: Tally,
}

impl LineReporter {
    fn new() -> LineReporter {
        LineReporter {
            tally: Tally::new(),
        }
    }
}

impl Reporter for LineReporter {
    fn on_start(&self, total_pkgs: usize, total_bytes: u64) {
        self.tally.total.store(total_pkgs, Ordering::SeqCst);
        if let Ok(mut s) = self.tally.started.lock() {
            *s = Some(Instant::now());
        }
        eprintln!(
            "Fetching {total_pkgs} package{} ({})",
            if total_pkgs == 1 { "" } else { "s" },
            human_bytes(total_bytes)
        );
    }
    fn on_cached(&self, _nevra: &str, _size: u64) {
        self.tally.done.fetch_add(1, Ordering::SeqCst);
    }
    fn on_progress(&self, bytes: u64) {
        self.tally.bytes.fetch_add(bytes, Ordering::SeqCst);
    }
    fn on_discard(&self, bytes: u64) {
        self.tally.bytes.fetch_sub(
            bytes.min(self.tally.bytes.load(Ordering::SeqCst)),
            Ordering::SeqCst,
        );
    }
    fn on_retry(&self, nevra: &str, _url: &str, reason: &str) {
        eprintln!("  retrying `{nevra}`: {reason}");
    }
    fn on_done(&self, nevra: &str, size: u64) {
        let done = self.tally.done.fetch_add(1, Ordering::SeqCst) + 1;
        self.tally.downloaded.fetch_add(1, Ordering::SeqCst);
        eprintln!(
            "  [{done}/{}] {nevra} ({})",
            self.tally.total.load(Ordering::SeqCst),
            human_bytes(size)
        );
    }
    fn on_finish(&self) {
        eprintln!("{}", self.tally.summary());
    }
}
