//! How the boot tests boot: through `diskless boot-test` (the command users run) for the
//! generated trees over QEMU's user network, and through its library function
//! ([`diskless::boottest::machine::boot`]) where the command cannot go: a tap device in a
//! network namespace where the generated dhcpd/xinetd/dnsmasq configs serve the boot, and
//! the hand-made control tree. Both wait for a limit on QEMU machines at once.

use diskless::boottest::host;
use diskless::boottest::{Accel, Expect, Firmware, Machine, Network, Outcome, Phase};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Guest memory: the fixture image is small.
pub const MEMORY_MB: u32 = 512;

/// At most this many QEMU machines run at once (TCG keeps one core busy per machine):
/// `DISKLESS_BOOT_JOBS`, or the number of cores.
fn slots() -> &'static (Mutex<usize>, Condvar, usize) {
    static SLOTS: OnceLock<(Mutex<usize>, Condvar, usize)> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::env::var("DISKLESS_BOOT_JOBS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        (Mutex::new(n), Condvar::new(), n)
    })
}

/// `n` machine slots, held until dropped.
pub struct Slots(usize);

impl Slots {
    pub fn take(n: usize) -> Slots {
        let (m, c, max) = slots();
        let n = n.min(*max);
        let mut free = m.lock().unwrap_or_else(|e| e.into_inner());
        while *free < n {
            free = c.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= n;
        Slots(n)
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        let (m, c, _) = slots();
        *m.lock().unwrap_or_else(|e| e.into_inner()) += self.0;
        c.notify_all();
    }
}

fn accel() -> Accel {
    match std::env::var("DISKLESS_BOOT_ACCEL").as_deref() {
        Ok("kvm") => Accel::Kvm,
        Ok("tcg") => Accel::Tcg,
        _ => Accel::Auto,
    }
}

/// What `diskless boot-test` did.
#[derive(Debug)]
pub struct CliBoot {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Wall time of the command.
    pub elapsed: Duration,
}

impl CliBoot {
    /// The `--json` report.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("boot-test printed no JSON ({e}):\n{}", self.stderr))
    }

    /// One line per boot with its timings, for the test log.
    pub fn report(&self, name: &str) {
        let v = self.json();
        for b in v["boots"].as_array().into_iter().flatten() {
            let s = &b["seconds"];
            eprintln!(
                "boot `{name}` {}: dhcp {} s, kernel {} s, init {} s, total {} s, QEMU CPU {} s ({})",
                b["firmware"].as_str().unwrap_or("?"),
                s["dhcp"],
                s["kernel"],
                s["init"],
                s["total"],
                s["qemu_cpu"],
                b["accel"].as_str().unwrap_or("?")
            );
        }
    }
}

/// Run `diskless boot-test <out> <args> --work-dir <work>`, holding `machines` slots.
pub fn boot_test(out: &Path, work: &Path, args: &[&str], machines: usize) -> CliBoot {
    let _slots = Slots::take(machines);
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_diskless"))
        .arg("boot-test")
        .arg(out)
        .args(args)
        .arg("--work-dir")
        .arg(work)
        .args(["--memory", &MEMORY_MB.to_string()])
        .args(["--timeout", &crate::timeout().as_secs().to_string()])
        .output()
        .expect("running diskless boot-test");
    CliBoot {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Boot one machine through the library, on `network`, until `expect` shows.
pub fn boot_machine(
    name: &str,
    firmware: Firmware,
    network: Network,
    launcher: Vec<std::ffi::OsString>,
    mac: &str,
    expect: &str,
    work: &Path,
) -> Result<Outcome, String> {
    let qemu = host::qemu().map_err(|e| e.to_string())?;
    let ovmf = match firmware {
        Firmware::Uefi => Some(host::ovmf().map_err(|e| e.to_string())?),
        Firmware::Bios => None,
    };
    let m = Machine {
        qemu,
        launcher,
        accel: accel().resolve(),
        firmware,
        ovmf,
        network,
        mac: mac.to_string(),
        memory_mb: MEMORY_MB,
        log: work.join(format!("{name}.serial.log")),
        vars: work.join(format!("{name}.vars.fd")),
    };
    let _slots = Slots::take(1);
    let o = diskless::boottest::machine::boot(
        &m,
        &[Expect::Text(expect.to_string())],
        crate::timeout(),
        &mut |_, _| {},
    );
    match &o.failure {
        None => {
            eprintln!(
                "boot `{name}`: kernel {:?}, marker after {:.1} s, QEMU CPU {:?} ({})",
                o.phase(Phase::Kernel),
                o.total.as_secs_f64(),
                o.cpu,
                m.accel
            );
            Ok(o)
        }
        Some(f) => {
            let lines: Vec<&str> = o.console.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            Err(format!(
                "boot `{name}` ({}) failed: {}\n--- serial log (last lines; full log: {}) ---\n{tail}\n--- end ---",
                m.accel,
                f.reason(),
                m.log.display()
            ))
        }
    }
}
