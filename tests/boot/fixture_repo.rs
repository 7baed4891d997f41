//! The fixture repository the boot tests build images from: real RPMs shaped like their
//! EL9 counterparts, made from the Debian binaries installed on the test machine (kernel,
//! busybox, pxelinux, GRUB, shim), with real dependencies between them, indexed by
//! `createrepo_c`.
//!
//! Every RPM is built with a fixed `source_date`, so the same host packages give byte-identical
//! RPMs (and therefore the same lock) on every run.

use crate::support::repo::createrepo;
use crate::support::rpm::{Entry, Rpm};
use anyhow::{Context, Result, ensure};
use rpm::{CompressionWithLevel, Dependency};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Build time and file mtime of every fixture RPM (2023-11-14T22:13:20Z).
pub const SOURCE_DATE: u32 = 1_700_000_000;

/// What the image's `/sbin/init` prints: `<MARKER_PREFIX> host=… marker=… owner=… caps=…`.
pub const MARKER_PREFIX: &str = "DISKLESS-BOOT-OK";

/// The non-root owned file the init checks, and the owner it must still have after the
/// image was assembled without root (`stat -c '%U:%G %u:%g %a'`).
pub const OWNED_FILE: &str = "/var/lib/boot-fixture/owned";
pub const OWNED_EXPECT: &str = "daemon:daemon 2:2 640";

/// A copy of busybox shipped with `%caps(cap_net_raw=ep)`: newc cannot carry the xattr, so
/// it only has it if the image's boot step (diskless' `/init` program) set it. The init runs
/// it as `daemon` (a non-root process gets file capabilities only from the xattr) and
/// prints its effective set: CAP_NET_RAW (13) alone.
pub const CAPS_FILE: &str = "/usr/libexec/boot-fixture/busybox-caps";
pub const CAPS_EXPECT: &str = "0000000000002000";

/// The image's init (shipped by the `boot-fixture-init` package at the pre-usrmerge path
/// `/sbin/init`, so it lands in /usr/sbin through the `filesystem` package's symlink).
/// The kernel opens /dev/console from its built-in cpio before init starts; mounting
/// devtmpfs first still makes the echo robust if a build dropped that node.
const INIT: &str = r#"#!/bin/sh
# boot-fixture init: report what the image looks like from inside, then power off.
export PATH=/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Only emergencies on the console from here: a late kernel message (e.g. the TSC
# recalibration under TCG) printed mid-echo would split the marker line the test reads.
echo 1 > /proc/sys/kernel/printk
host=$(cat /etc/hostname)
marker=$(cat /etc/boot-fixture/marker)
owner=$(stat -c '%U:%G %u:%g %a' /var/lib/boot-fixture/owned)
set -- $(su -s /usr/bin/sh daemon -c '/usr/libexec/boot-fixture/busybox-caps grep CapEff /proc/self/status')
caps=$2
# What a host overlay adds (empty without one): a template filled in, a host file, the
# fixed address on the [network] interface.
node=$(cat /etc/boot-fixture/node 2>/dev/null)
role=$(cat /etc/boot-fixture/role 2>/dev/null)
addr=$(grep -h '^address1=' /etc/NetworkManager/system-connections/*.nmconnection 2>/dev/null)
# The root's type (rootfs for an initramfs, overlay for a squashfs root) and the RAM left.
while read -r dev mnt fs rest; do [ "$mnt" = / ] && root=$fs; done < /proc/mounts
while read -r key value unit; do [ "$key" = MemAvailable: ] && avail=$value; done < /proc/meminfo
echo "DISKLESS-BOOT-OK host=$host marker=$marker owner=$owner caps=$caps node=$node role=$role ${addr}. root=$root avail=${avail}kB" > /dev/console
poweroff -f
"#;

/// EL9's setup passwd/group, cut down to the entries the fixture uses.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
bin:x:1:1:bin:/bin:/sbin/nologin\n\
daemon:x:2:2:daemon:/sbin:/sbin/nologin\n\
adm:x:3:4:adm:/var/adm:/sbin/nologin\n\
nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nbin:x:1:\ndaemon:x:2:\nsys:x:3:\nadm:x:4:\nnobody:x:65534:\n";

/// Busybox applets the init script, an interactive debug shell and the HTTP fetch of a
/// squashfs root need, with the directory EL9 puts them in.
const APPLETS: &[(&str, &str)] = &[
    ("/usr/bin", "sh"),
    ("/usr/bin", "cat"),
    ("/usr/bin", "echo"),
    ("/usr/bin", "ls"),
    ("/usr/bin", "mount"),
    ("/usr/bin", "stat"),
    ("/usr/bin", "su"),
    ("/usr/bin", "grep"),
    ("/usr/bin", "uname"),
    ("/usr/sbin", "poweroff"),
    ("/usr/sbin", "reboot"),
    // What a squashfs root's initrd runs to fetch the root image over HTTP.
    ("/usr/sbin", "ip"),
    ("/usr/bin", "wget"),
    ("/usr/bin", "sha256sum"),
    ("/usr/bin", "sleep"),
];

/// Where the host's boot binaries come from (Debian package paths).
const PXELINUX: &str = "/usr/lib/PXELINUX/pxelinux.0";
const SYSLINUX_BIOS: &str = "/usr/lib/syslinux/modules/bios";
const SYSLINUX_MODULES: &[&str] = &[
    "ldlinux.c32",
    "vesamenu.c32",
    "libcom32.c32",
    "libutil.c32",
    "menu.c32",
];
const SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";
const MOKMANAGER: &str = "/usr/lib/shim/mmx64.efi.signed";
const BUSYBOX: &str = "/bin/busybox";

/// GRUB modules of the netboot image: network, tftp, the linux loader, the script engine
/// and a serial console.
const GRUB_MODULES: &[&str] = &[
    "efinet",
    "tftp",
    "net",
    "linux",
    "normal",
    "configfile",
    "echo",
    "serial",
    "terminal",
    "test",
    "sleep",
    "efi_gop",
    "all_video",
];

/// The built repository.
#[derive(Debug, Clone)]
pub struct FixtureRepo {
    /// Folder with the RPMs and `repodata/`.
    pub dir: PathBuf,
    /// Kernel release, e.g. `6.1.0-56-amd64` (`/lib/modules/<kver>/vmlinuz`).
    pub kver: String,
    /// The RPM files, in build order.
    pub rpms: Vec<PathBuf>,
}

/// The newest kernel in /boot (`vmlinuz-<kver>`), or `DISKLESS_BOOT_KVER`.
pub fn host_kernel() -> Result<(String, PathBuf)> {
    let kver = match std::env::var("DISKLESS_BOOT_KVER") {
        Ok(k) => k,
        Err(_) => {
            let mut kvers: Vec<String> = fs_err::read_dir("/boot")?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix("vmlinuz-"))
                        .map(str::to_owned)
                })
                .collect();
            kvers.sort_by_key(|k| version_key(k));
            kvers
                .pop()
                .context("no /boot/vmlinuz-* (install linux-image-amd64)")?
        }
    };
    let path = PathBuf::from(format!("/boot/vmlinuz-{kver}"));
    ensure!(path.is_file(), "`{}` is missing", path.display());
    Ok((kver, path))
}

/// Numeric-aware sort key (`6.1.0-9` < `6.1.0-56`).
fn version_key(s: &str) -> Vec<(u64, String)> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .map(|p| (p.parse::<u64>().unwrap_or(0), p.to_owned()))
        .collect()
}

/// A fixture package in the style of the boot tests: EL9's license, a vendor and a
/// description naming where it comes from, gzip payload unless changed.
fn pkg(name: &str, version: &str, release: &str, arch: &str, summary: &str) -> Rpm {
    Rpm::new(name, version)
        .release(release)
        .arch(arch)
        .license("GPL-2.0-or-later")
        .summary(summary)
        .vendor("diskless boot fixture")
        .description(format!(
            "{summary} (boot test fixture built from Debian binaries)"
        ))
        .source_date(SOURCE_DATE)
        .compression(CompressionWithLevel::Gzip(6))
}

fn read(path: &str) -> Result<Vec<u8>> {
    Ok(fs_err::read(path)?)
}

/// The host kernel's modules `kernel-modules-core` carries (relative to its modules
/// folder): what a squashfs root needs, none of them built into Debian's kernel.
pub const SQUASHFS_ROOT_MODULES: [&str; 3] = [
    "kernel/drivers/block/loop.ko",
    "kernel/fs/overlayfs/overlay.ko",
    "kernel/fs/squashfs/squashfs.ko",
];

/// The NIC drivers it also carries, for a root image fetched over HTTP: QEMU's e1000 (the
/// NIC boot-test prefers) and e1000e, both in the default `net_modules` list.
pub const NIC_MODULES: [&str; 2] = [
    "kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
    "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko",
];

/// The prefix embedded in the fixture's GRUB, RHEL's: upstream GRUB reads
/// `<prefix>/grub.cfg` (and `grub.cfg-01-<mac>` there) from the tftp server and nothing
/// else, so a UEFI boot passes only if the build put the menus where the image looks.
pub const GRUB_PREFIX: &str = "/EFI/redhat";

/// `grub-mkimage` output is a pure function of its inputs (checked: same bytes twice).
fn grub_image(work: &Path) -> Result<Vec<u8>> {
    let out = work.join("grubx64.efi");
    let status = Command::new("grub-mkimage")
        .args(["-O", "x86_64-efi", "-p", GRUB_PREFIX, "-o"])
        .arg(&out)
        .args(GRUB_MODULES)
        .status()
        .context("running grub-mkimage (install grub-efi-amd64-bin)")?;
    ensure!(status.success(), "grub-mkimage failed: {status}");
    Ok(fs_err::read(&out)?)
}

/// Build the fixture RPMs into `dir` and index them with `createrepo_c`.
pub fn build(out: &Path) -> Result<FixtureRepo> {
    fs_err::create_dir_all(out)?;
    let work = out.join(".work");
    fs_err::create_dir_all(&work)?;
    let (kver, vmlinuz) = host_kernel()?;
    // kernel-core's EVR from the Debian release: 6.1.0-56-amd64 -> 6.1.0-56.el9
    let (kversion, krelease) = match kver.split_once('-') {
        Some((v, rest)) => (
            v.to_owned(),
            format!("{}.el9", rest.split('-').next().unwrap_or("1")),
        ),
        None => (kver.clone(), "1.el9".to_owned()),
    };
    let mut packages: Vec<Rpm> = Vec::new();
    let config = |path: &str, contents: &str, mode: u16| {
        Entry::file(path, contents).mode(mode).config().noreplace()
    };

    // setup: passwd and group first; everything with an owner depends on it.
    packages.push(
        pkg(
            "setup",
            "2.13.7",
            "10.el9",
            "noarch",
            "A set of system configuration and setup files",
        )
        .dir("/etc", 0o755)
        .entry(config("/etc/passwd", PASSWD, 0o644))
        .entry(config("/etc/group", GROUP, 0o644))
        .entry(config("/etc/shadow", "", 0o000))
        .entry(config("/etc/gshadow", "", 0o000)),
    );

    // filesystem: EL9's directory skeleton with the usrmerge symlinks.
    packages.push(
        pkg(
            "filesystem",
            "3.16",
            "2.el9",
            "x86_64",
            "The basic directory layout for a Linux system",
        )
        .requires(Dependency::any("setup"))
        .entries(
            [
                ("/boot", 0o555),
                ("/dev", 0o755),
                ("/etc", 0o755),
                ("/home", 0o755),
                ("/proc", 0o555),
                ("/root", 0o550),
                ("/run", 0o755),
                ("/sys", 0o555),
                ("/tmp", 0o1777),
                ("/usr", 0o755),
                ("/usr/bin", 0o755),
                ("/usr/lib", 0o555),
                ("/usr/lib/modules", 0o755),
                ("/usr/lib64", 0o555),
                ("/usr/sbin", 0o755),
                ("/var", 0o755),
                ("/var/lib", 0o755),
                ("/var/tmp", 0o1777),
            ]
            .map(|(d, mode)| Entry::dir(d).mode(mode)),
        )
        .entries(
            [
                ("/bin", "usr/bin"),
                ("/lib", "usr/lib"),
                ("/lib64", "usr/lib64"),
                ("/sbin", "usr/sbin"),
                ("/var/run", "../run"),
            ]
            .map(|(link, target)| Entry::symlink(link, target)),
        ),
    );

    packages.push(
        pkg(
            "basesystem",
            "11",
            "13.el9",
            "noarch",
            "The skeleton package which defines a simple system",
        )
        .requires(Dependency::any("setup"))
        .requires(Dependency::any("filesystem")),
    );

    // busybox: the static binary with the applet links, and /bin/sh as a file provide
    // (EL9's bash provides it the same way).
    packages.push(
        pkg(
            "busybox",
            "1.36.1",
            "1.el9",
            "x86_64",
            "Statically linked binary providing simplified versions of system commands",
        )
        .compression(CompressionWithLevel::Xz(2))
        .requires(Dependency::any("filesystem"))
        .provides(Dependency::any("/bin/sh"))
        .file("/usr/bin/busybox", read(BUSYBOX)?, 0o755)
        .entries(APPLETS.iter().map(|(d, applet)| {
            let target = if *d == "/usr/bin" {
                "busybox"
            } else {
                "../bin/busybox"
            };
            Entry::symlink(format!("{d}/{applet}"), target)
        })),
    );

    // The image's init and the non-root owned file it checks. Shipped at /sbin/init and
    // owned by `daemon`, so a correct build must follow /sbin -> usr/sbin and map owner
    // names through the image's own passwd (from `setup`).
    packages.push(
        pkg(
            "boot-fixture-init",
            "1.0",
            "1.el9",
            "x86_64",
            "Init for the diskless boot tests",
        )
        .requires(Dependency::any("/bin/sh"))
        .requires(Dependency::any("filesystem"))
        .requires(Dependency::any("setup"))
        .file("/sbin/init", INIT, 0o755)
        .dir("/etc/boot-fixture", 0o755)
        .entry(
            Entry::dir("/var/lib/boot-fixture")
                .mode(0o750)
                .user("daemon")
                .group("daemon"),
        )
        .entry(
            Entry::file(OWNED_FILE, "owned by daemon\n")
                .mode(0o640)
                .user("daemon")
                .group("daemon"),
        )
        .dir("/usr/libexec/boot-fixture", 0o755)
        .entry(
            Entry::file(CAPS_FILE, read(BUSYBOX)?)
                .mode(0o755)
                .caps("cap_net_raw=ep"),
        ),
    );

    // kernel-core with the EL8/9 layout (vmlinuz under /lib/modules, resolved through the
    // /lib -> usr/lib symlink), and the `kernel` metapackage requiring it by uname-r.
    packages.push(
        pkg(
            "kernel-core",
            &kversion,
            &krelease,
            "x86_64",
            "The Linux kernel",
        )
        .compression(CompressionWithLevel::Zstd(3))
        .requires(Dependency::any("filesystem"))
        .provides(Dependency::eq("kernel-core-uname-r", kver.as_str()))
        .provides(Dependency::eq("kernel-uname-r", kver.as_str()))
        .dir(format!("/lib/modules/{kver}"), 0o755)
        .file(
            format!("/lib/modules/{kver}/vmlinuz"),
            fs_err::read(&vmlinuz)?,
            0o755,
        ),
    );

    // The modules a squashfs root's initrd loads, xz-compressed as EL9 ships them (the
    // host's Debian modules are plain .ko).
    let mut modules = pkg(
        "kernel-modules-core",
        &kversion,
        &krelease,
        "x86_64",
        "Core kernel modules to match the core kernel",
    )
    .compression(CompressionWithLevel::Zstd(3))
    .requires(Dependency::eq("kernel-core-uname-r", kver.as_str()));
    for m in SQUASHFS_ROOT_MODULES.iter().chain(&NIC_MODULES) {
        let ko = fs_err::read(format!("/lib/modules/{kver}/{m}"))
            .context("the host kernel's modules (linux-image-amd64) for the squashfs root")?;
        let mut xz = liblzma::write::XzEncoder::new_stream(
            Vec::new(),
            liblzma::stream::Stream::new_easy_encoder(6, liblzma::stream::Check::Crc32)?,
        );
        std::io::Write::write_all(&mut xz, &ko)?;
        modules = modules.file(format!("/lib/modules/{kver}/{m}.xz"), xz.finish()?, 0o644);
    }
    packages.push(modules);

    packages.push(
        pkg(
            "kernel",
            &kversion,
            &krelease,
            "x86_64",
            "The Linux kernel, metapackage",
        )
        .requires(Dependency::eq("kernel-core-uname-r", kver.as_str())),
    );

    // Boot packages (resolved separately, feed the tftp tree).
    let mut syslinux = pkg(
        "syslinux-tftpboot",
        "6.04",
        "0.20.el9",
        "noarch",
        "SYSLINUX modules in /tftpboot, available for network booting",
    )
    .dir("/tftpboot", 0o755)
    .file("/tftpboot/pxelinux.0", read(PXELINUX)?, 0o644);
    for m in SYSLINUX_MODULES {
        syslinux = syslinux.file(
            format!("/tftpboot/{m}"),
            read(&format!("{SYSLINUX_BIOS}/{m}"))?,
            0o644,
        );
    }
    packages.push(syslinux);

    packages.push(
        pkg(
            "grub2-efi-x64",
            "2.06",
            "77.el9",
            "x86_64",
            "GRUB for EFI systems",
        )
        .dir("/boot/efi/EFI/redhat", 0o700)
        .file(
            "/boot/efi/EFI/redhat/grubx64.efi",
            grub_image(&work)?,
            0o700,
        ),
    );

    packages.push(
        pkg(
            "shim-x64",
            "15.8",
            "4.el9",
            "x86_64",
            "First-stage UEFI bootloader",
        )
        .requires(Dependency::any("grub2-efi-x64"))
        .dir("/boot/efi/EFI/redhat", 0o700)
        .file("/boot/efi/EFI/redhat/shimx64.efi", read(SHIM)?, 0o700)
        .file("/boot/efi/EFI/redhat/mmx64.efi", read(MOKMANAGER)?, 0o700),
    );

    let mut rpms = Vec::new();
    for p in &packages {
        let path = p
            .write_in(out)
            .with_context(|| format!("writing `{}` into `{}`", p.file_name(), out.display()))?;
        rpms.push(path);
    }
    fs_err::remove_dir_all(&work)?;

    createrepo(
        out,
        &[
            "--revision",
            &SOURCE_DATE.to_string(),
            "--set-timestamp-to-revision",
        ],
    )
    .context("indexing the fixture repository")?;
    Ok(FixtureRepo {
        dir: out.to_owned(),
        kver,
        rpms,
    })
}
