//! Logs go to stderr through `tracing`; stdout carries data only.

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, quiet: u8) {
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
        .with_target(false)
        .without_time()
        .try_init();
}

/// Whether progress bars should be drawn: stderr is a terminal and not `-q`.
pub fn show_progress(quiet: u8) -> bool {
    use std::io::IsTerminal;
    quiet == 0 && std::io::stderr().is_terminal()
}
