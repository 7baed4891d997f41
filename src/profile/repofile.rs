//! yum/dnf `.repo` files: the INI dialect dnf reads (`[id]` sections, `key=value`, `#`/`;`
//! comments, indented continuation lines, list values split on commas and whitespace).
//! Each section becomes a [`RepoDraft`] with the line of every value, so a bad value is
//! reported at `file:line:column`. Substitution and checks happen in `validate`, shared with
//! inline `[[repo]]` tables.

// Errors here are a one-shot cold path (the first one ends the load), and a `Diagnostic` carries
// everything needed to show it; boxing every intermediate `Result` would buy nothing.
#![allow(clippy::result_large_err)]

use super::error::{Diagnostic, SourceText, did_you_mean};
use super::model::RepoSource;
use super::validate::{Loc, RepoDraft};
use std::path::Path;

/// Keys diskless understands (and their dnf aliases).
const KNOWN: &[&str] = &[
    "name",
    "baseurl",
    "mirrorlist",
    "metalink",
    "gpgkey",
    "gpgcheck",
    "pkg_gpgcheck",
    "repo_gpgcheck",
    "enabled",
    "priority",
    "cost",
    "sslclientcert",
    "sslclientkey",
    "sslcacert",
    "sslverify",
    "exclude",
    "excludepkgs",
    "includepkgs",
    "module_hotfixes",
    "skip_if_unavailable",
    "proxy",
    "proxy_username",
    "proxy_password",
    "timeout",
    "minrate",
];

/// Keys dnf knows that do not change what diskless resolves or fetches (download tuning,
/// cache policy, subscription-manager bookkeeping): accepted and ignored.
const IGNORED: &[&str] = &[
    "metadata_expire",
    "countme",
    "type",
    "failovermethod",
    "enabled_metadata",
    "ui_repoid_vars",
    "fastestmirror",
    "deltarpm",
    "deltarpm_percentage",
    "throttle",
    "bandwidth",
    "ip_resolve",
    "retries",
    "keepcache",
    "async",
    "autorefresh",
    "localpkg_gpgcheck",
    "max_parallel_downloads",
    "mediaid",
    "metadata_timer_sync",
    "http_caching",
    "user_agent",
    "sslverifystatus",
    "report_hostname",
];

struct Entry {
    key: String,
    value: String,
    line: usize,
    /// 1-based column of the value's first character.
    column: usize,
}

struct Section {
    id: String,
    line: usize,
    entries: Vec<Entry>,
}

/// Parse a `.repo` file into one draft per section (disabled ones included, marked so).
/// `path` is used in error messages and as the repo's source.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Vec<RepoDraft>, Diagnostic> {
    let st = SourceText { path, text };
    let mut sections: Vec<Section> = Vec::new();
    let mut in_main = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = l.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        if indent > 0 {
            // A continuation line: more values for the previous key (multi-line baseurl).
            if in_main {
                continue;
            }
            if let Some(e) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
                e.value.push('\n');
                e.value.push_str(trimmed);
                continue;
            }
            return Err(st
                .diag_at(
                    line,
                    indent + 1,
                    trimmed.chars().count(),
                    "",
                    "Indented line without a key before it",
                )
                .with_hint("continuation lines (extra URLs) must follow a `key=value` line"));
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(id) = rest.strip_suffix(']') else {
                return Err(st.diag_at(
                    line,
                    1,
                    trimmed.chars().count(),
                    "",
                    "Section header without a closing `]`",
                ));
            };
            let id = id.trim();
            if id == "main" {
                in_main = true;
                continue;
            }
            in_main = false;
            if let Err(m) = super::validate::check_repo_id(id) {
                return Err(st.diag_at(line, 2, id.chars().count(), format!("[{id}]"), m));
            }
            if let Some(prev) = sections.iter().find(|s| s.id == id) {
                return Err(st
                    .diag_at(
                        line,
                        2,
                        id.chars().count(),
                        format!("[{id}]"),
                        format!("Repository `{id}` is defined twice in this file"),
                    )
                    .with_hint(format!("the first `[{id}]` is at line {}", prev.line)));
            }
            sections.push(Section {
                id: id.to_string(),
                line,
                entries: Vec::new(),
            });
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            return Err(st.diag_at(
                line,
                1,
                trimmed.chars().count(),
                "",
                "Expected `key=value`, a `[section]` header or a comment",
            ));
        };
        if in_main {
            continue;
        }
        let key = k.trim().to_string();
        let value_start = k.len() + 1 + (v.len() - v.trim_start().len());
        let column = l[..value_start].chars().count() + 1;
        let Some(sec) = sections.last_mut() else {
            return Err(st.diag_at(
                line,
                1,
                k.trim_end().chars().count(),
                key.clone(),
                format!("`{key}` outside any `[repo-id]` section"),
            ));
        };
        if let Some(prev) = sec.entries.iter().find(|e| e.key == key) {
            return Err(st
                .diag_at(
                    line,
                    1,
                    key.chars().count(),
                    format!("[{}] {key}", sec.id),
                    format!("`{key}` is set twice in `[{}]`", sec.id),
                )
                .with_hint(format!("the first `{key}` is at line {}", prev.line)));
        }
        sec.entries.push(Entry {
            key,
            value: v.trim().to_string(),
            line,
            column,
        });
    }
    sections.into_iter().map(|s| draft(&st, s)).collect()
}

fn draft(st: &SourceText, s: Section) -> Result<RepoDraft, Diagnostic> {
    let id_loc = Loc::at(st, s.line, 2, s.id.chars().count(), format!("[{}]", s.id));
    let mut d = RepoDraft::new(
        s.id.clone(),
        id_loc,
        RepoSource::RepoFile {
            path: st.path.to_path_buf(),
            line: s.line,
        },
        st.path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    );
    for e in s.entries {
        let field = format!("[{}] {}", s.id, e.key);
        let loc = Loc::at(
            st,
            e.line,
            e.column,
            e.value.lines().next().unwrap_or("").chars().count(),
            field.clone(),
        );
        let bool_val = || {
            parse_bool(&e.value).ok_or_else(|| {
                loc.err(format!(
                    "`{}` is not a boolean for `{}` (expected 1/0, yes/no, true/false, on/off)",
                    e.value, e.key
                ))
            })
        };
        let int_val = || {
            e.value
                .parse::<i64>()
                .map_err(|_| loc.err(format!("`{}` is not a number for `{}`", e.value, e.key)))
        };
        let one = || e.value.split_whitespace().collect::<Vec<_>>().join(" ");
        let list = || split_list(&e.value);
        match e.key.as_str() {
            "name" => d.name = Some(one()),
            "baseurl" => d.baseurl = list().into_iter().map(|u| (u, loc.clone())).collect(),
            "mirrorlist" => d.mirrorlist = Some((one(), loc.clone())),
            "metalink" => d.metalink = Some((one(), loc.clone())),
            "gpgkey" => d.gpgkey = list().into_iter().map(|u| (u, loc.clone())).collect(),
            "gpgcheck" | "pkg_gpgcheck" => d.gpgcheck = Some(bool_val()?),
            "repo_gpgcheck" => d.repo_gpgcheck = Some(bool_val()?),
            "enabled" => d.enabled = Some(bool_val()?),
            "priority" => d.priority = Some((int_val()?, loc.clone())),
            "cost" => d.cost = Some((int_val()?, loc.clone())),
            "sslclientcert" => d.sslclientcert = nonempty(one(), &loc),
            "sslclientkey" => d.sslclientkey = nonempty(one(), &loc),
            "sslcacert" => d.sslcacert = nonempty(one(), &loc),
            "sslverify" => d.sslverify = Some(bool_val()?),
            "exclude" | "excludepkgs" => d.excludepkgs = list(),
            "includepkgs" => d.includepkgs = list(),
            "module_hotfixes" => d.module_hotfixes = Some(bool_val()?),
            "skip_if_unavailable" => d.skip_if_unavailable = Some(bool_val()?),
            "proxy" => d.proxy = nonempty(one(), &loc),
            "proxy_username" => d.proxy_username = nonempty(one(), &loc),
            "proxy_password" => d.proxy_password = nonempty(e.value.trim().to_string(), &loc),
            "timeout" => d.timeout = nonempty(one(), &loc),
            "minrate" => d.minrate = nonempty(one(), &loc),
            k if IGNORED.contains(&k) => {}
            k => {
                let key_loc = Loc::at(st, e.line, 1, k.chars().count(), field.clone());
                let mut err = key_loc.err_plain(format!("Unknown key `{k}` in `[{}]`", s.id));
                err.hint = Some(
                    match did_you_mean(k, KNOWN.iter().chain(IGNORED).copied()) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!("keys diskless reads: {}", KNOWN.join(", ")),
                    },
                );
                return Err(err);
            }
        }
    }
    Ok(d)
}

fn nonempty(s: String, loc: &Loc) -> Option<(String, Loc)> {
    (!s.is_empty()).then(|| (s, loc.clone()))
}

/// dnf's booleans.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// dnf splits list options (baseurl, gpgkey, exclude) on commas and whitespace.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROCKY: &str = "\
# Rocky-BaseOS.repo
[main]
gpgcheck=1

[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/
gpgcheck=1
enabled=1
countme=1
metadata_expire=6h
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9

[baseos-debug]
name = Rocky Linux $releasever - BaseOS - Debug
baseurl = https://a.example/1/
  https://b.example/2/,https://c.example/3/
enabled = 0
priority=5
";

    #[test]
    fn parses_sections_and_continuations() {
        let d = parse(Path::new("rocky.repo"), ROCKY).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].id, "baseos");
        assert_eq!(d[0].gpgcheck, Some(true));
        assert!(d[0].baseurl.is_empty());
        assert_eq!(
            d[0].mirrorlist.as_ref().unwrap().0,
            "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever"
        );
        assert_eq!(d[1].enabled, Some(false));
        let urls: Vec<_> = d[1].baseurl.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://a.example/1/",
                "https://b.example/2/",
                "https://c.example/3/"
            ]
        );
        assert_eq!(d[1].priority.as_ref().unwrap().0, 5);
        assert_eq!(d[1].priority.as_ref().unwrap().1.line, 20);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(Path::new("x.repo"), "[a]\nbaseurll=http://x/\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.hint.as_deref(), Some("did you mean `baseurl`?"));
        let e = parse(Path::new("x.repo"), "[a]\nenabled=maybe\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 9));
        assert!(e.message.contains("maybe"), "{}", e.message);
        let e = parse(Path::new("x.repo"), "baseurl=http://x/\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse(Path::new("x.repo"), "[a]\nname=x\n[a]\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse(Path::new("x.repo"), "[a]\njust words\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse(Path::new("x.repo"), "[a\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
