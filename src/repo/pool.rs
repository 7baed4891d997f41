//! The packages of several loaded repositories in one slice (what `solve` takes), with
//! the lookups dnf answers: by name, by capability (whatprovides), by file.
//!
//! Module filtering happens here, when the pool is built: hidden packages never enter the
//! slice, so neither the solver nor a query can pick them.

use super::modules::{self, ModuleSelection};
use super::{FileLists, RepoData, RepoError};
use crate::package::{Dependency, Package};
use crate::solve::{FileProviders, PkgId, glob_match, provide_satisfies};
use std::collections::HashMap;
use std::sync::OnceLock;

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
    by_name: HashMap<String, Vec<PkgId>>,
    provides: HashMap<String, Vec<PkgId>>,
    primary_files: HashMap<String, Vec<PkgId>>,
    all_files: OnceLock<HashMap<String, Vec<PkgId>>>,
    /// Set once reading the full file lists failed: the solver then asks primary's subset
    /// only, without retrying (and warning) on every file dependency.
    filelists_failed: OnceLock<()>,
    hidden_by_modules: usize,
}

impl Pool {
    /// Take the packages out of `repos` (in order) into one pool.
    pub fn new(mut repos: Vec<RepoData>, options: &PoolOptions) -> Pool {
        let mut packages = Vec::new();
        let mut repo_of = Vec::new();
        for (i, r) in repos.iter_mut().enumerate() {
            let mut ps = std::mem::take(&mut r.packages);
            let (ex, inc) = (&r.source.excludepkgs, &r.source.includepkgs);
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
                if repos[r as usize].source.module_hotfixes {
                    *h = false;
                }
            }
            hidden_by_modules = hidden.iter().filter(|h| **h).count();
            let mut keep = hidden.iter().map(|h| !h);
            let mut keep2 = hidden.iter().map(|h| !h);
            packages.retain(|_| keep.next().unwrap_or(true));
            repo_of.retain(|_| keep2.next().unwrap_or(true));
        }
        let mut by_name: HashMap<String, Vec<PkgId>> = HashMap::new();
        let mut provides: HashMap<String, Vec<PkgId>> = HashMap::new();
        let mut primary_files: HashMap<String, Vec<PkgId>> = HashMap::new();
        for (id, p) in packages.iter().enumerate() {
            by_name.entry(p.name.clone()).or_default().push(id);
            for d in &p.provides {
                let v = provides.entry(d.name.clone()).or_default();
                if v.last() != Some(&id) {
                    v.push(id);
                }
            }
            for f in &p.files {
                primary_files.entry(f.clone()).or_default().push(id);
            }
        }
        Pool {
            repos,
            packages,
            repo_of,
            by_name,
            provides,
            primary_files,
            all_files: OnceLock::new(),
            filelists_failed: OnceLock::new(),
            hidden_by_modules,
        }
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
        self.by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Packages whose Provides satisfy `dep` (name, and version range when given).
    /// File paths match explicit Provides only; see [`Pool::file_owners`].
    pub fn whatprovides(&self, dep: &Dependency) -> Vec<PkgId> {
        let Some(ids) = self.provides.get(&dep.name) else {
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
        self.provides.keys().map(String::as_str)
    }

    /// Packages whose primary.xml file subset holds `path`.
    pub fn primary_file_owners(&self, path: &str) -> &[PkgId] {
        self.primary_files
            .get(path)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Read every repository's filelists.xml (once) and index it.
    pub fn load_filelists(&self) -> Result<&HashMap<String, Vec<PkgId>>, RepoError> {
        if let Some(idx) = self.all_files.get() {
            return Ok(idx);
        }
        let mut index: HashMap<String, Vec<PkgId>> = HashMap::new();
        // Start from primary's subset: it is what dnf knows even when a filelists.xml is
        // an empty stub.
        for (path, ids) in &self.primary_files {
            index.insert(path.clone(), ids.clone());
        }
        for (ri, repo) in self.repos.iter().enumerate() {
            let lists = repo.filelists()?;
            self.index_filelists(ri as u32, lists, &mut index);
        }
        for ids in index.values_mut() {
            ids.sort_unstable();
            ids.dedup();
        }
        Ok(self.all_files.get_or_init(|| index))
    }

    fn index_filelists(
        &self,
        repo: u32,
        lists: &FileLists,
        index: &mut HashMap<String, Vec<PkgId>>,
    ) {
        // filelists entries point at primary records by pkgid (the package checksum).
        let mut by_pkgid: HashMap<&str, PkgId> = HashMap::new();
        for (id, p) in self.packages.iter().enumerate() {
            if self.repo_of[id] == repo {
                by_pkgid.insert(p.checksum.value.as_str(), id);
            }
        }
        for fp in &lists.packages {
            let Some(&id) = by_pkgid.get(fp.pkgid.as_str()) else {
                continue;
            };
            for f in &fp.files {
                index.entry(f.clone()).or_default().push(id);
            }
        }
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
