//! The network base under `repo` (metadata) and `fetch` (packages): one HTTP(S)/`file://`
//! client per repository ([`Transport`]), when to retry ([`retry`]), mirrorlist and metalink
//! parsing and the order mirrors are tried in ([`mirrors`]), repository keys and detached
//! signatures ([`Keyring`]), the repository both stages read from ([`Remote`]), and the MAC
//! and IPv4 address rules of the boot network ([`addr`]: parsing, normal forms, subnet, range
//! and uniqueness checks) that `profile` and `emit` share.
//!
//! Nothing here knows about package records, the profile or the lock: `repo` and `fetch`
//! bring the meaning (which file, which checksum), this module moves the bytes and checks
//! who signed them.

pub mod addr;
pub mod keys;
pub mod mirrors;
pub mod remote;
pub mod retry;
pub mod transport;

pub use keys::{KeyError, Keyring, load_keyring};
pub use mirrors::{Metalink, MirrorError, parse_mirrorlist};
pub use remote::Remote;
pub use retry::RetryPolicy;
pub use transport::{Proxy, Timeouts, TlsConfig, Transport, TransportError};

/// Check that `url`, a location from a repository's metadata (or a lock) joined onto the
/// repository's base URL `base`, stays where the repository is: a remote repository cannot
/// name a `file:` URL (a host file), and a local one cannot climb out of its folder. `Err`
/// says why, for the caller's error.
pub fn check_within(base: &url::Url, url: &url::Url) -> Result<(), String> {
    if url.scheme() != "file" {
        return Ok(());
    }
    if base.scheme() != "file" {
        return Err(format!(
            "a `{}` repository cannot name the local file `{url}`",
            base.scheme()
        ));
    }
    // Compare decoded paths: `%2F` and `%2E%2E` decode to `/` and `..`.
    let (Ok(b), Ok(p)) = (base.to_file_path(), url.to_file_path()) else {
        return Err(format!("`{url}` is not a local path"));
    };
    let climbs = p
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if climbs || !p.starts_with(&b) {
        return Err(format!("`{url}` is outside the repository `{base}`"));
    }
    Ok(())
}

/// `err: cause: cause`, one line: for warnings and lists of failed attempts, where the
/// `Caused by:` lines of the CLI are not printed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::check_within;
    use url::Url;

    #[test]
    fn locations_stay_inside_their_repository() {
        let u = |s: &str| Url::parse(s).unwrap();
        let http = u("http://mirror/os/");
        let file = u("file:///srv/repo/");
        let ok = |b: &Url, h: &str| check_within(b, &b.join(h).unwrap());
        assert!(ok(&http, "Packages/a.rpm").is_ok());
        assert!(ok(&http, "../other/a.rpm").is_ok());
        assert!(ok(&http, "https://elsewhere/a.rpm").is_ok());
        assert!(ok(&file, "Packages/a.rpm").is_ok());
        let e = ok(&http, "file:///etc/shadow").unwrap_err();
        assert!(e.contains("/etc/shadow"), "{e}");
        assert!(ok(&file, "../../etc/shadow").is_err());
        assert!(ok(&file, "file:///etc/shadow").is_err());
        assert!(ok(&file, "Packages%2F..%2F..%2F..%2Fetc%2Fshadow").is_err());
    }
}
