//! Repositories: inline `[[repo]]` tables and the sections of the `.repo` files named in
//! `repo_files`, read into [`RepoDraft`]s, then checked, substituted (`$releasever`…) and made
//! absolute into [`RepoConfig`]s.

use super::{Cx, Loc};
use crate::net::Timeouts;
use crate::profile::error::{Diagnostic, ProfileError};
use crate::profile::model::{RepoConfig, RepoSource};
use crate::profile::repofile;
use crate::profile::schema::{OneOrMany, RawRepo};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A repository as read from a `[[repo]]` table or a `.repo` section, before substitution and
/// checks.
#[derive(Debug)]
pub(crate) struct RepoDraft {
    pub id: String,
    pub id_loc: Loc,
    pub source: RepoSource,
    /// Relative paths in this definition resolve against this folder.
    pub base_dir: PathBuf,
    pub name: Option<String>,
    pub baseurl: Vec<(String, Loc)>,
    pub mirrorlist: Option<(String, Loc)>,
    pub metalink: Option<(String, Loc)>,
    pub gpgkey: Vec<(String, Loc)>,
    pub gpgcheck: Option<bool>,
    pub repo_gpgcheck: Option<bool>,
    pub enabled: Option<bool>,
    pub priority: Option<(i64, Loc)>,
    pub cost: Option<(i64, Loc)>,
    pub sslclientcert: Option<(String, Loc)>,
    pub sslclientkey: Option<(String, Loc)>,
    pub sslcacert: Option<(String, Loc)>,
    pub sslverify: Option<bool>,
    pub excludepkgs: Vec<String>,
    pub includepkgs: Vec<String>,
    pub module_hotfixes: Option<bool>,
    pub skip_if_unavailable: Option<bool>,
    pub proxy: Option<(String, Loc)>,
    pub proxy_username: Option<(String, Loc)>,
    pub proxy_password: Option<(String, Loc)>,
    /// dnf's `timeout` (seconds) and `minrate` (bytes/s, `k`/`M`/`G` suffixes), as written.
    pub timeout: Option<(String, Loc)>,
    pub minrate: Option<(String, Loc)>,
}

impl RepoDraft {
    pub fn new(id: String, id_loc: Loc, source: RepoSource, base_dir: PathBuf) -> Self {
        RepoDraft {
            id,
            id_loc,
            source,
            base_dir,
            name: None,
            baseurl: Vec::new(),
            mirrorlist: None,
            metalink: None,
            gpgkey: Vec::new(),
            gpgcheck: None,
            repo_gpgcheck: None,
            enabled: None,
            priority: None,
            cost: None,
            sslclientcert: None,
            sslclientkey: None,
            sslcacert: None,
            sslverify: None,
            excludepkgs: Vec::new(),
            includepkgs: Vec::new(),
            module_hotfixes: None,
            skip_if_unavailable: None,
            proxy: None,
            proxy_username: None,
            proxy_password: None,
            timeout: None,
            minrate: None,
        }
    }
}

/// dnf's rule for repository ids.
pub(crate) fn check_repo_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("Repository id is empty".into());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    {
        return Err(format!(
            "Repository id `{id}` contains `{c}` (allowed: letters, digits, `-`, `_`, `.`, `:`)"
        ));
    }
    Ok(())
}

/// All enabled repositories, sorted by id. `image_span` locates the "no repository" error.
pub(super) fn repos(
    cx: &Cx,
    inline: Vec<Spanned<RawRepo>>,
    repo_files: &[Spanned<String>],
    vars: &BTreeMap<String, String>,
    image_span: Range<usize>,
) -> Result<Vec<RepoConfig>, ProfileError> {
    let drafts = drafts(cx, inline, repo_files)?;
    let mut repos: Vec<RepoConfig> = Vec::new();
    let mut seen: BTreeMap<String, Loc> = BTreeMap::new();
    for d in drafts {
        if let Some(first) = seen.get(&d.id) {
            return Err(d
                .id_loc
                .err_plain(format!("Repository `{}` is defined twice", d.id))
                .with_hint(format!(
                    "the first definition is at {}:{}",
                    first.file.display(),
                    first.line
                ))
                .into());
        }
        seen.insert(d.id.clone(), d.id_loc.clone());
        if d.enabled == Some(false) {
            continue;
        }
        repos.push(finish_repo(d, vars)?);
    }
    repos.sort_by(|a, b| a.id.cmp(&b.id));
    if repos.is_empty() {
        return Err(cx
            .loc(image_span.start..image_span.start + 7, "repo")
            .err_plain("The profile has no enabled repository")
            .with_hint("add a `[[repo]]` table with a `baseurl`, or name `.repo` files in the top-level `repo_files`")
            .into());
    }
    Ok(repos)
}

/// Every definition, inline ones first, then each `.repo` file's sections in file order.
fn drafts(
    cx: &Cx,
    inline: Vec<Spanned<RawRepo>>,
    repo_files: &[Spanned<String>],
) -> Result<Vec<RepoDraft>, ProfileError> {
    let mut drafts = Vec::new();
    for r in inline {
        drafts.push(inline_repo(cx, r, drafts.len())?);
    }
    for f in repo_files {
        let abs = cx.existing_file(f, "repo_files")?;
        let content = fs_err::read_to_string(&abs)?;
        // Name the file as the user would find it: next to the profile as written.
        let shown = cx
            .st
            .path
            .parent()
            .unwrap_or(Path::new(""))
            .join(f.get_ref());
        let mut ds = repofile::parse(&shown, &content)?;
        for d in &mut ds {
            d.base_dir = abs.parent().unwrap_or(cx.dir).to_path_buf();
        }
        drafts.extend(ds);
    }
    Ok(drafts)
}

fn inline_repo(cx: &Cx, r: Spanned<RawRepo>, index: usize) -> Result<RepoDraft, Diagnostic> {
    let (line, _) = cx.st.line_col(r.span().start);
    let r = r.into_inner();
    let f = |k: &str| format!("repo[{index}].{k}");
    if let Err(m) = check_repo_id(r.id.get_ref()) {
        return Err(cx.loc(r.id.span(), f("id")).err(m));
    }
    let id_loc = cx.loc(r.id.span(), f("id"));
    let mut d = RepoDraft::new(
        r.id.into_inner(),
        id_loc,
        RepoSource::Profile { line },
        cx.dir.to_path_buf(),
    );
    let one = |v: Option<Spanned<String>>, k: &str| {
        v.map(|v| (v.get_ref().clone(), cx.loc(v.span(), f(k))))
    };
    let many = |v: Option<Spanned<OneOrMany>>, k: &str| -> Vec<(String, Loc)> {
        v.map(|v| {
            let loc = cx.loc(v.span(), f(k));
            v.into_inner()
                .0
                .into_iter()
                .map(|s| (s, loc.clone()))
                .collect()
        })
        .unwrap_or_default()
    };
    let num = |v: Option<Spanned<i64>>, k: &str| v.map(|v| (*v.get_ref(), cx.loc(v.span(), f(k))));
    d.name = r.name;
    d.baseurl = many(r.baseurl, "baseurl");
    d.mirrorlist = one(r.mirrorlist, "mirrorlist");
    d.metalink = one(r.metalink, "metalink");
    d.gpgkey = many(r.gpgkey, "gpgkey");
    d.gpgcheck = r.gpgcheck;
    d.repo_gpgcheck = r.repo_gpgcheck;
    d.enabled = r.enabled;
    d.priority = num(r.priority, "priority");
    d.cost = num(r.cost, "cost");
    d.sslclientcert = one(r.sslclientcert, "sslclientcert");
    d.sslclientkey = one(r.sslclientkey, "sslclientkey");
    d.sslcacert = one(r.sslcacert, "sslcacert");
    d.sslverify = r.sslverify;
    // As in .repo files, one string may hold several globs separated by commas or spaces.
    let globs = |v: Option<OneOrMany>| -> Vec<String> {
        v.map(|v| v.0.iter().flat_map(|s| repofile::split_list(s)).collect())
            .unwrap_or_default()
    };
    d.excludepkgs = globs(r.excludepkgs);
    d.includepkgs = globs(r.includepkgs);
    d.module_hotfixes = r.module_hotfixes;
    d.skip_if_unavailable = r.skip_if_unavailable;
    d.proxy = one(r.proxy, "proxy");
    d.proxy_username = one(r.proxy_username, "proxy_username");
    d.proxy_password = one(r.proxy_password, "proxy_password");
    d.timeout = r
        .timeout
        .map(|v| (v.get_ref().to_string(), cx.loc(v.span(), f("timeout"))));
    d.minrate = r
        .minrate
        .map(|v| (v.get_ref().to_string(), cx.loc(v.span(), f("minrate"))));
    Ok(d)
}

/// Substitute dnf variables (`$name`, `${name}`) in `s`. An unknown variable is an error:
/// dnf would leave it in the URL and fail later with a 404.
pub(crate) fn substitute(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(j) => (&b[..j], j + 2),
                None => return Err(format!("`${{` without a closing `}}` in `{s}`")),
            }
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..n], n)
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        // dnf matches the longest defined name, so `$releasever_major` is not `$releasever` + `_major`.
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => return Err(format!("Unknown variable `${name}` in `{s}`")),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Make a repository URL absolute: http(s)/file URLs stay, paths become `file://` URLs.
fn repo_url(raw: &str, base_dir: &Path, what: &str) -> Result<String, String> {
    match url::Url::parse(raw) {
        Ok(u) => match u.scheme() {
            "http" | "https" | "file" => Ok(raw.to_string()),
            s => Err(format!(
                "Unsupported URL scheme `{s}` in {what} `{raw}` (expected http, https or file)"
            )),
        },
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            if raw.starts_with('/') || raw.starts_with("./") || raw.starts_with("../") {
                let p = base_dir.join(raw);
                let u = url::Url::from_file_path(normalize(&p))
                    .map_err(|_| format!("Cannot turn `{raw}` into a file URL"))?;
                Ok(u.to_string())
            } else {
                Err(format!(
                    "`{raw}` is not a URL or a path in {what} (write `https://…` for a remote repository, or `./…` for a folder next to the profile)"
                ))
            }
        }
        Err(e) => Err(format!("Invalid URL `{raw}` in {what}: {e}")),
    }
}

/// Lexically normalise an absolute path (drop `.`, apply `..`).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn finish_repo(d: RepoDraft, vars: &BTreeMap<String, String>) -> Result<RepoConfig, Diagnostic> {
    let r = Resolver {
        vars,
        base_dir: &d.base_dir,
    };
    let baseurl = r.baseurls(&d.baseurl)?;
    let mirrorlist = r.remote(&d.mirrorlist, "mirrorlist")?;
    let metalink = r.remote(&d.metalink, "metalink")?;
    if baseurl.is_empty() && mirrorlist.is_none() && metalink.is_none() {
        return Err(d
            .id_loc
            .err(format!(
                "Repository `{}` has no `baseurl`, `mirrorlist` or `metalink`",
                d.id
            ))
            .with_hint(
                "add `baseurl = \"https://…/os/\"`, or `enabled = false` to keep it switched off",
            ));
    }
    let gpgkey = r.gpgkeys(&d.gpgkey)?;
    let gpgcheck = d.gpgcheck.unwrap_or(true);
    if gpgcheck && gpgkey.is_empty() {
        return Err(d
            .id_loc
            .err(format!("Repository `{}` checks signatures (`gpgcheck` is on) but names no `gpgkey`", d.id))
            .with_hint("add `gpgkey = \"https://…/RPM-GPG-KEY-…\"`, or set `gpgcheck = false` for an unsigned test repository"));
    }
    let priority = count(&d.priority, 99, "priority", 1, 99)?;
    let cost = count(&d.cost, 1000, "cost", 0, i64::from(u32::MAX))?;
    let name = match &d.name {
        Some(n) => substitute(n, vars).unwrap_or_else(|_| n.clone()),
        None => d.id.clone(),
    };
    Ok(RepoConfig {
        name,
        baseurl,
        mirrorlist,
        metalink,
        gpgkey,
        gpgcheck,
        repo_gpgcheck: d.repo_gpgcheck.unwrap_or(false),
        priority,
        cost,
        sslclientcert: r.path(&d.sslclientcert)?,
        sslclientkey: r.path(&d.sslclientkey)?,
        sslcacert: r.path(&d.sslcacert)?,
        sslverify: d.sslverify.unwrap_or(true),
        excludepkgs: d.excludepkgs,
        includepkgs: d.includepkgs,
        module_hotfixes: d.module_hotfixes.unwrap_or(false),
        skip_if_unavailable: d.skip_if_unavailable.unwrap_or(false),
        proxy: r.proxy(&d.proxy)?,
        proxy_username: d.proxy_username.map(|(u, _)| u),
        proxy_password: d.proxy_password.map(|(p, _)| p),
        timeouts: timeouts(&d.timeout, &d.minrate)?,
        source: d.source,
        id: d.id,
    })
}

/// dnf's `timeout` (seconds, for connecting and for each wait for data) and `minrate`
/// (bytes per second over one timeout, `k`/`M`/`G` suffixes as dnf takes them).
fn timeouts(
    timeout: &Option<(String, Loc)>,
    minrate: &Option<(String, Loc)>,
) -> Result<Timeouts, Diagnostic> {
    let mut t = Timeouts::default();
    if let Some((v, loc)) = timeout {
        let secs: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 86400.0)
            .ok_or_else(|| {
                loc.err(format!(
                    "`{v}` is not a timeout in seconds (a number above 0, at most 86400)"
                ))
            })?;
        let d = Duration::from_secs_f64(secs);
        // dnf's one `timeout` bounds both the connection and each stall.
        t.connect = d;
        t.read = d;
    }
    if let Some((v, loc)) = minrate {
        t.min_rate = parse_size(v).ok_or_else(|| {
            loc.err(format!(
                "`{v}` is not a rate in bytes per second (e.g. `1000`, `10k`, `1M`; 0 turns it off)"
            ))
        })?;
    }
    Ok(t)
}

/// `1000`, `10k`, `1M`, `1G` (dnf's storage sizes: powers of 1024).
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mul) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1024),
        (i, 'm' | 'M') => (&v[..i], 1024 * 1024),
        (i, 'g' | 'G') => (&v[..i], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mul)
}

/// A number with a default and an allowed range (`priority`, `cost`).
fn count(
    v: &Option<(i64, Loc)>,
    dflt: u32,
    what: &str,
    lo: i64,
    hi: i64,
) -> Result<u32, Diagnostic> {
    match v {
        None => Ok(dflt),
        Some((n, _)) if (lo..=hi).contains(n) => Ok(*n as u32),
        Some((n, loc)) => Err(loc.err(format!("`{what}` {n} is out of range ({lo} to {hi})"))),
    }
}

/// Turns one repository's values into what the fetcher reads: dnf variables substituted,
/// paths and `file://` URLs made absolute against the folder its definition is in.
struct Resolver<'a> {
    vars: &'a BTreeMap<String, String>,
    base_dir: &'a Path,
}

impl Resolver<'_> {
    fn sub(&self, v: &str, loc: &Loc) -> Result<String, Diagnostic> {
        substitute(v, self.vars).map_err(|e| {
            loc.err(e)
                .with_hint("define it under `[vars]` (like /etc/dnf/vars)")
        })
    }

    fn url(&self, v: &str, loc: &Loc, what: &str) -> Result<String, Diagnostic> {
        let s = self.sub(v, loc)?;
        repo_url(&s, self.base_dir, what).map_err(|e| loc.err(e))
    }

    fn baseurls(&self, list: &[(String, Loc)]) -> Result<Vec<String>, Diagnostic> {
        let mut baseurl = Vec::new();
        for (u, loc) in list {
            // A baseurl names a folder: end it with `/` so joining `repodata/repomd.xml` works.
            let mut u = self.url(u, loc, "baseurl")?;
            if !u.ends_with('/') {
                u.push('/');
            }
            baseurl.push(u);
        }
        Ok(baseurl)
    }

    /// A `mirrorlist` or `metalink`: always a URL, never a path.
    fn remote(&self, v: &Option<(String, Loc)>, what: &str) -> Result<Option<String>, Diagnostic> {
        match v {
            None => Ok(None),
            Some((u, loc)) => {
                let s = self.sub(u, loc)?;
                match url::Url::parse(&s) {
                    Ok(p) if ["http", "https", "file"].contains(&p.scheme()) => Ok(Some(s)),
                    Ok(p) => Err(loc.err(format!("Unsupported URL scheme `{}` in {what} `{s}` (expected http, https or file)", p.scheme()))),
                    Err(e) => Err(loc.err(format!("Invalid URL `{s}` in {what}: {e}"))),
                }
            }
        }
    }

    fn gpgkeys(&self, list: &[(String, Loc)]) -> Result<Vec<String>, Diagnostic> {
        let mut gpgkey = Vec::new();
        for (k, loc) in list {
            let s = self.url(k, loc, "gpgkey")?;
            // A key next to the profile must be there now; keys at host paths are read at fetch time.
            if let Some(p) = s.strip_prefix("file://") {
                if !k.starts_with("file:") && !Path::new(p).is_file() {
                    return Err(loc
                        .err(format!("GPG key `{k}` does not exist"))
                        .with_hint(format!("looked for `{p}`")));
                }
            }
            gpgkey.push(s);
        }
        Ok(gpgkey)
    }

    /// A TLS certificate or key path (`sslcacert`…), absolute.
    fn path(&self, v: &Option<(String, Loc)>) -> Result<Option<PathBuf>, Diagnostic> {
        match v {
            None => Ok(None),
            Some((p, loc)) => {
                let s = self.sub(p, loc)?;
                let s = s.strip_prefix("file://").unwrap_or(&s);
                Ok(Some(normalize(&self.base_dir.join(s))))
            }
        }
    }

    fn proxy(&self, v: &Option<(String, Loc)>) -> Result<Option<String>, Diagnostic> {
        match v {
            None => Ok(None),
            Some((p, _)) if p == "_none_" => Ok(Some(p.clone())),
            Some((p, loc)) => {
                let s = self.sub(p, loc)?;
                match url::Url::parse(&s) {
                    Ok(u) if ["http", "https", "socks5", "socks5h"].contains(&u.scheme()) => {
                        Ok(Some(s))
                    }
                    _ => Err(loc.err(format!(
                        "`{s}` is not a proxy URL (expected `http://host:port`, or `_none_`)"
                    ))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution() {
        let vars: BTreeMap<String, String> = [
            ("releasever", "9"),
            ("releasever_major", "9"),
            ("basearch", "x86_64"),
            ("contentdir", "pub/rocky"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(
            substitute(
                "https://x/$contentdir/$releasever/BaseOS/$basearch/os/",
                &vars
            )
            .unwrap(),
            "https://x/pub/rocky/9/BaseOS/x86_64/os/"
        );
        assert_eq!(
            substitute("a${releasever}b$releasever_major", &vars).unwrap(),
            "a9b9"
        );
        assert_eq!(substitute("cost$", &vars).unwrap(), "cost$");
        assert!(
            substitute("x/$stream/", &vars)
                .unwrap_err()
                .contains("$stream")
        );
    }

    #[test]
    fn repo_urls() {
        let d = Path::new("/p");
        assert_eq!(
            repo_url("https://x/y/", d, "baseurl").unwrap(),
            "https://x/y/"
        );
        assert_eq!(repo_url("./repo/", d, "baseurl").unwrap(), "file:///p/repo");
        assert!(repo_url("htps//x", d, "baseurl").is_err());
        assert!(
            repo_url("ftp://x/", d, "baseurl")
                .unwrap_err()
                .contains("ftp")
        );
    }
}
