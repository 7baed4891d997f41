//! The layering of docs/architecture.md, held by a test: every `crate::<module>` reference in
//! src/ (in `use` lines and in paths, tests included, comments and strings not) must point
//! to a module its own top-level module may import. A failure names `file:line`, the
//! import and what the module may import instead.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The base modules: at the bottom, importing only each other.
const BASE: &[&str] = &["package", "net", "codec", "fsx", "cpio"];

/// Which top-level modules each library module may import besides the base modules (which
/// every module may import), itself and the crate root's items such as `crate::VERSION`. Mirrors the table in docs/architecture.md; the
/// binary (src/main.rs, src/cli/) sits on top and uses the library as `diskless::`.
const LAYERS: &[(&str, &[&str])] = &[
    ("package", &[]),
    ("net", &[]),
    ("codec", &[]),
    ("fsx", &[]),
    ("cpio", &[]),
    ("profile", &[]),
    ("repo", &[]),
    ("solve", &["repo"]),
    ("lock", &[]),
    ("fetch", &[]),
    ("rootfs", &[]),
    ("emit", &["rootfs"]),
    (
        "plan",
        &[
            "profile", "repo", "solve", "lock", "fetch", "rootfs", "emit",
        ],
    ),
    // Reads a build's output: emit's layout and manifest.
    ("boottest", &["emit"]),
];

/// Imports the table does not allow yet, each with the change that removes it. An entry
/// no file needs any more fails [`pending_exceptions_are_still_needed`]: delete it then.
const PENDING: &[(&str, &str, &str)] = &[];

/// One `crate::<module>` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    line: usize,
    module: String,
}

/// `code` with comments, string and char literals blanked out (newlines kept, so line
/// numbers stay right).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
        if at(0) == '/' && at(1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if at(0) == '/' && at(1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if at(0) == 'r'
            && (at(1) == '"' || at(1) == '#')
            && !c[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match c.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            for &ch in &c[i..j.min(c.len())] {
                blank(&mut out, ch);
            }
            i = j;
        } else if at(0) == '"' {
            blank(&mut out, c[i]);
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            if i < c.len() {
                out.push(' ');
                i += 1;
            }
        } else if at(0) == '\'' && (at(1) == '\\' || at(2) == '\'') {
            // A char literal ('"', '\n', '\''); a lifetime has no closing quote.
            let end = if at(1) == '\\' {
                (i + 2..c.len())
                    .find(|&k| c[k] == '\'')
                    .unwrap_or(c.len() - 1)
            } else {
                i + 2
            };
            for &ch in &c[i..=end] {
                blank(&mut out, ch);
            }
            i = end + 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The modules named by `crate::x` and `crate::{x, y::z}` in `src`, with their lines.
fn crate_imports(src: &str) -> Vec<Import> {
    let code = code_only(src);
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (pos, _) in code.match_indices("crate::") {
        let before = code[..pos].chars().next_back();
        if before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == '$') {
            continue;
        }
        let rest = &code[pos + "crate::".len()..];
        if let Some(group) = rest.trim_start().strip_prefix('{') {
            // Top-level items of the group, split at depth-0 commas; each item's line is
            // where its name starts.
            let base = pos + "crate::".len() + (rest.len() - group.len());
            let mut items = Vec::new();
            let (mut depth, mut start) = (0, 0);
            for (k, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        items.push(start..k);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(start..k);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            for r in items {
                let item = &group[r.clone()];
                let lead = item.len() - item.trim_start().len();
                let name = ident(item);
                if !name.is_empty() {
                    out.push(Import {
                        line: line_of(base + r.start + lead),
                        module: name,
                    });
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.push(Import {
                    line: line_of(pos),
                    module: name,
                });
            }
        }
    }
    out
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The library's top-level modules, from src/lib.rs.
fn lib_modules() -> BTreeSet<String> {
    let lib = fs_err::read_to_string(src_dir().join("lib.rs")).unwrap();
    code_only(&lib)
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("pub ").unwrap_or(l.trim());
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// Every .rs file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The library module a file of src/ belongs to (`None`: the crate root or the binary).
fn owner(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "cli")).then(|| name.to_owned())
}

fn allowed(module: &str) -> Option<Vec<&'static str>> {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, a)| BASE.iter().chain(a.iter()).copied().collect())
}

/// Every import the table does not allow: (owner, imported, `file:line`).
fn violations() -> Vec<(String, String, String)> {
    let modules = lib_modules();
    let mut out = Vec::new();
    for file in rust_files(&src_dir()) {
        let rel = file.strip_prefix(src_dir()).unwrap().to_path_buf();
        let Some(me) = owner(&rel) else { continue };
        let may = allowed(&me).unwrap_or_default();
        let text = fs_err::read_to_string(&file).unwrap();
        for imp in crate_imports(&text) {
            let m = imp.module.as_str();
            if m == me || !modules.contains(m) || may.contains(&m) {
                continue;
            }
            out.push((
                me.clone(),
                m.to_owned(),
                format!("src/{}:{}", rel.display(), imp.line),
            ));
        }
    }
    out
}

#[test]
fn every_module_is_in_the_layering_table() {
    let missing: Vec<String> = lib_modules()
        .into_iter()
        .filter(|m| allowed(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules missing from the layering table (add them to docs/architecture.md and LAYERS in tests/it/architecture.rs): {missing:?}"
    );
}

#[test]
fn imports_point_down_the_layers() {
    let bad: Vec<String> = violations()
        .into_iter()
        .filter(|(me, m, _)| !PENDING.iter().any(|(a, b, _)| a == me && b == m))
        .map(|(me, m, at)| {
            format!(
                "{at}: `{me}` imports `crate::{m}`; `{me}` may import only: {}",
                allowed(&me).unwrap_or_default().join(", ")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "imports against the layering of docs/architecture.md:\n{}",
        bad.join("\n")
    );
}

#[test]
fn pending_exceptions_are_still_needed() {
    let found = violations();
    for (me, m, why) in PENDING {
        assert!(
            found.iter().any(|(a, b, _)| a == me && b == m),
            "`{me}` no longer imports `crate::{m}` ({why}): remove the exception from PENDING"
        );
    }
}

#[test]
fn the_scanner_sees_imports_and_skips_comments_and_strings() {
    let src = r##"
//! Docs mention crate::lock::Lockfile, which is not an import.
use crate::{fetch::{self, Want}, VERSION,
    rootfs};
use crate::emit::EmitInputs;
/* block crate::profile /* nested crate::plan */ still comment crate::lock */
fn f<'a>(x: &'a str) -> char {
    let _ = "a string crate::lock";
    let _ = r#"raw "crate::lock""#;
    let q = '"';
    let _ = crate::solve::solve;
    $crate::ignored;
    q
}
"##;
    let got: Vec<(usize, String)> = crate_imports(src)
        .into_iter()
        .map(|i| (i.line, i.module))
        .collect();
    let want: Vec<(usize, String)> = [
        (3, "fetch"),
        (3, "VERSION"),
        (4, "rootfs"),
        (5, "emit"),
        (11, "solve"),
    ]
    .iter()
    .map(|(l, m)| (*l, m.to_string()))
    .collect();
    assert_eq!(got, want);
}

/// The backticked names of a markdown table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_documented_table_is_the_tested_table() {
    let doc =
        fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    let section = doc
        .split("## Which module may import which")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/architecture.md has a `Which module may import which` section");
    let mut documented = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (modules, may) = (backticked(cells[1]), cells[2]);
        for m in modules.iter().filter(|m| m.as_str() != "cli") {
            let mut names: Vec<String> = if may.contains("every module above") {
                // Above in the table (LAYERS keeps its order).
                LAYERS
                    .iter()
                    .take_while(|(n, _)| n != m)
                    .map(|(n, _)| n.to_string())
                    .collect()
            } else if may.starts_with("base") {
                BASE.iter()
                    .map(|n| n.to_string())
                    .chain(backticked(may))
                    .collect()
            } else {
                backticked(may)
            };
            names.retain(|n| n != m);
            names.sort();
            documented.push((m.clone(), names));
        }
    }
    let mut tested: Vec<(String, Vec<String>)> = LAYERS
        .iter()
        .map(|(m, _)| {
            let mut a: Vec<String> = allowed(m)
                .unwrap_or_default()
                .into_iter()
                .filter(|n| n != m)
                .map(str::to_owned)
                .collect();
            a.sort();
            (m.to_string(), a)
        })
        .collect();
    documented.sort();
    tested.sort();
    assert_eq!(
        documented, tested,
        "docs/architecture.md's table and LAYERS in tests/it/architecture.rs differ"
    );
}
