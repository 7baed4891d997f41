//! Solving on top of an installed system, as libsolv does for a live root (jobs `install`,
//! `erase`, `update`, `distupgrade`), for libsolv's own testcases and for a future
//! "what would change" check. `diskless lock` resolves for an empty root and never comes
//! here (see [`super::resolve`]).
//!
//! libsolv decides in a fixed order and keeps each decision unless it leads to a conflict;
//! here each decision is a requirement added to the resolvo problem when the problem stays
//! solvable, in libsolv's order (`solver_run_sat`):
//! 1. hard rules: the jobs, and for every installed package an "update rule": it stays, or
//!    is replaced by a version of its name and arch (or noarch) at least as new (a
//!    same-version rebuild counts), or by a package that obsoletes it (libsolv never
//!    downgrades on `update`, nor removes an installed package unless `allow_uninstall`);
//!    a package in a `distupgrade` must become a package of the repositories (downgrades
//!    and, unless `dup_no_arch_change`, arch changes allowed), except orphans (nothing of
//!    its name is available), which are kept when they can be. An available package
//!    identical to an installed one (libsolv's `solvable_identical`) is that package;
//! 2. the best candidate of each install job;
//! 3. the best newer version of each package an `update`/`distupgrade` job names, when it
//!    removes no installed package still there but a distupgrade's orphans (an update that
//!    cannot be installed is skipped: `update` is a wish, unless `force_best`); packages
//!    in installed order;
//! 4. no new packages that are not needed: a package of a new name (not installed, not
//!    replacing an installed package, not asked for) is left out, one name at a time, when
//!    the rest can do without it and without any other new name while every installed
//!    package stays or is replaced (libsolv's choice rules prefer updating an installed
//!    provider over installing a new one);
//! 5. every other installed package kept as it is, when that needs no new package, or else
//!    moved to its best update that can be installed (libsolv's third pass);
//! 6. the rest by the empty-root policy (best versions), again without new names beyond
//!    step 4's when possible, then weak dependencies.
//!
//! `Focus::Installed` keeps installed packages before step 2, `Focus::Best` fixes the
//! best choices for new packages before step 4 (libsolv's `focusinstalled`/`focusbest`);
//! `strong_recommends` adds weak dependencies before step 5.
//!
//! Every step is a resolvo solve, so this costs a few solves per installed package: made
//! for small systems (libsolv's testcases), not for a whole distribution.

use super::error::problems;
use super::index::Index;
use super::policy::order_provider_names;
use super::provider::{Pred, Provider, SystemInfo, color_match, pkg_of, solvable};
use super::resolve::{MAX_WEAK_ROUNDS, RootMatch, reasons, sorted, weak_candidates};
use super::spec::{SpecMatch, resolve_spec};
use super::{Reason, Request, Solution, SolveError};
use crate::package::{FileProviders, Package, PkgId, evr_cmp};
use resolvo::{
    ConditionalRequirement, Problem, Requirement, Solver, UnsolvableOrCancelled, VersionSetId,
};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// An installed system and what to do with it.
#[derive(Debug, Clone, Default)]
pub struct System {
    /// The installed packages (indices into the solve input), in the system's order (the
    /// order updates are decided in).
    pub installed: Vec<PkgId>,
    /// Jobs, in order; `Request::install` specs come first as install jobs.
    pub jobs: Vec<Job>,
    pub flags: SystemFlags,
    /// The vendor of each package (by package id), for `SystemFlags::sticky_vendor`;
    /// empty when not known.
    pub vendors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// One of the selected packages must be installed (an installed one will do).
    Install,
    /// None of the selected packages may stay installed.
    Erase,
    /// Move the selected installed packages to their best version (untargeted), or, when
    /// none of the selection is installed, move installed packages to the selected ones that
    /// update them (targeted, libsolv's "autotarget").
    Update,
    /// As `Update`, but a replacement by a repository package is required and may be a
    /// downgrade.
    DistUpgrade,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    /// Every installed package.
    All,
    /// These packages (installed or not).
    Packages(Vec<PkgId>),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub kind: JobKind,
    pub select: Select,
    /// Dropped when the problem cannot be solved with it.
    pub weak: bool,
    /// Only the best candidate will do (libsolv's `forcebest`).
    pub force_best: bool,
    /// Always targeted (libsolv's `targeted`), for `Update`/`DistUpgrade`.
    pub targeted: bool,
}

impl Job {
    pub fn new(kind: JobKind, select: Select) -> Self {
        Job {
            kind,
            select,
            weak: false,
            force_best: false,
            targeted: false,
        }
    }
}

/// Which decisions come first (libsolv's `focus*` solver flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Focus {
    /// Jobs, then updates, then keeping installed packages.
    #[default]
    Normal,
    /// Keep installed packages before anything else.
    Installed,
    /// Best versions of new packages before keeping installed packages.
    Best,
}

#[derive(Debug, Clone, Default)]
pub struct SystemFlags {
    /// Installed packages may be removed to satisfy the jobs.
    pub allow_uninstall: bool,
    /// `Update`/`DistUpgrade` of a selection of which nothing is installed stays untargeted.
    pub no_auto_target: bool,
    pub focus: Focus,
    /// Recommends may update installed packages (decided before keeping them).
    pub strong_recommends: bool,
    /// A `DistUpgrade` may not change a package's arch (other than to or from noarch).
    pub dup_no_arch_change: bool,
    /// `Update` keeps each package's vendor (libsolv's default; dnf allows vendor changes).
    pub sticky_vendor: bool,
    /// `force_best` means the best candidate the policy allows (vendor kept), not the best
    /// version of all (libsolv's `bestobeypolicy`).
    pub best_obeys_policy: bool,
    /// Extra-arch packages need the target-arch package of the same version (multilib
    /// lock-step; libsolv with `implicitobsoleteusescolors`, as dnf sets it).
    pub lockstep: bool,
}

/// The attempts and the problem built so far.
struct State<'a> {
    solver: Solver<Provider<'a>>,
    reqs: Vec<ConditionalRequirement>,
    cons: Vec<VersionSetId>,
}

impl State<'_> {
    fn attempt(
        &mut self,
        extra_reqs: &[ConditionalRequirement],
        extra_cons: &[VersionSetId],
    ) -> Result<Vec<PkgId>, SolveError> {
        let mut reqs = self.reqs.clone();
        reqs.extend_from_slice(extra_reqs);
        let mut cons = self.cons.clone();
        cons.extend_from_slice(extra_cons);
        match self
            .solver
            .solve(Problem::new().requirements(reqs).constraints(cons))
        {
            Ok(s) => Ok(sorted(
                self.solver.provider().ix,
                s.into_iter().map(pkg_of).collect(),
            )),
            Err(UnsolvableOrCancelled::Unsolvable(c)) => Err(SolveError::Unsolvable {
                problems: problems(&c, &self.solver),
            }),
            Err(UnsolvableOrCancelled::Cancelled(_)) => Err(SolveError::Unsolvable {
                problems: vec!["the solver was cancelled".into()],
            }),
        }
    }

    /// Add `r` for good when the problem stays solvable.
    fn try_add(&mut self, r: ConditionalRequirement) -> bool {
        if self.attempt(std::slice::from_ref(&r), &[]).is_ok() {
            self.reqs.push(r);
            true
        } else {
            false
        }
    }
}

fn req(r: Requirement) -> ConditionalRequirement {
    ConditionalRequirement {
        condition: None,
        requirement: r,
    }
}

/// One of `ids` (a union of one version set per resolvo name, in the order given);
/// nothing when `ids` is empty.
fn one_of(p: &Provider<'_>, ids: &[PkgId], what: &str) -> Requirement {
    let mut groups: Vec<(resolvo::NameId, Vec<PkgId>)> = Vec::new();
    for &id in ids {
        let Some(n) = p.pkg_name[id] else { continue };
        match groups.iter_mut().find(|(m, _)| *m == n) {
            Some((_, v)) => v.push(id),
            None => groups.push((n, vec![id])),
        }
    }
    if groups.is_empty() {
        return Requirement::Single(p.missing(what.to_string()));
    }
    let sets = groups
        .into_iter()
        .map(|(n, v)| p.vset(n, Pred::OneOf(v)))
        .collect();
    p.union(sets)
}

/// Constraints: none of `ids`.
fn none_of(p: &Provider<'_>, ids: &[PkgId]) -> Vec<VersionSetId> {
    let mut groups: BTreeMap<usize, (resolvo::NameId, Vec<PkgId>)> = BTreeMap::new();
    for &id in ids {
        let Some(n) = p.pkg_name[id] else { continue };
        groups
            .entry(resolvo::DenseIndex::to_index(n))
            .or_insert((n, Vec::new()))
            .1
            .push(id);
    }
    groups
        .into_values()
        .map(|(n, v)| p.vset(n, Pred::NoneOf(v)))
        .collect()
}

/// Constraints: no package called `name`.
fn forbid_name(p: &Provider<'_>, name: &str) -> Vec<VersionSetId> {
    p.names_called(name)
        .into_iter()
        .map(|n| p.vset(n, Pred::Nothing))
        .collect()
}

/// `ids` in policy order: provider names as the empty-root policy orders them, each
/// name's packages best first.
fn policy_order(p: &Provider<'_>, ids: &[PkgId]) -> Vec<PkgId> {
    let mut v: Vec<PkgId> = ids
        .iter()
        .copied()
        .filter(|&i| p.pkg_name[i].is_some())
        .collect();
    v.sort_unstable_by_key(|&i| p.ix.rank[i]);
    v.dedup();
    let names = order_provider_names(p, None, &v);
    names
        .into_iter()
        .flat_map(|n| v.iter().copied().filter(move |&i| p.pkg_name[i] == Some(n)))
        .collect()
}

fn same_arch_or_noarch(a: &Package, b: &Package) -> bool {
    a.arch == b.arch || a.arch == "noarch" || b.arch == "noarch"
}

/// Candidates for the installed packages.
struct Cands<'p, 'a> {
    p: &'p Provider<'a>,
    installed: &'p [bool],
    /// Installed packages that have an identical copy in a repository.
    in_repo: &'p [bool],
    /// Vendors by package id when updates keep them (empty: vendor changes allowed).
    vendors: &'p [String],
}

impl Cands<'_, '_> {
    fn pkgs(&self) -> &[Package] {
        self.p.ix.pkgs
    }

    fn visible_new(&self, q: PkgId) -> bool {
        !self.installed[q] && self.p.pkg_name[q].is_some()
    }

    /// Packages of other names that obsolete installed package `i`.
    fn obsoleters(&self, i: PkgId) -> Vec<PkgId> {
        let pk = self.pkgs();
        self.p
            .ix
            .obsoleted_by(i)
            .into_iter()
            .filter(|&q| self.visible_new(q) && color_match(&pk[q].arch, &pk[i].arch))
            .collect()
    }

    /// What installed package `i` may be updated to, best first: newer versions of its
    /// name and arch, and packages that obsolete it.
    fn updates(&self, i: PkgId) -> Vec<PkgId> {
        let pk = self.pkgs();
        self.replacements(i)
            .into_iter()
            .filter(|&q| pk[q].name != pk[i].name || evr_cmp(&pk[q].evr, &pk[i].evr).is_gt())
            .collect()
    }

    /// What installed package `i` may be replaced with without a downgrade (libsolv's
    /// update rule): [`Cands::updates`] and rebuilds of the same version (same NEVRA, other
    /// dependencies).
    fn replacements(&self, i: PkgId) -> Vec<PkgId> {
        let vendor = |q: PkgId| self.vendors.get(q).map(String::as_str).unwrap_or("");
        self.updates_any_vendor(i)
            .into_iter()
            .filter(|&q| self.vendors.is_empty() || vendor(q) == vendor(i))
            .collect()
    }

    /// [`Cands::replacements`] whatever their vendor.
    fn updates_any_vendor(&self, i: PkgId) -> Vec<PkgId> {
        let pk = self.pkgs();
        let mut v: Vec<PkgId> = self
            .p
            .ix
            .named(&pk[i].name)
            .iter()
            .copied()
            .filter(|&q| {
                self.visible_new(q)
                    && same_arch_or_noarch(&pk[q], &pk[i])
                    && evr_cmp(&pk[q].evr, &pk[i].evr) != Ordering::Less
            })
            .collect();
        v.extend(self.obsoleters(i));
        policy_order(self.p, &v)
    }

    /// What a distupgrade may replace installed package `i` with, best first: `legal`
    /// ones (arch kept when `no_arch_change`), then the others. Empty for an orphan.
    fn dup(&self, i: PkgId, no_arch_change: bool) -> (Vec<PkgId>, Vec<PkgId>) {
        let pk = self.pkgs();
        let mut all: Vec<PkgId> = self
            .p
            .ix
            .named(&pk[i].name)
            .iter()
            .copied()
            .filter(|&q| self.visible_new(q) && color_match(&pk[q].arch, &pk[i].arch))
            .collect();
        all.extend(self.obsoleters(i));
        if self.in_repo[i] {
            all.push(i);
        }
        let all = policy_order(self.p, &all);
        let (legal, other): (Vec<PkgId>, Vec<PkgId>) = all
            .into_iter()
            .partition(|&q| !no_arch_change || same_arch_or_noarch(&pk[q], &pk[i]));
        (legal, other)
    }
}

/// Resolve the jobs of `system` on top of its installed packages.
pub fn run(
    packages: &[Package],
    files: &dyn FileProviders,
    request: &Request,
    system: &System,
) -> Result<Solution, SolveError> {
    let ix = Index::new(packages, files, request, &[]);
    let n = packages.len();
    let mut installed = vec![false; n];
    for &i in &system.installed {
        if i < n {
            installed[i] = true;
        }
    }
    let inst_order: Vec<PkgId> = system
        .installed
        .iter()
        .copied()
        .filter(|&i| i < n && ix.is_allowed(i))
        .collect();
    let mut prov = Provider::new(&ix, request);
    prov.system = Some(SystemInfo {
        installed: installed.clone(),
        lockstep: system.flags.lockstep,
    });
    // An available copy of an installed package is the installed package.
    let mut twin: Vec<Option<PkgId>> = vec![None; n];
    let mut in_repo = vec![false; n];
    for &i in &inst_order {
        for &j in ix.named(&packages[i].name) {
            if !installed[j] && identical(packages, &system.vendors, i, j) {
                twin[j] = Some(i);
                in_repo[i] = true;
            }
        }
    }
    for (j, t) in twin.iter().enumerate() {
        if t.is_some() {
            prov.hide(j);
        }
    }
    let norm = |id: PkgId| twin[id].unwrap_or(id);
    let flags = &system.flags;

    // Jobs: request specs first.
    let mut jobs: Vec<Job> = Vec::new();
    for spec in &request.install {
        match resolve_spec(&ix, spec)? {
            SpecMatch::Packages(groups) => {
                for g in groups {
                    jobs.push(Job::new(JobKind::Install, Select::Packages(g)));
                }
            }
            SpecMatch::Provide(dep) => jobs.push(Job::new(
                JobKind::Install,
                Select::Packages(ix.providers(&dep)),
            )),
        }
    }
    jobs.extend(system.jobs.iter().cloned());

    let vendors: &[String] = if flags.sticky_vendor {
        &system.vendors
    } else {
        &[]
    };
    let cands = Cands {
        p: &prov,
        installed: &installed,
        in_repo: &in_repo,
        vendors,
    };
    let mut hard: Vec<ConditionalRequirement> = Vec::new();
    let mut cons: Vec<VersionSetId> = Vec::new();
    let mut weak_hard: Vec<ConditionalRequirement> = Vec::new();
    let mut weak_cons: Vec<VersionSetId> = Vec::new();
    let mut erased = vec![false; n];
    // Install jobs to decide (not satisfied by an installed package), candidates in order.
    let mut to_install: Vec<Vec<PkgId>> = Vec::new();
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    let mut roots: Vec<(String, RootMatch)> = Vec::new();
    // Installed package -> update candidates (in job order).
    let mut updates: Vec<(PkgId, Vec<PkgId>)> = Vec::new();
    // Installed packages in a distupgrade -> the replacements required (None: orphan).
    let mut dup: BTreeMap<PkgId, Option<Vec<PkgId>>> = BTreeMap::new();
    for job in &jobs {
        let ids: Vec<PkgId> = match &job.select {
            Select::All => inst_order.clone(),
            Select::Packages(v) => {
                let mut v: Vec<PkgId> = v
                    .iter()
                    .copied()
                    .filter(|&i| i < n && ix.is_allowed(i))
                    .map(norm)
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        let (r, c) = if job.weak {
            (&mut weak_hard, &mut weak_cons)
        } else {
            (&mut hard, &mut cons)
        };
        match job.kind {
            JobKind::Install => {
                let order = policy_order(&prov, &ids);
                let text = if ids.is_empty() {
                    "a package the install job selects".to_string()
                } else {
                    describe(packages, &ids)
                };
                for &i in &ids {
                    wanted.insert(packages[i].name.as_str());
                }
                roots.push((text.clone(), RootMatch::Packages(order.clone())));
                if ids.iter().any(|&i| installed[i]) {
                    r.push(req(one_of(&prov, &order, &text)));
                } else if job.force_best {
                    r.push(req(one_of(&prov, &order[..order.len().min(1)], &text)));
                } else {
                    r.push(req(one_of(&prov, &order, &text)));
                    to_install.push(order);
                }
            }
            JobKind::Erase => {
                for &i in &ids {
                    if installed[i] && !job.weak {
                        erased[i] = true;
                    }
                }
                c.extend(none_of(&prov, &ids));
            }
            JobKind::Update | JobKind::DistUpgrade => {
                let is_dup = job.kind == JobKind::DistUpgrade;
                let targets_of = |i: PkgId| -> Vec<PkgId> {
                    if is_dup {
                        let (mut l, o) = cands.dup(i, flags.dup_no_arch_change);
                        l.extend(o);
                        l
                    } else {
                        cands.updates(i)
                    }
                };
                let selected_installed: Vec<PkgId> =
                    ids.iter().copied().filter(|&i| installed[i]).collect();
                let untargeted = !job.targeted
                    && (job.select == Select::All
                        || !selected_installed.is_empty()
                        || flags.no_auto_target);
                let mut entries: Vec<(PkgId, Vec<PkgId>, bool)> = Vec::new();
                if untargeted {
                    for i in selected_installed {
                        entries.push((i, targets_of(i), false));
                    }
                } else {
                    let chosen: BTreeSet<PkgId> =
                        ids.iter().copied().filter(|&i| !installed[i]).collect();
                    for &i in &inst_order {
                        let t: Vec<PkgId> = targets_of(i)
                            .into_iter()
                            .filter(|q| chosen.contains(q))
                            .collect();
                        if !t.is_empty() {
                            entries.push((i, t, true));
                        }
                    }
                }
                for (i, t, targeted) in entries {
                    if is_dup {
                        let (legal, other) = cands.dup(i, flags.dup_no_arch_change);
                        let need = if targeted {
                            Some(t.clone())
                        } else if legal.is_empty() && other.is_empty() {
                            None
                        } else {
                            Some(legal)
                        };
                        // A package a distupgrade replaces may not stay, even where it
                        // may be removed (`allow_uninstall`).
                        if need.is_some() && !in_repo[i] {
                            c.extend(none_of(&prov, &[i]));
                        }
                        dup.insert(i, need);
                    }
                    if job.force_best {
                        // The best of all versions, unless the best must obey the policy.
                        let best = if is_dup || flags.best_obeys_policy {
                            t.first().copied()
                        } else {
                            cands
                                .updates_any_vendor(i)
                                .into_iter()
                                .find(|q| !targeted || t.contains(q))
                        };
                        if let Some(b) = best {
                            let text = format!("the best update of {}", packages[i].nevra());
                            r.push(req(one_of(&prov, &[b], &text)));
                        }
                    }
                    updates.push((i, t));
                }
            }
        }
    }
    // The rules of the installed packages.
    for &i in &inst_order {
        if erased[i] || flags.allow_uninstall {
            continue;
        }
        let text = format!("the installed package {}", packages[i].nevra());
        match dup.get(&i) {
            Some(Some(need)) => hard.push(req(one_of(&prov, need, &text))),
            Some(None) => {}
            None => {
                let mut v = vec![i];
                v.extend(cands.replacements(i));
                hard.push(req(one_of(&prov, &v, &text)));
            }
        }
    }
    // Every installed package present (kept or replaced): tried first, as libsolv keeps
    // orphans and allowed removals when it can.
    let present_as: Vec<(PkgId, Vec<PkgId>)> = inst_order
        .iter()
        .filter(|&&i| !erased[i])
        .map(|&i| {
            let mut v = vec![i];
            v.extend(cands.replacements(i));
            // Only a distupgrade may downgrade or change the arch.
            if dup.contains_key(&i) {
                let (l, o) = cands.dup(i, false);
                v.extend(l);
                v.extend(o);
            }
            v.dedup();
            (i, v)
        })
        .collect();
    // The updates of each installed package, for those that cannot be kept.
    let upd: BTreeMap<PkgId, Vec<PkgId>> =
        inst_order.iter().map(|&i| (i, cands.updates(i))).collect();
    let presence_of =
        |p: &Provider<'_>, which: &[&(PkgId, Vec<PkgId>)]| -> Vec<ConditionalRequirement> {
            which
                .iter()
                .map(|(i, v)| {
                    req(one_of(
                        p,
                        v,
                        &format!("the installed package {}", packages[*i].nevra()),
                    ))
                })
                .collect()
        };
    let presence = presence_of(&prov, &present_as.iter().collect::<Vec<_>>());
    let installed_names: BTreeSet<&str> = inst_order
        .iter()
        .map(|&i| packages[i].name.as_str())
        .collect();
    let mut related = vec![false; n];
    for &i in &inst_order {
        for q in cands.obsoleters(i) {
            related[q] = true;
        }
    }
    let independent = |q: PkgId| -> bool {
        !installed[q]
            && !related[q]
            && !installed_names.contains(packages[q].name.as_str())
            && !wanted.contains(packages[q].name.as_str())
    };

    let mut st = State {
        solver: Solver::new(prov),
        reqs: hard,
        cons,
    };
    // Weak jobs stay when the problem is solvable with them.
    if (!weak_hard.is_empty() || !weak_cons.is_empty())
        && st.attempt(&weak_hard, &weak_cons).is_ok()
    {
        st.reqs.extend(weak_hard);
        st.cons.extend(weak_cons);
    }
    st.attempt(&[], &[])?;

    let mut decided: BTreeSet<PkgId> = BTreeSet::new();
    let keep_pass =
        |st: &mut State<'_>, decided: &mut BTreeSet<PkgId>, allowed: Option<&BTreeSet<String>>| {
            for &i in &inst_order {
                if erased[i] || decided.contains(&i) || matches!(dup.get(&i), Some(Some(_))) {
                    continue;
                }
                // Kept, or else (libsolv's third pass) its best update that can be installed.
                let mut options = vec![i];
                if !dup.contains_key(&i) {
                    options.extend(upd.get(&i).into_iter().flatten().copied());
                }
                for c in options {
                    let r = req(one_of(st.solver.provider(), &[c], "keep"));
                    let ok = match allowed {
                        Some(a) => {
                            closed_attempt(st, std::slice::from_ref(&r), a, &independent).is_ok()
                        }
                        None => st.attempt(std::slice::from_ref(&r), &[]).is_ok(),
                    };
                    if ok {
                        st.reqs.push(r);
                        decided.insert(i);
                        break;
                    }
                }
            }
        };
    if flags.focus == Focus::Installed {
        keep_pass(&mut st, &mut decided, None);
    }
    // Install jobs: their best candidate.
    for order in &to_install {
        for &c in order {
            let r = req(one_of(st.solver.provider(), &[c], "install"));
            if st.try_add(r) {
                break;
            }
        }
    }
    // Updates: the best candidate that can be installed without removing an installed
    // package that is there now (libsolv removes packages for jobs, not for updates).
    let now = match st.attempt(&presence, &[]) {
        Ok(s) => s,
        Err(_) => st.attempt(&[], &[])?,
    };
    let guard = presence_of(
        st.solver.provider(),
        &present_as
            .iter()
            // Orphans may go for a distupgrade.
            .filter(|(i, v)| !matches!(dup.get(i), Some(None)) && v.iter().any(|q| now.contains(q)))
            .collect::<Vec<_>>(),
    );
    for (i, t) in &updates {
        if decided.contains(i) {
            continue;
        }
        for &c in t {
            let r = req(one_of(st.solver.provider(), &[c], "update"));
            let mut with = guard.clone();
            with.push(r);
            if st.attempt(&with, &[]).is_ok() {
                st.reqs.push(r);
                decided.insert(*i);
                break;
            }
        }
    }
    if flags.focus == Focus::Best {
        let sol = st.attempt(&[], &[])?;
        for q in sol {
            if !installed[q] && !installed_names.contains(packages[q].name.as_str()) {
                let r = req(one_of(st.solver.provider(), &[q], "best"));
                st.try_add(r);
            }
        }
    }
    // No new packages beyond the needed ones: leave out one new name at a time while the
    // others can do without it (and without any other new name).
    let new_names = |sol: &[PkgId]| -> BTreeSet<String> {
        sol.iter()
            .filter(|&&q| independent(q))
            .map(|&q| packages[q].name.clone())
            .collect()
    };
    let base = match st.attempt(&presence, &[]) {
        Ok(s) => {
            let mut current = new_names(&s);
            for name in current.clone() {
                let mut fewer = current.clone();
                fewer.remove(&name);
                if let Ok(s2) = closed_attempt(&mut st, &presence, &fewer, &independent) {
                    let f = forbid_name(st.solver.provider(), &name);
                    st.cons.extend(f);
                    current = new_names(&s2);
                }
            }
            closed_attempt(&mut st, &presence, &current, &independent)?
        }
        Err(_) => st.attempt(&[], &[])?,
    };
    let mut allowed: BTreeSet<String> = base
        .iter()
        .filter(|&&q| independent(q))
        .map(|&q| packages[q].name.clone())
        .collect();
    if flags.strong_recommends && request.weak_deps {
        let sol = st.attempt(&[], &[])?;
        let (chosen, weak) = weak_rounds(&mut st, sol);
        for q in chosen {
            if weak.contains_key(&q) {
                allowed.insert(packages[q].name.clone());
                let r = req(one_of(st.solver.provider(), &[q], "recommended"));
                st.try_add(r);
            }
        }
    }
    keep_pass(&mut st, &mut decided, Some(&allowed));
    let mut chosen = match closed_attempt(&mut st, &[], &allowed, &independent) {
        Ok(s) => s,
        Err(_) => st.attempt(&[], &[])?,
    };
    let mut weak = BTreeMap::new();
    if request.weak_deps {
        (chosen, weak) = weak_rounds(&mut st, chosen);
    }
    let p = st.solver.provider();
    let mut why = reasons(p, &chosen, &roots, &weak);
    for (&id, r) in why.iter_mut() {
        if installed[id] && matches!(r, Reason::Requested(s) if *s == packages[id].name) {
            *r = Reason::Requested("installed".into());
        }
    }
    let mut out = chosen;
    out.sort_by(|&a, &b| {
        let (pa, pb) = (&packages[a], &packages[b]);
        pa.name
            .cmp(&pb.name)
            .then_with(|| pa.arch.cmp(&pb.arch))
            .then_with(|| evr_cmp(&pa.evr, &pb.evr))
            .then_with(|| ix.cmp_rank(a, b))
    });
    Ok(Solution {
        packages: out,
        reasons: why,
    })
}

/// Solve with `extra`, leaving out packages of new names not in `allowed` as long as the
/// problem stays solvable without them; an error when it does not.
fn closed_attempt(
    st: &mut State<'_>,
    extra: &[ConditionalRequirement],
    allowed: &BTreeSet<String>,
    independent: &dyn Fn(PkgId) -> bool,
) -> Result<Vec<PkgId>, SolveError> {
    let mut forbid: Vec<VersionSetId> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    loop {
        let sol = st.attempt(extra, &forbid)?;
        let pkgs = st.solver.provider().ix.pkgs;
        let new: Vec<String> = sol
            .iter()
            .filter(|&&q| independent(q) && !allowed.contains(&pkgs[q].name))
            .map(|&q| pkgs[q].name.clone())
            .filter(|name| seen.insert(name.clone()))
            .collect();
        if new.is_empty() {
            return Ok(sol);
        }
        for name in new {
            forbid.extend(forbid_name(st.solver.provider(), &name));
        }
    }
}

/// Weak dependencies added in rounds of soft requirements, as for an empty root.
fn weak_rounds(
    st: &mut State<'_>,
    mut chosen: Vec<PkgId>,
) -> (Vec<PkgId>, BTreeMap<PkgId, Reason>) {
    let mut weak: BTreeMap<PkgId, Reason> = BTreeMap::new();
    let mut soft: Vec<PkgId> = Vec::new();
    let mut tried: BTreeSet<PkgId> = BTreeSet::new();
    for _ in 0..MAX_WEAK_ROUNDS {
        let new = weak_candidates(st.solver.provider(), &chosen, &mut tried, &mut weak);
        if new.is_empty() {
            break;
        }
        soft.extend(new);
        let problem = Problem::new()
            .requirements(st.reqs.clone())
            .constraints(st.cons.clone())
            .soft_requirements(soft.iter().map(|&p| solvable(p)).collect::<Vec<_>>());
        match st.solver.solve(problem) {
            Ok(s) => chosen = sorted(st.solver.provider().ix, s.into_iter().map(pkg_of).collect()),
            Err(_) => break,
        }
    }
    let ix = st.solver.provider().ix;
    weak.retain(|id, _| chosen.binary_search_by(|c| ix.cmp_rank(*c, *id)).is_ok());
    (chosen, weak)
}

/// libsolv's `solvable_identical`: same NEVRA and vendor, and the same build time when both
/// have one, else the same requires (a rebuild with other dependencies is another package).
fn identical(packages: &[Package], vendors: &[String], a: PkgId, b: PkgId) -> bool {
    let (pa, pb) = (&packages[a], &packages[b]);
    let vendor = |i: PkgId| vendors.get(i).map(String::as_str).unwrap_or("");
    if pa.name != pb.name || pa.arch != pb.arch || pa.evr != pb.evr || vendor(a) != vendor(b) {
        return false;
    }
    if pa.time_build != 0 && pb.time_build != 0 {
        return pa.time_build == pb.time_build;
    }
    let reqs =
        |p: &Package| -> BTreeSet<String> { p.requires.iter().map(|d| d.to_string()).collect() };
    reqs(pa) == reqs(pb)
}

fn describe(packages: &[Package], ids: &[PkgId]) -> String {
    let mut names: Vec<&str> = ids.iter().map(|&i| packages[i].name.as_str()).collect();
    names.dedup();
    names.join(" | ")
}
