//! Unsolvable problems worded like dnf's, from resolvo's conflict graph:
//! `package bar-1.0-1.x86_64 requires libfoo.so.1()(64bit), but none of the providers can be installed`,
//! `nothing provides libfoo.so.1()(64bit) needed by bar-1.0-1.x86_64`,
//! `package a-1-1.noarch conflicts with b provided by b-1-1.noarch`,
//! `package a-2-1.noarch obsoletes b < 2 provided by b-1-1.noarch`,
//! `cannot install both a-1-1.noarch and a-2-1.noarch`.
//!
//! The chain lines come first, ordered by their distance from the request, then
//! `conflicting requests` when the request is involved (as dnf prints it), then the
//! causes in byte order: the text does not depend on the order resolvo found them in.

use super::provider::{Pred, Provider, pkg_of};
use resolvo::conflict::{Conflict, ConflictCause, ConflictEdge, ConflictNode};
use resolvo::{Requirement, Solver};
use std::collections::{BTreeSet, VecDeque};

pub fn problems(conflict: &Conflict, solver: &Solver<Provider<'_>>) -> Vec<String> {
    let p = solver.provider();
    let graph = conflict.graph(solver);
    let g = &graph.graph;
    let nodes = g.raw_nodes();
    let edges = g.raw_edges();
    let nevra = |n: usize| -> Option<String> {
        match nodes[n].weight {
            ConflictNode::Solvable(s) => Some(p.ix.pkgs[pkg_of(s)].nevra()),
            _ => None,
        }
    };
    let dep_text = |from: usize, req: Requirement| -> String {
        if let ConflictNode::Solvable(s) = nodes[from].weight
            && let Some(t) = p.st.borrow().origin.get(&(pkg_of(s), req))
        {
            return t.clone();
        }
        let members = p.union_members(req);
        members
            .iter()
            .map(|&vs| match p.vset_pred(vs) {
                Pred::Nothing => p.name_text(p.vset_name(vs)),
                _ => p.describe_vset(vs),
            })
            .collect::<Vec<_>>()
            .join(" or ")
    };

    // Distance of each node from the root, for the order of the chain lines.
    let mut dist = vec![usize::MAX; nodes.len()];
    let root = graph.root_node.index();
    dist[root] = 0;
    let mut queue = VecDeque::from([root]);
    while let Some(n) = queue.pop_front() {
        for e in edges.iter().filter(|e| e.source().index() == n) {
            let t = e.target().index();
            if dist[t] == usize::MAX {
                dist[t] = dist[n] + 1;
                queue.push_back(t);
            }
        }
    }

    let mut chain: BTreeSet<(usize, String)> = BTreeSet::new();
    let mut causes: BTreeSet<String> = BTreeSet::new();
    let unresolved = graph.unresolved_node.map(|n| n.index());
    for e in edges {
        let (s, t) = (e.source().index(), e.target().index());
        match e.weight {
            ConflictEdge::Requires(req) => {
                let dep = dep_text(s, req);
                if Some(t) == unresolved {
                    match nevra(s) {
                        Some(by) => causes.insert(format!("nothing provides {dep} needed by {by}")),
                        None => causes.insert(format!("nothing provides {dep}")),
                    };
                } else if let Some(by) = nevra(s) {
                    chain.insert((
                        dist[s],
                        format!("package {by} requires {dep}, but none of the providers can be installed"),
                    ));
                }
            }
            ConflictEdge::Conflict(ConflictCause::Constrains(vs)) => {
                let (Some(a), Some(b)) = (nevra(s), nevra(t)) else {
                    continue;
                };
                let line = match p.vset_pred(vs) {
                    Pred::NotObsoletedBy(by, k) => {
                        format!(
                            "package {a} obsoletes {} provided by {b}",
                            p.ix.pkgs[by].obsoletes[k as usize]
                        )
                    }
                    Pred::NotMatchOrSelf(pred, _) => {
                        format!(
                            "package {a} conflicts with {} provided by {b}",
                            p.pred(pred)
                        )
                    }
                    _ => format!("package {a} conflicts with {b}"),
                };
                causes.insert(line);
            }
            ConflictEdge::Conflict(ConflictCause::ForbidMultipleInstances) => {
                let (Some(a), Some(b)) = (nevra(s), nevra(t)) else {
                    continue;
                };
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                causes.insert(format!("cannot install both {a} and {b}"));
            }
            ConflictEdge::Conflict(ConflictCause::Locked(_)) => {}
            ConflictEdge::Conflict(ConflictCause::Excluded) => {
                if let (Some(a), ConflictNode::Excluded(reason)) = (nevra(t), &nodes[t].weight) {
                    let why = p.st.borrow().strings.get(reason.0).clone();
                    causes.insert(format!("package {a} cannot be installed: {why}"));
                }
            }
        }
        if let ConflictNode::Excluded(reason) = nodes[t].weight
            && let Some(a) = nevra(s)
        {
            let why = p.st.borrow().strings.get(reason.0).clone();
            causes.insert(format!("package {a} cannot be installed: {why}"));
        }
    }
    // dnf says "conflicting requests" when the request itself is part of the problem
    // (as it is whenever the request cannot be met), after the chain and before the causes.
    let mut out: Vec<String> = chain.into_iter().map(|(_, l)| l).collect();
    if out.is_empty() || edges.iter().any(|e| e.source().index() == root) {
        out.push("conflicting requests".to_string());
    }
    out.extend(causes);
    out
}
