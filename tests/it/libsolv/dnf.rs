//! dnf as a second oracle for libsolv's small testcases: the records are written out as
//! real repository metadata (primary.xml + repomd.xml with checksums) and resolved by
//! Debian's dnf (`dnf_case.py`, an empty install root like `recipes/dnf-resolve.py`, plus
//! priorities and weak dependencies). Where libsolv's testsolv and dnf disagree, dnf's
//! answer is the policy diskless follows.

use diskless::package::{Dependency, Package};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn entry(d: &Dependency) -> String {
    let mut s = format!("<rpm:entry name=\"{}\"", esc(&d.name));
    if let (Some(op), Some(evr)) = (d.op, &d.evr) {
        let flags = match op.as_str() {
            "<" => "LT",
            "<=" => "LE",
            "=" => "EQ",
            ">=" => "GE",
            _ => "GT",
        };
        write!(s, " flags=\"{flags}\"").unwrap();
        if let Some(e) = evr.epoch {
            write!(s, " epoch=\"{e}\"").unwrap();
        }
        write!(s, " ver=\"{}\"", esc(&evr.version)).unwrap();
        if let Some(r) = &evr.release {
            write!(s, " rel=\"{}\"", esc(r)).unwrap();
        }
    }
    if d.pre {
        s.push_str(" pre=\"1\"");
    }
    s + "/>"
}

/// Write `packages` as a repository (metadata only) under `dir`.
pub fn write_repo(dir: &Path, packages: &[&Package]) {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\"",
    );
    writeln!(x, " packages=\"{}\">", packages.len()).unwrap();
    for (i, p) in packages.iter().enumerate() {
        let pkgid = hex::encode(Sha256::digest(format!("{i}{}", p.nevra())));
        write!(
            x,
            "<package type=\"rpm\"><name>{}</name><arch>{}</arch><version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/><checksum type=\"sha256\" pkgid=\"YES\">{pkgid}</checksum><summary/><description/><packager/><url/><time file=\"0\" build=\"0\"/><size package=\"1\" installed=\"1\" archive=\"1\"/><location href=\"{}\"/><format><rpm:license/><rpm:vendor/><rpm:group/><rpm:buildhost/><rpm:sourcerpm/><rpm:header-range start=\"0\" end=\"1\"/>",
            esc(&p.name),
            esc(&p.arch),
            p.evr.epoch,
            esc(&p.evr.version),
            esc(&p.evr.release),
            esc(&p.location)
        )
        .unwrap();
        for (tag, list) in [
            ("provides", &p.provides),
            ("requires", &p.requires),
            ("conflicts", &p.conflicts),
            ("obsoletes", &p.obsoletes),
            ("recommends", &p.recommends),
            ("suggests", &p.suggests),
            ("supplements", &p.supplements),
            ("enhances", &p.enhances),
        ] {
            if !list.is_empty() {
                write!(x, "<rpm:{tag}>").unwrap();
                for d in list {
                    x.push_str(&entry(d));
                }
                write!(x, "</rpm:{tag}>").unwrap();
            }
        }
        for f in &p.files {
            write!(x, "<file>{}</file>", esc(f)).unwrap();
        }
        x.push_str("</format></package>\n");
    }
    x.push_str("</metadata>\n");
    let sum = hex::encode(Sha256::digest(x.as_bytes()));
    let repodata = dir.join("repodata");
    fs_err::create_dir_all(&repodata).unwrap();
    fs_err::write(repodata.join("primary.xml"), &x).unwrap();
    let repomd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>0</revision><data type=\"primary\"><checksum type=\"sha256\">{sum}</checksum><open-checksum type=\"sha256\">{sum}</open-checksum><location href=\"repodata/primary.xml\"/><timestamp>0</timestamp><size>{len}</size><open-size>{len}</open-size></data></repomd>\n",
        len = x.len()
    );
    fs_err::write(repodata.join("repomd.xml"), repomd).unwrap();
}

/// One repository for [`resolve`]: id, packages, dnf priority.
pub struct DnfRepo<'a> {
    pub id: String,
    pub packages: Vec<&'a Package>,
    pub priority: i32,
}

/// dnf's answer: `Ok(NEVRA@repoid set)` or `Err(problem text)`.
pub fn resolve(
    repos: &[DnfRepo<'_>],
    specs: &[String],
    weak: bool,
    arch: &str,
) -> Result<BTreeSet<String>, String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut json_repos = Vec::new();
    for (i, r) in repos.iter().enumerate() {
        let dir = tmp.path().join(format!("repo{i}"));
        write_repo(&dir, &r.packages);
        json_repos.push(serde_json::json!({
            "id": r.id, "url": format!("file://{}", dir.display()), "priority": r.priority
        }));
    }
    let arg =
        serde_json::json!({ "repos": json_repos, "specs": specs, "weak": weak, "arch": arch });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/libsolv/dnf_case.py");
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(arg.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text.lines().map(str::to_string).collect())
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}
