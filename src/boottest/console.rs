//! Reading a PXE boot from its serial console: the text (escape sequences and CRs dropped as
//! it streams), the phases it reached (DHCP, boot loader, kernel, init), the expected texts,
//! and the failures that end a boot early, recognised as soon as they are printed.
//!
//! What the console shows comes from SeaBIOS or OVMF, QEMU's iPXE ROM (DHCP and the boot
//! file), pxelinux or GRUB, then the kernel (on the serial port when its command line has
//! `console=ttyS0`, which boot-test's menus add).

use std::time::Duration;

/// Console bytes to text as they arrive: escape sequences (pxelinux, GRUB and OVMF draw
/// with them: CSI, character set selection), CRs and other control characters but newline
/// and tab dropped. The state survives across chunks, so a sequence split between two
/// reads is still removed.
#[derive(Debug, Default)]
pub struct Cleaner {
    state: EscState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum EscState {
    #[default]
    Text,
    /// After ESC.
    Esc,
    /// Inside `ESC [ ...` until its final byte (0x40..=0x7e).
    Csi,
    /// After `ESC (` (and `)`, `*`, `+`): one byte names the character set.
    Charset,
}

impl Cleaner {
    /// Append the text of `bytes` to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            self.state = match (self.state, b) {
                (EscState::Text, 0x1b) => EscState::Esc,
                (EscState::Text, b'\n' | b'\t') | (EscState::Text, 0x20..) => {
                    out.push(b);
                    EscState::Text
                }
                (EscState::Text, _) => EscState::Text,
                (EscState::Esc, b'[') => EscState::Csi,
                (EscState::Esc, b'(' | b')' | b'*' | b'+') => EscState::Charset,
                (EscState::Charset, _) => EscState::Text,
                // A two-byte escape (ESC c, ESC 7...): drop both.
                (EscState::Esc, _) => EscState::Text,
                (EscState::Csi, 0x40..=0x7e) => EscState::Text,
                (EscState::Csi, _) => EscState::Csi,
            };
        }
    }
}

/// The whole of `bytes` as clean text.
pub fn clean(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    Cleaner::default().feed(bytes, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The milestones of a network boot, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The firmware's PXE client got an address.
    Dhcp,
    /// The boot file (pxelinux.0, shim or GRUB) was downloaded.
    Loader,
    /// The kernel printed its banner (`Linux version ...`).
    Kernel,
    /// The kernel started the init (`Run /init as init process`).
    Init,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Dhcp, Phase::Loader, Phase::Kernel, Phase::Init];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Dhcp => "dhcp",
            Phase::Loader => "loader",
            Phase::Kernel => "kernel",
            Phase::Init => "init",
        }
    }

    /// What the progress line says when the phase is reached.
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Dhcp => "DHCP offer accepted",
            Phase::Loader => "boot loader downloaded",
            Phase::Kernel => "kernel started",
            Phase::Init => "kernel handed over to the init",
        }
    }
}

/// The kernel banner: the first line every kernel prints on its console.
const KERNEL_BANNER: &str = "Linux version ";

/// Kernel lines carry a `[    1.234567] ` timestamp unless CONFIG_PRINTK_TIME is off.
fn kernel_message(line: &str) -> &str {
    match line.trim_start().strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, m)| m),
        None => line,
    }
}

/// The kernel's `Run <path> as init process` line (init/main.c, `run_init_process`):
/// printed once the kernel has unpacked the initramfs and hands over to its `/init` (or
/// `rdinit=`, `init=`), the last step that is the kernel's own.
fn is_init_handover(line: &str) -> bool {
    let m = kernel_message(line).trim_end();
    m.starts_with("Run ") && m.ends_with(" as init process")
}

/// Whether `phase` shows in `text`.
pub fn reached(text: &str, phase: Phase) -> bool {
    match phase {
        // iPXE: `net0: 10.0.2.15/255.255.255.0 gw 10.0.2.2`; OVMF's own PXE:
        // `Station IP address is 10.0.2.15`.
        Phase::Dhcp => {
            text.contains("Station IP address is ")
                || text.lines().any(|l| {
                    l.strip_prefix("net")
                        .and_then(|r| r.split_once(": "))
                        .is_some_and(|(n, addr)| {
                            n.chars().all(|c| c.is_ascii_digit())
                                && addr.split('/').next().is_some_and(|a| {
                                    a.split('.').count() == 4
                                        && a.split('.').all(|p| p.parse::<u8>().is_ok())
                                })
                        })
                })
        }
        // iPXE: `pxelinux.0 : 42430 bytes [PXE-NBP]`, `bootx64.efi : 1048504 bytes [EFI]`;
        // OVMF: `NBP file downloaded successfully.`
        Phase::Loader => {
            text.contains(" bytes [PXE-NBP]")
                || text.contains(" bytes [EFI]")
                || text.contains("NBP file downloaded successfully")
        }
        Phase::Kernel => text.contains(KERNEL_BANNER),
        Phase::Init => text.lines().any(is_init_handover),
    }
}

/// What the console must show for a boot to pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// This text, anywhere on the console.
    Text(String),
    /// The kernel's `Run /init as init process` line (the default).
    InitHandover,
}

impl Expect {
    pub fn met(&self, text: &str) -> bool {
        match self {
            Expect::Text(t) => text.contains(t.as_str()),
            Expect::InitHandover => reached(text, Phase::Init),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Expect::Text(t) => format!("`{t}`"),
            Expect::InitHandover => "the kernel's `Run /init as init process`".to_string(),
        }
    }
}

/// Why a boot failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// `Kernel panic - not syncing`.
    KernelPanic,
    /// No DHCP server answered the firmware.
    NoDhcpOffer,
    /// The firmware could not download the boot file.
    LoaderNotFound,
    /// pxelinux or GRUB could not load the kernel or the initrd, or found no config.
    LoaderError,
    /// The firmware gave up on network boot.
    FirmwareGaveUp,
    /// QEMU exited (or could not start) before the expected texts appeared.
    QemuExited,
    /// The expected texts did not all appear in time.
    Timeout,
}

/// A failed boot: what kind, and the console's words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// One line.
    pub detail: String,
}

impl Failure {
    fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
        }
    }

    /// `kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)`.
    pub fn reason(&self) -> String {
        let what = match self.kind {
            FailureKind::KernelPanic => "kernel panic",
            FailureKind::NoDhcpOffer => "no DHCP offer",
            FailureKind::LoaderNotFound => "boot loader not found",
            FailureKind::LoaderError => "the boot loader could not load the kernel or initrd",
            FailureKind::FirmwareGaveUp => "the firmware gave up",
            FailureKind::QemuExited => "QEMU exited",
            FailureKind::Timeout => "timeout",
        };
        if self.detail.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {}", self.detail)
        }
    }
}

/// The line of `text` holding byte offset `at`, trimmed.
fn line_at(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].trim()
}

/// The failure the console shows, if any. Loader and firmware messages count only before
/// the kernel started (a kernel or a program may print anything); a panic counts anywhere.
pub fn failure(text: &str) -> Option<Failure> {
    if let Some(at) = text.find("Kernel panic - not syncing") {
        let line = line_at(text, at);
        let detail = line
            .split_once("not syncing: ")
            .map_or(line, |(_, d)| d)
            .trim();
        // A generated initrd says which step failed before its exit panics the kernel; after
        // its last line of success the panic is the image's own.
        use crate::emit::initrd::{FETCHED, SAYS};
        let step = text[..at]
            .lines()
            .rev()
            .find_map(|l| l.find(SAYS).map(|i| l[i..].trim()))
            .filter(|l| !l.contains(FETCHED));
        return Some(Failure::new(
            FailureKind::KernelPanic,
            &match step {
                Some(step) => format!("{detail} ({step})"),
                None => detail.to_string(),
            },
        ));
    }
    let before_kernel = text.find(KERNEL_BANNER).map_or(text, |i| &text[..i]);
    loader_failure(before_kernel)
}

fn loader_failure(text: &str) -> Option<Failure> {
    use FailureKind::*;
    let find = |needles: &[&str]| needles.iter().find_map(|n| text.find(n));
    // DHCP: iPXE, OVMF's PXE.
    if let Some(at) = find(&["No configuration methods succeeded", "PXE-E16", "PXE-E18"]) {
        return Some(Failure::new(NoDhcpOffer, line_at(text, at)));
    }
    // The boot file: iPXE prints `tftp://server/path... <error> (http://ipxe.org/...)`.
    if let Some(l) = text
        .lines()
        .find(|l| l.starts_with("tftp://") && l.contains("(http://ipxe.org/"))
    {
        return Some(Failure::new(LoaderNotFound, l.trim()));
    }
    if let Some(at) = find(&["PXE-E23", "TFTP Error"]) {
        return Some(Failure::new(LoaderNotFound, line_at(text, at)));
    }
    // pxelinux (with `SERIAL` in its config): `Could not find kernel image: ...`,
    // `Could not find ramdisk image: ...`, `Loading ... failed: ...`.
    if let Some(at) = find(&[
        "Could not find kernel image",
        "Could not find ramdisk image",
        "Invalid or corrupt kernel image",
    ]) {
        return Some(Failure::new(LoaderError, line_at(text, at)));
    }
    // pxelinux prints it after its menu, on the same line.
    if let Some(l) = text.lines().find_map(|l| {
        let at = l.find("Loading ")?;
        l[at..].contains(" failed").then(|| &l[at..])
    }) {
        return Some(Failure::new(LoaderError, l.trim()));
    }
    // GRUB: a menu entry that failed waits for a key after its `error:` lines.
    if text.contains("Press any key to continue") {
        let errors: Vec<&str> = text
            .lines()
            .filter_map(|l| l.find("error: ").map(|i| l[i..].trim()))
            .collect();
        let detail = match errors.as_slice() {
            [] => "GRUB's menu entry failed".to_string(),
            e => e[e.len().saturating_sub(2)..].join(" "),
        };
        return Some(Failure::new(LoaderError, detail));
    }
    if text.contains("grub rescue>") {
        return Some(Failure::new(
            LoaderError,
            "GRUB could not load its modules (it stopped at `grub rescue>`)",
        ));
    }
    // GRUB's command line (no newline after the prompt): it found no grub.cfg.
    if text.trim_end().ends_with("grub>") {
        return Some(Failure::new(
            LoaderError,
            "GRUB found no grub.cfg (it stopped at its `grub>` prompt)",
        ));
    }
    if let Some(at) = find(&["No bootable device", "Boot failed: "]) {
        return Some(Failure::new(FirmwareGaveUp, line_at(text, at)));
    }
    // OVMF tries IPv4 first: reaching IPv6 means no IPv4 boot file ran, and its HTTP-boot
    // attempts after it take minutes to time out.
    if text.contains(">>Start PXE over IPv6") {
        return Some(Failure::new(
            FirmwareGaveUp,
            "OVMF found no IPv4 boot file and moved on to IPv6",
        ));
    }
    None
}

/// Seconds with one decimal, for messages.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_split_across_chunks_are_removed() {
        let mut c = Cleaner::default();
        let mut out = Vec::new();
        c.feed(b"ab\x1b[2", &mut out);
        c.feed(b"J\x1b[01;01Hcd\r\n", &mut out);
        c.feed(b"\x1b", &mut out);
        c.feed(b"cef\x0eq\x0f\x1b(", &mut out);
        c.feed(b"0\x1b)Bg\t", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "abcd\nefqg\t");
        assert_eq!(clean(b"\x1b[0mx\r\n"), "x\n");
    }

    /// Lines from real boots (tests/boot logs): SeaBIOS + iPXE + pxelinux, OVMF + iPXE +
    /// shim + GRUB.
    const BIOS: &str = "SeaBIOS (version 1.16.2-debian-1.16.2-1)\n\
        iPXE (PCI 00:03.0) starting execution...ok\n\
        Configuring (net0 52:54:00:12:34:56)...... ok\n\
        net0: 10.0.2.15/255.255.255.0 gw 10.0.2.2\n\
        net0: fe80::5054:ff:fe12:3456/64\n\
        Filename: /pxelinux/pxelinux.0\n\
        tftp://10.0.2.2//pxelinux/pxelinux.0... ok\n\
        pxelinux.0 : 42430 bytes [PXE-NBP]\n\
        PXELINUX 6.04 PXE 20200816 Copyright (C) 1994-2015 H. Peter Anvin et al\n\
        Probing EDD (edd=off to disable)... o[    0.000000] Linux version 6.1.0-57-amd64\n\
        [    3.016955] Run /init as init process\n";

    #[test]
    fn phases_of_a_bios_boot() {
        for p in Phase::ALL {
            assert!(reached(BIOS, p), "{p:?}");
        }
        assert!(!reached("net0: fe80::5054:ff:fe12:3456/64\n", Phase::Dhcp));
        assert!(!reached("[ 1.0] Run /init as init\n", Phase::Init));
        assert!(reached("Run /sbin/init as init process\n", Phase::Init));
        assert!(Expect::InitHandover.met(BIOS));
        assert!(Expect::Text("PXELINUX 6.04".into()).met(BIOS));
        assert_eq!(failure(BIOS), None);
    }

    #[test]
    fn a_panic_names_its_cause() {
        let t = format!(
            "{BIOS}[    3.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n[    3.2] CPU: 0 PID: 1\n"
        );
        let f = failure(&t).unwrap();
        assert_eq!(f.kind, FailureKind::KernelPanic);
        assert_eq!(
            f.reason(),
            "kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)"
        );
    }

    #[test]
    fn a_panic_after_a_failed_initrd_step_names_the_step() {
        let t = format!(
            "{BIOS}diskless initrd: eth0 is 10.0.2.15/24\ndiskless initrd: cannot fetch http://10.0.2.2/x (15 tries)\n[   33.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n"
        );
        assert_eq!(
            failure(&t).unwrap().reason(),
            "kernel panic: Attempted to kill init! exitcode=0x00000100 (diskless initrd: cannot fetch http://10.0.2.2/x (15 tries))"
        );
    }

    #[test]
    fn loader_failures() {
        let ipxe = "Filename: /efi/bootx64.efi\ntftp://10.0.2.2//efi/bootx64.efi... No such file or directory (http://ipxe.org/2d12608e)\n";
        assert_eq!(failure(ipxe).unwrap().kind, FailureKind::LoaderNotFound);
        let dhcp = "Configuring (net0 52:54:00:12:34:56)...... No configuration methods succeeded (http://ipxe.org/040ee186)\n";
        assert_eq!(failure(dhcp).unwrap().kind, FailureKind::NoDhcpOffer);
        let grub = "Booting `diskless'\n\nerror: file `/pxelinux/images/diskless/vmlinuz' not found.\nerror: you need to load the kernel first.\n\nPress any key to continue...";
        let f = failure(grub).unwrap();
        assert_eq!(f.kind, FailureKind::LoaderError);
        assert_eq!(
            f.detail,
            "error: file `/pxelinux/images/diskless/vmlinuz' not found. error: you need to load the kernel first."
        );
        let f = failure("Welcome to GRUB!\n\ngrub> ").unwrap();
        assert!(f.detail.contains("no grub.cfg"), "{f:?}");
        let f = failure("Press [Tab] to edit optionsLoading images/diskless/vmlinuz... failed: No such file or directory\n").unwrap();
        assert_eq!(f.kind, FailureKind::LoaderError);
        assert_eq!(
            f.detail,
            "Loading images/diskless/vmlinuz... failed: No such file or directory"
        );
        // A GRUB-looking line after the kernel started is the image's business.
        let late = format!("{BIOS}error: something\nPress any key to continue\n");
        assert_eq!(failure(&late), None);
    }
}
