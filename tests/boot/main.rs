//! Boot tests: real PXE boots in QEMU of what `diskless build` generates, BIOS and UEFI,
//! with `diskless boot-test` over QEMU's own DHCP/TFTP (passing, and failing for the right
//! reason within seconds), and over the generated dhcpd/xinetd/dnsmasq configs with the real
//! daemons, for each initramfs compression. Slow (TCG boots), so a test binary of its own:
//! `cargo test --test boot`.
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

use diskless::boottest::{Firmware, Network};
use fixture_repo::FixtureRepo;
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
    /// The diskless binary the unprivileged builds run.
    bin: PathBuf,
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
        let bin = build::install_binary(&work).expect("copying the diskless binary");
        Env {
            work,
            bin,
            repo,
            server,
        }
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

/// What a node without an overlay prints: the image's hostname, and no template, host file
/// or fixed address (templates go into the host overlays only).
fn expect_line(marker: &str) -> String {
    format!(
        "{} host={HOSTNAME} marker={marker} owner={} caps={} node= role= . root=rootfs avail=",
        fixture_repo::MARKER_PREFIX,
        fixture_repo::OWNED_EXPECT,
        fixture_repo::CAPS_EXPECT
    )
}

/// A `[[host]]` of tests/boot/fixture/boot.toml.
struct Node {
    name: &'static str,
    hostname: &'static str,
    ip: &'static str,
    mac: &'static str,
    /// Its `[[host.file]]` /etc/boot-fixture/role (a template), empty for none.
    role: &'static str,
}

const NODE1: Node = Node {
    name: "node1",
    hostname: "node1",
    ip: "192.168.77.101",
    mac: "52:54:00:12:34:56",
    role: "",
};
const NODE2: Node = Node {
    name: "node2",
    hostname: "node2.cluster.test",
    ip: "192.168.77.102",
    mac: "52:54:00:12:34:57",
    role: "login node2.cluster.test",
};

/// What `n` prints when its overlay was loaded: its hostname, the profile's template and
/// its own host file filled in with its fields, its fixed address from `[network]`'s eth0
/// and `[dhcp]`'s prefix.
fn host_line(marker: &str, n: &Node) -> String {
    format!(
        "{} host={} marker={marker} owner={} caps={} node={}@{}/{} role={} address1={}/24. root=rootfs avail=",
        fixture_repo::MARKER_PREFIX,
        n.hostname,
        fixture_repo::OWNED_EXPECT,
        fixture_repo::CAPS_EXPECT,
        n.name,
        n.ip,
        n.mac,
        n.role,
        n.ip
    )
}

/// A hand-made tree (rpm --noscripts, GNU cpio) has no boot step: the capabilities rpm
/// would have set are not in the newc archive, so the daemon process gets none.
fn handmade_expect_line(marker: &str) -> String {
    expect_line(marker).replace(fixture_repo::CAPS_EXPECT, "0000000000000000")
}

fn timeout() -> Duration {
    let s = std::env::var("DISKLESS_BOOT_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    Duration::from_secs(s)
}

/// The builds the tests share: one per compression, plus the broken one. Each is built
/// once per process, by whichever test needs it first.
fn built(compression: &'static str, init_symlink: bool) -> (&'static build::Built, &'static str) {
    type Slot = OnceLock<Result<(build::Built, String), String>>;
    static SLOTS: [Slot; 7] = [const { OnceLock::new() }; 7];
    let i = match (compression, init_symlink) {
        ("gzip", true) => 0,
        ("zstd", true) => 1,
        ("xz", true) => 2,
        ("gzip", false) => 3,
        ("none", true) => 4,
        // The squashfs root.
        ("squashfs", true) => 5,
        // The squashfs root the initrd fetches over HTTP.
        ("squashfs-http", true) => 6,
        other => panic!("no shared build for {other:?}"),
    };
    let env = env().expect("checked by the caller");
    let r = SLOTS[i].get_or_init(|| {
        let tag = if init_symlink { compression } else { "broken" };
        let marker = nonce(tag);
        let (compression, root) = match compression {
            "squashfs" | "squashfs-http" => ("zstd", "squashfs"),
            c => (c, "initramfs"),
        };
        let root_http_port = (tag == "squashfs-http").then(free_port);
        let o = build::Options {
            compression,
            init_symlink,
            marker: marker.clone(),
            root,
            root_http_port,
        };
        let b = build::build(
            &env.bin,
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

/// A fresh folder for one test's logs.
fn test_work(name: &str) -> Option<(&'static Env, PathBuf)> {
    let env = env()?;
    let work = env.work.join(name);
    fs_err::create_dir_all(&work).unwrap();
    Some((env, work))
}

/// BIOS and UEFI at once with `diskless boot-test`: iPXE -> pxelinux.0 -> the generated
/// menu, and OVMF -> shim -> GRUB -> the grub.cfg at the prefix embedded in the fixture's
/// GRUB (upstream GRUB looks nowhere else) -> the kernel and gzip initramfs -> the init's
/// marker line.
#[test]
fn boot_test_boots_bios_and_uefi() {
    let Some((_, work)) = test_work("bios-uefi-gzip") else {
        return;
    };
    let (b, marker) = built("gzip", true);
    // `uefi` is "auto" in the profile: on, and the menus also at GRUB's prefix.
    let m: serde_json::Value =
        serde_json::from_slice(&fs_err::read(b.out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["boot"]["grub_prefix"], fixture_repo::GRUB_PREFIX);
    assert_segments(&m, "gzip");
    assert!(b.tftp.join("EFI/redhat/grub.cfg").is_file());
    let r = qemu::boot_test(
        &b.out,
        &work,
        &[
            "--firmware",
            "both",
            "--expect",
            &expect_line(marker),
            "--json",
        ],
        2,
    );
    assert!(r.status.success(), "boot-test failed:\n{}", r.stderr);
    r.report("bios-uefi-gzip");
    let v = r.json();
    assert_eq!(v["passed"], true);
    for b in v["boots"].as_array().unwrap() {
        // Every phase was seen, in order.
        let s = &b["seconds"];
        let t = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("no {k} time: {b}"));
        assert!(t("dhcp") <= t("kernel") && t("kernel") <= t("init") && t("init") <= t("total"));
    }
}

/// The initramfs is several segments (directories, packages, generated files), so a boot
/// also proves the kernel unpacks the concatenation (docs/cache.md).
fn assert_segments(manifest: &serde_json::Value, compression: &str) {
    let segments = manifest["images"][0]["initramfs"]["segments"]
        .as_u64()
        .unwrap_or(0);
    assert!(segments >= 3, "{compression}: {segments} segments");
}

/// `none`: concatenated plain newc segments, NUL padding and all.
#[test]
fn boot_test_boots_uncompressed_segments() {
    let Some((_, work)) = test_work("bios-none") else {
        return;
    };
    let (b, marker) = built("none", true);
    let m: serde_json::Value =
        serde_json::from_slice(&fs_err::read(b.out.join("manifest.json")).unwrap()).unwrap();
    assert_segments(&m, "none");
    let r = qemu::boot_test(
        &b.out,
        &work,
        &[
            "--firmware",
            "bios",
            "--expect",
            &expect_line(marker),
            "--json",
        ],
        1,
    );
    assert!(r.status.success(), "boot-test failed:\n{}", r.stderr);
    r.report("bios-none");
}

/// The default expectation: the kernel's `Run /init as init process` (zstd initramfs).
#[test]
fn boot_test_default_expectation_is_the_init_handover() {
    let Some((_, work)) = test_work("bios-zstd") else {
        return;
    };
    let (b, _) = built("zstd", true);
    let r = qemu::boot_test(&b.out, &work, &["--firmware", "bios", "--json"], 1);
    assert!(r.status.success(), "boot-test failed:\n{}", r.stderr);
    r.report("bios-zstd");
    assert_eq!(
        r.json()["boots"][0]["expected"][0],
        "the kernel's `Run /init as init process`"
    );
    let log = fs_err::read_to_string(work.join("bios.serial.log")).unwrap();
    assert!(log.contains("Run /init as init process"), "{log}");
}

/// `--host node1` boots with node1's MAC, so pxelinux picks `pxelinux.cfg/01-<mac>`, whose
/// command line carries the host's `cmdline` (xz initramfs).
#[test]
fn boot_test_as_a_host_boots_its_menu() {
    let Some((_, work)) = test_work("bios-xz-node1") else {
        return;
    };
    let (b, marker) = built("xz", true);
    let r = qemu::boot_test(
        &b.out,
        &work,
        &[
            "--firmware",
            "bios",
            "--host",
            "node1",
            "--expect",
            "diskless.host=node1",
            "--expect",
            &host_line(marker, &NODE1),
            "--json",
        ],
        1,
    );
    assert!(r.status.success(), "boot-test failed:\n{}", r.stderr);
    r.report("bios-xz-node1");
    assert!(r.stderr.contains("MAC 52:54:00:12:34:56"), "{}", r.stderr);
    // A name the build does not know is an error before any machine starts.
    let r = qemu::boot_test(&b.out, &work, &["--host", "node9"], 0);
    assert!(!r.status.success());
    assert!(
        r.stderr
            .contains("error: No host `node9` in this build (its hosts: `node1`, `node2`)"),
        "{}",
        r.stderr
    );
}

/// node2 by its MAC, BIOS and UEFI at once: pxelinux's `01-<mac>` and GRUB's
/// `grub.cfg-01-<mac>` load the image and then node2's overlay, so the node reports its own
/// hostname, its template and host file filled in, and its fixed address (gzip). node1's
/// boots (above, and the real-daemon ones) report node1's.
#[test]
fn boot_test_hosts_boot_their_own_overlay() {
    let Some((_, work)) = test_work("both-gzip-node2") else {
        return;
    };
    let (b, marker) = built("gzip", true);
    let m: serde_json::Value =
        serde_json::from_slice(&fs_err::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let overlay = format!("pxelinux/images/{IMAGE}/hosts/node2.img");
    assert_eq!(m["hosts"][1]["overlay"], overlay.as_str(), "{}", m["hosts"]);
    let menu =
        fs_err::read_to_string(b.tftp.join("pxelinux/pxelinux.cfg/01-52-54-00-12-34-57")).unwrap();
    assert!(
        menu.contains(&format!(
            "initrd=images/{IMAGE}/initramfs.img,images/{IMAGE}/hosts/node2.img "
        )),
        "{menu}"
    );
    let r = qemu::boot_test(
        &b.out,
        &work,
        &[
            "--firmware",
            "both",
            "--host",
            "node2",
            "--expect",
            &host_line(marker, &NODE2),
            "--json",
        ],
        2,
    );
    assert!(r.status.success(), "boot-test failed:\n{}", r.stderr);
    r.report("both-gzip-node2");
    assert!(r.stderr.contains("MAC 52:54:00:12:34:57"), "{}", r.stderr);
}

/// A squashfs root (zstd): the generated initrd loads loop, squashfs and overlay (xz
/// modules of the image's kernel-modules-core), mounts the root image from rootfs.img
/// under a tmpfs overlay and hands over to the image's /init, which applies the file
/// capabilities: the node sees an overlay root. BIOS as an unknown node, UEFI as node2
/// (its overlay archive is the overlay's top layer). The root image travels in 1 MiB parts
/// (the profile's `root_chunk_mib`), which the initrd joins before mounting.
#[test]
fn boot_test_boots_a_squashfs_root() {
    let Some((_, work)) = test_work("squashfs") else {
        return;
    };
    let (b, marker) = built("squashfs", true);
    let img = &b.manifest()["images"][0];
    assert_eq!(img["root"], "squashfs", "{img}");
    assert_eq!(
        img["initrd"]["modules"].as_array().map(Vec::len),
        Some(3),
        "{img}"
    );
    let parts = img["root_image"]["parts"].as_u64().unwrap_or(0);
    assert!(parts >= 2, "the root image should travel in parts: {img}");
    let menu = fs_err::read_to_string(b.tftp.join("pxelinux/pxelinux.cfg/default")).unwrap();
    assert!(
        menu.contains(&format!(
            "initrd=images/{IMAGE}/initramfs.img,images/{IMAGE}/rootfs.img "
        )),
        "{menu}"
    );
    let squashfs = |line: String| line.replace(" root=rootfs avail=", " root=overlay avail=");
    for (fw, host, expect) in [
        ("bios", None, squashfs(expect_line(marker))),
        ("uefi", Some("node2"), squashfs(host_line(marker, &NODE2))),
    ] {
        let w = work.join(fw);
        fs_err::create_dir_all(&w).unwrap();
        let mut args = vec!["--firmware", fw, "--expect", &expect, "--json"];
        if let Some(h) = host {
            args.extend(["--host", h]);
        }
        let r = qemu::boot_test(&b.out, &w, &args, 1);
        assert!(r.status.success(), "boot-test {fw} failed:\n{}", r.stderr);
        r.report(&format!("squashfs-{fw}"));
    }
}

/// A port nothing listens on now (boot-test binds it later for the root image).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// A squashfs root fetched over HTTP (`[image] root_http = "http://{server}:PORT"`): the
/// boot loader loads only the small initrd and passes on its address (pxelinux IPAPPEND 3,
/// GRUB's net_default_* variables); the initrd loads the e1000 driver, configures the NIC
/// with that MAC, fetches root.squashfs from boot-test's HTTP server (QEMU's 10.0.2.2 is
/// the host's 127.0.0.1), checks its sha256 and mounts it. BIOS as an unknown node, UEFI
/// as node2. Then a copy of the output whose root.squashfs differs by one byte: the initrd
/// refuses it, and the boot fails naming the mismatch.
#[test]
fn boot_test_boots_a_squashfs_root_fetched_over_http() {
    let Some((_, work)) = test_work("squashfs-http") else {
        return;
    };
    let (b, marker) = built("squashfs-http", true);
    let img = &b.manifest()["images"][0];
    let rel = format!("pxelinux/images/{IMAGE}/root.squashfs");
    assert_eq!(img["root_image"]["path"], rel.as_str(), "{img}");
    let url = img["root_image"]["url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("http://{server}:") && url.ends_with(&format!("/{rel}")),
        "{img}"
    );
    let modules = img["initrd"]["modules"].to_string();
    assert!(
        modules.contains("e1000.ko") && modules.contains("e1000e.ko"),
        "{img}"
    );
    assert!(
        !b.tftp
            .join(format!("pxelinux/images/{IMAGE}/rootfs.img"))
            .exists()
    );
    let menu = fs_err::read_to_string(b.tftp.join("pxelinux/pxelinux.cfg/default")).unwrap();
    assert!(
        menu.contains(&format!("initrd=images/{IMAGE}/initramfs.img "))
            && menu.contains("IPAPPEND 3"),
        "{menu}"
    );
    let squashfs = |line: String| line.replace(" root=rootfs avail=", " root=overlay avail=");
    for (fw, host, expect) in [
        ("bios", None, squashfs(expect_line(marker))),
        ("uefi", Some("node2"), squashfs(host_line(marker, &NODE2))),
    ] {
        let w = work.join(fw);
        fs_err::create_dir_all(&w).unwrap();
        let mut args = vec![
            "--firmware",
            fw,
            "--expect",
            "diskless initrd: root image fetched and verified",
            "--expect",
            &expect,
            "--json",
        ];
        if let Some(h) = host {
            args.extend(["--host", h]);
        }
        let r = qemu::boot_test(&b.out, &w, &args, 1);
        assert!(r.status.success(), "boot-test {fw} failed:\n{}", r.stderr);
        r.report(&format!("squashfs-http-{fw}"));
    }

    // A stale image on the server: one byte differs. The copy is the build's output with
    // that file replaced (everything else hard-linked: nothing of the build is written).
    let stale = work.join("stale-out");
    let cp = std::process::Command::new("cp")
        .args(["-al"])
        .arg(&b.out)
        .arg(&stale)
        .status()
        .unwrap();
    assert!(cp.success());
    let sq = stale.join("tftpboot").join(&rel);
    let mut bytes = fs_err::read(&sq).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs_err::remove_file(&sq).unwrap();
    fs_err::write(&sq, &bytes).unwrap();
    let w = work.join("stale");
    fs_err::create_dir_all(&w).unwrap();
    let expect = squashfs(expect_line(marker));
    let r = qemu::boot_test(
        &stale,
        &w,
        &["--firmware", "bios", "--expect", &expect, "--json"],
        1,
    );
    assert!(
        !r.status.success(),
        "a stale root image booted:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("is not this build's root image"),
        "{}",
        r.stderr
    );
    r.report("squashfs-http-stale");
}

/// `stderr` says `the FW boot failed after N s: REASON`, N being the JSON's `total` (which
/// is rounded to the millisecond first, so the two roundings may differ in the last digit).
fn assert_failed_after(stderr: &str, fw: &str, total: f64, reason: &str) {
    let head = format!("the {fw} boot failed after ");
    let line = stderr
        .lines()
        .find_map(|l| l.split_once(head.as_str()).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no `{head}` in:\n{stderr}"));
    let (n, rest) = line
        .split_once(" s: ")
        .unwrap_or_else(|| panic!("no seconds in `{line}`"));
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("`{n}` in `{line}`"));
    assert!(
        (n - total).abs() <= 0.051,
        "{n} s said, {total} s in the JSON"
    );
    assert!(
        rest.starts_with(reason),
        "`{line}` does not give `{reason}`"
    );
}

/// A broken build (no `/init`: the kernel finds no init in the initramfs and panics)
/// fails with the panic as the reason, seconds after the kernel started.
#[test]
fn boot_test_reports_a_kernel_panic() {
    let Some((_, work)) = test_work("broken-bios") else {
        return;
    };
    let (b, _) = built("gzip", false);
    let r = qemu::boot_test(&b.out, &work, &["--firmware", "bios", "--json"], 1);
    eprintln!(
        "boot `broken-bios`: failed after {:.1} s (expected)",
        r.elapsed.as_secs_f64()
    );
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    let log = work.join("bios.serial.log");
    assert_failed_after(
        &r.stderr,
        "bios",
        r.json()["boots"][0]["seconds"]["total"].as_f64().unwrap(),
        "kernel panic: VFS: Unable to mount root fs",
    );
    assert!(
        r.stderr
            .contains(&format!("(serial log: {})", log.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("hint: the initramfs has no working /init")
    );
    assert_eq!(r.json()["boots"][0]["failure"]["kind"], "kernel_panic");
    // The whole console is in the log, from the firmware on.
    let text = fs_err::read_to_string(&log).unwrap();
    assert!(text.contains("SeaBIOS"), "{text}");
    assert!(text.contains("Kernel panic - not syncing"), "{text}");
    // Stopped at the panic, not at the timeout.
    assert!(
        r.elapsed < timeout() / 3,
        "took {:?} of a {:?} timeout",
        r.elapsed,
        timeout()
    );
}

/// A tree whose kernel is missing: pxelinux and GRUB say so, and boot-test stops there.
#[test]
fn boot_test_reports_a_missing_kernel() {
    let Some((env, work)) = test_work("no-kernel") else {
        return;
    };
    let (b, _) = built("gzip", true);
    // A copy of the build without the kernel.
    let out = env.work.join("build-no-kernel");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&b.out)
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    fs_err::remove_file(out.join(format!("tftpboot/pxelinux/images/{IMAGE}/vmlinuz"))).unwrap();
    let r = qemu::boot_test(&out, &work, &["--firmware", "both", "--json"], 2);
    eprintln!(
        "boot `no-kernel`: both failed after {:.1} s (expected)",
        r.elapsed.as_secs_f64()
    );
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    let v = r.json();
    for (i, fw) in ["bios", "uefi"].iter().enumerate() {
        let b = &v["boots"][i];
        assert_eq!(b["firmware"], *fw);
        assert_eq!(b["failure"]["kind"], "loader_error", "{b}");
        assert_failed_after(
            &r.stderr,
            fw,
            b["seconds"]["total"].as_f64().unwrap(),
            "the boot loader could not load the kernel or initrd",
        );
    }
    assert!(
        r.stderr
            .contains("Loading images/diskless/vmlinuz... failed"),
        "{}",
        r.stderr
    );
    assert!(r.elapsed < timeout() / 3, "took {:?}", r.elapsed);
}

/// The generated dhcpd.conf (ISC dhcpd) and xinetd.d/tftp (xinetd + in.tftpd) serve the
/// boot on a tap device, for one firmware.
fn real_daemons_boot(name: &str, firmware: Firmware) {
    let Some((_, work)) = test_work(name) else {
        return;
    };
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the real-daemon boots need root (network namespace, tap device)"
        );
        eprintln!("skipped: the real-daemon boots need root");
        return;
    }
    let (b, marker) = built("gzip", true);
    let mut ns = daemons::Netns::new("192.168.77.1", 24).expect("network namespace");
    daemons::start_dhcpd(&mut ns, &b.config.join("dhcpd.conf"), &work).expect("dhcpd");
    daemons::start_xinetd(&mut ns, &b.config.join("xinetd.d"), &work).expect("xinetd");
    let r = tap_boot(&ns, name, firmware, &host_line(marker, &NODE1), &work);
    let logs = ns.logs();
    drop(ns);
    if let Err(e) = r {
        panic!("{e}\n{logs}");
    }
    // The address came from the profile's host block, not from a pool.
    assert!(
        logs.contains("DHCPACK on 192.168.77.101 to 52:54:00:12:34:56"),
        "dhcpd did not hand out the host's fixed address:\n{logs}"
    );
}

/// Boot on the namespace's tap device as host node1.
fn tap_boot(
    ns: &daemons::Netns,
    name: &str,
    firmware: Firmware,
    expect: &str,
    work: &Path,
) -> Result<diskless::boottest::Outcome, String> {
    qemu::boot_machine(
        name,
        firmware,
        Network::Tap {
            ifname: daemons::TAP.into(),
        },
        ["nsenter", "-t", &ns.pid().to_string(), "-n", "--"]
            .map(Into::into)
            .to_vec(),
        "52:54:00:12:34:56",
        expect,
        work,
    )
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
/// client-arch tag must pick the EFI boot file, and GRUB finds node1's own menu
/// (`grub.cfg-01-<mac>` at its prefix), whose command line carries the host's `cmdline`.
#[test]
fn dnsmasq_serves_uefi_boot() {
    let Some((_, work)) = test_work("dnsmasq-uefi") else {
        return;
    };
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the dnsmasq boot needs root (network namespace, tap device)"
        );
        eprintln!("skipped: the dnsmasq boot needs root");
        return;
    }
    let (b, marker) = built("gzip", true);
    let mut ns = daemons::Netns::new("192.168.77.1", 24).expect("network namespace");
    daemons::start_dnsmasq(&mut ns, &b.config.join("dnsmasq.conf"), &work).expect("dnsmasq");
    let r = tap_boot(
        &ns,
        "dnsmasq-uefi",
        Firmware::Uefi,
        &host_line(marker, &NODE1),
        &work,
    );
    let logs = ns.logs();
    drop(ns);
    match r {
        Ok(o) => assert!(
            o.console.contains("diskless.host=node1"),
            "GRUB did not boot node1's menu:\n{}",
            o.console
        ),
        Err(e) => panic!("{e}\n{logs}"),
    }
}

/// The hand-assembled tree (real tools, no diskless) boots through pxelinux: proves the
/// harness, the fixture repo and its init. A control for when a generated-tree boot fails;
/// run with `cargo test --test boot -- --ignored`.
#[test]
#[ignore = "harness control, not part of the suite"]
fn handmade_tree_boots_bios() {
    handmade_boot("handmade-bios", Firmware::Bios, "gzip");
}

/// The same tree boots through OVMF, shim and GRUB.
#[test]
#[ignore = "harness control, not part of the suite"]
fn handmade_tree_boots_uefi() {
    handmade_boot("handmade-uefi", Firmware::Uefi, "zstd");
}

fn handmade_boot(name: &str, firmware: Firmware, compression: &str) {
    let Some((env, work)) = test_work(name) else {
        return;
    };
    if !is_root() {
        eprintln!("skipped: assembling the hand-made tree needs root (`rpm --root`)");
        return;
    }
    let marker = nonce("handmade");
    let tftp = handmade::tree(
        &env.repo,
        &work,
        IMAGE,
        HOSTNAME,
        &marker,
        compression,
        CMDLINE,
    )
    .expect("assembling the hand-made tree");
    let bootfile = match firmware {
        Firmware::Bios => "/pxelinux/pxelinux.0",
        Firmware::Uefi => "/efi/bootx64.efi",
    };
    let net = Network::User {
        tftp,
        bootfile: bootfile.into(),
    };
    if let Err(e) = qemu::boot_machine(
        name,
        firmware,
        net,
        Vec::new(),
        "52:54:00:12:34:56",
        &handmade_expect_line(&marker),
        &work,
    ) {
        panic!("{e}");
    }
}

/// The hand-assembled tree boots over ISC dhcpd and xinetd/in.tftpd on a tap device, with
/// configs in the recipe's shape (harness check for the real-daemon tests).
#[test]
#[ignore = "harness control, not part of the suite"]
fn handmade_tree_boots_over_real_daemons() {
    let Some((env, work)) = test_work("handmade-real") else {
        return;
    };
    if !is_root() {
        eprintln!("skipped: needs root (`rpm --root`, network namespace, tap)");
        return;
    }
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
        let name = format!("handmade-real-{}", fw.name());
        if let Err(e) = tap_boot(&ns, &name, fw, &handmade_expect_line(&marker), &work) {
            panic!("{e}\n{}", ns.logs());
        }
    }
}
