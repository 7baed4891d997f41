//! Logs go to stderr through `tracing`; stdout carries data only. Colour only where a
//! person reads it: on a terminal, unless `NO_COLOR` is set (no-color.org), or as
//! `--color` says.

use tracing_subscriber::EnvFilter;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// When stderr is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether log lines carry ANSI colour codes, given the environment's `NO_COLOR` and
    /// whether stderr is a terminal.
    pub fn ansi(self, no_color: Option<&std::ffi::OsStr>, terminal: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => terminal && no_color.is_none_or(|v| v.is_empty()),
        }
    }
}

pub fn init(verbose: u8, quiet: u8, color: Color) {
    use std::io::IsTerminal;
    let ansi = color.ansi(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stderr().is_terminal(),
    );
    let level = match (quiet, verbose) {
        (q, _) if q >= 2 => "error",
        (1, _) => "warn",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    // RUST_LOG wins when set, for debugging one module.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "diskless={level},{}",
            if verbose >= 3 { "debug" } else { "warn" }
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Whether progress bars should be drawn: stderr is a terminal and not `-q`.
pub fn show_progress(quiet: u8) -> bool {
    use std::io::IsTerminal;
    quiet == 0 && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::Color;
    use std::ffi::OsStr;

    #[test]
    fn colour_follows_the_terminal_no_color_and_the_flag() {
        assert!(Color::Auto.ansi(None, true));
        assert!(!Color::Auto.ansi(None, false));
        assert!(!Color::Auto.ansi(Some(OsStr::new("1")), true));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(Color::Auto.ansi(Some(OsStr::new("")), true));
        assert!(Color::Always.ansi(Some(OsStr::new("1")), false));
        assert!(!Color::Never.ansi(None, true));
    }
}
