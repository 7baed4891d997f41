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

impl ResolveError {
    /// What the user can do about it, where there is something: a repository's hint.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ResolveError::Repo { source, .. } => source.hint(),
            _ => None,
        }
    }
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
/// EVR (for `lock --update`). Ids map back to the pool's. Without pins it is the pool's
/// own slice (borrowed: no copy of every record per solve).
struct View<'a> {
    pool: &'a Pool,
    packages: std::borrow::Cow<'a, [Package]>,
    /// View id -> pool id (`None`: the identity).
    to_pool: Option<Vec<PkgId>>,
    from_pool: Option<Vec<Option<PkgId>>>,
}

impl<'a> View<'a> {
    fn new(pool: &'a Pool, pins: &BTreeMap<(String, String), (u32, String, String)>) -> View<'a> {
        if pins.is_empty() {
            return View {
                pool,
                packages: std::borrow::Cow::Borrowed(pool.packages()),
                to_pool: None,
                from_pool: None,
            };
        }
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
            packages: std::borrow::Cow::Owned(packages),
            to_pool: Some(to_pool),
            from_pool: Some(from_pool),
        }
    }

    fn solve(&self, request: &Request) -> Result<Solution, SolveError> {
        let sol = solve::solve(&self.packages, self, request)?;
        Ok(self.to_pool_ids(sol))
    }

    /// [`View::solve`] for several requests, sharing the package index.
    fn solve_all(&self, requests: &[Request]) -> Vec<Result<Solution, SolveError>> {
        solve::solve_all(&self.packages, self, requests)
            .into_iter()
            .map(|r| r.map(|s| self.to_pool_ids(s)))
            .collect()
    }

    fn to_pool_ids(&self, sol: Solution) -> Solution {
        // Back to pool ids.
        let map = |id: PkgId| self.to_pool.as_ref().map_or(id, |t| t[id]);
        Solution {
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
        }
    }
}

impl FileProviders for View<'_> {
    fn providers(&self, path: &str) -> Vec<PkgId> {
        self.pool
            .providers(path)
            .into_iter()
            .filter_map(|id| match &self.from_pool {
                Some(f) => f[id],
                None => Some(id),
            })
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
    if previous.is_some() || !update.is_empty() {
        let pool = load_pool(profile, options)?;
        return Ok(resolve_in(profile, &pool, previous, update)?.lockfile(profile));
    }
    // A fresh resolution is a function of the profile's resolution inputs and of each
    // repository's state: when none of them moved, the last answer is the answer.
    let memo = crate::cas::Dir::new(options.cache_dir.join(MEMO_DIR));
    if let Some(key) = probe_key(profile, options) {
        if let Some(lock) = read_memo(&memo, &key, profile) {
            tracing::info!("no repository moved since the last resolution: reusing it");
            return Ok(lock);
        }
    }
    let pool = load_pool(profile, options)?;
    let lock = resolve_in(profile, &pool, None, update)?.lockfile(profile);
    let states: Vec<(String, String, String)> = pool
        .repos()
        .iter()
        .map(|r| {
            (
                r.remote.id.clone(),
                r.baseurl.clone(),
                r.repomd_sha256.clone(),
            )
        })
        .collect();
    let key = memo_key(profile, &states);
    if let Err(e) = memo.put_sealed(&key, MEMO_KIND, MEMO_VERSION, lock.to_toml().as_bytes()) {
        tracing::debug!("cannot keep the resolution: {e}");
    }
    Ok(lock)
}

/// Resolutions kept in the cache (`<cache>/resolved/`), by [`memo_key`].
pub const MEMO_DIR: &str = "resolved";
const MEMO_KIND: [u8; 4] = *b"rslv";
const MEMO_VERSION: u32 = 1;

/// The key of a fresh resolution: this build of diskless (the solver), the profile's
/// resolution digest and, per repository in profile order, its id, the base URL that
/// answered and the sha256 of its repomd.xml.
fn memo_key(profile: &Profile, states: &[(String, String, String)]) -> String {
    let mut k = crate::cas::KeyHasher::new("diskless resolution");
    k.part(crate::VERSION.as_bytes())
        .part(profile.resolution_digest().as_bytes());
    for (id, baseurl, sha) in states {
        k.part(id.as_bytes())
            .part(baseurl.as_bytes())
            .part(sha.as_bytes());
    }
    k.finish()
}

/// [`memo_key`] from the repositories' current repomd.xml ([`repo::probe`], in parallel);
/// `None` when one cannot be read (the full load then reports why).
fn probe_key(profile: &Profile, options: &LoadOptions) -> Option<String> {
    let sources = inputs::remotes(profile);
    let states: Vec<Option<(String, String, String)>> = std::thread::scope(|s| {
        let handles: Vec<_> = sources
            .iter()
            .map(|src| {
                s.spawn(move || {
                    repo::probe(src, options)
                        .ok()
                        .map(|p| (src.id.clone(), p.baseurl, p.repomd_sha256))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let states: Option<Vec<_>> = states.into_iter().collect();
    Some(memo_key(profile, &states?))
}

/// The kept resolution under `key`, when whole and made for this profile.
fn read_memo(memo: &crate::cas::Dir, key: &str, profile: &Profile) -> Option<Lockfile> {
    let body = memo.get_sealed(key, MEMO_KIND, MEMO_VERSION)?;
    let lock: Lockfile = toml::from_str(std::str::from_utf8(&body).ok()?).ok()?;
    (lock.version == LOCK_VERSION && lock.profile_digest == profile.resolution_digest()).then(
        || {
            memo.touch(key);
            lock
        },
    )
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
    if previous.is_none() {
        return resolve_fresh(profile, pool);
    }
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

/// Both sets without pins: one view of the pool and one package index for both solves
/// ([`solve::solve_all`]); errors in the order [`resolve_in`] reports them (the image's
/// first).
fn resolve_fresh<'p>(profile: &Profile, pool: &'p Pool) -> Result<Resolved<'p>, ResolveError> {
    let image_req = request_for(
        profile,
        pool,
        &profile.packages.install,
        profile.packages.weak_deps,
    )?;
    let boot_req = (!profile.boot.packages.is_empty())
        .then(|| request_for(profile, pool, &profile.boot.packages, false));
    let view = View::new(pool, &BTreeMap::new());
    let mut requests = vec![image_req];
    let boot_err = match boot_req {
        Some(Ok(r)) => {
            requests.push(r);
            None
        }
        Some(Err(e)) => Some(e),
        None => None,
    };
    let mut solved = view.solve_all(&requests).into_iter();
    let solve_err = |set| move |source| ResolveError::Solve { set, source };
    let image = solved
        .next()
        .unwrap_or_else(|| {
            Err(SolveError::Unsolvable {
                problems: Vec::new(),
            })
        })
        .map_err(solve_err("image"))?;
    if let Some(e) = boot_err {
        return Err(e);
    }
    let boot = solved.next().transpose().map_err(solve_err("boot"))?;
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
