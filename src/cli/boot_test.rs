//! `diskless boot-test OUT`: PXE-boot a build in QEMU ([`diskless::boottest::run`]), a
//! progress line per phase on stderr, the verdict (and `--json` timings on stdout), exit 1
//! with the reason and the serial log's path when a boot failed.

use super::GlobalArgs;
use clap::{Args, ValueEnum};
use diskless::boottest::{self, Accel, Event, Expect, FailureKind, Firmware, Options, Phase, Run};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FirmwareArg {
    /// SeaBIOS + iPXE, the BIOS boot file (pxelinux)
    Bios,
    /// OVMF + iPXE, the UEFI boot file (shim, GRUB)
    Uefi,
    /// Both machines at once
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccelArg {
    /// KVM where it can run a stock kernel, else TCG
    Auto,
    Kvm,
    Tcg,
}

#[derive(Debug, Args)]
pub struct BootTestArgs {
    /// The build's output folder (`diskless build --out`)
    pub out: PathBuf,
    /// Which firmware boots [default: every one the build serves]
    #[arg(long, value_enum)]
    pub firmware: Option<FirmwareArg>,
    /// Text the serial console must show; repeat for more
    /// [default: the kernel's `Run /init as init process`]
    #[arg(long, value_name = "TEXT")]
    pub expect: Vec<String>,
    /// Seconds a boot may take before it fails
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// Boot as this `[[host]]` of the profile (its MAC, so its per-host menus)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Guest memory [default: enough for the initramfs, at least 1024]
    #[arg(long, value_name = "MB")]
    pub memory: Option<u32>,
    /// Print the verdict and the timings of each boot as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Where the serial logs and the staged tftp tree go [default: a new folder in $TMPDIR]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// CPU accelerator
    #[arg(long, value_enum, env = "DISKLESS_BOOT_ACCEL", default_value = "auto")]
    pub accel: AccelArg,
    /// Serve the menus exactly as built (no serial console or short timeout added; the
    /// kernel then shows on the serial log only if its command line has console=ttyS0)
    #[arg(long)]
    pub as_built: bool,
}

/// A line per phase and per finished boot on stderr.
struct Lines {
    quiet: u8,
}

impl boottest::Reporter for Lines {
    fn on_event(&self, event: &Event<'_>) {
        if self.quiet > 0 {
            return;
        }
        match event {
            Event::Staged { tftp } => eprintln!("Serving `{}` over QEMU's tftp", tftp.display()),
            Event::ServingHttp { addr } => {
                eprintln!("serving the root image over HTTP on {addr}")
            }
            Event::Starting {
                firmware,
                accel,
                memory_mb,
                mac,
                log,
            } => eprintln!(
                "[{}] starting QEMU ({accel}, {memory_mb} MiB, MAC {mac}); serial log: {}",
                firmware.name(),
                log.display()
            ),
            Event::Phase {
                firmware,
                phase,
                at,
            } => eprintln!(
                "[{}] {:>6.1} s  {}",
                firmware.name(),
                at.as_secs_f64(),
                phase.describe()
            ),
            Event::Finished { run } => match &run.outcome.failure {
                None => eprintln!(
                    "[{}] {:>6.1} s  passed",
                    run.firmware.name(),
                    run.outcome.total.as_secs_f64()
                ),
                Some(f) => eprintln!(
                    "[{}] {:>6.1} s  FAILED: {}",
                    run.firmware.name(),
                    run.outcome.total.as_secs_f64(),
                    f.reason()
                ),
            },
            _ => {}
        }
    }
}

/// What a user can do about a failed boot.
fn hint(run: &Run) -> Option<String> {
    let f = run.outcome.failure.as_ref()?;
    // The initrd's init reports a failed fetch and exits: the kernel panics (or the boot
    // times out while it retries).
    let none_whole = run.root_http.iter().all(|r| r.hits.complete == 0);
    if let Some(r) = run.root_http.first()
        && none_whole
        && run.outcome.phase(Phase::Init).is_some()
        && matches!(f.kind, FailureKind::KernelPanic | FailureKind::Timeout)
    {
        return Some(format!(
            "the initrd did not fetch the whole root image from boot-test's HTTP server on {} (`{}`): its `diskless initrd:` lines in the serial log say why",
            r.addr, r.url
        ));
    }
    match f.kind {
        FailureKind::KernelPanic
            if ["Unable to mount root fs", "No working init found", "No init found"]
                .iter()
                .any(|m| f.detail.contains(m)) =>
        {
            Some(
                "the initramfs has no working /init: check `init_symlink` in `[image]` and that an image package provides /sbin/init"
                    .into(),
            )
        }
        FailureKind::LoaderNotFound | FailureKind::LoaderError => Some(
            "a file the DHCP offer or the menu names is missing from the tftp tree: `diskless verify OUT` checks the build's files"
                .into(),
        ),
        FailureKind::Timeout if run.accel == "tcg" => Some(
            "without usable KVM, QEMU emulates the CPU (TCG) and a large image boots slowly: raise `--timeout`"
                .into(),
        ),
        _ => None,
    }
}

pub fn run(args: BootTestArgs, g: &GlobalArgs) -> anyhow::Result<()> {
    let work_dir = match &args.work_dir {
        Some(d) => d.clone(),
        None => tempfile::Builder::new()
            .prefix("diskless-boot-test-")
            .tempdir()?
            // Kept: the serial logs are what a user reads after a failure.
            .keep(),
    };
    let opts = Options {
        firmwares: args.firmware.map(|f| match f {
            FirmwareArg::Bios => vec![Firmware::Bios],
            FirmwareArg::Uefi => vec![Firmware::Uefi],
            FirmwareArg::Both => vec![Firmware::Bios, Firmware::Uefi],
        }),
        expect: args.expect.iter().cloned().map(Expect::Text).collect(),
        timeout: Duration::from_secs(args.timeout),
        host: args.host.clone(),
        memory_mb: args.memory,
        work_dir,
        accel: match args.accel {
            AccelArg::Auto => Accel::Auto,
            AccelArg::Kvm => Accel::Kvm,
            AccelArg::Tcg => Accel::Tcg,
        },
        as_built: args.as_built,
    };
    let report =
        boottest::run(&args.out, &opts, &Lines { quiet: g.quiet }).map_err(|e| match e.hint() {
            Some(h) => super::hint::hint(e, h),
            None => e.into(),
        })?;
    if args.json {
        let v = serde_json::json!({
            "out": args.out,
            "passed": report.passed(),
            "tftp": report.tftp,
            "boots": report.runs.iter().map(Run::to_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    let failed: Vec<&Run> = report.runs.iter().filter(|r| !r.passed()).collect();
    let Some(first) = failed.first() else {
        if g.quiet == 0 {
            for r in &report.runs {
                eprintln!("{}", r.summary());
            }
        }
        return Ok(());
    };
    let msg = failed
        .iter()
        .map(|r| r.summary())
        .collect::<Vec<_>>()
        .join("\n");
    match hint(first) {
        Some(h) => Err(super::hint::hint(anyhow::anyhow!(msg), h)),
        None => Err(anyhow::anyhow!(msg)),
    }
}
