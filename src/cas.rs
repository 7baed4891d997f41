//! Content-addressed folders in the cache, and sealed blobs of derived data.
//!
//! A [`Dir`] holds files named by a hex key (`<root>/ab/cdef…`, the first two digits name a
//! sub-folder). Writes go to a temporary file in the folder and are renamed into place
//! ([`crate::fsx`]), so a reader never sees half a file and two builds sharing one cache
//! need no lock: both writers of one key write the same bytes, and the last rename wins
//! harmlessly. Every stage that keeps pieces in the cache uses one: rootfs's content store
//! and extraction manifests, emit's compressed initramfs segments, repo's parsed metadata,
//! the plan's build records. `diskless cache info` and `gc` walk them with [`Dir::scan`].
//!
//! Derived data (a parse, a manifest, a record) is written [`seal`]ed: a magic, a kind, a
//! format version, the body's length and CRC-32. [`unseal`] returns the body only when all
//! of them match, so a damaged file, a file of an older format or one cut short by a full
//! disk is ignored and made again, never believed. Use ([`Dir::touch`]) sets a file's
//! mtime, which is what `gc --max-age` goes by for pieces no lock reaches.

use crate::fsx;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Prefix of temporary files; `gc` removes those older than [`STALE_TEMP`].
pub const TEMP_PREFIX: &str = ".incoming-";
/// Temporary files older than this were left by killed processes.
pub const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

/// A content-addressed folder: files named by hex keys.
#[derive(Debug, Clone)]
pub struct Dir {
    root: PathBuf,
}

/// One file of a [`Dir`], as [`Dir::scan`] finds it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The key (`abcdef…`), or the file name of a temporary file.
    pub key: String,
    pub path: PathBuf,
    pub bytes: u64,
    /// Last write or [`Dir::touch`].
    pub modified: Option<SystemTime>,
    /// A temporary file (a write in progress or left by a killed process).
    pub temporary: bool,
}

fn bad_key(key: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("`{key}` is not a hex cache key"),
    )
}

impl Dir {
    pub fn new(root: impl Into<PathBuf>) -> Dir {
        Dir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with this key lives (whether or not it exists). Keys are lowercase
    /// hex of at least 3 digits, so they never leave the folder.
    pub fn path(&self, key: &str) -> io::Result<PathBuf> {
        if key.len() < 3 || !key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad_key(key));
        }
        Ok(self.root.join(&key[..2]).join(&key[2..]))
    }

    /// Whether the file with this key exists.
    pub fn contains(&self, key: &str) -> bool {
        self.path(key).is_ok_and(|p| p.is_file())
    }

    /// A temporary file in the folder (same file system as every entry) for [`Dir::commit`].
    pub fn temp(&self) -> io::Result<tempfile::NamedTempFile> {
        fs_err::create_dir_all(&self.root)?;
        fsx::temp_in(&self.root, TEMP_PREFIX)
    }

    /// Rename a completed temporary file into place under `key`.
    pub fn commit(&self, tmp: tempfile::NamedTempFile, key: &str) -> io::Result<PathBuf> {
        let dest = self.path(key)?;
        if let Some(dir) = dest.parent() {
            fs_err::create_dir_all(dir)?;
        }
        set_readable(tmp.as_file())?;
        fsx::persist(tmp, &dest, fsx::Durability::Rename)?;
        Ok(dest)
    }

    /// Write `bytes` under `key`.
    pub fn put(&self, key: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let mut tmp = self.temp()?;
        tmp.write_all(bytes)?;
        self.commit(tmp, key)
    }

    /// The file under `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(key).ok()?).ok()
    }

    /// The body of the sealed blob under `key` when it is whole and of this kind and
    /// version ([`unseal`]); `None` otherwise (missing, damaged, stale). The file is read
    /// once and not copied (the body is a view into it).
    pub fn get_sealed(&self, key: &str, kind: [u8; 4], version: u32) -> Option<Sealed> {
        let bytes = self.get(key)?;
        if unseal(&bytes, kind, version).is_some() {
            return Some(Sealed(bytes));
        }
        tracing::debug!(
            "ignoring the damaged or stale cache file `{}`",
            self.path(key)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        None
    }

    /// Write `body` under `key`, [`seal`]ed.
    pub fn put_sealed(
        &self,
        key: &str,
        kind: [u8; 4],
        version: u32,
        body: &[u8],
    ) -> io::Result<()> {
        self.put(key, &seal(kind, version, body)).map(drop)
    }

    /// Mark the file under `key` as used now (its mtime), for `gc --max-age`. Failures are
    /// ignored: the file then only looks older than it is.
    pub fn touch(&self, key: &str) {
        if let Ok(p) = self.path(key) {
            touch(&p);
        }
    }

    /// Remove the file under `key` (missing is fine: another process may have removed it).
    pub fn remove(&self, key: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every file of the folder, entries and temporary files, sorted by key. A missing
    /// folder is empty.
    pub fn scan(&self) -> io::Result<Vec<Item>> {
        let mut out = Vec::new();
        for sub in sorted(&self.root)? {
            let name = sub.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name else { continue };
            let meta = std::fs::symlink_metadata(&sub)?;
            if meta.is_file() {
                // Only temporary files live at the top level.
                out.push(item(
                    name.clone(),
                    sub,
                    &meta,
                    name.starts_with(TEMP_PREFIX),
                ));
                continue;
            }
            if !meta.is_dir() {
                continue;
            }
            for f in sorted(&sub)? {
                let Some(rest) = f.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                    continue;
                };
                let meta = std::fs::symlink_metadata(&f)?;
                if meta.is_file() {
                    let temporary = rest.starts_with(TEMP_PREFIX);
                    let key = if temporary {
                        rest
                    } else {
                        format!("{name}{rest}")
                    };
                    out.push(item(key, f, &meta, temporary));
                }
            }
        }
        Ok(out)
    }
}

fn item(key: String, path: PathBuf, meta: &std::fs::Metadata, temporary: bool) -> Item {
    Item {
        key,
        path,
        bytes: meta.len(),
        modified: meta.modified().ok(),
        temporary,
    }
}

fn sorted(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = rd
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    out.sort();
    Ok(out)
}

/// Set a file's mtime to now (errors ignored: see [`Dir::touch`]).
pub fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Cached pieces are shared by everyone using the cache: readable whatever the umask
/// (tempfile creates files 0600).
fn set_readable(f: &std::fs::File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

/// A checked sealed blob; derefs to its body.
#[derive(Debug)]
pub struct Sealed(Vec<u8>);

impl std::ops::Deref for Sealed {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0[HEADER..]
    }
}

const MAGIC: &[u8; 4] = b"DLcs";
const HEADER: usize = 4 + 4 + 4 + 8 + 4;

/// Frame `body` as a sealed blob: magic, `kind`, `version`, length and CRC-32 of the body.
pub fn seal(kind: [u8; 4], version: u32, body: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(body);
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&kind);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The body of a sealed blob, when magic, kind, version, length and CRC-32 all match.
pub fn unseal(bytes: &[u8], kind: [u8; 4], version: u32) -> Option<&[u8]> {
    let (head, body) = (bytes.get(..HEADER)?, bytes.get(HEADER..)?);
    let word = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let mut len = [0u8; 8];
    len.copy_from_slice(&head[12..20]);
    if &head[..4] != MAGIC
        || head[4..8] != kind
        || word(8) != version
        || u64::from_le_bytes(len) != body.len() as u64
    {
        return None;
    }
    let mut crc = flate2::Crc::new();
    crc.update(body);
    (crc.sum() == word(20)).then_some(body)
}

/// A sha256 over length-prefixed parts: the key of a piece made from these inputs (the
/// prefixes keep `("ab", "c")` and `("a", "bc")` apart).
#[derive(Clone, Default)]
pub struct KeyHasher(sha2::Sha256);

impl KeyHasher {
    pub fn new(domain: &str) -> KeyHasher {
        let mut k = KeyHasher::default();
        k.part(domain.as_bytes());
        k
    }

    pub fn part(&mut self, bytes: &[u8]) -> &mut KeyHasher {
        use sha2::Digest as _;
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub fn finish(self) -> String {
        use sha2::Digest as _;
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_blobs_reject_damage_and_other_versions() {
        let s = seal(*b"test", 3, b"hello");
        assert_eq!(unseal(&s, *b"test", 3), Some(&b"hello"[..]));
        assert_eq!(unseal(&s, *b"test", 4), None, "another format version");
        assert_eq!(unseal(&s, *b"tesT", 3), None, "another kind");
        assert_eq!(unseal(&s[..s.len() - 1], *b"test", 3), None, "cut short");
        let mut flipped = s.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(unseal(&flipped, *b"test", 3), None, "a flipped bit");
        assert_eq!(unseal(b"", *b"test", 3), None);
    }

    #[test]
    fn put_get_scan_touch_remove() {
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::new(d.path().join("kind"));
        assert!(dir.scan().unwrap().is_empty(), "a missing folder is empty");
        let key = "abcdef0123";
        assert!(!dir.contains(key));
        let p = dir.put(key, b"x").unwrap();
        assert_eq!(p, d.path().join("kind/ab/cdef0123"));
        assert_eq!(dir.get(key).unwrap(), b"x");
        dir.put_sealed("abc999", *b"test", 1, b"body").unwrap();
        assert_eq!(&*dir.get_sealed("abc999", *b"test", 1).unwrap(), b"body");
        assert!(dir.get_sealed("abc999", *b"test", 2).is_none());
        let _left = dir.temp().unwrap();
        let items = dir.scan().unwrap();
        let keys: Vec<_> = items
            .iter()
            .filter(|i| !i.temporary)
            .map(|i| i.key.as_str())
            .collect();
        assert_eq!(keys, ["abc999", "abcdef0123"]);
        assert_eq!(items.iter().filter(|i| i.temporary).count(), 1);
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::open(&p).unwrap().set_modified(old).unwrap();
        dir.touch(key);
        let m = fs_err::metadata(&p).unwrap().modified().unwrap();
        assert!(m > old + Duration::from_secs(1800));
        dir.remove(key).unwrap();
        dir.remove(key).unwrap();
        assert!(!dir.contains(key));
    }

    #[test]
    fn keys_never_leave_the_folder() {
        let dir = Dir::new("/c");
        for k in ["../etc", "ab", "ABCDEF", "ab/cd", ""] {
            assert!(dir.path(k).is_err(), "{k}");
        }
    }

    #[test]
    fn key_parts_are_delimited() {
        let k = |a: &str, b: &str| {
            let mut h = KeyHasher::new("t");
            h.part(a.as_bytes()).part(b.as_bytes());
            h.finish()
        };
        assert_ne!(k("ab", "c"), k("a", "bc"));
        assert_eq!(k("ab", "c"), k("ab", "c"));
    }
}
