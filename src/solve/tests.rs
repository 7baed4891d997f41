//! Solver cases as small tables: records built in code, a request, the expected set or
//! the expected error.

use super::depmatch::parse_evr;
use super::*;
use crate::package::{Checksum, Dependency, Evr, Package};

/// Builder for a package record: `pkg("a", "1.0-1", "x86_64").requires("b >= 2")`.
pub struct P(Package);

pub fn pkg(name: &str, evr: &str, arch: &str) -> P {
    let d = parse_evr(evr);
    let evr = Evr {
        epoch: d.epoch.unwrap_or(0),
        version: d.version,
        release: d.release.unwrap_or_else(|| "1".into()),
    };
    let nevra = format!("{name}-{}-{}.{arch}", evr.version, evr.release);
    let self_provide = Dependency {
        name: name.into(),
        op: Some(crate::package::Op::Eq),
        evr: Some(DepEvr {
            epoch: Some(evr.epoch),
            version: evr.version.clone(),
            release: Some(evr.release.clone()),
        }),
        pre: false,
    };
    P(Package {
        name: name.into(),
        arch: arch.into(),
        evr,
        repo: "base".into(),
        location: format!("Packages/{nevra}.rpm"),
        location_base: None,
        checksum: Checksum {
            kind: "sha256".into(),
            value: format!("{:0>64}", nevra.len()),
        },
        size_package: 1,
        size_installed: 1,
        time_build: 0,
        sourcerpm: String::new(),
        summary: String::new(),
        provides: vec![self_provide],
        requires: vec![],
        conflicts: vec![],
        obsoletes: vec![],
        recommends: vec![],
        suggests: vec![],
        supplements: vec![],
        enhances: vec![],
        files: vec![],
    })
}

use crate::package::DepEvr;

/// `name`, `name op evr`, or a rich dependency `( ... )`.
pub fn dep(s: &str) -> Dependency {
    let s = s.trim();
    if s.starts_with('(') {
        return Dependency {
            name: s.into(),
            op: None,
            evr: None,
            pre: false,
        };
    }
    spec::parse_provide(s)
}

impl P {
    pub fn requires(mut self, d: &str) -> Self {
        self.0.requires.push(dep(d));
        self
    }
    pub fn provides(mut self, d: &str) -> Self {
        self.0.provides.push(dep(d));
        self
    }
    pub fn conflicts(mut self, d: &str) -> Self {
        self.0.conflicts.push(dep(d));
        self
    }
    pub fn obsoletes(mut self, d: &str) -> Self {
        self.0.obsoletes.push(dep(d));
        self
    }
    pub fn recommends(mut self, d: &str) -> Self {
        self.0.recommends.push(dep(d));
        self
    }
    pub fn supplements(mut self, d: &str) -> Self {
        self.0.supplements.push(dep(d));
        self
    }
    pub fn file(mut self, f: &str) -> Self {
        self.0.files.push(f.into());
        self
    }
    pub fn repo(mut self, r: &str) -> Self {
        self.0.repo = r.into();
        self.0.location = format!("{r}/{}", self.0.location);
        self
    }
    pub fn build(self) -> Package {
        self.0
    }
}

pub fn req(install: &[&str]) -> Request {
    Request {
        install: install.iter().map(|s| s.to_string()).collect(),
        arch: "x86_64".into(),
        ..Request::default()
    }
}

/// Solve and return the chosen NEVRAs, sorted.
pub fn nevras(pkgs: &[Package], r: &Request) -> Result<Vec<String>, SolveError> {
    let sol = solve(pkgs, &NoFileLists, r)?;
    Ok(sol.packages.iter().map(|&i| pkgs[i].nevra()).collect())
}

fn build(list: Vec<P>) -> Vec<Package> {
    list.into_iter().map(P::build).collect()
}

#[test]
fn simple_requires_chain() {
    let pkgs = build(vec![
        pkg("a", "1.0-1", "x86_64").requires("b"),
        pkg("b", "1.0-1", "noarch").requires("c >= 2"),
        pkg("c", "1.0-1", "x86_64"),
        pkg("c", "2.0-1", "x86_64"),
        pkg("c", "3.0-1", "x86_64"),
        pkg("unrelated", "1-1", "x86_64"),
    ]);
    let got = nevras(&pkgs, &req(&["a"])).unwrap();
    assert_eq!(got, ["a-1.0-1.x86_64", "b-1.0-1.noarch", "c-3.0-1.x86_64"]);
}
