//! A content-addressed store of file contents on disk, keyed by sha256.
//!
//! The tree holds only digests; contents are written here once (identical files from
//! several packages share one copy) and read back by `emit` when it writes archives.

use super::tree::Digest;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store under `root` (created if missing). The caller owns the directory's lifetime.
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Store> {
        let root = root.into();
        fs_err::create_dir_all(&root)?;
        Ok(Store { root })
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
