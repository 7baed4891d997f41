//! Root filesystem assembly against rpm itself.
//!
//! Fixture RPMs are built here with the shared test builder (`support::rpm`: every entry type,
//! hardlinks, setuid/setgid, odd modes, non-root owners, ghosts, configs, docs, languages,
//! each compressor) and, with `DISKLESS_FIXTURES`, real RPMs are taken from the shared
//! fixtures. The oracle is Debian's rpm 4.18: `rpm --root DIR -i --nodeps --noscripts`
//! run as root into a temporary root; its tree is listed from disk and compared field by
//! field with diskless' listing. Tests that need root (the oracle, setpriv) skip otherwise.

use crate::support::error_chain as chain_with;
use crate::support::proc::is_root;
use crate::support::rpm::{Entry, Rpm, SOURCE_DATE};
use diskless::plan::inputs::assemble_config;
use diskless::rootfs::{
    self, AssembleConfig, RootPassword, RootfsError, custom, extract::Filters, listing,
    paths::PathError, store::Store, tree::EntryKind,
};
use rpm::{CompressionType, Dependency};
use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixture RPMs' build time.
const SDE: u32 = SOURCE_DATE;

/// A fixture package `name-1.0-1.noarch` compressed with `comp`.
fn builder(name: &str, comp: impl Into<rpm::CompressionWithLevel>) -> Rpm {
    Rpm::new(name, "1.0")
        .summary("diskless fixture")
        .compression(comp)
}

/// Write `b` as `dir/<name>.rpm`.
fn write(dir: &Path, b: &Rpm) -> PathBuf {
    let p = dir.join(format!("{}.rpm", b.name()));
    b.write_to(&p).unwrap();
    p
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nfxuser:x:1001:1001::/home/fxuser:/bin/bash\n";
const GROUP: &str = "root:x:0:\nbin:x:1:\ndaemon:x:2:\ntty:x:5:\nusers:x:100:\nfxgroup:x:1001:\n";

/// The fixture set: setup-like accounts, a filesystem package with usrmerge symlinks, and a
/// kitchen-sink package with every entry type and attribute, plus one per compressor.
fn fixture_set(dir: &Path) -> Vec<PathBuf> {
    let f = |p: &str, contents: &str| Entry::file(p, contents);
    let mut out = Vec::new();
    out.push(write(
        dir,
        &builder("fx-setup", CompressionType::Gzip)
            .dir("/etc", 0o755)
            .entry(f("/etc/passwd", PASSWD).mode(0o644).config().noreplace())
            .entry(f("/etc/group", GROUP).mode(0o644).config().noreplace())
            .entry(
                f("/etc/shadow", "root:*::0:99999:7:::\n")
                    .mode(0o000)
                    .config()
                    .noreplace(),
            )
            .entry(f("/etc/fstab", "").mode(0o644).config().noreplace()),
    ));
    let fs = builder("fx-filesystem", CompressionType::Xz)
        .requires(Dependency::script_pre("fx-setup"))
        .entries(
            [
                ("/usr", 0o755),
                ("/usr/bin", 0o755),
                ("/usr/lib", 0o755),
                ("/usr/sbin", 0o755),
                ("/usr/share", 0o755),
                ("/tmp", 0o1777),
                ("/root", 0o550),
                ("/var", 0o755),
            ]
            .map(|(d, m)| Entry::dir(d).mode(m)),
        )
        .entries(
            [
                ("/lib", "usr/lib"),
                ("/bin", "usr/bin"),
                ("/sbin", "usr/sbin"),
            ]
            .map(|(l, t)| Entry::symlink(l, t)),
        );
    out.push(write(dir, &fs));

    let k = builder("fx-kitchen", CompressionType::Zstd)
        .requires(Dependency::any("fx-filesystem"))
        .file("/usr/bin/hello", "#!/bin/sh\necho hello\n", 0o755)
        .file("/usr/bin/suid", "setuid\n", 0o4755)
        .entry(f("/usr/bin/sgid", "setgid\n").mode(0o2711).group("tty"))
        .entry(
            f("/usr/bin/pingish", "caps\n")
                .mode(0o755)
                .caps("cap_net_raw=ep"),
        )
        .entry(
            Entry::dir("/usr/share/kitchen")
                .mode(0o750)
                .user("fxuser")
                .group("fxgroup"),
        )
        .entry(
            f("/usr/share/kitchen/secret", "secret\n")
                .mode(0o400)
                .user("fxuser")
                .group("fxgroup"),
        )
        .file("/usr/share/kitchen/odd", "odd\n", 0o111)
        .entry(
            f("/usr/share/kitchen/writable", "rw\n")
                .mode(0o666)
                .user("daemon"),
        )
        .file("/usr/share/kitchen/empty", "", 0o644)
        .dir("/var/spool/kitchen", 0o1777)
        .entry(
            f("/usr/lib/kitchen/a", "linked\n")
                .mode(0o755)
                .hardlink("g"),
        )
        .entry(
            f("/usr/lib/kitchen/b", "linked\n")
                .mode(0o755)
                .hardlink("g"),
        )
        .entry(f("/usr/bin/c", "linked\n").mode(0o755).hardlink("g"))
        .symlink("/usr/bin/hello-link", "hello")
        .symlink("/usr/share/kitchen/abs", "/usr/bin/hello")
        .entry(Entry::ghost("/var/log/kitchen.log"))
        .entry(
            f("/etc/kitchen.conf", "key=value\n")
                .mode(0o640)
                .config()
                .noreplace(),
        )
        .entry(
            f("/usr/share/doc/kitchen/README", "read me\n")
                .mode(0o644)
                .doc(),
        )
        .entry(
            f("/usr/share/licenses/kitchen/COPYING", "MIT\n")
                .mode(0o644)
                .license(),
        )
        .entry(
            f("/usr/share/locale/de/LC_MESSAGES/kitchen.mo", "de\n")
                .mode(0o644)
                .language("de"),
        )
        .entry(
            f("/usr/share/locale/fr/LC_MESSAGES/kitchen.mo", "fr\n")
                .mode(0o644)
                .language("fr"),
        )
        .entry(
            f("/usr/share/locale/pt_BR/LC_MESSAGES/kitchen.mo", "pt\n")
                .mode(0o644)
                .language("pt_BR"),
        )
        .entry(Entry::fifo("/usr/share/kitchen/fifo").mode(0o600))
        .entry(Entry::char_device("/usr/share/kitchen/null", 1, 3).mode(0o666))
        .entry(Entry::block_device("/usr/share/kitchen/loop0", 7, 0).mode(0o660))
        // kernel-core style: shipped under /lib, lands in /usr/lib through the symlink.
        .file("/lib/modules/1.0/kernel/x.ko", "module\n", 0o644);
    out.push(write(dir, &k));
    out.push(write(
        dir,
        &builder("fx-more", CompressionType::Gzip)
            .entry(
                f("/usr/share/bz/file", "bz\n")
                    .mode(0o644)
                    .user("daemon")
                    .group("daemon"),
            )
            // The same file as fx-kitchen ships: a shared, identical file is no conflict.
            .file("/usr/bin/hello", "#!/bin/sh\necho hello\n", 0o755),
    ));
    out.push(write(
        dir,
        &builder("fx-plain", CompressionType::None).file("/usr/share/plain", "plain\n", 0o644),
    ));
    out
}

/// One listing line, as compared with rpm's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
struct L {
    kind: String,
    mode: String,
    uid: u32,
    gid: u32,
    size: u64,
    sha256: Option<String>,
    target: Option<String>,
}

fn ours(tree: &rootfs::tree::Tree) -> BTreeMap<String, L> {
    listing::lines(tree)
        .into_iter()
        .map(|l| {
            (
                l.path,
                L {
                    kind: l.kind,
                    mode: l.mode,
                    uid: l.uid,
                    gid: l.gid,
                    size: l.size,
                    sha256: l.sha256,
                    target: l.target,
                },
            )
        })
        .collect()
}

/// The hardlink groups of our tree: sets of paths.
fn our_links(tree: &rootfs::tree::Tree) -> BTreeSet<Vec<String>> {
    let mut g: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (p, e) in &tree.entries {
        if let EntryKind::File {
            link_group: Some(id),
            ..
        } = &e.kind
        {
            g.entry(*id).or_default().push(p.clone());
        }
    }
    g.into_values().collect()
}

/// rpm's own database.
fn rpm_db_path(p: &str) -> bool {
    p == "/var/lib/rpm" || p.starts_with("/var/lib/rpm/") || p.starts_with("/usr/lib/sysimage/rpm")
}

/// Directories rpm creates only to hold its database.
fn rpm_db_parent(p: &str) -> bool {
    matches!(
        p,
        "/var" | "/var/lib" | "/usr/lib/sysimage" | "/usr/lib" | "/usr"
    )
}

/// List a directory tree from disk, the same way (and the hardlink groups).
fn theirs(root: &Path) -> (BTreeMap<String, L>, BTreeSet<Vec<String>>) {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            if rpm_db_path(&rel) {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            use std::os::unix::fs::FileTypeExt;
            let (kind, size, sha256, target) = if ft.is_dir() {
                stack.push(p.clone());
                ("dir", 0, None, None)
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap().display().to_string();
                ("symlink", t.len() as u64, None, Some(t))
            } else if ft.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                if m.nlink() > 1 {
                    inodes.entry(m.ino()).or_default().push(rel.clone());
                }
                (
                    "file",
                    bytes.len() as u64,
                    Some(hex::encode(sha2::Sha256::digest(&bytes))),
                    None,
                )
            } else if ft.is_char_device() || ft.is_block_device() {
                let rdev = m.rdev();
                let (maj, min) = (
                    ((rdev >> 8) & 0xfff) as u32,
                    ((rdev & 0xff) | ((rdev >> 12) & !0xff)) as u32,
                );
                (
                    if ft.is_char_device() {
                        "chardev"
                    } else {
                        "blockdev"
                    },
                    0,
                    None,
                    Some(format!("{maj},{min}")),
                )
            } else if ft.is_fifo() {
                ("fifo", 0, None, None)
            } else {
                ("socket", 0, None, None)
            };
            out.insert(
                rel,
                L {
                    kind: kind.into(),
                    mode: format!("{:04o}", m.mode() & 0o7777),
                    uid: m.uid(),
                    gid: m.gid(),
                    size,
                    sha256,
                    target,
                },
            );
        }
    }
    let links = inodes.into_values().map(|mut v| {
        v.sort();
        v
    });
    (out, links.collect())
}

/// Field-by-field differences, `/` (the temp dir itself) left out.
fn diff(ours: &BTreeMap<String, L>, theirs: &BTreeMap<String, L>) -> Vec<String> {
    let mut d = Vec::new();
    for (p, l) in ours {
        if p == "/" {
            continue;
        }
        match theirs.get(p) {
            None => d.push(format!("only diskless: {p} {l:?}")),
            Some(t) if t != l => {
                d.push(format!("differs: {p}\n  diskless {l:?}\n  rpm      {t:?}"))
            }
            _ => {}
        }
    }
    for (p, l) in theirs {
        if !ours.contains_key(p) && !rpm_db_parent(p) {
            d.push(format!("only rpm: {p} {l:?}"));
        }
    }
    d
}

/// Install `rpms` with rpm into a fresh root (seeded with `seed` files) and list it.
fn rpm_oracle(
    rpms: &[PathBuf],
    args: &[&str],
    seed: &[(&str, Vec<u8>, u32)],
) -> (BTreeMap<String, L>, BTreeSet<Vec<String>>) {
    let root = tempfile::tempdir().unwrap();
    for (path, bytes, mode) in seed {
        let p = root.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    // rpm 4.18.0 opens each installed FIFO to set its metadata and blocks there until a
    // writer appears (fixed in later releases); play the writer so the oracle finishes.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let partner = {
        let done = done.clone();
        let dir = root.path().join("usr/share/kitchen");
        std::thread::spawn(move || {
            use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                // rpm creates it under a temporary name (`fifo;6b079faf`) first.
                for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    if e.file_type().is_ok_and(|t| t.is_fifo()) {
                        let _ = std::fs::OpenOptions::new()
                            .write(true)
                            .custom_flags(0o4000 /* O_NONBLOCK */)
                            .open(e.path());
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let out = Command::new("rpm")
        .args(["--root"])
        .arg(root.path())
        .args([
            "--dbpath",
            "/var/lib/rpm",
            "-i",
            "--nodeps",
            "--noscripts",
            "--notriggers",
            "--nosignature",
            "--nodigest",
            "--ignorearch",
            "--ignoreos",
        ])
        .args(args)
        .args(rpms)
        .output()
        .unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    partner.join().unwrap();
    assert!(
        out.status.success(),
        "rpm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    theirs(root.path())
}

fn assemble(rpms: &[PathBuf], cfg: &AssembleConfig) -> (rootfs::Assembled, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let a = rootfs::assemble(rpms, cfg, &store).unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    (a, dir)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    chain_with(e, "\n  caused by: ")
}

/// rpm's tree has none of the profile's customisations, and is listed without its
/// database (tests/it/rpmdb.rs compares the databases).
fn packages_only() -> AssembleConfig {
    AssembleConfig {
        custom: custom::Customisations {
            empty_machine_id: false,
            init_symlink: false,
            ..Default::default()
        },
        rpmdb: rootfs::rpmdb::RpmdbConfig {
            mode: rootfs::rpmdb::RpmdbMode::Off,
            arch: None,
        },
        ..AssembleConfig::new(u64::from(SDE))
    }
}

#[test]
fn fixture_set_matches_rpm() {
    if !is_root() {
        eprintln!("skipped: the rpm oracle needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rpms = fixture_set(dir.path());
    let (a, _keep) = assemble(&rpms, &packages_only());
    let (theirs, their_links) = rpm_oracle(&rpms, &[], &[]);
    let d = diff(&ours(&a.tree), &theirs);
    assert!(d.is_empty(), "differences from rpm:\n{}", d.join("\n"));
    assert_eq!(our_links(&a.tree), their_links);
    // What the comparison covered.
    let t = &a.tree;
    assert!(matches!(
        t.get("/usr/lib/modules/1.0/kernel/x.ko").unwrap().kind,
        EntryKind::File { .. }
    ));
    assert!(t.get("/lib/modules").is_none());
    assert!(
        t.get("/var/log/kitchen.log").is_none(),
        "ghosts are not created"
    );
    assert_eq!(t.get("/usr/bin/suid").unwrap().mode, 0o4755);
    assert_eq!(t.get("/usr/share/kitchen/secret").unwrap().uid, 1001);
    assert_eq!(
        t.get("/usr/bin/pingish").unwrap().caps.as_deref(),
        Some("cap_net_raw=ep")
    );
    assert_eq!(our_links(t).into_iter().next().unwrap().len(), 3);
    assert_eq!(a.skipped.ghost, 1);
    // Prerequisites first (setup, then filesystem, then what needs it); ties by name.
    assert_eq!(
        a.packages_installed,
        [
            "fx-more",
            "fx-plain",
            "fx-setup",
            "fx-filesystem",
            "fx-kitchen"
        ]
        .map(|n| format!("{n}-1.0-1.noarch"))
    );
}

#[test]
fn fixture_set_nodocs_langs_excludes_match_rpm_flags() {
    if !is_root() {
        eprintln!("skipped: the rpm oracle needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rpms = fixture_set(dir.path());
    let mut cfg = packages_only();
    cfg.filters = Filters {
        nodocs: true,
        langs: Some(vec!["de_DE".into(), "pt".into()]),
        exclude_paths: vec!["/usr/share/kitchen/odd".into()],
    };
    let (a, _keep) = assemble(&rpms, &cfg);
    // The same rules, as rpm spells them: --excludedocs, %_install_langs, --excludepath.
    let (theirs, _) = rpm_oracle(
        &rpms,
        &[
            "--excludedocs",
            "--define",
            "_install_langs de_DE:pt",
            "--excludepath",
            "/usr/share/kitchen/odd",
        ],
        &[],
    );
    let d = diff(&ours(&a.tree), &theirs);
    assert!(d.is_empty(), "differences from rpm:\n{}", d.join("\n"));
    let t = &a.tree;
    assert!(t.get("/usr/share/doc/kitchen/README").is_none());
    assert!(
        t.get("/usr/share/licenses/kitchen/COPYING").is_some(),
        "%license is not %doc"
    );
    assert!(
        t.get("/usr/share/locale/de/LC_MESSAGES/kitchen.mo")
            .is_some()
    );
    assert!(
        t.get("/usr/share/locale/fr/LC_MESSAGES/kitchen.mo")
            .is_none()
    );
    // pt_BR is not kept by `pt`: a configured language keeps file languages it starts with.
    assert!(
        t.get("/usr/share/locale/pt_BR/LC_MESSAGES/kitchen.mo")
            .is_none()
    );
    assert_eq!(
        (a.skipped.doc, a.skipped.lang, a.skipped.excluded),
        (1, 2, 1)
    );
}

fn real_rpms(fx: &Path) -> Vec<PathBuf> {
    [
        "go-rpmutils-history/testdata/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
        "rpmlint-history/test/binary/freeradius-server-3.2.3-3.1.x86_64.rpm",
        "rpmlint-history/test/binary/nodejs010-runtime-1-7.el6_4.x86_64.rpm",
        "rpmlint-history/test/binary/nodejs010-nodejs-0.10.3-3.el6_4.x86_64.rpm",
        "rpmlint-history/test/binary/nodejs010-nodejs-oauth-sign-0.2.0-2.el6_4.noarch.rpm",
    ]
    .iter()
    .map(|p| fx.join(p))
    .collect()
}

#[test]
fn real_rpms_match_rpm() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    if !is_root() {
        eprintln!("skipped: the rpm oracle needs root");
        return;
    }
    let rpms = real_rpms(&fx);
    // nodejs010-runtime (EL6) has files owned by groups `lock` and `mail`, which EL6's
    // setup defines (54, 12); there is no setup package here, so the profile declares them.
    let mut cfg = packages_only();
    cfg.groups = vec![("lock".into(), Some(54)), ("mail".into(), Some(12))];
    let (a, keep) = assemble(&rpms, &cfg);
    // No setup package here: the accounts diskless declared (radiusd, winbind from
    // freeradius' %pre) are given to rpm's root first so it can resolve the same names.
    let store = Store::new(keep.path().join("store")).unwrap();
    let mut seed = Vec::new();
    for p in ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"] {
        let e = a.tree.get(p).unwrap_or_else(|| panic!("{p} generated"));
        let EntryKind::File { digest, .. } = &e.kind else {
            panic!()
        };
        seed.push((p, store.read(digest).unwrap(), e.mode));
    }
    let (theirs, their_links) = rpm_oracle(&rpms, &[], &seed);
    let d = diff(&ours(&a.tree), &theirs);
    assert!(d.is_empty(), "differences from rpm:\n{}", d.join("\n"));
    assert_eq!(our_links(&a.tree), their_links);
    // crypto-policies el8 has 88 hardlinked paths.
    let linked: usize = our_links(&a.tree)
        .iter()
        .filter(|g| g[0].starts_with("/usr/share/crypto-policies"))
        .map(Vec::len)
        .sum();
    assert_eq!(linked, 88);
    let radiusd = a.users.iter().find(|u| u.name == "radiusd").unwrap();
    assert_eq!((radiusd.uid, radiusd.gid), (999, 999));
    assert!(a.tree.entries.values().filter(|e| e.gid == 999).count() > 200);
}

#[test]
fn real_rpm_oracle_json_agrees_on_every_file() {
    // rpm 4.18's own view of each package (derived/rpm-oracle), without needing root.
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    for rpm in real_rpms(&fx) {
        let rel = rpm.strip_prefix(&fx).unwrap();
        let json = fx
            .join("derived/rpm-oracle")
            .join(format!("{}.json", rel.display()));
        let text = if json.exists() {
            std::fs::read_to_string(&json).unwrap()
        } else {
            let gz = PathBuf::from(format!("{}.gz", json.display()));
            let mut s = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap()),
                &mut s,
            )
            .unwrap();
            s
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let h = rootfs::read_headers(std::slice::from_ref(&rpm))
            .unwrap()
            .remove(0);
        let files = v["files"]
            .as_array()
            .unwrap_or_else(|| panic!("no files in {}", json.display()));
        assert_eq!(files.len(), h.files.len(), "{}", rpm.display());
        for (f, o) in h.files.iter().zip(files) {
            assert_eq!(Some(f.path.as_str()), o["filenames"].as_str());
            assert_eq!(
                Some(f.user.as_str()),
                o["fileusername"].as_str(),
                "{}",
                f.path
            );
            assert_eq!(
                Some(f.group.as_str()),
                o["filegroupname"].as_str(),
                "{}",
                f.path
            );
            assert_eq!(
                Some(f.mode.to_string().as_str()),
                o["filemodes"].as_str(),
                "{}",
                f.path
            );
            assert_eq!(
                Some(f.inode.to_string().as_str()),
                o["fileinodes"].as_str(),
                "{}",
                f.path
            );
            assert_eq!(
                Some(f.size.to_string().as_str()),
                o["filesizes"].as_str(),
                "{}",
                f.path
            );
        }
    }
}

fn oracle_json(fx: &Path, rpm: &Path) -> serde_json::Value {
    let rel = rpm.strip_prefix(fx).unwrap();
    let json = fx
        .join("derived/rpm-oracle")
        .join(format!("{}.json", rel.display()));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn every_payload_compressor_extracts_like_rpm2cpio() {
    // go-rpmutils' payload-test packages: the same files under gzip, bzip2, xz, lzma, zstd
    // and no compression; rpm2cpio's sha256 of each entry is in the oracle JSON.
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let mut seen = BTreeSet::new();
    for c in [
        "w9.gzdio",
        "w9.bzdio",
        "w6.xzdio",
        "w6.lzdio",
        "w3.zstdio",
        "w.ufdio",
    ] {
        let rpm = fx.join(format!(
            "go-rpmutils/testdata/payload-test-0.1-{c}.x86_64.rpm"
        ));
        let v = oracle_json(&fx, &rpm);
        let (a, _keep) = assemble(std::slice::from_ref(&rpm), &packages_only());
        let mut n = 0;
        for e in v["payload_entries"].as_array().unwrap() {
            let Some(sha) = e["sha256"].as_str() else {
                continue;
            };
            let path = e["name"].as_str().unwrap().trim_start_matches('.');
            match &a
                .tree
                .get(path)
                .unwrap_or_else(|| panic!("{c}: {path} missing"))
                .kind
            {
                EntryKind::File { digest, .. } => assert_eq!(digest.to_hex(), sha, "{c}: {path}"),
                k => panic!("{c}: {path} is {k:?}"),
            }
            n += 1;
        }
        assert!(n > 0, "{c}: no files compared");
        seen.insert(
            rootfs::read_headers(std::slice::from_ref(&rpm)).unwrap()[0]
                .payload_compressor
                .clone(),
        );
    }
    // The uncompressed one still names a compressor in its header; five distinct remain.
    assert_eq!(seen.len(), 5, "{seen:?}");
}

/// Assembles every RPM in `DISKLESS_ROOTFS_IN` and writes the listing to
/// `DISKLESS_ROOTFS_OUT`. Run by `assembly_as_nobody_matches_root` (under setpriv) and by
/// bench/rootfs.sh (under /usr/bin/time -v).
#[test]
#[ignore = "helper for assembly_as_nobody_matches_root and bench/rootfs.sh"]
fn nobody_helper() {
    let (Some(input), Some(output)) = (
        std::env::var_os("DISKLESS_ROOTFS_IN"),
        std::env::var_os("DISKLESS_ROOTFS_OUT"),
    ) else {
        return;
    };
    let rpms: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&input)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let out = PathBuf::from(output);
    let store = Store::new(out.join("store")).unwrap();
    let a = rootfs::assemble(&rpms, &full_profile(Path::new(&input)), &store).unwrap();
    listing::write_listing(&a.tree, &out.join("listing.txt"), listing::Format::Text).unwrap();
}

/// Writes a synthetic package set of about `DISKLESS_BENCH_MB` megabytes (default 1024)
/// into `DISKLESS_BENCH_RPMS`, for bench/rootfs.sh: 40 packages, each with 200 files of
/// 128 KiB and 2000 of 1 KiB (about 88,000 paths in all), half-compressible contents, zstd.
#[test]
#[ignore = "helper for bench/rootfs.sh"]
fn bench_fixture() {
    let Some(out) = std::env::var_os("DISKLESS_BENCH_RPMS") else {
        return;
    };
    let mb: u64 = std::env::var("DISKLESS_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).unwrap();
    let packages = 40u64;
    let big = 200u64;
    let small = 2000u64;
    let big_size = ((mb << 20) / packages).saturating_sub(small * 1024) / big;
    // One pseudo-random pool (16 symbols: about half-compressible); each file is a unique
    // name line followed by a window of the pool, so no two files share contents.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let pool: Vec<u8> = (0..(4u64 << 20))
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b"0123456789abcdef"[(state & 15) as usize]
        })
        .collect();
    let mut n = 0usize;
    let mut bytes = |len: u64, name: &str| -> Vec<u8> {
        n += 1;
        let mut v = format!("{name}\n").into_bytes();
        let start = (n * 7919) % (pool.len() / 2);
        let mut left = (len as usize).saturating_sub(v.len());
        while left > 0 {
            let take = left.min(pool.len() - start);
            v.extend_from_slice(&pool[start..start + take]);
            left -= take;
        }
        v
    };
    for p in 0..packages {
        let mut b = builder(&format!("bench-{p:02}"), rpm::CompressionWithLevel::Zstd(3));
        for i in 0..big {
            let path = format!("/usr/share/bench{p:02}/big/{i:04}");
            let data = bytes(big_size, &path);
            b = b.file(path, data, 0o644);
        }
        for i in 0..small {
            let path = format!("/usr/share/bench{p:02}/small/{:02}/{i:04}", i % 50);
            let data = bytes(1024, &path);
            b = b.file(path, data, 0o644);
        }
        write(&out, &b);
    }
}

fn full_profile(_input: &Path) -> AssembleConfig {
    AssembleConfig {
        root_password: Some(RootPassword::Hash("$6$abc$def".into())),
        custom: custom::Customisations {
            hostname: Some("node01".into()),
            ..Default::default()
        },
        ..AssembleConfig::new(u64::from(SDE))
    }
}

#[test]
fn assembly_as_nobody_matches_root() {
    if !is_root() || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root to switch to nobody with setpriv");
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("diskless-nobody")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let input = work.path().join("in");
    let output = work.path().join("out");
    std::fs::create_dir(&input).unwrap();
    std::fs::create_dir(&output).unwrap();
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut rpms = fixture_set(&input);
    rpms.sort();
    for r in &rpms {
        std::fs::set_permissions(r, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (as_root, _keep) = assemble(&rpms, &full_profile(&input));

    let st = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "rootfs::nobody_helper",
            "--ignored",
            "--test-threads=1",
        ])
        .env("DISKLESS_ROOTFS_IN", &input)
        .env("DISKLESS_ROOTFS_OUT", &output)
        .env("HOME", &output)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&st.stdout),
        String::from_utf8_lossy(&st.stderr)
    );
    let as_nobody = std::fs::read_to_string(output.join("listing.txt")).unwrap();
    assert_eq!(listing::to_text(&as_root.tree), as_nobody);
    // It really ran as nobody: the store it wrote belongs to 65534.
    assert_eq!(
        std::fs::metadata(output.join("store")).unwrap().uid(),
        65534
    );
    // And the owners in the image are the image's, not the builder's.
    assert!(as_nobody.contains("/usr/share/kitchen/secret\tfile\t0400\t1001\t1001\t"));
}

// ---------------------------------------------------------------------------------------
// Profiles, services, accounts

/// Units and configuration a systemd-based image ships, enough for the seed recipe.
fn fx_systemd(dir: &Path) -> PathBuf {
    let f = |p: &str, text: &str| Entry::file(p, text).mode(0o644);
    let unit = |desc: &str, install: &str| {
        format!(
            "[Unit]\nDescription={desc}\n\n[Service]\nExecStart=/bin/true\n\n[Install]\n{install}\n"
        )
    };
    let mut b =
        builder("fx-systemd", CompressionType::Gzip).requires(Dependency::any("fx-filesystem"));
    for (name, text) in [
        (
            "sshd.service",
            unit("OpenSSH", "WantedBy=multi-user.target"),
        ),
        (
            "NetworkManager.service",
            unit(
                "NM",
                "WantedBy=multi-user.target\nAlias=dbus-org.freedesktop.NetworkManager.service\nAlso=NetworkManager-wait-online.service",
            ),
        ),
        (
            "NetworkManager-wait-online.service",
            unit("NM wait", "WantedBy=network-online.target"),
        ),
        (
            "getty@.service",
            unit("getty", "WantedBy=getty.target\nDefaultInstance=tty1"),
        ),
        ("kdump.service", unit("kdump", "WantedBy=multi-user.target")),
        (
            "multi-user.target",
            "[Unit]\nDescription=Multi-User\n".to_string(),
        ),
        (
            "graphical.target",
            "[Unit]\nDescription=Graphical\n".to_string(),
        ),
    ] {
        b = b.entry(f(&format!("/usr/lib/systemd/system/{name}"), &text));
    }
    b = b
        .entry(f("/etc/dnf/dnf.conf", "[main]\ngpgcheck=1\n").config())
        .symlink("/etc/yum.conf", "dnf/dnf.conf")
        .symlink("/usr/sbin/init", "../lib/systemd/systemd")
        .entry(f("/usr/lib/systemd/systemd", "systemd\n").mode(0o755))
        .dir("/etc/rc.d", 0o755)
        .dir("/etc/systemd/system", 0o755)
        // dracut's marker: must not stay in an image systemd boots as the real root.
        .entry(f("/etc/initrd-release", "NAME=initrd\n"));
    write(dir, &b)
}

fn load_profile(name: &str) -> diskless::profile::Profile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name);
    diskless::profile::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn file_text(a: &rootfs::Assembled, store: &Store, path: &str) -> String {
    match &a
        .tree
        .get(path)
        .unwrap_or_else(|| panic!("{path} missing"))
        .kind
    {
        EntryKind::File { digest, .. } => String::from_utf8(store.read(digest).unwrap()).unwrap(),
        k => panic!("{path} is {k:?}"),
    }
}

fn link(a: &rootfs::Assembled, path: &str) -> String {
    match &a
        .tree
        .get(path)
        .unwrap_or_else(|| panic!("{path} missing"))
        .kind
    {
        EntryKind::Symlink { target } => target.clone(),
        k => panic!("{path} is {k:?}"),
    }
}

#[test]
fn shipped_profiles_express_the_seed_recipe() {
    for (profile, el9) in [
        ("rocky8-diskless.toml", false),
        ("rocky9-diskless.toml", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut rpms = fixture_set(dir.path());
        rpms.push(fx_systemd(dir.path()));
        let p = load_profile(profile);
        let cfg = assemble_config(&p, u64::from(SDE)).unwrap();
        let (a, keep) = assemble(&rpms, &cfg);
        let store = Store::new(keep.path().join("store")).unwrap();
        let ctx = profile;
        // Services, as systemctl enable / set-default would link them.
        let u = "/usr/lib/systemd/system";
        assert_eq!(
            link(
                &a,
                "/etc/systemd/system/multi-user.target.wants/sshd.service"
            ),
            format!("{u}/sshd.service"),
            "{ctx}"
        );
        assert_eq!(
            link(
                &a,
                "/etc/systemd/system/multi-user.target.wants/NetworkManager.service"
            ),
            format!("{u}/NetworkManager.service")
        );
        assert_eq!(
            link(
                &a,
                "/etc/systemd/system/dbus-org.freedesktop.NetworkManager.service"
            ),
            format!("{u}/NetworkManager.service")
        );
        assert_eq!(
            link(
                &a,
                "/etc/systemd/system/network-online.target.wants/NetworkManager-wait-online.service"
            ),
            format!("{u}/NetworkManager-wait-online.service")
        );
        assert_eq!(
            link(&a, "/etc/systemd/system/default.target"),
            format!("{u}/multi-user.target")
        );
        // Recipe steps.
        assert_eq!(link(&a, "/init"), "sbin/init");
        assert_eq!(link(&a, "/etc/rc.local"), "rc.d/rc.local");
        assert_eq!(a.tree.get("/etc/rc.d/rc.local").unwrap().mode, 0o755);
        assert!(
            file_text(&a, &store, "/etc/puppet/puppet.conf")
                .contains("server = puppet.domain.local")
        );
        let ssl = a.tree.get("/var/lib/puppet/ssl").unwrap();
        assert_eq!((ssl.mode, ssl.uid, ssl.gid), (0o771, 52, 52));
        assert!(
            file_text(&a, &store, "/etc/passwd")
                .contains("puppet:x:52:52::/var/lib/puppet:/sbin/nologin\n")
        );
        assert!(file_text(&a, &store, "/etc/group").contains("puppet:x:52:\n"));
        assert!(file_text(&a, &store, "/etc/shadow").starts_with("root:$6$"));
        assert!(file_text(&a, &store, "/etc/shadow").contains("\npuppet:!!:"));
        assert_eq!(a.tree.get("/etc/shadow").unwrap().mode, 0o000);
        assert!(
            file_text(&a, &store, "/etc/dnf/dnf.conf")
                .contains("[main]\ngpgcheck=1\ndiskspacecheck=0\n")
        );
        assert_eq!(
            link(&a, "/etc/yum.conf"),
            "dnf/dnf.conf",
            "EL8/9 keep yum.conf a symlink"
        );
        assert!(
            file_text(&a, &store, "/etc/fstab")
                .contains("tmpfs /tmp tmpfs defaults,size=512m 0 0\n")
        );
        assert!(file_text(&a, &store, "/etc/sysconfig/network").contains("NETWORKING=yes"));
        let mid = a.tree.get("/etc/machine-id").unwrap();
        assert_eq!(
            (mid.mode, file_text(&a, &store, "/etc/machine-id").as_str()),
            (0o444, "")
        );
        if el9 {
            let nm = "/etc/NetworkManager/system-connections/eth0.nmconnection";
            assert_eq!(a.tree.get(nm).unwrap().mode, 0o600);
            assert!(file_text(&a, &store, nm).contains("method=auto"));
        } else {
            assert!(
                file_text(&a, &store, "/etc/sysconfig/network-scripts/ifcfg-eth0")
                    .contains("BOOTPROTO=dhcp\n")
            );
        }
        assert!(a.tree.get("/etc/initrd-release").is_none());
        assert!(
            a.notes
                .iter()
                .any(|n| n.contains("/etc/initrd-release") && n.contains("fx-systemd")),
            "{:?}",
            a.notes
        );
        // nodocs and langs from the profile.
        assert!(a.tree.get("/usr/share/doc/kitchen/README").is_none());
        assert!(
            a.tree
                .get("/usr/share/locale/de/LC_MESSAGES/kitchen.mo")
                .is_none()
        );
    }
}

#[test]
fn unit_symlinks_match_systemctl() {
    // systemctl --root works on a plain directory; give it the same units and compare the
    // links it makes under /etc/systemd/system with ours.
    if !Path::new("/usr/bin/systemctl").exists() {
        eprintln!("skipped: no systemctl");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = fixture_set(dir.path());
    rpms.push(fx_systemd(dir.path()));
    let mut cfg = packages_only();
    cfg.custom.enable = vec![
        "sshd.service".into(),
        "NetworkManager.service".into(),
        "getty@.service".into(),
        "getty@ttyS0.service".into(),
    ];
    cfg.custom.mask = vec!["kdump.service".into()];
    cfg.custom.default_target = Some("graphical.target".into());
    let (a, keep) = assemble(&rpms, &cfg);
    let store = Store::new(keep.path().join("store")).unwrap();

    let root = tempfile::tempdir().unwrap();
    for (p, e) in a.tree.descendants("/usr/lib/systemd/system") {
        if let EntryKind::File { digest, .. } = &e.kind {
            let dest = root.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(dest, store.read(digest).unwrap()).unwrap();
        }
    }
    std::fs::create_dir_all(root.path().join("etc/systemd/system")).unwrap();
    let sc = |args: &[&str]| {
        let out = Command::new("systemctl")
            .arg(format!("--root={}", root.path().display()))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "systemctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sc(&[
        "enable",
        "sshd.service",
        "NetworkManager.service",
        "getty@.service",
        "getty@ttyS0.service",
    ]);
    sc(&["mask", "kdump.service"]);
    sc(&["set-default", "graphical.target"]);
    let (theirs, _) = theirs(root.path());
    let their_links: BTreeMap<String, String> = theirs
        .into_iter()
        .filter(|(p, l)| p.starts_with("/etc/systemd/system/") && l.kind == "symlink")
        .map(|(p, l)| (p, l.target.unwrap()))
        .collect();
    let our_links: BTreeMap<String, String> = a
        .tree
        .descendants("/etc/systemd/system")
        .filter_map(|(p, e)| match &e.kind {
            EntryKind::Symlink { target } => Some((p.clone(), target.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(our_links, their_links);
    assert!(our_links.len() >= 7, "{our_links:?}");
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn accounts_from_pre_sysusers_and_provides() {
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = fixture_set(dir.path());
    let f = |p: &str, text: &str| Entry::file(p, text).mode(0o640);
    let d = builder("fx-daemon", CompressionType::Gzip)
        .requires(Dependency::any("fx-filesystem"))
        .pre_install(
            "getent group fxd >/dev/null || groupadd -r fxd\n\
             getent passwd fxd >/dev/null || \\\n  useradd -r -g fxd -d /var/lib/fxd -s /sbin/nologin -c 'FX daemon' fxd\n\
             exit 0\n",
        )
        .entry(f("/usr/lib/sysusers.d/fxs.conf", "u fxs - \"FX sysusers\" /var/lib/fxs\nm fxs fxd\n"))
        .entry(f("/var/lib/fxd/state", "d\n").user("fxd").group("fxd"))
        .entry(f("/var/lib/fxs/state", "s\n").user("fxs").group("fxs"));
    rpms.push(write(dir.path(), &d));
    // rpm 4.19 style: the sysusers line rides in the provide's version.
    let p = builder("fx-provides", CompressionType::Gzip)
        .requires(Dependency::any("fx-daemon"))
        .provides(Dependency::eq(
            "user(fxp)",
            b64("u fxp 345 \"FX provided\" /"),
        ))
        .provides(Dependency::any("group(fxpg)"))
        .entry(f("/var/lib/fxp", "p\n").user("fxp").group("fxpg"));
    rpms.push(write(dir.path(), &p));
    let mut cfg = packages_only();
    cfg.users = vec![diskless::rootfs::users::NewUser {
        name: "admin".into(),
        uid: Some(1500),
        ..Default::default()
    }];
    cfg.root_password = Some(RootPassword::Hash("$6$salt$hash".into()));
    let (a, keep) = assemble(&rpms, &cfg);
    let store = Store::new(keep.path().join("store")).unwrap();
    let passwd = file_text(&a, &store, "/etc/passwd");
    let group = file_text(&a, &store, "/etc/group");
    // Install order: fx-daemon, then fx-provides. Per package: user()/group() provides
    // first (the rpm crate's builder, like rpm 4.19, derives `user(fxs)` from the shipped
    // sysusers.d file), then %pre, then sysusers.d files (fxs exists by then: a no-op).
    assert!(
        passwd.ends_with(
            "admin:x:1500:1500::/home/admin:/bin/bash\n\
         fxs:x:999:999:FX sysusers:/var/lib/fxs:/usr/sbin/nologin\n\
         fxd:x:998:998:FX daemon:/var/lib/fxd:/sbin/nologin\n\
         fxp:x:345:345:FX provided:/:/usr/sbin/nologin\n"
        ),
        "{passwd:?}"
    );
    assert!(group.contains("\nfxd:x:998:fxs\n"), "{group}");
    assert!(
        group.contains("\nfxpg:x:997:\n") && group.contains("\nfxp:x:345:\n"),
        "{group}"
    );
    let e = a.tree.get("/var/lib/fxs/state").unwrap();
    assert_eq!((e.uid, e.gid), (999, 999));
    let e = a.tree.get("/var/lib/fxp").unwrap();
    assert_eq!((e.uid, e.gid), (345, 997));
    let shadow = file_text(&a, &store, "/etc/shadow");
    // Shipped line kept (password set), generated lines for the rest, reproducible day.
    let day = SDE / 86400;
    assert!(
        shadow.starts_with("root:$6$salt$hash::0:99999:7:::\nbin:!!:"),
        "{shadow}"
    );
    assert!(
        shadow.contains(&format!("\nfxd:!!:{day}::::::\n")),
        "{shadow}"
    );
    let gshadow = file_text(&a, &store, "/etc/gshadow");
    assert!(gshadow.contains("\nfxd:!::fxs\n"), "{gshadow}");
    let h = rootfs::read_headers(&rpms[rpms.len() - 2..rpms.len() - 1])
        .unwrap()
        .remove(0);
    assert!(
        h.provides.iter().any(|d| d.name == "user(fxs)"),
        "{:?}",
        h.provides
    );
    // The %pre that was turned into declarations is reported as handled.
    let pre = a
        .report
        .entries
        .iter()
        .find(|e| e.package.starts_with("fx-daemon"))
        .unwrap();
    assert_eq!(pre.verdict, rootfs::scriptlets::Verdict::Handled, "{pre:?}");
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    s.set_prepend_module_to_snapshot(true);
    s
}

fn assemble_err(rpms: &[PathBuf]) -> RootfsError {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    match rootfs::assemble(rpms, &packages_only(), &store) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn owner_nobody_defines_is_an_error_naming_package_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = fixture_set(dir.path());
    rpms.push(write(
        dir.path(),
        &builder("fx-orphan", CompressionType::Gzip).entry(
            Entry::file("/usr/share/orphan", "x\n")
                .mode(0o644)
                .user("nosuchuser"),
        ),
    ));
    let e = assemble_err(&rpms);
    settings().bind(|| insta::assert_snapshot!(error_chain(&e)));
}

#[test]
fn different_contents_on_one_path_is_a_conflict_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = vec![
        write(
            dir.path(),
            &builder("fx-one", CompressionType::Gzip).file("/etc/same.conf", "one\n", 0o644),
        ),
        write(
            dir.path(),
            &builder("fx-two", CompressionType::Gzip).file("/etc/same.conf", "two\n", 0o644),
        ),
    ];
    let e = assemble_err(&rpms);
    settings().bind(|| insta::assert_snapshot!(error_chain(&e)));
}

#[test]
fn scriptlet_report_of_real_packages() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let mut cfg = packages_only();
    cfg.groups = vec![("lock".into(), Some(54)), ("mail".into(), Some(12))];
    let rpms = real_rpms(&fx);
    let (a, _keep) = assemble(&rpms, &cfg);
    let text = format!("{}\n{}", a.report.summary(), a.report.to_text());
    settings().bind(|| insta::assert_snapshot!(text));
}

#[test]
fn root_password_file_hash_is_reproducible_and_glibc_compatible() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("root.pw");
    std::fs::write(&pw, "s3cret pass\n").unwrap();
    let rpms = fixture_set(dir.path());
    let mut cfg = packages_only();
    cfg.root_password = Some(RootPassword::File(pw));
    cfg.password_seed = "node-image".into();
    let (a, keep) = assemble(&rpms, &cfg);
    let (b, keep2) = assemble(&rpms, &cfg);
    let shadow = file_text(
        &a,
        &Store::new(keep.path().join("store")).unwrap(),
        "/etc/shadow",
    );
    assert_eq!(
        shadow,
        file_text(
            &b,
            &Store::new(keep2.path().join("store")).unwrap(),
            "/etc/shadow"
        )
    );
    assert!(!shadow.contains("s3cret"));
    let hash = shadow
        .lines()
        .next()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    let salt = hash.split('$').nth(2).unwrap();
    // glibc's crypt, through openssl: same password and salt give the same hash.
    let out = Command::new("openssl")
        .args(["passwd", "-6", "-salt", salt, "s3cret pass"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), hash);
}

#[test]
fn assembly_is_independent_of_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = fixture_set(dir.path());
    rpms.push(fx_systemd(dir.path()));
    let cfg = assemble_config(&load_profile("rocky9-diskless.toml"), u64::from(SDE)).unwrap();
    let (a, _k1) = assemble(&rpms, &cfg);
    rpms.reverse();
    let (b, _k2) = assemble(&rpms, &cfg);
    assert_eq!(listing::to_text(&a.tree), listing::to_text(&b.tree));
    assert_eq!(listing::to_json(&a.tree), listing::to_json(&b.tree));
    assert_eq!(a.packages_installed, b.packages_installed);
}

// ---------------------------------------------------------------------------------------
// Path traversal

#[test]
fn dotdot_cpio_fixture_is_rejected() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let bytes = std::fs::read(fx.join("go-rpmutils/testdata/dotdot.cpio")).unwrap();
    let mut r = diskless::cpio::Reader::new(&bytes[..]);
    let h = r.next(|_| None).unwrap().unwrap();
    assert_eq!(h.name.as_deref(), Some("../../aaaaaaaaa"));
    assert_eq!(
        rootfs::paths::check_package_path(h.name.as_deref().unwrap()),
        Err(PathError::Escape {
            path: "../../aaaaaaaaa".into()
        })
    );
}

/// Build an uncompressed package and patch its payload bytes (the payload digest is then
/// stale, as in a tampered package; headers are untouched).
fn patched(dir: &Path, name: &str, b: &Rpm, from: &[u8], to: &[u8]) -> PathBuf {
    assert_eq!(from.len(), to.len());
    let p = write(dir, b);
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{name}: pattern not found"));
    bytes[at..at + to.len()].copy_from_slice(to);
    let out = dir.join(format!("{name}.rpm"));
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn payload_name_climbing_out_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder("fx-dotdot", CompressionType::None).file("/zz/zzaaaaaaaaa1", "evil\n", 0o644);
    // The cpio name `./zz/zzaaaaaaaaa1` becomes `./../../aaaaaaaa1` (dotdot.cpio's trick).
    let rpm = patched(
        dir.path(),
        "fx-dotdot-patched",
        &b,
        b"./zz/zzaaaaaaaaa1",
        b"./../../aaaaaaaa1",
    );
    let e = assemble_err(&[rpm]);
    assert!(
        matches!(
            &e,
            RootfsError::Path {
                source: PathError::Escape { .. },
                ..
            }
        ),
        "{e:?}"
    );
    settings().bind(|| insta::assert_snapshot!(error_chain(&e)));
}

#[test]
fn header_path_climbing_out_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder("fx-headerdotdot", CompressionType::Gzip).file(
        "/usr/../../../etc/evil",
        "evil\n",
        0o644,
    );
    let e = assemble_err(&[write(dir.path(), &b)]);
    assert!(
        matches!(
            &e,
            RootfsError::Path {
                source: PathError::Escape { .. },
                ..
            }
        ),
        "{}",
        error_chain(&e)
    );
}

#[test]
fn absolute_symlinks_used_as_directories_stay_inside_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let a = builder("fx-links", CompressionType::Gzip)
        .dir("/usr/share/app", 0o755)
        .dir("/tmp", 0o1777)
        .symlink("/opt/app", "/usr/share/app")
        // An absolute symlink that tries to climb above the root: stops at the image root.
        .symlink("/escape", "/../../../../tmp");
    let b = builder("fx-users", CompressionType::Gzip)
        .requires(Dependency::any("fx-links"))
        .file("/opt/app/data.txt", "data\n", 0o644)
        .file("/escape/x", "x\n", 0o644);
    let rpms = vec![write(dir.path(), &a), write(dir.path(), &b)];
    let (asm, _keep) = assemble(&rpms, &packages_only());
    assert!(asm.tree.get("/usr/share/app/data.txt").is_some());
    assert!(asm.tree.get("/tmp/x").is_some());
    assert_eq!(link(&asm, "/opt/app"), "/usr/share/app");
    assert!(
        asm.tree
            .entries
            .keys()
            .all(|p| p.starts_with('/') && !p.split('/').any(|c| c == ".."))
    );
    if is_root() {
        // rpm follows the same links (it chroots into the root).
        let (theirs, _) = rpm_oracle(&rpms, &[], &[]);
        let d = diff(&ours(&asm.tree), &theirs);
        assert!(d.is_empty(), "{}", d.join("\n"));
    }
}

#[test]
fn symlink_loops_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let a = builder("fx-loop", CompressionType::Gzip)
        .symlink("/loop/a", "b")
        .symlink("/loop/b", "a");
    let b = builder("fx-into-loop", CompressionType::Gzip)
        .requires(Dependency::any("fx-loop"))
        .file("/loop/a/file", "x\n", 0o644);
    let e = assemble_err(&[write(dir.path(), &a), write(dir.path(), &b)]);
    assert!(
        matches!(
            &e,
            RootfsError::Path {
                source: PathError::SymlinkLoop { .. },
                ..
            }
        ),
        "{e:?}"
    );
    settings().bind(|| insta::assert_snapshot!(error_chain(&e)));
}

#[test]
fn hardlink_to_a_file_outside_the_package_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let b =
        builder("fx-hardlink", CompressionType::None).file("/usr/share/linkme", "mine\n", 0o644);
    let rpm = write(dir.path(), &b);
    // Find this entry's cpio header and raise its link count from 1 to 2: the archive now
    // claims a second link the package does not contain.
    let mut bytes = std::fs::read(&rpm).unwrap();
    let name = b"./usr/share/linkme\0";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    let hdr = at - 110;
    assert_eq!(&bytes[hdr..hdr + 6], b"070701");
    let nlink = hdr + 6 + 4 * 8;
    assert_eq!(&bytes[nlink..nlink + 8], b"00000001");
    bytes[nlink..nlink + 8].copy_from_slice(b"00000002");
    std::fs::write(&rpm, bytes).unwrap();
    let e = assemble_err(&[rpm]);
    assert!(matches!(&e, RootfsError::BadHardlink { .. }), "{e:?}");
    settings().bind(|| insta::assert_snapshot!(error_chain(&e)));
}
