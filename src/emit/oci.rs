//! The OCI image of the tftp tree: an OCI image layout directory and an `oci-archive`
//! tarball of it. The tree sits under a configurable root (default /var/lib/tftpboot), the
//! boot-service configs under their own root, in several layers (boot loaders; each
//! image's kernel and initramfs; menus and configs), so that a config change re-uploads one
//! small layer. Layers are uncompressed tars (the initramfs is compressed already), built
//! by [`super::tarball`] with sorted entries and fixed mtimes; config, manifest and index are
//! canonical JSON; `created` is SOURCE_DATE_EPOCH.

use super::cjson;
use super::settings::Oci;
use super::tarball::{self, TarEntry, TarKind};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Annotation carrying the lockfile's digest.
pub const LOCK_ANNOTATION: &str = "dev.diskless.lock.digest";

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("Cannot write the OCI layout at `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("OCI image root `{root}` must be an absolute path")]
    BadRoot { root: String },
}

/// One layer: a name (for history) and its entries, paths relative to the image root `/`.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub entries: Vec<TarEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciImage {
    /// `sha256:…` of the manifest: what a registry reports after a push.
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (no chrono needed, no local time zone involved).
pub fn rfc3339(t: u64) -> String {
    let days = (t / 86400) as i64;
    let secs = t % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Add every parent directory of the entries (0755 root:root) and sort by path, as a
/// layer must hold the directories its files live in.
pub fn with_parents(mut entries: Vec<TarEntry>) -> Vec<TarEntry> {
    let mut dirs: BTreeMap<String, ()> = BTreeMap::new();
    for e in &entries {
        let mut p = e.path.as_str();
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            dirs.insert(p.to_string(), ());
        }
    }
    for e in &entries {
        dirs.remove(&e.path);
    }
    entries.extend(dirs.into_keys().map(|path| TarEntry {
        path,
        kind: TarKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
    }));
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OciError + '_ {
    move |source| OciError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write bytes as a blob; returns (digest, size).
fn put_blob(blobs: &Path, data: &[u8]) -> Result<(String, u64), OciError> {
    let hex = hex::encode(Sha256::digest(data));
    let p = blobs.join(&hex);
    fs_err::write(&p, data).map_err(io_err(&p))?;
    Ok((format!("sha256:{hex}"), data.len() as u64))
}

/// Write the OCI image layout into `dir` (created).
pub fn write_layout(
    dir: &Path,
    layers: &[Layer],
    settings: &Oci,
    sde: u64,
    lock_digest: &str,
    tool: &str,
) -> Result<OciImage, OciError> {
    if !settings.root.starts_with('/') {
        return Err(OciError::BadRoot {
            root: settings.root.clone(),
        });
    }
    let blobs = dir.join("blobs").join("sha256");
    fs_err::create_dir_all(&blobs).map_err(io_err(&blobs))?;
    let created = rfc3339(sde);
    let mut layer_desc = Vec::new();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for layer in layers {
        let tmp = blobs.join(".layer.tmp");
        let f = fs_err::File::create(&tmp).map_err(io_err(&tmp))?;
        let hw = HashWriter {
            inner: io::BufWriter::with_capacity(1 << 20, f),
            hasher: Sha256::new(),
            size: 0,
        };
        let mut hw = tarball::write(hw, &layer.entries, sde).map_err(io_err(&tmp))?;
        hw.flush().map_err(io_err(&tmp))?;
        let digest = format!("sha256:{}", hex::encode(hw.hasher.finalize()));
        let size = hw.size;
        let final_path = blobs.join(digest.trim_start_matches("sha256:"));
        fs_err::rename(&tmp, &final_path).map_err(io_err(&final_path))?;
        layer_desc.push(json!({
            "mediaType": MEDIA_LAYER,
            "digest": digest,
            "size": size,
            "annotations": {"org.opencontainers.image.title": layer.name},
        }));
        diff_ids.push(Value::String(digest));
        history.push(json!({"created": created, "created_by": format!("{tool}: {}", layer.name)}));
    }
    // The profile's annotations first; created and the lock digest state facts of this
    // build and win.
    let mut annotations: serde_json::Map<String, Value> = settings
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    annotations.insert(
        "org.opencontainers.image.created".into(),
        created.clone().into(),
    );
    annotations.insert(LOCK_ANNOTATION.into(), lock_digest.into());
    for (k, v) in [
        ("source", &settings.source),
        ("revision", &settings.revision),
        ("version", &settings.version),
        ("title", &settings.title),
    ] {
        if let Some(v) = v {
            annotations.insert(format!("org.opencontainers.image.{k}"), v.clone().into());
        }
    }
    let config = json!({
        "architecture": settings.architecture,
        "os": "linux",
        "created": created,
        "config": {"Labels": annotations.clone()},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let (config_digest, config_size) = put_blob(&blobs, &cjson::to_vec(&config))?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
        "layers": layer_desc,
        "annotations": annotations,
    });
    let (manifest_digest, manifest_size) = put_blob(&blobs, &cjson::to_vec(&manifest))?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": settings.tag},
        }],
    });
    let p = dir.join("index.json");
    fs_err::write(&p, cjson::to_vec(&index)).map_err(io_err(&p))?;
    let p = dir.join("oci-layout");
    fs_err::write(&p, cjson::to_vec(&json!({"imageLayoutVersion": "1.0.0"})))
        .map_err(io_err(&p))?;
    let layer_digests = layer_desc
        .iter()
        .map(|l| l["digest"].as_str().unwrap_or_default().to_string())
        .collect();
    Ok(OciImage {
        manifest_digest,
        config_digest,
        layer_digests,
    })
}

/// Pack a layout directory written by [`write_layout`] into an `oci-archive` tarball.
pub fn write_archive(layout: &Path, out: &Path, sde: u64) -> Result<(), OciError> {
    let mut entries = vec![
        TarEntry {
            path: "blobs".into(),
            kind: TarKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
        },
        TarEntry {
            path: "blobs/sha256".into(),
            kind: TarKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
        },
    ];
    let blobs = layout.join("blobs").join("sha256");
    let mut names: Vec<(String, u64)> = Vec::new();
    for e in fs_err::read_dir(&blobs).map_err(io_err(&blobs))? {
        let e = e.map_err(io_err(&blobs))?;
        let len = e.metadata().map_err(io_err(&e.path()))?.len();
        names.push((e.file_name().to_string_lossy().into_owned(), len));
    }
    names.sort();
    for (n, size) in names {
        entries.push(TarEntry {
            path: format!("blobs/sha256/{n}"),
            kind: TarKind::FileFrom {
                path: blobs.join(&n),
                size,
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
        });
    }
    for n in ["index.json", "oci-layout"] {
        let p = layout.join(n);
        let size = fs_err::metadata(&p).map_err(io_err(&p))?.len();
        entries.push(TarEntry {
            path: n.into(),
            kind: TarKind::FileFrom { path: p, size },
            mode: 0o644,
            uid: 0,
            gid: 0,
        });
    }
    let f = fs_err::File::create(out).map_err(io_err(out))?;
    let mut w = tarball::write(io::BufWriter::with_capacity(1 << 20, f), &entries, sde)
        .map_err(io_err(out))?;
    w.flush().map_err(io_err(out))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parents_added_once_and_sorted() {
        let e = with_parents(vec![
            TarEntry {
                path: "var/lib/tftpboot/a/b".into(),
                kind: TarKind::File(vec![]),
                mode: 0o644,
                uid: 0,
                gid: 0,
            },
            TarEntry {
                path: "var/lib/tftpboot/a".into(),
                kind: TarKind::Dir,
                mode: 0o700,
                uid: 0,
                gid: 0,
            },
        ]);
        let paths: Vec<_> = e.iter().map(|e| (e.path.as_str(), e.mode)).collect();
        assert_eq!(
            paths,
            [
                ("var", 0o755),
                ("var/lib", 0o755),
                ("var/lib/tftpboot", 0o755),
                ("var/lib/tftpboot/a", 0o700),
                ("var/lib/tftpboot/a/b", 0o644)
            ]
        );
    }
}
