//! `diskless repoquery`'s engine: select packages of a [`Pool`] by package spec and by
//! capability, the way `dnf repoquery` does, and print them as dnf does.

use super::capability::parse_capability;
use super::{Pool, RepoError};
use crate::package::{Package, PkgId, is_glob};
use serde::Serialize;
use std::collections::BTreeSet;

/// What to select. Empty `specs` means every package.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Package specs (`bash`, `bash-5.1.8`, `bash.x86_64`, `glibc-0:2.34-21.el9.x86_64`,
    /// globs), matched case-insensitively as `dnf repoquery` does.
    pub specs: Vec<String>,
    /// Capabilities (`/bin/sh`, `libc.so.6()(64bit)`, `glibc >= 2.34`, globs in names):
    /// packages providing any of them.
    pub whatprovides: Vec<String>,
}

/// Run `query` against `pool`: matching package ids, sorted by dnf's output string
/// (`name-epoch:version-release.arch`), then by repository order.
pub fn run(pool: &Pool, query: &Query) -> Result<Vec<PkgId>, RepoError> {
    let mut ids: Vec<PkgId> = (0..pool.packages().len()).collect();
    if !query.specs.is_empty() {
        ids.retain(|&id| {
            query
                .specs
                .iter()
                .any(|s| spec_matches(s, pool.package(id)))
        });
    }
    if !query.whatprovides.is_empty() {
        let providers = whatprovides(pool, &query.whatprovides)?;
        ids.retain(|id| providers.contains(id));
    }
    let mut keyed: Vec<(String, PkgId)> = ids
        .into_iter()
        .map(|id| (pool.package(id).nevra_full_epoch(), id))
        .collect();
    keyed.sort();
    Ok(keyed.into_iter().map(|(_, id)| id).collect())
}

/// dnf's `--whatprovides`: packages whose Provides match; only when none do, packages
/// containing a matching file (full file lists).
fn whatprovides(pool: &Pool, caps: &[String]) -> Result<BTreeSet<PkgId>, RepoError> {
    let mut out = BTreeSet::new();
    for cap in caps {
        let dep = parse_capability(cap);
        if is_glob(&dep.name) {
            let mut names: Vec<&str> = pool
                .provide_names()
                .filter(|n| glob_match(&dep.name, n, false))
                .collect();
            names.sort_unstable();
            for n in names {
                let d = crate::package::Dependency {
                    name: n.to_string(),
                    ..dep.clone()
                };
                out.extend(pool.whatprovides(&d));
            }
        } else {
            out.extend(pool.whatprovides(&dep));
        }
    }
    if !out.is_empty() {
        return Ok(out);
    }
    for cap in caps {
        let path = cap.trim();
        if !path.starts_with('/') && !is_glob(path) {
            continue;
        }
        let index = pool.load_filelists()?;
        if is_glob(path) {
            for (f, ids) in index {
                if glob_match(path, f, false) {
                    out.extend(ids);
                }
            }
        } else if let Some(ids) = index.get(path) {
            out.extend(ids);
        }
    }
    Ok(out)
}

/// Whether a package spec names `p`, in any of the forms dnf accepts.
pub fn spec_matches(spec: &str, p: &Package) -> bool {
    let e = &p.evr;
    let forms = [
        p.name.clone(),
        format!("{}.{}", p.name, p.arch),
        format!("{}-{}", p.name, e.version),
        format!("{}-{}-{}", p.name, e.version, e.release),
        format!("{}-{}-{}.{}", p.name, e.version, e.release, p.arch),
        format!("{}-{}:{}-{}", p.name, e.epoch, e.version, e.release),
        p.nevra_full_epoch(),
    ];
    forms.iter().any(|f| glob_match(spec, f, true))
}

/// fnmatch-style matching (`package`'s), optionally ignoring ASCII case as dnf's package
/// specs do.
pub fn glob_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if ignore_case {
        crate::package::glob_match(&pattern.to_ascii_lowercase(), &text.to_ascii_lowercase())
    } else {
        crate::package::glob_match(pattern, text)
    }
}

/// dnf's default output: one `name-epoch:version-release.arch` per line, sorted, each once
/// (the same package in two repositories prints once, as in dnf).
pub fn nevra_lines(pool: &Pool, ids: &[PkgId]) -> Vec<String> {
    let set: BTreeSet<String> = ids
        .iter()
        .map(|&id| pool.package(id).nevra_full_epoch())
        .collect();
    set.into_iter().collect()
}

/// One `--json` record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Record {
    pub nevra: String,
    pub name: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub repo: String,
    /// `location href` as primary.xml has it.
    pub location: String,
    /// Where the package is downloaded from.
    pub url: String,
    pub checksum: String,
    pub size: u64,
}

/// `--json` records, one per package and repository, in [`run`]'s order.
pub fn records(pool: &Pool, ids: &[PkgId]) -> Result<Vec<Record>, RepoError> {
    ids.iter()
        .map(|&id| {
            let p = pool.package(id);
            let repo = pool.repo_of(id);
            Ok(Record {
                nevra: p.nevra_full_epoch(),
                name: p.name.clone(),
                epoch: p.evr.epoch,
                version: p.evr.version.clone(),
                release: p.evr.release.clone(),
                arch: p.arch.clone(),
                repo: p.repo.clone(),
                location: p.location.clone(),
                url: repo.package_url(p)?.to_string(),
                checksum: p.checksum.to_string(),
                size: p.size_package,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::primary::tests_support::package;

    #[test]
    fn globs() {
        assert!(glob_match("lib*.so.?", "libc.so.6", false));
        assert!(glob_match("[a-c]ash", "bash", false));
        assert!(!glob_match("[!b]ash", "bash", false));
        assert!(glob_match("BASH*", "bash-5.1", true));
        assert!(!glob_match("bash", "bash-doc", false));
        assert!(glob_match("*", "", false));
        assert!(glob_match("a[", "a[", false));
    }

    #[test]
    fn spec_forms() {
        let p = package("bash", "5.1.8", "2.el9");
        for s in [
            "bash",
            "Bash",
            "bash.noarch",
            "bash-5.1.8",
            "bash-5.1.8-2.el9",
            "bash-0:5.1.8-2.el9.noarch",
            "ba*",
        ] {
            assert!(spec_matches(s, &p), "{s}");
        }
        for s in ["bas", "bash-5", "bash.x86_64"] {
            assert!(!spec_matches(s, &p), "{s}");
        }
    }
}
