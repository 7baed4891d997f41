//! Write an offline fixture: a `createrepo_c`-indexed repository of EL9-shaped RPMs made
//! from the host's Debian packages (the boot tests' builder, tests/boot/fixture_repo.rs) and
//! a ready profile next to it, so `diskless build` can be tried without any network.
//!
//! ```sh
//! cargo run --example fixture_repo -- DIR   # DIR/repo/ and DIR/fixture.toml
//! cargo run -- build DIR/fixture.toml --out out
//! ```
//!
//! Needs the Debian packages `ci/setup.sh` installs: busybox-static, linux-image-amd64,
//! pxelinux, syslinux-common, grub-efi-amd64-bin, shim-signed and createrepo-c.

// The boot tests use more of the builder (markers, the kernel release) than this example.
#[allow(dead_code)]
#[path = "../tests/boot/fixture_repo.rs"]
mod fixture_repo;

// The test helpers the fixture builder uses (the RPM builder, createrepo_c).
#[path = "../tests/boot/support.rs"]
mod support;

use anyhow::{Context, Result};
use std::path::PathBuf;

/// The profile: the boot tests' image (busybox init, kernel, pxelinux + shim/GRUB), with the
/// repository given as a path next to the profile, so the folder can be moved and the lock
/// stays valid.
const PROFILE: &str = include_str!("fixture.toml");

fn main() -> Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: cargo run --example fixture_repo -- DIR")?;
    let repo = fixture_repo::build(&dir.join("repo"))
        .with_context(|| format!("building the fixture repository in `{}`", dir.display()))?;
    let profile = dir.join("fixture.toml");
    fs_err::write(&profile, PROFILE)?;
    eprintln!(
        "wrote {} RPMs to {} and the profile {}",
        repo.rpms.len(),
        repo.dir.display(),
        profile.display()
    );
    Ok(())
}
