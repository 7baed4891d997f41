//! The lockfile: every package of a build pinned by name, EVR, arch, repository,
//! location and checksum, so that a build next year gives the same bytes.
//!
//! `solve` chooses, `lock` records; `fetch`, `rootfs` and `emit` only ever read a lock.
//! The file is TOML in a stable order (packages sorted by name, then arch, then EVR)
//! so that a diff of two locks reads like a changelog.

use crate::package::Checksum;
use serde::{Deserialize, Serialize};

/// Bumped when the file format changes incompatibly.
pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    /// Format version, [`LOCK_VERSION`].
    pub version: u32,
    /// sha256 of the profile's resolution inputs; a mismatch means the lock is stale.
    pub profile_digest: String,
    /// The repositories the packages came from, sorted by id.
    #[serde(default, rename = "repo")]
    pub repos: Vec<LockedRepo>,
    /// Packages installed into the image, sorted.
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
    /// Packages whose files feed the tftp tree (boot loaders), resolved separately, sorted.
    #[serde(default, rename = "boot_package")]
    pub boot_packages: Vec<LockedPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedRepo {
    pub id: String,
    /// The base URL the packages' locations are relative to (after `$releasever`/`$basearch`
    /// substitution, or the mirror that answered).
    pub baseurl: String,
    /// repomd.xml's `<revision>`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// sha256 of the repomd.xml that was resolved against.
    pub repomd_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub repo: String,
    /// Relative to the repository's base URL.
    pub location: String,
    pub checksum: Checksum,
    /// Size of the .rpm in bytes.
    pub size: u64,
    pub build_time: u64,
}

impl LockedPackage {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        if self.epoch == 0 {
            format!(
                "{}-{}-{}.{}",
                self.name, self.version, self.release, self.arch
            )
        } else {
            format!(
                "{}-{}:{}-{}.{}",
                self.name, self.epoch, self.version, self.release, self.arch
            )
        }
    }
}
