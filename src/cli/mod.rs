//! Command-line interface: clap definitions, one file per subcommand.

pub mod boot_test;
pub mod build;
pub mod cache;
pub mod diff;
pub mod fetch;
pub mod hint;
pub mod lock;
pub mod logging;
pub mod profile;
pub mod push;
pub mod repoquery;
pub mod sbom;
pub mod verify;
pub mod why;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "diskless", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// More log output (-v info, -vv debug, -vvv trace)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less output: no progress, only warnings and errors (-qq: errors only)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Where downloaded metadata and packages are cached
    /// [default: $XDG_CACHE_HOME/diskless or ~/.cache/diskless]
    #[arg(long, env = "DISKLESS_CACHE_DIR", global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use only what is in the cache; never touch the network
    #[arg(long, global = true)]
    pub offline: bool,
    /// Colour log output: `auto` (when stderr is a terminal and NO_COLOR is unset), `always`
    /// or `never`
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        global = true,
        value_name = "WHEN"
    )]
    pub color: logging::Color,
    /// Let the profile read this host file, or the files under this folder, though it is
    /// outside the profile's folder (repeatable; each file read is recorded in the manifest)
    #[arg(
        long = "allow-host-path",
        value_name = "PATH",
        global = true,
        env = "DISKLESS_ALLOW_HOST_PATH",
        value_delimiter = ':'
    )]
    pub allow_host_path: Vec<PathBuf>,
    /// Seconds to wait for a mirror to accept a connection, for every repository
    /// [default: the repository's `timeout`, else 10]
    #[arg(long, global = true, value_name = "SECS", value_parser = seconds)]
    pub connect_timeout: Option<Duration>,
    /// Seconds a mirror may stay silent (or below its `minrate`) before the attempt fails,
    /// for every repository [default: the repository's `timeout`, else 30]
    #[arg(long, global = true, value_name = "SECS", value_parser = seconds)]
    pub read_timeout: Option<Duration>,
}

/// `1`, `2.5`: seconds, above 0.
fn seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}` is not a number of seconds above 0")),
    }
}

impl GlobalArgs {
    /// Load the profile at `path` with the command line's `--allow-host-path` entries, and
    /// apply `--connect-timeout`/`--read-timeout` to its repositories (they win over the
    /// profile's `timeout`, as dnf's `--setopt` does).
    pub fn load_profile(
        &self,
        path: &std::path::Path,
    ) -> Result<diskless::profile::Profile, diskless::profile::ProfileError> {
        let mut p = diskless::profile::load_allowing(path, &self.allow_host_path)?;
        for r in &mut p.repos {
            if let Some(c) = self.connect_timeout {
                r.timeouts.connect = c;
            }
            if let Some(t) = self.read_timeout {
                r.timeouts.read = t;
            }
        }
        Ok(p)
    }

    /// The cache directory: `--cache-dir`, `$DISKLESS_CACHE_DIR`, `$XDG_CACHE_HOME/diskless`,
    /// `~/.cache/diskless`, in that order.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(d) = &self.cache_dir {
            return d.clone();
        }
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("diskless");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(h).join(".cache").join("diskless");
        }
        std::env::temp_dir().join("diskless-cache")
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a profile (and the .repo files it names) without touching the network
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Query the profile's repositories like `dnf repoquery`
    Repoquery(repoquery::RepoqueryArgs),
    /// Resolve the profile's packages and write `<profile>.lock`
    Lock(lock::LockArgs),
    /// Show the chain of dependencies that pulled a package into the lock
    Why(why::WhyArgs),
    /// Download (and verify) every package the lock pins into the cache
    Fetch(fetch::FetchArgs),
    /// Manage the download cache
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Build the image: lock check, fetch, root filesystem, initramfs, tftp tree, configs, OCI
    Build(build::BuildArgs),
    /// Compare two builds (out dirs, initramfs files or OCI layouts) entry by entry
    Diff(diff::DiffArgs),
    /// Check a build's artifacts against a SHA256SUMS file
    Verify(verify::VerifyArgs),
    /// Upload the OCI image of the tftp tree to a registry
    Push(push::PushArgs),
    /// PXE-boot a build in QEMU (BIOS and UEFI) and check what its serial console shows
    BootTest(boot_test::BootTestArgs),
    /// List a build's packages (image and boot) from its SBOM
    Sbom(sbom::SbomArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let g = cli.global;
    match cli.command {
        Command::Profile(c) => profile::run(c, &g),
        Command::Repoquery(a) => repoquery::run(a, &g),
        Command::Lock(a) => lock::run(a, &g),
        Command::Why(a) => why::run(a, &g),
        Command::Fetch(a) => fetch::run(a, &g),
        Command::Cache(c) => cache::run(c, &g),
        Command::Build(a) => build::run(a, &g),
        Command::Diff(a) => diff::run(a, &g),
        Command::Verify(a) => verify::run(a, &g),
        Command::Push(a) => push::run(a, &g),
        Command::BootTest(a) => boot_test::run(a, &g),
        Command::Sbom(a) => sbom::run(a, &g),
    }
}
