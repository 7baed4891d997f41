//! A reader for libsolv's testcase format (`testsolv` input) and its `testtags` repositories.
//!
//! Format facts from libsolv's `ext/testcase.c` / `ext/repo_testcase.c` and the cases
//! themselves: a testcase is a list of commands (`repo NAME PRIO TYPE SOURCE`, `system ARCH
//! DISTTYPE REPO`, `poolflags`, `solverflags`, `job VERB SELECTOR ARGS [FLAGS]`, `result
//! TYPES SOURCE`, `nextjob`, ...); `<inline>` sources follow as `#>` lines. A testtags repo
//! holds `=Pkg: name [epoch:]version release arch` records followed by one-line `=Tag: value`
//! or multi-line `+Tag:` ... `-Tag:` blocks (Prv, Req, Prq, Con, Obs, Rec, Sug, Sup, Enh,
//! Fls, ...). Dependencies use libsolv's notation: `name OP evr`, rich operators `&` `|`
//! `<IF>` `<ELSE>` `<UNLESS>` `+` (with) `-` (without) and parentheses; they are turned
//! into rpm's text (`(a and b)`) so the records look like primary.xml's.

use super::check::parse_dep_evr;
use diskless::package::{Checksum, DepEvr, Dependency, Evr, Op, Package};
use std::collections::BTreeSet;
use std::path::Path;

/// One `repo` line and its packages.
#[derive(Debug, Clone)]
pub struct TcRepo {
    /// The name as written (expected results say `@name`).
    pub name: String,
    /// Unique id handed to the solver (`name`, or `name#2` for a second repo of that name).
    pub id: String,
    /// libsolv priority: higher wins.
    pub priority: i32,
    pub packages: Vec<Package>,
    /// `=Vnd:` of each package (empty when not given); `Package` has no vendor field.
    pub vendors: Vec<String>,
}

/// One job as written: `job install name A = 2-1 [cleandeps]`.
#[derive(Debug, Clone)]
pub struct Job {
    pub verb: String,
    pub selector: String,
    pub arg: String,
    pub flags: Vec<String>,
}

/// What `testsolv` printed for a solve: its `result` block.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// The result types (`transaction,problems`, `transaction,recommended,problems`).
    pub kinds: String,
    /// `install X@repo` lines: the packages an empty root ends up with.
    pub install: BTreeSet<String>,
    /// `recommended`/`suggested` lines (with their keyword).
    pub weak: BTreeSet<String>,
    /// `upgrade`, `erase`, ... lines: anything that assumes an installed system.
    pub other: Vec<String>,
    /// `problem ... info ...` texts.
    pub problems: Vec<String>,
}

/// One solve: the jobs and flags between `nextjob`s, with the expected result.
#[derive(Debug, Clone, Default)]
pub struct Solve {
    pub solverflags: Vec<String>,
    pub jobs: Vec<Job>,
    pub expected: Option<Expected>,
}

#[derive(Debug, Clone, Default)]
pub struct Testcase {
    pub repos: Vec<TcRepo>,
    /// `system ARCH DISTTYPE INSTALLED`: arch, and the repo that is the installed system.
    pub arch: String,
    pub installed_repo: Option<String>,
    pub poolflags: Vec<String>,
    pub features: Vec<String>,
    /// Commands this reader keeps but does not interpret (`evrcmp`, `disable`, ...).
    pub other_commands: Vec<String>,
    pub solves: Vec<Solve>,
}

impl Testcase {
    /// The packages of the installed-system repo (empty when there is none).
    pub fn installed(&self) -> Vec<&Package> {
        match &self.installed_repo {
            Some(r) => self
                .repos
                .iter()
                .filter(|x| &x.name == r)
                .flat_map(|x| &x.packages)
                .collect(),
            None => Vec::new(),
        }
    }

    /// The vendors of [`Testcase::available`] followed by those of [`Testcase::installed`].
    pub fn vendors(&self) -> Vec<String> {
        let (sys, avail): (Vec<&TcRepo>, Vec<&TcRepo>) = self
            .repos
            .iter()
            .partition(|r| Some(&r.name) == self.installed_repo.as_ref());
        avail
            .into_iter()
            .chain(sys)
            .flat_map(|r| r.vendors.iter().cloned())
            .collect()
    }

    /// All packages of the repositories other than the installed system, in file order.
    pub fn available(&self) -> Vec<Package> {
        self.repos
            .iter()
            .filter(|r| Some(&r.name) != self.installed_repo.as_ref())
            .flat_map(|r| r.packages.iter().cloned())
            .collect()
    }
}

/// Read a testcase file (and the testtags files it names, relative to it).
pub fn read(path: &Path) -> Result<Testcase, String> {
    let text = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let lines: Vec<&str> = text.lines().collect();
    let mut tc = Testcase::default();
    let mut cur = Solve::default();
    let mut i = 0;
    // The `#>` lines after the current command, when it is `<inline>`.
    let inline = |i: &mut usize| -> Vec<String> {
        let mut out = Vec::new();
        while *i < lines.len() && lines[*i].starts_with("#>") {
            out.push(lines[*i][2..].to_string());
            *i += 1;
        }
        out
    };
    while i < lines.len() {
        let line = lines[i].trim();
        let at = format!("{}:{}", path.display(), i + 1);
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "repo" => {
                if words.len() < 4 {
                    return Err(format!("{at}: short repo line"));
                }
                let name = words[1].to_string();
                let priority: i32 = words[2]
                    .split('.')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("{at}: bad priority `{}`", words[2]))?;
                let n = tc.repos.iter().filter(|r| r.name == name).count();
                let id = if n == 0 {
                    name.clone()
                } else {
                    format!("{name}#{}", n + 1)
                };
                let body = match (words[3], words.get(4)) {
                    ("empty", _) => Vec::new(),
                    ("testtags", Some(&"<inline>")) => inline(&mut i),
                    ("testtags", Some(file)) => fs_err::read_to_string(dir.join(file))
                        .map_err(|e| format!("{at}: {e}"))?
                        .lines()
                        .map(str::to_string)
                        .collect(),
                    (kind, _) => return Err(format!("{at}: repo type `{kind}` not supported")),
                };
                let (packages, vendors) =
                    parse_testtags_with_vendors(&body, &id).map_err(|e| format!("{at}: {e}"))?;
                tc.repos.push(TcRepo {
                    name,
                    id,
                    priority,
                    packages,
                    vendors,
                });
            }
            "system" => {
                tc.arch = words.get(1).copied().unwrap_or("noarch").to_string();
                tc.installed_repo = words.get(3).map(|s| s.to_string());
            }
            "poolflags" => tc
                .poolflags
                .extend(words[1..].iter().map(|s| s.to_string())),
            "feature" => tc.features.extend(words[1..].iter().map(|s| s.to_string())),
            "solverflags" => cur
                .solverflags
                .extend(words[1..].iter().map(|s| s.to_string())),
            "job" => cur
                .jobs
                .push(parse_job(&words[1..]).ok_or_else(|| format!("{at}: bad job"))?),
            "result" => {
                let body = match words.get(2) {
                    Some(&"<inline>") => inline(&mut i),
                    _ => return Err(format!("{at}: only inline results are supported")),
                };
                // Some cases repeat the `result` line; the last block wins, as in testsolv.
                cur.expected = Some(parse_result(words.get(1).copied().unwrap_or(""), &body));
            }
            "nextjob" => tc.solves.push(std::mem::take(&mut cur)),
            _ => tc.other_commands.push(line.to_string()),
        }
    }
    tc.solves.push(cur);
    Ok(tc)
}

fn parse_job(words: &[&str]) -> Option<Job> {
    let verb = words.first()?.to_string();
    let selector = words.get(1)?.to_string();
    let mut arg = Vec::new();
    let mut flags = Vec::new();
    for w in &words[2..] {
        if let Some(f) = w.strip_prefix('[').and_then(|f| f.strip_suffix(']')) {
            flags.extend(f.split(',').map(str::to_string));
        } else {
            arg.push(*w);
        }
    }
    Some(Job {
        verb,
        selector,
        arg: arg.join(" "),
        flags,
    })
}

fn parse_result(kinds: &str, body: &[String]) -> Expected {
    let mut e = Expected {
        kinds: kinds.to_string(),
        ..Default::default()
    };
    for l in body {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.first().copied() {
            Some("install") if w.len() == 2 => {
                e.install.insert(w[1].to_string());
            }
            Some(k @ ("recommended" | "suggested")) => {
                e.weak.insert(format!("{k} {}", w[1..].join(" ")));
            }
            Some("problem") if w.get(2) == Some(&"info") => e.problems.push(w[3..].join(" ")),
            Some("problem") => {}
            Some(_) => e.other.push(l.trim().to_string()),
            None => {}
        }
    }
    e
}

/// `name [epoch:]version release arch` -> an empty package record of repo `repo`.
fn new_package(fields: &[&str], repo: &str) -> Result<Package, String> {
    let [name, ver, rel, arch, ..] = fields else {
        return Err(format!("short =Pkg: `{}`", fields.join(" ")));
    };
    let (epoch, version) = match ver.split_once(':') {
        Some((e, v)) => (e.parse().map_err(|_| format!("bad epoch in `{ver}`"))?, v),
        None => (0, *ver),
    };
    let evr = Evr {
        epoch,
        version: version.to_string(),
        release: rel.to_string(),
    };
    let nevra = format!("{name}-{evr}.{arch}");
    Ok(Package {
        name: name.to_string(),
        arch: arch.to_string(),
        location: format!("{nevra}.rpm"),
        location_base: None,
        checksum: Checksum {
            kind: "sha256".into(),
            value: String::new(),
        },
        size_package: 0,
        size_installed: 0,
        time_build: 0,
        sourcerpm: String::new(),
        summary: String::new(),
        evr,
        repo: repo.to_string(),
        provides: Vec::new(),
        requires: Vec::new(),
        conflicts: Vec::new(),
        obsoletes: Vec::new(),
        recommends: Vec::new(),
        suggests: Vec::new(),
        supplements: Vec::new(),
        enhances: Vec::new(),
        files: Vec::new(),
    })
}

/// Parse a testtags body into package records; every package also provides
/// `name = evr`, as libsolv's reader (and every real rpm) adds.
pub fn parse_testtags(lines: &[String], repo: &str) -> Result<Vec<Package>, String> {
    parse_testtags_with_vendors(lines, repo).map(|(p, _)| p)
}

/// [`parse_testtags`], with each package's vendor (`=Vnd:`, empty when missing).
pub fn parse_testtags_with_vendors(
    lines: &[String],
    repo: &str,
) -> Result<(Vec<Package>, Vec<String>), String> {
    let mut out: Vec<Package> = Vec::new();
    let mut vendors: Vec<String> = Vec::new();
    let mut block: Option<String> = None;
    for (n, raw) in lines.iter().enumerate() {
        let line = raw.trim_end();
        let at = |e: String| format!("line {}: {e}", n + 1);
        if let Some(tag) = &block {
            if line == format!("-{tag}:") {
                block = None;
            } else if let Some(p) = out.last_mut() {
                add_tag(p, tag, line).map_err(at)?;
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('+') {
            block = Some(rest.trim_end_matches(':').to_string());
            continue;
        }
        let Some(rest) = line.strip_prefix('=') else {
            return Err(at(format!("unexpected `{line}`")));
        };
        let (tag, value) = rest
            .split_once(':')
            .ok_or_else(|| at(format!("no tag in `{line}`")))?;
        let value = value.trim();
        if tag == "Pkg" {
            let f: Vec<&str> = value.split_whitespace().collect();
            out.push(new_package(&f, repo).map_err(at)?);
            vendors.push(String::new());
        } else if tag == "Vnd" {
            if let Some(v) = vendors.last_mut() {
                *v = value.to_string();
            }
        } else if let Some(p) = out.last_mut() {
            add_tag(p, tag, value).map_err(at)?;
        }
    }
    for p in &mut out {
        let own = self_provide(p);
        if !p.provides.contains(&own) {
            p.provides.push(own);
        }
    }
    Ok((out, vendors))
}

fn self_provide(p: &Package) -> Dependency {
    super::check::self_provide(p)
}

fn add_tag(p: &mut Package, tag: &str, value: &str) -> Result<(), String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(());
    }
    let list = match tag {
        "Prv" => &mut p.provides,
        "Req" => &mut p.requires,
        "Prq" => {
            let mut d = parse_dep(value)?;
            d.pre = true;
            p.requires.push(d);
            return Ok(());
        }
        "Con" => &mut p.conflicts,
        "Obs" => &mut p.obsoletes,
        "Rec" => &mut p.recommends,
        "Sug" => &mut p.suggests,
        "Sup" => &mut p.supplements,
        "Enh" => &mut p.enhances,
        "Fls" => {
            p.files.push(value.to_string());
            return Ok(());
        }
        "Tim" => {
            p.time_build = value.parse().unwrap_or(0);
            return Ok(());
        }
        "Sum" => {
            p.summary = value.to_string();
            return Ok(());
        }
        // Vendor, version of the format, checksums...: not used by an rpm resolver here.
        _ => return Ok(()),
    };
    list.push(parse_dep(value)?);
    Ok(())
}

/// libsolv's dependency notation -> rpm's record (`Dependency`).
pub fn parse_dep(text: &str) -> Result<Dependency, String> {
    let mut p = DepParser {
        s: text.as_bytes(),
        i: 0,
    };
    let node = p
        .expr()
        .ok_or_else(|| format!("cannot parse dependency `{text}`"))?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing text in dependency `{text}`"));
    }
    Ok(match node {
        Node::Simple(d) => d,
        rich => Dependency {
            name: rich.to_rpm(),
            op: None,
            evr: None,
            pre: false,
        },
    })
}

#[derive(Debug)]
enum Node {
    Simple(Dependency),
    Bin(&'static str, Box<Node>, Box<Node>),
}

impl Node {
    /// rpm's text, every operator parenthesised; `A <IF> (B <ELSE> C)` becomes
    /// `(A if B else C)` as rpm writes it.
    fn to_rpm(&self) -> String {
        match self {
            Node::Simple(d) => d.to_string(),
            Node::Bin(op @ ("if" | "unless"), a, b) => match &**b {
                Node::Bin("else", c, e) => {
                    format!("({} {op} {} else {})", a.to_rpm(), c.to_rpm(), e.to_rpm())
                }
                _ => format!("({} {op} {})", a.to_rpm(), b.to_rpm()),
            },
            Node::Bin(op, a, b) => format!("({} {op} {})", a.to_rpm(), b.to_rpm()),
        }
    }
}

struct DepParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl DepParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    /// A word up to whitespace or an unbalanced `)` (names may hold balanced parens).
    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        let mut depth = 0usize;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'(' => depth += 1,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                c if c.is_ascii_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn peek(&mut self) -> String {
        let save = self.i;
        let w = self.word();
        self.i = save;
        w
    }

    fn expr(&mut self) -> Option<Node> {
        let left = self.term()?;
        let op = match self.peek().as_str() {
            "&" => "and",
            "|" => "or",
            "<IF>" => "if",
            "<ELSE>" => "else",
            "<UNLESS>" => "unless",
            "+" => "with",
            "-" => "without",
            _ => return Some(left),
        };
        self.word();
        let right = self.expr()?;
        Some(Node::Bin(op, Box::new(left), Box::new(right)))
    }

    fn term(&mut self) -> Option<Node> {
        self.ws();
        if self.s.get(self.i) == Some(&b'(') {
            self.i += 1;
            let e = self.expr()?;
            self.ws();
            if self.s.get(self.i) != Some(&b')') {
                return None;
            }
            self.i += 1;
            return Some(e);
        }
        let name = self.word();
        if name.is_empty() {
            return None;
        }
        let op = match self.peek().as_str() {
            "<" => Op::Lt,
            "<=" => Op::Le,
            "=" => Op::Eq,
            ">=" => Op::Ge,
            ">" => Op::Gt,
            _ => {
                return Some(Node::Simple(Dependency {
                    name,
                    op: None,
                    evr: None,
                    pre: false,
                }));
            }
        };
        self.word();
        let evr: DepEvr = parse_dep_evr(&self.word());
        Some(Node::Simple(Dependency {
            name,
            op: Some(op),
            evr: Some(evr),
            pre: false,
        }))
    }
}

/// `name-[epoch:]version-release.arch[@repo]` -> (`name-[epoch:]version-release.arch`, repo).
pub fn split_repo(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('@') {
        Some((n, r)) => (n, Some(r)),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libsolv_deps_become_rpm_deps() {
        let d = parse_dep("P = 2 <IF> (X & Y)").unwrap();
        assert_eq!(d.name, "(P = 2 if (X and Y))");
        let d = parse_dep("glibc & (langpacks-aa | langpacks-aa_DJ)").unwrap();
        assert_eq!(d.name, "(glibc and (langpacks-aa or langpacks-aa_DJ))");
        let d = parse_dep("a <IF> b <ELSE> c").unwrap();
        assert_eq!(d.name, "(a if b else c)");
        let d = parse_dep("libc.so.6(GLIBC_2.2.5)(64bit)").unwrap();
        assert_eq!(
            (d.name.as_str(), d.op),
            ("libc.so.6(GLIBC_2.2.5)(64bit)", None)
        );
        let d = parse_dep("openssl-libs >= 1:1.1.1-2.fc32").unwrap();
        assert_eq!(d.to_string(), "openssl-libs >= 1:1.1.1-2.fc32");
        assert_eq!(d.evr.unwrap().release.as_deref(), Some("2.fc32"));
        // The rpm text parses back with the checker's own rich parser.
        assert!(super::super::check::parse_rich("(P = 2 if (X and Y))").is_some());
    }

    #[test]
    fn testtags_blocks_and_self_provides() {
        let body: Vec<String> = "=Ver: 3.0\n=Pkg: a 1:2.0 3.fc32 x86_64\n+Req:\nb >= 1\n/bin/sh\n-Req:\n=Prv: c\n+Fls:\n/usr/bin/a\n-Fls:\n=Pkg: b 1 1 noarch"
            .lines()
            .map(str::to_string)
            .collect();
        let p = parse_testtags(&body, "r").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].nevra(), "a-1:2.0-3.fc32.x86_64");
        assert_eq!(p[0].requires.len(), 2);
        assert_eq!(p[0].files, ["/usr/bin/a"]);
        assert_eq!(p[0].provides.len(), 2);
        assert_eq!(p[1].provides[0].to_string(), "b = 0:1-1");
    }
}
