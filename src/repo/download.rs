//! Downloads of metadata files: read a local (`file://`) file in place, or GET a remote one
//! through the repository's [`Transport`] (the same client the package fetcher uses: its TLS
//! client certificate and CA, timeouts, proxies). A transient failure (a reset, a truncated
//! body, a 503) is tried again a few times with short pauses ([`retry::METADATA`]); then the
//! next mirror is asked (see [`super::load`]).

use super::RepoError;
use crate::net::{Transport, TransportError, retry};
use std::path::{Path, PathBuf};
use url::Url;

/// repomd.xml, repomd.xml.asc, mirror lists: small documents read whole, up to this size.
const SMALL_LIMIT: u64 = 64 << 20;

/// Where a URL's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Local(PathBuf),
    Remote(Url),
}

/// Join `href` onto `base` the way yum does: `base` names a folder even without a
/// trailing slash.
pub fn join(base: &str, href: &str) -> Result<Url, RepoError> {
    let mut b = base.trim().to_string();
    if !b.ends_with('/') {
        b.push('/');
    }
    let base_url = Url::parse(&b).map_err(|source| RepoError::BadUrl {
        url: base.to_string(),
        source,
    })?;
    base_url.join(href).map_err(|source| RepoError::BadUrl {
        url: format!("{b}{href}"),
        source,
    })
}

/// Refuse a metadata location (`url`) that leaves the repository at `base` for the build
/// host's files (see [`crate::net::check_within`]).
pub fn check_within(base: &str, url: &Url) -> Result<(), RepoError> {
    let mut b = base.trim().to_string();
    if !b.ends_with('/') {
        b.push('/');
    }
    let base_url = Url::parse(&b).map_err(|source| RepoError::BadUrl {
        url: base.to_string(),
        source,
    })?;
    crate::net::check_within(&base_url, url).map_err(|reason| RepoError::Outside {
        url: url.to_string(),
        reason,
    })
}

/// Classify a URL as a local path or a remote resource.
pub fn target(url: &Url) -> Result<Target, RepoError> {
    match url.scheme() {
        "file" => {
            url.to_file_path()
                .map(Target::Local)
                .map_err(|()| RepoError::UnsupportedScheme {
                    url: url.to_string(),
                })
        }
        "http" | "https" => Ok(Target::Remote(url.clone())),
        _ => Err(RepoError::UnsupportedScheme {
            url: url.to_string(),
        }),
    }
}

/// Turn a transport failure into the repository error callers match on: a missing file is
/// [`RepoError::NotFound`] (mirrors missing a file are expected), another status
/// [`RepoError::HttpStatus`].
fn from_transport(url: &Url, e: TransportError) -> RepoError {
    match e {
        TransportError::Status {
            status: 404 | 410, ..
        } => RepoError::NotFound {
            url: url.to_string(),
        },
        TransportError::Status { status, .. } => RepoError::HttpStatus {
            url: url.to_string(),
            status,
        },
        TransportError::File { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            RepoError::NotFound {
                url: url.to_string(),
            }
        }
        source => RepoError::Download {
            url: url.to_string(),
            source: Box::new(source),
        },
    }
}

/// The whole content of a small file (repomd.xml, its signature, a mirror list).
pub fn read_all(t: &Transport, url: &Url) -> Result<Vec<u8>, RepoError> {
    match target(url)? {
        Target::Local(path) => read_local(&path, url),
        Target::Remote(u) => retry::with_retries(&retry::METADATA, || t.get_bytes(&u, SMALL_LIMIT))
            .map_err(|e| from_transport(&u, e)),
    }
}

/// Read a local file; a missing file is [`RepoError::NotFound`] (mirrors missing a file
/// are expected, other I/O errors are not).
pub fn read_local(path: &Path, url: &Url) -> Result<Vec<u8>, RepoError> {
    match fs_err::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(RepoError::NotFound {
            url: url.to_string(),
        }),
        Err(e) => Err(RepoError::Io(e)),
    }
}

/// GET a remote URL into `dest` (created or truncated) in the metadata cache.
pub fn download_to(t: &Transport, url: &Url, dest: &Path) -> Result<u64, RepoError> {
    let cache_err = |source| RepoError::Cache {
        path: dest.to_path_buf(),
        source,
    };
    retry::with_retries(&retry::METADATA, || {
        // Each attempt starts the file afresh.
        let mut file = std::fs::File::create(dest).map_err(|source| TransportError::Write {
            url: url.to_string(),
            source,
        })?;
        t.download(url, None, &mut file, &mut |_| {})
    })
    .map_err(|e| match e {
        // The disk, not the mirror: say where.
        TransportError::Write { source, .. } => cache_err(source),
        e => from_transport(url, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_treats_base_as_folder() {
        let u = join("http://h/repo/BaseOS/x86_64/os", "repodata/repomd.xml").unwrap();
        assert_eq!(
            u.as_str(),
            "http://h/repo/BaseOS/x86_64/os/repodata/repomd.xml"
        );
        let u = join("file:///srv/repo/", "repodata/a.xml.gz").unwrap();
        assert_eq!(
            target(&u).unwrap(),
            Target::Local(PathBuf::from("/srv/repo/repodata/a.xml.gz"))
        );
        assert!(matches!(
            target(&join("ftp://h/r", "x").unwrap()),
            Err(RepoError::UnsupportedScheme { .. })
        ));
    }
}
