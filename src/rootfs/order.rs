//! Install order from the packages' own headers, as rpm orders a transaction.
//!
//! A package comes after the packages that provide what it requires (by capability name,
//! package name or file path; versions are not checked here, the solver did that). This is
//! a topological sort with a stable tie-break: among packages that are ready, the smallest
//! (name, NEVRA) goes first, so the order depends only on the set of packages. Dependency
//! loops are broken as rpm breaks them: plain Requires edges are dropped before
//! Requires(pre)/(post) ones, i.e. the stuck package with the fewest unmet prerequisites
//! goes first. `rpmlib(...)` and rich dependencies do not order anything.

use super::header::{Dep, PkgHeader, sense};
use std::collections::{BTreeMap, BTreeSet};

/// Indexes into `pkgs`, in install order.
pub fn install_order(pkgs: &[PkgHeader]) -> Vec<usize> {
    let n = pkgs.len();
    let mut providers: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        providers.entry(p.name.as_str()).or_default().insert(i);
        for d in &p.provides {
            providers.entry(d.name.as_str()).or_default().insert(i);
        }
        for f in &p.files {
            providers.entry(f.path.as_str()).or_default().insert(i);
        }
    }
    // edges[to][from] = is the strongest edge a prerequisite?
    let mut incoming: Vec<BTreeMap<usize, bool>> = vec![BTreeMap::new(); n];
    let mut outgoing: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (i, p) in pkgs.iter().enumerate() {
        for d in p.requires.iter().filter(|d| orders(d)) {
            let Some(provs) = providers.get(d.name.as_str()) else {
                continue;
            };
            if provs.contains(&i) {
                continue;
            }
            for &j in provs {
                let pre = incoming[i].entry(j).or_insert(false);
                *pre |= d.is_prereq();
                outgoing[j].insert(i);
            }
        }
    }
    let key = |i: usize| (pkgs[i].name.clone(), pkgs[i].nevra(), i);
    let mut ready: BTreeSet<(String, String, usize)> = (0..n)
        .filter(|&i| incoming[i].is_empty())
        .map(key)
        .collect();
    let mut done = vec![false; n];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let next = match ready.pop_first() {
            Some((_, _, i)) => i,
            None => {
                // A loop: release the stuck package with the fewest prerequisite edges left.
                match (0..n)
                    .filter(|&i| !done[i])
                    .min_by_key(|&i| (incoming[i].values().filter(|&&pre| pre).count(), key(i)))
                {
                    Some(i) => i,
                    None => break,
                }
            }
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        out.push(next);
        incoming[next].clear();
        for &k in &outgoing[next] {
            if !done[k] && incoming[k].remove(&next).is_some() && incoming[k].is_empty() {
                ready.insert(key(k));
            }
        }
    }
    out
}

fn orders(d: &Dep) -> bool {
    d.flags & sense::RPMLIB == 0 && !d.name.starts_with('(') && !d.name.starts_with("rpmlib(")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, requires: &[(&str, bool)], provides: &[&str]) -> PkgHeader {
        PkgHeader {
            name: name.into(),
            epoch: None,
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            provides: provides
                .iter()
                .map(|p| Dep {
                    name: p.to_string(),
                    flags: 0,
                    version: String::new(),
                })
                .collect(),
            requires: requires
                .iter()
                .map(|(r, pre)| Dep {
                    name: r.to_string(),
                    flags: if *pre { sense::SCRIPT_PRE } else { 0 },
                    version: String::new(),
                })
                .collect(),
            files: Vec::new(),
            scripts: Vec::new(),
            digest_algo: 8,
            payload_compressor: "gzip".into(),
            buildtime: 0,
            info: Default::default(),
        }
    }

    fn names(p: &[PkgHeader]) -> Vec<String> {
        install_order(p)
            .into_iter()
            .map(|i| p[i].name.clone())
            .collect()
    }

    #[test]
    fn prerequisites_first_then_name_order() {
        let p = vec![
            pkg("bash", &[("filesystem", false)], &["/bin/sh"]),
            pkg("filesystem", &[("setup", true)], &[]),
            pkg("setup", &[], &[]),
            pkg("aaa", &[("/bin/sh", true)], &[]),
            pkg("zzz", &[], &[]),
        ];
        assert_eq!(names(&p), vec!["setup", "filesystem", "bash", "aaa", "zzz"]);
    }

    #[test]
    fn loops_drop_plain_requires_first() {
        // glibc <-> glibc-common style loop: b needs a only as a plain Requires,
        // a needs b as a prerequisite, so b goes first.
        let p = vec![
            pkg("a", &[("b", true)], &[]),
            pkg("b", &[("a", false)], &[]),
        ];
        assert_eq!(names(&p), vec!["b", "a"]);
        let p = vec![
            pkg("a", &[("b", false)], &[]),
            pkg("b", &[("a", true)], &[]),
        ];
        assert_eq!(names(&p), vec!["a", "b"]);
    }

    #[test]
    fn input_order_does_not_matter() {
        let mut p = vec![
            pkg("c", &[("a", false)], &[]),
            pkg("b", &[], &[]),
            pkg("a", &[], &[]),
        ];
        let one = names(&p);
        p.reverse();
        assert_eq!(one, names(&p));
    }
}
