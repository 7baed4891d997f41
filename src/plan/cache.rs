//! The cache folder as a whole: what each kind of piece is, the build records that make
//! pieces reachable from a lock, `diskless cache info` (sizes per kind) and
//! `diskless cache gc` (what no given lock reaches and nothing used lately).
//!
//! ```text
//! <cache>/packages/   RPMs by sha256                      (fetch)   kept: a given lock pins it
//! <cache>/extracted/  payload manifests by RPM sha256     (rootfs)  kept: its RPM is kept
//! <cache>/store/      file contents by sha256             (rootfs)  kept: a kept manifest or a
//!                                                                   given lock's build uses it,
//!                                                                   or written within max-age
//! <cache>/depmod/     kernel module facts by module set   (rootfs)  kept: used within max-age
//! <cache>/segments/   compressed initramfs segments       (emit)    kept: a given lock's build
//!                                                                   uses it, or used within max-age
//! <cache>/builds/     build records by lock sha256        (plan)    kept: for a given lock, or
//!                                                                   written within max-age
//! <cache>/parsed/     parsed repository metadata          (repo)    kept: used within max-age
//! <cache>/resolved/   resolutions by repository state     (plan)    kept: used within max-age
//! <cache>/repodata/   downloaded repository metadata      (repo)    kept: used within max-age
//! <cache>/repos/, keys/  last repomd.xml, mirror lists, keys (small; never collected)
//! ```
//!
//! A build record (`builds/<sha256 of the lock file>`) lists the segments and the store
//! contents of the last build made from that lock, so `gc LOCK` keeps exactly what
//! rebuilding it needs. What no lock can name (parsed metadata, module facts, a segment of
//! a profile not given) goes by age: "used" is the file's mtime, set when it is written or
//! reused. Temporary files older than a day are left-overs of killed processes and go
//! too. Garbage collection is not meant to run while a build on the same cache does: a
//! build that loses a piece it counted on fails (or, for a manifest, reads its package
//! again); nothing wrong is ever built.

use super::inputs;
use crate::cas;
use crate::emit::segments::SegmentCache;
use crate::fetch::{self, CacheError};
use crate::lock::Lockfile;
use crate::repo;
use crate::rootfs::depmod;
use crate::rootfs::extract::{MANIFESTS_DIR, Manifests};
use crate::rootfs::store::STORE_DIR;
use crate::rootfs::tree::{EntryKind, Tree};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The initramfs segments' folder in the cache.
pub const SEGMENTS_DIR: &str = "segments";
/// The build records' folder in the cache.
pub const BUILDS_DIR: &str = "builds";

const RECORD_KIND: [u8; 4] = *b"bldr";
const RECORD_VERSION: u32 = 1;

/// What one build used: enough to keep, through `gc`, what rebuilding it needs.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct BuildRecord {
    /// Segment keys (hex).
    segments: Vec<String>,
    /// Contents of every regular file of the tree.
    contents: Vec<[u8; 32]>,
}

fn lock_key(lock_bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(lock_bytes))
}

/// Record what the build of the lock `lock_bytes` used. Failures are logged only: a missing
/// record makes `gc` collect by age, nothing more.
pub fn record_build(cache_dir: &Path, lock_bytes: &[u8], tree: &Tree, segments: &[String]) {
    let contents: BTreeSet<[u8; 32]> = tree
        .entries
        .values()
        .filter_map(|e| match &e.kind {
            EntryKind::File { digest, .. } => Some(digest.0),
            _ => None,
        })
        .collect();
    let record = BuildRecord {
        segments: segments.to_vec(),
        contents: contents.into_iter().collect(),
    };
    let dir = cas::Dir::new(cache_dir.join(BUILDS_DIR));
    let written = postcard::to_allocvec(&record)
        .map_err(std::io::Error::other)
        .and_then(|body| dir.put_sealed(&lock_key(lock_bytes), RECORD_KIND, RECORD_VERSION, &body));
    if let Err(e) = written {
        tracing::warn!(
            "cannot write the build record in `{}`: {e}",
            dir.root().display()
        );
    }
}

fn read_record(cache_dir: &Path, lock_bytes: &[u8]) -> Option<BuildRecord> {
    let dir = cas::Dir::new(cache_dir.join(BUILDS_DIR));
    let body = dir.get_sealed(&lock_key(lock_bytes), RECORD_KIND, RECORD_VERSION)?;
    postcard::from_bytes(&body).ok()
}

/// A kind of piece in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Packages,
    Extracted,
    Store,
    Depmod,
    Segments,
    Builds,
    Parsed,
    Resolved,
    Repodata,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Packages,
        Kind::Extracted,
        Kind::Store,
        Kind::Depmod,
        Kind::Segments,
        Kind::Builds,
        Kind::Parsed,
        Kind::Resolved,
        Kind::Repodata,
        Kind::Other,
    ];

    /// Its folder under the cache (`Other` is every other folder).
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Packages => "packages",
            Kind::Extracted => MANIFESTS_DIR,
            Kind::Store => STORE_DIR,
            Kind::Depmod => depmod::MEMO_DIR,
            Kind::Segments => SEGMENTS_DIR,
            Kind::Builds => BUILDS_DIR,
            Kind::Parsed => repo::parsed::DIR,
            Kind::Resolved => super::resolve::MEMO_DIR,
            Kind::Repodata => "repodata",
            Kind::Other => "",
        }
    }

    /// Its name in reports: the folder, `other` for the rest.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Other => "other",
            k => k.dir(),
        }
    }

    /// What it holds, for `cache info`.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Packages => "RPM files",
            Kind::Extracted => "payload manifests",
            Kind::Store => "file contents",
            Kind::Depmod => "kernel module facts",
            Kind::Segments => "initramfs segments",
            Kind::Builds => "build records",
            Kind::Parsed => "parsed repository metadata",
            Kind::Resolved => "resolutions by repository state",
            Kind::Repodata => "downloaded repository metadata",
            Kind::Other => "repomd.xml copies, mirror lists, keys",
        }
    }
}

/// Files and bytes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub files: u64,
    pub bytes: u64,
}

impl Usage {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Files and bytes under `dir` (recursively; symlinks not followed; missing is empty).
fn du(dir: &Path) -> Result<Usage, CacheError> {
    let mut u = Usage::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&d)(e)),
        };
        for e in rd {
            let e = e.map_err(io_err(&d))?;
            let m = std::fs::symlink_metadata(e.path()).map_err(io_err(&d))?;
            if m.is_dir() {
                stack.push(e.path());
            } else {
                u.add(m.len());
            }
        }
    }
    Ok(u)
}

/// Sizes per kind (`diskless cache info`).
pub fn info(cache_dir: &Path) -> Result<Vec<(Kind, Usage)>, CacheError> {
    let known: BTreeSet<&str> = Kind::ALL.iter().map(|k| k.dir()).collect();
    let mut out = Vec::new();
    for k in Kind::ALL {
        let u = if k == Kind::Other {
            let mut u = Usage::default();
            let rd = match std::fs::read_dir(cache_dir) {
                Ok(rd) => Some(rd),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err(cache_dir)(e)),
            };
            for e in rd.into_iter().flatten() {
                let e = e.map_err(io_err(cache_dir))?;
                let name = e.file_name().to_string_lossy().into_owned();
                if !known.contains(name.as_str()) {
                    let m = std::fs::symlink_metadata(e.path()).map_err(io_err(cache_dir))?;
                    let sub = if m.is_dir() {
                        du(&e.path())?
                    } else {
                        Usage {
                            files: 1,
                            bytes: m.len(),
                        }
                    };
                    u.files += sub.files;
                    u.bytes += sub.bytes;
                }
            }
            u
        } else {
            du(&cache_dir.join(k.dir()))?
        };
        out.push((k, u));
    }
    Ok(out)
}

/// A lock to keep what it reaches: the lockfile and its bytes (the build record's key).
pub struct KeepLock {
    pub lock: Lockfile,
    pub bytes: Vec<u8>,
}

/// What `gc` removed (or would remove), per kind.
pub type GcReport = Vec<(Kind, Usage)>;

/// Remove what `locks` do not reach and was not used within `max_age` (see the module
/// documentation); with `dry_run`, only count it.
pub fn gc(
    cache_dir: &Path,
    locks: &[KeepLock],
    max_age: Duration,
    dry_run: bool,
) -> Result<GcReport, CacheError> {
    let packages = fetch::Cache::new(cache_dir);
    let mut keep_rpms = BTreeSet::new();
    for l in locks {
        keep_rpms.extend(inputs::cache_keep(&packages, &l.lock)?);
    }
    let now = SystemTime::now();
    let young = |m: Option<SystemTime>, age: Duration| {
        m.and_then(|m| now.duration_since(m).ok())
            .is_none_or(|a| a <= age)
    };
    let mut report: GcReport = Vec::new();

    let pk = packages.gc(&keep_rpms, dry_run)?;
    report.push((
        Kind::Packages,
        Usage {
            files: pk.files,
            bytes: pk.bytes,
        },
    ));

    // Reachability: kept packages' manifests, and the given locks' build records.
    let manifests = Manifests::new(cas::Dir::new(cache_dir.join(MANIFESTS_DIR)));
    let mut keep_contents: BTreeSet<String> = BTreeSet::new();
    for sha in &keep_rpms {
        for d in manifests.referenced(sha).unwrap_or_default() {
            keep_contents.insert(d.to_hex());
        }
    }
    let mut keep_segments: BTreeSet<String> = BTreeSet::new();
    let mut keep_records: BTreeSet<String> = BTreeSet::new();
    for l in locks {
        keep_records.insert(lock_key(&l.bytes));
        if let Some(r) = read_record(cache_dir, &l.bytes) {
            keep_segments.extend(r.segments);
            keep_contents.extend(r.contents.iter().map(hex::encode));
        }
    }

    let mut sweep = |kind: Kind, keep: &dyn Fn(&cas::Item) -> bool| -> Result<(), CacheError> {
        let dir = cas::Dir::new(cache_dir.join(kind.dir()));
        let mut u = Usage::default();
        for item in dir.scan().map_err(io_err(dir.root()))? {
            let remove = if item.temporary {
                !young(item.modified, cas::STALE_TEMP)
            } else {
                !keep(&item)
            };
            if remove {
                if !dry_run {
                    match std::fs::remove_file(&item.path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(io_err(&item.path)(e));
                        }
                        _ => {}
                    }
                }
                u.add(item.bytes);
            }
        }
        report.push((kind, u));
        Ok(())
    };
    sweep(Kind::Extracted, &|i| keep_rpms.contains(&i.key))?;
    sweep(Kind::Store, &|i| {
        keep_contents.contains(&i.key) || young(i.modified, max_age)
    })?;
    sweep(Kind::Depmod, &|i| young(i.modified, max_age))?;
    sweep(Kind::Segments, &|i| {
        keep_segments.contains(&i.key) || young(i.modified, max_age)
    })?;
    sweep(Kind::Builds, &|i| {
        keep_records.contains(&i.key) || young(i.modified, max_age)
    })?;
    sweep(Kind::Parsed, &|i| young(i.modified, max_age))?;
    sweep(Kind::Resolved, &|i| young(i.modified, max_age))?;
    report.push((
        Kind::Repodata,
        repo::cache::gc_metadata(cache_dir, max_age, dry_run)
            .map_err(|source| CacheError::Io {
                path: cache_dir.join(Kind::Repodata.dir()),
                source,
            })
            .map(|(files, bytes)| Usage { files, bytes })?,
    ));
    Ok(report)
}

/// The segment cache of a cache folder.
pub fn segment_cache(cache_dir: &Path) -> SegmentCache {
    SegmentCache::new(cache_dir.join(SEGMENTS_DIR))
}

/// `<cache>/<kind>`, for messages.
pub fn kind_path(cache_dir: &Path, kind: Kind) -> PathBuf {
    cache_dir.join(kind.dir())
}
