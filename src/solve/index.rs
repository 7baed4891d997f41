//! The package index the solver works on: which records are allowed (arch, excludes,
//! repository priority), a deterministic rank for every record, and lookups from a
//! capability (a provide name, a file path) to the allowed packages that satisfy it.
//!
//! File dependencies are answered from `Package::files` (primary.xml's subset) first and
//! from the lazy [`FileProviders`] only on a miss, as dnf loads filelists.

use super::Request;
use crate::package::{
    Dependency, FileProviders, Package, PkgId, Sense, evr_cmp, evr_in_range, glob_match,
    provide_satisfies,
};
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Why a record is not a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Its arch is neither the target arch, `noarch`, nor one of `extra_arches`.
    Arch,
    /// It matches an `exclude` pattern.
    Excluded,
    /// The same name is offered by a repository with a better (lower) priority.
    Priority,
}

pub const DEFAULT_PRIORITY: i32 = 99;
pub const DEFAULT_COST: i32 = 1000;

pub struct Index<'a> {
    pub pkgs: &'a [Package],
    files_lazy: &'a dyn FileProviders,
    /// `None` for candidates, the reason otherwise.
    pub hidden: Vec<Option<Hidden>>,
    /// Position of each record in the policy order (best first within a name).
    pub rank: Vec<u32>,
    /// Arch class: 0 for the target arch and noarch, 1.. for each extra arch. Packages of
    /// one name in different classes may be installed side by side (multilib).
    pub arch_class: Vec<u16>,
    pub priority: Vec<i32>,
    /// Allowed packages by name, best first.
    by_name: FxMap<&'a str, Vec<PkgId>>,
    /// Provide name -> (package, index into its provides), allowed packages only.
    provides: FxMap<&'a str, Vec<(PkgId, u32)>>,
    /// Path -> packages listing it in primary.xml, allowed packages only.
    files: FxMap<&'a str, Vec<PkgId>>,
    /// Obsoleted name -> (obsoleting package, index into its obsoletes), allowed only.
    obsoleters: FxMap<&'a str, Vec<(PkgId, u32)>>,
    lazy_cache: RefCell<FxMap<String, Vec<PkgId>>>,
    target_arch: String,
}

impl<'a> Index<'a> {
    /// Index `pkgs` for `req`. The exact-version requests (`_forced`) once had to escape a
    /// priority filter; priority is now a preference, so every version stays a candidate.
    pub fn new(
        pkgs: &'a [Package],
        files_lazy: &'a dyn FileProviders,
        req: &Request,
        _forced: &[PkgId], // exact-version requests; every version is a candidate now
    ) -> Self {
        let n = pkgs.len();
        let mut arch_class = vec![0u16; n];
        let mut hidden: Vec<Option<Hidden>> = vec![None; n];
        for (i, p) in pkgs.iter().enumerate() {
            if p.arch == req.arch || p.arch == "noarch" {
                arch_class[i] = 0;
            } else if let Some(k) = req.extra_arches.iter().position(|a| *a == p.arch) {
                arch_class[i] = k as u16 + 1;
            } else {
                hidden[i] = Some(Hidden::Arch);
                continue;
            }
            if req.exclude.iter().any(|pat| excluded_by(pat, p)) {
                hidden[i] = Some(Hidden::Excluded);
            }
        }
        let priority: Vec<i32> = pkgs
            .iter()
            .map(|p| {
                req.repo_priority
                    .get(&p.repo)
                    .copied()
                    .unwrap_or(DEFAULT_PRIORITY)
            })
            .collect();
        let cost: Vec<i32> = pkgs
            .iter()
            .map(|p| req.repo_cost.get(&p.repo).copied().unwrap_or(DEFAULT_COST))
            .collect();
        // Repository priority is a preference, as dnf applies it: among the versions of a
        // name, those of the best-priority repository come first (even when older), but a
        // worse-priority version is still a candidate when the better one cannot be
        // installed (dnf falls back, checked against dnf on libsolv's strictrepoprio case).
        // The policy order, independent of the input order: name, then best EVR, then the
        // target arch before extra arches before noarch, then cheaper repository, then
        // repository id and location as the last, content-based tie-breaks.
        let arch_pref = |i: usize| -> u16 {
            if pkgs[i].arch == "noarch" {
                u16::MAX
            } else {
                arch_class[i]
            }
        };
        // Sorting (name, id) pairs keeps the common first comparison (the name) in one
        // compact array instead of reaching into 19k scattered records each time.
        let mut keyed: Vec<(&str, PkgId)> = pkgs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        keyed.sort_unstable_by(|&(na, a), &(nb, b)| {
            let (pa, pb) = (&pkgs[a], &pkgs[b]);
            na.cmp(nb)
                .then_with(|| priority[a].cmp(&priority[b]))
                .then_with(|| evr_cmp(&pb.evr, &pa.evr))
                .then_with(|| {
                    (&pa.evr.version, &pa.evr.release).cmp(&(&pb.evr.version, &pb.evr.release))
                })
                .then_with(|| arch_pref(a).cmp(&arch_pref(b)))
                .then_with(|| pa.arch.cmp(&pb.arch))
                .then_with(|| cost[a].cmp(&cost[b]))
                .then_with(|| pa.repo.cmp(&pb.repo))
                .then_with(|| pa.location.cmp(&pb.location))
                .then_with(|| pa.checksum.value.cmp(&pb.checksum.value))
                // Records equal in every field: input order, as the stable sort kept it.
                .then_with(|| a.cmp(&b))
        });
        let order: Vec<PkgId> = keyed.into_iter().map(|(_, i)| i).collect();
        let mut rank = vec![0u32; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r as u32;
        }

        // Sized up front: growing maps of 100k+ keys rehashes them several times.
        let total = |f: fn(&Package) -> usize| pkgs.iter().map(f).sum::<usize>();
        let mut by_name: FxMap<&str, Vec<PkgId>> =
            FxMap::with_capacity_and_hasher(n, Default::default());
        let mut provides: FxMap<&str, Vec<(PkgId, u32)>> =
            FxMap::with_capacity_and_hasher(total(|p| p.provides.len()), Default::default());
        let mut files: FxMap<&str, Vec<PkgId>> =
            FxMap::with_capacity_and_hasher(total(|p| p.files.len()), Default::default());
        let mut obsoleters: FxMap<&str, Vec<(PkgId, u32)>> =
            FxMap::with_capacity_and_hasher(total(|p| p.obsoletes.len()), Default::default());
        // Records are visited in memory order (scattered rank order thrashes the cache on
        // 60k records), then each list is put in rank order: the same lists as visiting
        // in rank order, since a record's entries keep their own order.
        for (i, p) in pkgs.iter().enumerate() {
            if hidden[i].is_some() {
                continue;
            }
            by_name.entry(p.name.as_str()).or_default().push(i);
            for (k, d) in p.provides.iter().enumerate() {
                provides
                    .entry(d.name.as_str())
                    .or_default()
                    .push((i, k as u32));
            }
            for f in &p.files {
                files.entry(f.as_str()).or_default().push(i);
            }
            for (k, d) in p.obsoletes.iter().enumerate() {
                obsoleters
                    .entry(d.name.as_str())
                    .or_default()
                    .push((i, k as u32));
            }
        }
        for v in by_name.values_mut().chain(files.values_mut()) {
            if v.len() > 1 {
                v.sort_by_key(|&id| rank[id]);
            }
        }
        for v in provides.values_mut().chain(obsoleters.values_mut()) {
            if v.len() > 1 {
                v.sort_by_key(|&(id, k)| (rank[id], k));
            }
        }
        Index {
            pkgs,
            files_lazy,
            hidden,
            rank,
            arch_class,
            priority,
            by_name,
            provides,
            files,
            obsoleters,
            lazy_cache: RefCell::new(FxMap::default()),
            target_arch: req.arch.clone(),
        }
    }

    /// The lazy file lists this index falls back on.
    pub fn files_lazy(&self) -> &'a dyn FileProviders {
        self.files_lazy
    }

    /// Whether an index built for `a` is the one `b` would build: the parts of a request
    /// an index depends on are equal.
    pub fn same_for(a: &Request, b: &Request) -> bool {
        a.arch == b.arch
            && a.extra_arches == b.extra_arches
            && a.exclude == b.exclude
            && a.repo_priority == b.repo_priority
            && a.repo_cost == b.repo_cost
    }

    pub fn target_arch(&self) -> &str {
        &self.target_arch
    }

    /// Allowed packages named `name`, best first.
    pub fn named(&self, name: &str) -> &[PkgId] {
        self.by_name.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every name that has allowed packages, sorted.
    pub fn names(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self.by_name.keys().copied().collect();
        v.sort_unstable();
        v
    }

    pub fn is_allowed(&self, id: PkgId) -> bool {
        self.hidden[id].is_none()
    }

    /// Does package `id` satisfy `dep` (through a provide, or a file it contains)?
    pub fn satisfies(&self, id: PkgId, dep: &Dependency) -> bool {
        let p = &self.pkgs[id];
        if p.provides.iter().any(|pr| provide_satisfies(pr, dep)) {
            return true;
        }
        if dep.name.starts_with('/') && dep.op.is_none() {
            return p.files.contains(&dep.name) || self.lazy_files(&dep.name).contains(&id);
        }
        false
    }

    /// Allowed packages satisfying `dep`, best first (sorted by rank).
    pub fn providers(&self, dep: &Dependency) -> Vec<PkgId> {
        let mut out: Vec<PkgId> = Vec::new();
        if let Some(list) = self.provides.get(dep.name.as_str()) {
            for &(id, k) in list {
                if provide_satisfies(&self.pkgs[id].provides[k as usize], dep)
                    && out.last() != Some(&id)
                {
                    out.push(id);
                }
            }
        }
        if dep.name.starts_with('/') && dep.op.is_none() {
            match self.files.get(dep.name.as_str()) {
                Some(list) => out.extend(list.iter().copied()),
                None => out.extend(self.lazy_files(&dep.name)),
            }
        }
        out.sort_unstable_by_key(|&id| self.rank[id]);
        out.dedup();
        out
    }

    /// Allowed packages of another name that obsolete package `id` (by name and version,
    /// dnf's default), best first.
    pub fn obsoleted_by(&self, id: PkgId) -> Vec<PkgId> {
        let p = &self.pkgs[id];
        let mut out: Vec<PkgId> = self
            .obsoleters
            .get(p.name.as_str())
            .map(|v| {
                v.iter()
                    .filter(|&&(o, k)| {
                        let d = &self.pkgs[o].obsoletes[k as usize];
                        self.pkgs[o].name != p.name
                            && evr_in_range(&p.evr, Sense::from_op(d.op), d.evr.as_ref())
                    })
                    .map(|&(o, _)| o)
                    .collect()
            })
            .unwrap_or_default();
        out.sort_unstable_by_key(|&o| self.rank[o]);
        out.dedup();
        out
    }

    /// Packages containing `path` according to the full file lists (allowed only).
    fn lazy_files(&self, path: &str) -> Vec<PkgId> {
        if let Some(v) = self.lazy_cache.borrow().get(path) {
            return v.clone();
        }
        let mut v: Vec<PkgId> = self
            .files_lazy
            .providers(path)
            .into_iter()
            .filter(|&id| id < self.pkgs.len() && self.hidden[id].is_none())
            .collect();
        v.sort_unstable_by_key(|&id| self.rank[id]);
        v.dedup();
        self.lazy_cache
            .borrow_mut()
            .insert(path.to_string(), v.clone());
        v
    }

    /// Every record (allowed or not) named `name`, or providing `dep`: for the hints of
    /// "No match" errors.
    pub fn hidden_matching(&self, matches: impl Fn(&Package) -> bool) -> Vec<PkgId> {
        let mut v: Vec<PkgId> = (0..self.pkgs.len())
            .filter(|&i| self.hidden[i].is_some() && matches(&self.pkgs[i]))
            .collect();
        v.sort_unstable_by_key(|&id| self.rank[id]);
        v
    }

    /// Compare two packages by the policy order.
    pub fn cmp_rank(&self, a: PkgId, b: PkgId) -> Ordering {
        self.rank[a].cmp(&self.rank[b])
    }
}

/// Does the exclude pattern match the package? dnf matches excludepkgs against the name
/// and the NEVRA forms.
fn excluded_by(pattern: &str, p: &Package) -> bool {
    glob_match(pattern, &p.name)
        || glob_match(pattern, &format!("{}.{}", p.name, p.arch))
        || glob_match(pattern, &format!("{}-{}", p.name, p.evr))
        || glob_match(pattern, &p.nevra())
}

/// A small multiply-rotate hasher (the FxHash scheme) for the solver's lookup tables:
/// SipHash dominated profiles of indexing 19k packages. Lookups only; nothing iterates
/// these maps into a result.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
