//! One QEMU machine PXE-booting: SeaBIOS (`-machine pc`) or OVMF (`-machine q35`, a fresh
//! copy of the variable store), a NIC with its iPXE ROM on QEMU's user network (its DHCP and
//! tftp serve a folder, offering a boot file) or on a tap device, the serial console
//! streamed as text into a log file and watched: the machine stops as soon as every
//! expected text appeared or a failure shows (see [`console`]), when QEMU exits, or at the
//! timeout.

use super::console::{self, Expect, Failure, FailureKind, Phase};
use super::host::{Ovmf, Qemu};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which firmware the machine starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// SeaBIOS with the NIC's iPXE ROM, `-machine pc`.
    Bios,
    /// OVMF, `-machine q35`.
    Uefi,
}

impl Firmware {
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }
}

/// Where the machine's network leads.
#[derive(Debug, Clone)]
pub enum Network {
    /// QEMU's user network: its DHCP offers `bootfile` (a path in `tftp`), its tftp server
    /// serves `tftp`. No root needed.
    User { tftp: PathBuf, bootfile: String },
    /// A tap device (made by the caller, who also runs the DHCP and tftp servers).
    Tap { ifname: String },
}

impl Network {
    /// Where a server on this host binds for the guest to reach it at its boot server's
    /// address, `port`: QEMU's user network hands the guest's connections to its 10.0.2.2
    /// to the host's 127.0.0.1. `None` for a tap device: its host side's address is the
    /// caller's (binding every address instead would serve the folder to the whole network).
    pub fn boot_server_bind(&self, port: u16) -> Option<std::net::SocketAddr> {
        match self {
            Network::User { .. } => Some((std::net::Ipv4Addr::LOCALHOST, port).into()),
            Network::Tap { .. } => None,
        }
    }
}

/// Everything one boot needs.
#[derive(Debug, Clone)]
pub struct Machine {
    pub qemu: Qemu,
    /// Run QEMU through this command (e.g. `nsenter -t PID -n --`); empty: directly.
    pub launcher: Vec<OsString>,
    /// `kvm` or `tcg`.
    pub accel: &'static str,
    pub firmware: Firmware,
    /// Required for [`Firmware::Uefi`].
    pub ovmf: Option<Ovmf>,
    pub network: Network,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    pub memory_mb: u32,
    /// The serial console, as text, written as it arrives.
    pub log: PathBuf,
    /// The firmware's variable store copy (UEFI).
    pub vars: PathBuf,
}

/// How a boot went.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `None`: every expected text appeared.
    pub failure: Option<Failure>,
    /// When each phase was first seen, from QEMU's start.
    pub phases: Vec<(Phase, Duration)>,
    /// From QEMU's start to the end (all expected texts seen, or the failure).
    pub total: Duration,
    /// CPU time QEMU used: what the boot costs on an idle machine, whatever else ran.
    pub cpu: Option<Duration>,
    /// The console text.
    pub console: String,
}

impl Outcome {
    pub fn phase(&self, p: Phase) -> Option<Duration> {
        self.phases.iter().find(|(q, _)| *q == p).map(|(_, d)| *d)
    }
}

/// User + system CPU time of a running process, from /proc/<pid>/stat.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux for every architecture this runs on.
    Some(Duration::from_millis(ticks * 10))
}

fn drive(file: &Path, format: &str, readonly: bool) -> String {
    // QEMU's option parser takes `,,` for a comma inside a value.
    let file = file.display().to_string().replace(',', ",,");
    format!(
        "if=pflash,format={format}{},file={file}",
        if readonly { ",readonly=on" } else { "" }
    )
}

/// QEMU's arguments for `m`.
pub fn args(m: &Machine) -> Result<Vec<OsString>, String> {
    let mut a: Vec<String> = vec![
        "-accel".into(),
        m.accel.into(),
        "-m".into(),
        m.memory_mb.to_string(),
        "-smp".into(),
        "1".into(),
        // The serial port on stdio and SeaBIOS's serial console (QEMU turns it on with
        // -nographic); a reboot (the kernel's panic=, the image's reboot) ends QEMU.
        "-nographic".into(),
        "-no-reboot".into(),
    ];
    match m.firmware {
        Firmware::Bios => a.extend(["-machine".into(), "pc".into()]),
        Firmware::Uefi => {
            let o = m.ovmf.as_ref().ok_or("no OVMF for a UEFI boot")?;
            std::fs::copy(&o.vars, &m.vars).map_err(|e| {
                format!(
                    "cannot copy OVMF's variable store `{}` to `{}`: {e}",
                    o.vars.display(),
                    m.vars.display()
                )
            })?;
            a.extend([
                "-machine".into(),
                "q35".into(),
                "-drive".into(),
                drive(&o.code, &o.code_format, true),
                "-drive".into(),
                drive(&m.vars, &o.vars_format, false),
            ]);
        }
    }
    let netdev = match &m.network {
        Network::User { tftp, bootfile } => format!(
            "user,id=n0,tftp={},bootfile={bootfile}",
            tftp.display().to_string().replace(',', ",,")
        ),
        Network::Tap { ifname } => format!("tap,id=n0,ifname={ifname},script=no,downscript=no"),
    };
    a.extend([
        "-netdev".into(),
        netdev,
        "-device".into(),
        format!(
            "{},netdev=n0,mac={},romfile={}",
            m.qemu.nic,
            m.mac,
            m.qemu.rom.display().to_string().replace(',', ",,")
        ),
        "-boot".into(),
        "n".into(),
    ]);
    Ok(a.into_iter().map(OsString::from).collect())
}

/// Boot `m` until every `expects` appeared on its console, a failure shows, QEMU exits or
/// `timeout` passes. `on_phase` hears of each phase as it is reached.
pub fn boot(
    m: &Machine,
    expects: &[Expect],
    timeout: Duration,
    on_phase: &mut dyn FnMut(Phase, Duration),
) -> Outcome {
    let start = Instant::now();
    let failed = |kind, detail: String, console: String| Outcome {
        failure: Some(Failure { kind, detail }),
        phases: Vec::new(),
        total: start.elapsed(),
        cpu: None,
        console,
    };
    let args = match args(m) {
        Ok(a) => a,
        Err(e) => return failed(FailureKind::QemuExited, e, String::new()),
    };
    let mut cmd = match m.launcher.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&m.qemu.binary);
            c
        }
        None => Command::new(&m.qemu.binary),
    };
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut log = match std::fs::File::create(&m.log) {
        Ok(f) => f,
        Err(e) => {
            return failed(
                FailureKind::QemuExited,
                format!("cannot create `{}`: {e}", m.log.display()),
                String::new(),
            );
        }
    };
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return failed(
                FailureKind::QemuExited,
                format!("cannot start `{}`: {e}", m.qemu.binary.display()),
                String::new(),
            );
        }
    };
    let text = Arc::new(Mutex::new(Vec::<u8>::new()));
    let errors = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut readers = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        let text = Arc::clone(&text);
        let mut log_file = log.try_clone().ok();
        readers.push(std::thread::spawn(move || {
            let mut cleaner = console::Cleaner::default();
            let mut buf = [0u8; 8192];
            let mut clean = Vec::new();
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                clean.clear();
                cleaner.feed(&buf[..n], &mut clean);
                if let Some(f) = &mut log_file {
                    let _ = f.write_all(&clean);
                }
                text.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&clean);
            }
        }));
    }
    if let Some(mut err) = child.stderr.take() {
        let errors = Arc::clone(&errors);
        readers.push(std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&buf);
        }));
    }
    let snapshot =
        || String::from_utf8_lossy(&text.lock().unwrap_or_else(|e| e.into_inner())).into_owned();

    let mut phases: Vec<(Phase, Duration)> = Vec::new();
    let mut cpu = None;
    let failure = loop {
        std::thread::sleep(Duration::from_millis(50));
        let t = snapshot();
        let now = start.elapsed();
        for p in Phase::ALL {
            if !phases.iter().any(|(q, _)| *q == p) && console::reached(&t, p) {
                phases.push((p, now));
                on_phase(p, now);
            }
        }
        if expects.iter().all(|e| e.met(&t)) {
            break None;
        }
        if console::failure(&t).is_some() {
            // Let the rest of the message (a panic's cause, GRUB's error lines) arrive.
            std::thread::sleep(Duration::from_millis(300));
            break console::failure(&snapshot());
        }
        cpu = cpu_time(child.id()).or(cpu);
        if let Ok(Some(status)) = child.try_wait() {
            // The last console bytes may still be in the pipe.
            for r in readers.drain(..) {
                let _ = r.join();
            }
            let t = snapshot();
            if expects.iter().all(|e| e.met(&t)) {
                break None;
            }
            if let Some(f) = console::failure(&t) {
                break Some(f);
            }
            let err = String::from_utf8_lossy(&errors.lock().unwrap_or_else(|e| e.into_inner()))
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::trim)
                .unwrap_or_default()
                .to_string();
            let missing = expects
                .iter()
                .filter(|e| !e.met(&t))
                .map(Expect::describe)
                .collect::<Vec<_>>()
                .join(", ");
            break Some(Failure {
                kind: FailureKind::QemuExited,
                detail: if err.is_empty() {
                    format!("{status} before {missing} appeared")
                } else {
                    format!("{status} before {missing} appeared: {err}")
                },
            });
        }
        if now > timeout {
            let missing = expects
                .iter()
                .filter(|e| !e.met(&t))
                .map(Expect::describe)
                .collect::<Vec<_>>()
                .join(", ");
            let last = phases
                .last()
                .map_or("the firmware printed no phase".to_string(), |(p, at)| {
                    format!("last phase: {} at {}", p.describe(), console::secs(*at))
                });
            break Some(Failure {
                kind: FailureKind::Timeout,
                detail: format!(
                    "{missing} did not appear within {} s ({last})",
                    timeout.as_secs()
                ),
            });
        }
    };
    let total = start.elapsed();
    cpu = cpu_time(child.id()).or(cpu);
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    let _ = log.flush();
    Outcome {
        failure,
        phases,
        total,
        cpu,
        console: snapshot(),
    }
}
