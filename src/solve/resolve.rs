//! One resolution, end to end: index the records, turn the request specs into root
//! requirements, run resolvo, add weak dependencies in further rounds when asked, and
//! explain every chosen package (the chain `diskless why` prints).

use super::error::problems;
use super::index::Index;
use super::provider::{Formula, Pred, Provider, pkg_of, solvable};
use super::spec::{SpecMatch, resolve_spec};
use super::{Reason, Request, Solution, SolveError};
use crate::package::{Dependency, FileProviders, Package, PkgId, Rich, evr_cmp, parse_rich};
use resolvo::{ConditionalRequirement, NameId, Problem, Solver, UnsolvableOrCancelled};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Rounds of weak-dependency additions before giving up on reaching a fixed point.
pub(super) const MAX_WEAK_ROUNDS: usize = 64;

pub fn run(
    packages: &[Package],
    files: &dyn FileProviders,
    request: &Request,
) -> Result<Solution, SolveError> {
    run_on(&Index::new(packages, files, request, &[]), request)
}

/// [`run`] on an index already built for `request`'s arch, excludes and repository
/// priorities and costs (several requests that agree on those share one).
pub fn run_on(first: &Index<'_>, request: &Request) -> Result<Solution, SolveError> {
    let (packages, files) = (first.pkgs, first.files_lazy());
    let rebuilt;
    let mut ix = first;
    let mut forced = Vec::new();
    for spec in &request.install {
        if let Err(e) = resolve_spec(ix, spec) {
            let f = super::spec::priority_hidden_exact(ix, spec);
            if f.is_empty() {
                return Err(e);
            }
            forced.extend(f);
        }
    }
    if !forced.is_empty() {
        forced.sort_unstable();
        rebuilt = Index::new(packages, files, request, &forced);
        ix = &rebuilt;
    }
    let prov = Provider::new(ix, request);

    let mut reqs: Vec<ConditionalRequirement> = Vec::new();
    let mut cons = Vec::new();
    // What each root requirement stands for, for the reasons.
    let mut roots: Vec<(String, RootMatch)> = Vec::new();
    for spec in &request.install {
        match resolve_spec(ix, spec)? {
            SpecMatch::Packages(groups) => {
                for mut group in groups {
                    // dnf installs what obsoletes a requested package instead (with
                    // `obsoletes=True`, its default): offer the obsoleters first.
                    let mut obsoleters: Vec<PkgId> = Vec::new();
                    if let Some(&best) = group.first() {
                        obsoleters = ix.obsoleted_by(best);
                    }
                    obsoleters.retain(|o| !group.contains(o));
                    let offered: Vec<PkgId> =
                        obsoleters.iter().chain(group.iter()).copied().collect();
                    group = offered;
                    // One version set per arch class, the target arch's first.
                    let mut by_name: Vec<(NameId, Vec<PkgId>)> = Vec::new();
                    for &id in &group {
                        let Some(n) = prov.pkg_name[id] else { continue };
                        match by_name.iter_mut().find(|(m, _)| *m == n) {
                            Some((_, v)) => v.push(id),
                            None => by_name.push((n, vec![id])),
                        }
                    }
                    by_name
                        .sort_by_key(|(_, v)| (!obsoleters.contains(&v[0]), ix.arch_class[v[0]]));
                    let sets = by_name
                        .into_iter()
                        .map(|(n, v)| prov.vset(n, Pred::OneOf(v)))
                        .collect();
                    reqs.push(prov.union(sets).into());
                    roots.push((spec.clone(), RootMatch::Packages(group)));
                }
            }
            SpecMatch::Provide(dep) => {
                let f = prov.spec_formula(super::provider::PkgPred::Dep(dep.clone()));
                let (r, c) = prov
                    .root_requirements(spec, &f)
                    .map_err(|e| SolveError::Unsolvable { problems: vec![e] })?;
                reqs.extend(r);
                cons.extend(c);
                roots.push((spec.clone(), RootMatch::Provide(dep)));
            }
        }
    }

    let mut solver = Solver::new(prov);
    let base = |soft: Vec<resolvo::SolvableId>| {
        Problem::new()
            .requirements(reqs.clone())
            .constraints(cons.clone())
            .soft_requirements(soft)
    };
    let mut chosen = match solver.solve(base(Vec::new())) {
        Ok(s) => sorted(ix, s.into_iter().map(pkg_of).collect()),
        Err(UnsolvableOrCancelled::Unsolvable(c)) => {
            return Err(SolveError::Unsolvable {
                problems: problems(&c, &solver),
            });
        }
        Err(UnsolvableOrCancelled::Cancelled(_)) => {
            return Err(SolveError::Unsolvable {
                problems: vec!["the solver was cancelled".into()],
            });
        }
    };

    let mut weak: BTreeMap<PkgId, Reason> = BTreeMap::new();
    if request.weak_deps {
        let mut soft: Vec<PkgId> = Vec::new();
        let mut tried: BTreeSet<PkgId> = BTreeSet::new();
        for _ in 0..MAX_WEAK_ROUNDS {
            let new = weak_candidates(solver.provider(), &chosen, &mut tried, &mut weak);
            if new.is_empty() {
                break;
            }
            soft.extend(new);
            match solver.solve(base(soft.iter().map(|&p| solvable(p)).collect())) {
                Ok(s) => chosen = sorted(ix, s.into_iter().map(pkg_of).collect()),
                Err(_) => break,
            }
        }
        weak.retain(|id, _| chosen.binary_search_by(|c| ix.cmp_rank(*c, *id)).is_ok());
    }

    let reasons = reasons(solver.provider(), &chosen, &roots, &weak);
    let mut packages_out = chosen;
    packages_out.sort_by(|&a, &b| {
        let (pa, pb) = (&packages[a], &packages[b]);
        pa.name
            .cmp(&pb.name)
            .then_with(|| pa.arch.cmp(&pb.arch))
            .then_with(|| evr_cmp(&pa.evr, &pb.evr))
            .then_with(|| ix.cmp_rank(a, b))
    });
    Ok(Solution {
        packages: packages_out,
        reasons,
    })
}

pub(super) enum RootMatch {
    Packages(Vec<PkgId>),
    Provide(Dependency),
}

/// Sorted by rank (binary-searchable with `Index::cmp_rank`).
pub(super) fn sorted(ix: &Index<'_>, mut v: Vec<PkgId>) -> Vec<PkgId> {
    v.sort_unstable_by_key(|&i| ix.rank[i]);
    v.dedup();
    v
}

fn contains(ix: &Index<'_>, chosen: &[PkgId], id: PkgId) -> bool {
    chosen.binary_search_by(|c| ix.cmp_rank(*c, id)).is_ok()
}

/// Is the formula true for the chosen set?
fn holds(p: &Provider<'_>, chosen: &[PkgId], f: &Formula) -> bool {
    match f {
        Formula::Lit(l) => {
            let pred = p.pred(l.pred);
            let any = p
                .pred_providers(&pred)
                .iter()
                .any(|&id| contains(p.ix, chosen, id));
            any == l.positive
        }
        Formula::And(v) => v.iter().all(|x| holds(p, chosen, x)),
        Formula::Or(v) => v.iter().any(|x| holds(p, chosen, x)),
    }
}

/// The best package to satisfy the first satisfiable positive atom of `f` (not chosen yet).
fn best_for(
    p: &Provider<'_>,
    f: &Formula,
    requirer: PkgId,
    tried: &BTreeSet<PkgId>,
) -> Option<PkgId> {
    match f {
        Formula::Lit(l) if l.positive => {
            let pred = p.pred(l.pred);
            let providers = p.pred_providers(&pred);
            let names = super::policy::order_provider_names(p, Some(requirer), &providers);
            // The best untried provider: one that failed as a soft requirement before
            // (a conflict, say) makes room for the next.
            names.iter().find_map(|&n| {
                providers
                    .iter()
                    .copied()
                    .find(|&id| p.pkg_name[id] == Some(n) && !tried.contains(&id))
            })
        }
        Formula::Lit(_) => None,
        Formula::And(v) | Formula::Or(v) => v.iter().find_map(|x| best_for(p, x, requirer, tried)),
    }
}

/// Packages that Recommends of chosen packages ask for, and packages whose Supplements
/// hold for the chosen set, not tried before; in a fixed order.
pub(super) fn weak_candidates(
    p: &Provider<'_>,
    chosen: &[PkgId],
    tried: &mut BTreeSet<PkgId>,
    reasons: &mut BTreeMap<PkgId, Reason>,
) -> Vec<PkgId> {
    let ix = p.ix;
    let mut new = Vec::new();
    for &c in chosen {
        for d in &ix.pkgs[c].recommends {
            let Some(f) = p.dep_formula(c, d) else {
                continue;
            };
            if holds(p, chosen, &f) {
                continue;
            }
            if let Some(best) = best_for(p, &f, c, tried)
                && tried.insert(best)
            {
                new.push(best);
                reasons.entry(best).or_insert(Reason::Recommended {
                    by: c,
                    dep: d.to_string(),
                });
            }
        }
    }
    // Supplements: the best version of a name whose supplements hold (an older version may
    // supplement what a newer one does not, e.g. an exact version of its base package).
    for &q in p.supplementing() {
        let name = ix.pkgs[q].name.as_str();
        if ix
            .named(name)
            .iter()
            .any(|&o| contains(ix, chosen, o) || tried.contains(&o))
        {
            continue;
        }
        for d in &ix.pkgs[q].supplements {
            let Some(f) = p.dep_formula(q, d) else {
                continue;
            };
            if holds(p, chosen, &f) {
                tried.insert(q);
                new.push(q);
                let by = chosen
                    .iter()
                    .copied()
                    .find(|&c| supplements_hit(p, c, &f))
                    .unwrap_or(chosen[0]);
                reasons.entry(q).or_insert(Reason::Recommended {
                    by,
                    dep: format!("supplements {d}"),
                });
                break;
            }
        }
    }
    new
}

fn supplements_hit(p: &Provider<'_>, c: PkgId, f: &Formula) -> bool {
    match f {
        Formula::Lit(l) => l.positive && p.eval(c, &p.pred(l.pred)),
        Formula::And(v) | Formula::Or(v) => v.iter().any(|x| supplements_hit(p, c, x)),
    }
}

/// Why each chosen package is in: a breadth-first walk from the requested packages along
/// Requires (in the order packages list them), then weak reasons.
pub(super) fn reasons(
    p: &Provider<'_>,
    chosen: &[PkgId],
    roots: &[(String, RootMatch)],
    weak: &BTreeMap<PkgId, Reason>,
) -> BTreeMap<PkgId, Reason> {
    let ix = p.ix;
    let mut out: BTreeMap<PkgId, Reason> = BTreeMap::new();
    let mut queue: VecDeque<PkgId> = VecDeque::new();
    for (spec, m) in roots {
        let hits: Vec<PkgId> = match m {
            RootMatch::Packages(ids) => ids
                .iter()
                .copied()
                .filter(|&i| contains(ix, chosen, i))
                .collect(),
            RootMatch::Provide(d) => ix
                .providers(d)
                .into_iter()
                .filter(|&i| contains(ix, chosen, i))
                .collect(),
        };
        for h in hits {
            if let std::collections::btree_map::Entry::Vacant(e) = out.entry(h) {
                e.insert(Reason::Requested(spec.clone()));
                queue.push_back(h);
            }
        }
    }
    let mut weak_pending: Vec<(PkgId, Reason)> =
        weak.iter().map(|(k, v)| (*k, v.clone())).collect();
    loop {
        while let Some(c) = queue.pop_front() {
            for d in &ix.pkgs[c].requires {
                if d.name.starts_with("rpmlib(") {
                    continue;
                }
                for h in satisfiers(p, chosen, c, d) {
                    if let std::collections::btree_map::Entry::Vacant(e) = out.entry(h) {
                        e.insert(Reason::Required {
                            by: c,
                            dep: d.to_string(),
                        });
                        queue.push_back(h);
                    }
                }
            }
        }
        // Weak additions whose recommender is already explained come next.
        let Some(pos) = weak_pending.iter().position(|(id, r)| {
            !out.contains_key(id)
                && match r {
                    Reason::Recommended { by, .. } => out.contains_key(by),
                    _ => true,
                }
        }) else {
            break;
        };
        let (id, r) = weak_pending.remove(pos);
        out.insert(id, r);
        queue.push_back(id);
    }
    // Anything left (pulled in through a condition, say) is attributed to the first
    // chosen package that depends on it in any way.
    for &c in chosen {
        if out.contains_key(&c) {
            continue;
        }
        let by = chosen.iter().copied().find(|&o| {
            o != c
                && ix.pkgs[o]
                    .requires
                    .iter()
                    .any(|d| satisfiers(p, chosen, o, d).contains(&c))
        });
        let r = match by {
            Some(o) => Reason::Required {
                by: o,
                dep: ix.pkgs[c].name.clone(),
            },
            None => Reason::Requested(ix.pkgs[c].name.clone()),
        };
        out.insert(c, r);
    }
    out
}

/// Chosen packages (other than `owner`) that satisfy an atom of `d`.
fn satisfiers(p: &Provider<'_>, chosen: &[PkgId], owner: PkgId, d: &Dependency) -> Vec<PkgId> {
    let mut atoms: Vec<Dependency> = Vec::new();
    if d.is_rich() {
        if let Ok(r) = parse_rich(&d.name) {
            collect_atoms(&r, &mut atoms);
        }
    } else {
        atoms.push(d.clone());
    }
    let mut out = Vec::new();
    for a in &atoms {
        for id in p.ix.providers(a) {
            if id != owner && contains(p.ix, chosen, id) && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

fn collect_atoms(r: &Rich, out: &mut Vec<Dependency>) {
    match r {
        Rich::Atom(d) => out.push(d.clone()),
        Rich::And(v) | Rich::Or(v) | Rich::With(v) => v.iter().for_each(|x| collect_atoms(x, out)),
        Rich::Without(a, _) => collect_atoms(a, out),
        Rich::If {
            then, otherwise, ..
        }
        | Rich::Unless {
            then, otherwise, ..
        } => {
            collect_atoms(then, out);
            if let Some(o) = otherwise {
                collect_atoms(o, out);
            }
        }
    }
}
