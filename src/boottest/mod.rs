//! `diskless boot-test`: prove a build's tftp tree boots. It reads a build's output (the
//! manifest says which boot file each firmware gets and which hosts exist), stages its own
//! tftp tree from it ([`stage`]: links, and menus that talk on the serial port), and
//! PXE-boots one QEMU machine per firmware over QEMU's user network (no root; KVM when it
//! can run a stock kernel here, TCG otherwise). Each machine's serial console streams into a
//! log file; a boot passes when every expected text appeared (by default the kernel's
//! `Run /init as init process`: the kernel booted and handed over to the image's init) and
//! fails, as soon as the console shows it, on a kernel panic, no DHCP offer, a boot loader
//! that was not found or could not load the kernel or initrd, or at the timeout.
//!
//! It sits beside the build, above `emit`, whose output layout and manifest it reads; it
//! imports nothing else but the base modules.

pub mod console;
pub mod host;
pub mod machine;
pub mod stage;

pub use console::{Expect, Failure, FailureKind, Phase};
pub use host::Accel;
pub use machine::{Firmware, Machine, Network, Outcome};

use crate::emit::manifest::{self, Boot, HostRecord, Summary};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BootTestError {
    #[error("`{}` is not a diskless build output (it has no `{}`)", out.display(), manifest::FILE_NAME)]
    NotAnOutput { out: PathBuf },
    #[error("Cannot read `{}`", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("The build in `{}` serves no {} clients (manifest.json has no {} boot file)", out.display(), firmware.name().to_uppercase(), firmware.name())]
    NotServed { out: PathBuf, firmware: Firmware },
    #[error("No host `{name}` in this build (its hosts: {known})")]
    UnknownHost { name: String, known: String },
    #[error(transparent)]
    Missing(#[from] host::Missing),
    #[error(transparent)]
    Stage(#[from] stage::StageError),
    #[error("Cannot use the work folder `{}`", path.display())]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What to boot and what to wait for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The firmwares to boot (at once); `None`: every one the build serves.
    pub firmwares: Option<Vec<Firmware>>,
    /// Texts every boot must show; empty: [`Expect::InitHandover`].
    pub expect: Vec<Expect>,
    pub timeout: Duration,
    /// Boot with this host's MAC (its per-host menus); `None`: a MAC no host has.
    pub host: Option<String>,
    /// Guest memory; `None`: enough for the largest initramfs (at least 1 GiB).
    pub memory_mb: Option<u32>,
    /// Logs, the staged tree and the firmware's variable store go here.
    pub work_dir: PathBuf,
    pub accel: Accel,
    /// Serve the built tree unchanged (no serial console added to the menus).
    pub as_built: bool,
}

/// What a boot test reports as it goes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The tftp tree QEMU serves.
    Staged { tftp: &'a Path },
    /// A machine starts.
    Starting {
        firmware: Firmware,
        accel: &'static str,
        memory_mb: u32,
        mac: &'a str,
        log: &'a Path,
    },
    /// A machine reached a phase, `at` after it started.
    Phase {
        firmware: Firmware,
        phase: Phase,
        at: Duration,
    },
    /// A machine is done.
    Finished { run: &'a Run },
}

/// Hears of a boot test's progress (the binary prints it). Called from one thread per
/// machine.
pub trait Reporter: Sync {
    fn on_event(&self, _event: &Event<'_>) {}
}

/// Reports nothing.
pub struct Silent;
impl Reporter for Silent {}

/// One firmware's boot.
#[derive(Debug, Clone)]
pub struct Run {
    pub firmware: Firmware,
    pub accel: &'static str,
    pub memory_mb: u32,
    /// The serial console as text.
    pub log: PathBuf,
    pub expects: Vec<Expect>,
    pub outcome: Outcome,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.outcome.failure.is_none()
    }

    /// `the uefi boot failed: kernel panic: ... (serial log: PATH)`, or that it passed.
    pub fn summary(&self) -> String {
        match &self.outcome.failure {
            None => format!(
                "the {} boot passed in {} (serial log: {})",
                self.firmware.name(),
                console::secs(self.outcome.total),
                self.log.display()
            ),
            Some(f) => format!(
                "the {} boot failed after {}: {} (serial log: {})",
                self.firmware.name(),
                console::secs(self.outcome.total),
                f.reason(),
                self.log.display()
            ),
        }
    }

    /// The timings and the verdict, for `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        let s = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
        let o = &self.outcome;
        serde_json::json!({
            "firmware": self.firmware,
            "passed": self.passed(),
            "failure": o.failure.as_ref().map(|f| serde_json::json!({
                "kind": f.kind,
                "reason": f.reason(),
            })),
            "accel": self.accel,
            "memory_mb": self.memory_mb,
            "log": self.log,
            "expected": self.expects.iter().map(Expect::describe).collect::<Vec<_>>(),
            "seconds": {
                "dhcp": s(o.phase(Phase::Dhcp)),
                "loader": s(o.phase(Phase::Loader)),
                "kernel": s(o.phase(Phase::Kernel)),
                "init": s(o.phase(Phase::Init)),
                "total": s(Some(o.total)),
                "qemu_cpu": s(o.cpu),
            },
        })
    }
}

/// Every boot of a test.
#[derive(Debug, Clone)]
pub struct Report {
    pub runs: Vec<Run>,
    /// The staged tree the machines booted from.
    pub tftp: PathBuf,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.runs.iter().all(Run::passed)
    }
}

/// What boot-test needs from a build's output: its manifest's summary, or for builds that
/// predate it the default layout.
fn read_summary(out: &Path) -> Result<Summary, BootTestError> {
    let path = out.join(manifest::FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|_| BootTestError::NotAnOutput {
        out: out.to_path_buf(),
    })?;
    let mut s: Summary = serde_json::from_slice(&bytes)
        .map_err(|source| BootTestError::Manifest { path, source })?;
    if s.boot.is_none() {
        let tftp = out.join(crate::emit::TFTP_DIR);
        let layout = crate::emit::settings::Layout::default();
        let exists = |rel: String| tftp.join(&rel).is_file().then_some(rel);
        s.boot = Some(Boot {
            bios_boot_file: exists(layout.bios_boot_file()),
            uefi_boot_file: exists(layout.efi_boot_file()),
            ..Boot::default()
        });
    }
    Ok(s)
}

/// A MAC no host of the build has, so the machine gets the default menus.
fn anonymous_mac(hosts: &[HostRecord]) -> String {
    (1u8..=255)
        .map(|i| format!("52:54:00:d1:5c:{i:02x}"))
        .find(|m| !hosts.iter().any(|h| h.mac.eq_ignore_ascii_case(m)))
        .unwrap_or_else(|| "52:54:00:d1:5d:00".to_string())
}

/// Enough memory for the kernel to unpack the largest initramfs next to its compressed
/// copy (or to hold a squashfs root's files), and room to run: 1.25 x both + 512 MiB, at least 1 GiB, in 256 MiB steps.
fn default_memory_mb(s: &Summary) -> u32 {
    let need = s.images.iter().map(|i| i.ram_bytes()).max().unwrap_or(0);
    let mb = need / (1 << 20) * 5 / 4 + 512;
    u32::try_from(mb.next_multiple_of(256).max(1024)).unwrap_or(u32::MAX)
}

/// Boot the build in `out` as `opts` says. A failed boot is part of the report, not an
/// error; errors are what keeps the test from running (not a build, QEMU or OVMF missing).
pub fn run(out: &Path, opts: &Options, reporter: &dyn Reporter) -> Result<Report, BootTestError> {
    let summary = read_summary(out)?;
    let boot = summary.boot.clone().unwrap_or_default();
    let served = |f: Firmware| match f {
        Firmware::Bios => boot.bios_boot_file.clone(),
        Firmware::Uefi => boot.uefi_boot_file.clone(),
    };
    let firmwares: Vec<Firmware> = match &opts.firmwares {
        Some(f) => f.clone(),
        None => [Firmware::Bios, Firmware::Uefi]
            .into_iter()
            .filter(|f| served(*f).is_some())
            .collect(),
    };
    let mut bootfiles = Vec::new();
    for f in &firmwares {
        let file = served(*f).ok_or(BootTestError::NotServed {
            out: out.to_path_buf(),
            firmware: *f,
        })?;
        bootfiles.push((*f, file));
    }
    let mac = match &opts.host {
        Some(name) => summary
            .hosts
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.mac.clone())
            .ok_or_else(|| BootTestError::UnknownHost {
                name: name.clone(),
                known: match summary.hosts.as_slice() {
                    [] => "none".to_string(),
                    h => h
                        .iter()
                        .map(|h| format!("`{}`", h.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            })?,
        None => anonymous_mac(&summary.hosts),
    };
    let qemu = host::qemu()?;
    let ovmf = match firmwares.contains(&Firmware::Uefi) {
        true => Some(host::ovmf()?),
        false => None,
    };
    let accel = opts.accel.resolve();
    let memory_mb = opts
        .memory_mb
        .unwrap_or_else(|| default_memory_mb(&summary));
    let expects = match opts.expect.as_slice() {
        [] => vec![Expect::InitHandover],
        e => e.to_vec(),
    };

    let work = &opts.work_dir;
    let wd = |source| BootTestError::WorkDir {
        path: work.clone(),
        source,
    };
    std::fs::create_dir_all(work).map_err(wd)?;
    let tftp = work.join("tftp");
    if tftp.is_dir() {
        // A previous run's staging: links and rewritten menus only.
        std::fs::remove_dir_all(&tftp).map_err(wd)?;
    }
    stage::stage(&out.join(crate::emit::TFTP_DIR), &tftp, !opts.as_built)?;
    reporter.on_event(&Event::Staged { tftp: &tftp });

    let runs = std::thread::scope(|scope| {
        let handles: Vec<_> = bootfiles
            .iter()
            .map(|(firmware, bootfile)| {
                let machine = Machine {
                    qemu: qemu.clone(),
                    launcher: Vec::new(),
                    accel,
                    firmware: *firmware,
                    ovmf: ovmf.clone(),
                    network: Network::User {
                        tftp: tftp.clone(),
                        bootfile: format!("/{}", bootfile.trim_start_matches('/')),
                    },
                    mac: mac.clone(),
                    memory_mb,
                    log: work.join(format!("{}.serial.log", firmware.name())),
                    vars: work.join(format!("{}.vars.fd", firmware.name())),
                };
                let expects = expects.clone();
                scope.spawn(move || {
                    reporter.on_event(&Event::Starting {
                        firmware: machine.firmware,
                        accel,
                        memory_mb,
                        mac: &machine.mac,
                        log: &machine.log,
                    });
                    let firmware = machine.firmware;
                    let outcome =
                        machine::boot(&machine, &expects, opts.timeout, &mut |phase, at| {
                            reporter.on_event(&Event::Phase {
                                firmware,
                                phase,
                                at,
                            });
                        });
                    let run = Run {
                        firmware,
                        accel,
                        memory_mb,
                        log: machine.log.clone(),
                        expects,
                        outcome,
                    };
                    reporter.on_event(&Event::Finished { run: &run });
                    run
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Vec<Run>>()
    });
    Ok(Report { runs, tftp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anonymous_mac_is_no_hosts() {
        let h = |mac: &str| HostRecord {
            name: "n".into(),
            mac: mac.into(),
            overlay: None,
        };
        assert_eq!(anonymous_mac(&[]), "52:54:00:d1:5c:01");
        assert_eq!(
            anonymous_mac(&[h("52:54:00:D1:5C:01")]),
            "52:54:00:d1:5c:02"
        );
    }

    #[test]
    fn memory_follows_the_initramfs() {
        let s = |u: u64, b: u64| Summary {
            images: vec![manifest::ImageSummary {
                initramfs: manifest::InitramfsSummary {
                    bytes: b,
                    uncompressed_bytes: u,
                },
                ..manifest::ImageSummary::default()
            }],
            ..Summary::default()
        };
        assert_eq!(default_memory_mb(&Summary::default()), 1024);
        assert_eq!(default_memory_mb(&s(30 << 20, 10 << 20)), 1024);
        // 1.25 x 1.5 GiB + 512 MiB = 2432 MiB -> 2560.
        assert_eq!(default_memory_mb(&s(1200 << 20, 336 << 20)), 2560);
    }
}
