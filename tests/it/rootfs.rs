//! Root filesystem assembly against rpm itself.
//!
//! Fixture RPMs are built here with the rpm crate's PackageBuilder (every entry type,
//! hardlinks, setuid/setgid, odd modes, non-root owners, ghosts, configs, docs, languages,
//! each compressor) and, with `DISKLESS_FIXTURES`, real RPMs are taken from the shared
//! fixtures. The oracle is Debian's rpm 4.18: `rpm --root DIR -i --nodeps --noscripts`
//! run as root into a temporary root; its tree is listed from disk and compared field by
//! field with diskless' listing. Tests that need root (the oracle, setpriv) skip otherwise.

use diskless::rootfs::{
    self, AssembleConfig, RootPassword, RootfsError, custom, extract::Filters, listing,
    paths::PathError, store::Store, tree::EntryKind,
};
use rpm::{BuildConfig, CompressionType, Dependency, FileOptions, PackageBuilder};
use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const SDE: u32 = 1_700_000_000;

fn is_root() -> bool {
    // SAFETY-free check: /proc/self/status has the real uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn builder(name: &str, comp: CompressionType) -> PackageBuilder {
    let mut b = PackageBuilder::new(name, "1.0", "MIT", "noarch", "diskless fixture");
    b.release("1")
        .using_config(BuildConfig::v4().source_date(SDE).compression(comp));
    b
}

fn write(dir: &Path, b: &mut PackageBuilder) -> PathBuf {
    let pkg = b.build().unwrap();
    let name = format!("{}.rpm", pkg.metadata.get_name().unwrap());
    let p = dir.join(name);
    pkg.write_file(&p).unwrap();
    p
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nfxuser:x:1001:1001::/home/fxuser:/bin/bash\n";
const GROUP: &str = "root:x:0:\nbin:x:1:\ndaemon:x:2:\ntty:x:5:\nusers:x:100:\nfxgroup:x:1001:\n";

/// The fixture set: setup-like accounts, a filesystem package with usrmerge symlinks, and a
/// kitchen-sink package with every entry type and attribute, plus one per compressor.
fn fixture_set(dir: &Path) -> Vec<PathBuf> {
    let f = |p: &str| FileOptions::new(p);
    let mut out = Vec::new();
    out.push(write(
        dir,
        builder("fx-setup", CompressionType::Gzip)
            .with_dir_entry(FileOptions::dir("/etc").permissions(0o755))
            .unwrap()
            .with_file_contents(
                PASSWD,
                f("/etc/passwd").permissions(0o644).config().noreplace(),
            )
            .unwrap()
            .with_file_contents(
                GROUP,
                f("/etc/group").permissions(0o644).config().noreplace(),
            )
            .unwrap()
            .with_file_contents(
                "root:*::0:99999:7:::\n",
                f("/etc/shadow").permissions(0o000).config().noreplace(),
            )
            .unwrap()
            .with_file_contents("", f("/etc/fstab").permissions(0o644).config().noreplace())
            .unwrap(),
    ));
    let mut fs = builder("fx-filesystem", CompressionType::Xz);
    fs.requires(Dependency::script_pre("fx-setup"));
    for (d, m) in [
        ("/usr", 0o755),
        ("/usr/bin", 0o755),
        ("/usr/lib", 0o755),
        ("/usr/sbin", 0o755),
        ("/usr/share", 0o755),
        ("/tmp", 0o1777),
        ("/root", 0o550),
        ("/var", 0o755),
    ] {
        fs.with_dir_entry(FileOptions::dir(d).permissions(m))
            .unwrap();
    }
    for (l, t) in [
        ("/lib", "usr/lib"),
        ("/bin", "usr/bin"),
        ("/sbin", "usr/sbin"),
    ] {
        fs.with_symlink(FileOptions::symlink(l, t)).unwrap();
    }
    out.push(write(dir, &mut fs));

    let mut k = builder("fx-kitchen", CompressionType::Zstd);
    k.requires(Dependency::any("fx-filesystem"));
    k.with_file_contents(
        "#!/bin/sh\necho hello\n",
        f("/usr/bin/hello").permissions(0o755),
    )
    .unwrap()
    .with_file_contents("setuid\n", f("/usr/bin/suid").permissions(0o4755))
    .unwrap()
    .with_file_contents(
        "setgid\n",
        f("/usr/bin/sgid").permissions(0o2711).group("tty"),
    )
    .unwrap()
    .with_file_contents(
        "caps\n",
        f("/usr/bin/pingish")
            .permissions(0o755)
            .caps("cap_net_raw=ep")
            .unwrap(),
    )
    .unwrap()
    .with_dir_entry(
        FileOptions::dir("/usr/share/kitchen")
            .permissions(0o750)
            .user("fxuser")
            .group("fxgroup"),
    )
    .unwrap()
    .with_file_contents(
        "secret\n",
        f("/usr/share/kitchen/secret")
            .permissions(0o400)
            .user("fxuser")
            .group("fxgroup"),
    )
    .unwrap()
    .with_file_contents("odd\n", f("/usr/share/kitchen/odd").permissions(0o111))
    .unwrap()
    .with_file_contents(
        "rw\n",
        f("/usr/share/kitchen/writable")
            .permissions(0o666)
            .user("daemon"),
    )
    .unwrap()
    .with_file_contents("", f("/usr/share/kitchen/empty").permissions(0o644))
    .unwrap()
    .with_dir_entry(FileOptions::dir("/var/spool/kitchen").permissions(0o1777))
    .unwrap()
    .with_file_contents(
        "linked\n",
        f("/usr/lib/kitchen/a").permissions(0o755).hardlink("g"),
    )
    .unwrap()
    .with_file_contents(
        "linked\n",
        f("/usr/lib/kitchen/b").permissions(0o755).hardlink("g"),
    )
    .unwrap()
    .with_file_contents("linked\n", f("/usr/bin/c").permissions(0o755).hardlink("g"))
    .unwrap()
    .with_symlink(FileOptions::symlink("/usr/bin/hello-link", "hello"))
    .unwrap()
    .with_symlink(FileOptions::symlink(
        "/usr/share/kitchen/abs",
        "/usr/bin/hello",
    ))
    .unwrap()
    .with_ghost(FileOptions::ghost("/var/log/kitchen.log"))
    .unwrap()
    .with_file_contents(
        "key=value\n",
        f("/etc/kitchen.conf")
            .permissions(0o640)
            .config()
            .noreplace(),
    )
    .unwrap()
    .with_file_contents(
        "read me\n",
        f("/usr/share/doc/kitchen/README").permissions(0o644).doc(),
    )
    .unwrap()
    .with_file_contents(
        "MIT\n",
        f("/usr/share/licenses/kitchen/COPYING")
            .permissions(0o644)
            .license(),
    )
    .unwrap()
    .with_file_contents(
        "de\n",
        f("/usr/share/locale/de/LC_MESSAGES/kitchen.mo")
            .permissions(0o644)
            .language("de"),
    )
    .unwrap()
    .with_file_contents(
        "fr\n",
        f("/usr/share/locale/fr/LC_MESSAGES/kitchen.mo")
            .permissions(0o644)
            .language("fr"),
    )
    .unwrap()
    .with_file_contents(
        "pt\n",
        f("/usr/share/locale/pt_BR/LC_MESSAGES/kitchen.mo")
            .permissions(0o644)
            .language("pt_BR"),
    )
    .unwrap()
    .with_special_file(FileOptions::fifo("/usr/share/kitchen/fifo").permissions(0o600))
    .unwrap()
    .with_special_file(
        FileOptions::character_device("/usr/share/kitchen/null", 1, 3).permissions(0o666),
    )
    .unwrap()
    .with_special_file(
        FileOptions::block_device("/usr/share/kitchen/loop0", 7, 0).permissions(0o660),
    )
    .unwrap()
    // kernel-core style: shipped under /lib, lands in /usr/lib through the symlink.
    .with_file_contents(
        "module\n",
        f("/lib/modules/1.0/kernel/x.ko").permissions(0o644),
    )
    .unwrap();
    out.push(write(dir, &mut k));
    out.push(write(
        dir,
        builder("fx-more", CompressionType::Gzip)
            .with_file_contents(
                "bz\n",
                f("/usr/share/bz/file")
                    .permissions(0o644)
                    .user("daemon")
                    .group("daemon"),
            )
            .unwrap()
            // The same file as fx-kitchen ships: a shared, identical file is no conflict.
            .with_file_contents(
                "#!/bin/sh\necho hello\n",
                f("/usr/bin/hello").permissions(0o755),
            )
            .unwrap(),
    ));
    out.push(write(
        dir,
        builder("fx-plain", CompressionType::None)
            .with_file_contents("plain\n", f("/usr/share/plain").permissions(0o644))
            .unwrap(),
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
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!("\n  caused by: {c}"));
        cur = c.source();
    }
    s
}

/// rpm's tree has none of the profile's customisations.
fn packages_only() -> AssembleConfig {
    AssembleConfig {
        custom: custom::Customisations {
            empty_machine_id: false,
            init_symlink: false,
            ..Default::default()
        },
        source_date_epoch: Some(u64::from(SDE)),
        ..Default::default()
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

/// The nobody re-run: assembles the fixture set given in the environment and writes the
/// listing. Ignored unless run by `assembly_as_nobody_matches_root`.
#[test]
#[ignore = "helper for assembly_as_nobody_matches_root"]
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

fn full_profile(_input: &Path) -> AssembleConfig {
    AssembleConfig {
        root_password: Some(RootPassword::Hash("$6$abc$def".into())),
        source_date_epoch: Some(u64::from(SDE)),
        custom: custom::Customisations {
            hostname: Some("node01".into()),
            ..Default::default()
        },
        ..Default::default()
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
