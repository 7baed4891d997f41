//! Where a repository's metadata is read from: its `baseurl`s first, then the mirrors of
//! its `metalink` and `mirrorlist`, parsed and ordered by [`crate::net::mirrors`] (the code
//! the package fetcher uses for the same lists). A metalink also pins repomd.xml: with one,
//! every repomd.xml of the repository must match one of its hashes before it is believed
//! ([`Metalink::check_repomd`], called by `super::read_repomd`).
//!
//! Both documents are kept in the cache, so `--offline` finds the same mirrors (and their
//! cached repomd.xml), and a mirror-list server that is down does not stop a run (a warning
//! names it and the kept copy is used).

use super::download::{self, Target};
use super::{LoadOptions, RepoError, cache};
use crate::net::mirrors::{Metalink, add_unique, parse_mirrorlist};
use crate::net::{Remote, Transport};
use url::Url;

/// The base URLs of one repository, in the order to try them, and its metalink.
#[derive(Debug)]
pub(crate) struct Mirrors {
    pub baseurls: Vec<String>,
    pub metalink: Option<Metalink>,
}

/// Read the repository's metalink and mirrorlist (when it has them) and list its base URLs:
/// `baseurl`s as written, then the metalink's mirrors by preference, then the mirrorlist's
/// in file order, without duplicates. A metalink that cannot be read is an error (it is the
/// trust anchor the profile asked for); a mirrorlist only when nothing else is left to try.
pub(crate) fn resolve(
    source: &Remote,
    t: &Transport,
    options: &LoadOptions,
) -> Result<Mirrors, RepoError> {
    let mut baseurls: Vec<String> = Vec::new();
    add_unique(&mut baseurls, source.baseurls.iter().cloned(), false);
    let mut metalink = None;
    if let Some(url) = &source.metalink {
        let bytes = document(source, t, options, url, "metalink.xml")?;
        let ml = Metalink::parse(&bytes, url)?;
        add_unique(&mut baseurls, ml.baseurls(), true);
        metalink = Some(ml);
    }
    if let Some(url) = &source.mirrorlist {
        match document(source, t, options, url, "mirrorlist") {
            Ok(bytes) => {
                let list = parse_mirrorlist(&String::from_utf8_lossy(&bytes));
                if list.is_empty() {
                    tracing::warn!(
                        "repository `{}`: the mirrorlist `{url}` lists no http, https or file URL",
                        source.id
                    );
                }
                add_unique(&mut baseurls, list, true);
            }
            Err(e) if !source.baseurls.is_empty() || metalink.is_some() => {
                tracing::warn!("repository `{}`: {e}; using its other mirrors", source.id);
            }
            Err(e) => return Err(e),
        }
    }
    if baseurls.is_empty() {
        return Err(RepoError::NoBaseurl {
            repo: source.id.clone(),
        });
    }
    Ok(Mirrors { baseurls, metalink })
}

/// A mirrorlist or metalink: read in place when local; downloaded and kept when remote,
/// the kept copy standing in offline or when the server fails.
fn document(
    source: &Remote,
    t: &Transport,
    options: &LoadOptions,
    url: &str,
    name: &str,
) -> Result<Vec<u8>, RepoError> {
    let u = Url::parse(url).map_err(|e| RepoError::BadUrl {
        url: url.to_string(),
        source: e,
    })?;
    if let Target::Local(path) = download::target(&u)? {
        return download::read_local(&path, &u);
    }
    let kept = cache::kept_path(&options.cache_dir, &source.id, url, name);
    if options.offline {
        return fs_err::read(&kept).map_err(|_| RepoError::Offline {
            url: url.to_string(),
        });
    }
    match download::read_all(t, &u) {
        Ok(bytes) => {
            if let Some(dir) = kept.parent() {
                fs_err::create_dir_all(dir)?;
            }
            crate::fsx::write_atomic(&kept, &bytes)?;
            Ok(bytes)
        }
        Err(e) => match fs_err::read(&kept) {
            Ok(bytes) => {
                tracing::warn!(
                    "repository `{}`: {e}; using the copy kept from an earlier run",
                    source.id
                );
                Ok(bytes)
            }
            Err(_) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Proxy, Timeouts, TlsConfig};

    fn file_url(p: &std::path::Path) -> String {
        format!("file://{}", p.display())
    }

    #[test]
    fn baseurls_then_metalink_then_mirrorlist_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let ml = dir.path().join("mirrorlist");
        std::fs::write(
            &ml,
            "# comment\nhttp://b.example/os\nhttp://a.example/os/\nftp://x/\nhttp://c.example/os\n",
        )
        .unwrap();
        let meta = dir.path().join("metalink");
        std::fs::write(
            &meta,
            r#"<metalink><files><file name="repomd.xml"><size>5</size>
            <verification><hash type="sha256">00</hash></verification><resources>
            <url preference="10">http://c.example/os/repodata/repomd.xml</url>
            <url preference="90">http://d.example/os/repodata/repomd.xml</url>
            </resources></file></files></metalink>"#,
        )
        .unwrap();
        let src = Remote {
            mirrorlist: Some(file_url(&ml)),
            metalink: Some(file_url(&meta)),
            ..Remote::new("t", "http://a.example/os/")
        };
        let t = Transport::new(
            &TlsConfig::default(),
            &Proxy::Environment,
            Timeouts::default(),
        )
        .unwrap();
        let opts = LoadOptions {
            cache_dir: dir.path().join("cache"),
            offline: true,
        };
        let m = resolve(&src, &t, &opts).unwrap();
        assert_eq!(
            m.baseurls,
            [
                "http://a.example/os/",
                "http://d.example/os/",
                "http://c.example/os/",
                "http://b.example/os/"
            ]
        );
        assert!(m.metalink.is_some());

        // A mirrorlist that cannot be read is only a warning while other mirrors remain...
        let missing = Remote {
            mirrorlist: Some(file_url(&dir.path().join("nope"))),
            ..Remote::new("t", "http://a.example/os/")
        };
        assert_eq!(
            resolve(&missing, &t, &opts).unwrap().baseurls,
            ["http://a.example/os/"]
        );
        // ...and the error when it was the only source; a missing metalink always is.
        let only = Remote {
            baseurls: Vec::new(),
            ..missing.clone()
        };
        assert!(matches!(
            resolve(&only, &t, &opts),
            Err(RepoError::NotFound { .. })
        ));
        let meta_missing = Remote {
            mirrorlist: None,
            metalink: Some(file_url(&dir.path().join("nope"))),
            ..missing
        };
        assert!(matches!(
            resolve(&meta_missing, &t, &opts),
            Err(RepoError::NotFound { .. })
        ));
    }
}
