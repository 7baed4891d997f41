//! A content-addressed store of file contents on disk, keyed by sha256.
//!
//! The tree holds only digests; contents are written here once (identical files from
//! several packages share one copy) and read back by `emit` when it writes archives.
//!
//! A build keeps its store in the cache ([`Store::in_cache`]: `<cache>/store/ab/cdef…`),
//! shared by every build on that cache: a content the store has is never written again
//! (the RPM header's sha256 file digest says which content a file has before it is read;
//! the bytes are still hashed as they stream by, and a mismatch is an error). Entries are
//! renamed into place whole, so concurrent builds need no lock. Beside it, derived facts
//! that only depend on contents are kept by [`Store::memo`] (extraction manifests,
//! kernel module facts).

use super::tree::Digest;
use crate::{cas, fsx};
use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// Writing a file of the store failed: which one (the error inside a `put_*` error).
#[derive(Debug, thiserror::Error)]
#[error("Cannot write `{}` (the build's content store)", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl WriteError {
    /// The store write failure inside `e`, if `e` is one (not a failed read).
    pub fn of(e: &std::io::Error) -> Option<&WriteError> {
        e.get_ref().and_then(|i| i.downcast_ref::<WriteError>())
    }
}

/// An I/O error of the same kind (a full disk stays `StorageFull`) carrying the path.
fn write_err(path: &Path, source: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        source.kind(),
        WriteError {
            path: path.to_path_buf(),
            source,
        },
    )
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// The cache folder the store lives in, when it does: where [`Store::memo`]s go.
    cache: Option<PathBuf>,
}

impl Store {
    /// A store under `root` (created if missing). The caller owns the directory's lifetime.
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Store> {
        let root = root.into();
        fs_err::create_dir_all(&root)?;
        Ok(Store { root, cache: None })
    }

    /// The store kept in the cache folder `cache_dir` (`<cache_dir>/store`), with memos.
    pub fn in_cache(cache_dir: &Path) -> std::io::Result<Store> {
        let mut s = Store::new(cache_dir.join(STORE_DIR))?;
        s.cache = Some(cache_dir.to_path_buf());
        Ok(s)
    }

    /// A folder of derived facts beside a cached store (`<cache_dir>/<name>`), `None` for a
    /// store outside the cache.
    pub fn memo(&self, name: &str) -> Option<cas::Dir> {
        self.cache.as_ref().map(|c| cas::Dir::new(c.join(name)))
    }

    /// Whether the store holds this content (with this size, when given).
    pub fn has(&self, digest: &Digest, size: Option<u64>) -> bool {
        match std::fs::metadata(self.path(digest)) {
            Ok(m) => m.is_file() && size.is_none_or(|s| s == m.len()),
            Err(_) => false,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the contents with this digest live (`ab/cdef…`).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join(&hex[..2]).join(&hex[2..])
    }
}

impl Store {
    /// Stream `reader` into the store and return its digest and size; when `expected`
    /// (the header's digest) is already in the store with `size` bytes, the stream is only
    /// hashed, not written (the caller compares the digest returned with the one expected).
    pub fn put_expected(
        &self,
        reader: impl std::io::Read,
        expected: Option<(&Digest, u64)>,
    ) -> std::io::Result<(Digest, u64)> {
        match expected {
            Some((d, size)) if self.has(d, Some(size)) => hash_only(reader),
            _ => self.put_reader(reader),
        }
    }

    /// Stream `reader` into the store and return its digest and size.
    ///
    /// The bytes go to a temporary file in the store first and are renamed into place once
    /// the digest is known, so a crash never leaves a half-written object under a digest
    /// name, and a second writer of the same contents simply finds it present.
    ///
    /// A failed write (a full disk) comes back as an error wrapping a [`WriteError`] that
    /// names the store file, so callers can tell it from a failed read of `reader` (a
    /// damaged payload): see [`WriteError::of`].
    pub fn put_reader(&self, mut reader: impl std::io::Read) -> std::io::Result<(Digest, u64)> {
        use std::io::Write as _;
        let mut tmp =
            fsx::temp_in(&self.root, cas::TEMP_PREFIX).map_err(|e| write_err(&self.root, e))?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| write_err(tmp.path(), e))?;
            size += n as u64;
        }
        let digest = Digest(hasher.finalize().into());
        let dest = self.path(&digest);
        if !dest.exists() {
            if let Some(dir) = dest.parent() {
                fs_err::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
            }
            fsx::persist(tmp, &dest, fsx::Durability::Rename).map_err(|e| write_err(&dest, e))?;
        }
        Ok((digest, size))
    }

    /// Store a byte slice (generated files such as /etc/passwd); nothing is written when
    /// the store has it.
    pub fn put_bytes(&self, bytes: &[u8]) -> std::io::Result<(Digest, u64)> {
        let digest = Digest(sha2::Sha256::digest(bytes).into());
        if self.has(&digest, Some(bytes.len() as u64)) {
            return Ok((digest, bytes.len() as u64));
        }
        self.put_reader(bytes)
    }

    /// Open the contents with this digest for reading.
    pub fn open(&self, digest: &Digest) -> std::io::Result<fs_err::File> {
        fs_err::File::open(self.path(digest))
    }

    /// Read the whole contents with this digest (for small files such as /etc/passwd).
    pub fn read(&self, digest: &Digest) -> std::io::Result<Vec<u8>> {
        fs_err::read(self.path(digest))
    }
}

/// The store's folder in the cache.
pub const STORE_DIR: &str = "store";

/// Read `reader` to its end, returning its sha256 and size.
fn hash_only(mut reader: impl std::io::Read) -> std::io::Result<(Digest, u64)> {
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((Digest(hasher.finalize().into()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("s")).unwrap();
        let (d1, n1) = store.put_bytes(b"hello\n").unwrap();
        let (d2, _) = store.put_reader(&b"hello\n"[..]).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(n1, 6);
        assert_eq!(
            d1.to_hex(),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(store.read(&d1).unwrap(), b"hello\n");
        let leftovers: Vec<_> = std::fs::read_dir(store.root())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".incoming"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
