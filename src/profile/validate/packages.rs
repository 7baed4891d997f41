//! `[packages]`: what to install (names, provides, `@group`s, module streams) and which image
//! paths to drop afterwards.

use super::{Cx, check_glob};
use crate::profile::error::Diagnostic;
use crate::profile::model::Packages;
use crate::profile::schema::RawPackages;
use toml::Spanned;

pub(super) fn packages(cx: &Cx, rp: RawPackages) -> Result<Packages, Diagnostic> {
    for p in &rp.install {
        let s = p.get_ref();
        if s.is_empty() || s.chars().any(char::is_whitespace) || s == "@" {
            return Err(cx
                .loc(p.span(), "packages.install")
                .err(format!("`{s}` is not a package name, provide or `@group`"))
                .with_hint("one name per entry; version constraints are not supported here, the lock pins versions"));
        }
    }
    for m in &rp.modules {
        check_module(m.get_ref()).map_err(|e| cx.loc(m.span(), "packages.modules").err(e))?;
    }
    for g in &rp.exclude_paths {
        check_glob(g.get_ref()).map_err(|e| cx.loc(g.span(), "packages.exclude_paths").err(e))?;
    }
    Ok(Packages {
        install: rp.install.into_iter().map(Spanned::into_inner).collect(),
        exclude: rp.exclude,
        weak_deps: rp.weak_deps,
        nodocs: rp.nodocs,
        langs: rp.langs,
        modules: rp.modules.into_iter().map(Spanned::into_inner).collect(),
        install_only_limit: rp.install_only_limit,
        exclude_paths: rp
            .exclude_paths
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
    })
}

/// `name:stream` or `name:stream/profile`.
fn check_module(m: &str) -> Result<(), String> {
    let ok_part = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
    };
    let (ns, profile) = match m.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (m, None),
    };
    match ns.split_once(':') {
        Some((n, s)) if ok_part(n) && ok_part(s) && profile.is_none_or(ok_part) => Ok(()),
        _ => Err(format!(
            "`{m}` is not a module stream (expected `name:stream`, e.g. `nodejs:18`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_streams() {
        assert!(check_module("nodejs:18").is_ok());
        assert!(check_module("nodejs:18/common").is_ok());
        assert!(check_module("nodejs").is_err());
    }
}
