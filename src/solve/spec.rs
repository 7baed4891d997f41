//! Request specs as `dnf install` takes them: a name (or glob), `name.arch`,
//! `name-version`, `name-version-release`, `name-[epoch:]version-release.arch`, a provide
//! (`libfoo.so.1()(64bit)`, `foo >= 1.2`), or a file path. Each spec becomes the set of
//! allowed packages it may be satisfied by, per package name.

use super::SolveError;
use super::index::{Hidden, Index};
use crate::package::{
    Dependency, Package, PkgId, Sense, glob_match, is_glob, parse_evr, provide_satisfies,
};

/// What a spec matched.
pub enum SpecMatch {
    /// Concrete packages (name and NEVRA forms): one group per package name; each group
    /// must be satisfied by one of its packages.
    Packages(Vec<Vec<PkgId>>),
    /// A capability: any provider will do.
    Provide(Dependency),
}

fn evr_forms(p: &Package) -> [String; 5] {
    let e = &p.evr;
    [
        e.version.clone(),
        format!("{}-{}", e.version, e.release),
        format!("{}:{}-{}", e.epoch, e.version, e.release),
        format!("{}-{}.{}", e.version, e.release, p.arch),
        format!("{}:{}-{}.{}", e.epoch, e.version, e.release, p.arch),
    ]
}

/// Packages (allowed or not, by `allowed`) matching the NEVRA forms of `spec`.
fn nevra_matches(ix: &Index<'_>, spec: &str, pkgs: &dyn Fn(&str) -> Vec<PkgId>) -> Vec<PkgId> {
    let exact = pkgs(spec);
    if !exact.is_empty() {
        return exact;
    }
    if let Some((name, arch)) = spec.rsplit_once('.') {
        let v: Vec<PkgId> = pkgs(name)
            .into_iter()
            .filter(|&i| ix.pkgs[i].arch == arch)
            .collect();
        if !v.is_empty() {
            return v;
        }
    }
    // `name-rest`: try every `-` as the end of the name, longest name first.
    let mut out = Vec::new();
    for (pos, _) in spec
        .match_indices('-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let (name, rest) = (&spec[..pos], &spec[pos + 1..]);
        for i in pkgs(name) {
            if evr_forms(&ix.pkgs[i]).iter().any(|f| f == rest) {
                out.push(i);
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    out
}

/// Split packages into groups per name (keeping rank order inside each group).
fn group_by_name(ix: &Index<'_>, mut ids: Vec<PkgId>) -> Vec<Vec<PkgId>> {
    ids.sort_unstable_by_key(|&i| ix.rank[i]);
    ids.dedup();
    let mut groups: Vec<Vec<PkgId>> = Vec::new();
    for i in ids {
        match groups.last_mut() {
            Some(g) if ix.pkgs[g[0]].name == ix.pkgs[i].name => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups
}

/// Parse `name [op evr]` as a dependency.
pub fn parse_provide(spec: &str) -> Dependency {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    if let [name, op, evr] = parts.as_slice()
        && let Some(op) = Sense::parse(op).and_then(Sense::to_op)
    {
        return Dependency {
            name: name.to_string(),
            op: Some(op),
            evr: Some(parse_evr(evr)),
            pre: false,
        };
    }
    Dependency {
        name: spec.trim().to_string(),
        op: None,
        evr: None,
        pre: false,
    }
}

/// Resolve one spec against the allowed packages.
pub fn resolve_spec(ix: &Index<'_>, spec: &str) -> Result<SpecMatch, SolveError> {
    let spec_t = spec.trim();
    if !spec_t.starts_with('/') && !spec_t.contains(' ') {
        let allowed = |name: &str| -> Vec<PkgId> {
            if is_glob(name) {
                ix.names()
                    .into_iter()
                    .filter(|n| glob_match(name, n))
                    .flat_map(|n| ix.named(n).to_vec())
                    .collect()
            } else {
                ix.named(name).to_vec()
            }
        };
        let found = nevra_matches(ix, spec_t, &allowed);
        if !found.is_empty() {
            return Ok(SpecMatch::Packages(group_by_name(ix, found)));
        }
    }
    let dep = parse_provide(spec_t);
    if !ix.providers(&dep).is_empty() {
        return Ok(SpecMatch::Provide(dep));
    }
    Err(SolveError::NoMatch {
        spec: spec.to_string(),
        hint: hint(ix, spec_t, &dep),
    })
}

/// Packages hidden only by repository priority that `spec` names with its version
/// (`name-version[-release][.arch]`), sorted.
pub fn priority_hidden_exact(ix: &Index<'_>, spec: &str) -> Vec<PkgId> {
    let spec = spec.trim();
    let mut v = ix.hidden_matching(|p| {
        evr_forms(p)
            .iter()
            .any(|f| format!("{}-{f}", p.name) == spec)
    });
    v.retain(|&i| ix.hidden[i] == Some(Hidden::Priority));
    v.sort_unstable();
    v
}

/// Why nothing matched, when something would have without the arch filter or excludes.
fn hint(ix: &Index<'_>, spec: &str, dep: &Dependency) -> Option<String> {
    let hidden = |why: Hidden| -> Vec<PkgId> {
        let ids = ix.hidden_matching(|p| {
            let by_name = if is_glob(spec) {
                glob_match(spec, &p.name)
            } else {
                p.name == spec
            };
            by_name
                || p.nevra() == spec
                || format!("{}.{}", p.name, p.arch) == spec
                || evr_forms(p)
                    .iter()
                    .any(|f| format!("{}-{f}", p.name) == spec)
                || p.provides.iter().any(|pr| provide_satisfies(pr, dep))
                || p.files.iter().any(|f| f == spec)
        });
        ids.into_iter()
            .filter(|&i| ix.hidden[i] == Some(why))
            .collect()
    };
    let excluded = hidden(Hidden::Excluded);
    if let Some(&i) = excluded.first() {
        return Some(format!(
            "all matches were filtered out by exclude filtering: `{}` is excluded",
            ix.pkgs[i].nevra()
        ));
    }
    let worse = hidden(Hidden::Priority);
    if let Some(&i) = worse.first() {
        return Some(format!(
            "`{}` is only in repository `{}`, whose priority is worse than another repository offering `{}`",
            ix.pkgs[i].nevra(),
            ix.pkgs[i].repo,
            ix.pkgs[i].name
        ));
    }
    let other_arch = hidden(Hidden::Arch);
    if !other_arch.is_empty() {
        let mut arches: Vec<&str> = other_arch
            .iter()
            .map(|&i| ix.pkgs[i].arch.as_str())
            .collect();
        arches.sort_unstable();
        arches.dedup();
        return Some(format!(
            "it exists only for {}, not for `{}`; add the arch to `extra_arches` to allow it",
            arches
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", "),
            ix.target_arch()
        ));
    }
    None
}
