//! Rich (boolean) dependencies: the parser for rpm's grammar
//! `(A and B)`, `(A or B)`, `(A if B)`, `(A if B else C)`, `(A unless B)`,
//! `(A unless B else C)`, `(A with B)`, `(A without B)`, nested in parentheses, with
//! versioned atoms (`(foo >= 1.0 with foo < 2)`).
//!
//! As in rpm, `and`, `or` and `with` may chain (`(a or b or c)`) but different operators
//! may not be mixed without parentheses, and `if`/`unless` take two operands and an
//! optional `else`. Names may contain balanced parentheses (`libfoo.so.1()(64bit)`).

use super::Dependency;
use super::depmatch::{Sense, parse_evr};

/// A parsed rich dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rich {
    Atom(Dependency),
    And(Vec<Rich>),
    Or(Vec<Rich>),
    /// One package satisfying every operand.
    With(Vec<Rich>),
    /// One package satisfying the first operand and not the second.
    Without(Box<Rich>, Box<Rich>),
    /// `then if cond [else otherwise]`.
    If {
        then: Box<Rich>,
        cond: Box<Rich>,
        otherwise: Option<Box<Rich>>,
    },
    /// `then unless cond [else otherwise]`.
    Unless {
        then: Box<Rich>,
        cond: Box<Rich>,
        otherwise: Option<Box<Rich>>,
    },
}

/// A rich dependency that does not parse; `offset` is a byte offset into `text`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid rich dependency `{text}` at offset {offset}: {message}")]
pub struct RichError {
    pub text: String,
    pub offset: usize,
    pub message: String,
}

const KEYWORDS: [&str; 8] = [
    "and", "or", "if", "else", "unless", "with", "without", "__never",
];

/// Parse a rich dependency (the whole text, starting with `(`).
pub fn parse(text: &str) -> Result<Rich, RichError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    p.skip_ws();
    if p.peek() != Some(b'(') {
        return Err(p.err("a rich dependency starts with `(`"));
    }
    let rich = p.group()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.err("unexpected text after the closing `)`"));
    }
    Ok(rich)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> RichError {
        RichError {
            text: self.text.to_string(),
            offset: self.pos,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// A bare word: up to whitespace or an unbalanced `)`.
    fn word(&mut self) -> &str {
        let start = self.pos;
        let mut depth = 0i32;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                break;
            }
            if c == b'(' {
                depth += 1;
            } else if c == b')' {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// `(` expr `)`.
    fn group(&mut self) -> Result<Rich, RichError> {
        self.pos += 1; // the '('
        let first = self.operand()?;
        self.skip_ws();
        let result = if self.peek() == Some(b')') {
            first
        } else {
            let at = self.pos;
            let op = self.word().to_string();
            match op.as_str() {
                "and" | "or" | "with" => {
                    let mut items = vec![first, self.operand()?];
                    loop {
                        self.skip_ws();
                        if self.peek() == Some(b')') {
                            break;
                        }
                        if self.peek().is_none() {
                            return Err(self.err("unterminated rich dependency: missing `)`"));
                        }
                        let at = self.pos;
                        let next = self.word().to_string();
                        if next != op {
                            self.pos = at;
                            return Err(self.err(&format!(
                                "`{next}` after `{op}`: use parentheses to mix operators"
                            )));
                        }
                        items.push(self.operand()?);
                    }
                    match op.as_str() {
                        "and" => Rich::And(items),
                        "or" => Rich::Or(items),
                        _ => Rich::With(items),
                    }
                }
                "without" => Rich::Without(Box::new(first), Box::new(self.operand()?)),
                "if" | "unless" => {
                    let cond = Box::new(self.operand()?);
                    self.skip_ws();
                    let otherwise = if self.peek() == Some(b')') || self.peek().is_none() {
                        None
                    } else {
                        let at = self.pos;
                        let next = self.word().to_string();
                        if next != "else" {
                            self.pos = at;
                            return Err(
                                self.err(&format!("expected `else` or `)`, found `{next}`"))
                            );
                        }
                        Some(Box::new(self.operand()?))
                    };
                    let then = Box::new(first);
                    if op == "if" {
                        Rich::If {
                            then,
                            cond,
                            otherwise,
                        }
                    } else {
                        Rich::Unless {
                            then,
                            cond,
                            otherwise,
                        }
                    }
                }
                "" => return Err(self.err("unterminated rich dependency: missing `)`")),
                other => {
                    self.pos = at;
                    return Err(self.err(&format!("expected an operator, found `{other}`")));
                }
            }
        };
        self.skip_ws();
        match self.peek() {
            Some(b')') => {
                self.pos += 1;
                Ok(result)
            }
            None => Err(self.err("unterminated rich dependency: missing `)`")),
            Some(_) => {
                let w = self.word().to_string();
                Err(self.err(&format!("expected `)`, found `{w}`")))
            }
        }
    }

    /// A nested group or an atom `name [op evr]`.
    fn operand(&mut self) -> Result<Rich, RichError> {
        self.skip_ws();
        match self.peek() {
            None => return Err(self.err("unexpected end: an operand is missing")),
            Some(b'(') => return self.group(),
            Some(b')') => return Err(self.err("an operand is missing before `)`")),
            _ => {}
        }
        let at = self.pos;
        let name = self.word().to_string();
        if KEYWORDS.contains(&name.as_str()) {
            self.pos = at;
            return Err(self.err(&format!(
                "expected a package name, found the operator `{name}`"
            )));
        }
        // An optional comparison.
        let save = self.pos;
        self.skip_ws();
        let op_at = self.pos;
        let op_word = self.word().to_string();
        let Some(sense) = Sense::parse(&op_word) else {
            self.pos = save;
            return Ok(Rich::Atom(Dependency {
                name,
                op: None,
                evr: None,
                pre: false,
            }));
        };
        let Some(op) = sense.to_op() else {
            self.pos = op_at;
            return Err(self.err(&format!("the comparison `{op_word}` is not allowed here")));
        };
        self.skip_ws();
        let evr_at = self.pos;
        let evr = self.word().to_string();
        if evr.is_empty() || KEYWORDS.contains(&evr.as_str()) {
            self.pos = evr_at;
            return Err(self.err(&format!("a version is missing after `{op_word}`")));
        }
        Ok(Rich::Atom(Dependency {
            name,
            op: Some(op),
            evr: Some(parse_evr(&evr)),
            pre: false,
        }))
    }
}

impl std::fmt::Display for Rich {
    /// Printed back in rpm's syntax, fully parenthesised.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, items: &[Rich], op: &str| {
            f.write_str("(")?;
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{it}")?;
            }
            f.write_str(")")
        };
        match self {
            Rich::Atom(d) => write!(f, "{d}"),
            Rich::And(v) => join(f, v, "and"),
            Rich::Or(v) => join(f, v, "or"),
            Rich::With(v) => join(f, v, "with"),
            Rich::Without(a, b) => write!(f, "({a} without {b})"),
            Rich::If {
                then,
                cond,
                otherwise,
            }
            | Rich::Unless {
                then,
                cond,
                otherwise,
            } => {
                let kw = if matches!(self, Rich::If { .. }) {
                    "if"
                } else {
                    "unless"
                };
                write!(f, "({then} {kw} {cond}")?;
                if let Some(o) = otherwise {
                    write!(f, " else {o}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        parse(s).unwrap_or_else(|e| panic!("{e}")).to_string()
    }

    #[test]
    fn every_operator_parses() {
        let cases = [
            ("(a and b)", "(a and b)"),
            ("(a or b or c)", "(a or b or c)"),
            ("(a if b)", "(a if b)"),
            ("(a if b else c)", "(a if b else c)"),
            ("(a unless b)", "(a unless b)"),
            ("(a unless b else c)", "(a unless b else c)"),
            ("(foo >= 1.0 with foo < 2)", "(foo >= 1.0 with foo < 2)"),
            ("(a without b)", "(a without b)"),
            ("((a or b) and (c if d))", "((a or b) and (c if d))"),
            (
                "(libfoo.so.1()(64bit) or bar)",
                "(libfoo.so.1()(64bit) or bar)",
            ),
            (
                "(python3.11dist(foo) >= 1:2.0-3 and (b))",
                "(python3.11dist(foo) >= 1:2.0-3 and b)",
            ),
            ("( a  and  b )", "(a and b)"),
        ];
        for (input, want) in cases {
            assert_eq!(round(input), want, "{input}");
        }
        let Rich::Atom(d) = parse("(foo >= 1:2.0-3)").unwrap() else {
            panic!()
        };
        assert_eq!(d.evr.unwrap().epoch, Some(1));
    }

    #[test]
    fn errors_name_the_place() {
        let cases = [
            (
                "(a and b or c)",
                9,
                "`or` after `and`: use parentheses to mix operators",
            ),
            ("(a and b", 8, "unterminated rich dependency: missing `)`"),
            ("(a foo b)", 3, "expected an operator, found `foo`"),
            (
                "(and b)",
                1,
                "expected a package name, found the operator `and`",
            ),
            ("(a if b then c)", 8, "expected `else` or `)`, found `then`"),
            ("(a >= )", 6, "a version is missing after `>=`"),
            ("(a) b", 4, "unexpected text after the closing `)`"),
            ("a and b", 0, "a rich dependency starts with `(`"),
        ];
        for (input, offset, message) in cases {
            let e = parse(input).expect_err(input);
            assert_eq!((e.offset, e.message.as_str()), (offset, message), "{input}");
        }
        assert_eq!(
            parse("(a and b or c)").unwrap_err().to_string(),
            "Invalid rich dependency `(a and b or c)` at offset 9: `or` after `and`: use parentheses to mix operators"
        );
    }
}
