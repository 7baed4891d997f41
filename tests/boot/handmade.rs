//! A tftp tree assembled by hand from the fixture RPMs with the real tools (`rpm --root`
//! as root, `cpio`, `gzip`/`zstd`/`xz`), in the layout `diskless build` emits. It proves the
//! harness, the fixture repository and the fixture init independently of diskless, so a
//! failing generated-tree boot points at diskless, not at the test.

use crate::fixture_repo::FixtureRepo;
use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Packages installed into the image (the rest of the repo are boot packages).
const IMAGE_PACKAGES: &[&str] = &[
    "setup-",
    "filesystem-",
    "basesystem-",
    "busybox-",
    "boot-fixture-init-",
    "kernel-core-",
    "kernel-",
];

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn sh(script: &str) -> Result<()> {
    run(Command::new("sh").args(["-euc", script]))
}

/// Assemble `<work>/tftp` with image `name`; `/etc/hostname` and `/etc/boot-fixture/marker`
/// are written as the boot profile would. Needs root (owners in the cpio come from the
/// installed tree).
pub fn tree(
    repo: &FixtureRepo,
    work: &Path,
    name: &str,
    hostname: &str,
    marker: &str,
    compression: &str,
    cmdline: &str,
) -> Result<PathBuf> {
    let root = work.join("root");
    let tftp = work.join("tftp");
    let boot = work.join("bootpkgs");
    for d in [&root, &tftp, &boot] {
        fs_err::create_dir_all(d)?;
    }
    let (image, bootpkgs): (Vec<&PathBuf>, Vec<&PathBuf>) = repo.rpms.iter().partition(|p| {
        let f = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
        IMAGE_PACKAGES.iter().any(|pre| {
            f.strip_prefix(pre)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
    });
    run(Command::new("rpm")
        .arg("--root")
        .arg(&root)
        .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts"])
        .args(&image))?;
    fs_err::remove_dir_all(root.join("var/lib/rpm"))?;
    fs_err::write(root.join("etc/hostname"), format!("{hostname}\n"))?;
    fs_err::write(root.join("etc/boot-fixture/marker"), format!("{marker}\n"))?;
    std::os::unix::fs::symlink("sbin/init", root.join("init"))?;

    for p in &bootpkgs {
        sh(&format!(
            "cd '{}' && rpm2cpio '{}' | cpio -idm --quiet",
            boot.display(),
            p.display()
        ))?;
    }
    let img = tftp.join("pxelinux/images").join(name);
    fs_err::create_dir_all(&img)?;
    fs_err::create_dir_all(tftp.join("pxelinux/pxelinux.cfg"))?;
    fs_err::create_dir_all(tftp.join("efi"))?;
    for f in [
        "pxelinux.0",
        "ldlinux.c32",
        "vesamenu.c32",
        "libcom32.c32",
        "libutil.c32",
    ] {
        fs_err::copy(boot.join("tftpboot").join(f), tftp.join("pxelinux").join(f))?;
    }
    let efi = boot.join("boot/efi/EFI/redhat");
    fs_err::copy(efi.join("shimx64.efi"), tftp.join("efi/bootx64.efi"))?;
    fs_err::copy(efi.join("grubx64.efi"), tftp.join("efi/grubx64.efi"))?;
    fs_err::copy(efi.join("mmx64.efi"), tftp.join("efi/mmx64.efi"))?;
    fs_err::copy(
        root.join("usr/lib/modules")
            .join(&repo.kver)
            .join("vmlinuz"),
        img.join("vmlinuz"),
    )?;
    let compress = match compression {
        "gzip" => "gzip -9 -n",
        "zstd" => "zstd -19 -q",
        "xz" => "xz --check=crc32 -9",
        "none" => "cat",
        other => anyhow::bail!("unknown compression `{other}`"),
    };
    sh(&format!(
        "cd '{}' && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet | {compress} > '{}'",
        root.display(),
        img.join("initramfs.img").display()
    ))?;
    fs_err::write(
        tftp.join("pxelinux/pxelinux.cfg/default"),
        format!(
            "SERIAL 0 115200\nUI vesamenu.c32\nMENU TITLE boot fixture\nTIMEOUT 10\nDEFAULT {name}\n\
             LABEL local\n  MENU LABEL Boot from local disk\n  LOCALBOOT 0\n\
             LABEL {name}\n  MENU LABEL {name}\n  KERNEL images/{name}/vmlinuz\n  \
             APPEND initrd=images/{name}/initramfs.img {cmdline}\n"
        ),
    )?;
    // Beside the loader and where the fixture GRUB's prefix points, as the build does.
    let prefix_dir = tftp.join(crate::fixture_repo::GRUB_PREFIX.trim_start_matches('/'));
    fs_err::create_dir_all(&prefix_dir)?;
    let grub_cfg = format!(
        "serial --unit=0 --speed=115200\nterminal_output serial console\nterminal_input serial console\n\
             set timeout=1\nset default={name}\n\
             menuentry '{name}' --id {name} {{\n  linux /pxelinux/images/{name}/vmlinuz {cmdline}\n  \
             initrd /pxelinux/images/{name}/initramfs.img\n}}\n"
    );
    fs_err::write(tftp.join("efi/grub.cfg"), &grub_cfg)?;
    fs_err::write(prefix_dir.join("grub.cfg"), &grub_cfg)?;
    // The boot packages keep EL's 0700 on the EFI binaries; a tftp server drops to nobody.
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(&tftp))?;
    Ok(tftp)
}
