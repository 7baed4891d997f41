//! Repository metadata: real repodata (createrepo_c over RPMs built here, and the shared
//! fixtures), served from disk and over HTTP, good and deliberately broken.

use crate::support::http::Server;
use crate::support::regex_escape;
use crate::support::repo::{cs9, file_url, make_repo, options};
use diskless::net::Remote;
use diskless::repo::{self, LoadOptions, RepoError, Repomd};
use std::path::{Path, PathBuf};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn createrepo_c_repos_load_in_every_compression() {
    for (compress, ext) in [
        ("gz", ".gz"),
        ("xz", ".xz"),
        ("zstd", ".zst"),
        ("bz2", ".bz2"),
    ] {
        let t = temp();
        let dir = t.path().join("repo");
        make_repo(&dir, compress);
        let data = repo::load(
            &Remote::new("local", file_url(&dir)),
            &options(&t.path().join("cache")),
        )
        .unwrap();
        assert!(
            data.repomd
                .record("primary")
                .unwrap()
                .href
                .ends_with(&format!("primary.xml{ext}")),
            "{compress}"
        );
        let mut nevras: Vec<String> = data.packages.iter().map(|p| p.nevra()).collect();
        nevras.sort();
        assert_eq!(
            nevras,
            ["bar-1.0-1.noarch", "foo-2:1.2.3-4.el9.x86_64"],
            "{compress}"
        );
        let foo_pkg = data.packages.iter().find(|p| p.name == "foo").unwrap();
        assert_eq!(foo_pkg.repo, "local");
        assert_eq!(foo_pkg.location, "Packages/foo-1.2.3-4.el9.x86_64.rpm");
        assert!(
            foo_pkg
                .provides
                .iter()
                .any(|d| d.name == "libfoo.so.1()(64bit)")
        );
        // createrepo_c writes `epoch="0"` on versioned entries: kept as written.
        assert!(
            foo_pkg
                .requires
                .iter()
                .any(|d| d.to_string() == "bar >= 0:1.0"),
            "{:?}",
            foo_pkg.requires
        );
        // primary lists only the bin file; filelists has all of them.
        assert_eq!(foo_pkg.files, ["/usr/bin/foo"]);
        let lists = data.filelists().unwrap();
        let fl = lists.packages.iter().find(|p| p.name == "foo").unwrap();
        assert!(
            fl.files.contains(&"/usr/share/foo/data.txt".to_string()),
            "{:?}",
            fl.files
        );
        // The pool answers file and capability lookups across both.
        let pool = repo::Pool::new(vec![data], &Default::default());
        let owners = pool.file_owners("/usr/share/foo/data.txt").unwrap();
        assert_eq!(
            owners
                .iter()
                .map(|&i| pool.package(i).name.as_str())
                .collect::<Vec<_>>(),
            ["foo"]
        );
        let sh = pool.whatprovides(&repo::capability::parse_capability("/bin/sh"));
        assert_eq!(
            sh.iter()
                .map(|&i| pool.package(i).name.as_str())
                .collect::<Vec<_>>(),
            ["bar"]
        );
        assert_eq!(
            pool.whatprovides(&repo::capability::parse_capability("bar >= 1.0"))
                .len(),
            1
        );
        assert!(
            pool.whatprovides(&repo::capability::parse_capability("bar > 1.0"))
                .is_empty()
        );
    }
}

#[test]
fn http_repo_loads_is_cached_by_checksum_and_works_offline() {
    let t = temp();
    let dir = t.path().join("repo");
    make_repo(&dir, "zstd");
    let server = Server::serve_dir(&dir);
    let cache = t.path().join("cache");
    let src = Remote::new("web", server.base());
    let first = repo::load(&src, &options(&cache)).unwrap();
    assert_eq!(first.packages.len(), 2);
    assert_eq!(first.baseurl, server.base());
    let bytes = std::fs::read(dir.join("repodata/repomd.xml")).unwrap();
    assert_eq!(first.repomd_sha256, repo::checksum::sha256_hex(&bytes));
    let primary = first.repomd.record("primary").unwrap();
    let cached = repo::cache::metadata_path(&cache, &primary.checksum, &primary.href);
    assert!(cached.is_file(), "{} cached", cached.display());
    let url = first.package_url(&first.packages[0]).unwrap();
    assert!(url.as_str().starts_with(&server.base()), "{url}");
    // Second load: only repomd.xml goes over the wire.
    let before = server.requests();
    repo::load(&src, &options(&cache)).unwrap();
    assert_eq!(server.requests() - before, 1);
    // Offline: nothing over the wire at all, same answer.
    let before = server.requests();
    let off = repo::load(
        &src,
        &LoadOptions {
            cache_dir: cache.clone(),
            offline: true,
        },
    )
    .unwrap();
    assert_eq!(server.requests(), before);
    assert_eq!(off.packages, first.packages);
    // Offline with an empty cache names the URL it would need.
    let err = repo::load(
        &src,
        &LoadOptions {
            cache_dir: t.path().join("empty"),
            offline: true,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, RepoError::Offline { ref url } if url.ends_with("repodata/repomd.xml")),
        "{err}"
    );
    // Filelists come over HTTP too, lazily.
    assert_eq!(first.filelists().unwrap().packages.len(), 2);
}

#[test]
fn mirrors_are_tried_in_order_when_files_are_missing() {
    let t = temp();
    let dir = t.path().join("repo");
    make_repo(&dir, "gz");
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let server = Server::serve_dir(&empty);
    let mut src = Remote::new("m", server.base());
    src.baseurls.push(file_url(&dir));
    let data = repo::load(&src, &options(&t.path().join("cache"))).unwrap();
    assert_eq!(data.baseurl, file_url(&dir));
}

fn error_text(err: &dyn std::error::Error) -> String {
    crate::support::error_chain(err, "\nCaused by: ")
}

fn snapshot(name: &str, text: &str, tmp: &Path) {
    let tmp = tmp.display().to_string();
    insta::with_settings!({filters => vec![
        (regex_escape(&tmp).as_str(), "[TMP]"),
        (r"127\.0\.0\.1:\d+", "[HOST]"),
        (r"[0-9a-f]{64}", "[SHA256]"),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn tampered_metadata_is_a_checksum_error_naming_file_expected_and_actual() {
    let t = temp();
    let dir = t.path().join("repo");
    make_repo(&dir, "gz");
    let md = Repomd::parse(&std::fs::read(dir.join("repodata/repomd.xml")).unwrap()).unwrap();
    let primary = md.record("primary").unwrap();
    let path = dir.join(&primary.href);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 9] ^= 0xff; // inside the gzip trailer's CRC: still the same size
    std::fs::write(&path, &bytes).unwrap();
    let err = repo::load(
        &Remote::new("t", file_url(&dir)),
        &options(&t.path().join("c")),
    )
    .unwrap_err();
    match &err {
        RepoError::ChecksumMismatch {
            url,
            expected,
            actual,
        } => {
            assert!(url.ends_with(&primary.href));
            assert_eq!(expected, &primary.checksum);
            assert_eq!(actual.value, repo::checksum::sha256_hex(&bytes));
        }
        other => panic!("wrong error: {other}"),
    }
    snapshot("checksum_mismatch", &error_text(&err), t.path());
    // Over HTTP the same, and the bad file never lands in the cache.
    let server = Server::serve_dir(&dir);
    let cache = t.path().join("c2");
    let err = repo::load(&Remote::new("t", server.base()), &options(&cache)).unwrap_err();
    assert!(matches!(err, RepoError::ChecksumMismatch { .. }), "{err}");
    assert!(!repo::cache::metadata_path(&cache, &primary.checksum, &primary.href).exists());
}

#[test]
fn missing_metadata_files_name_the_url() {
    let t = temp();
    let dir = t.path().join("repo");
    make_repo(&dir, "xz");
    let md = Repomd::parse(&std::fs::read(dir.join("repodata/repomd.xml")).unwrap()).unwrap();
    std::fs::remove_file(dir.join(&md.record("primary").unwrap().href)).unwrap();
    let err = repo::load(
        &Remote::new("t", file_url(&dir)),
        &options(&t.path().join("c")),
    )
    .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }), "{err}");
    snapshot("missing_primary", &error_text(&err), t.path());
    let server = Server::serve_dir(&dir);
    let err = repo::load(
        &Remote::new("t", server.base()),
        &options(&t.path().join("c")),
    )
    .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }), "{err}");
    // No repodata at all.
    let err = repo::load(
        &Remote::new("t", file_url(t.path())),
        &options(&t.path().join("c")),
    )
    .unwrap_err();
    snapshot("missing_repomd", &error_text(&err), t.path());
}

/// One row of derived/repodata-check.tsv.
struct CheckRow {
    repomd: String,
    kind: String,
    location: String,
    present: bool,
    checksum_ok: Option<bool>,
    open_checksum_ok: Option<bool>,
    size_ok: Option<bool>,
    packages_attr: Option<u64>,
    package_elems: Option<u64>,
}

fn tsv_bool(s: &str) -> Option<bool> {
    match s {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

fn check_rows(fx: &Path) -> Vec<CheckRow> {
    let text = std::fs::read_to_string(fx.join("derived/repodata-check.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(header[..4], ["repomd", "type", "location", "present"]);
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| c.get(i).copied().unwrap_or("");
            CheckRow {
                repomd: get(0).into(),
                kind: get(1).into(),
                location: get(2).into(),
                present: get(3) == "True",
                checksum_ok: tsv_bool(get(5)),
                open_checksum_ok: tsv_bool(get(6)),
                size_ok: tsv_bool(get(7)),
                packages_attr: get(8).parse().ok(),
                package_elems: get(9).parse().ok(),
            }
        })
        .collect()
}

impl CheckRow {
    fn expect_ok(&self) -> bool {
        self.present
            && self.checksum_ok != Some(false)
            && self.open_checksum_ok != Some(false)
            && self.size_ok != Some(false)
            && match (self.packages_attr, self.package_elems) {
                (Some(a), Some(e)) => a == e,
                _ => true,
            }
    }
}

fn find_repomds(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && !p.is_symlink() {
            find_repomds(&p, out);
        } else if p.file_name().is_some_and(|n| n == "repomd.xml") {
            out.push(p);
        }
    }
}

#[test]
fn fixture_repomds_parse_or_fail_as_repodata_check_tsv_says() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let rows = check_rows(&fx);
    let mut repomds = Vec::new();
    find_repomds(&fx, &mut repomds);
    assert!(repomds.len() >= 22, "found {} repomd.xml", repomds.len());
    let cache = temp();
    let opts = options(cache.path());
    let mut checked = 0;
    for path in &repomds {
        let rel = path
            .strip_prefix(&fx)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let md = Repomd::parse(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{rel}: {}", e.message));
        let base = file_url(path.parent().unwrap().parent().unwrap());
        let my_rows: Vec<&CheckRow> = rows.iter().filter(|r| r.repomd == rel).collect();
        assert_eq!(
            my_rows.len(),
            md.records.len(),
            "{rel}: every record has a row"
        );
        for row in &my_rows {
            let rec = md
                .records
                .iter()
                .find(|r| r.kind == row.kind && r.href == row.location)
                .unwrap_or_else(|| panic!("{rel}: no record {} {}", row.kind, row.location));
            let got = repo::verify::check_record(&base, rec, &opts);
            match (&got, row.expect_ok()) {
                (Ok(c), true) => {
                    if let (Some(n), Some(want)) = (c.packages, row.package_elems) {
                        assert_eq!(n, want, "{rel} {}", row.kind);
                    }
                }
                (Err(e), false) => {
                    // The error names the reason the table gives.
                    let ok = match e {
                        RepoError::NotFound { .. } => !row.present,
                        RepoError::ChecksumMismatch { .. } => row.checksum_ok == Some(false),
                        RepoError::SizeMismatch { .. } => row.size_ok == Some(false),
                        RepoError::OpenChecksumMismatch { .. } => {
                            row.open_checksum_ok == Some(false)
                        }
                        RepoError::PackageCount { .. } => row.packages_attr != row.package_elems,
                        _ => false,
                    };
                    assert!(ok, "{rel} {}: unexpected error kind: {e}", row.kind);
                }
                (Ok(_), false) => panic!(
                    "{rel} {}: loaded, but the table says it is broken",
                    row.kind
                ),
                (Err(e), true) => panic!("{rel} {}: {e}", row.kind),
            }
            checked += 1;
        }
        // Loading the whole repository succeeds exactly when what `load` reads is sound:
        // primary, the first available comps variant, and modules.
        let row_ok = |kind: &str| {
            my_rows
                .iter()
                .find(|r| r.kind == kind)
                .map(|r| r.expect_ok())
        };
        let comps_ok = ["group", "group_gz", "group_xz", "group_zst"]
            .iter()
            .filter_map(|k| my_rows.iter().find(|r| r.kind == *k))
            .find(|r| r.present)
            .map(|r| r.expect_ok())
            .unwrap_or(true);
        let want = row_ok("primary") == Some(true) && comps_ok && row_ok("modules") != Some(false);
        let loaded = repo::load(&Remote::new("fx", base.clone()), &opts);
        assert_eq!(
            loaded.is_ok(),
            want,
            "{rel}: load gave {:?}",
            loaded.as_ref().err().map(|e| e.to_string())
        );
    }
    assert_eq!(checked, rows.len(), "every row of the table was checked");
}

#[test]
fn centos_stream_9_baseos_and_appstream_load() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let (baseos, appstream) = cs9(&fx);
    let cache = temp();
    let t0 = std::time::Instant::now();
    let b = repo::load(
        &Remote::new("baseos", file_url(&baseos)),
        &options(cache.path()),
    )
    .unwrap();
    let t1 = std::time::Instant::now();
    let a = repo::load(
        &Remote::new("appstream", file_url(&appstream)),
        &options(cache.path()),
    )
    .unwrap();
    eprintln!(
        "baseos {:?}, appstream {:?} (debug build)",
        t1 - t0,
        t1.elapsed()
    );
    assert_eq!(b.packages.len(), 1125);
    assert_eq!(a.packages.len(), 17649);
    assert_eq!(b.repomd.revision.as_deref(), Some("1644263915"));
    assert_eq!(a.repomd.revision.as_deref(), Some("9-stream"));
    // comps: BaseOS only has the gzip variant on disk; AppStream only the plain one.
    let core = b
        .groups
        .iter()
        .find(|g| g.id == "core")
        .expect("BaseOS has @core");
    assert!(
        core.mandatory.iter().any(|p| p == "bash"),
        "{:?}",
        core.mandatory
    );
    assert!(!a.groups.is_empty());
    assert!(b.modules.streams.is_empty());
    assert!(a.modules.streams.iter().any(|s| s.name == "nodejs"));
    let bash = b.packages.iter().find(|p| p.name == "bash").unwrap();
    assert!(bash.provides.iter().any(|d| d.name == "/bin/sh"));
    // BaseOS filelists are complete; AppStream's is an empty stub whose open-checksum
    // does not match its content: a clear error, on demand only.
    assert_eq!(b.filelists().unwrap().packages.len(), 1125);
    let err = a.filelists().unwrap_err();
    assert!(
        matches!(err, RepoError::OpenChecksumMismatch { .. }),
        "{err}"
    );
}
