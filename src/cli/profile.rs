//! `diskless profile check`: load a profile (and the .repo files it names), print a summary
//! or the resolved profile as JSON. Touches neither the network nor the cache.

use super::GlobalArgs;
use anyhow::Context;
use clap::Subcommand;
use diskless::profile::{self, Profile, ProfileError};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Parse and validate a profile and the .repo files it names
    Check {
        profile: PathBuf,
        /// Print the resolved profile as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ProfileCommand, g: &GlobalArgs) -> anyhow::Result<()> {
    match cmd {
        ProfileCommand::Check { profile, json } => {
            let p = load(&profile, g)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &p)
                    .context("Cannot write JSON to stdout")?;
                writeln!(out)?;
            } else {
                write!(out, "{}", summary(&p))?;
            }
            Ok(())
        }
    }
}

/// Load a profile for a command, turning a [`ProfileError`] into an error with its hint.
/// Other subcommands (lock, build, repoquery) can call this too.
pub fn load(path: &Path, g: &GlobalArgs) -> anyhow::Result<Profile> {
    g.load_profile(path).map_err(|e| {
        let hint = e.hint().map(str::to_string);
        // A located error names its file already; an I/O error gets the profile's name.
        let e = match e {
            ProfileError::Io(_) => {
                anyhow::Error::new(e).context(format!("Cannot load profile `{}`", path.display()))
            }
            _ => anyhow::Error::new(e),
        };
        match hint {
            Some(h) => super::hint::hint(e, h),
            None => e,
        }
    })
}

/// A short human summary: image, repositories, package count, hosts.
pub fn summary(p: &Profile) -> String {
    let mut s = String::new();
    let img = &p.image;
    s += &format!("profile  {}\n", p.path.display());
    s += &format!(
        "image    {} ({} EL{}, {}{})\n",
        img.name,
        img.arch,
        img.releasever,
        compression_name(&img.compression),
        if img.root.is_initramfs() {
            ""
        } else {
            ", squashfs root"
        }
    );
    s += &format!("repos    {}\n", p.repos.len());
    for r in &p.repos {
        let url = r
            .baseurl
            .first()
            .or(r.mirrorlist.as_ref())
            .or(r.metalink.as_ref())
            .map_or("", String::as_str);
        s += &format!("  {:<20} {url}\n", r.id);
    }
    let groups = p
        .packages
        .install
        .iter()
        .filter(|n| n.starts_with('@'))
        .count();
    s += &format!(
        "packages {} to install ({} groups), {} boot packages, {} modules\n",
        p.packages.install.len(),
        groups,
        p.boot.packages.len(),
        p.packages.modules.len()
    );
    s += &format!(
        "files    {} files, {} dirs, {} symlinks\n",
        p.files.len(),
        p.dirs.len(),
        p.symlinks.len()
    );
    s += &format!("hosts    {}\n", p.hosts.len());
    for h in &p.hosts {
        s += &format!("  {:<20} {} {} {}\n", h.name, h.mac, h.ip, h.hostname);
    }
    s += &format!("digest   {}\n", p.resolution_digest());
    s
}

fn compression_name(c: &profile::Compression) -> String {
    match c {
        profile::Compression::Gzip { level } => format!("gzip -{level}"),
        profile::Compression::Zstd { level } => format!("zstd -{level}"),
        profile::Compression::Xz { level } => format!("xz -{level}"),
        profile::Compression::None => "uncompressed".into(),
    }
}
