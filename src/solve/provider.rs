//! The mapping of rpm dependencies onto resolvo.
//!
//! resolvo keeps one solvable per *name* and asserts that every candidate of a version
//! set shares that name, so a capability is never a resolvo name. A resolvo name is a
//! real package name (per arch class, so multilib packages may coexist); a version set is
//! (package name, predicate over that name's packages). `Requires cap` becomes a union of
//! one version set per provider name, ordered by the policy in [`super::policy`];
//! Conflicts and Obsoletes become `constrains`; rich dependencies are turned into
//! clauses (CNF) whose negative literals become resolvo conditions or constrains.
//!
//! Every list handed to resolvo is built in a content-based order (package rank, sorted
//! names), never from hash-map iteration, so the same input gives the same solution.

use super::Request;
use super::index::Index;
use super::policy;
use crate::package::{
    Dependency, Package, PkgId, Rich, RichError, Sense, evr_in_range, parse_rich,
};
use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, DenseIndex, Dependencies,
    DependencyProvider, Interner, KnownDependencies, LogicalOperator, NameId, Requirement,
    SolvableId, SolverCache, StringId, VersionSetId, VersionSetUnionId,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;

/// A predicate over one package: what a rich dependency's `with`/`without` can say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PkgPred {
    Dep(Dependency),
    All(Vec<PkgPred>),
    Any(Vec<PkgPred>),
    Not(Box<PkgPred>),
}

impl Display for PkgPred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PkgPred::Dep(d) => write!(f, "{d}"),
            PkgPred::All(v) => {
                let parts: Vec<String> = v.iter().map(|p| p.to_string()).collect();
                write!(f, "({})", parts.join(" with "))
            }
            PkgPred::Any(v) => {
                let parts: Vec<String> = v.iter().map(|p| p.to_string()).collect();
                write!(f, "({})", parts.join(" or "))
            }
            PkgPred::Not(p) => write!(f, "not {p}"),
        }
    }
}

pub type PredId = u32;

/// The predicate of a version set, over the packages of its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pred {
    /// Satisfies the package predicate.
    Match(PredId),
    /// Does not satisfy it, or is the given package (a package may conflict with what
    /// it provides itself).
    NotMatchOrSelf(PredId, PkgId),
    /// Not obsoleted by obsoletes entry `.1` of package `.0` (or is that package).
    NotObsoletedBy(PkgId, u32),
    /// Exactly these packages (a request spec).
    OneOf(Vec<PkgId>),
    /// Any package but these (an erase job, or the installed package another one replaces).
    NoneOf(Vec<PkgId>),
    /// Nothing: the version set of a capability nothing provides.
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameKey {
    /// A package name and its arch class (see [`Index::arch_class`]).
    Package(String, u16),
    /// A capability that nothing provides: a name without candidates.
    Missing(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionSet {
    pub name: NameId,
    pub pred: Pred,
}

/// An append-only interner: ids are positions, so they follow insertion order.
pub struct Arena<T: Eq + Hash + Clone> {
    items: Vec<T>,
    map: super::index::FxMap<T, u32>,
}

impl<T: Eq + Hash + Clone> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            items: Vec::new(),
            map: Default::default(),
        }
    }
}

impl<T: Eq + Hash + Clone> Arena<T> {
    pub fn intern(&mut self, t: T) -> u32 {
        if let Some(&i) = self.map.get(&t) {
            return i;
        }
        let i = self.items.len() as u32;
        self.items.push(t.clone());
        self.map.insert(t, i);
        i
    }
    pub fn get(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

/// A literal of a dependency formula: "some installed package satisfies pred" or its
/// negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lit {
    pub positive: bool,
    pub pred: PredId,
}

#[derive(Debug, Clone)]
pub enum Formula {
    Lit(Lit),
    And(Vec<Formula>),
    Or(Vec<Formula>),
}

/// Clauses of a CNF beyond this are refused (a pathological rich dependency).
const MAX_CLAUSES: usize = 256;

#[derive(Default)]
pub struct Interned {
    pub names: Arena<NameKey>,
    pub vsets: Arena<VersionSet>,
    pub unions: Arena<Vec<VersionSetId>>,
    pub conds: Arena<Condition>,
    pub preds: Arena<PkgPred>,
    pub strings: Arena<String>,
    /// Candidates of each name (package names only), best first.
    pub name_pkgs: Vec<Vec<PkgId>>,
    /// The dependency text each requirement came from, for error messages.
    pub origin: HashMap<(PkgId, Requirement), String>,
}

pub struct Provider<'a> {
    pub ix: &'a Index<'a>,
    pub req: &'a Request,
    pub st: RefCell<Interned>,
    /// resolvo name of every allowed package (`None` for hidden ones).
    pub pkg_name: Vec<Option<NameId>>,
    pub install_only: Vec<bool>,
    /// Rich dependencies that failed to parse, with the package they belong to.
    pub rich_errors: RefCell<Vec<(PkgId, RichError)>>,
    /// Allowed packages with Supplements, in rank order.
    supplementing: Vec<PkgId>,
    /// The installed system, when solving on top of one (see [`super::system`]).
    pub system: Option<SystemInfo>,
}

/// What the provider must know of an installed system.
#[derive(Debug, Clone, Default)]
pub struct SystemInfo {
    /// Installed packages, by package id.
    pub installed: Vec<bool>,
    /// Keep the packages of an extra (multilib) arch at the version of the target-arch
    /// package of the same name (libsolv's lock-step with `implicitobsoleteusescolors`).
    pub lockstep: bool,
}

pub fn pkg_of(s: SolvableId) -> PkgId {
    s.to_index()
}

pub fn solvable(p: PkgId) -> SolvableId {
    SolvableId::from_index(p)
}

impl<'a> Provider<'a> {
    pub fn new(ix: &'a Index<'a>, req: &'a Request) -> Self {
        let mut st = Interned::default();
        let n = ix.pkgs.len();
        let mut pkg_name = vec![None; n];
        // Intern names in sorted order so name ids do not depend on the input order.
        let mut allowed: Vec<PkgId> = (0..n).filter(|&i| ix.is_allowed(i)).collect();
        allowed.sort_unstable_by_key(|&i| ix.rank[i]);
        for &i in &allowed {
            let key = NameKey::Package(ix.pkgs[i].name.clone(), ix.arch_class[i]);
            let id = st.names.intern(key) as usize;
            if st.name_pkgs.len() <= id {
                st.name_pkgs.resize(id + 1, Vec::new());
            }
            st.name_pkgs[id].push(i);
            pkg_name[i] = Some(NameId::from_index(id));
        }
        let install_only = ix
            .pkgs
            .iter()
            .map(|p| {
                req.install_only
                    .iter()
                    .any(|io| *io == p.name || p.provides.iter().any(|pr| pr.name == *io))
            })
            .collect();
        let supplementing = allowed
            .iter()
            .copied()
            .filter(|&i| !ix.pkgs[i].supplements.is_empty())
            .collect();
        Provider {
            ix,
            req,
            st: RefCell::new(st),
            pkg_name,
            install_only,
            rich_errors: RefCell::new(Vec::new()),
            supplementing,
            system: None,
        }
    }

    /// Take package `id` out of the candidates (an available copy of an installed package:
    /// the installed one stands for it).
    pub fn hide(&mut self, id: PkgId) {
        if let Some(n) = self.pkg_name[id].take() {
            self.st.borrow_mut().name_pkgs[n.to_index()].retain(|&p| p != id);
        }
        self.supplementing.retain(|&p| p != id);
    }

    fn is_installed(&self, id: PkgId) -> bool {
        self.system
            .as_ref()
            .is_some_and(|s| s.installed.get(id).copied().unwrap_or(false))
    }

    /// Allowed packages with Supplements, best first within each name.
    pub fn supplementing(&self) -> &[PkgId] {
        &self.supplementing
    }

    fn pkg(&self, id: PkgId) -> &Package {
        &self.ix.pkgs[id]
    }

    pub fn intern_pred(&self, p: PkgPred) -> PredId {
        self.st.borrow_mut().preds.intern(p)
    }

    pub fn pred(&self, id: PredId) -> PkgPred {
        self.st.borrow().preds.get(id).clone()
    }

    pub fn vset(&self, name: NameId, pred: Pred) -> VersionSetId {
        VersionSetId(self.st.borrow_mut().vsets.intern(VersionSet { name, pred }))
    }

    pub fn union(&self, sets: Vec<VersionSetId>) -> Requirement {
        if sets.len() == 1 {
            return Requirement::Single(sets[0]);
        }
        Requirement::Union(VersionSetUnionId(self.st.borrow_mut().unions.intern(sets)))
    }

    fn cond(&self, c: Condition) -> ConditionId {
        ConditionId::from_index(self.st.borrow_mut().conds.intern(c) as usize)
    }

    pub fn missing(&self, what: String) -> VersionSetId {
        let name =
            NameId::from_index(self.st.borrow_mut().names.intern(NameKey::Missing(what)) as usize);
        self.vset(name, Pred::Nothing)
    }

    /// Does package `id` satisfy the predicate?
    pub fn eval(&self, id: PkgId, p: &PkgPred) -> bool {
        match p {
            PkgPred::Dep(d) => self.ix.satisfies(id, d),
            PkgPred::All(v) => v.iter().all(|q| self.eval(id, q)),
            PkgPred::Any(v) => v.iter().any(|q| self.eval(id, q)),
            PkgPred::Not(q) => !self.eval(id, q),
        }
    }

    /// The allowed packages satisfying the predicate, best first.
    pub fn pred_providers(&self, p: &PkgPred) -> Vec<PkgId> {
        match p {
            PkgPred::Dep(d) => self.ix.providers(d),
            PkgPred::All(v) => {
                let Some(first) = v.iter().find(|q| !matches!(q, PkgPred::Not(_))) else {
                    return Vec::new();
                };
                self.pred_providers(first)
                    .into_iter()
                    .filter(|&id| self.eval(id, p))
                    .collect()
            }
            PkgPred::Any(v) => {
                let mut out: Vec<PkgId> = v.iter().flat_map(|q| self.pred_providers(q)).collect();
                out.sort_unstable_by_key(|&id| self.ix.rank[id]);
                out.dedup();
                out
            }
            PkgPred::Not(_) => Vec::new(),
        }
    }

    /// The version sets (one per provider name, in policy order) of a predicate.
    pub fn pred_vsets(&self, pred: PredId, requirer: Option<PkgId>) -> Vec<VersionSetId> {
        let p = self.pred(pred);
        let providers = self.pred_providers(&p);
        let names = policy::order_provider_names(self, requirer, &providers);
        names
            .into_iter()
            .map(|n| self.vset(n, Pred::Match(pred)))
            .collect()
    }

    /// Names (resolvo ids) of the allowed packages whose name is `name`, all arch classes.
    pub fn names_called(&self, name: &str) -> Vec<NameId> {
        let mut out: Vec<NameId> = Vec::new();
        for &id in self.ix.named(name) {
            if let Some(n) = self.pkg_name[id]
                && !out.contains(&n)
            {
                out.push(n);
            }
        }
        out.sort_unstable_by_key(|n| n.to_index());
        out
    }

    fn formula(&self, r: &Rich) -> Result<Formula, String> {
        Ok(match r {
            Rich::Atom(d) => self.lit(PkgPred::Dep(d.clone())),
            Rich::And(v) => Formula::And(
                v.iter()
                    .map(|x| self.formula(x))
                    .collect::<Result<_, _>>()?,
            ),
            Rich::Or(v) => Formula::Or(
                v.iter()
                    .map(|x| self.formula(x))
                    .collect::<Result<_, _>>()?,
            ),
            Rich::With(_) | Rich::Without(..) => self.lit(pkg_pred(r)?),
            Rich::If {
                then,
                cond,
                otherwise,
            } => {
                let (a, b) = (self.formula(then)?, self.formula(cond)?);
                let mut parts = vec![Formula::Or(vec![negate(&b), a])];
                if let Some(c) = otherwise {
                    // `else` needs `not b`, which resolvo cannot require: `b or c` is the
                    // same formula, with `c` tried first.
                    parts.push(Formula::Or(vec![self.formula(c)?, b]));
                }
                Formula::And(parts)
            }
            Rich::Unless {
                then,
                cond,
                otherwise,
            } => {
                let (a, b) = (self.formula(then)?, self.formula(cond)?);
                let mut parts = vec![Formula::Or(vec![a, b.clone()])];
                if let Some(c) = otherwise {
                    parts.push(Formula::Or(vec![negate(&b), self.formula(c)?]));
                }
                Formula::And(parts)
            }
        })
    }

    fn lit(&self, p: PkgPred) -> Formula {
        Formula::Lit(Lit {
            positive: true,
            pred: self.intern_pred(p),
        })
    }

    /// The formula of one dependency entry (an atom or a rich dependency).
    pub fn dep_formula(&self, owner: PkgId, d: &Dependency) -> Option<Formula> {
        if !d.is_rich() {
            return Some(self.lit(PkgPred::Dep(d.clone())));
        }
        let parsed = parse_rich(&d.name)
            .map_err(|e| e.to_string())
            .and_then(|r| self.formula(&r));
        match parsed {
            Ok(f) => Some(f),
            Err(message) => {
                let err = RichError {
                    text: d.name.clone(),
                    offset: 0,
                    message,
                };
                self.rich_errors.borrow_mut().push((owner, err));
                None
            }
        }
    }

    /// Turn the clauses of a formula into requirements and constrains of `owner`.
    fn emit(
        &self,
        owner: Option<PkgId>,
        text: &str,
        f: &Formula,
        reqs: &mut Vec<ConditionalRequirement>,
        cons: &mut Vec<VersionSetId>,
    ) -> Result<(), String> {
        let clauses = cnf(f)?;
        for clause in clauses {
            let mut union: Vec<VersionSetId> = Vec::new();
            let mut negatives: Vec<PredId> = Vec::new();
            for lit in &clause {
                if lit.positive {
                    for vs in self.pred_vsets(lit.pred, owner) {
                        if !union.contains(&vs) {
                            union.push(vs);
                        }
                    }
                } else {
                    negatives.push(lit.pred);
                }
            }
            let has_positive = clause.iter().any(|l| l.positive);
            // A negative literal nothing provides is always true: the clause holds.
            let mut cond_parts: Vec<ConditionId> = Vec::new();
            let mut always = false;
            for &n in &negatives {
                let vsets = self.pred_vsets(n, owner);
                if vsets.is_empty() {
                    always = true;
                    break;
                }
                let mut c = self.cond(Condition::Requirement(vsets[0]));
                for &vs in &vsets[1..] {
                    let other = self.cond(Condition::Requirement(vs));
                    c = self.cond(Condition::Binary(LogicalOperator::Or, c, other));
                }
                cond_parts.push(c);
            }
            if always {
                continue;
            }
            if !has_positive && negatives.len() == 1 {
                // `not X`: no package satisfying X may be installed (except the owner).
                let n = negatives[0];
                let p = self.pred(n);
                let providers = self.pred_providers(&p);
                let names = policy::order_provider_names(self, owner, &providers);
                for name in names {
                    let pred = match owner {
                        Some(o) => Pred::NotMatchOrSelf(n, o),
                        None => Pred::NotMatchOrSelf(n, usize::MAX),
                    };
                    let vs = self.vset(name, pred);
                    if !cons.contains(&vs) {
                        cons.push(vs);
                    }
                }
                continue;
            }
            if union.is_empty() {
                union.push(self.missing(text.to_string()));
            }
            let requirement = self.union(union);
            let condition = cond_parts
                .into_iter()
                .reduce(|a, b| self.cond(Condition::Binary(LogicalOperator::And, a, b)));
            let cr = ConditionalRequirement {
                condition,
                requirement,
            };
            if !reqs.contains(&cr) {
                reqs.push(cr);
                if let Some(o) = owner {
                    self.st
                        .borrow_mut()
                        .origin
                        .entry((o, requirement))
                        .or_insert_with(|| text.to_string());
                }
            }
        }
        Ok(())
    }

    /// Requirements and constrains of package `id`.
    pub fn dependencies_of(&self, id: PkgId) -> Result<KnownDependencies, String> {
        let p = self.pkg(id);
        let mut reqs = Vec::new();
        let mut cons = Vec::new();
        for d in &p.requires {
            // rpmlib() features are provided by rpm itself, not by packages.
            if d.name.starts_with("rpmlib(") {
                continue;
            }
            let Some(f) = self.dep_formula(id, d) else {
                return Err(format!("cannot parse the dependency `{d}`"));
            };
            self.emit(Some(id), &d.to_string(), &f, &mut reqs, &mut cons)?;
        }
        for d in &p.conflicts {
            let Some(f) = self.dep_formula(id, d) else {
                return Err(format!("cannot parse the conflict `{d}`"));
            };
            self.emit(Some(id), &d.to_string(), &negate(&f), &mut reqs, &mut cons)?;
        }
        for (k, d) in p.obsoletes.iter().enumerate() {
            // Obsoletes match package names (dnf's default), not provides.
            for name in self.names_called(&d.name) {
                let vs = self.vset(name, Pred::NotObsoletedBy(id, k as u32));
                if !cons.contains(&vs) {
                    cons.push(vs);
                }
            }
        }
        if self.system.is_some() {
            self.system_dependencies(id, &mut reqs, &mut cons);
        }
        Ok(KnownDependencies {
            requirements: reqs,
            constrains: cons,
        })
    }

    /// On an installed system: a package replaces the installed packages of its name and
    /// arch color (rpm's implicit obsoletes; a resolvo name already holds one package per
    /// arch class, this covers the other classes), and with lock-step an extra-arch package
    /// needs the target-arch package of the same name and version.
    fn system_dependencies(
        &self,
        id: PkgId,
        reqs: &mut Vec<ConditionalRequirement>,
        cons: &mut Vec<VersionSetId>,
    ) {
        let Some(sys) = &self.system else { return };
        let p = self.pkg(id);
        let own = self.pkg_name[id];
        if !self.is_installed(id) {
            for &j in self.ix.named(&p.name) {
                if j == id || !self.is_installed(j) || !color_match(&p.arch, &self.pkg(j).arch) {
                    continue;
                }
                if let Some(n) = self.pkg_name[j]
                    && Some(n) != own
                {
                    let vs = self.vset(n, Pred::NoneOf(vec![j]));
                    if !cons.contains(&vs) {
                        cons.push(vs);
                    }
                }
            }
        }
        if sys.lockstep && self.ix.arch_class[id] != 0 && p.arch != "noarch" {
            let base: Vec<PkgId> = self
                .ix
                .named(&p.name)
                .iter()
                .copied()
                .filter(|&j| self.ix.arch_class[j] == 0 && self.pkg(j).arch != "noarch")
                .collect();
            if !base.is_empty() {
                let same: Vec<PkgId> = base
                    .into_iter()
                    .filter(|&j| self.pkg(j).evr == p.evr && self.pkg_name[j].is_some())
                    .collect();
                let vs = match same.first().and_then(|&j| self.pkg_name[j]) {
                    Some(n) => self.vset(n, Pred::OneOf(same)),
                    None => self.missing(format!(
                        "{} = {} ({})",
                        p.name,
                        p.evr,
                        self.ix.target_arch()
                    )),
                };
                reqs.push(ConditionalRequirement {
                    condition: None,
                    requirement: Requirement::Single(vs),
                });
            }
        }
    }

    /// Requirements for a root-level formula (a request).
    pub fn root_requirements(
        &self,
        text: &str,
        f: &Formula,
    ) -> Result<(Vec<ConditionalRequirement>, Vec<VersionSetId>), String> {
        let (mut reqs, mut cons) = (Vec::new(), Vec::new());
        self.emit(None, text, f, &mut reqs, &mut cons)?;
        Ok((reqs, cons))
    }

    pub fn spec_formula(&self, pred: PkgPred) -> Formula {
        self.lit(pred)
    }

    fn matches(&self, id: PkgId, vs: &VersionSet) -> bool {
        match &vs.pred {
            Pred::Match(p) => self.eval(id, &self.pred(*p)),
            Pred::NotMatchOrSelf(p, own) => id == *own || !self.eval(id, &self.pred(*p)),
            Pred::NotObsoletedBy(by, k) => {
                if id == *by {
                    return true;
                }
                let d = &self.pkg(*by).obsoletes[*k as usize];
                let cand = self.pkg(id);
                !(cand.name == d.name
                    && evr_in_range(&cand.evr, Sense::from_op(d.op), d.evr.as_ref()))
            }
            Pred::OneOf(v) => v.contains(&id),
            Pred::NoneOf(v) => !v.contains(&id),
            Pred::Nothing => false,
        }
    }

    pub fn describe_vset(&self, vs: VersionSetId) -> String {
        let st = self.st.borrow();
        let v = st.vsets.get(vs.0);
        match &v.pred {
            Pred::Match(p) => st.preds.get(*p).to_string(),
            Pred::NotMatchOrSelf(p, _) => format!("not {}", st.preds.get(*p)),
            Pred::NotObsoletedBy(by, k) => {
                format!("not obsoleted by {}", self.pkg(*by).obsoletes[*k as usize])
            }
            Pred::OneOf(ids) => ids
                .iter()
                .map(|&i| self.pkg(i).nevra())
                .collect::<Vec<_>>()
                .join(" | "),
            Pred::NoneOf(ids) => format!(
                "not {}",
                ids.iter()
                    .map(|&i| self.pkg(i).nevra())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            Pred::Nothing => String::new(),
        }
    }

    pub fn name_text(&self, n: NameId) -> String {
        match self.st.borrow().names.get(n.to_index() as u32) {
            NameKey::Package(name, _) => name.clone(),
            NameKey::Missing(what) => what.clone(),
        }
    }

    pub fn vset_name(&self, vs: VersionSetId) -> NameId {
        self.st.borrow().vsets.get(vs.0).name
    }

    pub fn vset_pred(&self, vs: VersionSetId) -> Pred {
        self.st.borrow().vsets.get(vs.0).pred.clone()
    }

    pub fn union_members(&self, r: Requirement) -> Vec<VersionSetId> {
        match r {
            Requirement::Single(v) => vec![v],
            Requirement::Union(u) => self.st.borrow().unions.get(u.0).clone(),
        }
    }
}

/// rpm's arch colors: 32-bit and 64-bit packages of one name may be installed side by
/// side (multilib); `noarch` goes with both.
pub fn color_match(a: &str, b: &str) -> bool {
    fn color(a: &str) -> u8 {
        match a {
            "noarch" => 0,
            "i386" | "i486" | "i586" | "i686" | "athlon" | "armv7hl" | "ppc" | "s390" => 1,
            _ => 2,
        }
    }
    let (x, y) = (color(a), color(b));
    x == 0 || y == 0 || x == y
}

/// The package predicate of a `with`/`without` expression.
fn pkg_pred(r: &Rich) -> Result<PkgPred, String> {
    Ok(match r {
        Rich::Atom(d) => PkgPred::Dep(d.clone()),
        Rich::With(v) => PkgPred::All(v.iter().map(pkg_pred).collect::<Result<_, _>>()?),
        Rich::Without(a, b) => {
            PkgPred::All(vec![pkg_pred(a)?, PkgPred::Not(Box::new(pkg_pred(b)?))])
        }
        Rich::Or(v) => PkgPred::Any(v.iter().map(pkg_pred).collect::<Result<_, _>>()?),
        other => {
            return Err(format!(
                "`{other}` cannot be an operand of `with`/`without`"
            ));
        }
    })
}

fn negate(f: &Formula) -> Formula {
    match f {
        Formula::Lit(l) => Formula::Lit(Lit {
            positive: !l.positive,
            pred: l.pred,
        }),
        Formula::And(v) => Formula::Or(v.iter().map(negate).collect()),
        Formula::Or(v) => Formula::And(v.iter().map(negate).collect()),
    }
}

/// Conjunctive normal form by distribution (rich dependencies are small).
fn cnf(f: &Formula) -> Result<Vec<Vec<Lit>>, String> {
    Ok(match f {
        Formula::Lit(l) => vec![vec![*l]],
        Formula::And(v) => {
            let mut out = Vec::new();
            for x in v {
                out.extend(cnf(x)?);
            }
            if out.len() > MAX_CLAUSES {
                return Err("the rich dependency is too complex".into());
            }
            out
        }
        Formula::Or(v) => {
            let mut acc: Vec<Vec<Lit>> = vec![Vec::new()];
            for x in v {
                let c = cnf(x)?;
                let mut next = Vec::new();
                for a in &acc {
                    for b in &c {
                        let mut m = a.clone();
                        for l in b {
                            if !m.contains(l) {
                                m.push(*l);
                            }
                        }
                        next.push(m);
                    }
                }
                if next.len() > MAX_CLAUSES {
                    return Err("the rich dependency is too complex".into());
                }
                acc = next;
            }
            // A clause with X and not X is always true.
            acc.retain(|c| {
                !c.iter().any(|l| {
                    c.contains(&Lit {
                        positive: !l.positive,
                        pred: l.pred,
                    })
                })
            });
            acc
        }
    })
}

impl Interner for Provider<'_> {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, solvable: SolvableId) -> impl Display + '_ {
        self.pkg(pkg_of(solvable)).nevra()
    }

    fn display_name(&self, name: NameId) -> impl Display + '_ {
        self.name_text(name)
    }

    fn display_version_set(&self, version_set: VersionSetId) -> impl Display + '_ {
        self.describe_vset(version_set)
    }

    fn display_string(&self, string_id: StringId) -> impl Display + '_ {
        self.st.borrow().strings.get(string_id.0).clone()
    }

    fn version_set_name(&self, version_set: VersionSetId) -> NameId {
        self.vset_name(version_set)
    }

    fn solvable_name(&self, solvable: SolvableId) -> NameId {
        self.pkg_name[pkg_of(solvable)].unwrap_or_else(|| NameId::from_index(0))
    }

    fn version_sets_in_union(&self, u: VersionSetUnionId) -> impl Iterator<Item = VersionSetId> {
        self.st.borrow().unions.get(u.0).clone().into_iter()
    }

    fn resolve_condition(&self, condition: ConditionId) -> Condition {
        self.st
            .borrow()
            .conds
            .get(condition.to_index() as u32)
            .clone()
    }
}

impl DependencyProvider for Provider<'_> {
    async fn filter_candidates(
        &self,
        candidates: &[SolvableId],
        version_set: VersionSetId,
        inverse: bool,
    ) -> Vec<SolvableId> {
        let vs = self.st.borrow().vsets.get(version_set.0).clone();
        candidates
            .iter()
            .copied()
            .filter(|&s| self.matches(pkg_of(s), &vs) != inverse)
            .collect()
    }

    async fn get_candidates(&self, name: NameId) -> Option<Candidates<SolvableId>> {
        let st = self.st.borrow();
        let pkgs = st
            .name_pkgs
            .get(name.to_index())
            .cloned()
            .unwrap_or_default();
        let allow_multiple =
            self.req.install_only_limit > 1 && pkgs.iter().any(|&p| self.install_only[p]);
        Some(Candidates {
            candidates: pkgs.into_iter().map(solvable).collect(),
            allow_multiple,
            ..Candidates::default()
        })
    }

    async fn sort_candidates(&self, _solver: &SolverCache<Self>, solvables: &mut [SolvableId]) {
        solvables.sort_unstable_by_key(|&s| self.ix.rank[pkg_of(s)]);
    }

    async fn get_dependencies(&self, solvable: SolvableId) -> Dependencies {
        match self.dependencies_of(pkg_of(solvable)) {
            Ok(deps) => Dependencies::Known(deps),
            Err(msg) => Dependencies::Unknown(StringId(self.st.borrow_mut().strings.intern(msg))),
        }
    }
}
