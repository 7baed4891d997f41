//! One remote repository as every stage sees it: where its files are (base URLs, a
//! mirrorlist or metalink), how to reach them (TLS, proxy), which keys sign it, and the
//! few dnf settings that decide which of its packages are visible and preferred.
//!
//! `repo` reads metadata from it, `fetch` downloads packages from it; the build plan makes
//! it from the profile's `[[repo]]` (so neither stage reads the profile).

use super::transport::{Proxy, Timeouts, TlsConfig};

/// A remote repository.
///
/// One flat type rather than network facts plus a repo-side struct for priority, cost and
/// package filters: those are five plain fields of the same `.repo` section, and a second
/// struct would bring back the two-types-for-one-remote problem this type replaces (two
/// constructors, two conversions from the profile, kept in step by hand). `net` itself
/// reads only the network fields; `repo`'s pool and the resolver read the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub id: String,
    /// Base URLs (after `$releasever`/`$basearch` substitution) tried in order; `file://`,
    /// `http://` or `https://`. The fetcher tries the base URL the lock recorded first.
    pub baseurls: Vec<String>,
    /// URL of a mirror list (base URLs, one a line), tried after `baseurls`.
    pub mirrorlist: Option<String>,
    /// URL of a metalink: its mirrors are tried after `baseurls`, and every repomd.xml must
    /// match its hashes.
    pub metalink: Option<String>,
    /// TLS client certificate, CA and verification (`sslclientcert`, ...).
    pub tls: TlsConfig,
    /// The repository's `proxy` (with its credentials); [`Proxy::Environment`] when unset.
    pub proxy: Proxy,
    /// Connect and read timeouts and the minimum rate (`timeout`, `minrate`).
    pub timeouts: Timeouts,
    /// Check package signatures (`gpgcheck`). Turning it off is an explicit profile setting.
    pub gpgcheck: bool,
    /// Check `repodata/repomd.xml.asc` against `gpgkeys` before reading repomd.xml.
    pub repo_gpgcheck: bool,
    /// `gpgkey` entries: URLs (`file://`, `https://`) or local paths of ASCII-armored keys.
    pub gpgkeys: Vec<String>,
    /// dnf's priority: lower wins (default 99).
    pub priority: i32,
    /// dnf's cost: lower preferred among equal priorities (default 1000).
    pub cost: i32,
    /// Package name globs hidden from this repository (dnf's `excludepkgs`).
    pub excludepkgs: Vec<String>,
    /// When non-empty, only package names matching these globs are visible.
    pub includepkgs: Vec<String>,
    /// Packages of this repository ignore modular filtering (dnf's `module_hotfixes`).
    pub module_hotfixes: bool,
    /// dnf's `skip_if_unavailable`: resolving goes on without this repository (with a
    /// warning) when its metadata cannot be reached. Fetching never skips: a lock's
    /// packages are needed wherever they came from.
    pub skip_if_unavailable: bool,
}

impl Remote {
    /// A repository with one base URL, dnf's default priority and cost, and signature
    /// checks off (tests, `file://` scratch repositories); set fields with `..` to add more.
    pub fn new(id: impl Into<String>, baseurl: impl Into<String>) -> Remote {
        Remote {
            id: id.into(),
            baseurls: vec![baseurl.into()],
            mirrorlist: None,
            metalink: None,
            tls: TlsConfig::default(),
            proxy: Proxy::Environment,
            timeouts: Timeouts::default(),
            gpgcheck: false,
            repo_gpgcheck: false,
            gpgkeys: Vec::new(),
            priority: 99,
            cost: 1000,
            excludepkgs: Vec::new(),
            includepkgs: Vec::new(),
            module_hotfixes: false,
            skip_if_unavailable: false,
        }
    }
}
