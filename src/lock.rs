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

/// Errors reading, writing or checking a lockfile.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("No lockfile at `{}`", path.display())]
    Missing { path: std::path::PathBuf },
    #[error("Cannot read lockfile `{}`", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Lockfile `{}` is not valid: {message}", path.display())]
    Parse {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("Lockfile `{}` has format version {found}; this diskless reads version {LOCK_VERSION}", path.display())]
    Version {
        path: std::path::PathBuf,
        found: u32,
    },
    #[error("Lockfile `{}` is stale: the profile changed since it was written (profile digest {expected}, lock has {found})", path.display())]
    Stale {
        path: std::path::PathBuf,
        expected: String,
        found: String,
    },
    #[error("Cannot write lockfile `{}`", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `profiles/foo.toml` -> `profiles/foo.lock`.
pub fn path_for_profile(profile: &std::path::Path) -> std::path::PathBuf {
    profile.with_extension("lock")
}

impl Lockfile {
    /// Sort everything into the file's stable order.
    pub fn normalize(&mut self) {
        self.repos.sort_by(|a, b| a.id.cmp(&b.id));
        let key = |p: &LockedPackage| {
            (
                p.name.clone(),
                p.arch.clone(),
                p.epoch,
                p.version.clone(),
                p.release.clone(),
            )
        };
        self.packages.sort_by_key(key);
        self.boot_packages.sort_by_key(key);
    }

    /// The lockfile's text: a comment header, then TOML in the stable order.
    pub fn to_toml(&self) -> String {
        let mut me = self.clone();
        me.normalize();
        let body = toml::to_string(&me).unwrap_or_else(|e| {
            // Serialising plain strings and integers cannot fail; keep the error visible anyway.
            format!("# serialisation failed: {e}\n")
        });
        format!(
            "# This file is written by `diskless lock`. Do not edit it by hand.\n\
             # It pins every package of the image; `diskless lock --update NAME` moves one.\n{body}"
        )
    }

    pub fn read(path: &std::path::Path) -> Result<Lockfile, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LockError::Missing {
                    path: path.to_owned(),
                });
            }
            Err(source) => {
                return Err(LockError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let lock: Lockfile = toml::from_str(&text).map_err(|e| LockError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Version {
                path: path.to_owned(),
                found: lock.version,
            });
        }
        Ok(lock)
    }

    /// Read and check that the lock was made from a profile with this digest.
    pub fn read_fresh(path: &std::path::Path, profile_digest: &str) -> Result<Lockfile, LockError> {
        let lock = Lockfile::read(path)?;
        if lock.profile_digest != profile_digest {
            return Err(LockError::Stale {
                path: path.to_owned(),
                expected: profile_digest.to_owned(),
                found: lock.profile_digest,
            });
        }
        Ok(lock)
    }

    /// Write atomically (temp file in the same folder, then rename), so a reader never
    /// sees half a lock.
    pub fn write(&self, path: &std::path::Path) -> Result<(), LockError> {
        let err = |source| LockError::Write {
            path: path.to_owned(),
            source,
        };
        crate::fsx::write_atomic(path, self.to_toml().as_bytes()).map_err(err)
    }

    /// Every package, image and boot sets together.
    pub fn all_packages(&self) -> impl Iterator<Item = &LockedPackage> {
        self.packages.iter().chain(self.boot_packages.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            epoch: 0,
            version: "1.0".into(),
            release: "1.el9".into(),
            arch: "x86_64".into(),
            repo: "baseos".into(),
            location: format!("Packages/{name}-1.0-1.el9.x86_64.rpm"),
            checksum: Checksum {
                kind: "sha256".into(),
                value: "ab".repeat(32),
            },
            size: 1234,
            build_time: 1_700_000_000,
        }
    }

    #[test]
    fn round_trip_is_stable_and_sorted() {
        let lock = Lockfile {
            version: LOCK_VERSION,
            profile_digest: "d".into(),
            repos: vec![LockedRepo {
                id: "baseos".into(),
                baseurl: "file:///r/".into(),
                revision: Some("1".into()),
                repomd_sha256: "cd".repeat(32),
            }],
            packages: vec![pkg("zsh"), pkg("bash")],
            boot_packages: vec![pkg("syslinux-tftpboot")],
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        lock.write(&p).unwrap();
        let back = Lockfile::read(&p).unwrap();
        assert_eq!(back.packages[0].name, "bash");
        assert_eq!(back.to_toml(), lock.to_toml());
        assert!(matches!(
            Lockfile::read_fresh(&p, "other"),
            Err(LockError::Stale { .. })
        ));
        assert!(matches!(
            Lockfile::read(&dir.path().join("none.lock")),
            Err(LockError::Missing { .. })
        ));
    }
}
