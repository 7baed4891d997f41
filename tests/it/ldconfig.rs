//! `/etc/ld.so.cache` and the soname links against glibc's ldconfig itself.
//!
//! The input is an EL9-shaped tree (usrmerge symlinks, /usr/lib64, ld.so.conf with
//! `include ld.so.conf.d/*.conf`) made of real shared objects: the host's glibc and a set
//! of its libraries, packed into RPMs and extracted as assembly extracts them. The image's
//! ldconfig is the host's (`/sbin/ldconfig`, glibc 2.36), so the cache's generator string is
//! the one that ldconfig writes. The oracle is that ldconfig run as root with `-r` on the
//! tree written to disk, with `/lib64` and `/usr/lib64` added to the end of its ld.so.conf
//! copy (EL9's ldconfig has them built in as trusted directories; Debian's has its
//! multiarch ones, which the tree does not have). The cache must be byte-identical, its
//! `ldconfig -p` listing too, and the links it made and removed the same. Tests skip
//! without root or without ldconfig.

use crate::support::proc::is_root;
use crate::support::rpm::{Entry, Rpm};
use crate::support::tree::{host_links, materialise, tree_links};
use diskless::rootfs::{self, extract, ldconfig, store::Store};
use rpm::CompressionWithLevel;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const LDCONFIG: &str = "/sbin/ldconfig";
const HOST_LIBS: &str = "/usr/lib/x86_64-linux-gnu";
const SDE: u64 = 1_700_000_000;

fn oracle_available() -> bool {
    if !is_root() {
        eprintln!("skipped: ldconfig -r needs root (it chroots)");
        return false;
    }
    if !Path::new(LDCONFIG).exists() || !Path::new(HOST_LIBS).join("libc.so.6").exists() {
        eprintln!("skipped: no host glibc ({LDCONFIG}, {HOST_LIBS}/libc.so.6)");
        return false;
    }
    true
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// Small host libraries reached through a `lib*.so.N` soname link in the same directory:
/// (soname link, real file name), sorted, at most `n`.
fn host_libraries(n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(HOST_LIBS)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let p = Path::new(HOST_LIBS).join(&name);
        let Ok(target) = std::fs::read_link(&p) else {
            continue;
        };
        let t = target.to_string_lossy().into_owned();
        if t.contains('/') || !name.starts_with("lib") || !name.contains(".so.") {
            continue;
        }
        let real = Path::new(HOST_LIBS).join(&t);
        let Ok(m) = std::fs::symlink_metadata(&real) else {
            continue;
        };
        if m.is_file() && m.len() < 150_000 && !name.starts_with("libc.") {
            out.push((name, t));
        }
        if out.len() == n {
            break;
        }
    }
    out
}

fn pkg(name: &str) -> Rpm {
    Rpm::new(name, "1.0")
        .release("1.el9")
        .arch("x86_64")
        .compression(CompressionWithLevel::Gzip(1))
}

/// The EL9-shaped packages (see the module documentation), written into `dir`.
fn packages(dir: &Path) -> Vec<PathBuf> {
    let so =
        |p: &str, from: &str| Entry::file(p, read(Path::new(HOST_LIBS).join(from))).mode(0o755);
    let mut out = Vec::new();
    let fs = pkg("filesystem")
        .entries(
            [
                "/etc",
                "/usr",
                "/usr/lib",
                "/usr/lib64",
                "/usr/sbin",
                "/usr/bin",
                "/opt",
                "/var",
                "/var/cache",
            ]
            .map(|d| Entry::dir(d).mode(0o755)),
        )
        .entries(
            [
                ("/lib", "usr/lib"),
                ("/lib64", "usr/lib64"),
                ("/sbin", "usr/sbin"),
            ]
            .map(|(l, t)| Entry::symlink(l, t)),
        );
    let glibc = pkg("glibc")
        .entry(
            Entry::file("/etc/ld.so.conf", "include ld.so.conf.d/*.conf\n")
                .mode(0o644)
                .config(),
        )
        .entry(Entry::dir("/etc/ld.so.conf.d").mode(0o755))
        .entry(Entry::file("/usr/sbin/ldconfig", read(LDCONFIG)).mode(0o755))
        .entry(so("/usr/lib64/libc.so.6", "libc.so.6"))
        .entry(so("/usr/lib64/libm.so.6", "libm.so.6"))
        .entry(so(
            "/usr/lib64/ld-linux-x86-64.so.2",
            "ld-linux-x86-64.so.2",
        ))
        // A linker script named like a library, as EL's glibc-devel ships libc.so.
        .entry(Entry::file(
            "/usr/lib64/libc.so",
            "/* GNU ld script */\nGROUP ( /lib64/libc.so.6 )\n",
        ));
    let mut libs = pkg("libs")
        // Read in name order, and only *.conf.
        .entry(Entry::file(
            "/etc/ld.so.conf.d/b-extra.conf",
            "/usr/lib64/extra\n# comment\n\n/opt/vendor/lib/=libc6\n/does/not/exist\n",
        ))
        .entry(Entry::file(
            "/etc/ld.so.conf.d/a-first.conf",
            "  /opt/first  # trailing comment\nhwcap 1 nosegneg\n",
        ))
        .entry(Entry::file(
            "/etc/ld.so.conf.d/ignored.txt",
            "/opt/ignored\n",
        ))
        .entry(Entry::dir("/usr/lib64/extra").mode(0o755))
        .entry(Entry::dir("/opt/first").mode(0o755))
        .entry(Entry::dir("/opt/ignored").mode(0o755))
        .entry(Entry::dir("/opt/vendor/lib").mode(0o755))
        .entry(Entry::dir("/usr/lib64/glibc-hwcaps/x86-64-v3").mode(0o755))
        .entry(Entry::dir("/usr/lib64/glibc-hwcaps/x86-64-v2").mode(0o755))
        .entry(Entry::dir("/usr/lib64/glibc-hwcaps/unused-but-named").mode(0o755))
        .entry(Entry::dir("/usr/lib64/tls").mode(0o755));
    let host = host_libraries(40);
    assert!(host.len() >= 10, "too few host libraries: {host:?}");
    for (i, (soname, file)) in host.iter().enumerate() {
        libs = libs.entry(so(&format!("/usr/lib64/{file}"), file));
        // Most ship their soname link; some do not (ldconfig makes it), one points at a
        // wrong file (ldconfig repoints it).
        match i % 7 {
            3 => {}
            5 if i > 0 => {
                libs = libs.entry(Entry::symlink(
                    format!("/usr/lib64/{soname}"),
                    host[i - 1].1.clone(),
                ));
            }
            _ => libs = libs.entry(Entry::symlink(format!("/usr/lib64/{soname}"), file.clone())),
        }
        // A development link for some: `.so -> soname` (cached under its own name).
        if i % 4 == 0 {
            let dev = soname.split(".so.").next().unwrap().to_string() + ".so";
            libs = libs.entry(Entry::symlink(format!("/usr/lib64/{dev}"), soname.clone()));
        }
    }
    let (s0, f0) = &host[0];
    let (s1, f1) = &host[1];
    libs = libs
        // The same soname twice in one directory: the newer name wins.
        .entry(so(&format!("/usr/lib64/extra/{f1}"), f1))
        .entry(so(&format!("/usr/lib64/extra/{f1}.99"), f1))
        .entry(so(&format!("/opt/first/{f0}"), f0))
        .entry(so(&format!("/opt/vendor/lib/{f0}"), f0))
        .entry(so(&format!("/usr/lib64/glibc-hwcaps/x86-64-v3/{f0}"), f0))
        .entry(so(&format!("/usr/lib64/glibc-hwcaps/x86-64-v2/{s1}"), f1))
        .entry(so(&format!("/usr/lib64/tls/{f1}"), f1))
        // Dangling soname-like links are removed, others kept.
        .entry(Entry::symlink(
            "/usr/lib64/libgone.so.3",
            "libgone.so.3.0.0",
        ))
        .entry(Entry::symlink("/usr/lib64/libgone.so", "libgone.so.3"))
        // A directory symlink naming a listed directory again: one directory.
        .entry(Entry::symlink("/opt/again", "first"));
    let _ = s0;
    for p in [fs, glibc, libs] {
        out.push(p.write_in(dir).unwrap());
    }
    out
}

/// Extract `rpms` as assembly does, without the rest of assembly.
fn extracted<'s>(rpms: &[PathBuf], store: &'s Store) -> extract::Image<'s> {
    let headers = rootfs::read_headers(rpms).unwrap();
    let mut image = extract::Image::new(store, SDE);
    for i in rootfs::order::install_order(&headers) {
        image
            .extract(&rpms[i], &headers[i], &extract::Filters::default())
            .unwrap();
    }
    image
}

/// Run the host's ldconfig on `root` (after adding EL9's trusted directories to the end
/// of the tree's ld.so.conf) and return its cache.
fn their_cache(root: &Path) -> Vec<u8> {
    let conf = root.join("etc/ld.so.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap_or_default();
    text.push_str("/lib64\n/usr/lib64\n");
    std::fs::remove_file(&conf).ok();
    std::fs::write(&conf, text).unwrap();
    let out = Command::new(LDCONFIG).arg("-r").arg(root).output().unwrap();
    assert!(
        out.status.success(),
        "ldconfig: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    read(root.join("etc/ld.so.cache"))
}

fn listing(cache: &[u8], dir: &Path, name: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, cache).unwrap();
    let out = Command::new(LDCONFIG)
        .arg("-p")
        .arg("-C")
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "ldconfig -p: {out:?}");
    String::from_utf8_lossy(&out.stdout).replace(&p.display().to_string(), "CACHE")
}

/// Byte equality, failing with the first differing offset and the entry it is in.
fn same_bytes(ours: &[u8], theirs: &[u8]) {
    if ours == theirs {
        return;
    }
    if let Ok(d) = std::env::var("DISKLESS_KEEP_CACHES") {
        std::fs::write(Path::new(&d).join("ours"), ours).unwrap();
        std::fs::write(Path::new(&d).join("theirs"), theirs).unwrap();
    }
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let entry = at.checked_sub(48).map(|o| o / 24);
    panic!(
        "caches differ from byte {at} (entry {entry:?}); sizes {} and {}",
        ours.len(),
        theirs.len()
    );
}

#[test]
fn cache_and_links_match_glibc_ldconfig() {
    if !oracle_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rpms = packages(dir.path());
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut image = extracted(&rpms, &store);
    let root = dir.path().join("root");
    materialise(&image.tree, &store, &root);
    let before = host_links(&root, "/");

    let out = ldconfig::run(&mut image).unwrap().unwrap();
    let theirs = their_cache(&root);
    let (l_ours, l_theirs) = (
        listing(&out.cache, dir.path(), "ours"),
        listing(&theirs, dir.path(), "theirs"),
    );
    assert_eq!(l_ours, l_theirs);
    same_bytes(&out.cache, &theirs);
    assert!(
        l_ours.contains("libc.so.6 (libc6,x86-64) => /lib64/libc.so.6"),
        "{l_ours}"
    );
    assert!(l_ours.contains("hwcap: \"x86-64-v3\""), "{l_ours}");
    assert!(!l_ours.contains("/opt/ignored"), "{l_ours}");

    // The links: what ldconfig made and removed on disk, diskless in the tree.
    let after = host_links(&root, "/");
    let ours = tree_links(&image.tree, "/");
    assert_eq!(ours, after);
    assert_ne!(before, after, "the fixture must make ldconfig change links");
    assert!(!out.linked.is_empty() && !out.removed.is_empty(), "{out:?}");
    assert_eq!(
        out.entries,
        l_ours.lines().filter(|l| l.contains(" => ")).count()
    );
}

#[test]
fn assembly_writes_the_cache_and_reports_ldconfig_scriptlets_handled() {
    let Some(_) = Path::new(LDCONFIG).exists().then_some(()) else {
        eprintln!("skipped: no {LDCONFIG}");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = packages(dir.path());
    let lib = pkg("zlib").post_install("/sbin/ldconfig\n");
    rpms.push(lib.write_in(dir.path()).unwrap());
    let store = Store::new(dir.path().join("store")).unwrap();
    let a = rootfs::assemble(&rpms, &rootfs::AssembleConfig::new(SDE), &store).unwrap();
    let e = a.tree.get(ldconfig::CACHE).unwrap();
    assert_eq!((e.mode, e.uid, e.gid, e.mtime), (0o644, 0, 0, SDE));
    let post = a
        .report
        .entries
        .iter()
        .find(|e| e.package.starts_with("zlib"))
        .unwrap();
    assert_eq!(
        post.verdict,
        rootfs::scriptlets::Verdict::Handled,
        "{post:?}"
    );
    let d = a
        .report
        .declared
        .iter()
        .find(|d| d.what == ldconfig::CACHE)
        .unwrap();
    assert!(d.detail.contains(" entries; "), "{d:?}");
    // Twice, same bytes.
    let store2 = Store::new(dir.path().join("store2")).unwrap();
    let b = rootfs::assemble(&rpms, &rootfs::AssembleConfig::new(SDE), &store2).unwrap();
    assert_eq!(a.tree.get(ldconfig::CACHE), b.tree.get(ldconfig::CACHE));
}

#[test]
fn no_ldconfig_no_cache() {
    let dir = tempfile::tempdir().unwrap();
    let p = pkg("nolibc")
        .entry(Entry::file("/usr/lib64/libx.so.1", b"not elf".to_vec()))
        .write_in(dir.path())
        .unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let a = rootfs::assemble(&[p], &rootfs::AssembleConfig::new(SDE), &store).unwrap();
    assert!(a.tree.get(ldconfig::CACHE).is_none());
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("no ldconfig in the image")),
        "{:?}",
        a.notes
    );
}

/// The host's whole library directory as /usr/lib64 of an EL-shaped tree: thousands of
/// real libraries, against ldconfig on a hardlinked copy. Slow (reads ~700 MB into the
/// store): `cargo test --test it ldconfig::big -- --ignored --nocapture`.
#[test]
#[ignore]
fn big_host_library_tree_matches_ldconfig() {
    if !oracle_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut image = extract::Image::new(&store, SDE);
    let mut add = |path: &str, kind| {
        image.tree.insert(
            path.to_string(),
            rootfs::tree::Entry {
                kind,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: SDE,
                owner_package: None,
                caps: None,
            },
        );
    };
    use rootfs::tree::EntryKind as K;
    for d in ["/etc", "/usr", "/usr/lib64", "/usr/sbin"] {
        add(d, K::Dir);
    }
    add(
        "/lib64",
        K::Symlink {
            target: "usr/lib64".into(),
        },
    );
    let (d, n) = store.put_bytes(&read(LDCONFIG)).unwrap();
    add(
        "/usr/sbin/ldconfig",
        K::File {
            digest: d,
            size: n,
            link_group: None,
        },
    );
    let t = Instant::now();
    let mut files = 0;
    for e in std::fs::read_dir(HOST_LIBS).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type().unwrap();
        let path = format!("/usr/lib64/{name}");
        if ft.is_symlink() {
            let target = std::fs::read_link(e.path()).unwrap();
            // Debian's absolute links into its multiarch directory become relative.
            let target = target
                .to_string_lossy()
                .replace("/lib/x86_64-linux-gnu/", "");
            add(&path, K::Symlink { target });
        } else if ft.is_file() {
            let (d, n) = store
                .put_reader(std::fs::File::open(e.path()).unwrap())
                .unwrap();
            add(
                &path,
                K::File {
                    digest: d,
                    size: n,
                    link_group: None,
                },
            );
            files += 1;
        }
    }
    eprintln!("tree of {files} files loaded in {:?}", t.elapsed());
    let root = dir.path().join("root");
    materialise(&image.tree, &store, &root);
    let t = Instant::now();
    let out = ldconfig::run(&mut image).unwrap().unwrap();
    let ours_time = t.elapsed();
    let t = Instant::now();
    let theirs = their_cache(&root);
    let their_time = t.elapsed();
    eprintln!(
        "diskless: {} entries, {} links made, {} removed in {ours_time:?}; ldconfig took {their_time:?}",
        out.entries,
        out.linked.len(),
        out.removed.len()
    );
    assert_eq!(
        listing(&out.cache, dir.path(), "ours"),
        listing(&theirs, dir.path(), "theirs")
    );
    assert_eq!(out.cache, theirs);
    assert_eq!(
        tree_links(&image.tree, "/usr/lib64"),
        host_links(&root, "/usr/lib64")
    );
}
