//! The fuzzed entry points, one function per target, shared as a source file by the
//! `cargo fuzz` targets (fuzz/fuzz_targets/*.rs) and the bounded runs in CI
//! (tests/it/fuzz.rs), so both exercise exactly the same code. Each function takes any
//! bytes; returning is success (errors are expected), a panic is a bug.
//!
//! Depends only on `diskless`, `rpm` and `tempfile` (both crates have them).
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;

/// The profile parser and validator (TOML, then every table's checks). Files it names
/// resolve against a folder that does not exist, so nothing on the host is read.
pub fn profile(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = diskless::profile::from_str(
            Path::new("fuzz.toml"),
            Path::new("/nonexistent/diskless-fuzz"),
            text,
        );
    }
}

/// repomd.xml.
pub fn repomd(data: &[u8]) {
    let _ = diskless::repo::Repomd::parse(data);
}

/// primary.xml, three ways: streamed, from a slice, and split across threads. They must
/// agree: the same packages, or all three an error.
pub fn primary(data: &[u8]) {
    use diskless::repo::{primary, split};
    let streamed = primary::parse(data, "fuzz");
    let sliced = primary::parse_slice(data, "fuzz");
    let parallel = split::parse(data, "fuzz");
    match (&streamed, &sliced, &parallel) {
        (Ok(a), Ok(b), Ok(c)) => {
            assert_eq!(a.packages, b.packages, "slice and stream parsers differ");
            assert_eq!(a.packages, c.packages, "parallel and stream parsers differ");
            assert_eq!(a.declared, b.declared);
        }
        (Err(_), Err(_), Err(_)) => {}
        _ => panic!(
            "parsers disagree: stream {:?}, slice {:?}, parallel {:?}",
            streamed.as_ref().map(|p| p.packages.len()),
            sliced.as_ref().map(|p| p.packages.len()),
            parallel.as_ref().map(|p| p.packages.len()),
        ),
    }
}

/// filelists.xml.
pub fn filelists(data: &[u8]) {
    let _ = diskless::repo::filelists::parse(data);
}

/// comps (group) XML.
pub fn comps(data: &[u8]) {
    if let Ok(groups) = diskless::repo::comps::parse(data) {
        for g in &groups {
            let _ = g.install_set().count();
            let _ = g.matches("core");
        }
    }
}

/// modules.yaml.
pub fn modules(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = diskless::repo::modules::parse_str(text) {
            let _ = diskless::repo::modules::default_streams([&m]);
        }
    }
}

/// A .rpm: its header as rootfs reads it, then the whole package assembled into a tree
/// (payload decompression, the cpio reader, paths, owners, hardlinks, scriptlet report)
/// in a throw-away content store.
pub fn rpm(data: &[u8]) {
    if let Ok(m) = diskless::package::rpmhead::parse_metadata(&mut &data[..]) {
        let _ = diskless::rootfs::header::PkgHeader::from_metadata(&m, "fuzz.rpm");
    } else {
        return;
    }
    let Ok(dir) = tempfile::tempdir() else { return };
    let pkg = dir.path().join("fuzz.rpm");
    if std::fs::write(&pkg, data).is_err() {
        return;
    }
    let Ok(store) = diskless::rootfs::store::Store::new(dir.path().join("store")) else {
        return;
    };
    let cfg = diskless::rootfs::AssembleConfig::new(0);
    let _ = diskless::rootfs::assemble(&[pkg], &cfg, &store);
}

/// The cpio reader, as newc/crc archives and as rpm's stripped format (sizes from the
/// index), every entry's data read to its end.
pub fn cpio(data: &[u8]) {
    let mut r = diskless::cpio::Reader::new(data);
    let mut buf = Vec::new();
    // At most as many entries as the input has bytes: each header takes some.
    for _ in 0..=data.len() {
        match r.next(|i| Some(u64::from(i % 512))) {
            Ok(Some(_)) => {
                buf.clear();
                if r.data().read_to_end(&mut buf).is_err() {
                    break;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
}
