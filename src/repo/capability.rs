//! Capabilities as users type them (`glibc >= 2.34`, `libc.so.6()(64bit)`, `/bin/sh`),
//! for `repoquery --whatprovides`. Matching uses `package`'s rpm rules.

use crate::package::{Dependency, Sense, parse_evr};

/// Parse a capability as dnf takes it on the command line: `name`, or `name OP evr`
/// (the EVR split as rpm splits it: epoch to the first `:`, release after the last `-`).
pub fn parse_capability(s: &str) -> Dependency {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if let [name, op, evr] = parts.as_slice() {
        // rpm's operator spellings; `<>` has no `Op`, so such text stays one plain name.
        if let Some(op) = Sense::parse(op).and_then(Sense::to_op) {
            return Dependency {
                name: name.to_string(),
                op: Some(op),
                evr: Some(parse_evr(evr)),
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
    use crate::package::provide_satisfies;

    #[test]
    fn parses_and_matches_like_dnf() {
        let c = parse_capability;
        assert_eq!(c("x >= 1:2.3-4.el9").to_string(), "x >= 1:2.3-4.el9");
        assert_eq!(c("libc.so.6()(64bit)").op, None);
        assert!(provide_satisfies(
            &c("glibc = 2.34-21.el9"),
            &c("glibc >= 2.34")
        ));
        assert!(!provide_satisfies(
            &c("glibc = 2.34-21.el9"),
            &c("glibc > 2.34")
        ));
        assert!(provide_satisfies(&c("glibc = 2.34-21.el9"), &c("glibc")));
    }
}
