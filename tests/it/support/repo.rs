//! Repositories for the tests: `createrepo_c` over RPMs built here, the small two-package
//! repository most repository tests read, and the CentOS Stream 9 fixture repositories.
//!
//! Shared as a source file by the integration tests and the boot tests (which index their
//! fixture repository with [`createrepo`]); it refers only to its sibling `rpm` module.

use super::rpm::{Entry, Rpm};
use diskless::repo::{self, LoadOptions, Repomd};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `createrepo_c --quiet --no-database EXTRA.. DIR`.
pub fn createrepo(dir: &Path, extra: &[&str]) -> std::io::Result<()> {
    let out = Command::new("createrepo_c")
        .args(["--quiet", "--no-database"])
        .args(extra)
        .arg(dir)
        .output()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("running createrepo_c (ci/setup.sh installs it): {e}"),
            )
        })?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "createrepo_c failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Build two small RPMs (`foo` requiring `bar`) and run createrepo_c over them with
/// `compress` (`gz`, `xz`, `zstd`, `bz2`). Debian's createrepo_c has no zstd, so for `zstd`
/// the gzip files are recompressed and repomd.xml rewritten to match.
pub fn make_repo(dir: &Path, compress: &str) {
    if compress == "zstd" {
        make_repo(dir, "gz");
        recompress_zstd(dir);
        return;
    }
    let pkgs = dir.join("Packages");
    Rpm::new("foo", "1.2.3")
        .arch("x86_64")
        .summary("Foo tool")
        .release("4.el9")
        .epoch(2)
        .file("/usr/bin/foo", "#!/bin/sh\necho foo\n", 0o755)
        .entry(Entry::file("/usr/share/foo/data.txt", "data\n"))
        .provides(rpm::Dependency::any("libfoo.so.1()(64bit)"))
        .requires(rpm::Dependency::greater_eq("bar", "1.0"))
        .requires(rpm::Dependency::any("/bin/sh"))
        .write_in(&pkgs)
        .unwrap();
    Rpm::new("bar", "1.0")
        .summary("Bar data")
        .entry(Entry::file("/etc/bar.conf", "bar\n").config())
        .provides(rpm::Dependency::any("/bin/sh"))
        .write_in(&pkgs)
        .unwrap();
    createrepo(dir, &[&format!("--general-compress-type={compress}")]).unwrap();
}

fn recompress_zstd(dir: &Path) {
    let repomd_path = dir.join("repodata/repomd.xml");
    let mut text = std::fs::read_to_string(&repomd_path).unwrap();
    let md = Repomd::parse(text.as_bytes()).unwrap();
    for kind in ["primary", "filelists", "other"] {
        let rec = md.record(kind).unwrap();
        let gz = std::fs::read(dir.join(&rec.href)).unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut plain)
            .unwrap();
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        let sum = repo::checksum::sha256_hex(&zst);
        let href = format!("repodata/{sum}-{kind}.xml.zst");
        std::fs::write(dir.join(&href), &zst).unwrap();
        std::fs::remove_file(dir.join(&rec.href)).unwrap();
        let start = text.find(&format!("<data type=\"{kind}\">")).unwrap();
        let end = start + text[start..].find("</data>").unwrap();
        let block = text[start..end]
            .replace(&rec.href, &href)
            .replace(&rec.checksum.value, &sum)
            .replace(
                &format!("<size>{}</size>", rec.size.unwrap()),
                &format!("<size>{}</size>", zst.len()),
            );
        text.replace_range(start..end, &block);
    }
    std::fs::write(&repomd_path, text).unwrap();
}

/// `file://` + the path, as a `baseurl`.
pub fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// Online loading with the cache in `cache`.
pub fn options(cache: &Path) -> LoadOptions {
    LoadOptions {
        cache_dir: cache.to_path_buf(),
        offline: false,
    }
}

/// The CentOS Stream 9 BaseOS and AppStream repositories of the shared fixtures.
pub fn cs9(fx: &Path) -> (PathBuf, PathBuf) {
    (
        fx.join("osbuild-cs9-baseos-2022snap/test/data/testrepos/baseos"),
        fx.join("osbuild-cs9-appstream/test/data/testrepos/appstream"),
    )
}
