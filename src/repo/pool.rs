//! The packages of several loaded repositories in one slice (what `solve` takes), with
//! the lookups dnf answers: by name, by capability (whatprovides), by file.
//!
//! Module filtering happens here, when the pool is built: hidden packages never enter the
//! slice, so neither the solver nor a query can pick them.

use super::modules::{self, ModuleSelection};
use super::{RepoData, RepoError};
use crate::package::{Dependency, Package};
use crate::package::{FileProviders, PkgId, glob_match, provide_satisfies};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A map with a fast, fixed-seed hash (foldhash): the keys are repository data, not
/// attacker-chosen input, and nothing iterates these maps into output unsorted.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Path -> packages containing it, ascending ids.
pub type FileIndex = FastMap<String, Vec<PkgId>>;

/// The file lists of one repository: (package, its files).
type RepoFiles = Vec<(PkgId, Vec<String>)>;

/// How to build a pool.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    /// Apply dnf's modular filtering (hide packages of inactive module streams).
    pub modular_filtering: bool,
    /// Streams to enable beyond the defaults, and the platform.
    pub modules: ModuleSelection,
}

/// All packages of several repositories, in repository order, then primary.xml order.
pub struct Pool {
    repos: Vec<RepoData>,
    packages: Vec<Package>,
    repo_of: Vec<u32>,
    /// Built on first use: the solver has its own index and never needs these.
    lookups: OnceLock<Lookups>,
    /// primary.xml's file subset, path -> packages (built on first use).
    primary_files: OnceLock<FileIndex>,
    all_files: OnceLock<FileIndex>,
    /// Set once reading the full file lists failed: the solver then asks primary's subset
    /// only, without retrying (and warning) on every file dependency.
    filelists_failed: OnceLock<()>,
    hidden_by_modules: usize,
}

/// Name and provide lookups (repoquery's).
#[derive(Default)]
struct Lookups {
    by_name: FastMap<String, Vec<PkgId>>,
    provides: FastMap<String, Vec<PkgId>>,
}

impl Pool {
    /// Take the packages out of `repos` (in order) into one pool.
    pub fn new(mut repos: Vec<RepoData>, options: &PoolOptions) -> Pool {
        let mut packages = Vec::with_capacity(repos.iter().map(|r| r.packages.len()).sum());
        let mut repo_of = Vec::with_capacity(packages.capacity());
        for (i, r) in repos.iter_mut().enumerate() {
            let mut ps = std::mem::take(&mut r.packages);
            let (ex, inc) = (&r.remote.excludepkgs, &r.remote.includepkgs);
            if !ex.is_empty() || !inc.is_empty() {
                ps.retain(|p| {
                    !ex.iter().any(|g| glob_match(g, &p.name))
                        && (inc.is_empty() || inc.iter().any(|g| glob_match(g, &p.name)))
                });
            }
            repo_of.extend(std::iter::repeat_n(i as u32, ps.len()));
            packages.extend(ps);
        }
        let mut hidden_by_modules = 0;
        if options.modular_filtering {
            let mut hidden = modules::hidden(
                &packages,
                repos.iter().map(|r| &r.modules),
                &options.modules,
            );
            for (h, &r) in hidden.iter_mut().zip(&repo_of) {
                if repos[r as usize].remote.module_hotfixes {
                    *h = false;
                }
            }
            hidden_by_modules = hidden.iter().filter(|h| **h).count();
            let mut keep = hidden.iter().map(|h| !h);
            let mut keep2 = hidden.iter().map(|h| !h);
            packages.retain(|_| keep.next().unwrap_or(true));
            repo_of.retain(|_| keep2.next().unwrap_or(true));
        }
        Pool {
            repos,
            packages,
            repo_of,
            lookups: OnceLock::new(),
            primary_files: OnceLock::new(),
            all_files: OnceLock::new(),
            filelists_failed: OnceLock::new(),
            hidden_by_modules,
        }
    }

    fn lookups(&self) -> &Lookups {
        self.lookups.get_or_init(|| {
            let mut l = Lookups::default();
            for (id, p) in self.packages.iter().enumerate() {
                push_id(&mut l.by_name, &p.name, id);
                for d in &p.provides {
                    push_id(&mut l.provides, &d.name, id);
                }
            }
            l
        })
    }

    fn primary_files(&self) -> &FileIndex {
        self.primary_files.get_or_init(|| {
            let mut index = FileIndex::default();
            for (id, p) in self.packages.iter().enumerate() {
                for f in &p.files {
                    push_id(&mut index, f, id);
                }
            }
            index
        })
    }

    /// Every package, for `solve::solve`.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    pub fn package(&self, id: PkgId) -> &Package {
        &self.packages[id]
    }

    /// The repository a package came from.
    pub fn repo_of(&self, id: PkgId) -> &RepoData {
        &self.repos[self.repo_of[id] as usize]
    }

    pub fn repos(&self) -> &[RepoData] {
        &self.repos
    }

    /// How many packages modular filtering left out.
    pub fn hidden_by_modules(&self) -> usize {
        self.hidden_by_modules
    }

    /// The comps group `spec` names (id or name, without `@`), from the first repository
    /// that has it, as dnf merges groups by id with the first definition winning.
    pub fn group(&self, spec: &str) -> Option<&super::Group> {
        self.repos
            .iter()
            .flat_map(|r| &r.groups)
            .find(|g| g.matches(spec))
    }

    /// Packages named exactly `name`.
    pub fn by_name(&self, name: &str) -> &[PkgId] {
        self.lookups()
            .by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Packages whose Provides satisfy `dep` (name, and version range when given).
    /// File paths match explicit Provides only; see [`Pool::file_owners`].
    pub fn whatprovides(&self, dep: &Dependency) -> Vec<PkgId> {
        let Some(ids) = self.lookups().provides.get(&dep.name) else {
            return Vec::new();
        };
        ids.iter()
            .copied()
            .filter(|&id| {
                self.packages[id]
                    .provides
                    .iter()
                    .any(|p| provide_satisfies(p, dep))
            })
            .collect()
    }

    /// Provide names in the pool (unordered; callers sort what they output).
    pub fn provide_names(&self) -> impl Iterator<Item = &str> {
        self.lookups().provides.keys().map(String::as_str)
    }

    /// Packages whose primary.xml file subset holds `path`.
    pub fn primary_file_owners(&self, path: &str) -> &[PkgId] {
        self.primary_files()
            .get(path)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Read every repository's filelists.xml (once) and index it.
    pub fn load_filelists(&self) -> Result<&FileIndex, RepoError> {
        if let Some(idx) = self.all_files.get() {
            return Ok(idx);
        }
        let mut index = FileIndex::default();
        // Start from primary's subset: it is what dnf knows even when a filelists.xml is
        // an empty stub.
        for (id, p) in self.packages.iter().enumerate() {
            for f in &p.files {
                push_id(&mut index, f, id);
            }
        }
        // One thread per repository (filelists.xml is the biggest file of all); the
        // results are merged in repository order and the first error in that order wins,
        // as when reading them one after the other.
        let per_repo: Vec<Result<RepoFiles, RepoError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.repos.len())
                .map(|ri| s.spawn(move || self.repo_filelists(ri)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(RepoError::Io(std::io::Error::other(
                            "the thread reading filelists.xml panicked",
                        )))
                    })
                })
                .collect()
        });
        for lists in per_repo {
            for (id, files) in lists? {
                for f in files {
                    index.entry(f).or_default().push(id);
                }
            }
        }
        for ids in index.values_mut() {
            ids.sort_unstable();
            ids.dedup();
        }
        Ok(self.all_files.get_or_init(|| index))
    }

    /// The file lists of repository `ri`, as (package, files) of the pool's packages.
    fn repo_filelists(&self, ri: usize) -> Result<RepoFiles, RepoError> {
        // filelists entries point at primary records by pkgid (the package checksum).
        let mut by_pkgid: FastMap<&str, PkgId> = FastMap::default();
        for (id, p) in self.packages.iter().enumerate() {
            if self.repo_of[id] == ri as u32 {
                by_pkgid.insert(p.checksum.value.as_str(), id);
            }
        }
        let mut out = Vec::new();
        self.repos[ri].filelists_each(|fp| {
            if let Some(&id) = by_pkgid.get(fp.pkgid.as_str()) {
                out.push((id, fp.files));
            }
        })?;
        Ok(out)
    }

    /// Packages that contain `path`, from the full file lists (loaded on first use).
    pub fn file_owners(&self, path: &str) -> Result<Vec<PkgId>, RepoError> {
        Ok(self
            .load_filelists()?
            .get(path)
            .cloned()
            .unwrap_or_default())
    }
}

impl FileProviders for Pool {
    /// Full file lists; if they cannot be read, the error is logged and primary's subset
    /// answers (call [`Pool::load_filelists`] first to see the error instead).
    fn providers(&self, path: &str) -> Vec<PkgId> {
        if self.filelists_failed.get().is_some() {
            return self.primary_file_owners(path).to_vec();
        }
        match self.file_owners(path) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("{e}; using primary.xml's file lists only");
                let _ = self.filelists_failed.set(());
                self.primary_file_owners(path).to_vec()
            }
        }
    }
}

/// Append `id` to the list under `key`, once (a package lists a name several times).
fn push_id(map: &mut FastMap<String, Vec<PkgId>>, key: &str, id: PkgId) {
    match map.get_mut(key) {
        Some(v) => {
            if v.last() != Some(&id) {
                v.push(id);
            }
        }
        None => {
            map.insert(key.to_owned(), vec![id]);
        }
    }
}
