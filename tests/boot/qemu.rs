//! The boot harness: PXE-boot a QEMU machine (SeaBIOS + iPXE ROM, or OVMF) from a tftp
//! tree or a tap device, watch its serial console for the init's marker line, and kill it.
//!
//! A boot fails with the serial log attached: on a kernel panic, when QEMU exits without
//! the marker, when the marker reports the wrong values, or at the timeout.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS with QEMU's iPXE option ROM, `-machine pc`.
    Bios,
    /// OVMF, `-machine q35`, with a writable copy of the variable store.
    Uefi,
}

#[derive(Debug, Clone)]
pub enum Network {
    /// QEMU's user-mode network: its built-in DHCP and TFTP serve `tftp`, offering `bootfile`.
    User { tftp: PathBuf, bootfile: String },
    /// A tap device inside the network namespace of process `netns_pid`, where real daemons
    /// answer DHCP and TFTP.
    Tap {
        netns_pid: u32,
        ifname: String,
        mac: String,
    },
}

/// What to boot and what the console must show.
#[derive(Debug, Clone)]
pub struct BootSpec {
    /// Names the work files (`<name>.serial.log`).
    pub name: String,
    pub firmware: Firmware,
    pub network: Network,
    /// The marker line must start with this ...
    pub marker_prefix: String,
    /// ... and be exactly this (after trimming).
    pub expect_line: String,
    pub timeout: Duration,
}

/// A successful boot.
#[derive(Debug)]
pub struct Booted {
    /// From QEMU start to the marker on the console.
    pub elapsed: Duration,
    pub accel: &'static str,
}

/// A failed boot, with the console output.
#[derive(Debug)]
pub struct BootFailure {
    pub reason: String,
    pub serial: String,
    pub log_path: PathBuf,
}

/// Lines of the serial log a failure message shows (the full log stays in `log_path`).
const TAIL_LINES: usize = 80;

impl fmt::Display for BootFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&str> = self.serial.lines().collect();
        let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
        writeln!(f, "{}", self.reason)?;
        writeln!(
            f,
            "--- serial log (last {} of {} lines; full log: {}) ---",
            tail.len(),
            lines.len(),
            self.log_path.display()
        )?;
        for l in tail {
            writeln!(f, "{l}")?;
        }
        write!(f, "--- end of serial log ---")
    }
}

impl std::error::Error for BootFailure {}

/// Console text that means the boot is lost: stop at once rather than at the timeout.
const FATAL: &[&str] = &["Kernel panic - not syncing", "grub rescue>", "Boot failed"];

/// `kvm` only where it can run a stock kernel (real VMX/SVM and not the `kvm_pvm` module
/// some CI machines expose); TCG otherwise. `DISKLESS_BOOT_ACCEL` overrides.
pub fn accel() -> &'static str {
    match std::env::var("DISKLESS_BOOT_ACCEL").as_deref() {
        Ok("kvm") => return "kvm",
        Ok("tcg") => return "tcg",
        _ => {}
    }
    let kvm_usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
        && !Path::new("/sys/module/kvm_pvm").exists()
        && std::fs::read_to_string("/proc/cpuinfo")
            .map(|c| c.contains(" vmx") || c.contains(" svm"))
            .unwrap_or(false);
    if kvm_usable { "kvm" } else { "tcg" }
}

/// The OVMF code image and the variable store template to copy.
pub fn ovmf() -> Option<(PathBuf, PathBuf)> {
    [
        ("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"),
        ("OVMF_CODE.fd", "OVMF_VARS.fd"),
    ]
    .iter()
    .map(|(c, v)| {
        (
            Path::new("/usr/share/OVMF").join(c),
            Path::new("/usr/share/OVMF").join(v),
        )
    })
    .find(|(c, v)| c.is_file() && v.is_file())
}

/// At most this many QEMU machines run at once (TCG keeps one core busy per machine):
/// `DISKLESS_BOOT_JOBS`, or the number of cores.
fn slots() -> &'static (Mutex<usize>, Condvar) {
    static SLOTS: std::sync::OnceLock<(Mutex<usize>, Condvar)> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::env::var("DISKLESS_BOOT_JOBS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        (Mutex::new(n.max(1)), Condvar::new())
    })
}

struct Slot;

impl Slot {
    fn take() -> Slot {
        let (m, c) = slots();
        let mut free = m.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = c.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (m, c) = slots();
        *m.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        c.notify_one();
    }
}

/// Boot `spec`, writing work files under `work`. Returns when the marker line appeared
/// (QEMU is killed then) or with the failure and its serial log.
pub fn boot(spec: &BootSpec, work: &Path) -> Result<Booted, BootFailure> {
    let log_path = work.join(format!("{}.serial.log", spec.name));
    let fail = |reason: String, serial: String| BootFailure {
        reason,
        serial,
        log_path: log_path.clone(),
    };
    let accel = accel();
    let mut args: Vec<String> = Vec::new();
    let mut push = |a: &[&str]| args.extend(a.iter().map(|s| s.to_string()));
    push(&["-accel", accel, "-m", "512", "-smp", "1"]);
    push(&["-nographic", "-no-reboot"]);
    match spec.firmware {
        Firmware::Bios => push(&["-machine", "pc"]),
        Firmware::Uefi => {
            let Some((code, vars_template)) = ovmf() else {
                return Err(fail(
                    "no OVMF firmware in /usr/share/OVMF (install ovmf)".into(),
                    String::new(),
                ));
            };
            let vars = work.join(format!("{}.vars.fd", spec.name));
            if let Err(e) = std::fs::copy(&vars_template, &vars) {
                return Err(fail(format!("copying OVMF vars: {e}"), String::new()));
            }
            push(&["-machine", "q35"]);
            push(&[
                "-drive",
                &format!("if=pflash,format=raw,readonly=on,file={}", code.display()),
            ]);
            push(&[
                "-drive",
                &format!("if=pflash,format=raw,file={}", vars.display()),
            ]);
        }
    }
    let mut cmd = match &spec.network {
        Network::User { tftp, bootfile } => {
            push(&[
                "-netdev",
                &format!("user,id=n0,tftp={},bootfile={bootfile}", tftp.display()),
            ]);
            push(&["-device", "e1000,netdev=n0"]);
            Command::new("qemu-system-x86_64")
        }
        Network::Tap {
            netns_pid,
            ifname,
            mac,
        } => {
            push(&[
                "-netdev",
                &format!("tap,id=n0,ifname={ifname},script=no,downscript=no"),
            ]);
            push(&["-device", &format!("e1000,netdev=n0,mac={mac}")]);
            let mut c = Command::new("nsenter");
            c.args([
                "-t",
                &netns_pid.to_string(),
                "-n",
                "--",
                "qemu-system-x86_64",
            ]);
            c
        }
    };
    push(&["-boot", "n"]);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    let _slot = Slot::take();
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Err(fail(format!("starting QEMU: {e}"), String::new())),
    };
    let serial = Arc::new(Mutex::new(Vec::<u8>::new()));
    // The raw console also goes to the log file as it arrives, to watch a slow boot.
    let raw_log = std::fs::File::create(work.join(format!("{}.raw.log", spec.name)))
        .ok()
        .map(|f| Arc::new(Mutex::new(f)));
    let mut readers = Vec::new();
    for out in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let serial = Arc::clone(&serial);
        let raw_log = raw_log.clone();
        readers.push(std::thread::spawn(move || {
            let mut out = out;
            let mut buf = [0u8; 8192];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                serial
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]);
                if let Some(f) = &raw_log {
                    let _ = f
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .write_all(&buf[..n]);
                }
            }
        }));
    }

    let text = || clean(&serial.lock().unwrap_or_else(|e| e.into_inner()));
    let outcome: Result<Duration, String> = loop {
        std::thread::sleep(Duration::from_millis(100));
        let log = text();
        // Only complete lines: the marker may still be arriving.
        let complete = &log[..log.rfind('\n').map_or(0, |i| i + 1)];
        if let Some(line) = complete.lines().find(|l| l.contains(&spec.marker_prefix)) {
            let line = line[line.find(&spec.marker_prefix).unwrap_or(0)..].trim();
            break if line == spec.expect_line {
                Ok(start.elapsed())
            } else {
                Err(format!(
                    "the marker line is wrong:\n  expected: {}\n  got:      {line}",
                    spec.expect_line
                ))
            };
        }
        if let Some(f) = FATAL.iter().find(|f| log.contains(**f)) {
            // Let the panic trace reach the log before stopping the machine.
            std::thread::sleep(Duration::from_millis(500));
            break Err(format!("the boot failed (`{f}` on the console)"));
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("QEMU exited ({status}) before the marker appeared"));
        }
        if start.elapsed() > spec.timeout {
            break Err(format!(
                "no marker line `{}` within {} s",
                spec.marker_prefix,
                spec.timeout.as_secs()
            ));
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    let log = text();
    if let Ok(mut f) = std::fs::File::create(&log_path) {
        let _ = f.write_all(log.as_bytes());
    }
    match outcome {
        Ok(elapsed) => Ok(Booted { elapsed, accel }),
        Err(reason) => Err(fail(
            format!("boot `{}` ({accel}): {reason}", spec.name),
            log,
        )),
    }
}

/// The console bytes as text: no CRs, no ANSI escape sequences (pxelinux, GRUB and OVMF
/// draw with them), lossy UTF-8.
fn clean(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                i += 1;
                if bytes.get(i) == Some(&b'[') {
                    i += 1;
                    while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                        i += 1;
                    }
                }
            }
            b'\r' => {}
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_escapes_and_crs() {
        assert_eq!(clean(b"\x1b[2J\x1b[01;01Hab\r\ncd\x1b[0m"), "ab\ncd");
    }

    #[test]
    fn failure_message_carries_the_serial_tail() {
        let serial: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let f = BootFailure {
            reason: "no marker".into(),
            serial,
            log_path: PathBuf::from("/x.log"),
        };
        let msg = f.to_string();
        assert!(msg.starts_with("no marker\n--- serial log (last 80 of 100 lines"));
        assert!(msg.contains("line 99\n") && msg.contains("line 20\n"));
        assert!(!msg.contains("line 19\n"));
    }
}
