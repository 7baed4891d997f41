//! Solver cases as small tables: records built in code, a request, the expected set or
//! the expected error.

use super::*;
use crate::package::{
    Checksum, Dependency, Evr, FileProviders, NoFileLists, Package, PkgId, parse_evr,
};

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
    pub fn suggests(mut self, d: &str) -> Self {
        self.0.suggests.push(dep(d));
        self
    }
    pub fn enhances(mut self, d: &str) -> Self {
        self.0.enhances.push(dep(d));
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

fn names(pkgs: &[Package], r: &Request) -> Vec<String> {
    let sol = solve(pkgs, &NoFileLists, r).unwrap_or_else(|e| panic!("{e}"));
    sol.packages.iter().map(|&i| pkgs[i].name.clone()).collect()
}

fn problems(pkgs: &[Package], r: &Request) -> Vec<String> {
    match solve(pkgs, &NoFileLists, r) {
        Err(SolveError::Unsolvable { problems }) => problems,
        Err(e) => panic!("expected unsolvable, got {e}"),
        Ok(s) => panic!(
            "expected unsolvable, got {:?}",
            s.packages
                .iter()
                .map(|&i| pkgs[i].nevra())
                .collect::<Vec<_>>()
        ),
    }
}

#[test]
fn versioned_requires_pick_the_matching_versions() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64")
            .requires("lib < 2")
            .requires("tool = 1.5"),
        pkg("lib", "1.0-1", "x86_64"),
        pkg("lib", "1.9-1", "x86_64"),
        pkg("lib", "2.0-1", "x86_64"),
        pkg("tool", "1.5-3", "noarch"),
        pkg("tool", "1.6-1", "noarch"),
    ]);
    assert_eq!(
        nevras(&pkgs, &req(&["app"])).unwrap(),
        ["app-1-1.x86_64", "lib-1.9-1.x86_64", "tool-1.5-3.noarch"]
    );
}

#[test]
fn versioned_provide_compared_not_package_version() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64").requires("libfoo(api) >= 3"),
        pkg("foo-old", "9-1", "x86_64").provides("libfoo(api) = 2"),
        pkg("foo-new", "1-1", "x86_64").provides("libfoo(api) = 3"),
    ]);
    assert_eq!(names(&pkgs, &req(&["app"])), ["app", "foo-new"]);
}

#[test]
fn epoch_wins_over_version() {
    let pkgs = build(vec![
        pkg("a", "9.0-1", "x86_64"),
        pkg("a", "1:1.0-1", "x86_64"),
    ]);
    assert_eq!(nevras(&pkgs, &req(&["a"])).unwrap(), ["a-1:1.0-1.x86_64"]);
}

struct Lists(Vec<(String, Vec<PkgId>)>);
impl FileProviders for Lists {
    fn providers(&self, path: &str) -> Vec<PkgId> {
        self.0
            .iter()
            .filter(|(p, _)| p == path)
            .flat_map(|(_, v)| v.clone())
            .collect()
    }
}

#[test]
fn file_requires_from_primary_then_filelists() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64")
            .requires("/bin/sh")
            .requires("/usr/share/app/data"),
        pkg("bash", "5-1", "x86_64").file("/bin/sh"),
        pkg("data", "1-1", "noarch"),
    ]);
    let r = req(&["app"]);
    // Without filelists the data file is not found.
    assert_eq!(
        problems(&pkgs, &r),
        [
            "conflicting requests",
            "nothing provides /usr/share/app/data needed by app-1-1.x86_64"
        ]
    );
    let lists = Lists(vec![("/usr/share/app/data".into(), vec![2])]);
    let sol = solve(&pkgs, &lists, &r).unwrap();
    let got: Vec<&str> = sol
        .packages
        .iter()
        .map(|&i| pkgs[i].name.as_str())
        .collect();
    assert_eq!(got, ["app", "bash", "data"]);
    // A file request on the command line works the same way.
    assert_eq!(names(&pkgs, &req(&["/bin/sh"])), ["bash"]);
}

/// libsolv's choose/*.t cases (openSUSE/libsolv test/testcases/choose, BSD-3-Clause):
/// which provider of `Y` dnf installs for `X requires Y`.
#[test]
fn provider_choice_follows_libsolv() {
    let x = || pkg("X", "1-1", "noarch").requires("Y");
    let cases: Vec<(&str, Vec<P>, &str)> = vec![
        (
            "default: by name",
            vec![
                x(),
                pkg("B", "1-1", "noarch").provides("Y"),
                pkg("A", "1-1", "noarch").provides("Y"),
            ],
            "A",
        ),
        (
            "enhanced: B enhances X",
            vec![
                x(),
                pkg("B", "1-1", "noarch").provides("Y").enhances("X"),
                pkg("A", "1-1", "noarch").provides("Y"),
            ],
            "B",
        ),
        (
            "suggested: X suggests B",
            vec![
                x().suggests("B"),
                pkg("B", "1-1", "noarch").provides("Y"),
                pkg("A", "1-1", "noarch").provides("Y"),
            ],
            "B",
        ),
        (
            "oldversion: A-1 is not the newest A",
            vec![
                x(),
                pkg("B", "1-1", "noarch").provides("Y"),
                pkg("C", "1-1", "noarch").provides("Y"),
                pkg("A", "1-1", "noarch").provides("Y"),
                pkg("A", "2-1", "noarch"),
            ],
            "B",
        ),
        (
            "versioned: the highest provided version",
            vec![
                x(),
                pkg("B", "1-1", "noarch").provides("Y = 2"),
                pkg("C", "1-1", "noarch").provides("Y = 1.1"),
                pkg("A", "1-1", "noarch").provides("Y = 1"),
            ],
            "B",
        ),
        (
            "versioned2",
            vec![
                x(),
                pkg("B", "1-1", "noarch").provides("Y < 2"),
                pkg("C", "1-1", "noarch").provides("Y <= 2"),
                pkg("A", "1-1", "noarch").provides("Y = 1"),
            ],
            "C",
        ),
        (
            "no preference for the provider named like the capability",
            vec![
                x(),
                pkg("Y", "1-1", "noarch"),
                pkg("Ay", "1-1", "noarch").provides("Y"),
            ],
            "Ay",
        ),
        (
            "obsoleted providers go last",
            vec![
                x(),
                pkg("A", "1-1", "noarch").provides("Y"),
                pkg("B", "1-1", "noarch").provides("Y").obsoletes("A"),
            ],
            "B",
        ),
        (
            "recommended by the requirer",
            vec![
                x().recommends("B"),
                pkg("A", "1-1", "noarch").provides("Y"),
                pkg("B", "1-1", "noarch").provides("Y"),
            ],
            "B",
        ),
    ];
    for (what, list, want) in cases {
        let pkgs = build(list);
        let got = names(&pkgs, &req(&["X"]));
        assert_eq!(got, [want.to_string(), "X".to_string()], "{what}");
    }
}

#[test]
fn two_providers_of_a_soname_one_is_chosen() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64").requires("libssl.so.3()(64bit)"),
        pkg("openssl-libs", "3.0-1", "x86_64").provides("libssl.so.3()(64bit)"),
        pkg("compat-ssl", "3.0-1", "x86_64").provides("libssl.so.3()(64bit)"),
    ]);
    assert_eq!(names(&pkgs, &req(&["app"])), ["app", "compat-ssl"]);
    // Both are installable together when both are asked for.
    assert_eq!(
        names(&pkgs, &req(&["app", "openssl-libs"])),
        ["app", "openssl-libs"]
    );
    assert_eq!(
        names(&pkgs, &req(&["openssl-libs", "compat-ssl"])),
        ["compat-ssl", "openssl-libs"]
    );
}

#[test]
fn conflicts_force_the_alternative() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64").requires("sh").requires("tools"),
        pkg("dash", "1-1", "x86_64").provides("sh"),
        pkg("bash", "1-1", "x86_64").provides("sh"),
        pkg("tools", "1-1", "x86_64").conflicts("dash"),
    ]);
    assert_eq!(names(&pkgs, &req(&["app"])), ["app", "bash", "tools"]);
    // Conflicts are symmetric: the conflicting package's requester gets the other.
    let pkgs2 = build(vec![
        pkg("app", "1-1", "x86_64").requires("tools").requires("sh"),
        pkg("dash", "1-1", "x86_64")
            .provides("sh")
            .conflicts("tools"),
        pkg("bash", "1-1", "x86_64").provides("sh"),
        pkg("tools", "1-1", "x86_64"),
    ]);
    assert_eq!(names(&pkgs2, &req(&["app"])), ["app", "bash", "tools"]);
}

#[test]
fn versioned_conflict_moves_to_an_older_version() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64")
            .requires("lib")
            .conflicts("lib >= 2"),
        pkg("lib", "1-1", "x86_64"),
        pkg("lib", "2-1", "x86_64"),
    ]);
    assert_eq!(
        nevras(&pkgs, &req(&["app"])).unwrap(),
        ["app-1-1.x86_64", "lib-1-1.x86_64"]
    );
}

#[test]
fn self_conflict_on_own_provide_is_fine() {
    let pkgs = build(vec![
        pkg("a", "2-1", "x86_64")
            .provides("cap = 2")
            .conflicts("cap < 2"),
    ]);
    assert_eq!(names(&pkgs, &req(&["a"])), ["a"]);
}

#[test]
fn obsoletes_exclude_the_obsoleted() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64")
            .requires("new")
            .requires("old-or-new"),
        pkg("new", "2-1", "x86_64")
            .obsoletes("old < 2")
            .provides("old-or-new"),
        pkg("old", "1-1", "x86_64")
            .provides("old-or-new")
            .provides("oldcap"),
        pkg("user", "1-1", "x86_64").requires("oldcap"),
    ]);
    assert_eq!(names(&pkgs, &req(&["app"])), ["app", "new"]);
    // `dnf install old` installs what obsoletes it (tested below); a dependency only
    // `old` satisfies cannot be had together with `new`.
    let both = req(&["new", "user"]);
    assert_eq!(
        problems(&pkgs, &both),
        [
            "package user-1-1.x86_64 requires oldcap, but none of the providers can be installed",
            "conflicting requests",
            "package new-2-1.x86_64 obsoletes old < 2 provided by old-1-1.x86_64"
        ]
    );
}

#[test]
fn rich_operators() {
    let base = || {
        vec![
            pkg("a", "1-1", "noarch"),
            pkg("b", "1-1", "noarch"),
            pkg("c", "1-1", "noarch"),
            pkg("foo", "1.5-1", "noarch"),
            pkg("foo", "2.5-1", "noarch"),
            pkg("bar", "1-1", "noarch").provides("foo = 1.0"),
        ]
    };
    let cases: &[(&str, &[&str], &[&str])] = &[
        // (dependency, also requested, expected names)
        ("(a and b)", &[], &["a", "b", "x"]),
        ("(a or b)", &[], &["a", "x"]),
        ("(missing or b)", &[], &["b", "x"]),
        ("(a if b)", &[], &["x"]),
        ("(a if b)", &["b"], &["a", "b", "x"]),
        ("(a if b else c)", &[], &["c", "x"]),
        ("(a if b else c)", &["b"], &["a", "b", "x"]),
        ("(a unless b)", &[], &["a", "x"]),
        ("(a unless b)", &["b"], &["b", "x"]),
        ("(a unless b else c)", &[], &["a", "x"]),
        ("(a unless b else c)", &["b"], &["b", "c", "x"]),
        ("(foo >= 1.0 with foo < 2)", &[], &["foo", "x"]),
        ("(foo without foo >= 2)", &[], &["foo", "x"]),
        ("((a or b) and (c or missing))", &[], &["a", "c", "x"]),
        ("(missing or (b and c))", &[], &["b", "c", "x"]),
    ];
    for (d, extra, want) in cases {
        let mut pkgs = base();
        pkgs.push(pkg("x", "1-1", "noarch").requires(d));
        let pkgs = build(pkgs);
        let mut install = vec!["x"];
        install.extend_from_slice(extra);
        assert_eq!(names(&pkgs, &req(&install)), *want, "{d} with {extra:?}");
    }
    // `with` picks one package satisfying both: foo-1.5, not foo-2.5 or bar.
    let mut pkgs = base();
    pkgs.push(pkg("x", "1-1", "noarch").requires("(foo >= 1.0 with foo < 2)"));
    let pkgs = build(pkgs);
    assert_eq!(
        nevras(&pkgs, &req(&["x"])).unwrap(),
        ["foo-1.5-1.noarch", "x-1-1.noarch"]
    );
}

#[test]
fn rich_conflicts() {
    let pkgs = build(vec![
        pkg("x", "1-1", "noarch")
            .requires("(a or b)")
            .conflicts("(a with a < 5)"),
        pkg("a", "1-1", "noarch"),
        pkg("b", "1-1", "noarch"),
    ]);
    assert_eq!(names(&pkgs, &req(&["x"])), ["b", "x"]);
}

#[test]
fn unparsable_rich_dependency_names_the_package() {
    let pkgs = build(vec![
        pkg("x", "1-1", "noarch").requires("(a and b or c)"),
        pkg("a", "1-1", "noarch"),
    ]);
    let p = problems(&pkgs, &req(&["x"]));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[1].starts_with("package x-1-1.noarch cannot be installed: cannot parse the dependency"),
        "{p:?}"
    );
}

#[test]
fn install_only_one_version_unless_limit() {
    let pkgs = build(vec![
        pkg("kernel", "5.14-1", "x86_64"),
        pkg("kernel", "5.14-2", "x86_64"),
        pkg("mod", "1-1", "x86_64").requires("kernel = 5.14-1"),
    ]);
    let mut r = req(&["kernel"]);
    r.install_only = vec!["kernel".into()];
    assert_eq!(nevras(&pkgs, &r).unwrap(), ["kernel-5.14-2.x86_64"]);
    let mut r2 = req(&["kernel", "mod"]);
    r2.install_only = vec!["kernel".into()];
    assert_eq!(
        nevras(&pkgs, &r2).unwrap(),
        ["kernel-5.14-1.x86_64", "mod-1-1.x86_64"]
    );
    r2.install_only_limit = 3;
    assert_eq!(
        nevras(&pkgs, &r2).unwrap(),
        [
            "kernel-5.14-1.x86_64",
            "kernel-5.14-2.x86_64",
            "mod-1-1.x86_64"
        ]
    );
}

#[test]
fn arch_filtering_and_hint() {
    let pkgs = build(vec![
        pkg("glibc", "2.34-1", "x86_64").provides("libc.so.6()(64bit)"),
        pkg("glibc", "2.34-1", "i686").provides("libc.so.6"),
        pkg("wine32", "1-1", "i686").requires("libc.so.6"),
        pkg("tool32", "1-1", "i686").requires("glibc"),
        pkg("tool", "1-1", "aarch64"),
    ]);
    assert_eq!(
        nevras(&pkgs, &req(&["glibc"])).unwrap(),
        ["glibc-2.34-1.x86_64"]
    );
    let e = solve(&pkgs, &NoFileLists, &req(&["wine32"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "No match for argument: wine32 (it exists only for `i686`, not for `x86_64`; add the arch to `extra_arches` to allow it)"
    );
    let mut r = req(&["wine32", "glibc"]);
    r.extra_arches = vec!["i686".into()];
    assert_eq!(
        nevras(&pkgs, &r).unwrap(),
        [
            "glibc-2.34-1.i686",
            "glibc-2.34-1.x86_64",
            "wine32-1-1.i686"
        ],
        "multilib: both arches of glibc"
    );
    // A plain name requirement of an i686 package is satisfied by the best arch (libsolv
    // prunes to the best arch, whoever requires), and so by the x86_64 one, as in rpm.
    assert_eq!(
        nevras(&pkgs, &r_with(&["tool32"], &["i686"])).unwrap(),
        ["glibc-2.34-1.x86_64", "tool32-1-1.i686"]
    );
    assert_eq!(
        nevras(&pkgs, &r_with(&["glibc", "tool32"], &["i686"])).unwrap(),
        ["glibc-2.34-1.x86_64", "tool32-1-1.i686"]
    );
}

fn r_with(install: &[&str], extra_arches: &[&str]) -> Request {
    let mut r = req(install);
    r.extra_arches = extra_arches.iter().map(|s| s.to_string()).collect();
    r
}

#[test]
fn excludes_are_honoured() {
    let pkgs = build(vec![
        pkg("app", "1-1", "x86_64").requires("sh"),
        pkg("bash", "1-1", "x86_64").provides("sh"),
        pkg("dash", "1-1", "x86_64").provides("sh"),
        pkg("foo", "1-1", "x86_64"),
        pkg("foo", "2-1", "x86_64"),
    ]);
    let mut r = req(&["app", "foo"]);
    r.exclude = vec!["bash".into(), "foo-2*".into()];
    assert_eq!(
        nevras(&pkgs, &r).unwrap(),
        ["app-1-1.x86_64", "dash-1-1.x86_64", "foo-1-1.x86_64"]
    );
    let mut r = req(&["bash"]);
    r.exclude = vec!["ba*".into()];
    assert_eq!(
        solve(&pkgs, &NoFileLists, &r).unwrap_err().to_string(),
        "No match for argument: bash (all matches were filtered out by exclude filtering: `bash-1-1.x86_64` is excluded)"
    );
}

#[test]
fn repo_priority_beats_version_and_cost_breaks_ties() {
    let pkgs = build(vec![
        pkg("a", "2-1", "x86_64").repo("updates"),
        pkg("a", "1-1", "x86_64").repo("pinned"),
        pkg("b", "1-1", "x86_64").repo("slow"),
        pkg("b", "1-1", "x86_64").repo("fast"),
    ]);
    let mut r = req(&["a", "b"]);
    r.repo_priority.insert("pinned".into(), 10);
    r.repo_cost.insert("slow".into(), 2000);
    r.repo_cost.insert("fast".into(), 500);
    let sol = solve(&pkgs, &NoFileLists, &r).unwrap();
    let got: Vec<String> = sol
        .packages
        .iter()
        .map(|&i| format!("{}@{}", pkgs[i].nevra(), pkgs[i].repo))
        .collect();
    assert_eq!(got, ["a-1-1.x86_64@pinned", "b-1-1.x86_64@fast"]);
}

#[test]
fn exact_version_request_escapes_priority() {
    let pkgs = build(vec![
        pkg("a", "2-1", "noarch").repo("low"),
        pkg("a", "1-1", "noarch").repo("high"),
    ]);
    let mut r = req(&["a"]);
    r.repo_priority.insert("high".into(), 1);
    assert_eq!(nevras(&pkgs, &r).unwrap(), ["a-1-1.noarch"]);
    r.install = vec!["a-2-1.noarch".into()];
    assert_eq!(nevras(&pkgs, &r).unwrap(), ["a-2-1.noarch"]);
}

#[test]
fn requested_package_replaced_by_its_obsoleter() {
    let pkgs = build(vec![
        pkg("old", "1-1", "noarch"),
        pkg("new", "2-1", "noarch")
            .obsoletes("old < 2")
            .provides("old = 2"),
    ]);
    let sol = solve(&pkgs, &NoFileLists, &req(&["old"])).unwrap();
    assert_eq!(
        sol.packages
            .iter()
            .map(|&i| pkgs[i].nevra())
            .collect::<Vec<_>>(),
        ["new-2-1.noarch"]
    );
    assert_eq!(
        sol.reasons[&sol.packages[0]],
        Reason::Requested("old".into())
    );
}

#[test]
fn weak_deps_off_and_on() {
    let pkgs = build(vec![
        pkg("app", "1-1", "noarch")
            .recommends("helper")
            .recommends("missing")
            .recommends("(plugin if app)"),
        pkg("helper", "1-1", "noarch").recommends("helper-data"),
        pkg("helper-data", "1-1", "noarch"),
        pkg("plugin", "1-1", "noarch"),
        pkg("langpack", "1-1", "noarch").supplements("(app and lang)"),
        pkg("app-doc", "1-1", "noarch").supplements("app"),
        pkg("bad", "1-1", "noarch")
            .supplements("app")
            .requires("missing"),
        pkg("lang", "1-1", "noarch"),
    ]);
    assert_eq!(names(&pkgs, &req(&["app"])), ["app"]);
    let mut r = req(&["app"]);
    r.weak_deps = true;
    let sol = solve(&pkgs, &NoFileLists, &r).unwrap();
    let got: Vec<&str> = sol
        .packages
        .iter()
        .map(|&i| pkgs[i].name.as_str())
        .collect();
    assert_eq!(got, ["app", "app-doc", "helper", "helper-data", "plugin"]);
    let helper_data = sol
        .packages
        .iter()
        .copied()
        .find(|&i| pkgs[i].name == "helper-data")
        .unwrap();
    match &sol.reasons[&helper_data] {
        Reason::Recommended { by, dep } => assert_eq!(
            (pkgs[*by].name.as_str(), dep.as_str()),
            ("helper", "helper-data")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reasons_give_the_chain() {
    let pkgs = build(vec![
        pkg("a", "1-1", "x86_64").requires("libb.so.1()(64bit)"),
        pkg("b", "1-1", "x86_64")
            .provides("libb.so.1()(64bit)")
            .requires("c"),
        pkg("c", "1-1", "x86_64"),
    ]);
    let sol = solve(&pkgs, &NoFileLists, &req(&["a"])).unwrap();
    let by_name = |n: &str| {
        sol.packages
            .iter()
            .copied()
            .find(|&i| pkgs[i].name == n)
            .unwrap()
    };
    assert_eq!(sol.reasons[&by_name("a")], Reason::Requested("a".into()));
    assert_eq!(
        sol.reasons[&by_name("b")],
        Reason::Required {
            by: by_name("a"),
            dep: "libb.so.1()(64bit)".into()
        }
    );
    assert_eq!(
        sol.reasons[&by_name("c")],
        Reason::Required {
            by: by_name("b"),
            dep: "c".into()
        }
    );
}

#[test]
fn request_spec_forms() {
    let pkgs = build(vec![
        pkg("foo", "1.0-1", "x86_64"),
        pkg("foo", "1.0-2", "x86_64"),
        pkg("foo", "2.0-1", "x86_64"),
        pkg("foo-bar", "1-1", "noarch").provides("virt(x) = 3"),
        pkg("python3-foo", "1-1", "noarch"),
        pkg("python3-baz", "1-1", "noarch"),
    ]);
    let one = |s: &str| nevras(&pkgs, &req(&[s])).unwrap();
    assert_eq!(one("foo"), ["foo-2.0-1.x86_64"]);
    assert_eq!(one("foo-1.0"), ["foo-1.0-2.x86_64"]);
    assert_eq!(one("foo-1.0-1"), ["foo-1.0-1.x86_64"]);
    assert_eq!(one("foo-1.0-1.x86_64"), ["foo-1.0-1.x86_64"]);
    assert_eq!(one("foo-0:1.0-1"), ["foo-1.0-1.x86_64"]);
    assert_eq!(one("foo.x86_64"), ["foo-2.0-1.x86_64"]);
    assert_eq!(one("foo-bar"), ["foo-bar-1-1.noarch"]);
    assert_eq!(one("virt(x)"), ["foo-bar-1-1.noarch"]);
    assert_eq!(one("virt(x) >= 2"), ["foo-bar-1-1.noarch"]);
    assert_eq!(
        one("python3-*"),
        ["python3-baz-1-1.noarch", "python3-foo-1-1.noarch"]
    );
    assert_eq!(
        solve(&pkgs, &NoFileLists, &req(&["nope"]))
            .unwrap_err()
            .to_string(),
        "No match for argument: nope"
    );
}

#[test]
fn unsat_messages_read_like_dnf() {
    let pkgs = build(vec![
        pkg("bar", "1.0-1.el9", "x86_64").requires("libfoo.so.1()(64bit)"),
        pkg("top", "1-1", "x86_64").requires("bar"),
        pkg("a", "1-1", "noarch").conflicts("b"),
        pkg("b", "1-1", "noarch"),
    ]);
    insta::assert_snapshot!(
        "nothing_provides",
        solve(&pkgs, &NoFileLists, &req(&["top"]))
            .unwrap_err()
            .to_string()
    );
    insta::assert_snapshot!(
        "conflict_both_sides",
        solve(&pkgs, &NoFileLists, &req(&["a", "b"]))
            .unwrap_err()
            .to_string()
    );
}

#[test]
fn deterministic_under_shuffled_input() {
    let mut list = Vec::new();
    for i in 0..40 {
        list.push(
            pkg(&format!("p{i}"), "1-1", "x86_64")
                .requires("cap")
                .requires(&format!("lib{}", i % 7))
                .build(),
        );
        list.push(
            pkg(&format!("p{i}"), "2-1", "x86_64")
                .requires("cap")
                .build(),
        );
        list.push(
            pkg(&format!("q{i}"), "1-1", "noarch")
                .provides("cap")
                .provides(&format!("lib{}", i % 7))
                .build(),
        );
    }
    let install: Vec<String> = (0..40).step_by(3).map(|i| format!("p{i}-1")).collect();
    let r = Request {
        install,
        arch: "x86_64".into(),
        ..Request::default()
    };
    let first = nevras(&list, &r).unwrap();
    // A fixed pseudo-random permutation sequence (no clock, no RNG crate).
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..10 {
        for i in (1..list.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            list.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        assert_eq!(nevras(&list, &r).unwrap(), first);
    }
}

/// A synthetic repository of 20,000 packages (5,000 names x 4 versions, sonames,
/// versioned and rich requires, conflicts with older versions of a neighbour; the newest
/// versions satisfy everything, so it is solvable): the solve must succeed and
/// be the same twice. Prints the time; `cargo test --release` shows it well under a
/// second (speed claims belong to `bench/`, so nothing is asserted about it).
#[test]
fn synthetic_twenty_thousand_packages() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let names = 5000u64;
    let mut pkgs = Vec::new();
    for i in 0..names {
        for v in 1..=4u64 {
            let mut p = pkg(
                &format!("pkg{i}"),
                &format!("{v}.0-1"),
                if i % 5 == 0 { "noarch" } else { "x86_64" },
            )
            .provides(&format!("libp{i}.so.{}()(64bit)", v / 3))
            .provides(&format!("cap{} = {v}", i % 1000))
            .file(&format!("/usr/bin/tool{i}"));
            if i > 10 {
                for _ in 0..4 {
                    let d = next(i);
                    p = match next(4) {
                        0 => p.requires(&format!("libp{d}.so.1()(64bit)")),
                        1 => p.requires(&format!("pkg{d} >= {}.0", 1 + next(3))),
                        2 => p.requires(&format!("(pkg{d} or cap{})", next(1000))),
                        _ => p.requires(&format!("/usr/bin/tool{d}")),
                    };
                }
            }
            if next(50) == 0 && i > 0 {
                p = p.conflicts(&format!("pkg{} < {}.0", i - 1, 1 + next(3)));
            }
            pkgs.push(p.build());
        }
    }
    let install: Vec<String> = (0..50)
        .map(|k| format!("pkg{}", names - 1 - k * 7))
        .collect();
    let r = Request {
        install,
        arch: "x86_64".into(),
        ..Request::default()
    };
    let t = std::time::Instant::now();
    let a = solve(&pkgs, &NoFileLists, &r).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "synthetic: {} of {} packages chosen in {:?}",
        a.packages.len(),
        pkgs.len(),
        t.elapsed()
    );
    let b = solve(&pkgs, &NoFileLists, &r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.packages, b.packages);
    assert!(a.packages.len() > 50);
}

// --- On an installed system (`solve_system`); expectations checked with libsolv 0.7.23's
// testsolv on the same packages written as testcases.

/// Packages: `installed` first (they are the installed system), then `available`.
fn on_system(
    installed: Vec<P>,
    available: Vec<P>,
    jobs: &[(JobKind, &[&str])],
    flags: SystemFlags,
) -> Result<Vec<String>, SolveError> {
    let n = installed.len();
    let pkgs: Vec<Package> = installed
        .into_iter()
        .map(|p| p.repo("system"))
        .chain(available)
        .map(P::build)
        .collect();
    let select = |names: &[&str]| -> Select {
        if names == ["*"] {
            return Select::All;
        }
        Select::Packages(
            (0..pkgs.len())
                .filter(|&i| names.contains(&pkgs[i].name.as_str()))
                .collect(),
        )
    };
    let system = System {
        installed: (0..n).collect(),
        jobs: jobs
            .iter()
            .map(|(k, names)| Job::new(*k, select(names)))
            .collect(),
        flags,
        vendors: Vec::new(),
    };
    let r = req(&[]);
    let sol = solve_system(&pkgs, &NoFileLists, &r, &system)?;
    Ok(sol
        .packages
        .iter()
        .map(|&i| format!("{}@{}", pkgs[i].nevra(), pkgs[i].repo))
        .collect())
}

#[test]
fn system_update_moves_one_package_and_keeps_the_rest() {
    let got = on_system(
        vec![pkg("a", "1-1", "noarch"), pkg("b", "1-1", "noarch")],
        vec![
            pkg("a", "2-1", "noarch"),
            pkg("a", "3-1", "noarch"),
            pkg("b", "2-1", "noarch"),
        ],
        &[(JobKind::Update, &["a"])],
        SystemFlags::default(),
    )
    .unwrap();
    assert_eq!(got, ["a-3-1.noarch@base", "b-1-1.noarch@system"]);
    // `update all` moves both; nothing installed stays behind.
    let got = on_system(
        vec![pkg("a", "1-1", "noarch"), pkg("b", "1-1", "noarch")],
        vec![pkg("a", "2-1", "noarch"), pkg("b", "2-1", "noarch")],
        &[(JobKind::Update, &["*"])],
        SystemFlags::default(),
    )
    .unwrap();
    assert_eq!(got, ["a-2-1.noarch@base", "b-2-1.noarch@base"]);
}

#[test]
fn system_erase_of_a_required_package_is_a_problem_unless_uninstall_is_allowed() {
    let installed = || {
        vec![
            pkg("a", "1-1", "noarch").requires("b"),
            pkg("b", "1-1", "noarch"),
            pkg("c", "1-1", "noarch"),
        ]
    };
    let avail = || vec![pkg("b", "2-1", "noarch")];
    let err = on_system(
        installed(),
        avail(),
        &[(JobKind::Erase, &["b"])],
        SystemFlags::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("a-1-1.noarch"), "{err}");
    let got = on_system(
        installed(),
        avail(),
        &[(JobKind::Erase, &["b"])],
        SystemFlags {
            allow_uninstall: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(got, ["c-1-1.noarch@system"]);
}

#[test]
fn system_install_prefers_upgrading_an_installed_provider_to_a_new_package() {
    // libsolv's choicerules/choice1.t: `a` needs `p = 2`; upgrading the installed `b`
    // gives it, and so would the new `c`.
    let got = on_system(
        vec![pkg("b", "1-1", "noarch").provides("p = 1")],
        vec![
            pkg("a", "2-1", "noarch").requires("p = 2"),
            pkg("b", "2-1", "noarch").provides("p = 2"),
            pkg("c", "2-1", "noarch").provides("p = 2"),
        ],
        &[(JobKind::Install, &["a"])],
        SystemFlags::default(),
    )
    .unwrap();
    assert_eq!(got, ["a-2-1.noarch@base", "b-2-1.noarch@base"]);
}

#[test]
fn system_distupgrade_downgrades_and_update_does_not() {
    let run = |k: JobKind| {
        on_system(
            vec![pkg("a", "2-1", "noarch"), pkg("c", "1-1", "noarch")],
            vec![pkg("a", "1-1", "noarch"), pkg("a", "1-2", "noarch")],
            &[(k, &["*"])],
            SystemFlags::default(),
        )
        .unwrap()
    };
    assert_eq!(
        run(JobKind::DistUpgrade),
        ["a-1-2.noarch@base", "c-1-1.noarch@system"]
    );
    assert_eq!(
        run(JobKind::Update),
        ["a-2-1.noarch@system", "c-1-1.noarch@system"]
    );
}
