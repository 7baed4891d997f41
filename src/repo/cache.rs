//! The metadata cache: files downloaded from remote repositories are kept under the cache
//! dir by their checksum, so a repository that republishes only some files downloads only
//! those, and two repositories sharing a file share its copy. Local (`file://`)
//! repositories are read in place and never copied.

use crate::package::Checksum;
use std::path::{Path, PathBuf};

/// Where a verified metadata file with this checksum lives:
/// `<cache>/repodata/<kind>-<hex>/<file name>` (the name keeps the extension, which the
/// decompressor cross-checks).
pub fn metadata_path(cache_dir: &Path, checksum: &Checksum, href: &str) -> PathBuf {
    let name = href
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("data");
    cache_dir
        .join("repodata")
        .join(format!("{}-{}", checksum.kind, checksum.value))
        .join(sanitize(name))
}

/// Where the last repomd.xml fetched for a repository is kept, for `--offline` runs:
/// `<cache>/repos/<id>-<sha256 of the base URL, 16 hex>/repomd.xml` (its signature, when
/// `repo_gpgcheck` asked for one, next to it as `repomd.xml.asc`).
pub fn repomd_path(cache_dir: &Path, repo_id: &str, baseurl: &str) -> PathBuf {
    kept_path(cache_dir, repo_id, baseurl, "repomd.xml")
}

/// Where a small document of a repository read from `url` (a mirrorlist, a metalink) is
/// kept for `--offline` runs and for when its server is down:
/// `<cache>/repos/<id>-<sha256 of the URL, 16 hex>/<name>`.
pub fn kept_path(cache_dir: &Path, repo_id: &str, url: &str, name: &str) -> PathBuf {
    let h = super::checksum::sha256_hex(url.as_bytes());
    cache_dir
        .join("repos")
        .join(format!("{}-{}", sanitize(repo_id), &h[..16]))
        .join(sanitize(name))
}

/// Remove downloaded metadata files (`<cache>/repodata/*/*`) not used within `max_age`
/// (their mtime: set when downloaded and each time a load reads them), and their emptied
/// folders; with `dry_run`, only count them. Returns (files, bytes).
pub fn gc_metadata(
    cache_dir: &Path,
    max_age: std::time::Duration,
    dry_run: bool,
) -> std::io::Result<(u64, u64)> {
    let root = cache_dir.join("repodata");
    let now = std::time::SystemTime::now();
    let (mut files, mut bytes) = (0, 0);
    let rd = match std::fs::read_dir(&root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e),
    };
    for d in rd {
        let d = d?.path();
        if !d.is_dir() {
            continue;
        }
        let mut left = 0;
        for f in std::fs::read_dir(&d)? {
            let f = f?.path();
            let m = std::fs::symlink_metadata(&f)?;
            let old = m
                .modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|a| a > max_age);
            if m.is_file() && old {
                files += 1;
                bytes += m.len();
                if !dry_run {
                    std::fs::remove_file(&f)?;
                }
            } else {
                left += 1;
            }
        }
        if left == 0 && !dry_run {
            let _ = std::fs::remove_dir(&d);
        }
    }
    Ok((files, bytes))
}

/// Keep a cache path component inside its folder whatever a server sends.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s == "." || s == ".." {
        "_".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_cache() {
        let ck = Checksum {
            kind: "sha256".into(),
            value: "ab".into(),
        };
        assert_eq!(
            metadata_path(Path::new("/c"), &ck, "repodata/ab-primary.xml.gz"),
            PathBuf::from("/c/repodata/sha256-ab/ab-primary.xml.gz")
        );
        assert_eq!(
            metadata_path(Path::new("/c"), &ck, "../.."),
            PathBuf::from("/c/repodata/sha256-ab/_")
        );
        assert!(repomd_path(Path::new("/c"), "../x", "http://h/").starts_with("/c/repos"));
    }
}
