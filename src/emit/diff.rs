//! `diskless diff`: compare two builds (two output directories, two initramfs files or two
//! OCI layouts) entry by entry, and say which artifact differs, which entry and which field
//! (type, mode, owner, size, content digest, mtime, nlink, device, link target).
//! When two builds that should be identical are not, this is how the cause is found.

use super::{cpio, oci, sums};
use crate::codec;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("Cannot read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Sums(#[from] sums::SumsError),
    #[error("`{path}` is not a cpio newc archive")]
    Cpio {
        path: String,
        #[source]
        source: cpio::CpioError,
    },
    #[error(transparent)]
    Oci(#[from] oci::LayoutError),
    #[error("Cannot compare `{a}` ({ka}) with `{b}` ({kb})")]
    KindMismatch {
        a: PathBuf,
        ka: &'static str,
        b: PathBuf,
        kb: &'static str,
    },
}

/// One difference. `entry` is the path inside the artifact (cpio or layer entry, or a line
/// number for text files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub artifact: String,
    pub entry: Option<String>,
    pub field: String,
    pub a: String,
    pub b: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.artifact)?;
        if let Some(e) = &self.entry {
            write!(f, ": {e}")?;
        }
        write!(f, ": {} differs: {} != {}", self.field, self.a, self.b)
    }
}

fn d(
    artifact: &str,
    entry: Option<&str>,
    field: &str,
    a: impl ToString,
    b: impl ToString,
) -> Difference {
    Difference {
        artifact: artifact.to_string(),
        entry: entry.map(str::to_string),
        field: field.to_string(),
        a: a.to_string(),
        b: b.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OutDir,
    OciLayout,
    File,
}

fn kind(p: &Path) -> Kind {
    if p.join("index.json").is_file() && p.join("oci-layout").is_file() {
        Kind::OciLayout
    } else if p.is_dir() {
        Kind::OutDir
    } else {
        Kind::File
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::OutDir => "an output directory",
        Kind::OciLayout => "an OCI layout",
        Kind::File => "a file",
    }
}

/// Compare two builds; an empty list means identical.
pub fn diff(a: &Path, b: &Path) -> Result<Vec<Difference>, DiffError> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        return Err(DiffError::KindMismatch {
            a: a.into(),
            ka: kind_name(ka),
            b: b.into(),
            kb: kind_name(kb),
        });
    }
    match ka {
        Kind::OutDir => diff_dirs(a, b),
        Kind::OciLayout => diff_oci(a, b, "oci"),
        Kind::File => {
            let name = a.file_name().map_or_else(
                || a.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            diff_files(a, b, &name)
        }
    }
}

fn diff_dirs(a: &Path, b: &Path) -> Result<Vec<Difference>, DiffError> {
    let sa = sums::digest_tree(a, &[])?;
    let sb = sums::digest_tree(b, &[])?;
    let mut out = Vec::new();
    let in_oci = |p: &str| p.starts_with(&format!("{}/", super::OCI_DIR));
    let mut oci_differs = false;
    let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    for p in names {
        match (sa.get(p), sb.get(p)) {
            (Some(x), Some(y)) if x == y => {}
            _ if in_oci(p) => oci_differs = true,
            (Some(_), None) => out.push(d(p, None, "presence", "present", "missing")),
            (None, Some(_)) => out.push(d(p, None, "presence", "missing", "present")),
            (Some(_), Some(_)) => {
                if p.as_str() == super::OCI_ARCHIVE {
                    out.push(d(p, None, "sha256", &sa[p], &sb[p]));
                    continue;
                }
                out.extend(diff_files(&a.join(p), &b.join(p), p)?);
            }
            (None, None) => {}
        }
    }
    if oci_differs && a.join(super::OCI_DIR).is_dir() && b.join(super::OCI_DIR).is_dir() {
        out.extend(diff_oci(
            &a.join(super::OCI_DIR),
            &b.join(super::OCI_DIR),
            super::OCI_DIR,
        )?);
    }
    Ok(out)
}

fn read_all(p: &Path) -> Result<Vec<u8>, DiffError> {
    fs_err::read(p).map_err(|source| DiffError::Io {
        path: p.into(),
        source,
    })
}

/// Entries of a (possibly compressed) cpio archive, or None when it is not one.
fn cpio_entries(p: &Path, label: &str) -> Result<Option<Vec<cpio::ReadEntry>>, DiffError> {
    let f = fs_err::File::open(p).map_err(|source| DiffError::Io {
        path: p.into(),
        source,
    })?;
    let mut r = io::BufReader::new(f);
    let mut rd = codec::open_sniffed(&mut r).map_err(|source| DiffError::Io {
        path: p.into(),
        source,
    })?;
    let mut magic = [0u8; 6];
    if rd.read_exact(&mut magic).is_err() || &magic != b"070701" {
        return Ok(None);
    }
    let chained = io::Cursor::new(magic.to_vec()).chain(rd);
    cpio::read_entries(chained)
        .map(Some)
        .map_err(|source| DiffError::Cpio {
            path: label.to_string(),
            source,
        })
}

/// Whether `p` starts like a squashfs 4.0 image (`hsqs`, little-endian).
fn is_squashfs(p: &Path) -> Result<bool, DiffError> {
    let mut f = fs_err::File::open(p).map_err(|source| DiffError::Io {
        path: p.into(),
        source,
    })?;
    let mut magic = [0u8; 4];
    Ok(f.read_exact(&mut magic).is_ok() && &magic == b"hsqs")
}

/// The entries of the squashfs root image in `rootfs_img`.
fn squashfs_entries(rootfs_img: &Path) -> Result<Vec<cpio::ReadEntry>, DiffError> {
    let io = |source| DiffError::Io {
        path: rootfs_img.into(),
        source,
    };
    let Some(tmp) = super::squashfs::unwrap(rootfs_img).map_err(io)? else {
        return Ok(Vec::new());
    };
    super::squashfs::read_entries(tmp.path())
        .map_err(|e| io(std::io::Error::other(crate::net::error_chain(&e))))
}

/// `out`, or when no entry differs though the bytes do (sha256 `ha`, `hb`): the
/// compression differs.
fn or_compression(mut out: Vec<Difference>, label: &str, ha: &str, hb: &str) -> Vec<Difference> {
    if out.is_empty() {
        out.push(d(
            label,
            None,
            "compressed bytes (entries identical)",
            ha,
            hb,
        ));
    }
    out
}

fn diff_files(a: &Path, b: &Path, label: &str) -> Result<Vec<Difference>, DiffError> {
    let ha = sums::file_sha256(a)?;
    let hb = sums::file_sha256(b)?;
    if ha == hb {
        return Ok(Vec::new());
    }
    if let (Some(ea), Some(eb)) = (cpio_entries(a, label)?, cpio_entries(b, label)?) {
        let mut out = diff_cpio(label, &ea, &eb);
        let has_root =
            |e: &[cpio::ReadEntry]| e.iter().any(|x| super::squashfs::is_root_image(&x.name));
        if has_root(&ea) && has_root(&eb) && !out.is_empty() {
            // A squashfs root (in one file or in parts): compare the images inside, entry
            // by entry.
            let inner = format!("{label}:{}", super::initrd::ROOT_IMAGE);
            out.retain(|x| {
                !x.entry
                    .as_deref()
                    .is_some_and(super::squashfs::is_root_image)
            });
            out.extend(diff_cpio(
                &inner,
                &squashfs_entries(a)?,
                &squashfs_entries(b)?,
            ));
        }
        return Ok(or_compression(out, label, &ha, &hb));
    }
    if is_squashfs(a)? && is_squashfs(b)? {
        // A bare root image (`[image] root_http`): entry by entry, like one in rootfs.img.
        let entries = |p: &Path| {
            super::squashfs::read_entries(p).map_err(|e| DiffError::Io {
                path: p.into(),
                source: std::io::Error::other(crate::net::error_chain(&e)),
            })
        };
        let out = diff_cpio(label, &entries(a)?, &entries(b)?);
        return Ok(or_compression(out, label, &ha, &hb));
    }
    let (da, db) = (read_all(a)?, read_all(b)?);
    if let (Ok(ta), Ok(tb)) = (std::str::from_utf8(&da), std::str::from_utf8(&db)) {
        let (la, lb): (Vec<&str>, Vec<&str>) = (ta.lines().collect(), tb.lines().collect());
        for i in 0..la.len().max(lb.len()) {
            let (x, y) = (
                la.get(i).copied().unwrap_or("<end of file>"),
                lb.get(i).copied().unwrap_or("<end of file>"),
            );
            if x != y {
                return Ok(vec![d(
                    label,
                    Some(&format!("line {}", i + 1)),
                    "content",
                    x,
                    y,
                )]);
            }
        }
    }
    Ok(vec![d(label, None, "sha256", ha, hb)])
}

fn diff_cpio(label: &str, a: &[cpio::ReadEntry], b: &[cpio::ReadEntry]) -> Vec<Difference> {
    let ma: BTreeMap<&str, &cpio::ReadEntry> = a.iter().map(|e| (e.name.as_str(), e)).collect();
    let mb: BTreeMap<&str, &cpio::ReadEntry> = b.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut out = Vec::new();
    let names: BTreeSet<&str> = ma.keys().chain(mb.keys()).copied().collect();
    for n in names {
        let shown = if n == "." {
            "/".to_string()
        } else {
            format!("/{n}")
        };
        let e = Some(shown.as_str());
        match (ma.get(n), mb.get(n)) {
            (Some(_), None) => out.push(d(label, e, "presence", "present", "missing")),
            (None, Some(_)) => out.push(d(label, e, "presence", "missing", "present")),
            (Some(x), Some(y)) => {
                if x.kind() != y.kind() {
                    out.push(d(label, e, "type", x.kind(), y.kind()));
                    continue;
                }
                if x.mode & 0o7777 != y.mode & 0o7777 {
                    out.push(d(
                        label,
                        e,
                        "mode",
                        format!("{:04o}", x.mode & 0o7777),
                        format!("{:04o}", y.mode & 0o7777),
                    ));
                }
                if (x.uid, x.gid) != (y.uid, y.gid) {
                    out.push(d(
                        label,
                        e,
                        "owner",
                        format!("{}:{}", x.uid, x.gid),
                        format!("{}:{}", y.uid, y.gid),
                    ));
                }
                if x.nlink != y.nlink {
                    out.push(d(label, e, "nlink", x.nlink, y.nlink));
                }
                if x.size != y.size {
                    out.push(d(label, e, "size", x.size, y.size));
                }
                if x.digest != y.digest {
                    out.push(d(
                        label,
                        e,
                        "content digest",
                        hex::encode(x.digest),
                        hex::encode(y.digest),
                    ));
                }
                if x.mtime != y.mtime {
                    out.push(d(label, e, "mtime", x.mtime, y.mtime));
                }
                if (x.rdevmajor, x.rdevminor) != (y.rdevmajor, y.rdevminor) {
                    out.push(d(
                        label,
                        e,
                        "device",
                        format!("{}:{}", x.rdevmajor, x.rdevminor),
                        format!("{}:{}", y.rdevmajor, y.rdevminor),
                    ));
                }
            }
            (None, None) => {}
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TarInfo {
    layer: String,
    kind: String,
    mode: u32,
    owner: String,
    size: u64,
    digest: String,
    mtime: u64,
    link: String,
}

/// Manifest annotations as JSON (null when absent), for comparing and printing.
fn annotations_json(a: &Option<HashMap<String, String>>) -> serde_json::Value {
    a.as_ref().map_or(serde_json::Value::Null, |m| {
        serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        )
    })
}

/// The first manifest of the index (its digest and annotations), its config, and every
/// layer's entries by path.
fn oci_contents(
    dir: &Path,
) -> Result<
    (
        String,
        serde_json::Value,
        serde_json::Value,
        BTreeMap<String, TarInfo>,
    ),
    DiffError,
> {
    let layout = oci::Layout::open(dir)?;
    let m = layout.manifest()?;
    let config = layout.read_json(m.manifest.config().digest(), "image configuration")?;
    let mut entries = BTreeMap::new();
    for (i, l) in m.manifest.layers().iter().enumerate() {
        let title = l
            .annotations()
            .as_ref()
            .and_then(|a| a.get("org.opencontainers.image.title"))
            .map_or_else(|| format!("layer {i}"), String::clone);
        let p = layout.blob_path(l.digest())?;
        let f = fs_err::File::open(&p).map_err(|source| DiffError::Io {
            path: p.clone(),
            source,
        })?;
        let r = codec::open_sniffed(io::BufReader::new(f)).map_err(|source| DiffError::Io {
            path: p.clone(),
            source,
        })?;
        let mut ar = tar::Archive::new(r);
        let io_e = |source| DiffError::Io {
            path: p.clone(),
            source,
        };
        for e in ar.entries().map_err(io_e)? {
            let mut e = e.map_err(io_e)?;
            let h = e.header().clone();
            let path = e
                .path()
                .map_err(io_e)?
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            let link = e
                .link_name()
                .map_err(io_e)?
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = e.read(&mut buf).map_err(io_e)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            let kind = match h.entry_type() {
                tar::EntryType::Directory => "dir",
                tar::EntryType::Symlink => "symlink",
                tar::EntryType::Link => "hardlink",
                tar::EntryType::Regular => "file",
                _ => "other",
            };
            entries.insert(
                path,
                TarInfo {
                    layer: title.clone(),
                    kind: kind.to_string(),
                    mode: h.mode().unwrap_or(0),
                    owner: format!("{}:{}", h.uid().unwrap_or(0), h.gid().unwrap_or(0)),
                    size: h.size().unwrap_or(0),
                    digest: hex::encode(hasher.finalize()),
                    mtime: h.mtime().unwrap_or(0),
                    link,
                },
            );
        }
    }
    Ok((
        m.digest.to_string(),
        annotations_json(m.manifest.annotations()),
        config,
        entries,
    ))
}

fn diff_oci(a: &Path, b: &Path, label: &str) -> Result<Vec<Difference>, DiffError> {
    let (da, ma, ca, ea) = oci_contents(a)?;
    let (db, mb, cb, eb) = oci_contents(b)?;
    let mut out = Vec::new();
    if da == db {
        return Ok(out);
    }
    out.push(d(label, None, "manifest digest", &da, &db));
    for (what, x, y) in [("manifest annotations", &ma, &mb), ("config", &ca, &cb)] {
        if x != y {
            out.push(d(
                label,
                Some(what),
                "content",
                String::from_utf8_lossy(&super::cjson::to_vec(x)),
                String::from_utf8_lossy(&super::cjson::to_vec(y)),
            ));
        }
    }
    let names: BTreeSet<&String> = ea.keys().chain(eb.keys()).collect();
    for n in names {
        let e = format!("/{n}");
        let e = Some(e.as_str());
        match (ea.get(n), eb.get(n)) {
            (Some(x), None) => out.push(d(
                label,
                e,
                "presence",
                format!("present ({})", x.layer),
                "missing",
            )),
            (None, Some(y)) => out.push(d(
                label,
                e,
                "presence",
                "missing",
                format!("present ({})", y.layer),
            )),
            (Some(x), Some(y)) => {
                for (field, p, q) in [
                    ("layer", x.layer.clone(), y.layer.clone()),
                    ("type", x.kind.clone(), y.kind.clone()),
                    ("mode", format!("{:04o}", x.mode), format!("{:04o}", y.mode)),
                    ("owner", x.owner.clone(), y.owner.clone()),
                    ("size", x.size.to_string(), y.size.to_string()),
                    ("content digest", x.digest.clone(), y.digest.clone()),
                    ("mtime", x.mtime.to_string(), y.mtime.to_string()),
                    ("link target", x.link.clone(), y.link.clone()),
                ] {
                    if p != q {
                        out.push(d(label, e, field, p, q));
                    }
                }
            }
            (None, None) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::compress;
    use crate::emit::cpio::tests::sample;
    use crate::rootfs::store::Store;

    #[test]
    fn names_entry_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store")).unwrap();
        let tree = sample(&store);
        let mut other = tree.clone();
        other.entries.get_mut("/etc/motd").unwrap().mode = 0o600;
        let (pa, pb) = (dir.path().join("a.img"), dir.path().join("b.img"));
        for (p, t) in [(&pa, &tree), (&pb, &other)] {
            let mut w =
                compress::Compressor::new(compress::Compression::default(), Vec::new()).unwrap();
            cpio::write_tree(t, &store, 100, &mut w).unwrap();
            fs_err::write(p, w.finish().unwrap()).unwrap();
        }
        let diffs = diff(&pa, &pb).unwrap();
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(
            diffs[0].to_string(),
            "a.img: /etc/motd: mode differs: 0644 != 0600"
        );
        assert!(diff(&pa, &pa).unwrap().is_empty());
    }
}
