//! Profile errors: every bad input names `file:line:column` and the field, shows the line,
//! and where it helps carries a hint ("did you mean `baseurl`?").

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a profile (or a `.repo` file it names) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The profile or a file it names could not be read (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A syntax error, an unknown field, a wrong type or a bad value, located in its file.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

impl ProfileError {
    /// What the user can do about it, when we know.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ProfileError::Io(_) => None,
            ProfileError::Invalid(d) => d.hint.as_deref(),
        }
    }

    /// The located diagnostic, when the error has a location.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            ProfileError::Io(_) => None,
            ProfileError::Invalid(d) => Some(d),
        }
    }
}

impl From<Diagnostic> for ProfileError {
    fn from(d: Diagnostic) -> Self {
        ProfileError::Invalid(Box::new(d))
    }
}

/// A located error: the file, 1-based line and column (in characters), the field's dotted
/// path (`host[1].mac`, or the key in a `.repo` section: `[baseos] baseurl`), the message,
/// an optional hint and the offending source line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
    /// The text of the offending line (without its newline) and how many characters to
    /// underline from `column`.
    pub source_line: Option<(String, usize)>,
}

impl Diagnostic {
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some((text, width)) = &self.source_line {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            // Tabs keep their width in the underline so the carets line up.
            let want = self.column.saturating_sub(1);
            let mut lead: String = text
                .chars()
                .take(want)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let have = lead.chars().count();
            lead.push_str(&" ".repeat(want - have));
            write!(
                f,
                "\n{pad} |\n{num} | {text}\n{pad} | {lead}{}",
                "^".repeat((*width).max(1))
            )?;
        }
        Ok(())
    }
}

/// A file's text, to turn byte offsets into line:column and show the offending line.
pub(crate) struct SourceText<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl SourceText<'_> {
    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// A diagnostic for the byte range `span` (underlined up to the end of its first line).
    pub fn diag(
        &self,
        span: std::ops::Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = self.line_col(span.start);
        let text = self.text.lines().nth(line - 1).unwrap_or("").to_string();
        let rest = text.chars().count().saturating_sub(column - 1);
        let end = floor_char_boundary(self.text, span.end.min(self.text.len()));
        let start = floor_char_boundary(self.text, span.start.min(end));
        let width = self.text[start..end]
            .chars()
            .take_while(|&c| c != '\n')
            .count()
            .min(rest);
        Diagnostic {
            file: self.path.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
            hint: None,
            source_line: Some((text, width)),
        }
    }

    /// A diagnostic at a 1-based line and column (for the `.repo` parser, which counts lines).
    pub fn diag_at(
        &self,
        line: usize,
        column: usize,
        width: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let text = self
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .to_string();
        Diagnostic {
            file: self.path.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
            hint: None,
            source_line: Some((text, width)),
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), c);
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let st = SourceText {
            path: Path::new("p.toml"),
            text: "a = 1\nnäme = 2\n",
        };
        assert_eq!(st.line_col(0), (1, 1));
        assert_eq!(st.line_col(6), (2, 1));
        // `=` after the two-byte `ä`
        assert_eq!(st.line_col(6 + "näme ".len()), (2, 6));
        let d = st.diag(6..11, "näme", "Unknown field `näme`");
        assert_eq!(
            d.to_string(),
            "p.toml:2:1: Unknown field `näme`\n  |\n2 | näme = 2\n  | ^^^^"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("baseurll", ["id", "baseurl", "mirrorlist"]),
            Some("baseurl")
        );
        assert_eq!(
            did_you_mean("base_url", ["id", "baseurl", "mirrorlist"]),
            Some("baseurl")
        );
        assert_eq!(did_you_mean("zzz", ["id", "baseurl", "mirrorlist"]), None);
    }
}
