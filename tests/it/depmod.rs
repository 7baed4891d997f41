//! Kernel module indexes against kmod itself.
//!
//! The oracle is the host's `depmod` (kmod) run with `-b` on the Debian kernel's modules
//! (`/lib/modules/<kver>`, linked or recompressed into a temporary root): diskless' files
//! must be byte-identical. Then kmod's `modprobe -d` reads diskless' own files and must
//! find the dependency chains, aliases and symbols. Tests skip when the host has no
//! kernel modules or no kmod.

use crate::support::rpm::{Entry, Rpm};
use diskless::rootfs::{self, AssembleConfig, depmod, scriptlets::Verdict, store::Store};
use rpm::CompressionType;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const DEPMOD: &str = "/usr/sbin/depmod";
const MODPROBE: &str = "/usr/sbin/modprobe";
/// The search order EL9's kmod ships in depmod.d (`search updates extra built-in weak-updates`).
const EL9_DIST_CONF: &str = "# depmod.conf\nsearch updates extra built-in weak-updates\n";
const SHIPPED: &[&str] = &[
    "modules.order",
    "modules.builtin",
    "modules.builtin.modinfo",
];

/// The host kernel whose modules are the test input, if there is one and kmod is installed.
fn host_kernel() -> Option<(String, PathBuf)> {
    if !Path::new(DEPMOD).exists() || !Path::new(MODPROBE).exists() {
        eprintln!("skipped: no kmod ({DEPMOD})");
        return None;
    }
    let mut kvers: Vec<PathBuf> = std::fs::read_dir("/lib/modules")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("modules.order").exists() && p.join("kernel").is_dir())
        .collect();
    kvers.sort();
    let Some(dir) = kvers.pop() else {
        eprintln!("skipped: no kernel modules in /lib/modules");
        return None;
    };
    let kver = dir.file_name()?.to_string_lossy().into_owned();
    Some((kver, dir))
}

/// Module paths (relative to the modules dir) of the host kernel, sorted.
fn host_modules(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, rel: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(base.join(rel)).unwrap() {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                walk(base, &r, out);
            } else if r.to_string_lossy().ends_with(".ko") {
                out.push(r.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, Path::new("kernel"), &mut out);
    out.sort();
    out
}

/// Run kmod's depmod on `root/lib/modules/<kver>` with the depmod.d configuration
/// `config` (none: kmod's defaults, whatever the host has) and return the files it wrote.
fn kmod_depmod(root: &Path, kver: &str, config: Option<&str>) -> BTreeMap<String, Vec<u8>> {
    let cfg = root.join("depmod.d");
    std::fs::create_dir_all(&cfg).unwrap();
    if let Some(c) = config {
        std::fs::write(cfg.join("test.conf"), c).unwrap();
    }
    let st = Command::new(DEPMOD)
        .arg("-C")
        .arg(&cfg)
        .arg("-b")
        .arg(root)
        .arg(kver)
        .status()
        .unwrap();
    assert!(st.success(), "depmod failed");
    let dir = root.join("lib/modules").join(kver);
    depmod::GENERATED
        .iter()
        .filter_map(|n| std::fs::read(dir.join(n)).ok().map(|b| (n.to_string(), b)))
        .collect()
}

fn compare(ours: &[(String, Vec<u8>)], theirs: &BTreeMap<String, Vec<u8>>) {
    let ours: BTreeMap<String, Vec<u8>> = ours.iter().cloned().collect();
    if let Some(d) = std::env::var_os("DISKLESS_DEPMOD_DUMP") {
        for (n, b) in &ours {
            std::fs::write(Path::new(&d).join(n), b).unwrap();
        }
    }
    let names: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let mut diffs = Vec::new();
    for n in names {
        match (ours.get(n), theirs.get(n)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => diffs.push(format!(
                "{n}: diskless {:?} bytes, depmod {:?} bytes",
                a.map(Vec::len),
                b.map(Vec::len)
            )),
        }
    }
    assert!(
        diffs.is_empty(),
        "differs from kmod depmod:\n{}",
        diffs.join("\n")
    );
}

fn copy_shipped(from: &Path, to: &Path) {
    for n in SHIPPED {
        if from.join(n).exists() {
            std::fs::copy(from.join(n), to.join(n)).unwrap();
        }
    }
}

/// Every module of the Debian kernel: byte-identical to kmod's output.
#[test]
fn depmod_whole_host_kernel_matches_kmod() {
    let Some((kver, dir)) = host_kernel() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mdir = tmp.path().join("lib/modules").join(&kver);
    for rel in host_modules(&dir) {
        let p = mdir.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(dir.join(&rel), &p).unwrap();
    }
    copy_shipped(&dir, &mdir);
    let t = std::time::Instant::now();
    let ours = depmod::run_dir(&mdir, &depmod::default_search()).unwrap();
    eprintln!(
        "diskless depmod on {} modules: {:?}",
        host_modules(&dir).len(),
        t.elapsed()
    );
    compare(&ours, &kmod_depmod(tmp.path(), &kver, None));
}

/// The modules a subset needs, by the host's own modules.dep.
fn closure(dir: &Path, wanted: impl Fn(&str) -> bool) -> BTreeSet<String> {
    let dep = std::fs::read_to_string(dir.join("modules.dep")).unwrap();
    let mut out = BTreeSet::new();
    for line in dep.lines() {
        let (m, deps) = line.split_once(':').unwrap();
        if wanted(m) {
            out.insert(m.to_string());
            out.extend(deps.split_whitespace().map(str::to_string));
        }
    }
    out
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 0);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A subset (filesystems and Intel NICs with what they need), xz- and zstd-compressed as
/// EL9 and newer Fedora ship them, one module left out of modules.order: byte-identical to
/// kmod; then kmod's modprobe resolves chains, aliases and symbols from diskless' files.
#[test]
fn depmod_compressed_subset_matches_kmod_and_modprobe_reads_it() {
    let Some((kver, dir)) = host_kernel() else {
        return;
    };
    let set = closure(&dir, |m| {
        m.starts_with("kernel/fs/") || m.starts_with("kernel/drivers/net/ethernet/intel/")
    });
    assert!(set.len() > 50, "{} modules", set.len());
    let tmp = tempfile::tempdir().unwrap();
    let mdir = tmp.path().join("lib/modules").join(&kver);
    let mut renamed = BTreeMap::new();
    for (i, rel) in set.iter().enumerate() {
        let data = std::fs::read(dir.join(rel)).unwrap();
        let (name, bytes) = if i % 4 == 3 {
            (
                format!("{rel}.zst"),
                zstd::encode_all(&data[..], 1).unwrap(),
            )
        } else {
            (format!("{rel}.xz"), xz(&data))
        };
        let p = mdir.join(&name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        renamed.insert(rel.clone(), name);
    }
    copy_shipped(&dir, &mdir);
    // One module missing from modules.order goes last, in both.
    let order = std::fs::read_to_string(mdir.join("modules.order")).unwrap();
    let order: String = order
        .lines()
        .filter(|l| !l.ends_with("/jbd2.ko"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(mdir.join("modules.order"), order).unwrap();

    let ours = depmod::run_dir(&mdir, &depmod::default_search()).unwrap();
    let dep = String::from_utf8(ours[0].1.clone()).unwrap();
    assert_eq!(dep.lines().count(), set.len());
    assert!(dep.lines().last().unwrap().contains("/jbd2.ko"), "{dep}");
    compare(&ours, &kmod_depmod(tmp.path(), &kver, None));

    // A second root holding only diskless' files: modprobe must read those.
    let root2 = tempfile::tempdir().unwrap();
    let mdir2 = root2.path().join("lib/modules").join(&kver);
    for name in renamed.values() {
        let p = mdir2.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(mdir.join(name), &p).unwrap();
    }
    copy_shipped(&mdir, &mdir2);
    for (n, b) in &ours {
        std::fs::write(mdir2.join(n), b).unwrap();
    }
    let show = |what: &str| -> Vec<String> {
        let out = Command::new(MODPROBE)
            .arg("-d")
            .arg(root2.path())
            .args(["-S", &kver, "--show-depends", what])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "modprobe --show-depends {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                l.trim()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .trim_end_matches(".xz")
                    .trim_end_matches(".zst")
                    .to_string()
            })
            .collect()
    };
    // ext4 needs jbd2 and mbcache (and crc16): all loaded, ext4 last.
    let ext4 = show("ext4");
    for m in ["jbd2.ko", "mbcache.ko"] {
        assert!(ext4.contains(&m.to_string()), "{ext4:?}");
    }
    assert_eq!(ext4.last().map(String::as_str), Some("ext4.ko"), "{ext4:?}");
    // The longest chain of the subset, expected as the host's own modules.dep has it
    // (reversed: load order).
    let host_dep = std::fs::read_to_string(dir.join("modules.dep")).unwrap();
    let line = host_dep
        .lines()
        .filter(|l| set.contains(l.split(':').next().unwrap()))
        .max_by_key(|l| (l.split_whitespace().count(), std::cmp::Reverse(*l)))
        .unwrap();
    let target = modname_of(line.split(':').next().unwrap());
    let mut want: Vec<String> = line
        .split(|c: char| c == ':' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| s.rsplit('/').next().unwrap().to_string())
        .collect();
    want.reverse();
    assert!(want.len() >= 3, "{line}");
    assert_eq!(show(&target), want);
    // An alias (modules.alias.bin) and a symbol (modules.symbols.bin).
    assert_eq!(show("fs-ext4"), ext4);
    assert_eq!(
        show("symbol:jbd2_journal_start").last().map(String::as_str),
        Some("jbd2.ko")
    );
}

/// Through `assemble`: a kernel package with xz modules under /lib/modules (resolved to
/// /usr/lib/modules by the usrmerge symlink) gets the index files as root-owned 0644
/// generated entries (for the modules the profile's `remove` left), and its `depmod -a`
/// scriptlet is reported handled.
#[test]
fn assemble_writes_module_indexes_and_handles_depmod_scriptlet() {
    let Some((kver, dir)) = host_kernel() else {
        return;
    };
    let set = closure(&dir, |m| {
        m.ends_with("/ext4.ko") || m.ends_with("/e1000e.ko")
    });
    let tmp = tempfile::tempdir().unwrap();
    let fsb = Rpm::new("filesystem", "1")
        .summary("fs")
        .compression(CompressionType::Gzip)
        .dir("/usr", 0o755)
        .dir("/usr/lib", 0o755)
        .symlink("/lib", "usr/lib");
    let mut kb = Rpm::new("kernel-core", "1")
        .license("GPL")
        .arch("x86_64")
        .summary("kernel")
        .compression(CompressionType::Gzip)
        .requires(rpm::Dependency::any("filesystem"))
        .post_install(format!("/sbin/depmod -a {kver} || :\n"));
    let oracle = tmp.path().join("oracle/lib/modules").join(&kver);
    for rel in &set {
        let data = xz(&std::fs::read(dir.join(rel)).unwrap());
        let name = format!("{rel}.xz");
        kb = kb.file(format!("/lib/modules/{kver}/{name}"), data.clone(), 0o644);
        // The profile removes ext4 (below): the oracle never sees it.
        if !rel.contains("/ext4/") {
            std::fs::create_dir_all(oracle.join(&name).parent().unwrap()).unwrap();
            std::fs::write(oracle.join(&name), data).unwrap();
        }
    }
    // A kmod-style duplicate that EL9's search order (extra before built-in) prefers.
    let e1000e = set.iter().find(|m| m.ends_with("/e1000e.ko")).unwrap();
    let data = xz(&std::fs::read(dir.join(e1000e)).unwrap());
    kb = kb.file(
        format!("/lib/modules/{kver}/extra/e1000e.ko.xz"),
        data.clone(),
        0o644,
    );
    std::fs::create_dir_all(oracle.join("extra")).unwrap();
    std::fs::write(oracle.join("extra/e1000e.ko.xz"), data).unwrap();
    kb = kb.file("/lib/depmod.d/dist.conf", EL9_DIST_CONF, 0o644);
    copy_shipped(&dir, &oracle);
    for n in SHIPPED {
        kb = kb.file(
            format!("/lib/modules/{kver}/{n}"),
            std::fs::read(dir.join(n)).unwrap(),
            0o644,
        );
    }
    let mut rpms = Vec::new();
    for b in [&fsb, &kb] {
        let p = tmp.path().join(format!("{}.rpm", b.name()));
        b.write_to(&p).unwrap();
        rpms.push(p);
    }
    let store = Store::new(tmp.path().join("store")).unwrap();
    let mut cfg = AssembleConfig::new(1_600_000_000);
    cfg.custom.remove = vec![format!("/usr/lib/modules/{kver}/kernel/fs/ext4")];
    let a = rootfs::assemble(&rpms, &cfg, &store).unwrap();
    let theirs = kmod_depmod(&tmp.path().join("oracle"), &kver, Some(EL9_DIST_CONF));
    assert_eq!(theirs.len(), depmod::GENERATED.len());
    for (n, bytes) in &theirs {
        let path = format!("/usr/lib/modules/{kver}/{n}");
        let e = a.tree.get(&path).unwrap_or_else(|| panic!("no {path}"));
        let rootfs::tree::EntryKind::File { digest, .. } = &e.kind else {
            panic!("{path} is not a file")
        };
        assert_eq!(&store.read(digest).unwrap(), bytes, "{path}");
        assert_eq!(
            (e.mode, e.uid, e.gid, e.mtime),
            (0o644, 0, 0, 1_600_000_000)
        );
        assert_eq!(e.owner_package, None);
    }
    let dep = a
        .tree
        .get(&format!("/usr/lib/modules/{kver}/modules.dep"))
        .unwrap();
    let rootfs::tree::EntryKind::File { digest, .. } = &dep.kind else {
        panic!()
    };
    let dep = String::from_utf8(store.read(digest).unwrap()).unwrap();
    assert!(dep.contains("\nextra/e1000e.ko.xz:"), "{dep}");
    assert!(!dep.contains("/e1000e/e1000e.ko.xz:"), "{dep}");
    assert!(
        dep.contains("/jbd2.ko.xz:") && !dep.contains("ext4"),
        "{dep}"
    );
    let post = a
        .report
        .entries
        .iter()
        .find(|e| e.package.starts_with("kernel-core"))
        .unwrap();
    assert_eq!(post.verdict, Verdict::Handled, "{}", post.reason);
}

/// A module file that is not ELF is left out with a note naming it and its package, as
/// depmod leaves it out with a warning; next to a valid module the indexes are written.
#[test]
fn invalid_module_is_left_out_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let build = |with_valid: bool| -> PathBuf {
        let mut kb = Rpm::new("kmod-broken", "1")
            .license("GPL")
            .arch("x86_64")
            .summary("broken")
            .compression(CompressionType::Gzip)
            .entry(Entry::file(
                "/usr/lib/modules/9.9/extra/broken.ko.xz",
                xz(b"not an ELF file"),
            ));
        if with_valid {
            let (_, dir) = host_kernel().unwrap();
            let mbcache = closure(&dir, |m| m.ends_with("/mbcache.ko"));
            let rel = mbcache.iter().next().unwrap();
            kb = kb.entry(Entry::file(
                "/usr/lib/modules/9.9/kernel/mbcache.ko",
                std::fs::read(dir.join(rel)).unwrap(),
            ));
        }
        let p = tmp.path().join(format!("kmod-broken-{with_valid}.rpm"));
        kb.write_to(&p).unwrap();
        p
    };
    let note = "Kernel module `/usr/lib/modules/9.9/extra/broken.ko.xz` of `kmod-broken-1-1.x86_64` is not a valid module: no ELF magic; left out of the module indexes, as depmod leaves it";
    let store = Store::new(tmp.path().join("store")).unwrap();
    let a = rootfs::assemble(&[build(false)], &AssembleConfig::new(1_600_000_000), &store).unwrap();
    assert!(a.notes.iter().any(|n| n == note), "{:?}", a.notes);
    assert!(a.tree.get("/usr/lib/modules/9.9/modules.dep").is_none());
    if host_kernel().is_none() {
        return;
    }
    let a = rootfs::assemble(&[build(true)], &AssembleConfig::new(1_600_000_000), &store).unwrap();
    assert!(a.notes.iter().any(|n| n == note), "{:?}", a.notes);
    let e = a.tree.get("/usr/lib/modules/9.9/modules.dep").unwrap();
    let rootfs::tree::EntryKind::File { digest, .. } = &e.kind else {
        panic!()
    };
    assert_eq!(store.read(digest).unwrap(), b"kernel/mbcache.ko:\n");
}

/// Modules of the same name in several directories: the depmod.d search order picks one,
/// as kmod's depmod picks it.
#[test]
fn duplicate_module_names_follow_the_search_order() {
    let Some((kver, dir)) = host_kernel() else {
        return;
    };
    let set = closure(&dir, |m| m.ends_with("/ext4.ko"));
    let jbd2 = set
        .iter()
        .find(|m| m.ends_with("/jbd2.ko"))
        .expect("ext4 needs jbd2");
    let ext4 = set.iter().find(|m| m.ends_with("/ext4.ko")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mdir = tmp.path().join("lib/modules").join(&kver);
    let place = |rel: &str, to: &str| {
        std::fs::create_dir_all(mdir.join(to).parent().unwrap()).unwrap();
        std::fs::copy(dir.join(rel), mdir.join(to)).unwrap();
    };
    for rel in &set {
        place(rel, rel);
    }
    place(ext4, "updates/ext4.ko");
    place(ext4, "extra/ext4.ko");
    place(jbd2, "extra/jbd2.ko");
    place(jbd2, "weak-updates/jbd2.ko");
    copy_shipped(&dir, &mdir);
    // depmod orders modules missing from modules.order as readdir finds them (diskless: by
    // path); list the winners so that both orders are defined.
    let mut order = std::fs::read_to_string(mdir.join("modules.order")).unwrap();
    order.push_str("updates/ext4.ko\nextra/jbd2.ko\n");
    std::fs::write(mdir.join("modules.order"), order).unwrap();
    let search = depmod::parse_search(&[EL9_DIST_CONF.to_string()]);
    let ours = depmod::run_dir(&mdir, &search).unwrap();
    let dep = String::from_utf8(ours[0].1.clone()).unwrap();
    assert!(dep.contains("\nupdates/ext4.ko: "), "{dep}");
    assert!(dep.contains(" extra/jbd2.ko"), "{dep}");
    assert_eq!(dep.matches("jbd2.ko:").count(), 1, "{dep}");
    assert_eq!(dep.matches("ext4.ko:").count(), 1, "{dep}");
    compare(&ours, &kmod_depmod(tmp.path(), &kver, Some(EL9_DIST_CONF)));
}

fn modname_of(path: &str) -> String {
    depmod::modname(path)
}
