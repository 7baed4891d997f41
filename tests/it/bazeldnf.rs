//! bazeldnf's solver cases (`fixtures/derived/bazeldnf-cases/`) through `diskless::solve`.
//!
//! Each `should-resolve-*.t` is a libsolv testcase made from one case of bazeldnf's
//! `pkg/sat/sat_test.go` (its repo XML turned into a testtags file); `bazeldnf-sat-cases.json`
//! holds bazeldnf's own expected install lists, and `COMPARISON.txt` says libsolv 0.7.23
//! agrees with every one. The expected list here is bazeldnf's (json), and the `.t` result
//! block is checked to be the same list so the two sources cannot drift apart silently.
//! Each case is solved twice: weak dependencies off (bazeldnf's and diskless' default) and on
//! (testsolv's default, which produced the `.t` results): both must give the list.

use crate::libsolv::testcase;
use crate::libsolv::{Status, check, label};
use diskless::package::{NoFileLists, Package};
use diskless::solve::{self, Request};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// bazeldnf's `name-E:V-R.arch` -> `name-[E:]V-R.arch` as Package::nevra prints it.
fn nevra_of(s: &str) -> String {
    let (name_ver, arch) = s.rsplit_once('.').unwrap();
    let (name_v, rel) = name_ver.rsplit_once('-').unwrap();
    let (name, ev) = name_v.rsplit_once('-').unwrap();
    let ev = ev.strip_prefix("0:").unwrap_or(ev);
    format!("{name}-{ev}-{rel}.{arch}")
}

struct Case {
    requires: Vec<String>,
    installs: BTreeSet<String>,
}

fn json_cases(dir: &Path) -> BTreeMap<String, Case> {
    let text = fs_err::read_to_string(dir.join("bazeldnf-sat-cases.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let strs = |k: &str| -> Vec<String> {
                c[k].as_array()
                    .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            };
            let name = c["name"].as_str().unwrap().to_string();
            let case = Case {
                requires: strs("requires"),
                installs: strs("installs").iter().map(|s| nevra_of(s)).collect(),
            };
            (name, case)
        })
        .collect()
}

fn run(packages: &[Package], req: &Request, want: &BTreeSet<String>) -> Status {
    let result = std::panic::catch_unwind(|| solve::solve(packages, &NoFileLists, req));
    let Ok(result) = result else {
        return Status::Fail("solver panicked".into());
    };
    match result {
        Err(e) => Status::Fail(format!("error: {e}")),
        Ok(sol) => {
            let got: BTreeSet<String> = sol.packages.iter().map(|&i| packages[i].nevra()).collect();
            if got.len() != sol.packages.len() {
                Status::Fail(format!(
                    "a NEVRA chosen twice (the repo lists some twice): {got:?}"
                ))
            } else if &got == want {
                Status::Pass
            } else {
                let missing: Vec<_> = want.difference(&got).collect();
                let extra: Vec<_> = got.difference(want).collect();
                Status::Fail(format!("missing {missing:?}, extra {extra:?}"))
            }
        }
    }
}

#[test]
fn bazeldnf_cases_give_their_install_lists() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let dir = fx.join("derived/bazeldnf-cases");
    let mut cases = json_cases(&dir);
    let mut rows = Vec::new();
    let mut files: Vec<_> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "t"))
        .collect();
    files.sort();
    for path in files {
        let text = fs_err::read_to_string(&path).unwrap();
        // `# derived from rmohr/bazeldnf pkg/sat/sat_test.go case "NAME" (...)`
        let name = text.split('"').nth(1).unwrap().to_string();
        let case = cases
            .remove(&name)
            .unwrap_or_else(|| panic!("{name}: not in the json"));
        let tc = testcase::read(&path).unwrap();
        assert_eq!(tc.solves.len(), 1);
        let want_t: BTreeSet<String> = tc.solves[0]
            .expected
            .as_ref()
            .unwrap()
            .install
            .iter()
            .map(|s| testcase::split_repo(s).0.to_string())
            .collect();
        assert_eq!(
            want_t, case.installs,
            "{name}: the .t result and bazeldnf's list differ"
        );
        let specs: Vec<String> = tc.solves[0].jobs.iter().map(|j| j.arg.clone()).collect();
        assert_eq!(
            specs, case.requires,
            "{name}: jobs and bazeldnf's requires differ"
        );
        let packages = tc.available();
        for weak in [false, true] {
            let req = Request {
                install: case.requires.clone(),
                arch: tc.arch.clone(),
                weak_deps: weak,
                ..Default::default()
            };
            let st = run(&packages, &req, &case.installs);
            rows.push((
                name.clone(),
                "bazeldnf".to_string(),
                format!("weak_deps={weak}"),
                st,
            ));
        }
    }
    for (name, _) in cases {
        rows.push((
            name,
            "bazeldnf".into(),
            "-".into(),
            Status::NotApplicable("its repo XML was left out of the fixtures (>= 4 MiB)".into()),
        ));
    }
    crate::libsolv::print_table("bazeldnf cases through diskless::solve", &rows);
    let fails: Vec<_> = rows
        .iter()
        .filter(|r| matches!(r.3, Status::Fail(_)))
        .collect();
    assert!(
        fails.is_empty(),
        "{} bazeldnf cases differ (table above)",
        fails.len()
    );
    assert_eq!(
        rows.iter()
            .filter(|r| !matches!(r.3, Status::NotApplicable(_)))
            .count(),
        16
    );
}

/// The expected lists satisfy their own requirements per the independent checker: proves the
/// testtags reader (rich deps, file provides) and the checker on 8 real Fedora/EL8 sets.
#[test]
fn bazeldnf_expected_lists_pass_the_checker() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let dir = fx.join("derived/bazeldnf-cases");
    let cases = json_cases(&dir);
    let mut n = 0;
    for path in fs_err::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        if path.extension().is_none_or(|e| e != "t") {
            continue;
        }
        let text = fs_err::read_to_string(&path).unwrap();
        let name = text.split('"').nth(1).unwrap();
        let tc = testcase::read(&path).unwrap();
        let packages = tc.available();
        let want = &cases[name].installs;
        // The repos list some NEVRAs twice (bazeldnf's XML joined release and updates).
        let mut seen = BTreeSet::new();
        let set: Vec<&Package> = packages
            .iter()
            .filter(|p| want.contains(&p.nevra()) && seen.insert(p.nevra()))
            .collect();
        assert_eq!(
            set.len(),
            want.len(),
            "{name}: a listed package is not in the repo"
        );
        let rep = check::check_set(&set, &[], &|_| Vec::new());
        println!(
            "{name}: {} requires checked ({} rich evaluated, {} rpmlib() skipped)",
            rep.checked, rep.rich_evaluated, rep.rpmlib_skipped
        );
        assert!(rep.is_clean(), "{name}: {rep:#?}");
        // The checker is not vacuous: drop one package that others need and it complains.
        let noticed = (0..set.len()).any(|victim| {
            let mut short = set.clone();
            short.remove(victim);
            !check::check_set(&short, &[], &|_| Vec::new())
                .unsatisfied
                .is_empty()
        });
        assert!(noticed, "{name}: removing any one package goes unnoticed");
        let _ = label;
        n += 1;
    }
    assert_eq!(n, 8);
}
