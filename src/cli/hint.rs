//! Errors with hints: `error:` then `Caused by:` lines, then `hint:` lines the user can act on.

use std::fmt;

/// An error that carries a hint. It displays as its source does, so the chain prints
/// each message once; the hint is printed last by [`print_error`].
#[derive(Debug)]
pub struct Hinted {
    pub hint: String,
    pub inner: anyhow::Error,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// Attach a hint to an error.
pub fn hint(err: impl Into<anyhow::Error>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        hint: hint.into(),
        inner: err.into(),
    })
}

/// `result.hint("run `diskless lock`")`.
pub trait HintExt<T> {
    fn hint(self, hint: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> HintExt<T> for Result<T, E> {
    fn hint(self, h: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| hint(e, h))
    }
}

pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    let mut hints = Vec::new();
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            hints.push(h.hint.clone());
        }
    }
    for cause in err.chain().skip(1) {
        // A Hinted wrapper displays as the error it wraps: don't print that twice.
        if cause.downcast_ref::<Hinted>().is_some() {
            continue;
        }
        eprintln!("  Caused by: {cause}");
    }
    for h in hints {
        eprintln!("hint: {h}");
    }
}
