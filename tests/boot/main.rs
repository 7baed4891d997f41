//! Boot tests: real PXE boots in QEMU of what `diskless build` generates, BIOS and UEFI,
//! over QEMU's own DHCP/TFTP and over the generated dhcpd/xinetd/dnsmasq configs with the
//! real daemons, for each initramfs compression. Slow (TCG boots), so a test binary of its
//! own: `cargo test --test boot`.
//!
//! The images are built from a fixture repository of RPMs the tests make from the host's
//! Debian packages (fixture_repo.rs), served over HTTP on 127.0.0.1. The image's init prints
//! a marker line with values from the profile and the owner of a non-root owned file.

mod fixture_repo;
mod handmade;
mod http;
mod qemu;

use fixture_repo::FixtureRepo;
use qemu::{BootSpec, Firmware, Network};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The hostname the boot profile sets.
const HOSTNAME: &str = "boot-fixture";
/// The image name (`pxelinux/images/<name>/`).
const IMAGE: &str = "diskless";
/// Serial console, and a panic reboots at once (QEMU runs with -no-reboot, so it exits).
const CMDLINE: &str = "console=ttyS0,115200 panic=-1";

/// Shared by every test of the process: the fixture repo, its HTTP server, a work folder.
struct Env {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    repo: FixtureRepo,
    server: http::Server,
}

/// Why the suite cannot run here, if it cannot. Outside CI a missing tool skips the
/// tests; in CI (`CI` set) it fails them.
fn missing_requirement() -> Option<String> {
    let tools = [
        "qemu-system-x86_64",
        "createrepo_c",
        "rpm",
        "rpm2cpio",
        "cpio",
        "grub-mkimage",
    ];
    for t in tools {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()));
        if !found {
            return Some(format!("`{t}` is not installed (see ci/setup.sh)"));
        }
    }
    None
}

/// `let Some(env) = env() else { return };`: the shared environment, or `None` (skip).
fn env() -> Option<&'static Env> {
    if let Some(why) = missing_requirement() {
        assert!(
            std::env::var_os("CI").is_none(),
            "boot tests cannot run: {why}"
        );
        eprintln!("skipped: {why}");
        return None;
    }
    static ENV: OnceLock<Env> = OnceLock::new();
    Some(ENV.get_or_init(|| {
        let tmp = tempfile::Builder::new()
            .prefix("diskless-boot-")
            .tempdir()
            .expect("temp dir");
        let work = tmp.path().to_owned();
        let repo = fixture_repo::build(&work.join("repo")).expect("building the fixture repo");
        let server = http::serve(&repo.dir).expect("starting the HTTP server");
        Env {
            _tmp: tmp,
            work,
            repo,
            server,
        }
    }))
}

/// A marker value unique to this run, so a stale tree or log cannot pass.
fn nonce(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{tag}-{:x}{:x}", std::process::id(), t & 0xffff_ffff)
}

fn expect_line(marker: &str) -> String {
    format!(
        "{} host={HOSTNAME} marker={marker} owner={}",
        fixture_repo::MARKER_PREFIX,
        fixture_repo::OWNED_EXPECT
    )
}

fn timeout() -> Duration {
    let s = std::env::var("DISKLESS_BOOT_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    Duration::from_secs(s)
}

fn user_net(tftp: &Path, firmware: Firmware) -> Network {
    Network::User {
        tftp: tftp.to_owned(),
        bootfile: match firmware {
            Firmware::Bios => "/pxelinux/pxelinux.0".into(),
            Firmware::Uefi => "/efi/bootx64.efi".into(),
        },
    }
}

fn spec(name: &str, firmware: Firmware, network: Network, marker: &str) -> BootSpec {
    BootSpec {
        name: name.into(),
        firmware,
        network,
        marker_prefix: fixture_repo::MARKER_PREFIX.into(),
        expect_line: expect_line(marker),
        timeout: timeout(),
    }
}

/// Boot and panic with the failure (serial log included) or report the time taken.
fn must_boot(spec: &BootSpec, work: &Path) {
    match qemu::boot(spec, work) {
        Ok(b) => eprintln!(
            "boot `{}`: marker after {:.1} s ({})",
            spec.name,
            b.elapsed.as_secs_f64(),
            b.accel
        ),
        Err(e) => panic!("{e}"),
    }
}

/// Whether the tests run as root (`/proc/self` belongs to the effective uid).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The hand-assembled tree (real tools, no diskless) boots through pxelinux: proves the
/// harness, the fixture repo and its init.
#[test]
fn handmade_tree_boots_bios() {
    let Some(env) = env() else { return };
    if !is_root() {
        eprintln!("skipped: assembling the hand-made tree needs root (`rpm --root`)");
        return;
    }
    let work = env.work.join("handmade-bios");
    let marker = nonce("handmade");
    let tftp = handmade::tree(&env.repo, &work, IMAGE, HOSTNAME, &marker, "gzip", CMDLINE)
        .expect("assembling the hand-made tree");
    let _ = &env.server;
    must_boot(
        &spec(
            "handmade-bios",
            Firmware::Bios,
            user_net(&tftp, Firmware::Bios),
            &marker,
        ),
        &work,
    );
}

/// The same tree boots through OVMF, shim and GRUB.
#[test]
fn handmade_tree_boots_uefi() {
    let Some(env) = env() else { return };
    if !is_root() {
        eprintln!("skipped: assembling the hand-made tree needs root (`rpm --root`)");
        return;
    }
    let work = env.work.join("handmade-uefi");
    let marker = nonce("handmade");
    let tftp = handmade::tree(&env.repo, &work, IMAGE, HOSTNAME, &marker, "zstd", CMDLINE)
        .expect("assembling the hand-made tree");
    must_boot(
        &spec(
            "handmade-uefi",
            Firmware::Uefi,
            user_net(&tftp, Firmware::Uefi),
            &marker,
        ),
        &work,
    );
}
