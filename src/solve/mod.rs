//! Dependency resolution with rpm's semantics: the mapping of package records, their
//! dependencies (rich ones included) and dnf's policy onto a SAT solver (resolvo). Pure:
//! no network, no disk. The rpm rules themselves (version comparison, range matching, the
//! rich-dependency grammar, globs) live in `package`, below this module.
//!
//! The caller (the `lock` command) hands in every package record of the enabled
//! repositories and a [`Request`]; [`solve`] returns the chosen set with the reason each
//! package is in it, or a [`SolveError`] that reads like dnf's.

mod error;
mod index;
mod policy;
mod provider;
mod resolve;
mod spec;
mod system;

pub use system::{Focus, Job, JobKind, Select, System, SystemFlags};

use crate::package::{FileProviders, Package, PkgId};
use std::collections::BTreeMap;

/// What to resolve, with dnf's policy knobs for an empty install root.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Package specs: a name, `name-version`, `name-version-release`, a provide
    /// (`libfoo.so.1()(64bit)`, `/usr/bin/foo`), or `name.arch`; as `dnf install` takes them.
    pub install: Vec<String>,
    /// Package names or globs never to choose (dnf `excludepkgs`).
    pub exclude: Vec<String>,
    /// Target arch (`x86_64`); `noarch` is always allowed, and compatible arches
    /// (`i686` for `x86_64`) only when listed in `extra_arches`.
    pub arch: String,
    pub extra_arches: Vec<String>,
    /// Install Recommends/Supplements as dnf does with `install_weak_deps=True`.
    pub weak_deps: bool,
    /// Names of which several versions may be installed (dnf's installonlypkgs); with
    /// `install_only_limit == 1` (the default when 0) only the best one is chosen.
    pub install_only: Vec<String>,
    /// How many versions of an install-only package may be chosen together; 0 and 1 both
    /// mean one (the best), as dnf does for an empty root.
    pub install_only_limit: u32,
    /// Repository priority (lower wins, dnf default 99) and cost (lower preferred, default 1000)
    /// by repository id. Missing ids get the defaults.
    pub repo_priority: BTreeMap<String, i32>,
    pub repo_cost: BTreeMap<String, i32>,
}

/// Why a package is in the solution: the link of `diskless why`'s chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Asked for in the request (the spec as written).
    Requested(String),
    /// Needed by another chosen package through this dependency.
    Required { by: PkgId, dep: String },
    /// Pulled in by a weak dependency (Recommends/Supplements) of another package.
    Recommended { by: PkgId, dep: String },
}

#[derive(Debug, Clone)]
pub struct Solution {
    /// The chosen packages, sorted by (name, arch, evr) so the order is stable.
    pub packages: Vec<PkgId>,
    /// Why each chosen package is there.
    pub reasons: BTreeMap<PkgId, Reason>,
}

#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    /// A spec in the request matched nothing (with a hint when it exists for another
    /// arch or is excluded).
    #[error("No match for argument: {spec}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    NoMatch { spec: String, hint: Option<String> },
    /// The problems, one per line, worded like dnf's
    /// (`nothing provides libfoo.so.1()(64bit) needed by bar-1.0-1.el9.x86_64`).
    #[error("Unable to resolve the request:\n{}", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Unsolvable { problems: Vec<String> },
}

/// Resolve `request` against `packages`. Deterministic: the same inputs give the same
/// solution every time, whatever the order of hash maps inside.
pub fn solve(
    packages: &[Package],
    files: &dyn FileProviders,
    request: &Request,
) -> Result<Solution, SolveError> {
    resolve::run(packages, files, request)
}

/// [`solve`] for several requests on the same packages, in order. Requests that agree on
/// what the package index depends on (arch, excludes, repository priorities and costs)
/// share one index instead of building it each time; the answers are [`solve`]'s.
pub fn solve_all(
    packages: &[Package],
    files: &dyn FileProviders,
    requests: &[Request],
) -> Vec<Result<Solution, SolveError>> {
    let mut built: Vec<(&Request, index::Index<'_>)> = Vec::new();
    let mut out = Vec::with_capacity(requests.len());
    for r in requests {
        let at = match built.iter().position(|(b, _)| index::Index::same_for(b, r)) {
            Some(i) => i,
            None => {
                built.push((r, index::Index::new(packages, files, r, &[])));
                built.len() - 1
            }
        };
        out.push(resolve::run_on(&built[at].1, r));
    }
    out
}

/// Resolve the jobs of `system` on top of its installed packages (libsolv's `install`,
/// `erase`, `update`, `distupgrade`), with `request`'s policy knobs; `request.install`
/// specs are install jobs. The solution is the whole installed set afterwards.
pub fn solve_system(
    packages: &[Package],
    files: &dyn FileProviders,
    request: &Request,
    system: &System,
) -> Result<Solution, SolveError> {
    system::run(packages, files, request, system)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod cs9_tests;
