//! `diskless cache`: where the cache is, its size per kind of piece, and garbage
//! collection of what no lock reaches (`diskless::plan::cache` has the rules).

use super::GlobalArgs;
use super::fetch::human_bytes;
use anyhow::Context;
use clap::Subcommand;
use diskless::lock::{self, Lockfile};
use diskless::plan::cache::{self, KeepLock, Kind, Usage};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove what none of the given locks reaches and was not used lately: packages and
    /// their extraction manifests no lock pins; file contents, initramfs segments and build
    /// records no given lock's last build used, and parsed or downloaded metadata and
    /// module facts, once unused for --max-age days
    Gc {
        /// Lockfiles (or profiles, whose `<profile>.lock` is used) to keep
        #[arg(required = true)]
        locks: Vec<PathBuf>,
        /// Keep pieces no lock reaches when used within this many days
        #[arg(long, value_name = "DAYS", default_value_t = 14)]
        max_age: u64,
        /// Only print what would be removed, per kind
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the size of the cache per kind of piece
    Info {
        /// As JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Print the cache directory
    Dir,
}

pub fn run(cmd: CacheCommand, g: &GlobalArgs) -> anyhow::Result<()> {
    match cmd {
        CacheCommand::Dir => {
            println!("{}", g.cache_dir().display());
            Ok(())
        }
        CacheCommand::Info { json } => info(json, g),
        CacheCommand::Gc {
            locks,
            max_age,
            dry_run,
        } => gc(&locks, max_age, dry_run, g),
    }
}

/// A lockfile argument: `x.lock` as is, anything else as a profile whose lock sits next to it.
fn lock_path(arg: &Path) -> PathBuf {
    if arg.extension().is_some_and(|e| e == "lock") {
        arg.to_path_buf()
    } else {
        lock::path_for_profile(arg)
    }
}

/// One table: kind, files, size, what it holds; and a total.
fn table(rows: &[(Kind, Usage)]) -> String {
    let mut out = String::new();
    let total = rows.iter().fold(Usage::default(), |t, (_, u)| Usage {
        files: t.files + u.files,
        bytes: t.bytes + u.bytes,
    });
    for (k, u) in rows {
        out.push_str(&format!(
            "{:<10} {:>8} files {:>11}  {}\n",
            k.label(),
            u.files,
            human_bytes(u.bytes),
            k.describe()
        ));
    }
    out.push_str(&format!(
        "{:<10} {:>8} files {:>11}\n",
        "total",
        total.files,
        human_bytes(total.bytes)
    ));
    out
}

fn info(json: bool, g: &GlobalArgs) -> anyhow::Result<()> {
    let dir = g.cache_dir();
    let rows = cache::info(&dir)?;
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(k, u)| serde_json::json!({"kind": k, "dir": k.label(), "files": u.files, "bytes": u.bytes}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", dir.display());
        print!("{}", table(&rows));
    }
    Ok(())
}

fn gc(locks: &[PathBuf], max_age: u64, dry_run: bool, g: &GlobalArgs) -> anyhow::Result<()> {
    let dir = g.cache_dir();
    let mut keep = Vec::new();
    for arg in locks {
        let path = lock_path(arg);
        // A lock that cannot be read must stop the gc: its packages would be deleted.
        let lock = Lockfile::read(&path)
            .with_context(|| format!("Cannot read the lock `{}`", path.display()))?;
        let bytes = fs_err::read(&path)?;
        keep.push(KeepLock { lock, bytes });
    }
    let report = cache::gc(
        &dir,
        &keep,
        Duration::from_secs(max_age.saturating_mul(24 * 3600)),
        dry_run,
    )?;
    let files: u64 = report.iter().map(|(_, u)| u.files).sum();
    let bytes: u64 = report.iter().map(|(_, u)| u.bytes).sum();
    if dry_run {
        print!("{}", table(&report));
    }
    if g.quiet == 0 {
        eprintln!(
            "{} {} file{} ({}) from `{}`; kept what {} lock{} reach{} and what was used in the last {max_age} day{}",
            if dry_run { "Would remove" } else { "Removed" },
            files,
            if files == 1 { "" } else { "s" },
            human_bytes(bytes),
            dir.display(),
            locks.len(),
            if locks.len() == 1 { "" } else { "s" },
            if locks.len() == 1 { "es" } else { "" },
            if max_age == 1 { "" } else { "s" },
        );
    }
    Ok(())
}
