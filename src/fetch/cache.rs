//! The package cache: content-addressed by sha256 under `<cache_dir>/packages/sha256/ab/cdef…`
//! (the first two hex digits name a directory, the other 62 the file).
//!
//! Writes are atomic: a download goes to a temporary file in the entry's own directory, is
//! verified, fsynced and renamed into place, and the directory is fsynced. Two builds
//! sharing one cache therefore never see a half file, and racing writers of one entry both
//! succeed (they rename identical bytes over each other).
//!
//! Trust rule: an entry is only ever created after its full sha256 (and the lock's checksum,
//! the RPM's own digests and, when on, its signature) were checked, so the name is the
//! content hash. Reading an entry for a build checks only its size against the lock (cheap)
//! plus, when signatures are on, the header signature (reads only the header); it does not
//! re-hash the file. `--verify-cache` re-hashes every entry used and replaces a corrupt one.
//! A wrong size is treated as corruption: the entry is removed and downloaded again.
//!
//! Locks whose checksums are not sha256 (old repositories use sha1 or sha512) reach the
//! entry through an alias file `packages/<kind>/ab/cdef…` that holds the sha256.

use crate::fsx::{self, Durability};
use crate::package::Checksum;
use sha2::Digest;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CacheError {
    #[error("Cannot access the cache at `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Unsupported checksum type `{kind}` (sha256, sha512 and sha1 are)")]
    Kind { kind: String },
    #[error("Malformed checksum `{value}`")]
    Malformed { value: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A streaming hasher for the checksum kinds repository metadata uses.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    Sha1(sha1::Sha1),
}

impl Hasher {
    pub fn new(kind: &str) -> Result<Hasher, CacheError> {
        Ok(match kind {
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            "sha512" => Hasher::Sha512(sha2::Sha512::new()),
            "sha1" | "sha" => Hasher::Sha1(sha1::Sha1::new()),
            _ => {
                return Err(CacheError::Kind {
                    kind: kind.to_string(),
                });
            }
        })
    }
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
        }
    }
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
        }
    }
}

/// Check a checksum kind and value before they become a path.
pub fn check_checksum(c: &Checksum) -> Result<(), CacheError> {
    let len = match c.kind.as_str() {
        "sha256" => 64,
        "sha512" => 128,
        "sha1" | "sha" => 40,
        _ => {
            return Err(CacheError::Kind {
                kind: c.kind.clone(),
            });
        }
    };
    if c.value.len() != len || !c.value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CacheError::Malformed {
            value: c.value.clone(),
        });
    }
    Ok(())
}

/// The package cache under `<cache_dir>/packages`.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// Temporary files older than this are left-overs of killed processes: `gc` removes them.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);
const TEMP_PREFIX: &str = ".tmp-";

impl Cache {
    pub fn new(cache_dir: &Path) -> Cache {
        Cache {
            root: cache_dir.join("packages"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn split_path(&self, kind: &str, hex: &str) -> PathBuf {
        let hex = hex.to_ascii_lowercase();
        let kind = if kind == "sha" { "sha1" } else { kind };
        let (a, b) = hex.split_at(2.min(hex.len()));
        self.root.join(kind).join(a).join(b)
    }

    /// Where the entry with this sha256 lives (whether or not it exists).
    pub fn entry_path(&self, sha256: &str) -> PathBuf {
        self.split_path("sha256", sha256)
    }

    /// The sha256 of the entry a lock checksum names, if known (always for sha256; through
    /// the alias file for other kinds).
    pub fn sha256_of(&self, c: &Checksum) -> Result<Option<String>, CacheError> {
        check_checksum(c)?;
        if c.kind == "sha256" {
            return Ok(Some(c.value.to_ascii_lowercase()));
        }
        let alias = self.split_path(&c.kind, &c.value);
        match std::fs::read_to_string(&alias) {
            Ok(s) => {
                let s = s.trim().to_string();
                let ok = s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
                Ok(ok.then_some(s))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&alias)(e)),
        }
    }

    /// The cached file for `c` when present with the right size. An entry of the wrong size
    /// is corrupt: it is removed (so it is downloaded again) and `None` returned.
    pub fn lookup(&self, c: &Checksum, size: u64) -> Result<Option<PathBuf>, CacheError> {
        let Some(sha) = self.sha256_of(c)? else {
            return Ok(None);
        };
        let path = self.entry_path(&sha);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == size => Ok(Some(path)),
            Ok(_) => {
                tracing::warn!(
                    "cache entry `{}` has the wrong size: removing it",
                    path.display()
                );
                self.remove(&path)?;
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Re-hash an entry (for `--verify-cache`): true when its content has the sha256 its name
    /// says.
    pub fn rehash_ok(&self, path: &Path, sha256: &str) -> Result<bool, CacheError> {
        let mut f = std::fs::File::open(path).map_err(io(path))?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(io(path))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()).eq_ignore_ascii_case(sha256))
    }

    /// Remove an entry (missing is fine: another process may have removed it first).
    pub fn remove(&self, path: &Path) -> Result<(), CacheError> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(path)(e)),
        }
    }

    /// A temporary file for a download. `sha256`, when known in advance, puts it next to its
    /// final name; otherwise it goes to `packages/tmp` (same file system either way, so the
    /// final rename is atomic). The file is deleted if dropped without [`Staged::commit`].
    pub fn stage(&self, sha256: Option<&str>) -> Result<Staged, CacheError> {
        let dir = match sha256 {
            Some(s) => self
                .entry_path(s)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            None => self.root.join("tmp"),
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let file = fsx::temp_in(&dir, TEMP_PREFIX).map_err(io(&dir))?;
        Ok(Staged { file })
    }

    /// Move a verified download into place under its sha256, and record an alias for
    /// `extra` (a non-sha256 lock checksum) when given. Returns the entry path.
    pub fn commit(
        &self,
        staged: Staged,
        sha256: &str,
        extra: Option<&Checksum>,
    ) -> Result<PathBuf, CacheError> {
        let dest = self.entry_path(sha256);
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        set_readable(staged.file.as_file(), staged.file.path())?;
        fsx::persist(staged.file, &dest, Durability::Fsync).map_err(io(&dest))?;
        if let Some(c) = extra.filter(|c| c.kind != "sha256") {
            let alias = self.split_path(&c.kind, &c.value);
            let adir = alias.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&adir).map_err(io(&adir))?;
            let mut t = fsx::temp_in(&adir, TEMP_PREFIX).map_err(io(&adir))?;
            writeln!(t, "{sha256}").map_err(io(&alias))?;
            set_readable(t.as_file(), &alias)?;
            fsx::persist(t, &alias, Durability::Fsync).map_err(io(&alias))?;
        }
        Ok(dest)
    }

    /// Remove every entry whose sha256 is not in `keep`, aliases pointing to removed entries,
    /// and temporary files left by killed processes. Returns (files removed, bytes freed);
    /// with `dry_run`, what would be removed, removing nothing.
    pub fn gc(&self, keep: &BTreeSet<String>, dry_run: bool) -> Result<GcStats, CacheError> {
        let mut stats = GcStats::default();
        let now = SystemTime::now();
        for kind in sorted_dir(&self.root)? {
            let kind_name = kind
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !kind.is_dir() {
                continue;
            }
            for sub in sorted_dir(&kind)? {
                if !sub.is_dir() {
                    continue;
                }
                for f in sorted_dir(&sub)? {
                    let name = f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let meta = std::fs::symlink_metadata(&f).map_err(io(&f))?;
                    let remove = if name.starts_with(TEMP_PREFIX) {
                        meta.modified()
                            .ok()
                            .and_then(|m| now.duration_since(m).ok())
                            .is_some_and(|age| age > STALE_TEMP)
                    } else if kind_name == "tmp" {
                        false
                    } else if kind_name == "sha256" {
                        let sub_name = sub
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        !keep.contains(&format!("{sub_name}{name}"))
                    } else {
                        let target = std::fs::read_to_string(&f).unwrap_or_default();
                        !keep.contains(target.trim())
                    };
                    if remove {
                        if !dry_run {
                            self.remove(&f)?;
                        }
                        stats.files += 1;
                        stats.bytes += meta.len();
                    }
                }
            }
            // Loose temp files of `packages/tmp`.
            if kind_name == "tmp" {
                for f in sorted_dir(&kind)? {
                    let meta = std::fs::symlink_metadata(&f).map_err(io(&f))?;
                    let stale = meta
                        .modified()
                        .ok()
                        .and_then(|m| now.duration_since(m).ok())
                        .is_some_and(|age| age > STALE_TEMP);
                    if meta.is_file() && stale {
                        if !dry_run {
                            self.remove(&f)?;
                        }
                        stats.files += 1;
                        stats.bytes += meta.len();
                    }
                }
            }
        }
        Ok(stats)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcStats {
    pub files: u64,
    pub bytes: u64,
}

/// A download in progress: a temporary file in the cache.
pub struct Staged {
    file: tempfile::NamedTempFile,
}

impl Staged {
    pub fn path(&self) -> &Path {
        self.file.path()
    }
    pub fn writer(&mut self) -> &mut std::fs::File {
        self.file.as_file_mut()
    }
    /// Empty the file for another attempt.
    pub fn reset(&mut self) -> Result<(), CacheError> {
        use std::io::Seek;
        let path = self.file.path().to_path_buf();
        let f = self.file.as_file_mut();
        f.set_len(0).map_err(io(&path))?;
        f.seek(std::io::SeekFrom::Start(0)).map_err(io(&path))?;
        Ok(())
    }
}

/// Cached packages are public data: make them readable by everyone sharing the cache,
/// whatever the umask (tempfile creates files 0600).
fn set_readable(f: &std::fs::File, path: &Path) -> Result<(), CacheError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io(path))?;
    }
    #[cfg(not(unix))]
    let _ = (f, path);
    Ok(())
}

fn sorted_dir(dir: &Path) -> Result<Vec<PathBuf>, CacheError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for e in rd {
        out.push(e.map_err(io(dir))?.path());
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex::encode(sha2::Sha256::digest(data))
    }

    fn put(cache: &Cache, data: &[u8], extra: Option<&Checksum>) -> PathBuf {
        let s = sha(data);
        let mut st = cache.stage(Some(&s)).unwrap();
        st.writer().write_all(data).unwrap();
        cache.commit(st, &s, extra).unwrap()
    }

    #[test]
    fn layout_store_lookup_and_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let data = b"package bytes";
        let s = sha(data);
        let p = put(&cache, data, None);
        assert_eq!(
            p,
            dir.path()
                .join("packages/sha256")
                .join(&s[..2])
                .join(&s[2..])
        );
        let c = Checksum {
            kind: "sha256".into(),
            value: s.clone(),
        };
        assert_eq!(
            cache.lookup(&c, data.len() as u64).unwrap(),
            Some(p.clone())
        );
        assert!(cache.rehash_ok(&p, &s).unwrap());
        // No temp file is left next to the entry.
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        // A size mismatch is corruption: the entry goes.
        assert_eq!(cache.lookup(&c, 3).unwrap(), None);
        assert!(!p.exists());
    }

    #[test]
    fn sha1_locks_find_entries_through_an_alias() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let data = b"old repo";
        let c1 = Checksum {
            kind: "sha1".into(),
            value: hex::encode(sha1::Sha1::digest(data)),
        };
        assert_eq!(cache.lookup(&c1, 8).unwrap(), None);
        let p = put(&cache, data, Some(&c1));
        assert_eq!(cache.lookup(&c1, 8).unwrap(), Some(p));
    }

    #[test]
    fn dropped_stage_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let s = sha(b"x");
        let mut st = cache.stage(Some(&s)).unwrap();
        st.writer().write_all(b"half").unwrap();
        let tmp = st.path().to_path_buf();
        assert!(tmp.exists());
        drop(st);
        assert!(!tmp.exists());
    }

    #[test]
    fn gc_keeps_only_referenced_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let keep_p = put(&cache, b"keep", None);
        let c1 = Checksum {
            kind: "sha1".into(),
            value: hex::encode(sha1::Sha1::digest(b"drop")),
        };
        let drop_p = put(&cache, b"drop", Some(&c1));
        let keep: BTreeSet<String> = [sha(b"keep")].into_iter().collect();
        let stats = cache.gc(&keep, true).unwrap();
        assert_eq!(stats.files, 2, "a dry run counts");
        assert!(drop_p.exists(), "and removes nothing");
        let stats = cache.gc(&keep, false).unwrap();
        assert_eq!(stats.files, 2, "the entry and its alias");
        assert!(keep_p.exists());
        assert!(!drop_p.exists());
        assert_eq!(cache.lookup(&c1, 4).unwrap(), None);
    }

    #[test]
    fn malformed_checksums_never_become_paths() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let bad = Checksum {
            kind: "sha256".into(),
            value: "../../etc/passwd".into(),
        };
        assert!(matches!(
            cache.lookup(&bad, 1),
            Err(CacheError::Malformed { .. })
        ));
        let md5 = Checksum {
            kind: "md5".into(),
            value: "00".repeat(16),
        };
        assert!(matches!(
            cache.lookup(&md5, 1),
            Err(CacheError::Kind { .. })
        ));
    }
}
