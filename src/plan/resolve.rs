//! Resolving, the plan's first step: profile -> repositories -> pool -> solver -> lockfile.
//!
//! It loads every enabled repository of the profile (metadata cached by checksum),
//! builds one pool with dnf's modular filtering, expands `@group` specs from comps,
//! solves the image set and the boot set separately, and turns both into a
//! [`Lockfile`]. `--update NAME` pins every other locked package to its locked version
//! first, so only what must move moves.

use super::inputs;
use crate::lock::{LOCK_VERSION, LockedPackage, LockedRepo, Lockfile};
use crate::package::{FileProviders, Package, PkgId, glob_match};
use crate::profile::Profile;
use crate::repo::{self, LoadOptions, Pool, PoolOptions, RepoData, RepoError};
use crate::solve::{self, Reason, Request, Solution, SolveError};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("Cannot load repository `{repo}`")]
    Repo {
        repo: String,
        // Boxed: repository errors carry URLs and checksums, and this enum travels far.
        #[source]
        source: Box<RepoError>,
    },
    #[error("The profile enables no repositories")]
    NoRepos,
    #[error("Group `@{group}` is not in any repository's comps")]
    NoGroup { group: String },
    #[error("Cannot resolve the {set} packages")]
    Solve {
        set: &'static str,
        #[source]
        source: SolveError,
    },
}

/// What one resolution produced: the two solutions (ids into the pool it ran on).
pub struct Resolved<'p> {
    pub pool: &'p Pool,
    pub image: Solution,
    pub boot: Option<Solution>,
}

/// Load every enabled repository of the profile and pool them, module filtering on.
pub fn load_pool(profile: &Profile, options: &LoadOptions) -> Result<Pool, ResolveError> {
    if profile.repos.is_empty() {
        return Err(ResolveError::NoRepos);
    }
    let sources = inputs::remotes(profile);
    tracing::info!("loading {} repositories", sources.len());
    // One thread per repository; the first error in profile order is the one reported, so
    // the message does not depend on which thread finished first.
    let mut repos: Vec<RepoData> = Vec::with_capacity(sources.len());
    for (r, loaded) in sources.iter().zip(repo::load_all(&sources, options)) {
        match loaded {
            Ok(d) => repos.push(d),
            Err(e) if r.skip_if_unavailable && e.is_unavailable() => {
                tracing::warn!(
                    "repository `{}` is unavailable and skipped (skip_if_unavailable): {}",
                    r.id,
                    crate::net::error_chain(&e)
                );
            }
            Err(source) => {
                return Err(ResolveError::Repo {
                    repo: r.id.clone(),
                    source: Box::new(source),
                });
            }
        }
    }
    let selection = inputs::module_selection(profile);
    Ok(Pool::new(
        repos,
        &PoolOptions {
            modular_filtering: true,
            modules: selection,
        },
    ))
}

/// Expand `@group` specs through the repositories' comps (mandatory + default packages,
/// as `dnf install @group` does), keeping other specs as they are.
fn expand_groups(pool: &Pool, specs: &[String]) -> Result<Vec<String>, ResolveError> {
    let mut out = Vec::new();
    for s in specs {
        let Some(g) = s.strip_prefix('@') else {
            out.push(s.clone());
            continue;
        };
        let group = pool
            .repos()
            .iter()
            .flat_map(|r| r.groups.iter())
            .find(|grp| grp.matches(g))
            .ok_or_else(|| ResolveError::NoGroup {
                group: g.to_owned(),
            })?;
        out.extend(group.install_set().map(str::to_owned));
    }
    Ok(out)
}

fn request_for(
    profile: &Profile,
    pool: &Pool,
    install: &[String],
    weak: bool,
) -> Result<Request, ResolveError> {
    Ok(inputs::solve_request(
        profile,
        expand_groups(pool, install)?,
        weak,
    ))
}

/// The packages `solve` sees, optionally with every name of `pins` narrowed to its pinned
/// EVR (for `lock --update`). Ids map back to the pool's.
struct View<'a> {
    pool: &'a Pool,
    packages: Vec<Package>,
    to_pool: Vec<PkgId>,
    from_pool: Vec<Option<PkgId>>,
}

impl<'a> View<'a> {
    fn new(pool: &'a Pool, pins: &BTreeMap<(String, String), (u32, String, String)>) -> View<'a> {
        let mut packages = Vec::new();
        let mut to_pool = Vec::new();
        let mut from_pool = vec![None; pool.packages().len()];
        for (id, p) in pool.packages().iter().enumerate() {
            if let Some((e, v, r)) = pins.get(&(p.name.clone(), p.arch.clone())) {
                if (p.evr.epoch, &p.evr.version, &p.evr.release) != (*e, v, r) {
                    continue;
                }
            }
            from_pool[id] = Some(packages.len());
            to_pool.push(id);
            packages.push(p.clone());
        }
        View {
            pool,
            packages,
            to_pool,
            from_pool,
        }
    }

    fn solve(&self, request: &Request) -> Result<Solution, SolveError> {
        let sol = solve::solve(&self.packages, self, request)?;
        // Back to pool ids.
        let map = |id: PkgId| self.to_pool[id];
        Ok(Solution {
            packages: sol.packages.iter().map(|&i| map(i)).collect(),
            reasons: sol
                .reasons
                .into_iter()
                .map(|(k, r)| {
                    let r = match r {
                        Reason::Required { by, dep } => Reason::Required { by: map(by), dep },
                        Reason::Recommended { by, dep } => Reason::Recommended { by: map(by), dep },
                        other => other,
                    };
                    (map(k), r)
                })
                .collect(),
        })
    }
}

impl FileProviders for View<'_> {
    fn providers(&self, path: &str) -> Vec<PkgId> {
        self.pool
            .providers(path)
            .into_iter()
            .filter_map(|id| self.from_pool[id])
            .collect()
    }
}

/// Resolve the profile's image and boot sets. `previous` + `update` implement
/// `lock --update NAME…`: every package of the previous lock not named keeps its version
/// when that still resolves; otherwise the pins are dropped (and a warning says so).
pub fn resolve(
    profile: &Profile,
    options: &LoadOptions,
    previous: Option<&Lockfile>,
    update: &[String],
) -> Result<Lockfile, ResolveError> {
    let pool = load_pool(profile, options)?;
    Ok(resolve_in(profile, &pool, previous, update)?.lockfile(profile))
}

/// [`resolve`] on an already loaded pool (tests and benchmarks load it once).
pub fn resolve_in<'p>(
    profile: &Profile,
    pool: &'p Pool,
    previous: Option<&Lockfile>,
    update: &[String],
) -> Result<Resolved<'p>, ResolveError> {
    let solve_set = |set: &'static str,
                     specs: &[String],
                     weak: bool,
                     locked: Option<&[LockedPackage]>| {
        let request = request_for(profile, pool, specs, weak)?;
        let pins: BTreeMap<_, _> = locked
            .unwrap_or_default()
            .iter()
            .filter(|p| !update.iter().any(|u| glob_match(u, &p.name)))
            .map(|p| {
                (
                    (p.name.clone(), p.arch.clone()),
                    (p.epoch, p.version.clone(), p.release.clone()),
                )
            })
            .collect();
        if !pins.is_empty() {
            match View::new(pool, &pins).solve(&request) {
                Ok(s) => return Ok(s),
                Err(e) => tracing::warn!(
                    "keeping the other {set} packages at their locked versions does not resolve ({e}); resolving them afresh"
                ),
            }
        }
        View::new(pool, &BTreeMap::new())
            .solve(&request)
            .map_err(|source| ResolveError::Solve { set, source })
    };
    let image = solve_set(
        "image",
        &profile.packages.install,
        profile.packages.weak_deps,
        previous.map(|l| l.packages.as_slice()),
    )?;
    let boot = if profile.boot.packages.is_empty() {
        None
    } else {
        // Boot loaders are files for the tftp tree, not an installed system: no weak deps.
        Some(solve_set(
            "boot",
            &profile.boot.packages,
            false,
            previous.map(|l| l.boot_packages.as_slice()),
        )?)
    };
    Ok(Resolved { pool, image, boot })
}

fn locked(pool: &Pool, id: PkgId) -> LockedPackage {
    let p = pool.package(id);
    LockedPackage {
        name: p.name.clone(),
        epoch: p.evr.epoch,
        version: p.evr.version.clone(),
        release: p.evr.release.clone(),
        arch: p.arch.clone(),
        repo: p.repo.clone(),
        location: p.location.clone(),
        checksum: p.checksum.clone(),
        size: p.size_package,
        build_time: p.time_build,
    }
}

impl Resolved<'_> {
    /// The lockfile for this resolution.
    pub fn lockfile(&self, profile: &Profile) -> Lockfile {
        let packages: Vec<_> = self
            .image
            .packages
            .iter()
            .map(|&id| locked(self.pool, id))
            .collect();
        let boot_packages: Vec<_> = self
            .boot
            .iter()
            .flat_map(|s| s.packages.iter())
            .map(|&id| locked(self.pool, id))
            .collect();
        let used: BTreeSet<&str> = packages
            .iter()
            .chain(&boot_packages)
            .map(|p| p.repo.as_str())
            .collect();
        let repos = self
            .pool
            .repos()
            .iter()
            .filter(|r| used.contains(r.remote.id.as_str()))
            .map(|r| LockedRepo {
                id: r.remote.id.clone(),
                baseurl: r.baseurl.clone(),
                revision: r.repomd.revision.clone(),
                repomd_sha256: r.repomd_sha256.clone(),
            })
            .collect();
        let mut lock = Lockfile {
            version: LOCK_VERSION,
            profile_digest: profile.resolution_digest(),
            repos,
            packages,
            boot_packages,
        };
        lock.normalize();
        lock
    }

    /// The chain that pulled `name` in: from the package back to the request, one line a link.
    pub fn why(&self, name: &str) -> Option<Vec<String>> {
        for sol in std::iter::once(&self.image).chain(self.boot.iter()) {
            let Some(&start) = sol
                .packages
                .iter()
                .find(|&&id| self.pool.package(id).name == name)
            else {
                continue;
            };
            let mut lines = Vec::new();
            let mut seen = BTreeSet::new();
            let mut cur = start;
            while seen.insert(cur) {
                let nevra = self.pool.package(cur).nevra();
                match sol.reasons.get(&cur) {
                    Some(Reason::Requested(spec)) => {
                        lines.push(format!("{nevra} is requested by the profile (`{spec}`)"));
                        break;
                    }
                    Some(Reason::Required { by, dep }) => {
                        lines.push(format!(
                            "{nevra} provides `{dep}`, required by {}",
                            self.pool.package(*by).nevra()
                        ));
                        cur = *by;
                    }
                    Some(Reason::Recommended { by, dep }) => {
                        lines.push(format!(
                            "{nevra} provides `{dep}`, recommended by {}",
                            self.pool.package(*by).nevra()
                        ));
                        cur = *by;
                    }
                    None => {
                        lines.push(format!("{nevra} (no recorded reason)"));
                        break;
                    }
                }
            }
            return Some(lines);
        }
        None
    }
}
