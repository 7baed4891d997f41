//! The profile's resolution digest: a SHA-256 over exactly the inputs that change what the
//! resolver picks. The lockfile records it; a different digest means the lock is stale.
//! Inputs that only shape the image (files, users, PXE menu, compression, nodocs…) are left
//! out on purpose, so editing them does not force a re-resolve.

use super::model::{Profile, RepoConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Bump when the canonical form changes, so old locks read as stale rather than equal.
const FORMAT: &str = "diskless-resolution-v1";

#[derive(Serialize)]
struct Canon<'a> {
    format: &'a str,
    arch: &'a str,
    releasever: &'a str,
    repos: Vec<CanonRepo<'a>>,
    install: &'a [String],
    exclude: &'a [String],
    weak_deps: bool,
    modules: &'a [String],
    install_only_limit: Option<u32>,
    boot_packages: &'a [String],
}

#[derive(Serialize)]
struct CanonRepo<'a> {
    id: &'a str,
    baseurl: Vec<String>,
    mirrorlist: Option<&'a str>,
    metalink: Option<&'a str>,
    priority: u32,
    cost: u32,
    excludepkgs: &'a [String],
    includepkgs: &'a [String],
    module_hotfixes: bool,
}

/// A `file://` URL inside the profile's folder, written relative to it, so moving the
/// checkout does not make the lock stale.
fn portable_url(u: &str, dir: &Path) -> String {
    if let Ok(url) = url::Url::parse(u) {
        if url.scheme() == "file" {
            if let Ok(p) = url.to_file_path() {
                if let Ok(rel) = p.strip_prefix(dir) {
                    let mut s = format!("profile-dir:{}", rel.display());
                    if u.ends_with('/') && !s.ends_with('/') {
                        s.push('/');
                    }
                    return s;
                }
            }
        }
    }
    u.to_string()
}

fn canon_repo<'a>(r: &'a RepoConfig, dir: &Path) -> CanonRepo<'a> {
    CanonRepo {
        id: &r.id,
        baseurl: r.baseurl.iter().map(|u| portable_url(u, dir)).collect(),
        mirrorlist: r.mirrorlist.as_deref(),
        metalink: r.metalink.as_deref(),
        priority: r.priority,
        cost: r.cost,
        excludepkgs: &r.excludepkgs,
        includepkgs: &r.includepkgs,
        module_hotfixes: r.module_hotfixes,
    }
}

impl Profile {
    /// The canonical JSON the resolution digest is taken over (for debugging a stale lock).
    pub fn resolution_inputs(&self) -> String {
        let c = Canon {
            format: FORMAT,
            arch: self.image.arch.as_str(),
            releasever: &self.image.releasever,
            // repos are already sorted by id
            repos: self
                .repos
                .iter()
                .map(|r| canon_repo(r, &self.dir))
                .collect(),
            install: &self.packages.install,
            exclude: &self.packages.exclude,
            weak_deps: self.packages.weak_deps,
            modules: &self.packages.modules,
            install_only_limit: self.packages.install_only_limit,
            boot_packages: &self.boot.packages,
        };
        // Serializing plain structs, strings and numbers cannot fail.
        serde_json::to_string(&c).unwrap_or_default()
    }

    /// SHA-256 (hex) of [`Profile::resolution_inputs`].
    pub fn resolution_digest(&self) -> String {
        hex::encode(Sha256::digest(self.resolution_inputs().as_bytes()))
    }
}
