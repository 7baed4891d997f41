//! Dependency range matching: does a provide `name op evr` satisfy a require
//! `name op evr`, with the semantics of rpm 4.18's `rpmdsCompare`/`rpmverOverlap`.
//!
//! The rules that matter: an unversioned provide or require matches any version; an epoch
//! missing on one side counts as 0 only when the other side's epoch is non-zero; a release
//! missing on either side is not compared, and then a side without release that includes
//! `=` overlaps the other whatever its release.

use super::vercmp::rpmvercmp;
use super::{DepEvr, Dependency, Evr, Op};
use std::cmp::Ordering;

/// rpm's sense flags: `<`, `>`, `=` as bits, so `<=` is `LESS | EQUAL` and `<>` (seen in
/// old packages and in rpm's own tests) is `LESS | GREATER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sense(u8);

impl Sense {
    pub const LESS: Sense = Sense(1);
    pub const GREATER: Sense = Sense(2);
    pub const EQUAL: Sense = Sense(4);
    pub const ANY: Sense = Sense(0);

    fn has(self, other: Sense) -> bool {
        self.0 & other.0 != 0
    }

    pub fn from_op(op: Option<Op>) -> Sense {
        match op {
            None => Sense::ANY,
            Some(Op::Lt) => Sense::LESS,
            Some(Op::Le) => Sense(Sense::LESS.0 | Sense::EQUAL.0),
            Some(Op::Eq) => Sense::EQUAL,
            Some(Op::Ge) => Sense(Sense::GREATER.0 | Sense::EQUAL.0),
            Some(Op::Gt) => Sense::GREATER,
        }
    }

    /// Parse an operator as rpm spells it in spec files and rich dependencies.
    pub fn parse(s: &str) -> Option<Sense> {
        Some(match s {
            "<" => Sense::LESS,
            "<=" | "=<" => Sense(Sense::LESS.0 | Sense::EQUAL.0),
            "=" | "==" => Sense::EQUAL,
            ">=" | "=>" => Sense(Sense::GREATER.0 | Sense::EQUAL.0),
            ">" => Sense::GREATER,
            "<>" => Sense(Sense::LESS.0 | Sense::GREATER.0),
            _ => return None,
        })
    }

    /// The `Op` of the package record, when this sense has one (`<>` does not).
    pub fn to_op(self) -> Option<Op> {
        Some(match self.0 {
            1 => Op::Lt,
            5 => Op::Le,
            4 => Op::Eq,
            6 => Op::Ge,
            2 => Op::Gt,
            _ => return None,
        })
    }
}

/// Split `[epoch:]version[-release]` as rpm does: the epoch up to the first `:`, the
/// release after the last `-`.
pub fn parse_evr(s: &str) -> DepEvr {
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse::<u32>().ok(), rest)
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

/// The version and release of a dependency EVR split at the last `-`, as rpm splits
/// them. createrepo_c splits at the first `-`: the joined string is the same, the parts
/// are not, so re-split when the release still holds a `-`.
fn rpm_split(evr: &DepEvr) -> (std::borrow::Cow<'_, str>, Option<&str>) {
    match evr.release.as_deref() {
        Some(r) if r.contains('-') => {
            let (head, tail) = r.rsplit_once('-').unwrap_or((r, ""));
            (format!("{}-{}", evr.version, head).into(), Some(tail))
        }
        r => (evr.version.as_str().into(), r),
    }
}

/// Do the ranges `s1 e1` and `s2 e2` overlap (rpm's `rpmverOverlap`)? Either side
/// unversioned means yes.
pub fn overlap(s1: Sense, e1: Option<&DepEvr>, s2: Sense, e2: Option<&DepEvr>) -> bool {
    let (Some(e1), Some(e2)) = (e1, e2) else {
        return true;
    };
    if s1 == Sense::ANY || s2 == Sense::ANY || e1.version.is_empty() || e2.version.is_empty() {
        return true;
    }
    let mut sense = match (e1.epoch, e2.epoch) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(a), None) if a > 0 => Ordering::Greater,
        (None, Some(b)) if b > 0 => Ordering::Less,
        _ => Ordering::Equal,
    };
    if sense == Ordering::Equal {
        let (v1, r1) = rpm_split(e1);
        let (v2, r2) = rpm_split(e2);
        sense = rpmvercmp(&v1, &v2);
        if sense == Ordering::Equal {
            let (r1, r2) = (r1.filter(|r| !r.is_empty()), r2.filter(|r| !r.is_empty()));
            match (r1, r2) {
                (Some(r1), Some(r2)) => sense = rpmvercmp(r1, r2),
                // The side without a release and with `=` covers every release.
                (Some(_), None) if s2.has(Sense::EQUAL) => return true,
                (None, Some(_)) if s1.has(Sense::EQUAL) => return true,
                _ => {}
            }
        }
    }
    match sense {
        Ordering::Less => s1.has(Sense::GREATER) || s2.has(Sense::LESS),
        Ordering::Greater => s1.has(Sense::LESS) || s2.has(Sense::GREATER),
        Ordering::Equal => {
            (s1.has(Sense::EQUAL) && s2.has(Sense::EQUAL))
                || (s1.has(Sense::LESS) && s2.has(Sense::LESS))
                || (s1.has(Sense::GREATER) && s2.has(Sense::GREATER))
        }
    }
}

/// Does `provide` satisfy `require`? Names must be equal; then the ranges must overlap.
pub fn provide_satisfies(provide: &Dependency, require: &Dependency) -> bool {
    provide.name == require.name
        && overlap(
            Sense::from_op(provide.op),
            provide.evr.as_ref(),
            Sense::from_op(require.op),
            require.evr.as_ref(),
        )
}

/// The package's own EVR as a dependency EVR (`name = E:V-R`).
pub fn evr_as_dep(evr: &Evr) -> DepEvr {
    DepEvr {
        epoch: Some(evr.epoch),
        version: evr.version.clone(),
        release: Some(evr.release.clone()),
    }
}

/// Does a package of version `evr` fall in the range `sense req` (for Obsoletes, which
/// match package names and versions, not provides)?
pub fn evr_in_range(evr: &Evr, sense: Sense, req: Option<&DepEvr>) -> bool {
    overlap(Sense::EQUAL, Some(&evr_as_dep(evr)), sense, req)
}

#[cfg(test)]
pub(crate) fn parse_dep(s: &str) -> Dependency {
    let parts: Vec<&str> = s.split_whitespace().collect();
    match parts.as_slice() {
        [name] => Dependency {
            name: name.to_string(),
            op: None,
            evr: None,
            pre: false,
        },
        [name, op, evr] => Dependency {
            name: name.to_string(),
            op: Sense::parse(op).and_then(Sense::to_op),
            evr: Some(parse_evr(evr)),
            pre: false,
        },
        _ => panic!("bad dep {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse `name op evr` keeping `<>`, which the package record's `Op` cannot hold.
    fn sense_dep(s: &str) -> (String, Sense, Option<DepEvr>) {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [name] => (name.to_string(), Sense::ANY, None),
            [name, op, evr] => (
                name.to_string(),
                Sense::parse(op).expect("op"),
                Some(parse_evr(evr)),
            ),
            _ => panic!("bad dep {s}"),
        }
    }

    #[test]
    fn release_and_epoch_rules() {
        let m = |p: &str, r: &str| provide_satisfies(&parse_dep(p), &parse_dep(r));
        assert!(m("a = 1.2-1", "a >= 1.2"));
        assert!(
            m("a = 1.2", "a < 1.2-1"),
            "a provide without release and with = covers all"
        );
        assert!(m("a = 1:1.0", "a >= 2.0"), "an epoch beats a missing one");
        assert!(!m("a = 1.0", "a >= 1:0.5"));
        assert!(m("a = 1.0", "a >= 0:1.0"));
        assert!(m("a", "a >= 7"));
        assert!(!m("b", "a"));
        // createrepo_c's split at the first '-' must still compare as rpm's last-'-' split.
        let mut odd = parse_dep("a = 1.2-3");
        odd.evr = Some(DepEvr {
            epoch: None,
            version: "1.2".into(),
            release: Some("3-4".into()),
        });
        assert!(provide_satisfies(&odd, &parse_dep("a = 1.2-3-4")));
    }

    /// Every row of the shared depmatch table (all checked against librpm 4.18's
    /// rpmdsCompare).
    #[test]
    fn depmatch_table() {
        let Some(dir) = std::env::var_os("DISKLESS_FIXTURES") else {
            eprintln!("DISKLESS_FIXTURES unset: skipping");
            return;
        };
        let path = std::path::Path::new(&dir).join("derived/depmatch-cases.tsv");
        let text = fs_err::read_to_string(&path).expect("read depmatch table");
        let mut failures = Vec::new();
        let mut checked = 0;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (pn, ps, pe) = sense_dep(cols[0]);
            let (rn, rs, re) = sense_dep(cols[1]);
            let want = cols[2] == "1";
            let got = pn == rn && overlap(ps, pe.as_ref(), rs, re.as_ref());
            if got != want {
                failures.push(format!("{} vs {}: want {want}", cols[0], cols[1]));
            }
            checked += 1;
        }
        assert!(checked > 150, "only {checked} rows");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
