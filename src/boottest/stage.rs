//! boot-test's own tftp tree: symbolic links to every file of the build's `tftpboot/`
//! (QEMU's tftp server follows them; nothing is copied), except the menus, which are
//! rewritten so the boot can be watched on the serial port:
//!
//! - pxelinux menus get `SERIAL 0 115200` (pxelinux then prints its errors there too),
//! - every kernel command line gets `console=ttyS0,115200` unless it names a ttyS console
//!   already (without it the kernel prints nothing the test can read), and `loglevel=7`
//!   when `quiet` or a lower `loglevel=` would hide the lines it waits for,
//! - menu timeouts become 1 s (the default entry boots as it would, sooner).
//!
//! The built tree is never written to. With `--as-built` the menus are linked too.

use std::io;
use std::path::{Path, PathBuf};

/// What the serial console needs on a kernel command line.
pub const SERIAL_CONSOLE: &str = "console=ttyS0,115200";

#[derive(Debug, thiserror::Error)]
#[error("Cannot stage the tftp tree `{}` in `{}`", from.display(), to.display())]
pub struct StageError {
    pub from: PathBuf,
    pub to: PathBuf,
    #[source]
    pub source: io::Error,
}

fn with_console(line: &str) -> String {
    let mut out = if line.contains("console=ttyS") {
        line.to_string()
    } else {
        format!("{} {SERIAL_CONSOLE}", line.trim_end())
    };
    if hides_boot_messages(line) {
        out.push_str(" loglevel=7");
    }
    out
}

/// Whether the command line silences the kernel messages boot-test reads: its banner
/// (`Linux version`, a notice) and `Run /init as init process` (info) show only at
/// loglevel 7; `quiet` sets 4. A `loglevel=7` appended after them wins (the kernel reads
/// its parameters in order), so the default expectation also holds for quiet images.
fn hides_boot_messages(line: &str) -> bool {
    let mut hidden = false;
    for word in line.split_whitespace() {
        if word == "quiet" {
            hidden = true;
        } else if let Some(level) = word.strip_prefix("loglevel=") {
            hidden = !matches!(level.parse::<u8>(), Ok(l) if l >= 7);
        }
    }
    hidden
}

/// A pxelinux menu with the serial port, a 1 s timeout and the serial console on every
/// `APPEND` line.
pub fn pxelinux_menu(text: &str) -> String {
    let mut out = "SERIAL 0 115200\n".to_string();
    for line in text.lines() {
        let t = line.trim_start();
        let key = t
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match key.as_str() {
            "TIMEOUT" => out.push_str("TIMEOUT 10"),
            "SERIAL" => continue,
            "APPEND" => out.push_str(&with_console(line)),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A GRUB menu with a 1 s timeout and the serial console on every `linux` line.
pub fn grub_menu(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("set timeout=") {
            out.push_str("set timeout=1");
        } else if t.starts_with("linux ") || t.starts_with("linuxefi ") {
            out.push_str(&with_console(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

enum Menu {
    Pxelinux,
    Grub,
}

fn menu_kind(path: &Path) -> Option<Menu> {
    let name = path.file_name()?.to_str()?;
    let parent = path.parent()?.file_name()?.to_str()?;
    if parent == "pxelinux.cfg" {
        Some(Menu::Pxelinux)
    } else if name == "grub.cfg" || name.starts_with("grub.cfg-") {
        Some(Menu::Grub)
    } else {
        None
    }
}

/// Stage `tftp` (a build's `tftpboot/`) into `to`, which must not exist.
pub fn stage(tftp: &Path, to: &Path, rewrite_menus: bool) -> Result<(), StageError> {
    let err = |source| StageError {
        from: tftp.to_path_buf(),
        to: to.to_path_buf(),
        source,
    };
    let tftp = std::fs::canonicalize(tftp).map_err(err)?;
    let mut stack = vec![(tftp.clone(), to.to_path_buf())];
    while let Some((src, dst)) = stack.pop() {
        std::fs::create_dir(&dst).map_err(err)?;
        let mut entries: Vec<_> = std::fs::read_dir(&src)
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let (s, d) = (e.path(), dst.join(e.file_name()));
            if e.file_type().map_err(err)?.is_dir() {
                stack.push((s, d));
                continue;
            }
            match menu_kind(&s).filter(|_| rewrite_menus) {
                Some(kind) => {
                    let text = std::fs::read_to_string(&s).map_err(err)?;
                    let new = match kind {
                        Menu::Pxelinux => pxelinux_menu(&text),
                        Menu::Grub => grub_menu(&text),
                    };
                    std::fs::write(&d, new).map_err(err)?;
                }
                None => std::os::unix::fs::symlink(&s, &d).map_err(err)?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pxelinux_menus_talk_on_the_serial_port() {
        let m = "# Generated\nDEFAULT vesamenu.c32\nTIMEOUT 150\nLABEL a\n  KERNEL images/a/vmlinuz\n  APPEND initrd=images/a/initramfs.img ip=dhcp\nLABEL b\n  APPEND initrd=x console=ttyS1,9600\n";
        assert_eq!(
            pxelinux_menu(m),
            "SERIAL 0 115200\n# Generated\nDEFAULT vesamenu.c32\nTIMEOUT 10\nLABEL a\n  KERNEL images/a/vmlinuz\n  APPEND initrd=images/a/initramfs.img ip=dhcp console=ttyS0,115200\nLABEL b\n  APPEND initrd=x console=ttyS1,9600\n"
        );
    }

    #[test]
    fn grub_menus_get_the_console_and_a_short_timeout() {
        let m = "set timeout=15\nmenuentry 'a' {\n  linux /k ip=dhcp\n  initrd /i\n}\n";
        assert_eq!(
            grub_menu(m),
            "set timeout=1\nmenuentry 'a' {\n  linux /k ip=dhcp console=ttyS0,115200\n  initrd /i\n}\n"
        );
    }

    #[test]
    fn quiet_command_lines_still_show_the_banner_and_the_init_handover() {
        assert_eq!(
            with_console("linux /k quiet"),
            "linux /k quiet console=ttyS0,115200 loglevel=7"
        );
        assert_eq!(
            with_console("APPEND x console=ttyS0 loglevel=3"),
            "APPEND x console=ttyS0 loglevel=3 loglevel=7"
        );
        // The last one counts: loud after quiet needs nothing.
        assert_eq!(
            with_console("linux /k quiet loglevel=8"),
            "linux /k quiet loglevel=8 console=ttyS0,115200"
        );
        assert_eq!(
            with_console("linux /k ip=dhcp"),
            "linux /k ip=dhcp console=ttyS0,115200"
        );
    }

    #[test]
    fn staging_links_files_and_rewrites_menus() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("tftpboot");
        std::fs::create_dir_all(t.join("pxelinux/pxelinux.cfg")).unwrap();
        std::fs::create_dir_all(t.join("efi")).unwrap();
        std::fs::write(t.join("pxelinux/pxelinux.0"), b"nbp").unwrap();
        std::fs::write(t.join("pxelinux/pxelinux.cfg/default"), "TIMEOUT 50\n").unwrap();
        std::fs::write(t.join("efi/grub.cfg-01-aa"), "set timeout=5\n").unwrap();
        let s = d.path().join("stage");
        stage(&t, &s, true).unwrap();
        assert!(s.join("pxelinux/pxelinux.0").is_symlink());
        assert_eq!(
            std::fs::read(s.join("pxelinux/pxelinux.0")).unwrap(),
            b"nbp"
        );
        assert_eq!(
            std::fs::read_to_string(s.join("pxelinux/pxelinux.cfg/default")).unwrap(),
            "SERIAL 0 115200\nTIMEOUT 10\n"
        );
        assert_eq!(
            std::fs::read_to_string(s.join("efi/grub.cfg-01-aa")).unwrap(),
            "set timeout=1\n"
        );
        // The build's own menus are untouched.
        assert_eq!(
            std::fs::read_to_string(t.join("pxelinux/pxelinux.cfg/default")).unwrap(),
            "TIMEOUT 50\n"
        );
        let s2 = d.path().join("as-built");
        stage(&t, &s2, false).unwrap();
        assert!(s2.join("pxelinux/pxelinux.cfg/default").is_symlink());
    }

    #[test]
    fn staging_links_a_root_image_no_menu_loads() {
        // `[image] root_http`: the initrd fetches root.squashfs; the menus never name it.
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("tftpboot");
        std::fs::create_dir_all(t.join("pxelinux/images/c")).unwrap();
        std::fs::write(t.join("pxelinux/images/c/root.squashfs"), b"hsqs").unwrap();
        let s = d.path().join("stage");
        stage(&t, &s, true).unwrap();
        let staged = s.join("pxelinux/images/c/root.squashfs");
        assert!(staged.is_symlink());
        assert_eq!(std::fs::read(&staged).unwrap(), b"hsqs");
    }
}
