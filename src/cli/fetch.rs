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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    let (lock, repos) = load_inputs(&args.profile, g)?;
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
    g: &GlobalArgs,
) -> anyhow::Result<(diskless::lock::Lockfile, Vec<diskless::net::Remote>)> {
    use super::hint::HintExt;
    use diskless::lock::LockError;
    let plan = Plan::new(super::lock::load_profile(profile, g)?);
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
    if e.is_out_of_space() {
        return Some(
            "free space in the cache, or put it on another file system with `--cache-dir` (`diskless cache gc LOCK…` drops packages no lock needs)",
        );
    }
    if not_writable(e) {
        return Some(
            "the cache is not writable here: point `--cache-dir` (or DISKLESS_CACHE_DIR) at a writable folder; a read-only cache serves the packages it holds as they are",
        );
    }
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

/// A cache error whose cause is a folder this user may not write (a read-only mount, a
/// shared cache owned by someone else).
fn not_writable(e: &fetch::FetchError) -> bool {
    use fetch::{CacheError, FetchError, PackageError};
    let denied = |c: &CacheError| {
        matches!(c, CacheError::Io { source, .. } if matches!(
            source.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
        ))
    };
    match e {
        FetchError::Cache(c) => denied(c),
        FetchError::Package {
            source: PackageError::Cache(c),
            ..
        } => denied(c),
        FetchError::Packages { failures } => failures
            .iter()
            .any(|(_, p)| matches!(p, PackageError::Cache(c) if denied(c))),
        _ => false,
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
    diskless::fsx::human_bytes(b)
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
    /// `3/10 packages`.
    fn packages(&self) -> String {
        format!(
            "{}/{} packages",
            self.done.load(Ordering::SeqCst),
            self.total.load(Ordering::SeqCst)
        )
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

/// Notices when no bytes have arrived for a while and says whom the downloads wait for: a
/// mirror that accepts and then says nothing is otherwise a frozen progress line (it ends
/// after the read timeout, `--read-timeout`).
struct Watch {
    state: Arc<WatchState>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct WatchState {
    /// The last byte, or the start of the latest attempt.
    last: Mutex<Instant>,
    /// The host of the latest attempt.
    host: Mutex<String>,
    stop: AtomicBool,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            state: Arc::new(WatchState {
                last: Mutex::new(Instant::now()),
                host: Mutex::new(String::new()),
                stop: AtomicBool::new(false),
            }),
            thread: Mutex::new(None),
        }
    }

    /// Call `show(Some((host, seconds)))` every `tick` while nothing arrived for `after`
    /// or more, and `show(None)` once bytes flow again.
    fn start(
        &self,
        tick: Duration,
        after: Duration,
        show: impl Fn(Option<(&str, u64)>) + Send + 'static,
    ) {
        let st = self.state.clone();
        let handle = std::thread::spawn(move || {
            let mut waiting = false;
            while !st.stop.load(Ordering::SeqCst) {
                // Parked, not asleep: `stop` unparks it, so finishing never waits a tick.
                std::thread::park_timeout(tick);
                let silent = st.last.lock().map(|l| l.elapsed()).unwrap_or_default();
                if silent >= after {
                    let host = st.host.lock().map(|h| h.clone()).unwrap_or_default();
                    if !host.is_empty() && !st.stop.load(Ordering::SeqCst) {
                        show(Some((&host, silent.as_secs())));
                        waiting = true;
                    }
                } else if waiting {
                    show(None);
                    waiting = false;
                }
            }
        });
        if let Ok(mut t) = self.thread.lock() {
            *t = Some(handle);
        }
    }

    fn attempt(&self, url: &str) {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .unwrap_or_else(|| url.to_owned());
        if let Ok(mut h) = self.state.host.lock() {
            *h = host;
        }
        self.activity();
    }

    fn activity(&self) {
        if let Ok(mut l) = self.state.last.lock() {
            *l = Instant::now();
        }
    }

    fn stop(&self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

struct BarReporter {
    bar: ProgressBar,
    tally: Arc<Tally>,
    watch: Watch,
}

impl BarReporter {
    fn new() -> BarReporter {
        let bar = ProgressBar::hidden();
        BarReporter {
            bar,
            tally: Arc::new(Tally::new()),
            watch: Watch::new(),
        }
    }
    fn message(&self) {
        self.bar.set_message(self.tally.packages());
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
        let (bar, tally) = (self.bar.clone(), self.tally.clone());
        self.watch.start(
            Duration::from_millis(500),
            Duration::from_secs(2),
            move |w| match w {
                Some((host, secs)) => bar.set_message(format!("waiting for {host} ({secs} s)")),
                None => bar.set_message(tally.packages()),
            },
        );
    }
    fn on_download_start(&self, _nevra: &str, url: &str) {
        self.watch.attempt(url);
    }
    fn on_cached(&self, _nevra: &str, size: u64) {
        self.tally.done.fetch_add(1, Ordering::SeqCst);
        self.bar.inc(size);
        self.message();
    }
    fn on_progress(&self, bytes: u64) {
        self.watch.activity();
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
        self.watch.stop();
        self.bar.finish_and_clear();
        eprintln!("{}", self.tally.summary());
    }
}

/// For logs (CI): a line per downloaded package and per retry, and a summary.
struct LineReporter {
    tally: Tally,
    watch: Watch,
}

impl LineReporter {
    fn new() -> LineReporter {
        LineReporter {
            tally: Tally::new(),
            watch: Watch::new(),
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
        // A log gets a line per 5 s of silence, not a line per tick.
        let last = Mutex::new(0u64);
        self.watch.start(
            Duration::from_millis(500),
            Duration::from_secs(5),
            move |w| {
                if let (Some((host, secs)), Ok(mut l)) = (w, last.lock()) {
                    let step = secs / 5 * 5;
                    if step > *l {
                        *l = step;
                        eprintln!("  waiting for {host} ({step} s)");
                    }
                } else if let Ok(mut l) = last.lock() {
                    *l = 0;
                }
            },
        );
    }
    fn on_download_start(&self, _nevra: &str, url: &str) {
        self.watch.attempt(url);
    }
    fn on_cached(&self, _nevra: &str, _size: u64) {
        self.tally.done.fetch_add(1, Ordering::SeqCst);
    }
    fn on_progress(&self, bytes: u64) {
        self.watch.activity();
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
        self.watch.stop();
        eprintln!("{}", self.tally.summary());
    }
}
