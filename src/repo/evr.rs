//! rpm version comparison for repository queries (whatprovides with a version).
//!
//! A small local copy of rpm's rules, written from rpm's documented behaviour; `solve`
//! owns the canonical implementation, and this one goes once that lands on main.

use crate::package::{DepEvr, Dependency, Evr, Op};
use std::cmp::Ordering;

/// rpm's rpmvercmp: alternating numeric and alphabetic segments; `~` sorts before
/// anything (even the end), `^` after the end but before anything else.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while a.first().is_some_and(|&c| sep(c)) {
            a = &a[1..];
        }
        while b.first().is_some_and(|&c| sep(c)) {
            b = &b[1..];
        }
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (Some(b'^'), Some(_)) => return Ordering::Less,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(_), Some(b'^')) => return Ordering::Greater,
            (None, _) | (_, None) => break,
            _ => {}
        }
        let numeric = a[0].is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (la, lb) = (take(a), take(b));
        let (sa, sb) = (&a[..la], &b[..lb]);
        if sb.is_empty() {
            // Segments of different types: numeric is newer.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let trim = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
            let (ta, tb) = (&sa[trim(sa)..], &sb[trim(sb)..]);
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[la..];
        b = &b[lb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

/// Compare two dependency EVRs: a missing epoch counts as 0, and the release is compared
/// only when both sides have one (`foo >= 1.0` matches any release of 1.0).
pub fn compare_dep_evr(a: &DepEvr, b: &DepEvr) -> Ordering {
    a.epoch
        .unwrap_or(0)
        .cmp(&b.epoch.unwrap_or(0))
        .then_with(|| rpmvercmp(&a.version, &b.version))
        .then_with(|| match (&a.release, &b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            _ => Ordering::Equal,
        })
}

/// A package's EVR as a fully specified dependency EVR.
pub fn dep_evr(e: &Evr) -> DepEvr {
    DepEvr {
        epoch: Some(e.epoch),
        version: e.version.clone(),
        release: Some(e.release.clone()),
    }
}

fn has(op: Op, less: bool, equal: bool, greater: bool) -> bool {
    match op {
        Op::Lt => less,
        Op::Le => less || equal,
        Op::Eq => equal,
        Op::Ge => greater || equal,
        Op::Gt => greater,
    }
}

/// Whether two versioned ranges on the same name overlap (rpm's rpmdsCompare); an
/// unversioned side matches anything.
pub fn ranges_overlap(a: &Dependency, b: &Dependency) -> bool {
    let (Some(aop), Some(aevr), Some(bop), Some(bevr)) = (a.op, &a.evr, b.op, &b.evr) else {
        return true;
    };
    let lt = |op| has(op, true, false, false);
    let eq = |op| has(op, false, true, false);
    let gt = |op| has(op, false, false, true);
    match compare_dep_evr(aevr, bevr) {
        Ordering::Less => gt(aop) || lt(bop),
        Ordering::Greater => lt(aop) || gt(bop),
        Ordering::Equal => (eq(aop) && eq(bop)) || (lt(aop) && lt(bop)) || (gt(aop) && gt(bop)),
    }
}

/// Parse `[E:]V[-R]` as a user writes it (split at the last `-`, as rpm does).
pub fn parse_dep_evr(s: &str) -> DepEvr {
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().ok(), r)
        }
        _ => (None, s),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((v, r)) => (v.to_string(), Some(r.to_string())),
        None => (rest.to_string(), None),
    };
    DepEvr {
        epoch,
        version,
        release,
    }
}

/// Parse a capability as dnf takes it on the command line: `name`, or `name OP evr`
/// (`glibc >= 2.34`, `libc.so.6()(64bit)`).
pub fn parse_capability(s: &str) -> Dependency {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if let [name, op, evr] = parts.as_slice() {
        let op = match *op {
            "<" => Some(Op::Lt),
            "<=" | "=<" => Some(Op::Le),
            "=" | "==" => Some(Op::Eq),
            ">=" | "=>" => Some(Op::Ge),
            ">" => Some(Op::Gt),
            _ => None,
        };
        if let Some(op) = op {
            return Dependency {
                name: name.to_string(),
                op: Some(op),
                evr: Some(parse_dep_evr(evr)),
                pre: false,
            };
        }
    }
    Dependency {
        name: s.trim().to_string(),
        op: None,
        evr: None,
        pre: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpmvercmp_cases_from_rpm_tests() {
        // Rows of rpm's tests/rpmvercmp.at.
        for (a, b, want) in [
            ("1.0", "1.0", 0),
            ("1.0", "2.0", -1),
            ("2.0.1a", "2.0.1", 1),
            ("5.5p1", "5.5p10", -1),
            ("10xyz", "10.1xyz", -1),
            ("xyz10", "xyz10.1", -1),
            ("1.0aa", "1.0a", 1),
            ("1.010", "1.9", 1),
            ("1.0~rc1", "1.0", -1),
            ("1.0~rc1", "1.0~rc1~git123", 1),
            ("1.0^", "1.0", 1),
            ("1.0^git1", "1.01", -1),
            ("1.0^git1~pre", "1.0^git1", -1),
            ("a+", "a_", 0),
            ("+a", "_a", 0),
        ] {
            assert_eq!(rpmvercmp(a, b) as i32, want, "{a} vs {b}");
        }
    }

    #[test]
    fn range_overlap() {
        let c = parse_capability;
        assert!(ranges_overlap(
            &c("glibc = 2.34-21.el9"),
            &c("glibc >= 2.34")
        ));
        assert!(!ranges_overlap(
            &c("glibc = 2.34-21.el9"),
            &c("glibc > 2.34")
        ));
        assert!(ranges_overlap(&c("glibc = 2.34-21.el9"), &c("glibc")));
        assert!(ranges_overlap(&c("a = 1:1.0"), &c("a > 1.5")));
        assert!(!ranges_overlap(&c("a < 1.0"), &c("a > 1.0")));
        assert_eq!(c("x >= 1:2.3-4.el9").to_string(), "x >= 1:2.3-4.el9");
    }
}
