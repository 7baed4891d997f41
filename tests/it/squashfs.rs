//! Squashfs roots (issue 16) on the offline fixture profile: the same profile and lock give
//! the same bytes from two caches; unsquashfs (squashfs-tools, the oracle) reads the root
//! image with the initramfs root's entries, modes, owners and contents; the initrd carries
//! the generated init and the image's modules; `diskless diff` compares two root images
//! entry by entry. (The boot tests boot it, BIOS and UEFI.)

use crate::incremental::{build_with, fixture};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const PROFILE: &str = include_str!("../../examples/fixture.toml");

fn profile(root: &str, marker: &str) -> String {
    let p = PROFILE
        .replace(
            "compression = \"gzip\"\n",
            &format!("compression = \"zstd\"\nroot = \"{root}\"\n"),
        )
        .replace("\"kernel\",", "\"kernel\", \"kernel-modules-core\",")
        .replace("try-it-offline\\n", &format!("{marker}\\n"));
    assert!(p.contains("kernel-modules-core") && p.contains(root));
    p
}

fn sh(script: &str) -> Vec<u8> {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `mode uid/gid size path` per entry of `unsquashfs -lln` (paths from `/`).
fn unsquashfs_listing(image: &Path) -> BTreeMap<String, (String, String, String)> {
    let text = String::from_utf8(sh(&format!(
        "unsquashfs -lln -no-progress '{}'",
        image.display()
    )))
    .unwrap();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let at = f.iter().position(|x| x.starts_with("squashfs-root"))?;
            let path = f[at].trim_start_matches("squashfs-root");
            let path = if path.is_empty() { "/" } else { path };
            // Device nodes list `major,minor` where files list a size.
            Some((
                path.to_string(),
                (f[0].to_string(), f[1].to_string(), f[2].to_string()),
            ))
        })
        .collect()
}

fn mode_string(mode: u32) -> String {
    let t = match mode & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o020000 => 'c',
        0o060000 => 'b',
        0o010000 => 'p',
        0o140000 => 's',
        _ => '-',
    };
    let mut s = String::from(t);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o40, 'r'),
        (0o20, 'w'),
        (0o10, 'x'),
        (0o4, 'r'),
        (0o2, 'w'),
        (0o1, 'x'),
    ];
    for (i, (b, c)) in bits.iter().enumerate() {
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        let set = mode & b != 0;
        s.push(match (special, set, i) {
            (true, true, 8) => 't',
            (true, false, 8) => 'T',
            (true, true, _) => 's',
            (true, false, _) => 'S',
            (false, true, _) => *c,
            (false, false, _) => '-',
        });
    }
    s
}

#[test]
fn a_squashfs_root_is_reproducible_and_reads_like_the_initramfs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let sq = profile("squashfs", "m1");
    let a = build_with(dir, "fixture", &sq, &dir.join("cache-a"), "sq-a");
    let b = build_with(dir, "fixture", &sq, &dir.join("cache-b"), "sq-b");
    assert_eq!(a, b, "two caches, two different bytes");
    let images = dir.join("sq-a/tftpboot/pxelinux/images/fixture");
    assert!(a.contains("images/fixture/rootfs.img"), "{a}");

    // The root image, as squashfs-tools reads it, against the initramfs of the same tree.
    let rootfs = images.join("rootfs.img");
    let image = dir.join("root.squashfs");
    fs_err::write(
        &image,
        sh(&format!(
            "cpio -i --quiet --to-stdout diskless/root.squashfs < '{}'",
            rootfs.display()
        )),
    )
    .unwrap();
    let listing = unsquashfs_listing(&image);
    build_with(
        dir,
        "fixture",
        &profile("initramfs", "m1"),
        &dir.join("cache-a"),
        "ir",
    );
    let initramfs =
        fs_err::File::open(dir.join("ir/tftpboot/pxelinux/images/fixture/initramfs.img")).unwrap();
    // The initramfs root's boot step that sets file capabilities (usr/lib/diskless) is
    // not in a squashfs root, which carries them.
    let entries: Vec<_> = diskless::emit::cpio::read_entries(
        diskless::codec::open_sniffed(std::io::BufReader::new(initramfs)).unwrap(),
    )
    .unwrap()
    .into_iter()
    .filter(|e| !e.name.starts_with("usr/lib/diskless"))
    .collect();
    assert!(entries.len() > 50, "{}", entries.len());
    assert!(!listing.keys().any(|p| p.starts_with("/usr/lib/diskless")));
    assert_eq!(listing.len(), entries.len(), "entry counts");
    for e in &entries {
        let path = if e.name == "." {
            "/".to_string()
        } else {
            format!("/{}", e.name)
        };
        let (mode, owner, size) = listing
            .get(&path)
            .unwrap_or_else(|| panic!("unsquashfs lacks {path}"));
        assert_eq!(mode, &mode_string(e.mode), "{path}");
        assert_eq!(owner, &format!("{}/{}", e.uid, e.gid), "{path}");
        if e.mode & 0o170000 == 0o100000 {
            assert_eq!(size, &e.size.to_string(), "{path}");
        }
    }
    // Contents: unsquashfs -cat of a profile file and of a package's binary.
    let cat = |p: &str| sh(&format!("unsquashfs -cat '{}' '{p}'", image.display()));
    assert_eq!(cat("/etc/boot-fixture/marker"), b"m1\n");
    let busybox = entries
        .iter()
        .find(|e| e.name == "usr/bin/busybox")
        .unwrap();
    let digest: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        cat("/usr/bin/busybox"),
    ))
    .into();
    assert_eq!(digest, busybox.digest);

    // File capabilities are in the image: unsquashfs (as root it restores extended
    // attributes) puts them on the extracted file, where getcap (libcap) reads them.
    let caps_file = "usr/libexec/boot-fixture/busybox-caps";
    if crate::support::proc::is_root() {
        let x = dir.join("x");
        sh(&format!(
            "unsquashfs -no-progress -d '{}' '{}' '{caps_file}'",
            x.display(),
            image.display()
        ));
        let got =
            String::from_utf8(sh(&format!("getcap '{}'", x.join(caps_file).display()))).unwrap();
        assert!(got.contains("cap_net_raw=ep"), "getcap: {got}");
        let plain = String::from_utf8(sh(&format!("getcap -r '{}'", x.display()))).unwrap();
        assert_eq!(
            plain.lines().count(),
            1,
            "only that file has capabilities: {plain}"
        );
    } else {
        eprintln!("not root: the capability check (unsquashfs restores xattrs as root) is skipped");
    }

    // The initrd: the generated init, the image's three modules (decompressed), no more.
    let initrd = fs_err::File::open(images.join("initramfs.img")).unwrap();
    let names: Vec<String> = diskless::emit::cpio::read_entries(
        diskless::codec::open_sniffed(std::io::BufReader::new(initrd)).unwrap(),
    )
    .unwrap()
    .into_iter()
    .map(|e| e.name)
    .collect();
    for want in [
        "init",
        "dev/console",
        "modules/loop.ko",
        "modules/squashfs.ko",
        "modules/overlay.ko",
        "diskless/host",
    ] {
        assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
    }
    assert!(names.len() < 16, "{names:?}");

    // `diskless diff` reads the two root images entry by entry.
    build_with(
        dir,
        "fixture",
        &profile("squashfs", "m2"),
        &dir.join("cache-a"),
        "sq-c",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_diskless"))
        .arg("diff")
        .arg(dir.join("sq-a"))
        .arg(dir.join("sq-c"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("rootfs.img:/diskless/root.squashfs")
                && l.contains("etc/boot-fixture/marker")),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("usr/bin/busybox"), "{text}");
}

#[test]
fn squashfs_roots_are_refused_for_other_architectures() {
    let p = PROFILE
        .replace("arch = \"x86_64\"", "arch = \"aarch64\"")
        .replace(
            "compression = \"gzip\"\n",
            "compression = \"gzip\"\nroot = \"squashfs\"\n",
        );
    let e = diskless::profile::from_str(Path::new("p.toml"), Path::new("/tmp"), &p).unwrap_err();
    let d = e.diagnostic().unwrap();
    assert_eq!(d.field, "image.root");
    assert!(d.message.contains("x86_64 images only"), "{}", d.message);
}

/// A root image larger than `[image] root_chunk_mib` travels as numbered parts (GNU cpio
/// reads them), which put together are the very image a one-part build carries; the boot
/// tests boot such an image (their profile sets 1 MiB), where the initrd joins them.
#[test]
fn a_root_image_in_parts_joins_to_the_one_part_image() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let cache = dir.join("cache");
    let whole = profile("squashfs", "m1");
    let parted = whole.replace(
        "root = \"squashfs\"\n",
        "root = \"squashfs\"\nroot_chunk_mib = 1\n",
    );
    build_with(dir, "fixture", &whole, &cache, "one");
    build_with(dir, "fixture", &parted, &cache, "parts");
    let img = |out: &str| {
        dir.join(out)
            .join("tftpboot/pxelinux/images/fixture/rootfs.img")
    };
    let names = String::from_utf8(sh(&format!(
        "cpio -t --quiet < '{}'",
        img("parts").display()
    )))
    .unwrap();
    let parts: Vec<&str> = names
        .lines()
        .filter(|l| l.starts_with("diskless/root.squashfs"))
        .collect();
    assert!(parts.len() >= 2, "{names}");
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(*p, format!("diskless/root.squashfs.{i:03}"), "{names}");
    }
    let one = sh(&format!(
        "cpio -i --quiet --to-stdout diskless/root.squashfs < '{}'",
        img("one").display()
    ));
    let mut joined = Vec::new();
    for p in &parts {
        let bytes = sh(&format!(
            "cpio -i --quiet --to-stdout '{p}' < '{}'",
            img("parts").display()
        ));
        assert!(bytes.len() <= 1 << 20, "{p}: {} bytes", bytes.len());
        joined.extend(bytes);
    }
    assert!(joined == one, "the parts do not make the one-part image");
    let manifest: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(dir.join("parts/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["images"][0]["root_image"]["parts"],
        parts.len(),
        "{manifest}"
    );
    // `diskless diff` reads the parts as one image: no entry differs.
    let d = diskless::emit::diff::diff(&dir.join("one"), &dir.join("parts")).unwrap();
    assert!(!format!("{d:?}").contains("root.squashfs"), "{d:?}");

    for bad in ["0", "2048", "-1"] {
        let p = parted.replace("root_chunk_mib = 1", &format!("root_chunk_mib = {bad}"));
        let e =
            diskless::profile::from_str(Path::new("p.toml"), Path::new("/tmp"), &p).unwrap_err();
        let d = e.diagnostic().unwrap();
        assert_eq!(d.field, "image.root_chunk_mib", "{bad}");
        assert!(d.message.contains("1 to 2047 MiB"), "{}", d.message);
    }
}

/// The writer's corners against squashfs-tools: a folder of 300 entries (several directory
/// runs), files of several blocks with and without a tail end, equal contents stored once,
/// a hard link pair as one inode, an empty file and folder, devices, a fifo, a long name,
/// owners past 65535, an extended attribute; xz and gzip as well as zstd.
#[test]
fn the_squashfs_writer_matches_unsquashfs_on_its_corners() {
    use diskless::emit::sqfs::{self, Compressor};
    use diskless::rootfs::store::Store;
    use diskless::rootfs::tree::{Entry, EntryKind, Tree};
    if Command::new("unsquashfs").arg("-help").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "unsquashfs is missing");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store")).unwrap();
    let mut tree = Tree::default();
    let meta = |kind: EntryKind, mode: u32, uid: u32| Entry {
        kind,
        mode,
        uid,
        gid: uid,
        mtime: 0,
        owner_package: None,
        caps: None,
    };
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut file = |tree: &mut Tree, path: &str, bytes: Vec<u8>, group: Option<u32>| {
        let (digest, size) = store.put_bytes(&bytes).unwrap();
        let kind = EntryKind::File {
            digest,
            size,
            link_group: group,
        };
        tree.insert(path, meta(kind, 0o644, 0));
        contents.insert(path.to_string(), bytes);
    };
    for d in ["/", "/big", "/many", "/empty", "/dev"] {
        tree.insert(d, meta(EntryKind::Dir, 0o755, 0));
    }
    // Pseudo-random, so compression leaves most blocks as they are.
    let mut x = 0x1234_5678u32;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    };
    let block = sqfs::BLOCK_SIZE as usize;
    file(
        &mut tree,
        "/big/three-and-a-half",
        noise(3 * block + block / 2),
        None,
    );
    file(&mut tree, "/big/two-exactly", vec![7u8; 2 * block], None);
    file(&mut tree, "/big/copy", vec![7u8; 2 * block], None);
    file(&mut tree, "/big/empty", Vec::new(), None);
    file(&mut tree, "/big/link-a", b"linked\n".to_vec(), Some(1));
    file(&mut tree, "/big/link-b", b"linked\n".to_vec(), Some(1));
    for i in 0..300 {
        file(&mut tree, &format!("/many/f{i:03}"), noise(i * 37), None);
    }
    let long = "n".repeat(255);
    file(
        &mut tree,
        &format!("/many/{long}"),
        b"long\n".to_vec(),
        None,
    );
    tree.insert(
        "/many/owned",
        meta(
            EntryKind::Symlink {
                target: "f001".into(),
            },
            0o777,
            70000,
        ),
    );
    tree.insert(
        "/dev/null",
        meta(EntryKind::CharDev { major: 1, minor: 3 }, 0o666, 0),
    );
    tree.insert(
        "/dev/loop300",
        meta(
            EntryKind::BlockDev {
                major: 259,
                minor: 300,
            },
            0o660,
            6,
        ),
    );
    tree.insert("/dev/fifo", meta(EntryKind::Fifo, 0o600, 0));
    tree.entries.get_mut("/big/two-exactly").unwrap().caps = Some("cap_net_raw=ep".into());

    let all = diskless::emit::cpio::complete(&tree).unwrap();
    for c in [Compressor::Zstd, Compressor::Xz, Compressor::Gzip] {
        let path = tmp.path().join(format!("{c:?}.sqfs"));
        let mut f = fs_err::File::create(&path).unwrap();
        let w = sqfs::write(
            &all,
            &store,
            1_700_000_000,
            c,
            diskless::rootfs::xattrs::xattrs,
            &mut f,
        )
        .unwrap();
        drop(f);
        assert_eq!(w.with_xattrs, 1);
        assert_eq!(fs_err::metadata(&path).unwrap().len() % 4096, 0);
        let listing = unsquashfs_listing(&path);
        assert_eq!(listing.len(), all.len(), "{c:?}: {listing:?}");
        assert_eq!(listing["/dev/null"].2, "1,", "{c:?}");
        assert_eq!(listing["/dev/loop300"].1, "6/6", "{c:?}");
        assert_eq!(listing["/many/owned"].1, "70000/70000", "{c:?}");
        for (p, bytes) in &contents {
            let got = sh(&format!("unsquashfs -cat '{}' '{p}'", path.display()));
            assert!(
                got == *bytes,
                "{c:?}: {p} differs ({} vs {} bytes)",
                got.len(),
                bytes.len()
            );
        }
        if crate::support::proc::is_root() {
            let x = tmp.path().join(format!("x-{c:?}"));
            sh(&format!(
                "unsquashfs -no-progress -d '{}' '{}'",
                x.display(),
                path.display()
            ));
            use std::os::unix::fs::MetadataExt;
            let ino = |p: &str| fs_err::metadata(x.join(p)).unwrap().ino();
            assert_eq!(ino("big/link-a"), ino("big/link-b"), "{c:?}: one inode");
            assert_eq!(fs_err::metadata(x.join("big/link-a")).unwrap().nlink(), 2);
            assert_ne!(
                ino("big/two-exactly"),
                ino("big/copy"),
                "{c:?}: copies are not links"
            );
            let caps = String::from_utf8(sh(&format!("getcap -r '{}'", x.display()))).unwrap();
            assert!(
                caps.contains("big/two-exactly cap_net_raw=ep") && caps.lines().count() == 1,
                "{c:?}: {caps}"
            );
        }
    }
}

/// `[image] root_http`: the image folder has the bare root image `root.squashfs` (the very
/// image `rootfs.img` carries without it) and no `rootfs.img`; the menus load only the
/// initrd and pass the boot loader's address on; the initrd carries the fetch script with
/// the URL and the image's sha256, the NIC drivers, the image's busybox and the applet
/// links the script runs. Bad settings are refused with the field named. (The boot tests
/// boot it, and refuse a stale image.) Two caches give the same bytes.
#[test]
fn a_root_fetched_over_http_is_the_same_image_and_the_initrd_can_fetch_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let cache = dir.join("cache");
    let loaded = profile("squashfs", "m1");
    let fetched = loaded.replace(
        "root = \"squashfs\"\n",
        "root = \"squashfs\"\nroot_http = \"http://{server}:8080/tftp/\"\n",
    );
    build_with(dir, "fixture", &loaded, &cache, "loaded");
    let sums = build_with(dir, "fixture", &fetched, &cache, "fetched");
    // Reproducible like the rest: another cache, the same bytes (initrd and image).
    let again = build_with(
        dir,
        "fixture",
        &fetched,
        &dir.join("cache-2"),
        "fetched-again",
    );
    assert_eq!(sums, again, "two caches, two different bytes");
    let images = |out: &str| dir.join(out).join("tftpboot/pxelinux/images/fixture");
    assert!(!images("fetched").join("rootfs.img").exists());
    assert!(sums.contains("images/fixture/root.squashfs"), "{sums}");
    let carried = sh(&format!(
        "cpio -i --quiet --to-stdout diskless/root.squashfs < '{}'",
        images("loaded").join("rootfs.img").display()
    ));
    let image = fs_err::read(images("fetched").join("root.squashfs")).unwrap();
    assert!(
        image == carried,
        "the fetched image differs from the loaded one"
    );
    let sha256 =
        diskless::emit::sums::file_sha256(&images("fetched").join("root.squashfs")).unwrap();

    let manifest: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(dir.join("fetched/manifest.json")).unwrap())
            .unwrap();
    let img = &manifest["images"][0];
    let url = "http://{server}:8080/tftp/pxelinux/images/fixture/root.squashfs";
    assert_eq!(img["root_image"]["url"], url, "{img}");
    assert_eq!(img["root_image"]["sha256"], sha256.as_str(), "{img}");
    let modules = img["initrd"]["modules"].to_string();
    for m in ["loop", "squashfs", "overlay", "e1000", "e1000e"] {
        assert!(modules.contains(&format!("/{m}.ko")), "{m}: {modules}");
    }

    let menu =
        fs_err::read_to_string(dir.join("fetched/tftpboot/pxelinux/pxelinux.cfg/default")).unwrap();
    assert!(
        menu.contains("APPEND initrd=images/fixture/initramfs.img console=")
            && menu.contains("  IPAPPEND 3\n"),
        "{menu}"
    );
    let grub = sh(&format!(
        "cat $(find '{}' -name grub.cfg | head -1)",
        dir.join("fetched/tftpboot").display()
    ));
    let grub = String::from_utf8(grub).unwrap();
    assert!(
        grub.contains(diskless::emit::grub::NET_ARGS) && !grub.contains("rootfs.img"),
        "{grub}"
    );

    // The initrd, as GNU cpio lists and extracts it.
    let initrd = images("fetched").join("initramfs.img");
    let listing = String::from_utf8(sh(&format!(
        "zstd -dc '{}' | cpio -tv --quiet",
        initrd.display()
    )))
    .unwrap();
    for path in [
        "diskless/fetch",
        "diskless/mount-root",
        "usr/bin/busybox",
        "usr/bin/sh -> busybox",
        "usr/sbin/ip -> ../bin/busybox",
        "usr/bin/wget -> busybox",
        "modules/e1000.ko",
        "proc",
        "sys",
    ] {
        assert!(listing.contains(path), "{path} not in:\n{listing}");
    }
    let script = String::from_utf8(sh(&format!(
        "zstd -dc '{}' | cpio -i --quiet --to-stdout diskless/fetch",
        initrd.display()
    )))
    .unwrap();
    assert!(script.starts_with("#!/usr/bin/sh\n"), "{script}");
    assert!(script.contains(&format!("url='{url}'")), "{script}");
    assert!(script.contains(&format!("sha256='{sha256}'")), "{script}");
    assert!(script.contains("until /usr/bin/wget "), "{script}");

    // `diskless diff` reads two bare root images entry by entry.
    build_with(
        dir,
        "fixture",
        &fetched.replace("m1\\n", "m2\\n"),
        &cache,
        "fetched-2",
    );
    let d = diskless::emit::diff::diff(&dir.join("fetched"), &dir.join("fetched-2")).unwrap();
    let d = format!("{d:?}");
    assert!(
        d.contains("root.squashfs") && d.contains("etc/boot-fixture/marker"),
        "{d}"
    );

    // Refused, with the field named.
    for (bad, field, says) in [
        (
            "root_http = \"https://{server}/\"",
            "image.root_http",
            "plain `http://`",
        ),
        (
            "root_http = \"http://boot.example/\"",
            "image.root_http",
            "resolves no names",
        ),
        (
            "root_http = \"http://{server}/?a=1\"",
            "image.root_http",
            "plain base URL",
        ),
        (
            "root_http = \"http://{server}/\"\nroot_chunk_mib = 4",
            "image.root_http",
            "do not go together",
        ),
        (
            "root_http = \"http://{server}/\"\nnet_modules = [\"e1000 x\"]",
            "image.net_modules",
            "not a kernel module name",
        ),
    ] {
        let p = loaded.replace(
            "root = \"squashfs\"\n",
            &format!("root = \"squashfs\"\n{bad}\n"),
        );
        let e =
            diskless::profile::from_str(Path::new("p.toml"), Path::new("/tmp"), &p).unwrap_err();
        let d = e.diagnostic().unwrap();
        assert_eq!(d.field, field, "{bad}");
        assert!(d.message.contains(says), "{bad}: {}", d.message);
    }
    let p = profile("initramfs", "m1").replace(
        "root = \"initramfs\"\n",
        "root = \"initramfs\"\nroot_http = \"http://{server}/\"\n",
    );
    let e = diskless::profile::from_str(Path::new("p.toml"), Path::new("/tmp"), &p).unwrap_err();
    assert!(e.diagnostic().unwrap().message.contains("initramfs"), "{e}");

    // A NIC driver the kernel lacks, by name: an error naming it, with a hint.
    let p = fetched.replace(
        "root_http = ",
        "net_modules = [\"e1000\", \"no_such_nic\"]\nroot_http = ",
    );
    let e = crate::incremental::build_result(dir, "fixture", &p, &cache, "no-nic").unwrap_err();
    let chain = format!("{:#}", anyhow::Error::from(e));
    assert!(chain.contains("no module `no_such_nic`"), "{chain}");
    assert!(
        !dir.join("no-nic").exists(),
        "a failed build left its output"
    );
}
