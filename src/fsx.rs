//! Atomic file writes: the one way a file is replaced in place (lockfile, caches, the
//! content store, kept keys); and the facts an "out of space" error needs (is it one, how
//! much is free where).
//!
//! The bytes go to a temporary file in the destination's directory (same file system, so
//! the rename is atomic) and the file is renamed over the destination once complete: a
//! reader sees the old file or the new one, never half of one, and a killed process leaves
//! at most a temporary file, which is deleted when dropped. [`Durability::Fsync`] also
//! survives a power cut (the file, then its directory, are synced); plain renames are
//! enough for files that can be made again.

use std::io::{self, Write};
use std::path::Path;
use tempfile::NamedTempFile;

/// What a completed write survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Atomic for readers; a crash may lose the new file (it can be made again).
    Rename,
    /// Also durable: the file is synced before the rename and its directory after.
    Fsync,
}

/// The directory a file lives in (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A temporary file in `dir`, named `{prefix}…`, to fill and then [`persist`]. The prefix
/// lets a cache recognise (and collect) files left by killed processes.
pub fn temp_in(dir: &Path, prefix: &str) -> io::Result<NamedTempFile> {
    tempfile::Builder::new().prefix(prefix).tempfile_in(dir)
}

/// Rename a completed temporary file over `dest` (which must be on the same file system;
/// [`temp_in`] the destination's directory ensures it).
pub fn persist(tmp: NamedTempFile, dest: &Path, durability: Durability) -> io::Result<()> {
    if durability == Durability::Fsync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(dest).map_err(|e| e.error)?;
    if durability == Durability::Fsync {
        sync_dir(dir_of(dest))?;
    }
    Ok(())
}

/// Replace `path` with `bytes` atomically ([`Durability::Rename`]); its directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = temp_in(dir_of(path), ".tmp")?;
    tmp.write_all(bytes)?;
    persist(tmp, path, Durability::Rename)
}

/// A rename is durable only once its directory is: fsync it (not possible on Windows).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Whether an error, or any error in its chain, says the disk (or the user's quota) is full.
pub fn is_out_of_space(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            // ENOSPC 28, EDQUOT 122 on Linux.
            if matches!(
                io.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ) || matches!(io.raw_os_error(), Some(28 | 122))
            {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Bytes available to this user on the file system holding `path` (or its nearest existing
/// ancestor: the output folder may not exist yet). `None` when it cannot be told.
pub fn free_space(path: &Path) -> Option<u64> {
    let mut p = std::path::absolute(path).ok()?;
    loop {
        if p.exists() {
            let s = rustix::fs::statvfs(&p).ok()?;
            return Some(s.f_bavail.saturating_mul(s.f_frsize));
        }
        if !p.pop() {
            return None;
        }
    }
}

/// `1.5 MiB`, for messages.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock.toml");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs_err::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs_err::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["lock.toml"]);
    }

    #[test]
    fn a_dropped_temporary_is_removed_and_dest_untouched() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("entry");
        fs_err::write(&p, b"old").unwrap();
        let mut t = temp_in(d.path(), ".incoming-").unwrap();
        t.write_all(b"half").unwrap();
        let tmp_path = t.path().to_path_buf();
        assert!(
            tmp_path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".incoming-")
        );
        drop(t);
        assert!(!tmp_path.exists());
        assert_eq!(fs_err::read(&p).unwrap(), b"old");
        let mut t = temp_in(d.path(), ".incoming-").unwrap();
        t.write_all(b"new").unwrap();
        persist(t, &p, Durability::Fsync).unwrap();
        assert_eq!(fs_err::read(&p).unwrap(), b"new");
    }

    #[test]
    fn out_of_space_is_found_in_a_chain_and_free_space_is_told() {
        #[derive(Debug, thiserror::Error)]
        #[error("Cannot write the store")]
        struct Outer(#[source] io::Error);
        let full = Outer(io::Error::from_raw_os_error(28));
        assert!(is_out_of_space(&full));
        let other = Outer(io::Error::from_raw_os_error(13));
        assert!(!is_out_of_space(&other));
        let wrapped = io::Error::new(io::ErrorKind::StorageFull, "wrapped");
        assert!(is_out_of_space(&wrapped));
        let d = tempfile::tempdir().unwrap();
        assert!(free_space(&d.path().join("not/yet/there")).is_some_and(|n| n > 0));
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let err = write_atomic(&d.path().join("no/such/dir/f"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
