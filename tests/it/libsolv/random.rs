//! Random small installed systems and jobs, written as libsolv testcases, answered by
//! libsolv's own `testsolv` (Debian's `libsolv-tools`) and by `diskless::solve::solve_system`.
//!
//! The fixture testcases each show one behaviour; these check that the model of
//! `src/solve/system.rs` (update rules, keeping, choice of updates, distupgrade, erase,
//! `allowuninstall`) holds beyond them. Generation is a fixed function of the case number
//! (a xorshift generator, no RNG crate), so the cases, and libsolv 0.7.23's answers, are the
//! same on every run. Installed systems are consistent (every requirement met, no conflict),
//! as a real rpmdb is; the repository may hold anything.

/// xorshift64*: a small fixed generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// 0..n
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const CAPS: [&str; 2] = ["p", "q"];

/// One generated package: testtags lines, and what the consistency check needs.
struct Gen {
    lines: Vec<String>,
    provides: Vec<(String, u32)>,
    requires: Vec<(String, Option<(&'static str, u32)>)>,
    conflicts: Vec<String>,
}

fn package(r: &mut Rng, name: &str, version: u32, installed: bool) -> Gen {
    let mut g = Gen {
        lines: vec![format!("=Pkg: {name} {version} 1 noarch")],
        provides: vec![(name.to_string(), version)],
        requires: Vec::new(),
        conflicts: Vec::new(),
    };
    for _ in 0..*r.pick(&[0, 0, 1, 1, 2]) {
        let target = if r.chance(60) {
            let others: Vec<&str> = NAMES.iter().copied().filter(|n| *n != name).collect();
            r.pick(&others).to_string()
        } else {
            r.pick(&CAPS).to_string()
        };
        if r.chance(40) {
            let op = *r.pick(&["=", ">=", "<"]);
            let v = r.below(3) as u32 + 1;
            g.lines.push(format!("=Req: {target} {op} {v}"));
            g.requires.push((target, Some((op, v))));
        } else {
            g.lines.push(format!("=Req: {target}"));
            g.requires.push((target, None));
        }
    }
    if r.chance(30) {
        let c = r.pick(&CAPS).to_string();
        let v = r.below(3) as u32 + 1;
        g.lines.push(format!("=Prv: {c} = {v}"));
        g.provides.push((c, v));
    }
    let others: Vec<&str> = NAMES.iter().copied().filter(|n| *n != name).collect();
    if r.chance(12) {
        let c = r.pick(&others).to_string();
        g.lines.push(format!("=Con: {c}"));
        g.conflicts.push(c);
    }
    if !installed && r.chance(10) {
        g.lines.push(format!("=Obs: {}", r.pick(&others)));
    }
    g
}

fn provides(set: &[Gen], name: &str, want: Option<(&str, u32)>) -> bool {
    set.iter().any(|g| {
        g.provides.iter().any(|(n, v)| {
            n == name
                && match want {
                    None => true,
                    Some(("=", w)) => *v == w,
                    Some((">=", w)) => *v >= w,
                    Some((_, w)) => *v < w,
                }
        })
    })
}

/// Every requirement met and no conflict inside the set.
fn consistent(set: &[Gen]) -> bool {
    set.iter().enumerate().all(|(i, g)| {
        g.requires.iter().all(|(n, w)| provides(set, n, *w))
            && g.conflicts.iter().all(|c| {
                set.iter()
                    .enumerate()
                    .all(|(j, o)| j == i || !o.provides.iter().any(|(n, _)| n == c))
            })
    })
}

/// The testcase text of case `k` (without a result), or `None` when no consistent installed
/// system came out.
pub fn case(k: u64) -> Option<String> {
    let mut r = Rng::new(k + 1);
    let mut names: Vec<&str> = NAMES.to_vec();
    // A random subset of 1-4 installed names.
    for i in (1..names.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        names.swap(i, j);
    }
    let installed = &names[..1 + r.below(4) as usize];
    let mut system = None;
    for _ in 0..50 {
        let set: Vec<Gen> = installed
            .iter()
            .map(|n| {
                let v = r.below(2) as u32 + 1;
                package(&mut r, n, v, true)
            })
            .collect();
        if consistent(&set) {
            system = Some(set);
            break;
        }
    }
    let system = system?;
    let mut available = Vec::new();
    for n in NAMES {
        let count = r.below(3);
        let mut versions: Vec<u32> = vec![1, 2, 3];
        for i in (1..versions.len()).rev() {
            let j = r.below(i as u64 + 1) as usize;
            versions.swap(i, j);
        }
        let mut chosen: Vec<u32> = versions[..count as usize].to_vec();
        chosen.sort_unstable();
        for v in chosen {
            available.push(package(&mut r, n, v, false));
        }
    }
    let job = match r.below(7) {
        0 | 1 => format!("install name {}", r.pick(&NAMES)),
        2 => format!("update name {}", r.pick(&NAMES)),
        3 => "update all packages".to_string(),
        4 => format!("erase name {}", r.pick(&NAMES)),
        5 => "distupgrade all packages".to_string(),
        _ => format!("distupgrade name {}", r.pick(&NAMES)),
    };
    let flags = if r.chance(25) {
        "solverflags allowuninstall\n"
    } else {
        ""
    };
    let inline = |set: &[Gen]| -> String {
        set.iter()
            .flat_map(|g| g.lines.iter())
            .map(|l| format!("#>{l}\n"))
            .collect()
    };
    Some(format!(
        "repo system 0 testtags <inline>\n{}repo available 0 testtags <inline>\n{}system i686 rpm system\n{flags}job {job}\n",
        inline(&system),
        inline(&available)
    ))
}
