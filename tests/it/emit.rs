//! Emit: the initramfs read back by GNU cpio and bsdtar, reproducibility across
//! environments, golden artifact digests, generated configs accepted by the real daemons,
//! the OCI layout read by skopeo and umoci, `diskless diff` and `diskless verify`, and
//! `diskless push` to a local registry.
//!
//! The fixture is built here: a tree with every entry kind (hardlinks, setuid, devices,
//! symlinks, a long path, a multi-block file) in a content store, and boot packages as real
//! RPM files made with the test RPM builder (syslinux-tftpboot, shim-x64, grub2-efi-x64 at
//! their RHEL paths; the file contents are synthetic: nothing here boots).

use crate::support::proc::{ChildGuard, free_port, wait_for_port};
use crate::support::rpm::Rpm;
use assert_cmd::Command;
use diskless::emit::settings::{Dhcp, EmitSettings, Host};
use diskless::emit::{self, EmitInputs, ImageInput, Provenance, compress::Compression, cpio, sums};
use diskless::lock::{LockedPackage, Lockfile};
use diskless::package::Checksum;
use diskless::plan::inputs::package_records;
use diskless::rootfs::store::Store;
use diskless::rootfs::tree::{Digest, Entry, EntryKind, Tree};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const SDE: u64 = 1_700_000_000;
const KVER: &str = "5.14.0-70.el9.x86_64";

/// Deterministic pseudo-random bytes, partly text (not `support::noise`: the golden
/// digests below pin these bytes).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 4 == 0 {
            v.extend_from_slice(b"diskless initramfs fixture ");
        } else {
            v.extend_from_slice(&x.to_le_bytes());
        }
    }
    v.truncate(len);
    v
}

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    tree: Tree,
    /// Replaceable: tests/it/uefi.rs swaps in real boot loaders.
    pub(crate) boot_rpms: Vec<PathBuf>,
    lock: Lockfile,
}

fn put(store: &Store, data: &[u8]) -> (Digest, u64) {
    let d = Digest(Sha256::digest(data).into());
    let p = store.path(&d);
    fs_err::create_dir_all(p.parent().unwrap()).unwrap();
    fs_err::write(&p, data).unwrap();
    (d, data.len() as u64)
}

fn entry(kind: EntryKind, mode: u32, uid: u32, gid: u32, pkg: &str) -> Entry {
    Entry {
        kind,
        mode,
        uid,
        gid,
        mtime: 1_234_567,
        owner_package: Some(pkg.to_string()),
        caps: None,
    }
}

/// `motd` varies the fixture for the diff test.
fn fixture_with(motd: &[u8]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut t = Tree::default();
    let mut add = |p: &str, e: Entry| {
        t.entries.insert(p.to_string(), e);
    };
    let dirs = [
        ("/", 0o755),
        ("/dev", 0o755),
        ("/etc", 0o755),
        ("/tmp", 0o1777),
        ("/usr", 0o755),
        ("/usr/bin", 0o755),
        ("/usr/lib", 0o755),
        ("/usr/lib/modules", 0o755),
        ("/usr/lib/modules/5.14.0-70.el9.x86_64", 0o755),
        ("/usr/share", 0o755),
        ("/usr/share/doc", 0o755),
        (
            "/usr/share/doc/a-package-with-a-rather-long-name-to-exercise-path-handling-0.1",
            0o755,
        ),
        (
            "/usr/share/doc/a-package-with-a-rather-long-name-to-exercise-path-handling-0.1/subdirectory-with-a-long-name",
            0o755,
        ),
        ("/var", 0o755),
        ("/var/empty", 0o711),
    ];
    for (p, m) in dirs {
        add(p, entry(EntryKind::Dir, m, 0, 0, "filesystem"));
    }
    let file = |data: &[u8], group: Option<u32>| {
        let (digest, size) = put(&store, data);
        EntryKind::File {
            digest,
            size,
            link_group: group,
        }
    };
    add(
        "/bin",
        entry(
            EntryKind::Symlink {
                target: "usr/bin".into(),
            },
            0o777,
            0,
            0,
            "filesystem",
        ),
    );
    add(
        "/lib",
        entry(
            EntryKind::Symlink {
                target: "usr/lib".into(),
            },
            0o777,
            0,
            0,
            "filesystem",
        ),
    );
    add(
        "/dev/console",
        entry(
            EntryKind::CharDev { major: 5, minor: 1 },
            0o600,
            0,
            5,
            "filesystem",
        ),
    );
    add(
        "/dev/null",
        entry(
            EntryKind::CharDev { major: 1, minor: 3 },
            0o666,
            0,
            0,
            "filesystem",
        ),
    );
    add(
        "/dev/sda",
        entry(
            EntryKind::BlockDev { major: 8, minor: 0 },
            0o660,
            0,
            6,
            "filesystem",
        ),
    );
    add(
        "/dev/initctl",
        entry(EntryKind::Fifo, 0o600, 0, 0, "filesystem"),
    );
    add("/etc/motd", entry(file(motd, None), 0o644, 0, 0, "setup"));
    add(
        "/etc/passwd",
        entry(
            file(
                b"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/sbin/nologin\n",
                None,
            ),
            0o644,
            0,
            0,
            "setup",
        ),
    );
    add(
        "/etc/shadow",
        entry(
            file(b"root:!locked::0:99999:7:::\n", None),
            0o000,
            0,
            0,
            "setup",
        ),
    );
    add(
        "/init",
        entry(
            file(b"#!/bin/sh\nexec /usr/bin/busybox sh\n", None),
            0o755,
            0,
            0,
            "diskless-init",
        ),
    );
    let bb = noise(7, 300_000);
    add(
        "/usr/bin/busybox",
        entry(file(&bb, Some(1)), 0o755, 0, 0, "busybox"),
    );
    add(
        "/usr/bin/sh",
        entry(file(&bb, Some(1)), 0o755, 0, 0, "busybox"),
    );
    add(
        "/usr/bin/ls",
        entry(file(&bb, Some(1)), 0o755, 0, 0, "busybox"),
    );
    add(
        "/usr/bin/passwd",
        entry(file(&noise(9, 4000), None), 0o4755, 0, 0, "passwd"),
    );
    add(
        "/usr/bin/empty",
        entry(file(b"", None), 0o644, 0, 0, "busybox"),
    );
    add(
        "/usr/lib/big.bin",
        entry(
            file(&noise(11, 3 * 1024 * 1024 + 17), None),
            0o644,
            0,
            0,
            "big-data",
        ),
    );
    add(
        &format!("/usr/lib/modules/{KVER}/vmlinuz"),
        entry(file(&noise(13, 200_000), None), 0o755, 0, 0, "kernel-core"),
    );
    add(
        "/usr/share/doc/a-package-with-a-rather-long-name-to-exercise-path-handling-0.1/subdirectory-with-a-long-name/README.with-a-long-file-name.txt",
        entry(file(b"long path\n", None), 0o644, 0, 0, "doc"),
    );
    add(
        "/var/empty/owned",
        entry(file(b"x", None), 0o640, 99, 99, "nobody-owned"),
    );

    let rpms = dir.path().join("rpms");
    fs_err::create_dir_all(&rpms).unwrap();
    let mut boot_rpms = Vec::new();
    let build = |name: &str, version: &str, files: &[(&str, Vec<u8>)]| {
        let mut r = Rpm::new(name, version)
            .release("1.el9")
            .arch("x86_64")
            .license("GPL")
            .summary("fixture")
            .source_date(1_600_000_000);
        for (path, data) in files {
            r = r.file(*path, data.clone(), 0o644);
        }
        r.write_in(&rpms).unwrap()
    };
    let mut syslinux: Vec<(&str, Vec<u8>)> = Vec::new();
    for (i, f) in [
        "pxelinux.0",
        "ldlinux.c32",
        "vesamenu.c32",
        "libcom32.c32",
        "libutil.c32",
        "menu.c32",
    ]
    .iter()
    .enumerate()
    {
        syslinux.push((
            Box::leak(format!("/tftpboot/{f}").into_boxed_str()),
            noise(100 + i as u64, 2000 + i * 100),
        ));
    }
    boot_rpms.push(build("syslinux-tftpboot", "6.04", &syslinux));
    boot_rpms.push(build(
        "shim-x64",
        "15.8",
        &[
            ("/boot/efi/EFI/redhat/shimx64.efi", noise(200, 5000)),
            ("/boot/efi/EFI/redhat/mmx64.efi", noise(201, 4000)),
            ("/boot/efi/EFI/BOOT/BOOTX64.EFI", noise(202, 10)),
        ],
    ));
    boot_rpms.push(build(
        "grub2-efi-x64",
        "2.06",
        &[("/boot/efi/EFI/redhat/grubx64.efi", noise(300, 6000))],
    ));

    let pkg = |name: &str, bt: u64| LockedPackage {
        name: name.into(),
        epoch: 0,
        version: "1.0".into(),
        release: "1.el9".into(),
        arch: "x86_64".into(),
        repo: "baseos".into(),
        location: format!("Packages/{name}-1.0-1.el9.x86_64.rpm"),
        checksum: Checksum {
            kind: "sha256".into(),
            value: hex::encode(Sha256::digest(name.as_bytes())),
        },
        size: 1000,
        build_time: bt,
    };
    let lock = Lockfile {
        version: diskless::lock::LOCK_VERSION,
        profile_digest: "sha256:0000000000000000000000000000000000000000000000000000000000000001"
            .into(),
        repos: Vec::new(),
        packages: ["busybox", "filesystem", "kernel-core", "passwd", "setup"]
            .iter()
            .map(|n| pkg(n, 1_650_000_000))
            .collect(),
        boot_packages: ["grub2-efi-x64", "shim-x64", "syslinux-tftpboot"]
            .iter()
            .map(|n| pkg(n, 1_660_000_000))
            .collect(),
    };
    Fixture {
        _dir: dir,
        store,
        tree: t,
        boot_rpms,
        lock,
    }
}

pub(crate) fn fixture() -> Fixture {
    fixture_with(b"Welcome to the diskless fixture\n")
}

pub(crate) fn settings() -> EmitSettings {
    let mut s = EmitSettings {
        dhcp: Some(Dhcp {
            subnet: "10.1.0.0".parse().unwrap(),
            netmask: "255.255.255.0".parse().unwrap(),
            next_server: "10.1.0.1".parse().unwrap(),
            range: Some(("10.1.0.100".parse().unwrap(), "10.1.0.199".parse().unwrap())),
            routers: Some("10.1.0.1".parse().unwrap()),
            dns_servers: vec!["10.1.0.1".parse().unwrap()],
            domain_name: Some("cluster.example".into()),
            interface: None,
            lease_secs: 43200,
        }),
        hosts: vec![
            Host {
                name: "node01".into(),
                hostname: Some("node01.cluster.example".into()),
                mac: "52:54:00:12:34:01".into(),
                ip: "10.1.0.11".parse().unwrap(),
                image: Some("compute".into()),
                cmdline: Some("rd.shell".into()),
            },
            Host {
                name: "node02".into(),
                hostname: None,
                mac: "52:54:00:12:34:02".into(),
                ip: "10.1.0.12".parse().unwrap(),
                image: None,
                cmdline: None,
            },
            Host {
                name: "login01".into(),
                hostname: None,
                mac: "52:54:00:12:34:03".into(),
                ip: "10.1.0.13".parse().unwrap(),
                image: Some("login".into()),
                cmdline: None,
            },
        ],
        ..EmitSettings::default()
    };
    s.menu.extra_entries = vec![diskless::emit::settings::ExtraEntry {
        id: "compute-debug".into(),
        label: "Compute node (debug shell)".into(),
        image: Some("compute".into()),
        cmdline: "console=ttyS0 rd.break".into(),
    }];
    s.oci
        .annotations
        .insert("org.example.cluster".into(), "hpc-a".into());
    s.oci.source = Some("https://example.invalid/cluster/profiles".into());
    s.oci.revision = Some("0123456789abcdef".into());
    s.oci.version = Some("1.0".into());
    s
}

pub(crate) fn inputs<'a>(fx: &'a Fixture, s: EmitSettings) -> EmitInputs<'a> {
    EmitInputs {
        images: vec![
            ImageInput {
                name: "compute".into(),
                label: Some("Compute node".into()),
                cmdline: "console=ttyS0 quiet".into(),
                kernel_version: None,
                tree: &fx.tree,
                packages: &[],
            },
            ImageInput {
                name: "login".into(),
                label: None,
                cmdline: "console=ttyS0".into(),
                kernel_version: None,
                tree: &fx.tree,
                packages: &[],
            },
        ],
        store: &fx.store,
        segment_cache: None,
        provenance: Provenance {
            profile_name: "fixture".into(),
            profile_digest:
                "sha256:0000000000000000000000000000000000000000000000000000000000000001".into(),
            lock_digest: "sha256:00000000000000000000000000000000000000000000000000000000000000aa"
                .into(),
            lock_profile_digest: fx.lock.profile_digest.clone(),
            packages: package_records(&fx.lock.packages),
            boot_packages: package_records(&fx.lock.boot_packages),
            host_files: Vec::new(),
        },
        boot_rpms: fx.boot_rpms.clone(),
        source_date_epoch: SDE,
        source_date_epoch_from: "env".into(),
        scriptlets: serde_json::json!({"ran": [], "skipped": [{"package": "setup", "scriptlet": "%post", "reason": "fixture"}]}),
        settings: s,
        host_overlays: Vec::new(),
    }
}

/// Emit the fixture into `<parent>/<name>` (via a temporary sibling, renamed when done).
pub(crate) fn emit_to(fx: &Fixture, s: EmitSettings, out: &Path) -> emit::Artifacts {
    let tmp = out.with_extension("tmp");
    let a = emit::emit(&inputs(fx, s), &tmp).unwrap();
    fs_err::rename(&tmp, out).unwrap();
    a
}

fn run(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn have(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{tool}` is missing in CI (ci/setup.sh installs it)"
        );
        eprintln!("skipped: `{tool}` is not installed");
    }
    found
}

#[test]
fn initramfs_is_read_back_by_gnu_cpio_and_bsdtar_with_hardlinks() {
    if !have("cpio") || !have("bsdtar") {
        return;
    }
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    emit_to(&fx, settings(), &out);
    let img = out.join("tftpboot/pxelinux/images/compute/initramfs.img");
    let raw = dir.path().join("initramfs.cpio");
    let gz = run(std::process::Command::new("gzip").arg("-dc").arg(&img));
    fs_err::write(&raw, &gz.stdout).unwrap();
    let ours = cpio::read_entries(&gz.stdout[..]).unwrap();
    // The initramfs is several archives (segments) one after the other; GNU cpio and
    // bsdtar stop at the first trailer, so each segment is handed to them on its own.
    let pieces: Vec<PathBuf> = split_segments(&gz.stdout)
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let p = dir.path().join(format!("segment-{i}.cpio"));
            fs_err::write(&p, seg).unwrap();
            p
        })
        .collect();
    assert!(pieces.len() >= 2, "the directories, then the files");
    assert_eq!(ours.last().unwrap().segment + 1, pieces.len());

    // GNU cpio's verbose listing: mode string, nlink, uid, gid, size, name per entry.
    let mut listing = String::new();
    for piece in &pieces {
        let list = run(std::process::Command::new("cpio")
            .args(["-i", "--list", "-v", "--numeric-uid-gid", "-F"])
            .arg(piece));
        listing.push_str(&String::from_utf8(list.stdout).unwrap());
    }
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), ours.len(), "{listing}");
    for (line, e) in lines.iter().zip(&ours) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[1].parse::<u32>().unwrap(), e.nlink, "{line}");
        assert_eq!(
            (f[2].parse::<u32>().unwrap(), f[3].parse::<u32>().unwrap()),
            (e.uid, e.gid),
            "{line}"
        );
        let name = if e.kind() == "symlink" {
            format!("{} -> {}", e.name, e.link_target.as_deref().unwrap())
        } else {
            e.name.clone()
        };
        assert!(line.ends_with(&name), "{line} vs {name}");
        let perms = &f[0];
        let want_type = match e.kind() {
            "dir" => 'd',
            "symlink" => 'l',
            "chardev" => 'c',
            "blockdev" => 'b',
            "fifo" => 'p',
            _ => '-',
        };
        assert_eq!(perms.chars().next().unwrap(), want_type, "{line}");
    }
    // Every tree path is in the archive once; every directory is in the first segment,
    // in path order (parents first), before any other entry.
    let mut names: Vec<String> = ours
        .iter()
        .map(|e| {
            if e.name == "." {
                "/".into()
            } else {
                format!("/{}", e.name)
            }
        })
        .collect();
    let dirs: Vec<&cpio::ReadEntry> = ours.iter().take_while(|e| e.kind() == "dir").collect();
    assert!(dirs.iter().all(|e| e.segment == 0));
    assert!(
        ours[dirs.len()..]
            .iter()
            .all(|e| e.kind() != "dir" && e.segment > 0)
    );
    assert!(
        dirs.windows(2)
            .all(|w| w[0].name < w[1].name || w[0].name == ".")
    );
    names.sort();
    let tree_names: Vec<String> = fx.tree.entries.keys().cloned().collect();
    assert_eq!(names, tree_names);
    assert!(
        listing.contains("-rwsr-xr-x   1 0        0"),
        "setuid kept:\n{listing}"
    );
    assert!(
        listing.contains("crw-------   1 0        5          5,   1"),
        "{listing}"
    );

    // Extract with both tools; hardlinks must stay hardlinks, contents intact.
    for tool in ["cpio", "bsdtar"] {
        let x = dir.path().join(format!("x-{tool}"));
        fs_err::create_dir_all(&x).unwrap();
        for piece in &pieces {
            match tool {
                "cpio" => run(std::process::Command::new("cpio")
                    .args(["-i", "-d", "-m", "--no-absolute-filenames", "--quiet", "-F"])
                    .arg(piece)
                    .current_dir(&x)),
                _ => run(std::process::Command::new("bsdtar")
                    .arg("-xpf")
                    .arg(piece)
                    .current_dir(&x)),
            };
        }
        use std::os::unix::fs::MetadataExt;
        let m: Vec<_> = ["usr/bin/busybox", "usr/bin/sh", "usr/bin/ls"]
            .iter()
            .map(|p| fs_err::metadata(x.join(p)).unwrap())
            .collect();
        assert!(
            m.iter().all(|x| x.ino() == m[0].ino() && x.nlink() == 3),
            "{tool}: hardlinks broken"
        );
        assert_eq!(
            fs_err::read(x.join("usr/bin/sh")).unwrap(),
            noise(7, 300_000),
            "{tool}"
        );
        assert_eq!(
            fs_err::read(x.join("usr/lib/big.bin")).unwrap(),
            noise(11, 3 * 1024 * 1024 + 17),
            "{tool}"
        );
        assert_eq!(
            fs_err::metadata(x.join("usr/bin/passwd")).unwrap().mode() & 0o7777,
            0o4755,
            "{tool}"
        );
        assert_eq!(
            fs_err::metadata(x.join("var/empty/owned")).unwrap().uid(),
            99,
            "{tool}"
        );
        assert_eq!(
            fs_err::metadata(x.join("etc/motd")).unwrap().mtime(),
            SDE as i64,
            "{tool}"
        );
        assert_eq!(
            fs_err::read_link(x.join("bin")).unwrap(),
            Path::new("usr/bin"),
            "{tool}"
        );
    }
    // bsdtar's own listing agrees on the entry count.
    let mut count = 0;
    for piece in &pieces {
        let bl = run(std::process::Command::new("bsdtar").arg("-tf").arg(piece));
        count += String::from_utf8_lossy(&bl.stdout).lines().count();
    }
    assert_eq!(count, ours.len());
    // The raw file is whole: what was split is all there is.
    assert_eq!(
        pieces
            .iter()
            .map(|p| fs_err::metadata(p).unwrap().len())
            .sum::<u64>(),
        fs_err::metadata(&raw).unwrap().len()
    );
}

/// Cut a decompressed initramfs at its trailers (NUL padding between archives skipped,
/// as the kernel skips it): one newc archive per segment.
fn split_segments(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let hex = |b: &[u8]| usize::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
    while pos < raw.len() {
        while pos < raw.len() && raw[pos] == 0 {
            pos += 1;
        }
        if pos == raw.len() {
            break;
        }
        let start = pos;
        loop {
            let h = &raw[pos..pos + 110];
            assert_eq!(&h[..6], b"070701", "magic at {pos}");
            let (size, namesize) = (hex(&h[54..62]), hex(&h[94..102]));
            let name = &raw[pos + 110..pos + 110 + namesize - 1];
            pos += (110 + namesize + 3) & !3;
            pos += (size + 3) & !3;
            if name == b"TRAILER!!!" {
                break;
            }
        }
        out.push(raw[start..pos].to_vec());
    }
    out
}

#[test]
fn a_segment_cache_changes_no_byte_and_is_reused() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let plain = emit_to(&fx, settings(), &dir.path().join("plain"));
    let cache = emit::segments::SegmentCache::new(dir.path().join("segments"));
    let cached = |out: &str| {
        let mut i = inputs(&fx, settings());
        i.segment_cache = Some(&cache);
        let tmp = dir.path().join(format!("{out}.tmp"));
        let a = emit::emit(&i, &tmp).unwrap();
        fs_err::rename(&tmp, dir.path().join(out)).unwrap();
        a
    };
    let cold = cached("cold");
    let made = cache.dir().scan().unwrap().len();
    let warm = cached("warm");
    assert_eq!(plain.files, cold.files);
    assert_eq!(cold.files, warm.files);
    assert!(made > 0);
    assert_eq!(
        cache.dir().scan().unwrap().len(),
        made,
        "nothing compressed again"
    );
    assert_eq!(cold.segment_keys, warm.segment_keys);
    assert!(plain.segment_keys.is_empty());
}

#[test]
fn every_compression_is_read_by_the_system_tools() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    for (c, tool) in [
        (Compression::Zstd { level: 3 }, ["zstd", "-dc"]),
        (Compression::Xz { preset: 1 }, ["xz", "-dc"]),
    ] {
        if !have(tool[0]) {
            continue;
        }
        let mut s = settings();
        s.compression = c;
        let out = dir.path().join(c.name());
        emit_to(&fx, s, &out);
        let img = out.join("tftpboot/pxelinux/images/compute/initramfs.img");
        let raw = run(std::process::Command::new(tool[0]).arg(tool[1]).arg(&img)).stdout;
        assert_eq!(
            cpio::read_entries(&raw[..]).unwrap().len(),
            fx.tree.entries.len()
        );
    }
    let mut s = settings();
    s.compression = Compression::None;
    let out = dir.path().join("none");
    emit_to(&fx, s, &out);
    let raw = fs_err::read(out.join("tftpboot/pxelinux/images/compute/initramfs.img")).unwrap();
    assert!(raw.starts_with(b"070701"));
}

#[test]
fn tftp_tree_layout_and_menus() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let a = emit_to(&fx, settings(), &out);
    for f in [
        "tftpboot/pxelinux/pxelinux.0",
        "tftpboot/pxelinux/ldlinux.c32",
        "tftpboot/pxelinux/vesamenu.c32",
        "tftpboot/pxelinux/libcom32.c32",
        "tftpboot/pxelinux/libutil.c32",
        "tftpboot/pxelinux/pxelinux.cfg/default",
        "tftpboot/pxelinux/pxelinux.cfg/01-52-54-00-12-34-01",
        "tftpboot/pxelinux/pxelinux.cfg/01-52-54-00-12-34-03",
        "tftpboot/pxelinux/images/compute/vmlinuz",
        "tftpboot/pxelinux/images/compute/initramfs.img",
        "tftpboot/pxelinux/images/login/vmlinuz",
        "tftpboot/efi/bootx64.efi",
        "tftpboot/efi/grubx64.efi",
        "tftpboot/efi/mmx64.efi",
        "tftpboot/efi/grub.cfg",
        "config/dhcpd.conf",
        "config/kea-dhcp4.conf",
        "config/dnsmasq.conf",
        "config/dnsmasq-proxy.conf",
        "config/xinetd.d/tftp",
        "config/systemd/tftp.service.d/diskless.conf",
        "image.oci.tar",
        "manifest.json",
    ] {
        assert!(
            a.files.contains_key(f),
            "{f} missing from {:?}",
            a.files.keys()
        );
    }
    // Boot files come from the RPMs, byte for byte: shim is bootx64.efi.
    assert_eq!(
        fs_err::read(out.join("tftpboot/efi/bootx64.efi")).unwrap(),
        noise(200, 5000)
    );
    assert_eq!(
        fs_err::read(out.join("tftpboot/pxelinux/pxelinux.0")).unwrap(),
        noise(100, 2000)
    );
    assert_eq!(
        fs_err::read(out.join("tftpboot/pxelinux/images/compute/vmlinuz")).unwrap(),
        noise(13, 200_000)
    );
    let menu = fs_err::read_to_string(out.join("tftpboot/pxelinux/pxelinux.cfg/default")).unwrap();
    assert!(menu.contains("LABEL compute\n  MENU LABEL Compute node\n  MENU DEFAULT\n  KERNEL images/compute/vmlinuz\n  APPEND initrd=images/compute/initramfs.img console=ttyS0 quiet\n"), "{menu}");
    assert!(menu.contains("LABEL login\n"), "{menu}");
    assert!(menu.contains("LABEL compute-debug\n  MENU LABEL Compute node (debug shell)\n  KERNEL images/compute/vmlinuz\n  APPEND initrd=images/compute/initramfs.img console=ttyS0 rd.break\n"), "{menu}");
    let node01 =
        fs_err::read_to_string(out.join("tftpboot/pxelinux/pxelinux.cfg/01-52-54-00-12-34-01"))
            .unwrap();
    assert!(
        node01
            .contains("APPEND initrd=images/compute/initramfs.img console=ttyS0 quiet rd.shell\n"),
        "{node01}"
    );
    let grub01 =
        fs_err::read_to_string(out.join("tftpboot/efi/grub.cfg-01-52-54-00-12-34-01")).unwrap();
    assert!(
        grub01.contains("linux /pxelinux/images/compute/vmlinuz console=ttyS0 quiet rd.shell\n"),
        "{grub01}"
    );
    let dhcpd = fs_err::read_to_string(out.join("config/dhcpd.conf")).unwrap();
    assert!(dhcpd.contains("host node01 {\n  hardware ethernet 52:54:00:12:34:01;\n  fixed-address 10.1.0.11;\n  option host-name \"node01.cluster.example\";\n}"), "{dhcpd}");
    assert!(menu.contains("LOCALBOOT 0"), "{menu}");
    let host =
        fs_err::read_to_string(out.join("tftpboot/pxelinux/pxelinux.cfg/01-52-54-00-12-34-03"))
            .unwrap();
    assert!(host.contains("ONTIMEOUT login\n"), "{host}");
    let m: serde_json::Value =
        serde_json::from_slice(&fs_err::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["source_date_epoch"]["value"], SDE);
    assert_eq!(
        m["boot_files"]["tftpboot/efi/bootx64.efi"],
        "shim-x64-15.8-1.el9.x86_64:/boot/efi/EFI/redhat/shimx64.efi"
    );
    assert_eq!(m["packages"][0]["nevra"], "busybox-1.0-1.el9.x86_64");
    assert_eq!(m["images"][0]["kernel"]["version"], KVER);
    assert_eq!(m["oci"]["manifest_digest"], a.oci.manifest_digest);
    assert_eq!(m["scriptlets"]["skipped"][0]["package"], "setup");
    // Modes as the recipe sets them, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs_err::metadata(out.join("tftpboot/pxelinux/pxelinux.0"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o644
    );
    assert_eq!(
        fs_err::metadata(out.join("tftpboot/pxelinux/images"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755
    );
    // `sha256sum -c` accepts SHA256SUMS.
    run(std::process::Command::new("sha256sum")
        .args(["--check", "--quiet", "SHA256SUMS"])
        .current_dir(&out));
}

#[test]
fn invalid_hosts_are_refused_naming_the_host() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.hosts[1].ip = "10.2.0.12".parse().unwrap();
    let e = emit::emit(&inputs(&fx, s), &dir.path().join("o"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Host `node02`: 10.2.0.12 is outside the subnet 10.1.0.0/255.255.255.0"
    );
    let mut s = settings();
    s.hosts[2].mac = "52:54:00:12:34:01".into();
    let e = emit::emit(&inputs(&fx, s), &dir.path().join("o"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Hosts `node01` and `login01` have the same MAC address `52:54:00:12:34:01`"
    );
}

#[test]
fn configs_are_accepted_by_dhcpd_kea_dnsmasq_and_xinetd() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    emit_to(&fx, settings(), &out);
    let cfg = out.join("config");
    if have("dhcpd") {
        run(std::process::Command::new("dhcpd")
            .args(["-t", "-4", "-cf"])
            .arg(cfg.join("dhcpd.conf")));
    }
    if have("kea-dhcp4") {
        run(std::process::Command::new("kea-dhcp4")
            .arg("-t")
            .arg(cfg.join("kea-dhcp4.conf")));
    }
    if have("dnsmasq") {
        for f in ["dnsmasq.conf", "dnsmasq-proxy.conf"] {
            let o = run(std::process::Command::new("dnsmasq")
                .arg("--test")
                .arg("-C")
                .arg(cfg.join(f)));
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("syntax check OK"),
                "{f}: {o:?}"
            );
        }
    }
    if have("xinetd") && have("script") {
        xinetd_starts_tftp(&cfg, dir.path());
    }
}

/// xinetd reads the generated service block and starts it. It needs a pty for `-d`, hence
/// `script`. The generated file is used unchanged; only the top-level xinetd.conf (ours)
/// includes it, and when port 69 is taken the copy gets a free port.
fn xinetd_starts_tftp(cfg: &Path, tmp: &Path) {
    let service = fs_err::read_to_string(cfg.join("xinetd.d/tftp")).unwrap();
    assert!(
        service.contains("server_args\t\t= -s /var/lib/tftpboot\n"),
        "{service}"
    );
    let port_free = std::net::UdpSocket::bind("0.0.0.0:69").is_ok();
    let conf_dir = tmp.join("xinetd.d");
    fs_err::create_dir_all(&conf_dir).unwrap();
    let svc = if port_free {
        service
    } else {
        let free = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        service.replace(
            "\tflags",
            &format!("\tport\t\t\t= {free}\n\ttype\t\t\t= UNLISTED\n\tflags"),
        )
    };
    fs_err::write(conf_dir.join("tftp"), svc).unwrap();
    let conf = tmp.join("xinetd.conf");
    fs_err::write(
        &conf,
        format!("defaults\n{{\n}}\nincludedir {}\n", conf_dir.display()),
    )
    .unwrap();
    let log = tmp.join("xinetd.log");
    let cmd = format!(
        "timeout 3 xinetd -d -dontfork -f {} -pidfile {}",
        conf.display(),
        tmp.join("xinetd.pid").display()
    );
    let _ = std::process::Command::new("script")
        .args(["-qc", &cmd])
        .arg(&log)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = fs_err::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("Started service: tftp"),
        "xinetd did not start tftp:\n{text}"
    );
    assert!(text.contains("Started working"), "{text}");
}

#[test]
fn oci_layout_is_read_by_skopeo_and_umoci() {
    if !have("skopeo") || !have("umoci") {
        return;
    }
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let a = emit_to(&fx, settings(), &out);
    let layout = out.join("oci");
    let o = run(std::process::Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:latest", layout.display())));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["Digest"], a.oci.manifest_digest);
    assert_eq!(v["Created"], "2023-11-14T22:13:20Z");
    assert_eq!(
        v["Labels"]["dev.diskless.lock.digest"],
        "sha256:00000000000000000000000000000000000000000000000000000000000000aa"
    );
    // boot loaders, one layer per image, menus and configs
    assert_eq!(v["Layers"].as_array().unwrap().len(), 4);
    // By its tag: the index also lists the SBOMs attached to the image (OCI referrers),
    // so a reference without one is ambiguous to skopeo.
    let o = run(std::process::Command::new("skopeo")
        .arg("inspect")
        .arg(format!(
            "oci-archive:{}:latest",
            out.join("image.oci.tar").display()
        )));
    let w: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(w["Digest"], a.oci.manifest_digest);

    let bundle = dir.path().join("bundle");
    run(std::process::Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", layout.display()))
        .arg(&bundle));
    let root = bundle.join("rootfs");
    for f in [
        "pxelinux/pxelinux.0",
        "pxelinux/pxelinux.cfg/default",
        "pxelinux/images/compute/initramfs.img",
        "efi/bootx64.efi",
    ] {
        let inside = fs_err::read(root.join("var/lib/tftpboot").join(f)).unwrap();
        assert_eq!(
            inside,
            fs_err::read(out.join("tftpboot").join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(root.join("etc/diskless/dhcpd.conf").is_file());
}

/// Run the fixture emit in a child process (this test binary, re-executed) under the
/// given environment; returns the output directory.
fn emit_in_child(
    out: &Path,
    cwd: &Path,
    umask: &str,
    env: &[(&str, &str)],
    faketime: Option<&str>,
) {
    let exe = std::env::current_exe().unwrap();
    let mut script = format!("umask {umask}; exec ");
    if let Some(t) = faketime {
        script.push_str(&format!("faketime '{t}' "));
    }
    script.push_str("\"$0\" --exact emit::emit_child --ignored --nocapture --test-threads 1");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg(&exe)
        .current_dir(cwd)
        .env("DISKLESS_EMIT_CHILD_OUT", out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd);
    assert!(out.join("SHA256SUMS").is_file(), "child wrote nothing");
}

/// The child half of the reproducibility test (runs only when re-executed by it).
#[test]
#[ignore = "run by reproducible_across_environments in a child process"]
fn emit_child() {
    let Some(out) = std::env::var_os("DISKLESS_EMIT_CHILD_OUT") else {
        return;
    };
    let fx = fixture();
    emit_to(&fx, settings(), Path::new(&out));
}

#[test]
fn reproducible_across_environments() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (cwd_a, cwd_b) = (dir.path().join("cwd-a"), dir.path().join("cwd-b/deeper"));
    fs_err::create_dir_all(&cwd_a).unwrap();
    fs_err::create_dir_all(&cwd_b).unwrap();
    emit_in_child(
        &a,
        &cwd_a,
        "022",
        &[
            ("TZ", "UTC"),
            ("LANG", "C"),
            ("LC_ALL", "C"),
            ("RAYON_NUM_THREADS", "1"),
        ],
        None,
    );
    let faketime = std::process::Command::new("sh")
        .arg("-c")
        .arg("command -v faketime")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    emit_in_child(
        &b,
        &cwd_b,
        "077",
        &[
            ("TZ", "Pacific/Kiritimati"),
            ("LANG", "de_DE.UTF-8"),
            ("LC_ALL", "de_DE.UTF-8"),
            ("RAYON_NUM_THREADS", "3"),
            ("TMPDIR", cwd_b.to_str().unwrap()),
        ],
        faketime.then_some("2031-05-06 07:08:09"),
    );
    let sa = fs_err::read_to_string(a.join("SHA256SUMS")).unwrap();
    let sb = fs_err::read_to_string(b.join("SHA256SUMS")).unwrap();
    if sa != sb {
        let diffs = emit::diff::diff(&a, &b).unwrap();
        panic!(
            "builds differ:\n{}",
            diffs
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let ma: serde_json::Value =
        serde_json::from_slice(&fs_err::read(a.join("manifest.json")).unwrap()).unwrap();
    let mb: serde_json::Value =
        serde_json::from_slice(&fs_err::read(b.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(ma["oci"]["manifest_digest"], mb["oci"]["manifest_digest"]);
    // and `diskless diff` agrees
    Command::cargo_bin("diskless")
        .unwrap()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .assert()
        .success();
}

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/golden/emit.SHA256SUMS"
);

/// The artifact digests of the fixture emit are pinned. If this fails after a deliberate
/// change (format, compressor update, fixture), rerun with `DISKLESS_BLESS=1` and commit
/// the new tests/it/golden/emit.SHA256SUMS, saying why in the commit message.
#[test]
fn golden_artifact_digests() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    emit_to(&fx, settings(), &out);
    let got = fs_err::read_to_string(out.join("SHA256SUMS")).unwrap();
    if std::env::var_os("DISKLESS_BLESS").is_some() {
        fs_err::create_dir_all(Path::new(GOLDEN).parent().unwrap()).unwrap();
        fs_err::write(GOLDEN, &got).unwrap();
    }
    let want = fs_err::read_to_string(GOLDEN).unwrap_or_default();
    let (w, g): (BTreeMap<_, _>, BTreeMap<_, _>) = (
        sums::parse(&want, Path::new(GOLDEN)).unwrap(),
        sums::parse(&got, Path::new("out")).unwrap(),
    );
    let changed: Vec<String> = g
        .iter()
        .filter(|(k, v)| w.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(w.keys().filter(|k| !g.contains_key(*k)).cloned())
        .collect();
    assert!(
        changed.is_empty(),
        "artifact digests changed (rerun with DISKLESS_BLESS=1 if deliberate): {changed:#?}"
    );
}

#[test]
fn diff_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    emit_to(&fixture(), settings(), &a);
    emit_to(
        &fixture_with(b"Welcome to the CHANGED fixture\n"),
        settings(),
        &b,
    );
    let o = Command::cargo_bin("diskless")
        .unwrap()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert!(
        stdout.contains(
            "tftpboot/pxelinux/images/compute/initramfs.img: /etc/motd: size differs: 32 != 31"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "tftpboot/pxelinux/images/compute/initramfs.img: /etc/motd: content digest differs: "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "oci: /var/lib/tftpboot/pxelinux/images/compute/initramfs.img: content digest differs"
        ),
        "{stdout}"
    );
    // Nothing else in the initramfs differs.
    assert!(!stdout.contains("initramfs.img: /etc/passwd"), "{stdout}");
    // Two initramfs files directly.
    let o = Command::cargo_bin("diskless")
        .unwrap()
        .arg("diff")
        .arg(a.join("tftpboot/pxelinux/images/login/initramfs.img"))
        .arg(b.join("tftpboot/pxelinux/images/login/initramfs.img"))
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert_eq!(
        stdout.lines().filter(|l| l.contains("/etc/motd")).count(),
        2,
        "{stdout}"
    );
    // Two OCI layouts directly.
    Command::cargo_bin("diskless")
        .unwrap()
        .arg("diff")
        .arg(a.join("oci"))
        .arg(b.join("oci"))
        .assert()
        .code(1);
}

/// The fixture's image packages have no headers here (lock facts only) and its boot
/// packages' headers do not match their lock records: still valid SBOMs, every package
/// listed, nothing asserted that the lock does not say.
#[test]
fn sboms_from_the_lock_alone_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    emit_to(&fixture(), settings(), &out);
    let s: serde_json::Value =
        serde_json::from_slice(&fs_err::read(out.join("sbom.spdx.json")).unwrap()).unwrap();
    let names: Vec<&str> = s["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "fixture",
            "busybox",
            "filesystem",
            "kernel-core",
            "passwd",
            "setup",
            "grub2-efi-x64",
            "shim-x64",
            "syslinux-tftpboot"
        ]
    );
    assert_eq!(s["packages"][1]["licenseDeclared"], "NOASSERTION");
    assert_eq!(
        s["packages"][1]["externalRefs"][0]["referenceLocator"],
        "pkg:rpm/busybox@1.0-1.el9?arch=x86_64"
    );
    if crate::sbom::validators() {
        crate::sbom::assert_valid(&out.join("sbom.spdx.json"), &out.join("sbom.cdx.json"));
    }
}

#[test]
fn diff_lists_package_changes_first() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    emit_to(&fixture(), settings(), &a);
    let mut fx = fixture();
    let p = &mut fx.lock.packages;
    let mut new = p[0].clone();
    new.name = "aaa-new".into();
    p.retain(|p| p.name != "passwd");
    p.iter_mut().find(|p| p.name == "busybox").unwrap().version = "1.1".into();
    p.iter_mut().find(|p| p.name == "setup").unwrap().epoch = 1;
    p.insert(0, new);
    let k = fx
        .lock
        .boot_packages
        .iter_mut()
        .find(|p| p.name == "shim-x64")
        .unwrap();
    k.release = "0.el9".into();
    emit_to(&fx, settings(), &b);
    let o = Command::cargo_bin("diskless")
        .unwrap()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "added: aaa-new-1.0-1.el9.x86_64 (image)",
            "upgraded: busybox.x86_64 1.0-1.el9 -> 1.1-1.el9 (image)",
            "removed: passwd-1.0-1.el9.x86_64 (image)",
            "upgraded: setup.x86_64 1.0-1.el9 -> 1:1.0-1.el9 (image)",
            "downgraded: shim-x64.x86_64 1.0-1.el9 -> 1.0-0.el9 (boot)",
        ],
        "{stdout}"
    );
    // Then the entry diff as before: the SBOMs and the manifest differ.
    assert!(
        lines[5..]
            .iter()
            .any(|l| l.starts_with("sbom.spdx.json: line ")),
        "{stdout}"
    );
    // The same from the OCI layouts alone (their SBOM referrers), and as JSON.
    let o = Command::cargo_bin("diskless")
        .unwrap()
        .args(["diff", "--json"])
        .arg(a.join("oci"))
        .arg(b.join("oci"))
        .assert()
        .code(1);
    let v: serde_json::Value = serde_json::from_slice(&o.get_output().stdout).unwrap();
    assert_eq!(v["packages"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["packages"][1]["change"], "upgraded");
    assert_eq!(v["packages"][1]["b"], "1.1-1.el9");
    // The image itself is the same (same tree and lock digest): only its SBOMs differ.
    assert_eq!(v["differences"], serde_json::json!([]));
}

#[test]
fn verify_checks_sums_and_names_the_tampered_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    emit_to(&fixture(), settings(), &out);
    Command::cargo_bin("diskless")
        .unwrap()
        .arg("verify")
        .arg(&out)
        .assert()
        .success();
    let other = dir.path().join("published.SHA256SUMS");
    fs_err::copy(out.join("SHA256SUMS"), &other).unwrap();
    Command::cargo_bin("diskless")
        .unwrap()
        .arg("verify")
        .arg(&out)
        .arg("--sums")
        .arg(&other)
        .assert()
        .success();
    fs_err::write(out.join("config/dhcpd.conf"), b"tampered").unwrap();
    let o = Command::cargo_bin("diskless")
        .unwrap()
        .arg("verify")
        .arg(&out)
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert!(stdout.contains("config/dhcpd.conf: FAILED"), "{stdout}");
}

#[test]
fn push_to_a_local_registry_and_copy_back_keeps_the_digest() {
    if !have("docker-registry") || !have("skopeo") || !have("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let a = emit_to(&fixture(), settings(), &out);
    let port = free_port();
    let cfg = dir.path().join("registry.yml");
    fs_err::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let _reg = ChildGuard(
        std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let up = wait_for_port(port, std::time::Duration::from_secs(10));
    assert!(up, "docker-registry did not start on port {port}");
    let reference = format!("127.0.0.1:{port}/diskless/tftp:1.0");
    for _ in 0..2 {
        // The second push finds every blob in place and uploads only the manifest.
        let o = Command::cargo_bin("diskless")
            .unwrap()
            .args(["push", "--plain-http"])
            .arg(&out)
            .arg(&reference)
            .env("HOME", dir.path())
            .assert()
            .success();
        assert_eq!(
            String::from_utf8_lossy(&o.get_output().stdout).trim(),
            a.oci.manifest_digest
        );
    }
    // The SBOMs follow the image: this registry has no referrers API (404), so they are
    // listed under the fallback tag, once, whatever the number of pushes.
    let api = run(std::process::Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!(
            "http://127.0.0.1:{port}/v2/diskless/tftp/referrers/{}",
            a.oci.manifest_digest
        ),
    ]));
    assert_eq!(String::from_utf8_lossy(&api.stdout), "404");
    let repo = format!("127.0.0.1:{port}/diskless/tftp");
    let tag = a.oci.manifest_digest.replace(':', "-");
    let raw = run(std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repo}:{tag}")));
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let listed: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["artifactType"].as_str().unwrap().to_string(),
                d["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = a
        .oci
        .referrers
        .iter()
        .map(|r| (r.artifact_type.clone(), r.digest.clone()))
        .collect();
    assert_eq!(listed, want);
    assert_eq!(want[0].0, "application/spdx+json");
    // Each artifact manifest is stored by digest, names the image as its subject, and its
    // layer is the SBOM file.
    let raw = run(std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repo}@{}", want[0].1)));
    let m: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(m["subject"]["digest"], a.oci.manifest_digest);
    assert_eq!(m["artifactType"], "application/spdx+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let blob = run(std::process::Command::new("curl").arg("-sf").arg(format!(
        "http://127.0.0.1:{port}/v2/diskless/tftp/blobs/{}",
        m["layers"][0]["digest"].as_str().unwrap()
    )));
    assert_eq!(
        blob.stdout,
        fs_err::read(out.join("sbom.spdx.json")).unwrap()
    );

    let inspect = run(std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{reference}")));
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v["Digest"], a.oci.manifest_digest);
    let back = dir.path().join("back");
    run(std::process::Command::new("skopeo")
        // Layers are uncompressed tars (the initramfs is compressed already); without these
        // flags skopeo would gzip them on the way into an OCI layout and change the digest.
        .args([
            "copy",
            "--src-tls-verify=false",
            "--preserve-digests",
            "--dest-oci-accept-uncompressed-layers",
        ])
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:copy", back.display())));
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(back.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], a.oci.manifest_digest);
    // The copied layout holds the same entries as the built one.
    assert!(
        emit::diff::diff(&out.join("oci"), &back)
            .unwrap()
            .is_empty()
    );
}
