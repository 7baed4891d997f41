//! Which installed package requires which, from the headers alone: a package depends on
//! every other package of the set that provides one of its requires (a capability whose
//! version range overlaps, as rpm matches them, or the exact file path).
//!
//! Rich dependencies count by the packages that can satisfy one of their terms (`(a or b)`
//! links to whichever of a and b is installed; `(a if b)` to a, not to the condition).
//! `rpmlib(…)` requires name rpm's own features, no package. The solver chose the set, so
//! nothing here decides anything: it only records the edges, in a fixed order.

use crate::package::{Dependency, Op, Rich, parse_evr, parse_rich, provide_satisfies};
use crate::rootfs::header::{Dep, PkgHeader, sense};
use std::collections::{BTreeMap, BTreeSet};

/// A header dependency as the package rules see it.
fn dependency(d: &Dep) -> Dependency {
    let (l, g, e) = (
        d.flags & sense::LESS != 0,
        d.flags & sense::GREATER != 0,
        d.flags & sense::EQUAL != 0,
    );
    let op = match (l, g, e) {
        (true, false, false) => Some(Op::Lt),
        (true, false, true) => Some(Op::Le),
        (false, false, true) => Some(Op::Eq),
        (false, true, true) => Some(Op::Ge),
        (false, true, false) => Some(Op::Gt),
        _ => None,
    };
    Dependency {
        name: d.name.clone(),
        op,
        evr: (op.is_some() && !d.version.is_empty()).then(|| parse_evr(&d.version)),
        pre: false,
    }
}

/// The terms of a rich dependency that make packages required.
fn terms(r: &Rich, out: &mut Vec<Dependency>) {
    match r {
        Rich::Atom(d) => out.push(d.clone()),
        Rich::And(v) | Rich::Or(v) | Rich::With(v) => v.iter().for_each(|x| terms(x, out)),
        Rich::Without(a, _) => terms(a, out),
        Rich::If {
            then, otherwise, ..
        }
        | Rich::Unless {
            then, otherwise, ..
        } => {
            terms(then, out);
            if let Some(o) = otherwise {
                terms(o, out);
            }
        }
    }
}

/// For each package, the indexes of the other packages that satisfy one of its requires.
pub fn requires(pkgs: &[&PkgHeader]) -> Vec<BTreeSet<usize>> {
    let mut provides: BTreeMap<&str, Vec<(usize, Dependency)>> = BTreeMap::new();
    let mut files: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        for d in &p.provides {
            provides
                .entry(d.name.as_str())
                .or_default()
                .push((i, dependency(d)));
        }
        for f in &p.files {
            files.entry(f.path.as_str()).or_default().insert(i);
        }
    }
    let providers = |req: &Dependency, out: &mut BTreeSet<usize>| {
        if let Some(v) = provides.get(req.name.as_str()) {
            out.extend(
                v.iter()
                    .filter(|(_, p)| provide_satisfies(p, req))
                    .map(|(i, _)| *i),
            );
        }
        if req.name.starts_with('/') {
            if let Some(v) = files.get(req.name.as_str()) {
                out.extend(v);
            }
        }
    };
    pkgs.iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out = BTreeSet::new();
            for d in &p.requires {
                if d.flags & sense::RPMLIB != 0 || d.name.starts_with("rpmlib(") {
                    continue;
                }
                if d.name.starts_with('(') {
                    // A rich dependency that does not parse links nothing (the solver
                    // reported it when it mattered).
                    let mut ts = Vec::new();
                    if let Ok(r) = parse_rich(&d.name) {
                        terms(&r, &mut ts);
                    }
                    ts.iter().for_each(|t| providers(t, &mut out));
                } else {
                    providers(&dependency(d), &mut out);
                }
            }
            out.remove(&i);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::header::{FileMeta, PkgInfo};

    fn dep(text: &str) -> Dep {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (name, flags, version) = match parts.as_slice() {
            [n] => (*n, 0, ""),
            [n, op, v] => (
                *n,
                match *op {
                    "<" => sense::LESS,
                    "<=" => sense::LESS | sense::EQUAL,
                    "=" => sense::EQUAL,
                    ">=" => sense::GREATER | sense::EQUAL,
                    ">" => sense::GREATER,
                    _ => unreachable!(),
                },
                *v,
            ),
            _ => (text, 0, ""),
        };
        Dep {
            name: name.into(),
            flags,
            version: version.into(),
        }
    }

    fn pkg(name: &str, provides: &[&str], requires: &[&str], files: &[&str]) -> PkgHeader {
        PkgHeader {
            name: name.into(),
            epoch: None,
            version: "1".into(),
            release: "1".into(),
            arch: "x86_64".into(),
            provides: provides.iter().map(|p| dep(p)).collect(),
            requires: requires.iter().map(|r| dep(r)).collect(),
            files: files
                .iter()
                .map(|f| FileMeta {
                    path: f.to_string(),
                    mode: 0o100644,
                    user: "root".into(),
                    group: "root".into(),
                    flags: 0,
                    size: 0,
                    mtime: 0,
                    linkto: String::new(),
                    lang: String::new(),
                    caps: String::new(),
                    inode: 1,
                    device: 1,
                    rdev: 0,
                    color: 0,
                    digest: String::new(),
                })
                .collect(),
            scripts: Vec::new(),
            digest_algo: 8,
            payload_compressor: "gzip".into(),
            buildtime: 0,
            info: PkgInfo::default(),
        }
    }

    #[test]
    fn capabilities_versions_files_and_rich_terms() {
        let p = [
            pkg(
                "app",
                &["app = 1-1"],
                &[
                    "libfoo.so.2()(64bit)",
                    "/bin/sh",
                    "/usr/bin/python3",
                    "old >= 2",
                    "rpmlib(CompressedFileNames) <= 3.0.4-1",
                    "((zlib or zlib-ng) if glibc)",
                    "app",
                ],
                &["/usr/bin/app"],
            ),
            pkg("libfoo", &["libfoo.so.2()(64bit)"], &[], &[]),
            pkg("bash", &["bash = 5-1"], &[], &["/usr/bin/sh", "/bin/sh"]),
            pkg("python3", &[], &[], &["/usr/bin/python3"]),
            pkg("old", &["old = 1-1"], &[], &[]),
            pkg("zlib-ng", &["zlib-ng = 2-1"], &[], &[]),
            pkg("glibc", &["glibc = 2.34-1"], &["/bin/sh"], &[]),
        ];
        let refs: Vec<&PkgHeader> = p.iter().collect();
        let r = requires(&refs);
        // old provides only version 1: `old >= 2` is not it; itself is never an edge.
        assert_eq!(r[0], BTreeSet::from([1, 2, 3, 5]));
        assert_eq!(r[6], BTreeSet::from([2]));
        assert!(r[1].is_empty());
    }
}
