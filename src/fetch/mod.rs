//! Fetch: download the RPMs a lock pins, in parallel, into a content-addressed cache,
//! verifying checksums and signatures.
//!
//! [`fetch_packages`] is the entry point (the plan calls it for `diskless fetch` and `diskless
//! build`, with one [`Want`] per locked package). For each distinct package it looks in the
//! [`Cache`] first; otherwise it downloads from the want's base URL (the one the lock
//! recorded), then the repository's other base URLs, then its mirrorlist or
//! metalink mirrors, retrying transient failures with backoff (`net::retry`). A download
//! streams into a temporary file while its sha256 (and the lock's checksum) are computed; it
//! enters the cache only after the size, the pinned checksum, the RPM's header and payload
//! digests and (unless the profile turned `gpgcheck` off) its signature were verified. So no
//! wrong file ever lands in the cache.
//!
//! `--offline` uses only the cache and names every missing package in one error.

pub mod cache;
pub mod progress;
pub mod verify;

pub use cache::{Cache, CacheError, GcStats};
pub use progress::{Reporter, Silent};
pub use verify::VerifyError;

use crate::net::retry::{self, RetryPolicy, get_small};
use crate::net::{
    KeyError, Keyring, Remote, Timeouts, Transport, TransportError, error_chain, load_keyring,
    mirrors,
};
use crate::package::Checksum;
use cache::{Hasher, Staged};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use thiserror::Error;
use url::Url;

/// One package to fetch: what it is, the pinned checksum and size, and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub name: String,
    pub arch: String,
    /// `name-[epoch:]version-release.arch`, for messages and the progress display.
    pub nevra: String,
    /// The checksum the download must match (any kind repodata uses; sha256 is also
    /// computed for the cache).
    pub checksum: Checksum,
    /// Size of the .rpm in bytes.
    pub size: u64,
    /// Relative to the repository's base URL.
    pub location: String,
    /// The id of its repository (one of the [`Remote`]s given with it).
    pub repo: String,
    /// The base URL `location` is known to work under (the lock records the one that
    /// answered); tried before the repository's other base URLs and mirrors.
    pub baseurl: String,
}

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub cache_dir: PathBuf,
    /// Parallel downloads (at least 1).
    pub jobs: usize,
    /// Use only the cache.
    pub offline: bool,
    /// Master switch for signature checks; a repository's `gpgcheck = false` also turns them
    /// off for that repository.
    pub verify_signatures: bool,
    /// Re-hash cached packages (and re-check their payload digests) instead of trusting the
    /// content-addressed name and size.
    pub verify_cache: bool,
    pub retry: RetryPolicy,
    /// Timeouts for every repository instead of each one's own ([`Remote::timeouts`]).
    pub timeouts: Option<Timeouts>,
}

impl FetchOptions {
    pub fn new(cache_dir: impl Into<PathBuf>) -> FetchOptions {
        FetchOptions {
            cache_dir: cache_dir.into(),
            jobs: default_jobs(),
            offline: false,
            verify_signatures: true,
            verify_cache: false,
            retry: RetryPolicy::default(),
            timeouts: None,
        }
    }
}

/// Downloads are network-bound, not CPU-bound: more than the core count helps, but mirrors
/// frown on dozens of connections from one client.
pub fn default_jobs() -> usize {
    8
}

/// How a package's signature was treated, for the build manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    Verified,
    /// `gpgcheck = false` on its repository, or signatures turned off for the run.
    Disabled,
}

/// A package of the lock, present and verified in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPackage {
    pub nevra: String,
    pub name: String,
    pub arch: String,
    pub repo: String,
    /// The cache entry (read-only: share it, never modify it).
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// Found in the cache (no download this run).
    pub from_cache: bool,
    pub signature: SignatureCheck,
}

/// Why one package could not be fetched.
#[derive(Debug, Error)]
pub enum PackageError {
    #[error("Every source failed:{}", attempts.iter().map(|a| format!("\n    {a}")).collect::<String>())]
    AllSourcesFailed { attempts: Vec<String> },
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The local disk failed while a download was written (a full disk): no mirror helps.
    #[error("Cannot write the download into `{}` (the package cache)", path.display())]
    CacheWrite {
        path: PathBuf,
        #[source]
        source: TransportError,
    },
    #[error("Invalid URL `{url}`")]
    Url { url: String },
    #[error("The package's location leaves its repository: {reason}")]
    Outside { reason: String },
    #[error("Skipped after another package failed")]
    Cancelled,
}

impl FetchError {
    /// A full disk (or quota) caused this failure. Several packages failing together keep
    /// their causes in a list, outside the source chain, and a full disk fails every
    /// download still running: so each is looked at.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            FetchError::Packages { failures } => {
                failures.iter().any(|(_, p)| crate::fsx::is_out_of_space(p))
            }
            _ => crate::fsx::is_out_of_space(self),
        }
    }
}

/// Why a remote repository could not be set up for downloads (its client, its keys).
#[derive(Debug, Error)]
pub enum RemoteError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("Cannot fetch `{nevra}`")]
    Package {
        nevra: String,
        #[source]
        source: PackageError,
    },
    #[error("{} packages could not be fetched:{}", failures.len(), failures.iter().map(|(n, e)| format!("\n  `{n}`: {}", error_chain(e))).collect::<String>())]
    Packages {
        failures: Vec<(String, PackageError)>,
    },
    #[error("Offline, and {} locked package{} not in the cache: {}", missing.len(), if missing.len() == 1 { " is" } else { "s are" }, missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))]
    Offline { missing: Vec<String> },
    #[error("The lock pins `{nevra}` from repository `{repo}`, which the profile does not define")]
    UnknownRepo { nevra: String, repo: String },
    /// Found by the plan when it maps a lock onto [`Want`]s: no base URL to give.
    #[error(
        "The lock pins `{nevra}` from repository `{repo}`, which the lock's `[[repo]]` list lacks"
    )]
    UnlockedRepo { nevra: String, repo: String },
    #[error("Cannot set up repository `{repo}`")]
    Repo {
        repo: String,
        #[source]
        source: RemoteError,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Everything a worker needs about one repository.
struct RepoCtx<'a> {
    repo: &'a Remote,
    /// The wants' base URL first, then the repository's own.
    bases: Vec<String>,
    transport: Option<Transport>,
    keys: Option<Keyring>,
    /// Mirror base URLs, and why a mirrorlist or metalink could not be read.
    mirrors: OnceLock<(Vec<String>, Vec<String>)>,
    opts: &'a FetchOptions,
}

impl RepoCtx<'_> {
    /// Mirrors from the mirrorlist or metalink, resolved on first need (most fetches never
    /// need them: the locked base URL answers).
    fn mirrors(&self) -> &(Vec<String>, Vec<String>) {
        self.mirrors.get_or_init(|| {
            let Some(t) = &self.transport else {
                return (Vec::new(), Vec::new());
            };
            let mut found = Vec::new();
            let mut errors = Vec::new();
            if let Some(ml) = &self.repo.metalink {
                match get_small(t, ml, &self.opts.retry)
                    .map_err(|e| error_chain(&e))
                    .and_then(|b| mirrors::Metalink::parse(&b, ml).map_err(|e| error_chain(&e)))
                {
                    Ok(m) => found.extend(m.baseurls()),
                    Err(e) => errors.push(format!("metalink: {e}")),
                }
            }
            if let Some(ml) = &self.repo.mirrorlist {
                match get_small(t, ml, &self.opts.retry) {
                    Ok(b) => found.extend(mirrors::parse_mirrorlist(&String::from_utf8_lossy(&b))),
                    Err(e) => errors.push(format!("mirrorlist: {}", error_chain(&e))),
                }
            }
            for e in &errors {
                tracing::warn!("repository `{}`: {e}", self.repo.id);
            }
            let mut order = self.bases.clone();
            mirrors::add_unique(&mut order, found, true);
            (order.split_off(self.bases.len()), errors)
        })
    }
}

/// One distinct package to fetch (a file may be wanted twice: image and boot packages).
struct Job<'a> {
    pkg: &'a Want,
    repo: usize,
}

/// Download (or find in the cache) and verify every package of `wants`, `jobs` at a time.
/// Returns the packages in the order of `wants`.
pub fn fetch_packages(
    wants: &[Want],
    repos: &[Remote],
    opts: &FetchOptions,
    reporter: &dyn Reporter,
) -> Result<Vec<FetchedPackage>, FetchError> {
    let cache = Cache::new(&opts.cache_dir);
    let all: Vec<&Want> = wants.iter().collect();

    // Repositories the wants use (with the base URL each names first), each set up once.
    let mut ctx_index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut ctxs: Vec<RepoCtx<'_>> = Vec::new();
    for p in &all {
        cache::check_checksum(&p.checksum)?;
        if ctx_index.contains_key(&(p.repo.as_str(), p.baseurl.as_str())) {
            continue;
        }
        let repo =
            repos
                .iter()
                .find(|r| r.id == p.repo)
                .ok_or_else(|| FetchError::UnknownRepo {
                    nevra: p.nevra.clone(),
                    repo: p.repo.clone(),
                })?;
        let mut bases = vec![with_slash(&p.baseurl)];
        mirrors::add_unique(&mut bases, repo.baseurls.iter().cloned(), true);
        let rerr = |source: RemoteError| FetchError::Repo {
            repo: repo.id.clone(),
            source,
        };
        let transport = if opts.offline {
            None
        } else {
            Some(
                Transport::new(
                    &repo.tls,
                    &repo.proxy,
                    opts.timeouts.unwrap_or(repo.timeouts),
                )
                .map_err(|e| rerr(e.into()))?,
            )
        };
        let keys = if opts.verify_signatures && repo.gpgcheck {
            Some(
                load_keyring(
                    repo,
                    if opts.offline {
                        None
                    } else {
                        transport.as_ref()
                    },
                    &opts.retry,
                    Some(&opts.cache_dir),
                )
                .map_err(|e| rerr(e.into()))?,
            )
        } else {
            None
        };
        ctx_index.insert((&p.repo, &p.baseurl), ctxs.len());
        ctxs.push(RepoCtx {
            repo,
            bases,
            transport,
            keys,
            mirrors: OnceLock::new(),
            opts,
        });
    }

    // Distinct files, keyed by checksum; `slot[i]` maps lock entry i to its job.
    let mut by_sum: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let mut slot: Vec<usize> = Vec::with_capacity(all.len());
    for p in &all {
        let key = (
            p.checksum.kind.clone(),
            p.checksum.value.to_ascii_lowercase(),
        );
        let j = *by_sum.entry(key).or_insert_with(|| {
            jobs.push(Job {
                pkg: p,
                repo: ctx_index[&(p.repo.as_str(), p.baseurl.as_str())],
            });
            jobs.len() - 1
        });
        slot.push(j);
    }

    if opts.offline {
        let mut missing = Vec::new();
        for j in &jobs {
            if cache.lookup(&j.pkg.checksum, j.pkg.size)?.is_none() {
                missing.push(j.pkg.nevra.clone());
            }
        }
        if !missing.is_empty() {
            return Err(FetchError::Offline { missing });
        }
    }

    reporter.on_start(jobs.len(), jobs.iter().map(|j| j.pkg.size).sum());
    let results: Mutex<Vec<Option<Result<FetchedPackage, PackageError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let cancelled = AtomicBool::new(false);
    let workers = opts.jobs.clamp(1, jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let r = if cancelled.load(Ordering::SeqCst) {
                        Err(PackageError::Cancelled)
                    } else {
                        fetch_one(&cache, &ctxs[job.repo], job.pkg, reporter)
                    };
                    if r.is_err() {
                        cancelled.store(true, Ordering::SeqCst);
                    }
                    if let Ok(mut res) = results.lock() {
                        res[i] = Some(r);
                    }
                }
            });
        }
    });
    reporter.on_finish();

    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut done: Vec<Option<FetchedPackage>> = Vec::with_capacity(jobs.len());
    let mut failures = Vec::new();
    for (job, r) in jobs.iter().zip(results) {
        match r {
            Some(Ok(f)) => done.push(Some(f)),
            Some(Err(PackageError::Cancelled)) | None => done.push(None),
            Some(Err(e)) => {
                failures.push((job.pkg.nevra.clone(), e));
                done.push(None);
            }
        }
    }
    if failures.len() == 1 {
        let (nevra, source) = failures.remove(0);
        return Err(FetchError::Package { nevra, source });
    }
    if !failures.is_empty() {
        return Err(FetchError::Packages { failures });
    }
    let mut out = Vec::with_capacity(all.len());
    for (p, j) in all.iter().zip(slot) {
        let Some(f) = &done[j] else {
            return Err(FetchError::Package {
                nevra: p.nevra.clone(),
                source: PackageError::Cancelled,
            });
        };
        // A file pinned twice (e.g. image and boot) is reported under each entry's own name.
        out.push(FetchedPackage {
            nevra: p.nevra.clone(),
            name: p.name.clone(),
            arch: p.arch.clone(),
            repo: p.repo.clone(),
            ..f.clone()
        });
    }
    Ok(out)
}

fn with_slash(base: &str) -> String {
    if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    }
}

/// Writes to the staged file while hashing.
struct HashingWriter<'a> {
    out: std::io::BufWriter<&'a mut std::fs::File>,
    sha256: Hasher,
    lock_kind: Option<Hasher>,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sha256.update(&buf[..n]);
        if let Some(h) = self.lock_kind.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn fetch_one(
    cache: &Cache,
    ctx: &RepoCtx<'_>,
    pkg: &Want,
    reporter: &dyn Reporter,
) -> Result<FetchedPackage, PackageError> {
    let nevra = pkg.nevra.clone();
    let opts = ctx.opts;
    let signature = if ctx.keys.is_some() {
        SignatureCheck::Verified
    } else {
        SignatureCheck::Disabled
    };
    let fetched = |path: PathBuf, sha256: String, from_cache: bool| FetchedPackage {
        nevra: nevra.clone(),
        name: pkg.name.clone(),
        arch: pkg.arch.clone(),
        repo: pkg.repo.clone(),
        path,
        sha256,
        size: pkg.size,
        from_cache,
        signature,
    };

    if let Some(path) = cache.lookup(&pkg.checksum, pkg.size)? {
        let sha = cache.sha256_of(&pkg.checksum)?.unwrap_or_default();
        let intact = !opts.verify_cache || cache.rehash_ok(&path, &sha)?;
        if intact {
            // Cheap: the header only, unless --verify-cache asks for the payload too. The
            // keys may have changed since the entry was stored, so the signature is
            // checked on every use.
            match verify::verify_rpm(
                &path,
                &nevra,
                &ctx.repo.id,
                ctx.keys.as_ref(),
                opts.verify_cache,
            ) {
                Ok(()) => {
                    reporter.on_cached(&nevra, pkg.size);
                    return Ok(fetched(path, sha, true));
                }
                // Facts about the package, not damage to the entry: a download would give
                // the same bytes.
                Err(e @ (VerifyError::UnknownKey { .. } | VerifyError::Unsigned { .. })) => {
                    return Err(e.into());
                }
                // A digest or signature that no longer matches means the entry changed
                // after it was verified and stored: fetch it again (and verify it fully).
                Err(e) => tracing::warn!("{e}"),
            }
        }
        tracing::warn!(
            "cache entry `{}` of `{nevra}` is corrupt: downloading it again",
            path.display()
        );
        cache.remove(&path)?;
    }
    if opts.offline {
        return Err(PackageError::AllSourcesFailed {
            attempts: vec!["offline: not in the cache".into()],
        });
    }
    let Some(transport) = &ctx.transport else {
        return Err(PackageError::AllSourcesFailed {
            attempts: vec!["no transport".into()],
        });
    };

    let known_sha = cache.sha256_of(&pkg.checksum)?;
    let mut staged = cache.stage(known_sha.as_deref())?;
    let mut attempts: Vec<String> = Vec::new();
    let mut bi = 0;
    loop {
        let base = if bi < ctx.bases.len() {
            ctx.bases[bi].clone()
        } else {
            let (m, errors) = ctx.mirrors();
            match m.get(bi - ctx.bases.len()) {
                Some(b) => b.clone(),
                None => {
                    attempts.extend(errors.iter().cloned());
                    break;
                }
            }
        };
        bi += 1;
        let bad_url = || PackageError::Url {
            url: format!("{base}{}", pkg.location),
        };
        let base_url = Url::parse(&base).map_err(|_| bad_url())?;
        let url = base_url.join(&pkg.location).map_err(|_| bad_url())?;
        // A lock (or a mirror's metadata) cannot point a package at a host file.
        crate::net::check_within(&base_url, &url)
            .map_err(|reason| PackageError::Outside { reason })?;
        match try_url(
            transport,
            &url,
            pkg,
            &mut staged,
            &opts.retry,
            &nevra,
            reporter,
        ) {
            Ok(sha256) => {
                verify::verify_rpm(staged.path(), &nevra, &ctx.repo.id, ctx.keys.as_ref(), true)?;
                let extra = (pkg.checksum.kind != "sha256").then_some(&pkg.checksum);
                let path = cache.commit(staged, &sha256, extra)?;
                reporter.on_done(&nevra, pkg.size);
                return Ok(fetched(path, sha256, false));
            }
            Err(Failure::Local(source)) => {
                return Err(PackageError::CacheWrite {
                    path: staged.path().to_path_buf(),
                    source,
                });
            }
            Err(Failure::Mirror(msgs)) => {
                for m in msgs {
                    reporter.on_retry(&nevra, url.as_str(), &m);
                    attempts.push(m);
                }
            }
        }
    }
    Err(PackageError::AllSourcesFailed { attempts })
}

enum Failure {
    /// The local disk failed: stop.
    Local(TransportError),
    /// This URL failed for good (after retries): one message per attempt.
    Mirror(Vec<String>),
}

/// Download `url` into `staged` with retries; returns the sha256 when the bytes match the lock.
fn try_url(
    t: &Transport,
    url: &Url,
    pkg: &Want,
    staged: &mut Staged,
    policy: &RetryPolicy,
    nevra: &str,
    reporter: &dyn Reporter,
) -> Result<String, Failure> {
    let mut msgs = Vec::new();
    let attempts = policy.attempts.max(1);
    let mut timeouts = 0;
    for attempt in 1..=attempts {
        if let Err(e) = staged.reset() {
            return Err(Failure::Local(TransportError::Write {
                url: url.to_string(),
                source: std::io::Error::other(e.to_string()),
            }));
        }
        let lock_kind = if pkg.checksum.kind == "sha256" {
            None
        } else {
            Some(
                Hasher::new(&pkg.checksum.kind)
                    .map_err(|e| Failure::Mirror(vec![e.to_string()]))?,
            )
        };
        let sha256 = Hasher::new("sha256").map_err(|e| Failure::Mirror(vec![e.to_string()]))?;
        reporter.on_download_start(nevra, url.as_str());
        let mut reported = 0u64;
        let outcome = {
            let mut w = HashingWriter {
                out: std::io::BufWriter::with_capacity(256 * 1024, staged.writer()),
                sha256,
                lock_kind,
            };
            let r = t.download(url, Some(pkg.size), &mut w, &mut |n| {
                reported += n;
                reporter.on_progress(n);
            });
            match r.and_then(|_| {
                w.flush().map_err(|source| TransportError::Write {
                    url: url.to_string(),
                    source,
                })?;
                Ok(())
            }) {
                Ok(()) => Ok((w.sha256.finish_hex(), w.lock_kind.map(Hasher::finish_hex))),
                Err(e) => Err(e),
            }
        };
        match outcome {
            Ok((sha256, lock_hex)) => {
                let actual = lock_hex.unwrap_or_else(|| sha256.clone());
                if actual.eq_ignore_ascii_case(&pkg.checksum.value) {
                    return Ok(sha256);
                }
                reporter.on_discard(reported);
                // The mirror served other bytes than the lock pins: asking it again would
                // give the same bytes; the next mirror may have the right file.
                msgs.push(format!(
                    "Checksum mismatch for `{nevra}` from `{url}` (expected {}:{}, got {}:{actual})",
                    pkg.checksum.kind, pkg.checksum.value, pkg.checksum.kind
                ));
                return Err(Failure::Mirror(msgs));
            }
            Err(e) => {
                reporter.on_discard(reported);
                if e.is_local() {
                    return Err(Failure::Local(e));
                }
                msgs.push(error_chain(&e));
                timeouts += u32::from(retry::is_timeout(&e));
                if retry::again(policy, attempt, timeouts, &e) {
                    std::thread::sleep(policy.delay(attempt));
                    continue;
                }
                return Err(Failure::Mirror(msgs));
            }
        }
    }
    Err(Failure::Mirror(msgs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_disk(n: &str) -> (String, PackageError) {
        let source = TransportError::Write {
            url: format!("file:///repo/{n}.rpm"),
            source: std::io::Error::from_raw_os_error(28),
        };
        let path = PathBuf::from(format!("/cache/.tmp-{n}"));
        (n.to_string(), PackageError::CacheWrite { path, source })
    }

    // CI once saw two downloads hit the full disk together: the batch error must still
    // read as a full disk, or the hint (and the build's `NoSpace`) is lost.
    #[test]
    fn a_batch_with_a_full_disk_is_out_of_space() {
        let one = FetchError::Package {
            nevra: "a".into(),
            source: full_disk("a").1,
        };
        assert!(one.is_out_of_space());
        let failures = vec![
            ("b".to_string(), PackageError::Cancelled),
            full_disk("a"),
            full_disk("c"),
        ];
        assert!(FetchError::Packages { failures }.is_out_of_space());
        let failures = vec![("b".to_string(), PackageError::Cancelled)];
        assert!(!FetchError::Packages { failures }.is_out_of_space());
    }
}
