//! Mirrors: where a repository's files can be downloaded from, in the order to try them.
//!
//! A `mirrorlist` is a text file of base URLs, one a line (`#` comments). A `metalink`
//! (MirrorManager's format, as Fedora and EPEL serve it) lists URLs of `repomd.xml` with a
//! preference, plus the size and hashes of the current `repomd.xml` and of recent
//! alternates: [`Metalink::check_repomd`] checks a downloaded `repomd.xml` against them, so a
//! stale or hostile mirror is caught before its metadata is believed.
//!
//! The order is the same for metadata (`repo`) and packages (`fetch`): base URLs first, then
//! the metalink's mirrors by preference, then the mirrorlist's in file order, each once
//! ([`add_unique`]). Where the two documents come from (kept copies, retries) is each
//! stage's own business.

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use sha2::Digest;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MirrorError {
    #[error("The metalink `{url}` is not valid XML")]
    Xml {
        url: String,
        #[source]
        source: quick_xml::Error,
    },
    #[error("The metalink `{url}` lists no `repomd.xml` with http, https or file URLs")]
    NoRepomd { url: String },
    #[error("`repomd.xml` from `{url}` matches none of the metalink's checksums ({detail})")]
    RepomdMismatch { url: String, detail: String },
}

/// The base URLs of a mirrorlist, in file order, without duplicates.
pub fn parse_mirrorlist(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let url = line.to_string();
        if supported(&url) && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

fn supported(url: &str) -> bool {
    ["http://", "https://", "file://"]
        .iter()
        .any(|p| url.starts_with(p))
}

/// Append `urls` to the try-order `list`, skipping any already in it (compared without
/// trailing slashes, so `http://a/os` and `http://a/os/` are one mirror). With `slash`, each
/// added URL gets a trailing `/`: mirrorlist and metalink entries are folders, joined onto.
pub fn add_unique(list: &mut Vec<String>, urls: impl IntoIterator<Item = String>, slash: bool) {
    for b in urls {
        let b = if slash && !b.ends_with('/') {
            format!("{b}/")
        } else {
            b
        };
        let key = b.trim_end_matches('/');
        if !list.iter().any(|o| o.trim_end_matches('/') == key) {
            list.push(b);
        }
    }
}

/// Size and hashes of one version of `repomd.xml` (the current one or an alternate).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepomdVersion {
    pub timestamp: Option<u64>,
    pub size: Option<u64>,
    /// `(type, lowercase hex)`, e.g. `("sha256", "94c9…")`.
    pub hashes: Vec<(String, String)>,
}

impl RepomdVersion {
    /// Whether `bytes` are this version: the size (when given) and every hash we can compute
    /// (sha256, sha512; md5 and sha1 are ignored as too weak) match, and at least one did.
    fn matches(&self, bytes: &[u8]) -> bool {
        if self.size.is_some_and(|s| s != bytes.len() as u64) {
            return false;
        }
        let mut checked = 0;
        for (kind, hex) in &self.hashes {
            let actual = match kind.as_str() {
                "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
                "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
                _ => continue,
            };
            if !actual.eq_ignore_ascii_case(hex) {
                return false;
            }
            checked += 1;
        }
        checked > 0
    }
}

/// One `<url>` of a metalink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetalinkUrl {
    pub url: String,
    pub preference: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metalink {
    pub repomd: RepomdVersion,
    pub alternates: Vec<RepomdVersion>,
    /// URLs of `repomd.xml`, in document order.
    pub urls: Vec<MetalinkUrl>,
}

impl Metalink {
    /// Parse the metalink document read from `url` (used in error messages).
    pub fn parse(xml: &[u8], url: &str) -> Result<Metalink, MirrorError> {
        let mut reader = quick_xml::Reader::from_reader(xml);
        let mut buf = Vec::new();
        let mut ml = Metalink::default();
        // Element names from the root down (local names: `mm0:` prefixes dropped).
        let mut path: Vec<String> = Vec::new();
        let mut in_repomd = false;
        let mut current_alt: Option<RepomdVersion> = None;
        let mut text = String::new();
        let mut hash_type: Option<String> = None;
        let mut url_pref: u32 = 0;
        loop {
            let ev = reader
                .read_event_into(&mut buf)
                .map_err(|source| MirrorError::Xml {
                    url: url.to_string(),
                    source,
                })?;
            match ev {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_string();
                    text.clear();
                    match name.as_str() {
                        "file" => {
                            let n = attr(&e, "name");
                            in_repomd = n.as_deref() == Some("repomd.xml");
                        }
                        "alternate" if in_repomd => current_alt = Some(RepomdVersion::default()),
                        "hash" => hash_type = attr(&e, "type").map(|t| t.to_ascii_lowercase()),
                        "url" => {
                            url_pref = attr(&e, "preference")
                                .and_then(|p| p.parse().ok())
                                .unwrap_or(0)
                        }
                        _ => {}
                    }
                    path.push(name);
                }
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                    } else {
                        text.push_str(match r.as_ref() {
                            "amp" => "&",
                            "lt" => "<",
                            "gt" => ">",
                            "quot" => "\"",
                            "apos" => "'",
                            _ => "",
                        });
                    }
                }
                Event::End(_) => {
                    let name = path.pop().unwrap_or_default();
                    let value = text.trim().to_string();
                    text.clear();
                    if !in_repomd {
                        continue;
                    }
                    let target = match current_alt.as_mut() {
                        Some(a) => a,
                        None => &mut ml.repomd,
                    };
                    match name.as_str() {
                        "timestamp" => target.timestamp = value.parse().ok(),
                        "size" => target.size = value.parse().ok(),
                        "hash" => {
                            if let Some(t) = hash_type.take() {
                                target.hashes.push((t, value.to_ascii_lowercase()));
                            }
                        }
                        "alternate" => {
                            if let Some(a) = current_alt.take() {
                                ml.alternates.push(a);
                            }
                        }
                        "url" if supported(&value) => {
                            ml.urls.push(MetalinkUrl {
                                url: value,
                                preference: url_pref,
                            });
                        }
                        "file" => in_repomd = false,
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        if ml.urls.is_empty() {
            return Err(MirrorError::NoRepomd {
                url: url.to_string(),
            });
        }
        Ok(ml)
    }

    /// Base URLs (the `repomd.xml` URLs without `repodata/repomd.xml`), highest preference
    /// first, document order among equals, without duplicates.
    pub fn baseurls(&self) -> Vec<String> {
        let mut urls: Vec<&MetalinkUrl> = self.urls.iter().collect();
        urls.sort_by_key(|u| std::cmp::Reverse(u.preference));
        let mut out: Vec<String> = Vec::new();
        for u in urls {
            let base = u
                .url
                .strip_suffix("repodata/repomd.xml")
                .unwrap_or(&u.url)
                .to_string();
            if !out.contains(&base) {
                out.push(base);
            }
        }
        out
    }

    /// Check a `repomd.xml` downloaded from `url` against the metalink: it must be the
    /// current version or one of the listed alternates.
    pub fn check_repomd(&self, bytes: &[u8], url: &str) -> Result<(), MirrorError> {
        if std::iter::once(&self.repomd)
            .chain(&self.alternates)
            .any(|v| v.matches(bytes))
        {
            return Ok(());
        }
        Err(MirrorError::RepomdMismatch {
            url: url.to_string(),
            detail: format!(
                "got {} bytes, sha256 {}",
                bytes.len(),
                hex::encode(sha2::Sha256::digest(bytes))
            ),
        })
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_unique_keeps_the_first_of_each_mirror() {
        let mut list = vec!["http://a/os".to_string()];
        add_unique(
            &mut list,
            ["http://a/os/", "http://b/os", "http://b/os/"].map(String::from),
            true,
        );
        assert_eq!(list, ["http://a/os", "http://b/os/"]);
    }

    #[test]
    fn mirrorlist_skips_comments_and_duplicates() {
        let text = "# a comment\n\nhttp://a.example/repo/\n  https://b.example/x  \nrsync://c/x\nhttp://a.example/repo/\n";
        assert_eq!(
            parse_mirrorlist(text),
            vec![
                "http://a.example/repo/".to_string(),
                "https://b.example/x".to_string()
            ]
        );
    }

    const SMALL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1601254082</mm0:timestamp>
   <size>5</size>
   <verification>
    <hash type="md5">5d41402abc4b2a76b9719d911017c592</hash>
    <hash type="sha256">2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824</hash>
   </verification>
   <mm0:alternates>
    <mm0:alternate>
      <size>5</size>
      <verification><hash type="sha256">486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7</hash></verification>
    </mm0:alternate>
   </mm0:alternates>
   <resources maxconnections="1">
    <url protocol="http" type="http" location="DE" preference="90">http://low.example/f/repodata/repomd.xml</url>
    <url protocol="rsync" type="rsync" location="DE" preference="100">rsync://r.example/f/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="GB" preference="100">https://high.example/f/repodata/repomd.xml?a=1&amp;b=2</url>
   </resources>
  </file>
 </files>
</metalink>"#;

    #[test]
    fn metalink_orders_by_preference_and_checks_repomd() {
        let ml = Metalink::parse(SMALL.as_bytes(), "m").unwrap();
        assert_eq!(ml.repomd.size, Some(5));
        assert_eq!(ml.repomd.timestamp, Some(1601254082));
        assert_eq!(ml.alternates.len(), 1);
        assert_eq!(
            ml.baseurls(),
            vec![
                "https://high.example/f/repodata/repomd.xml?a=1&b=2".to_string(),
                "http://low.example/f/".to_string()
            ]
        );
        ml.check_repomd(b"hello", "u").unwrap();
        ml.check_repomd(b"world", "u").unwrap(); // the alternate
        let err = ml.check_repomd(b"hellO", "u").unwrap_err();
        assert!(err.to_string().contains("matches none"), "{err}");
    }

    #[test]
    fn metalink_without_sha256_or_sha512_matches_nothing() {
        let xml = r#"<metalink><files><file name="repomd.xml"><size>5</size>
            <verification><hash type="md5">5d41402abc4b2a76b9719d911017c592</hash></verification>
            <resources><url preference="1">http://a/repodata/repomd.xml</url></resources></file></files></metalink>"#;
        let ml = Metalink::parse(xml.as_bytes(), "m").unwrap();
        assert!(ml.check_repomd(b"hello", "u").is_err());
    }

    #[test]
    fn metalink_of_fedora_mirrormanager() {
        // A real MirrorManager answer for Fedora 32 updates, from bazeldnf's test data.
        let Ok(fx) = std::env::var("DISKLESS_FIXTURES") else {
            return;
        };
        let p = std::path::Path::new(&fx).join("bazeldnf/pkg/repo/testdata/metalink");
        let ml = Metalink::parse(&std::fs::read(p).unwrap(), "metalink").unwrap();
        assert_eq!(ml.repomd.size, Some(8311));
        assert_eq!(ml.alternates.len(), 3);
        let bases = ml.baseurls();
        assert_eq!(
            bases[0],
            "http://fedora.tu-chemnitz.de/pub/linux/fedora/linux/updates/32/Everything/x86_64/"
        );
        assert!(bases.iter().all(|b| !b.starts_with("rsync")));
    }
}
