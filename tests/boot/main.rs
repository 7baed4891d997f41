//! Boot tests: real PXE boots in QEMU of what `diskless build` generates, BIOS and UEFI,
//! over QEMU's own DHCP/TFTP and over the generated dhcpd/xinetd/dnsmasq configs with the
//! real daemons, for each initramfs compression. Slow (TCG boots), so a test binary of its
//! own: `cargo test --test boot`.
//!
//! The images are built from a fixture repository of RPMs the tests make from the host's
//! Debian packages (fixture_repo.rs), served over HTTP on 127.0.0.1. The image's init prints
//! a marker line with values from the profile and the owner of a non-root owned file.

mod build;
mod daemons;
mod fixture_repo;
mod handmade;
mod qemu;
mod support;

use fixture_repo::FixtureRepo;
use qemu::{BootSpec, Firmware, Network};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use support::proc::is_root;

/// The hostname the boot profile sets.
const HOSTNAME: &str = "boot-fixture";
/// The image name (`pxelinux/images/<name>/`).
const IMAGE: &str = "diskless";
/// Serial console, and a panic reboots at once (QEMU runs with -no-reboot, so it exits).
const CMDLINE: &str = "console=ttyS0,115200 panic=-1";

/// Shared by every test of the process: the fixture repo, its HTTP server, a work folder.
struct Env {
    work: PathBuf,
    repo: FixtureRepo,
    server: support::http::Server,
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
        let work = work_dir().expect("creating the work folder");
        eprintln!("boot tests work in {}", work.display());
        let start = std::time::Instant::now();
        let repo = fixture_repo::build(&work.join("repo")).expect("building the fixture repo");
        eprintln!(
            "fixture repo: {} RPMs in {:.1} s",
            repo.rpms.len(),
            start.elapsed().as_secs_f64()
        );
        let server = support::http::Server::serve_dir(&repo.dir);
        Env { work, repo, server }
    }))
}

/// `<tmp>/diskless-boot-<pid>`, world-readable (the unprivileged build, in.tftpd and
/// dnsmasq read it). A static is never dropped, so instead of deleting it at exit, each run
/// removes the folders of runs whose process is gone; the last run's folder stays for a
/// look at its trees and serial logs.
fn work_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = std::env::temp_dir();
    for e in std::fs::read_dir(&tmp)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("diskless-boot-")
            && pid.chars().all(|c| c.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let work = tmp.join(format!("diskless-boot-{}", std::process::id()));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir(&work)?;
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755))?;
    Ok(work)
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
        "{} host={HOSTNAME} marker={marker} owner={} caps={}",
        fixture_repo::MARKER_PREFIX,
        fixture_repo::OWNED_EXPECT,
        fixture_repo::CAPS_EXPECT
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

/// A hand-made tree (rpm --noscripts, GNU cpio) has no boot step: the capabilities rpm
/// would have set are not in the newc archive, so the daemon process gets none.
fn handmade_spec(name: &str, firmware: Firmware, network: Network, marker: &str) -> BootSpec {
    let mut s = spec(name, firmware, network, marker);
    s.expect_line = s
        .expect_line
        .replace(fixture_repo::CAPS_EXPECT, "0000000000000000");
    s
}

/// Boot and panic with the failure (serial log included) or report the time taken.
fn must_boot(spec: &BootSpec, work: &Path) {
    match qemu::boot(spec, work) {
        Ok(b) => report(&spec.name, &b),
        Err(e) => panic!("{e}"),
    }
}

fn report(name: &str, b: &qemu::Booted) {
    eprintln!(
        "boot `{name}`: marker after {:.1} s, QEMU used {} CPU ({})",
        b.elapsed.as_secs_f64(),
        b.cpu
            .map_or_else(|| "?".to_owned(), |c| format!("{:.1} s", c.as_secs_f64())),
        b.accel
    );
}

/// The builds the tests share: one per compression, plus the broken one. Each is built
/// once per process, by whichever test needs it first.
fn built(compression: &'static str, init_symlink: bool) -> (&'static build::Built, &'static str) {
    type Slot = OnceLock<Result<(build::Built, String), String>>;
    static SLOTS: [Slot; 4] = [const { OnceLock::new() }; 4];
    let i = match (compression, init_symlink) {
        ("gzip", true) => 0,
        ("zstd", true) => 1,
        ("xz", true) => 2,
        ("gzip", false) => 3,
        other => panic!("no shared build for {other:?}"),
    };
    let env = env().expect("checked by the caller");
    let r = SLOTS[i].get_or_init(|| {
        let tag = if init_symlink { compression } else { "broken" };
        let marker = nonce(tag);
        let o = build::Options {
            compression,
            init_symlink,
            marker: marker.clone(),
        };
        let b = build::build(
            &env.work.join(format!("build-{tag}")),
            &env.server.base(),
            &o,
        )
        .map_err(|e| format!("{e:#}"))?;
        eprintln!(
            "build `{tag}`: lock + build in {:.1} s (unprivileged)",
            b.elapsed.as_secs_f64()
        );
        Ok((b, marker))
    });
    match r {
        Ok((b, m)) => (b, m.as_str()),
        Err(e) => panic!("building the boot profile failed:\n{e}"),
    }
}

/// Boot the generated tree of `compression` over QEMU's user network.
fn boot_generated(name: &str, firmware: Firmware, compression: &'static str) {
    let Some(env) = env() else { return };
    let (b, marker) = built(compression, true);
    let work = env.work.join(name);
    fs_err::create_dir_all(&work).unwrap();
    must_boot(
        &spec(name, firmware, user_net(&b.tftp, firmware), marker),
        &work,
    );
}

/// BIOS PXE: iPXE -> pxelinux.0 -> the generated menu (default entry on timeout) -> the
/// kernel and gzip initramfs.
#[test]
fn bios_pxe_boots_generated_tree() {
    boot_generated("bios-gzip", Firmware::Bios, "gzip");
}

#[test]
fn bios_pxe_boots_zstd_initramfs() {
    boot_generated("bios-zstd", Firmware::Bios, "zstd");
}

#[test]
fn bios_pxe_boots_xz_initramfs() {
    boot_generated("bios-xz", Firmware::Bios, "xz");
}

/// UEFI PXE: OVMF -> efi/bootx64.efi (shim) -> grubx64.efi -> the generated grub.cfg.
#[test]
fn uefi_pxe_boots_generated_tree() {
    boot_generated("uefi-gzip", Firmware::Uefi, "gzip");
}

/// The generated dhcpd.conf (ISC dhcpd) and xinetd.d/tftp (xinetd + in.tftpd) serve the
/// boot on a tap device, for one firmware.
fn real_daemons_boot(name: &str, firmware: Firmware) {
    let Some(env) = env() else { return };
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the real-daemon boots need root (network namespace, tap device)"
        );
        eprintln!("skipped: the real-daemon boots need root");
        return;
    }
    let (b, marker) = built("gzip", true);
    let work = env.work.join(name);
    fs_err::create_dir_all(&work).unwrap();
    let mut ns = daemons::Netns::new("192.168.77.1", 24).expect("network namespace");
    daemons::start_dhcpd(&mut ns, &b.config.join("dhcpd.conf"), &work).expect("dhcpd");
    daemons::start_xinetd(&mut ns, &b.config.join("xinetd.d"), &work).expect("xinetd");
    let r = qemu::boot(&spec(name, firmware, tap(&ns), marker), &work);
    let logs = ns.logs();
    drop(ns);
    match r {
        Ok(booted) => report(name, &booted),
        Err(e) => panic!("{e}\n{logs}"),
    }
    // The address came from the profile's host block, not from a pool.
    assert!(
        logs.contains("DHCPACK on 192.168.77.101 to 52:54:00:12:34:56"),
        "dhcpd did not hand out the host's fixed address:\n{logs}"
    );
}

fn tap(ns: &daemons::Netns) -> Network {
    Network::Tap {
        netns_pid: ns.pid(),
        ifname: daemons::TAP.into(),
        mac: "52:54:00:12:34:56".into(),
    }
}

#[test]
fn dhcpd_and_xinetd_serve_bios_boot() {
    real_daemons_boot("dhcpd-bios", Firmware::Bios);
}

#[test]
fn dhcpd_and_xinetd_serve_uefi_boot() {
    real_daemons_boot("dhcpd-uefi", Firmware::Uefi);
}

/// The generated dnsmasq.conf (DHCP + TFTP in one daemon) serves a UEFI boot: its
/// client-arch tag must pick the EFI boot file.
#[test]
fn dnsmasq_serves_uefi_boot() {
    let Some(env) = env() else { return };
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the dnsmasq boot needs root (network namespace, tap device)"
        );
        eprintln!("skipped: the dnsmasq boot needs root");
        return;
    }
    let (b, marker) = built("gzip", true);
    let name = "dnsmasq-uefi";
    let work = env.work.join(name);
    fs_err::create_dir_all(&work).unwrap();
    let mut ns = daemons::Netns::new("192.168.77.1", 24).expect("network namespace");
    daemons::start_dnsmasq(&mut ns, &b.config.join("dnsmasq.conf"), &work).expect("dnsmasq");
    let r = qemu::boot(&spec(name, Firmware::Uefi, tap(&ns), marker), &work);
    let logs = ns.logs();
    drop(ns);
    match r {
        Ok(booted) => report(name, &booted),
        Err(e) => panic!("{e}\n{logs}"),
    }
}

/// A broken build (no `/init` symlink: the kernel finds no init in the initramfs and
/// panics) fails the boot check, and the failure carries the serial log.
#[test]
fn broken_image_fails_with_the_serial_log() {
    let Some(env) = env() else { return };
    let (b, marker) = built("gzip", false);
    let name = "broken-bios";
    let work = env.work.join(name);
    fs_err::create_dir_all(&work).unwrap();
    let r = qemu::boot(
        &spec(
            name,
            Firmware::Bios,
            user_net(&b.tftp, Firmware::Bios),
            marker,
        ),
        &work,
    );
    let e = match r {
        Ok(_) => panic!("an image without /init booted to the marker"),
        Err(e) => e,
    };
    let msg = e.to_string();
    eprintln!("expected failure:\n{msg}");
    assert!(msg.contains("--- serial log"), "{msg}");
    // The message ends with the console's last lines: the kernel ran and found no init.
    assert!(msg.contains("Kernel panic"), "{msg}");
    assert!(msg.contains(&e.log_path.display().to_string()), "{msg}");
    // The whole log (kept in the error and on disk) starts at the firmware.
    assert!(e.serial.contains("Linux version"), "{}", e.serial);
    assert!(
        std::fs::read_to_string(&e.log_path).is_ok_and(|l| l == e.serial),
        "the full serial log is not in {}",
        e.log_path.display()
    );
    assert!(!msg.contains(fixture_repo::MARKER_PREFIX), "{msg}");
}

/// The hand-assembled tree (real tools, no diskless) boots through pxelinux: proves the
/// harness, the fixture repo and its init. A control for when a generated-tree boot fails;
/// run with `cargo test --test boot -- --ignored`.
#[test]
#[ignore = "harness control, not part of the suite"]
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
        &handmade_spec(
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
#[ignore = "harness control, not part of the suite"]
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
        &handmade_spec(
            "handmade-uefi",
            Firmware::Uefi,
            user_net(&tftp, Firmware::Uefi),
            &marker,
        ),
        &work,
    );
}

/// The hand-assembled tree boots over ISC dhcpd and xinetd/in.tftpd on a tap device, with
/// configs in the recipe's shape (harness check for the real-daemon tests).
#[test]
#[ignore = "harness control, not part of the suite"]
fn handmade_tree_boots_over_real_daemons() {
    let Some(env) = env() else { return };
    if !is_root() {
        eprintln!("skipped: needs root (`rpm --root`, network namespace, tap)");
        return;
    }
    let work = env.work.join("handmade-real");
    let marker = nonce("handmade");
    let tftp = handmade::tree(&env.repo, &work, IMAGE, HOSTNAME, &marker, "gzip", CMDLINE)
        .expect("assembling the hand-made tree");
    let conf = work.join("dhcpd.conf");
    fs_err::write(
        &conf,
        "default-lease-time 600; max-lease-time 7200; authoritative;\n\
         option arch code 93 = unsigned integer 16;\n\
         subnet 192.168.77.0 netmask 255.255.255.0 {\n\
           range 192.168.77.100 192.168.77.150;\n\
           next-server 192.168.77.1;\n\
           if option arch = 00:07 or option arch = 00:09 { filename \"efi/bootx64.efi\"; }\n\
           else { filename \"pxelinux/pxelinux.0\"; }\n\
         }\n",
    )
    .unwrap();
    let xinetd_d = work.join("xinetd.d");
    fs_err::create_dir_all(&xinetd_d).unwrap();
    fs_err::write(
        xinetd_d.join("tftp"),
        format!(
            "service tftp\n{{\n  socket_type = dgram\n  protocol = udp\n  wait = yes\n  user = root\n  \
             server = /usr/sbin/in.tftpd\n  server_args = -s {}\n  disable = no\n}}\n",
            tftp.display()
        ),
    )
    .unwrap();
    let mut ns = daemons::Netns::new("192.168.77.1", 24).expect("network namespace");
    daemons::start_dhcpd(&mut ns, &conf, &work).expect("dhcpd");
    daemons::start_xinetd(&mut ns, &xinetd_d, &work).expect("xinetd");
    for fw in [Firmware::Bios, Firmware::Uefi] {
        let net = Network::Tap {
            netns_pid: ns.pid(),
            ifname: daemons::TAP.into(),
            mac: "52:54:00:12:34:56".into(),
        };
        let name = format!("handmade-real-{fw:?}").to_lowercase();
        if let Err(e) = qemu::boot(&handmade_spec(&name, fw, net, &marker), &work) {
            panic!("{e}\n{}", ns.logs());
        }
    }
}
