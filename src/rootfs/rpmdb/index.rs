//! The rows rpm puts in its index tables for one installed header (lib/rpmdb.c,
//! `tag2index` and `updateRichDep`, rpm 4.16 to 4.20).
//!
//! Each index table holds (key, hnum, idx): the key is one value of the tag (a string for
//! string tags; the value's bytes in host order, little-endian here, for numbers; the
//! bytes for binary tags), idx its position in the tag's array. Exceptions, as in rpm:
//! install-only prerequisites (`Requires(pre)`, `rpmlib(...)`, ...) are not in
//! Requirename; a trigger name is indexed once, at its first position; file trigger names
//! carry their trigger's index instead of their position; a package without a Group is
//! indexed under `Unknown`; and a rich dependency (`(a if b)`) is indexed whole and under
//! each package name it mentions (`!`-prefixed where negated), sorted and deduplicated.

use super::blob::{RawHeader, tag};

/// The index tables in rpm's order (`dbiTags` of lib/rpmdb.c), with their tag and
/// whether the key is text (string tags) or a blob.
pub const TABLES: [(&str, u32, bool); 18] = [
    ("Name", tag::NAME, true),
    ("Basenames", tag::BASENAMES, true),
    ("Group", tag::GROUP, true),
    ("Requirename", tag::REQUIRENAME, true),
    ("Providename", tag::PROVIDENAME, true),
    ("Conflictname", tag::CONFLICTNAME, true),
    ("Obsoletename", tag::OBSOLETENAME, true),
    ("Triggername", tag::TRIGGERNAME, true),
    ("Dirnames", tag::DIRNAMES, true),
    ("Installtid", tag::INSTALLTID, false),
    ("Sigmd5", tag::SIGMD5, false),
    ("Sha1header", tag::SHA1HEADER, true),
    ("Filetriggername", tag::FILETRIGGERNAME, true),
    ("Transfiletriggername", tag::TRANSFILETRIGGERNAME, true),
    ("Recommendname", tag::RECOMMENDNAME, true),
    ("Suggestname", tag::SUGGESTNAME, true),
    ("Supplementname", tag::SUPPLEMENTNAME, true),
    ("Enhancename", tag::ENHANCENAME, true),
];

/// Whether rpm's tag is an array (rpm then also indexes the table by hnum).
pub fn is_array(t: u32) -> bool {
    !matches!(
        t,
        tag::NAME | tag::GROUP | tag::INSTALLTID | tag::SIGMD5 | tag::SHA1HEADER
    )
}

/// RPMSENSE bits of `isTransientReq` (lib/rpmds.h): install-only prerequisites.
mod sense {
    pub const PREREQ: u32 = 1 << 6;
    pub const SCRIPT_PRE: u32 = 1 << 9;
    pub const SCRIPT_POST: u32 = 1 << 10;
    pub const SCRIPT_PREUN: u32 = 1 << 11;
    pub const SCRIPT_POSTUN: u32 = 1 << 12;
    pub const PRETRANS: u32 = 1 << 7;
    pub const POSTTRANS: u32 = 1 << 5;
    pub const RPMLIB: u32 = 1 << 24;
    pub const KEYRING: u32 = 1 << 26;
    pub const META: u32 = 1 << 29;
    pub const INSTALL_ONLY: u32 =
        (SCRIPT_PRE | SCRIPT_POST | RPMLIB | KEYRING | PRETRANS | POSTTRANS) & !PREREQ;
    pub const ERASE_ONLY: u32 = (SCRIPT_PREUN | SCRIPT_POSTUN) & !PREREQ;
}

fn is_transient(flags: u32) -> bool {
    flags & sense::INSTALL_ONLY != 0 && flags & sense::ERASE_ONLY == 0 && flags & sense::META == 0
}

/// One row: key bytes and idx (hnum is the package's).
pub type Row = (Vec<u8>, u32);

/// The rows of table `t` (a tag of [`TABLES`]) for header `h` (as installed: with the
/// signature tags and the install-time tags).
pub fn rows(h: &RawHeader, t: u32) -> Vec<Row> {
    let mut out = Vec::new();
    match t {
        tag::INSTALLTID => {
            // An INT32 key is the value as the host holds it: little-endian on the
            // architectures diskless builds for.
            for (i, v) in h.u32s(t).into_iter().enumerate() {
                out.push((v.to_le_bytes().to_vec(), i as u32));
            }
        }
        tag::SIGMD5 => {
            if let Some(b) = h.bin(t) {
                out.push((b.to_vec(), 0));
            }
        }
        _ => {
            let values = h.strings(t);
            if values.is_empty() {
                if t == tag::GROUP {
                    out.push((b"Unknown".to_vec(), 0));
                }
                return out;
            }
            let flags = if t == tag::REQUIRENAME {
                h.u32s(tag::REQUIREFLAGS)
            } else {
                Vec::new()
            };
            let trigger_index = match t {
                tag::FILETRIGGERNAME => h.u32s(tag::FILETRIGGERINDEX),
                tag::TRANSFILETRIGGERNAME => h.u32s(tag::TRANSFILETRIGGERINDEX),
                _ => Vec::new(),
            };
            for (i, v) in values.iter().enumerate() {
                let idx = match t {
                    tag::FILETRIGGERNAME | tag::TRANSFILETRIGGERNAME => {
                        trigger_index.get(i).copied().unwrap_or(0)
                    }
                    _ => i as u32,
                };
                if t == tag::REQUIRENAME && flags.get(i).is_some_and(|&f| is_transient(f)) {
                    continue;
                }
                if t == tag::TRIGGERNAME && values[..i].contains(v) {
                    continue;
                }
                out.push((v.to_vec(), idx));
                let rich_tags = [
                    tag::REQUIRENAME,
                    tag::CONFLICTNAME,
                    tag::SUGGESTNAME,
                    tag::SUPPLEMENTNAME,
                    tag::RECOMMENDNAME,
                    tag::ENHANCENAME,
                ];
                if v.first() == Some(&b'(') && rich_tags.contains(&t) {
                    for name in rich_names(v) {
                        out.push((name, idx));
                    }
                }
            }
        }
    }
    out
}

/// The names `updateRichDep` indexes for a rich dependency: every simple dependency's
/// name but `rpmlib(...)`, prefixed `!` where an `if`/`unless` condition negates it (and
/// an `else` branch repeats the condition inverted), sorted, without duplicates. Empty
/// when it does not parse (rpm then indexes only the whole string).
pub fn rich_names(dep: &[u8]) -> Vec<Vec<u8>> {
    let mut w = Walk {
        s: dep,
        pos: 0,
        argv: Vec::new(),
        neg: false,
        levels: Vec::new(),
    };
    if w.rich().is_err() {
        return Vec::new();
    }
    let mut argv = w.argv;
    argv.sort();
    argv.dedup();
    argv.into_iter()
        .map(|mut n| {
            if n.first() == Some(&b' ') {
                n.remove(0);
            }
            n
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Single,
    And,
    Or,
    If,
    Unless,
    Else,
    With,
    Without,
}

/// rpm's `rpmrichParseInternal` with the `updateRichDepCB` callback folded in.
struct Walk<'a> {
    s: &'a [u8],
    pos: usize,
    argv: Vec<Vec<u8>>,
    neg: bool,
    /// `nargv_level`: where each open level's current condition block starts.
    levels: Vec<usize>,
}

fn white(c: u8) -> bool {
    c.is_ascii_whitespace() || c == b','
}

impl Walk<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }
    fn skip_white(&mut self) {
        while self.pos < self.s.len() && white(self.s[self.pos]) {
            self.pos += 1;
        }
    }
    /// SKIPNONWHITEX: a token, with balanced parentheses inside it.
    fn token(&mut self) -> &[u8] {
        let start = self.pos;
        let mut bl = 0i32;
        while self.pos < self.s.len() {
            let c = self.s[self.pos];
            if white(c) {
                break;
            }
            if c == b')' {
                let stop = bl <= 0;
                bl -= 1;
                if stop {
                    break;
                }
            }
            self.pos += 1;
            if c == b'(' {
                bl += 1;
            }
        }
        &self.s[start..self.pos]
    }

    /// One parenthesised level; returns rpm's check bits (`RICHPARSE_NO_WITH`: a
    /// `with`/`without` may not contain `and`, `if` and the like).
    fn rich(&mut self) -> Result<bool, ()> {
        self.levels.push(self.argv.len());
        let mut no_with = false;
        let mut first = Op::Single;
        if self.peek() != b'(' {
            return Err(());
        }
        self.pos += 1;
        let mut op = Op::Single;
        let mut chain: Option<Op> = None;
        loop {
            self.skip_white();
            match self.peek() {
                b')' | 0 => return Err(()),
                b'(' => no_with |= self.rich()?,
                _ => self.simple()?,
            }
            self.skip_white();
            match self.peek() {
                0 => return Err(()),
                b')' => break,
                _ => {}
            }
            let start = self.pos;
            while self.pos < self.s.len()
                && !self.s[self.pos].is_ascii_whitespace()
                && self.s[self.pos] != b')'
            {
                self.pos += 1;
            }
            op = match &self.s[start..self.pos] {
                b"and" => Op::And,
                b"or" => Op::Or,
                b"if" => Op::If,
                b"unless" => Op::Unless,
                b"else" => Op::Else,
                b"with" => Op::With,
                b"without" => Op::Without,
                _ => return Err(()),
            };
            if first == Op::Single {
                first = op;
            }
            if op == Op::Else && matches!(chain, Some(Op::If | Op::Unless)) {
                chain = None;
            }
            if let Some(c) = chain {
                if c != op || !matches!(op, Op::And | Op::Or | Op::With) {
                    return Err(());
                }
            }
            self.on_op(op);
            chain = Some(op);
        }
        if matches!(first, Op::With | Op::Without) && no_with {
            return Err(());
        }
        if !matches!(op, Op::Single | Op::With | Op::Without | Op::Or) {
            no_with = true;
        }
        self.pos += 1;
        if matches!(op, Op::If | Op::Unless) {
            self.neg = !self.neg;
        }
        self.levels.pop();
        Ok(no_with)
    }

    fn on_op(&mut self, op: Op) {
        let level = self.levels.len() - 1;
        match op {
            Op::If | Op::Unless => {
                self.levels[level] = self.argv.len();
                self.neg = !self.neg;
            }
            Op::Else => {
                let copies: Vec<Vec<u8>> = self.argv[self.levels[level]..]
                    .iter()
                    .map(|n| {
                        let mut n = n.clone();
                        n[0] = if n[0] == b' ' { b'!' } else { b' ' };
                        n
                    })
                    .collect();
                self.argv.extend(copies);
                self.neg = !self.neg;
            }
            _ => {}
        }
    }

    fn simple(&mut self) -> Result<(), ()> {
        let name = self.token().to_vec();
        if name.is_empty() {
            return Err(());
        }
        self.skip_white();
        // An optional comparison and version.
        let save = self.pos;
        let op = self.token().to_vec();
        if matches!(
            &op[..],
            b"<" | b">" | b"=" | b"<=" | b">=" | b"==" | b"=<" | b"=>"
        ) {
            self.skip_white();
            if self.token().is_empty() {
                return Err(());
            }
        } else {
            self.pos = save;
        }
        if !(name.len() > 7 && name.starts_with(b"rpmlib(")) {
            let mut n = vec![if self.neg { b'!' } else { b' ' }];
            n.extend_from_slice(&name);
            self.argv.push(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        rich_names(s.as_bytes())
            .into_iter()
            .map(|n| String::from_utf8(n).unwrap())
            .collect()
    }

    /// Cases checked against rpm 4.18's Requirename table (tests/it/rpmdb.rs does it live).
    #[test]
    fn rich_dependency_names() {
        assert_eq!(names("(a or b)"), ["a", "b"]);
        assert_eq!(names("(a >= 1.0 and (b or c < 2))"), ["a", "b", "c"]);
        assert_eq!(names("(a if b)"), ["a", "!b"]);
        assert_eq!(names("(a if b else c)"), ["a", "b", "c", "!b"]);
        assert_eq!(names("(a unless b)"), ["a", "!b"]);
        assert_eq!(names("((a if b) and c)"), ["a", "c", "!b"]);
        assert_eq!(names("(foo(x86-64) with bar)"), ["bar", "foo(x86-64)"]);
        assert_eq!(names("(a or rpmlib(Foo))"), ["a"]);
        assert_eq!(names("(a or a)"), ["a"]);
        assert!(names("(a or b and c)").is_empty(), "mixed ops do not parse");
        assert!(names("(a").is_empty());
        assert!(names("((a and b) with c)").is_empty());
        assert_eq!(names("((a or b) with c)"), ["a", "b", "c"]);
    }

    #[test]
    fn transient_requires() {
        assert!(is_transient(sense::SCRIPT_PRE | sense::PREREQ));
        assert!(is_transient(sense::RPMLIB));
        assert!(!is_transient(sense::SCRIPT_PRE | sense::SCRIPT_PREUN));
        assert!(!is_transient(sense::PREREQ));
        assert!(!is_transient(0));
    }
}
