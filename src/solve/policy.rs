//! dnf's choice among the providers of one dependency, for an empty install root.
//!
//! dnf leaves this to libsolv's `policy_filter_unwanted` (mode "choose"). Its steps, as
//! libsolv 0.7 documents and implements them, re-expressed here as one sort key because a
//! SAT solver tries alternatives in order instead of pruning them away (a pruned provider
//! goes to the back and stays available when the preferred ones fail):
//! 1. keep the best repository priority;
//! 2. keep the best arch (the target arch or noarch before an extra arch);
//! 3. keep the best version of each name (resolvo tries a name's versions best first, see
//!    [`super::index::Index::rank`]), then drop providers obsoleted by another provider;
//! 4. keep providers the requiring package recommends or that supplement it, then those
//!    it suggests or that enhance it (libsolv looks at every package decided so far; here
//!    the requiring package stands for them, since resolvo's order is fixed per requirement);
//! 5. reorder: a provider that is not the newest version of its name goes back
//!    ("dislike old versions"); providers with a higher version of a common versioned
//!    provide (`Provides: Y = 2` beats `Y = 1`) come first ("sort by common dep"); suggested
//!    ones come first;
//! 6. otherwise, by name in byte order (libsolv sorts by name with `strcmp`).
//!
//! libsolv has no rule preferring a provider named like the capability: `Requires: foo`
//! with packages `bar` (Provides: foo) and `foo` picks `bar`. Request specs are different:
//! `dnf install foo` matches package names before provides (see [`super::spec`]).

use super::provider::Provider;
use crate::package::{
    DepEvr, Dependency, Op, Package, PkgId, Sense, evr_cmp, evr_in_range, provide_satisfies,
    rpmvercmp,
};
use resolvo::{DenseIndex, NameId};
use std::cmp::Ordering;

/// Above this many provider names the pairwise obsoletes check is skipped (it is only a
/// preference, and such capabilities are not package-like).
const MAX_PAIRWISE: usize = 64;

/// The resolvo names of `providers` (sorted by rank), best first, for a dependency of
/// `requirer` (`None` for a request).
pub fn order_provider_names(
    p: &Provider<'_>,
    requirer: Option<PkgId>,
    providers: &[PkgId],
) -> Vec<NameId> {
    let ix = p.ix;
    // The best provider of each resolvo name (providers are in rank order, so the first).
    let mut best: Vec<(NameId, PkgId)> = Vec::new();
    for &id in providers {
        let Some(n) = p.pkg_name[id] else { continue };
        if !best.iter().any(|(g, _)| *g == n) {
            best.push((n, id));
        }
    }
    if best.len() < 2 {
        return best.into_iter().map(|(n, _)| n).collect();
    }
    let pkgs = ix.pkgs;
    let best_prio = best
        .iter()
        .map(|&(_, id)| ix.priority[id])
        .min()
        .unwrap_or(0);
    let best_class = best
        .iter()
        .filter(|&&(_, id)| pkgs[id].arch != "noarch")
        .map(|&(_, id)| ix.arch_class[id])
        .min();
    let obsoleted: Vec<bool> = if best.len() <= MAX_PAIRWISE {
        best.iter()
            .map(|&(_, c)| {
                best.iter().any(|&(_, d)| {
                    d != c && obsoletes(&pkgs[d], &pkgs[c]) && !obsoletes(&pkgs[c], &pkgs[d])
                })
            })
            .collect()
    } else {
        vec![false; best.len()]
    };
    let req = requirer.map(|r| &pkgs[r]);
    let satisfied_by_req =
        |deps: &[Dependency]| req.is_some_and(|r| deps.iter().any(|d| provides_atom(r, d)));
    let recommended: Vec<bool> = best
        .iter()
        .map(|&(_, c)| {
            req.is_some_and(|r| {
                r.recommends
                    .iter()
                    .any(|d| !d.is_rich() && ix.satisfies(c, d))
            }) || satisfied_by_req(&pkgs[c].supplements)
        })
        .collect();
    let suggested: Vec<bool> = best
        .iter()
        .map(|&(_, c)| {
            req.is_some_and(|r| {
                r.suggests
                    .iter()
                    .any(|d| !d.is_rich() && ix.satisfies(c, d))
            }) || satisfied_by_req(&pkgs[c].enhances)
        })
        .collect();
    let old: Vec<bool> = best
        .iter()
        .map(|&(_, c)| {
            let pc = &pkgs[c];
            ix.named(&pc.name).iter().any(|&q| {
                pkgs[q].arch == pc.arch && evr_cmp(&pkgs[q].evr, &pc.evr) == Ordering::Greater
            })
        })
        .collect();
    // Steps 1-4 prune; a pruned provider keeps its place behind the survivors.
    let pruned: Vec<(bool, bool, bool, bool)> = (0..best.len())
        .map(|i| {
            let id = best[i].1;
            let worse_prio = ix.priority[id] != best_prio;
            let worse_arch = pkgs[id].arch != "noarch" && Some(ix.arch_class[id]) != best_class;
            (worse_prio, worse_arch, obsoleted[i], false)
        })
        .collect();
    let survivors: Vec<usize> = (0..best.len())
        .filter(|&i| pruned[i] == (false, false, false, false))
        .collect();
    let any_rec = survivors.iter().any(|&i| recommended[i]);
    let pruned: Vec<(bool, bool, bool, bool)> = pruned
        .into_iter()
        .enumerate()
        .map(|(i, (a, b, c, _))| (a, b, c, any_rec && !recommended[i]))
        .collect();
    let survivors: Vec<usize> = (0..best.len())
        .filter(|&i| pruned[i] == (false, false, false, false))
        .collect();
    let badness = common_dep_badness(&pkgs.iter().collect::<Vec<_>>(), &best, &survivors);

    let mut order: Vec<usize> = (0..best.len()).collect();
    order.sort_by(|&a, &b| {
        pruned[a]
            .cmp(&pruned[b])
            .then_with(|| suggested[b].cmp(&suggested[a]))
            .then_with(|| badness[a].cmp(&badness[b]))
            .then_with(|| old[a].cmp(&old[b]))
            .then_with(|| {
                pkgs[best[a].1]
                    .name
                    .as_bytes()
                    .cmp(pkgs[best[b].1].name.as_bytes())
            })
            .then_with(|| ix.arch_class[best[a].1].cmp(&ix.arch_class[best[b].1]))
            .then_with(|| best[a].0.to_index().cmp(&best[b].0.to_index()))
    });
    order.into_iter().map(|i| best[i].0).collect()
}

/// Does `by` obsolete package `pkg` (by name and version, dnf's default)?
fn obsoletes(by: &Package, pkg: &Package) -> bool {
    by.name != pkg.name
        && by.obsoletes.iter().any(|o| {
            o.name == pkg.name && evr_in_range(&pkg.evr, Sense::from_op(o.op), o.evr.as_ref())
        })
}

/// Does package `r` provide the (non-rich) dependency `d`?
fn provides_atom(r: &Package, d: &Dependency) -> bool {
    !d.is_rich() && r.provides.iter().any(|pr| provide_satisfies(pr, d))
}

/// libsolv's "sort by common dep": among the survivors, versioned provides (`=`, `<=`,
/// `<`, not hash-like) that several providers share are compared; each provider collects
/// one point of badness per step down in that version order. Lower is better.
fn common_dep_badness(
    pkgs: &[&Package],
    best: &[(NameId, PkgId)],
    survivors: &[usize],
) -> Vec<u32> {
    let mut bad = vec![0u32; best.len()];
    if survivors.len() < 2 {
        return bad;
    }
    // (provide name, evr, is `<`, provider index)
    let mut entries: Vec<(&str, &DepEvr, bool, usize)> = Vec::new();
    for &i in survivors {
        for d in &pkgs[best[i].1].provides {
            let (Some(op), Some(evr)) = (d.op, &d.evr) else {
                continue;
            };
            if !matches!(op, Op::Eq | Op::Le | Op::Lt) {
                continue;
            }
            if op == Op::Eq && looks_like_hash(evr) {
                continue;
            }
            entries.push((d.name.as_str(), evr, op == Op::Lt, i));
        }
    }
    let cmp = |a: &(&str, &DepEvr, bool, usize), b: &(&str, &DepEvr, bool, usize)| -> Ordering {
        a.0.cmp(b.0).then_with(|| {
            // Higher version first; at equal versions `<` goes after.
            match evr_match_release_cmp(b.1, a.1) {
                Ordering::Equal => a.2.cmp(&b.2),
                o => o,
            }
        })
    };
    // Sort by a total order (a missing release sorts before any release); the badness
    // steps then compare neighbours with libsolv's release-matching comparison, which is
    // not transitive and so cannot drive a sort.
    entries.sort_by(|a, b| {
        a.0.cmp(b.0)
            .then_with(|| total_evr_cmp(b.1, a.1))
            .then_with(|| a.2.cmp(&b.2))
            .then_with(|| a.3.cmp(&b.3))
    });
    let mut run = 0u32;
    for k in 0..entries.len() {
        if k > 0 && entries[k].0 == entries[k - 1].0 {
            if entries[k].3 != entries[k - 1].3
                && cmp(&entries[k - 1], &entries[k]) == Ordering::Less
            {
                run += 1;
            }
        } else {
            run = 0;
        }
        bad[entries[k].3] += run;
    }
    bad
}

/// A total order on dependency versions: epoch, version, then release with a missing
/// release first.
fn total_evr_cmp(a: &DepEvr, b: &DepEvr) -> Ordering {
    a.epoch
        .unwrap_or(0)
        .cmp(&b.epoch.unwrap_or(0))
        .then_with(|| rpmvercmp(&a.version, &b.version))
        .then_with(|| match (&a.release, &b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
        .then_with(|| a.version.cmp(&b.version))
        .then_with(|| a.release.cmp(&b.release))
}

/// Version comparison where a missing release matches any release (libsolv's
/// `EVRCMP_MATCH_RELEASE`).
fn evr_match_release_cmp(a: &DepEvr, b: &DepEvr) -> Ordering {
    a.epoch
        .unwrap_or(0)
        .cmp(&b.epoch.unwrap_or(0))
        .then_with(|| rpmvercmp(&a.version, &b.version))
        .then_with(|| match (&a.release, &b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            _ => Ordering::Equal,
        })
}

/// libsolv ignores `= <hex string>` provides (build hashes) of 4 characters or more.
fn looks_like_hash(evr: &DepEvr) -> bool {
    let s = evr.to_string();
    s.len() >= 4
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}
