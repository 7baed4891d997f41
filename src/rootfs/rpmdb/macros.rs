//! The image's rpm configuration: its macro files, read from the tree in rpm's order, and
//! the few macros the database needs (`%_dbpath`, `%_db_backend`, `%_transaction_color`,
//! `%_prefer_color`) expanded as rpm expands them.
//!
//! rpm reads (lib/rpmrc.c, `setDefaults`) `/usr/lib/rpm/macros`,
//! `/usr/lib/rpm/macros.d/macros.*`, `/usr/lib/rpm/platform/%{_target}/macros`,
//! `/usr/lib/rpm/redhat/macros` (the vendor's, for Red Hat builds), `/etc/rpm/macros.*`,
//! `/etc/rpm/macros`, `/etc/rpm/%{_target}/macros` and `~/.rpmmacros`, globs in sorted
//! order, later definitions winning; `.rpmnew`, `.rpmsave` and `.rpmorig` files are
//! skipped. Lines are joined as rpmio/macro.c's `rdcl` joins them (a trailing `\`, or an
//! open `%{`, `%(`, `%[`) and defined as `doDefine` does. Expansion covers plain and
//! conditional references (`%name`, `%{name}`, `%{?name}`, `%{!?name:text}`, `%%`); a
//! shell (`%(...)`), Lua, expression or built-in macro on the way is reported, never run.

use super::super::paths;
use super::super::store::Store;
use super::super::tree::{EntryKind, Tree};
use std::collections::BTreeMap;

/// One definition and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Def {
    pub body: String,
    /// `None` for a parameterless macro; `Some(opts)` for a parametric one.
    pub opts: Option<String>,
    pub file: String,
}

/// The macros defined by the image's files.
#[derive(Debug, Clone, Default)]
pub struct Macros {
    pub defs: BTreeMap<String, Def>,
    /// The files read, in order.
    pub files: Vec<String>,
}

/// The macro files of rpm's default `macrofiles` path, for `target` (`x86_64-linux`).
fn patterns(target: &str) -> Vec<String> {
    vec![
        "/usr/lib/rpm/macros".into(),
        "/usr/lib/rpm/macros.d/macros.*".into(),
        format!("/usr/lib/rpm/platform/{target}/macros"),
        "/usr/lib/rpm/redhat/macros".into(),
        "/etc/rpm/macros.*".into(),
        "/etc/rpm/macros".into(),
        format!("/etc/rpm/{target}/macros"),
        "/root/.rpmmacros".into(),
    ]
}

/// The regular file at `path` (symlinks followed inside the image), if there is one.
fn read(tree: &Tree, store: &Store, path: &str) -> std::io::Result<Option<Vec<u8>>> {
    let Ok(resolved) = paths::resolve(tree, path, true) else {
        return Ok(None);
    };
    match tree.get(&resolved).map(|e| &e.kind) {
        Some(EntryKind::File { digest, .. }) => store.read(digest).map(Some),
        _ => Ok(None),
    }
}

impl Macros {
    /// Read the image's macro files for `target` (`<arch>-linux`).
    pub fn load(tree: &Tree, store: &Store, target: &str) -> std::io::Result<Macros> {
        let mut m = Macros::default();
        for pat in patterns(target) {
            let files: Vec<String> = match pat.strip_suffix('*') {
                // `dir/prefix*`: the directory's entries with that prefix, sorted.
                Some(prefix) => {
                    let dir = paths::parent(prefix).unwrap_or("/");
                    let dir = paths::resolve(tree, dir, true).unwrap_or_else(|_| dir.into());
                    let name_prefix = &prefix[prefix.rfind('/').map_or(0, |i| i + 1)..];
                    tree.descendants(&dir)
                        .map(|(p, _)| p)
                        .filter(|p| paths::parent(p) == Some(dir.as_str()))
                        .filter(|p| {
                            p.rsplit('/')
                                .next()
                                .is_some_and(|n| n.starts_with(name_prefix))
                        })
                        .filter(|p| {
                            ![".rpmnew", ".rpmsave", ".rpmorig"]
                                .iter()
                                .any(|s| p.ends_with(s))
                        })
                        .cloned()
                        .collect()
                }
                None => vec![pat.clone()],
            };
            for f in files {
                if let Some(bytes) = read(tree, store, &f)? {
                    m.load_text(&String::from_utf8_lossy(&bytes), &f);
                    m.files.push(f);
                }
            }
        }
        Ok(m)
    }

    /// Define the macros of one file's text.
    pub fn load_text(&mut self, text: &str, file: &str) {
        for line in logical_lines(text) {
            let l = line.trim_start_matches([' ', '\t']);
            if let Some(def) = l.strip_prefix('%') {
                if let Some((name, d)) = define(def, file) {
                    self.defs.insert(name, d);
                }
            }
        }
    }

    /// Define a macro (built-in values rpm sets from its configuration, such as `_target`).
    pub fn set(&mut self, name: &str, body: &str) {
        self.defs.insert(
            name.to_string(),
            Def {
                body: body.to_string(),
                opts: None,
                file: "(built in)".into(),
            },
        );
    }

    /// Expand `s` as rpm would, or say what stops it.
    pub fn expand(&self, s: &str) -> Result<String, String> {
        self.expand_depth(s, 0)
    }

    /// `%{?name}` expanded, `None` when not defined or empty.
    pub fn value(&self, name: &str) -> Result<Option<String>, String> {
        let v = self.expand(&format!("%{{?{name}}}"))?;
        let v = v.trim().to_string();
        Ok((!v.is_empty()).then_some(v))
    }

    fn expand_depth(&self, s: &str, depth: usize) -> Result<String, String> {
        if depth > 64 {
            return Err("macro recursion too deep".into());
        }
        let b = s.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                let next = s[i..].find('%').map_or(s.len(), |n| i + n);
                out.push_str(&s[i..next]);
                i = next;
                continue;
            }
            match b.get(i + 1) {
                Some(b'%') => {
                    out.push('%');
                    i += 2;
                }
                Some(b'{') => {
                    let end = matching(b, i + 1, b'{', b'}')
                        .ok_or_else(|| format!("unterminated `{}`", &s[i..]))?;
                    out.push_str(&self.braced(&s[i + 2..end], depth)?);
                    i = end + 1;
                }
                Some(b'(') => return Err(format!("a shell macro `{}`", snippet(&s[i..]))),
                Some(b'[') => return Err(format!("an expression `{}`", snippet(&s[i..]))),
                Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => {
                    let len = s[i + 1..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(s.len() - i - 1);
                    let name = &s[i + 1..i + 1 + len];
                    match self.defs.get(name) {
                        Some(d) => out.push_str(&self.body(name, d, depth)?),
                        // rpm leaves an undefined `%name` as it is.
                        None => out.push_str(&s[i..i + 1 + len]),
                    }
                    i += 1 + len;
                }
                _ => {
                    out.push('%');
                    i += 1;
                }
            }
        }
        Ok(out)
    }

    fn body(&self, name: &str, d: &Def, depth: usize) -> Result<String, String> {
        if d.opts.is_some() {
            return Err(format!("`%{name}` takes arguments ({})", d.file));
        }
        self.expand_depth(&d.body, depth + 1)
    }

    /// The inside of `%{...}`.
    fn braced(&self, inner: &str, depth: usize) -> Result<String, String> {
        let mut s = inner;
        let (mut query, mut negate) = (false, false);
        loop {
            if let Some(r) = s.strip_prefix('?') {
                query = true;
                s = r;
            } else if let Some(r) = s.strip_prefix('!') {
                negate = !negate;
                s = r;
            } else {
                break;
            }
        }
        let (name, alt) = match s.find(':') {
            Some(p) => (&s[..p], Some(&s[p + 1..])),
            None => (s, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`%{{{inner}}}` is not a plain macro reference"));
        }
        let def = self.defs.get(name);
        if !query {
            if alt.is_some() {
                return Err(format!("the built-in macro `%{{{inner}}}`"));
            }
            return match def {
                Some(d) => self.body(name, d, depth),
                None => Err(format!("`%{{{name}}}` is not defined")),
            };
        }
        match (def.is_some() != negate, alt) {
            (true, Some(text)) => self.expand_depth(text, depth + 1),
            (true, None) => match def {
                Some(d) => self.body(name, d, depth),
                None => Ok(String::new()),
            },
            (false, _) => Ok(String::new()),
        }
    }
}

fn snippet(s: &str) -> &str {
    let end = s.char_indices().nth(40).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// The index of the bracket closing the one at `open`, counting nesting.
fn matching(b: &[u8], open: usize, l: u8, r: u8) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            c if c == l => depth += 1,
            c if c == r => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Physical lines joined into logical ones as `rdcl` joins them.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut bc, mut pc, mut xc) = (0i32, 0i32, 0i32);
    for raw in text.split('\n') {
        let line = raw.trim_end_matches(['\r', '\n']);
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' if i + 1 < b.len() => i += 1,
                b'%' => match b.get(i + 1) {
                    Some(b'{') => {
                        i += 1;
                        bc += 1
                    }
                    Some(b'(') => {
                        i += 1;
                        pc += 1
                    }
                    Some(b'[') => {
                        i += 1;
                        xc += 1
                    }
                    Some(b'%') => i += 1,
                    _ => {}
                },
                b'{' if bc > 0 => bc += 1,
                b'}' if bc > 0 => bc -= 1,
                b'(' if pc > 0 => pc += 1,
                b')' if pc > 0 => pc -= 1,
                b'[' if xc > 0 => xc += 1,
                b']' if xc > 0 => xc -= 1,
                _ => {}
            }
            i += 1;
        }
        cur.push_str(line);
        if line.is_empty() || (!line.ends_with('\\') && bc == 0 && pc == 0 && xc == 0) {
            out.push(std::mem::take(&mut cur));
            (bc, pc, xc) = (0, 0, 0);
        } else {
            cur.push('\n');
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `doDefine` for a macro file line (without its `%`): name, options, body.
fn define(s: &str, file: &str) -> Option<(String, Def)> {
    let name_len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let name = &s[..name_len];
    // rpm refuses names shorter than 3 characters or starting with a digit.
    if name.len() < 3 || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = &s[name_len..];
    let mut opts = None;
    if let Some(r) = rest.strip_prefix('(') {
        let end = r.find(')')?;
        opts = Some(r[..end].to_string());
        rest = &r[end + 1..];
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let body = if let Some(r) = rest.strip_prefix('{') {
        let end = matching(rest.as_bytes(), 0, b'{', b'}')?;
        r[..end - 1].to_string()
    } else {
        // Free-field body: `\x` keeps `x`, the body ends at the first line end outside
        // brackets, trailing blanks are trimmed.
        let b = rest.as_bytes();
        let mut body = Vec::new();
        let (mut bc, mut pc, mut xc) = (0i32, 0i32, 0i32);
        let mut i = 0;
        while i < b.len() && (bc > 0 || pc > 0 || !matches!(b[i], b'\n' | b'\r')) {
            match b[i] {
                b'\\' if i + 1 < b.len() => i += 1,
                b'%' => match b.get(i + 1) {
                    Some(b'{') => {
                        body.push(b'%');
                        i += 1;
                        bc += 1
                    }
                    Some(b'(') => {
                        body.push(b'%');
                        i += 1;
                        pc += 1
                    }
                    Some(b'[') => {
                        body.push(b'%');
                        i += 1;
                        xc += 1
                    }
                    Some(b'%') => {
                        body.push(b'%');
                        i += 1
                    }
                    _ => {}
                },
                b'{' if bc > 0 => bc += 1,
                b'}' if bc > 0 => bc -= 1,
                b'(' if pc > 0 => pc += 1,
                b')' if pc > 0 => pc -= 1,
                b'[' if xc > 0 => xc += 1,
                b']' if xc > 0 => xc -= 1,
                _ => {}
            }
            body.push(b[i]);
            i += 1;
        }
        if bc > 0 || pc > 0 || xc > 0 {
            return None;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        body.trim_end_matches([' ', '\t', '\n', '\r']).to_string()
    };
    if body.is_empty() {
        return None;
    }
    Some((
        name.to_string(),
        Def {
            body,
            opts,
            file: file.to_string(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Macros {
        let mut m = Macros::default();
        m.load_text(text, "/usr/lib/rpm/macros");
        m
    }

    #[test]
    fn el9_and_fedora_dbpaths() {
        let base = "%_usr\t\t\t/usr\n%_var\t\t\t/var\n# comment\n%_dbpath\t\t%{_var}/lib/rpm\n\
                    %_db_backend\t      sqlite\n";
        let el9 = m(base);
        assert_eq!(el9.expand("%{_dbpath}").unwrap(), "/var/lib/rpm");
        assert_eq!(el9.value("_db_backend").unwrap().as_deref(), Some("sqlite"));
        let mut fedora = el9.clone();
        fedora.load_text(
            "%_dbpath\t\t%{_usr}/lib/sysimage/rpm\n",
            "/usr/lib/rpm/macros.d/x",
        );
        assert_eq!(
            fedora.expand("%{_dbpath}").unwrap(),
            "/usr/lib/sysimage/rpm"
        );
        assert_eq!(fedora.defs["_dbpath"].file, "/usr/lib/rpm/macros.d/x");
    }

    #[test]
    fn conditionals_continuations_and_what_is_not_run() {
        let x = m(
            "%_one\tone\\\n\ttwo\n%_two %{?_one:yes}%{!?_zz:no}%%\n%_sh %(echo hi)\n\
                   %_und %{?_nope}%_undefined_thing\n%_par(o:) %{-o*}\n%_grp {grouped body}\n\
                   %_x short names are refused\n",
        );
        assert_eq!(x.expand("%_one").unwrap(), "one\n\ttwo");
        assert_eq!(x.expand("%{_two}").unwrap(), "yesno%");
        assert!(x.expand("%{_sh}").unwrap_err().contains("shell"));
        assert_eq!(x.expand("%{_und}").unwrap(), "%_undefined_thing");
        assert!(x.expand("%_par").is_err());
        assert_eq!(x.expand("%_grp").unwrap(), "grouped body");
        assert_eq!(x.value("_nope").unwrap(), None);
        assert!(x.expand("%{expand:%_one}").is_err());
        assert_eq!(x.value("_x").unwrap(), None);
        assert!(x.expand("%{_missing}").is_err());
    }
}
