//! The rpm database against rpm itself.
//!
//! Real RPMs from the shared fixtures (EL6 to Fedora 37 builds, signed and unsigned, a
//! multilib pair, file capabilities, file signatures, languages, docs) are assembled into
//! a tree, and the oracle is Debian's rpm 4.18 (sqlite backend):
//! - it installs the same RPMs into a temporary root with SOURCE_DATE_EPOCH set (as root;
//!   `--justdb` would not record file states), and its `rpmdb.sqlite` must hold the same
//!   schema, the same header blobs (byte for byte) and the same index rows as ours;
//! - on our tree, materialised from the initramfs archive with GNU cpio, `rpm -qa`, `-Va`,
//!   `-q --whatprovides`, `-qf` and `--qf %{INSTALLTIME}` answer as on an installed system,
//!   and `dnf --installroot` lists the packages;
//! - two builds give the same database bytes.
//!
//! The host rpm's `%_dbpath` is Debian's (`~/.rpmdb`), so every call names the image's.

use crate::support::proc::is_root;
use diskless::rootfs::{
    self, AssembleConfig, Assembled, custom,
    extract::Filters,
    rpmdb::{RpmdbConfig, RpmdbMode, blob::RawHeader, blob::tag},
    scriptlets::Verdict,
    store::Store,
    tree::EntryKind,
};
use rpm::{BuildConfig, CompressionType, FileOptions, PackageBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const SDE: u64 = 1_700_000_000;
const DBPATH: &str = "/usr/lib/sysimage/rpm";

/// Real packages that install together: EL6-EL9, Fedora and openSUSE builds.
const REAL: &[&str] = &[
    "go-rpmutils-history/testdata/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
    "rpmlint-history/test/binary/freeradius-server-3.2.3-3.1.x86_64.rpm",
    "rpmlint-history/test/binary/nodejs010-runtime-1-7.el6_4.x86_64.rpm",
    "rpmlint-history/test/binary/nodejs010-nodejs-0.10.3-3.el6_4.x86_64.rpm",
    "rpmlint-history/test/binary/nodejs010-nodejs-oauth-sign-0.2.0-2.el6_4.noarch.rpm",
    "rpm/tests/data/RPMS/hello-2.0-1.x86_64.rpm",
    "rpm/tests/data/RPMS/hello-2.0-1.i686.rpm",
    "rpm/tests/data/RPMS/capstest-1.0-1.noarch.rpm",
    "rpmrepo_metadata/tests/assets/packages/complex-package-2.3.4-5.el8.x86_64.rpm",
    "rpmlint/test/binary/xrootd-devel-5.5.4-1.fc37.x86_64.rpm",
    "rpmlint/test/binary/ngircd-22-2.fc22.x86_64.rpm",
    "rpm-rs-history/test_assets/389-ds-base-devel-1.3.8.4-15.el7.x86_64.rpm",
    "rpmlint/test/binary/mc-4.8.21-2.1.x86_64.rpm",
    "rpm-rs-history/test_assets/ima_signed.rpm",
    "rpmlint/test/binary/texlive-codepage-doc-2018.151.svn21126-38.1.noarch.rpm",
    "cavaliergopher-rpm/testdata/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
    "cavaliergopher-rpm/testdata/epel-release-7-5.noarch.rpm",
    "rpmlint-history/test/binary/python3-greenlet-0.4.15-1.5.x86_64.rpm",
    "rpmlint-history/test/binary/tasque-0.1.12-12.7.x86_64.rpm",
    "createrepo_c/tests/testdata/packages/balicek-iso88591-1.1.1-1.x86_64.rpm",
];

fn real(fx: &Path) -> Vec<PathBuf> {
    REAL.iter().map(|p| fx.join(p)).collect()
}

/// Packages only (no customisations), the database on, for an x86_64 image.
fn config() -> AssembleConfig {
    AssembleConfig {
        custom: custom::Customisations {
            empty_machine_id: false,
            init_symlink: false,
            ..Default::default()
        },
        // nodejs010-runtime (EL6) has files of groups `lock` and `mail`, which EL6's setup
        // defines; there is no setup package here.
        groups: vec![("lock".into(), Some(54)), ("mail".into(), Some(12))],
        rpmdb: RpmdbConfig {
            mode: RpmdbMode::Auto,
            arch: Some("x86_64".into()),
        },
        ..AssembleConfig::new(SDE)
    }
}

struct Built {
    a: Assembled,
    store: Store,
    _dir: tempfile::TempDir,
}

fn assemble(rpms: &[PathBuf], cfg: &AssembleConfig) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let a = rootfs::assemble(rpms, cfg, &store).unwrap_or_else(|e| panic!("{e:?}"));
    Built {
        a,
        store,
        _dir: dir,
    }
}

impl Built {
    fn file(&self, path: &str) -> Vec<u8> {
        match &self
            .a
            .tree
            .get(path)
            .unwrap_or_else(|| panic!("{path}"))
            .kind
        {
            EntryKind::File { digest, .. } => self.store.read(digest).unwrap(),
            k => panic!("{path} is {k:?}"),
        }
    }

    /// The tree on disk, unpacked by GNU cpio from the newc archive the initramfs gets.
    fn materialise(&self) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let mut cpio = Vec::new();
        diskless::emit::cpio::write_tree(&self.a.tree, &self.store, SDE, &mut cpio).unwrap();
        let mut child = Command::new("cpio")
            .args(["-idmu", "--quiet", "--no-absolute-filenames"])
            .current_dir(root.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &cpio).unwrap();
        let st = child.wait().unwrap();
        assert!(st.success(), "cpio failed");
        root
    }
}

/// One database, as rpm's tools see it: per NEVRA its hnum and header, and the rows.
#[derive(Debug)]
struct Db {
    schema: Vec<String>,
    /// hnum order.
    nevras: Vec<String>,
    blobs: BTreeMap<String, Vec<u8>>,
    /// (table, key, NEVRA, idx)
    rows: BTreeSet<(String, Vec<u8>, String, i64)>,
    /// Same, with hnum instead of NEVRA, in rowid order per table.
    raw_rows: BTreeMap<String, Vec<(Vec<u8>, i64, i64)>>,
}

fn header(blob: &[u8]) -> RawHeader {
    let mut b = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
    b.extend_from_slice(blob);
    RawHeader::parse(&b, "db").unwrap().0
}

fn nevra(h: &RawHeader) -> String {
    let s = |t| String::from_utf8_lossy(h.string(t).unwrap_or_default()).into_owned();
    let epoch = h
        .u32s(tag::EPOCH)
        .first()
        .map(|e| format!("{e}:"))
        .unwrap_or_default();
    format!(
        "{}-{epoch}{}-{}.{}",
        s(tag::NAME),
        s(tag::VERSION),
        s(tag::RELEASE),
        s(tag::ARCH)
    )
}

fn read_db(path: &Path) -> Db {
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let schema = c
        .prepare("SELECT sql FROM sqlite_master ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .unwrap()
        .map(|r| r.unwrap().unwrap_or_default())
        .collect();
    let mut by_hnum = BTreeMap::new();
    let mut nevras = Vec::new();
    let mut blobs = BTreeMap::new();
    let mut st = c
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap();
    for r in st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
    {
        let (hnum, blob) = r.unwrap();
        let n = nevra(&header(&blob));
        by_hnum.insert(hnum, n.clone());
        nevras.push(n.clone());
        blobs.insert(n, blob);
    }
    let mut rows = BTreeSet::new();
    let mut raw_rows = BTreeMap::new();
    for (table, _, _) in rootfs::rpmdb::index::TABLES {
        let mut st = c
            .prepare(&format!(
                "SELECT CAST(key AS BLOB), hnum, idx FROM '{table}' ORDER BY rowid"
            ))
            .unwrap();
        let got: Vec<(Vec<u8>, i64, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (k, h, i) in &got {
            rows.insert((table.to_string(), k.clone(), by_hnum[h].clone(), *i));
        }
        raw_rows.insert(table.to_string(), got);
    }
    Db {
        schema,
        nevras,
        blobs,
        rows,
        raw_rows,
    }
}

/// Install `rpms` with rpm into a fresh root, as root, with SOURCE_DATE_EPOCH set.
fn rpm_install(rpms: &[PathBuf], args: &[&str]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let out = Command::new("rpm")
        .env("SOURCE_DATE_EPOCH", SDE.to_string())
        .arg("--root")
        .arg(root.path())
        .args([
            "--dbpath",
            DBPATH,
            "-i",
            "--nodeps",
            "--noscripts",
            "--notriggers",
            "--nosignature",
            "--nodigest",
            "--ignorearch",
            "--ignoreos",
            "--define",
            "_transaction_color 3",
        ])
        .args(args)
        .args(rpms)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

fn ours_db(b: &Built, path: &str) -> (Db, tempfile::NamedTempFile) {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), b.file(path)).unwrap();
    (read_db(f.path()), f)
}

/// Tag by tag, the differences between two header blobs.
fn header_diff(ours: &[u8], theirs: &[u8]) -> Vec<String> {
    let (a, b) = (header(ours), header(theirs));
    let tags = |h: &RawHeader| -> BTreeMap<u32, (u32, u32, Vec<u8>)> {
        h.entries
            .iter()
            .skip(1)
            .map(|e| (e.tag, (e.ty, e.count, h.entry_bytes(e).unwrap().to_vec())))
            .collect()
    };
    let (ta, tb) = (tags(&a), tags(&b));
    let mut d = Vec::new();
    for t in ta.keys().chain(tb.keys()).collect::<BTreeSet<_>>() {
        if ta.get(t) != tb.get(t) && *t != tag::INSTALLTIME {
            d.push(format!("tag {t}: ours {:?} rpm {:?}", ta.get(t), tb.get(t)));
        }
    }
    // Install times follow each install's own order (checked in `install_times`): with
    // ours set to rpm's, the blobs must be the same bytes.
    let time_at = |h: &RawHeader| {
        let e = h.find(tag::INSTALLTIME).unwrap();
        let at = 8 + h.entries.len() * 16 + e.offset as usize;
        at..at + 4
    };
    let mut patched = ours.to_vec();
    patched[time_at(&a)].copy_from_slice(&theirs[time_at(&b)]);
    if d.is_empty() && patched != theirs {
        d.push("same tags, different bytes".into());
    }
    d
}

/// rpmdbAdd puts a package's rows in after the previous package's: per table, rowid
/// order is hnum order, and within a package the tag's order.
fn row_order(db: &Db) {
    for (table, rows) in &db.raw_rows {
        assert!(
            rows.windows(2).all(|w| w[0].1 <= w[1].1),
            "{table}: rows not in hnum order"
        );
    }
}

/// rpm 4.18 under SOURCE_DATE_EPOCH: the transaction id is SOURCE_DATE_EPOCH, the n-th
/// package installed gets SOURCE_DATE_EPOCH + n.
fn install_times(db: &Db) {
    for (n, nevra) in db.nevras.iter().enumerate() {
        let h = header(&db.blobs[nevra]);
        assert_eq!(h.u32s(tag::INSTALLTIME), [SDE as u32 + n as u32], "{nevra}");
        assert_eq!(h.u32s(tag::INSTALLTID), [SDE as u32], "{nevra}");
    }
}

fn compare(ours: &Db, theirs: &Db) {
    // rpm's closing `PRAGMA optimize` adds statistics, last.
    let theirs_schema: Vec<String> = theirs
        .schema
        .iter()
        .filter(|s| !s.contains("sqlite_stat1"))
        .cloned()
        .collect();
    assert_eq!(ours.schema, theirs_schema, "schema");
    let (a, b): (BTreeSet<_>, BTreeSet<_>) =
        (ours.blobs.keys().collect(), theirs.blobs.keys().collect());
    assert_eq!(a, b, "installed packages");
    let mut diffs = Vec::new();
    for (n, blob) in &ours.blobs {
        for d in header_diff(blob, &theirs.blobs[n]) {
            diffs.push(format!("{n}: {d}"));
        }
    }
    for r in ours.rows.symmetric_difference(&theirs.rows) {
        let side = if ours.rows.contains(r) {
            "only ours"
        } else {
            "only rpm"
        };
        diffs.push(format!(
            "{side}: {} {:?} {} {}",
            r.0,
            String::from_utf8_lossy(&r.1),
            r.2,
            r.3
        ));
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn database_matches_rpms_own_install() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    if !is_root() {
        eprintln!("skipped: the rpm oracle installs as root");
        return;
    }
    let rpms = real(&fx);
    let b = assemble(&rpms, &config());
    eprintln!("{:?}", b.a.report.entries.last());
    let (ours, _f) = ours_db(&b, &format!("{DBPATH}/rpmdb.sqlite"));
    let root = rpm_install(&rpms, &[]);
    let theirs = read_db(&root.path().join("usr/lib/sysimage/rpm/rpmdb.sqlite"));
    compare(&ours, &theirs);
    install_times(&ours);
    install_times(&theirs);
    row_order(&ours);
    row_order(&theirs);
    // What the comparison covered: signature tags merged from the signature header (an
    // RSA header signature, file signatures), a multilib pair (the i686 ELF file loses to
    // the x86_64 one: WRONGCOLOR), non-UTF-8 file names as keys, and ours in install order.
    let has = |nevra: &str, t: u32| header(&ours.blobs[nevra]).find(t).is_some();
    assert!(has(
        "centos-release-7-2.1511.el7.centos.2.10.x86_64",
        tag::RSAHEADER
    ));
    assert!(has("testpkg-1.0-1.x86_64", tag::FILESIGNATURES));
    assert!(has("hello-2.0-1.x86_64", tag::INSTPREFIXES), "relocatable");
    let states = |nevra: &str| {
        let h = header(&ours.blobs[nevra]);
        h.find(tag::FILESTATES)
            .map(|e| h.entry_bytes(e).unwrap().to_vec())
            .unwrap_or_default()
    };
    assert!(
        states("hello-2.0-1.i686").contains(&4),
        "{:?}",
        states("hello-2.0-1.i686")
    );
    assert!(!states("hello-2.0-1.x86_64").contains(&4));
    assert!(
        ours.rows
            .iter()
            .any(|r| r.0 == "Requirename" && std::str::from_utf8(&r.1).is_err())
    );
    assert_eq!(ours.nevras, b.a.packages_installed);
    let entry = b.a.report.entries.last().unwrap();
    assert_eq!(
        (entry.scriptlet.as_str(), entry.verdict),
        ("rpm database", Verdict::Handled)
    );
}

/// A package with every kind of dependency and trigger rpm indexes, docs, languages, an
/// explicitly listed directory holding only docs, and a ghost.
fn fx_deps(dir: &Path) -> PathBuf {
    use rpm::Dependency as D;
    let f = |p: &str| FileOptions::new(p).permissions(0o644);
    let mut b = PackageBuilder::new("fx-deps", "1.0", "MIT", "x86_64", "rpm's indexes");
    b.release("1")
        .group("System Environment/Base")
        .using_config(
            BuildConfig::v4()
                .source_date(SDE as u32)
                .compression(CompressionType::Gzip),
        )
        .requires(D::any("(a if b else c)"))
        .requires(D::any("(x or (y and z))"))
        .requires(D::any("((p1 or p2) with p3)"))
        .requires(D::script_pre("prereq-only"))
        .requires(D::script_preun("erase-prereq"))
        .requires(D::rpmlib("rpmlib(RichDependencies)", "4.12.0-1"))
        .requires(D::greater_eq("plain", "1.0"))
        .recommends(D::any("(r1 unless r2)"))
        .suggests(D::any("s1"))
        .supplements(D::any("(sup1 and sup2)"))
        .enhances(D::any("(e1 or rpmlib(Foo))"))
        .conflicts(D::any("(c1 if c2)"))
        .obsoletes(D::less("old", "1.0"))
        .provides(D::eq("virt", "2"))
        .trigger_in("trig-a", None, "true")
        .trigger_un("trig-a", None, "true")
        .trigger_in("trig-b", None, "true")
        .file_trigger_in("/usr/lib/fx", None, "true")
        .file_trigger_in("/usr/lib/fy", None, "true")
        .trans_file_trigger_in("/usr/share/fx", None, "true");
    b.with_dir_entry(FileOptions::dir("/usr/share/fxdocs").permissions(0o755))
        .unwrap()
        .with_file_contents("doc\n", f("/usr/share/fxdocs/README").doc())
        .unwrap()
        .with_file_contents("plain\n", f("/usr/share/fx/plain"))
        .unwrap()
        .with_file_contents(
            "de\n",
            f("/usr/share/locale/de/LC_MESSAGES/fx.mo").language("de"),
        )
        .unwrap()
        .with_file_contents(
            "fr\n",
            f("/usr/share/locale/fr/LC_MESSAGES/fx.mo").language("fr"),
        )
        .unwrap()
        .with_file_contents("license\n", f("/usr/share/licenses/fx/COPYING").license())
        .unwrap()
        .with_ghost(FileOptions::ghost("/var/log/fx.log"))
        .unwrap();
    let pkg = b.build().unwrap();
    let p = dir.join("fx-deps.rpm");
    pkg.write_file(&p).unwrap();
    p
}

/// With install policies (docs, languages, an excluded path), the states rpm records.
#[test]
fn policies_and_indexes_match_rpms_own_install() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    if !is_root() {
        eprintln!("skipped: the rpm oracle installs as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = real(&fx);
    rpms.push(fx_deps(dir.path()));
    let mut cfg = config();
    cfg.filters = Filters {
        nodocs: true,
        langs: Some(vec!["de_DE".into(), "pt".into()]),
        exclude_paths: vec!["/usr/share/mc/skins".into()],
    };
    let b = assemble(&rpms, &cfg);
    let (ours, _f) = ours_db(&b, &format!("{DBPATH}/rpmdb.sqlite"));
    let root = rpm_install(
        &rpms,
        &[
            "--excludedocs",
            "--define",
            "_install_langs de_DE:pt",
            "--excludepath",
            "/usr/share/mc/skins",
        ],
    );
    let theirs = read_db(&root.path().join("usr/lib/sysimage/rpm/rpmdb.sqlite"));
    compare(&ours, &theirs);
    // Covered: files and a listed directory left out (NOTINSTALLED), rich dependencies
    // split into names, install-only prerequisites left out, triggers deduplicated.
    let h = header(&ours.blobs["fx-deps-1.0-1.x86_64"]);
    let e = h.find(tag::FILESTATES).unwrap();
    assert!(
        h.entry_bytes(e)
            .unwrap()
            .iter()
            .filter(|&&s| s == 2)
            .count()
            >= 3
    );
    let keys = |table: &str| -> BTreeSet<String> {
        ours.rows
            .iter()
            .filter(|r| r.0 == table && r.2 == "fx-deps-1.0-1.x86_64")
            .map(|r| String::from_utf8_lossy(&r.1).into_owned())
            .collect()
    };
    for k in [
        "(a if b else c)",
        "a",
        "!b",
        "b",
        "c",
        "p1",
        "p3",
        "erase-prereq",
        "plain",
    ] {
        assert!(
            keys("Requirename").contains(k),
            "{k}: {:?}",
            keys("Requirename")
        );
    }
    assert!(!keys("Requirename").contains("prereq-only"));
    assert_eq!(
        keys("Triggername"),
        ["trig-a", "trig-b"].map(String::from).into()
    );
    assert_eq!(
        keys("Group"),
        ["System Environment/Base".to_string()].into()
    );
    let not_installed: BTreeMap<&str, usize> = ours
        .blobs
        .iter()
        .map(|(n, blob)| {
            let h = header(blob);
            let count = h
                .find(tag::FILESTATES)
                .map(|e| {
                    h.entry_bytes(e)
                        .unwrap()
                        .iter()
                        .filter(|&&s| s == 2)
                        .count()
                })
                .unwrap_or(0);
            (n.as_str(), count)
        })
        .filter(|(_, c)| *c > 0)
        .collect();
    eprintln!("files not installed: {not_installed:?}");
    assert!(
        not_installed["mc-4.8.21-2.1.x86_64"] > 20,
        "the skins and docs"
    );
    assert!(not_installed.len() > 5);
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rpm_on(root: &Path, dbpath: &str) -> Command {
    let mut c = Command::new("rpm");
    c.arg("--root").arg(root).args(["--dbpath", dbpath]);
    c
}

/// On our tree, unpacked from the initramfs archive, rpm and dnf see an installed system.
#[test]
fn rpm_and_dnf_read_the_image() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let b = assemble(&real(&fx), &config());
    let root = b.materialise();
    let r = root.path();

    let mut want = b.a.packages_installed.clone();
    want.sort();
    for dbpath in [DBPATH, "/var/lib/rpm"] {
        let qa = run(rpm_on(r, dbpath).args(["-qa", "--qf", "%{NEVRA}\n"]));
        let mut got: Vec<String> = qa.lines().map(String::from).collect();
        got.sort();
        assert_eq!(got, want, "rpm -qa with --dbpath {dbpath}");
    }
    // Everything verifies but what the tree on disk cannot carry here: file capabilities
    // (newc has no xattrs), owners when not root (cpio cannot chown); dependencies are
    // not all in this set, and %verifyscripts would run the image's shell.
    let mut va = rpm_on(r, DBPATH);
    va.args(["-Va", "--nomtime", "--nodeps", "--noscripts", "--nocaps"]);
    if !is_root() {
        va.args(["--nouser", "--nogroup"]);
    }
    assert_eq!(run(&mut va), "", "rpm -Va");
    let q = |args: &[&str]| run(rpm_on(r, DBPATH).args(args)).trim().to_string();
    assert_eq!(q(&["-qf", "/usr/bin/mc"]), "mc-4.8.21-2.1.x86_64");
    assert_eq!(
        q(&["-q", "--whatprovides", "config(epel-release)"]),
        "epel-release-7-5.noarch"
    );
    assert_eq!(
        q(&["-q", "--whatprovides", "/usr/bin/mc"]),
        "mc-4.8.21-2.1.x86_64"
    );
    let first = &b.a.packages_installed[0];
    assert_eq!(q(&["-q", "--qf", "%{INSTALLTIME}", first]), SDE.to_string());
    assert_eq!(q(&["-q", "--qf", "%{INSTALLTID}", "mc"]), SDE.to_string());
    // `rpm -qa --last` lists the install order, newest first.
    let last = q(&["-qa", "--last"]);
    let newest = last
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let last_installed = b.a.packages_installed.last().unwrap();
    assert_eq!(newest, q(&["-q", "--qf", "%{NVRA}", last_installed]));

    // dnf, offline, with the image's database path (the host's rpm defaults to Debian's).
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".rpmmacros"),
        format!("%_dbpath {DBPATH}\n"),
    )
    .unwrap();
    let h = home.path().display().to_string();
    let out = run(Command::new("dnf")
        .env("HOME", home.path())
        .arg("--installroot")
        .arg(r)
        .args([
            "--setopt=reposdir=/dev/null",
            &format!("--setopt=cachedir={h}/cache"),
            &format!("--setopt=logdir={h}"),
            &format!("--setopt=persistdir={h}/persist"),
            "--releasever=9",
            "-C",
            "-q",
            "list",
            "--installed",
        ]));
    let mut listed: Vec<String> = out
        .lines()
        .skip_while(|l| !l.starts_with("Installed Packages"))
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (na, evr) = (w.next()?, w.next()?);
            let (name, arch) = na.rsplit_once('.')?;
            Some(format!("{name}-{evr}.{arch}"))
        })
        .collect();
    listed.sort();
    assert_eq!(listed, want, "dnf list --installed");
}

/// Two builds, the second from the RPMs in another order with another store, give the
/// same database bytes; SQLite's own check passes, and the file is what rpm opens: the
/// rollback-journal format (rpm switches to WAL on its first write), 4096-byte pages.
#[test]
fn database_bytes_are_reproducible() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let rpms = real(&fx);
    let one = assemble(&rpms, &config());
    let mut reversed = rpms.clone();
    reversed.reverse();
    let two = assemble(&reversed, &config());
    let path = format!("{DBPATH}/rpmdb.sqlite");
    let (a, b) = (one.file(&path), two.file(&path));
    assert!(a == b, "two builds differ");
    assert_eq!(&a[..16], b"SQLite format 3\0");
    assert_eq!(u16::from_be_bytes([a[16], a[17]]), 4096, "page size");
    assert_eq!((a[18], a[19]), (1, 1), "not WAL");
    assert_eq!(&a[60..64], &[0, 0, 0, 0], "user_version");
    assert_eq!(&a[68..72], &[0, 0, 0, 0], "application_id");
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &a).unwrap();
    let check = run(Command::new("sqlite3")
        .arg(f.path())
        .arg("PRAGMA integrity_check"));
    assert_eq!(check.trim(), "ok");
    // The database is part of the tree, root's, 0644, with the compat link.
    let e = one.a.tree.get(&path).unwrap();
    assert_eq!((e.mode, e.uid, e.gid), (0o644, 0, 0));
    assert_eq!(
        one.a.tree.get("/var/lib/rpm").unwrap().kind,
        EntryKind::Symlink {
            target: "../../usr/lib/sysimage/rpm".into()
        }
    );
}

// ---------------------------------------------------------------------------------------
// The image's own rpm decides place and format

/// A stand-in for the image's rpm package: its macros, platform macros, and (as EL9's
/// does) the database directory with the database files as %ghost.
fn fx_rpm(dir: &Path, name: &str, macros: &str, etc: Option<&str>) -> PathBuf {
    let f = |p: &str| FileOptions::new(p).permissions(0o644);
    let mut b = PackageBuilder::new("rpm", "4.16.1.3", "GPLv2+", "x86_64", "rpm");
    b.release("10.el9")
        .using_config(
            BuildConfig::v4()
                .source_date(SDE as u32)
                .compression(CompressionType::Gzip),
        )
        .post_trans_script(
            "if [ -f /var/lib/rpm/Packages ]; then\n    touch /var/lib/rpm/.rebuilddb\nfi\n",
        );
    b.with_file_contents(macros.to_string(), f("/usr/lib/rpm/macros"))
        .unwrap()
        .with_file_contents(
            "%_transaction_color\t3\n",
            f("/usr/lib/rpm/platform/x86_64-linux/macros"),
        )
        .unwrap()
        .with_dir_entry(FileOptions::dir("/var/lib/rpm").permissions(0o755))
        .unwrap()
        .with_ghost(FileOptions::ghost("/var/lib/rpm/rpmdb.sqlite").permissions(0o644))
        .unwrap();
    if let Some(text) = etc {
        b.with_file_contents(text.to_string(), f("/etc/rpm/macros.dbpath"))
            .unwrap();
    }
    let pkg = b.build().unwrap();
    let p = dir.join(format!("{name}.rpm"));
    pkg.write_file(&p).unwrap();
    p
}

fn fx_hello(dir: &Path) -> PathBuf {
    let mut b = PackageBuilder::new("fx-hello", "1.0", "MIT", "noarch", "hello");
    b.release("1").using_config(
        BuildConfig::v4()
            .source_date(SDE as u32)
            .compression(CompressionType::Gzip),
    );
    b.with_file_contents(
        "#!/bin/sh\necho hello\n",
        FileOptions::new("/usr/bin/hello").permissions(0o755),
    )
    .unwrap();
    let pkg = b.build().unwrap();
    let p = dir.join("fx-hello.rpm");
    pkg.write_file(&p).unwrap();
    p
}

const EL9_MACROS: &str = "%_usr\t\t\t/usr\n%_var\t\t\t/var\n%_dbpath\t\t%{_var}/lib/rpm\n\
                          %_db_backend\t      sqlite\n";

#[test]
fn el9_layout_from_the_images_macros() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = vec![
        fx_rpm(dir.path(), "rpm", EL9_MACROS, None),
        fx_hello(dir.path()),
    ];
    let b = assemble(&rpms, &config());
    let t = &b.a.tree;
    // EL9: /var/lib/rpm is the rpm package's directory and the database is in it.
    assert_eq!(t.get("/var/lib/rpm").unwrap().kind, EntryKind::Dir);
    assert!(t.get("/var/lib/rpm/rpmdb.sqlite").is_some());
    assert!(t.get("/usr/lib/sysimage").is_none());
    let e = b.a.report.entries.last().unwrap();
    assert_eq!(e.package, "rpm-4.16.1.3-10.el9.x86_64");
    assert_eq!(e.verdict, Verdict::Handled);
    assert!(
        e.reason.contains("/var/lib/rpm/rpmdb.sqlite"),
        "{}",
        e.reason
    );
    assert!(
        e.reason.contains("from /usr/lib/rpm/macros"),
        "{}",
        e.reason
    );
    // rpm's %posttrans marker is bookkeeping for a Berkeley DB database: harmless.
    let post =
        b.a.report
            .entries
            .iter()
            .find(|e| e.scriptlet == "%posttrans")
            .unwrap();
    assert_eq!(post.verdict, Verdict::Harmless);
    if !is_root() {
        return;
    }
    // rpm reads it there and verifies the ghost's owner and mode.
    let root = b.materialise();
    let qa = run(rpm_on(root.path(), "/var/lib/rpm").args(["-qa", "--qf", "%{NEVRA}\n"]));
    assert_eq!(qa.lines().count(), 2);
    let va = run(rpm_on(root.path(), "/var/lib/rpm").args([
        "-Va",
        "--nomtime",
        "--nodeps",
        "--noscripts",
    ]));
    assert_eq!(va, "");
}

#[test]
fn etc_macros_move_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let moved = "%_dbpath %{_usr}/lib/sysimage/rpm\n";
    let rpms = vec![
        fx_rpm(dir.path(), "rpm", EL9_MACROS, Some(moved)),
        fx_hello(dir.path()),
    ];
    let b = assemble(&rpms, &config());
    assert!(b.a.tree.get("/usr/lib/sysimage/rpm/rpmdb.sqlite").is_some());
    // /var/lib/rpm is the package's directory: left as it is.
    assert_eq!(b.a.tree.get("/var/lib/rpm").unwrap().kind, EntryKind::Dir);
    assert!(b.a.tree.get("/var/lib/rpm/rpmdb.sqlite").is_none());
    let e = b.a.report.entries.last().unwrap();
    assert!(
        e.reason.contains("from /etc/rpm/macros.dbpath"),
        "{}",
        e.reason
    );
}

/// EL8's rpm keeps Berkeley DB, EL7's predates %_db_backend: nothing is written and the
/// report says why; `[image] rpmdb = false` turns the step off without a line.
#[test]
fn formats_diskless_does_not_write_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let hello = fx_hello(dir.path());
    let el8 = "%_var /var\n%_dbpath %{_var}/lib/rpm\n%_db_backend bdb\n";
    let el7 = "%_var /var\n%_dbpath %{_var}/lib/rpm\n";
    for (macros, says) in [(el8, "`bdb` format"), (el7, "sets no %_db_backend")] {
        let rpm = fx_rpm(dir.path(), "rpm-old", macros, None);
        let b = assemble(&[rpm.clone(), hello.clone()], &config());
        let e = b.a.report.entries.last().unwrap();
        assert_eq!(
            (e.scriptlet.as_str(), e.verdict),
            ("rpm database", Verdict::NotHandled)
        );
        assert!(e.reason.contains(says), "{}", e.reason);
        assert!(e.reason.contains("`[image] rpmdb = false`"), "{}", e.reason);
        assert_eq!(
            b.a.tree.descendants("/var/lib/rpm").count(),
            0,
            "nothing written"
        );
        let mut off = config();
        off.rpmdb.mode = RpmdbMode::Off;
        let b = assemble(&[rpm, hello.clone()], &off);
        assert!(
            !b.a.report
                .entries
                .iter()
                .any(|e| e.scriptlet == "rpm database")
        );
    }
    // Off also for an image that would get one.
    let mut off = config();
    off.rpmdb.mode = RpmdbMode::Off;
    let b = assemble(&[hello], &off);
    assert!(b.a.tree.get("/usr/lib/sysimage").is_none());
    assert!(b.a.tree.get("/var/lib/rpm").is_none());
}

/// rpm installs `%license` files whatever their language; diskless' language filter
/// leaves them out, so their state says so and `rpm -V` does not report them missing.
#[test]
fn files_diskless_leaves_out_are_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = PackageBuilder::new("fx-lic", "1.0", "MIT", "noarch", "licenses");
    b.release("1").using_config(
        BuildConfig::v4()
            .source_date(SDE as u32)
            .compression(CompressionType::Gzip),
    );
    let f = |p: &str| FileOptions::new(p).permissions(0o644);
    b.with_file_contents("en\n", f("/usr/share/licenses/fx/COPYING").license())
        .unwrap()
        .with_file_contents(
            "fr\n",
            f("/usr/share/licenses/fx/COPYING.fr")
                .license()
                .language("fr"),
        )
        .unwrap();
    let p = dir.path().join("fx-lic.rpm");
    b.build().unwrap().write_file(&p).unwrap();
    let mut cfg = config();
    cfg.filters.langs = Some(vec!["en".into()]);
    let built = assemble(&[p], &cfg);
    assert!(
        built
            .a
            .tree
            .get("/usr/share/licenses/fx/COPYING.fr")
            .is_none()
    );
    let (db, _f) = ours_db(&built, &format!("{DBPATH}/rpmdb.sqlite"));
    let h = header(&db.blobs["fx-lic-1.0-1.noarch"]);
    let e = h.find(tag::FILESTATES).unwrap();
    assert_eq!(h.entry_bytes(e).unwrap(), [0, 2]);
}

/// The database step's cost: `DISKLESS_RPMDB_BENCH=DIR` assembles the RPMs in DIR three
/// times; the step logs its own time (headers read, file states, blobs, indexes, SQLite).
#[test]
#[ignore = "measurement (DISKLESS_RPMDB_BENCH=DIR)"]
fn measure_database_cost() {
    let Some(dir) = std::env::var_os("DISKLESS_RPMDB_BENCH") else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter("diskless::rootfs::rpmdb=debug")
        .with_writer(std::io::stderr)
        .try_init();
    let mut rpms: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    rpms.sort();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let b = assemble(&rpms, &config());
        eprintln!(
            "{} packages, {} paths: assembled in {:.3} s; {}",
            rpms.len(),
            b.a.tree.entries.len(),
            t.elapsed().as_secs_f64(),
            b.a.report.entries.last().unwrap().reason
        );
    }
}
