//! The `diskless` binary: parse arguments, set up logging, run a command, and print
//! errors as `error:` / `Caused by:` / `hint:` lines. Exit 1 for user errors, 2 for bugs.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::logging::init(args.global.verbose, args.global.quiet, args.global.color);
    // A panic is a bug of ours, not the user's: say so and exit 2.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (a bug in diskless, please report it): {info}");
    }));
    match std::panic::catch_unwind(|| cli::run(args)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            cli::hint::print_error(&err);
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(2),
    }
}
