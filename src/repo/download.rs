//! A plain fetch of `file://` and `http(s)://` URLs: read a local file, or GET a remote one
//! into a file. No retries or resumption here: robust downloading of packages lives in
//! `fetch`; metadata files are few and small enough for this.

use super::RepoError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use url::Url;

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

fn client(url: &Url) -> Result<&'static reqwest::blocking::Client, RepoError> {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    // reqwest is built without a default TLS crypto provider (so the binary picks one);
    // installing ring twice is harmless, hence the ignored result.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::blocking::Client::builder()
        .user_agent(concat!("diskless/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|source| RepoError::Network {
            url: url.to_string(),
            source,
        })?;
    Ok(CLIENT.get_or_init(|| c))
}

fn get(url: &Url) -> Result<reqwest::blocking::Response, RepoError> {
    let resp = client(url)?
        .get(url.clone())
        .send()
        .map_err(|source| RepoError::Network {
            url: url.to_string(),
            source,
        })?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Err(RepoError::NotFound {
            url: url.to_string(),
        });
    }
    if !status.is_success() {
        return Err(RepoError::HttpStatus {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    Ok(resp)
}

/// The whole content of a (small) file: repomd.xml.
pub fn read_all(url: &Url) -> Result<Vec<u8>, RepoError> {
    match target(url)? {
        Target::Local(path) => read_local(&path, url),
        Target::Remote(u) => {
            let mut resp = get(&u)?;
            let mut out = Vec::new();
            resp.read_to_end(&mut out)
                .map_err(|source| RepoError::Transfer {
                    url: u.to_string(),
                    source,
                })?;
            Ok(out)
        }
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

/// GET a remote URL into `dest` (created or truncated).
pub fn download_to(url: &Url, dest: &Path) -> Result<u64, RepoError> {
    let mut resp = get(url)?;
    let mut file = fs_err::File::create(dest)?;
    resp.copy_to(&mut file)
        .map_err(|source| RepoError::Network {
            url: url.to_string(),
            source,
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
