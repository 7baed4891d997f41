//! The OCI image of the tftp tree: an OCI image layout directory and an `oci-archive`
//! tarball of it. The tree sits under a configurable root (default /var/lib/tftpboot), the
//! boot-service configs under their own root, in several layers (boot loaders; each
//! image's kernel and initramfs; menus and configs), so that a config change re-uploads one
//! small layer. Layers are uncompressed tars (the initramfs is compressed already), built
//! by [`super::tarball`] with sorted entries and fixed mtimes; config, manifest and index are
//! built as oci-spec documents and written as canonical JSON ([`super::cjson`]); `created`
//! is SOURCE_DATE_EPOCH.

use super::cjson;
use super::settings::Oci;
use super::tarball::{self, TarEntry, TarKind};
use oci_spec::image::{
    ANNOTATION_REF_NAME, ANNOTATION_TITLE, Arch, ConfigBuilder, Descriptor, Digest,
    DigestAlgorithm, HistoryBuilder, ImageConfigurationBuilder, ImageIndex, ImageIndexBuilder,
    ImageManifest, ImageManifestBuilder, MediaType, OciLayoutBuilder, Os, RootFsBuilder,
    SCHEMA_VERSION,
};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
    #[error("Cannot build the OCI {what}")]
    Spec {
        what: &'static str,
        #[source]
        source: oci_spec::OciSpecError,
    },
    #[error(transparent)]
    Layout(Box<LayoutError>),
    #[error("Cannot serialize the OCI {what}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
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
    /// Artifacts attached to the image in the layout (OCI 1.1 referrers: the SBOMs).
    pub referrers: Vec<super::referrers::Referrer>,
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

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OciError + '_ {
    move |source| OciError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write bytes as a blob; returns its digest.
pub(super) fn put_blob(blobs: &Path, data: &[u8]) -> Result<String, OciError> {
    let hex = hex::encode(Sha256::digest(data));
    let p = blobs.join(&hex);
    fs_err::write(&p, data).map_err(io_err(&p))?;
    Ok(format!("sha256:{hex}"))
}

/// A layer blob as the documents refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LayerBlob {
    name: String,
    digest: String,
    size: u64,
}

/// The canonical bytes of the three documents, for layers already written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Documents {
    config: Vec<u8>,
    manifest: Vec<u8>,
    index: Vec<u8>,
}

pub(super) fn spec_err(what: &'static str) -> impl FnOnce(oci_spec::OciSpecError) -> OciError {
    move |source| OciError::Spec { what, source }
}

/// A `sha256:…` digest of bytes written here (always well formed).
pub(super) fn digest_of(hex_or_prefixed: &str) -> Result<Digest, OciError> {
    let s = if hex_or_prefixed.starts_with("sha256:") {
        hex_or_prefixed.to_string()
    } else {
        format!("sha256:{hex_or_prefixed}")
    };
    Digest::try_from(s).map_err(spec_err("digest"))
}

/// oci-spec 0.10 reads some names as another architecture (`armbe` as `arm64be`): keep the
/// configured name verbatim unless oci-spec's variant prints it back unchanged.
fn arch(name: &str) -> Arch {
    match Arch::from(name) {
        a if a.to_string() == name => a,
        _ => Arch::Other(name.to_string()),
    }
}

/// Serialize a document as canonical JSON (oci-spec keeps annotations and labels in
/// HashMaps: serde's order would change between runs).
pub(super) fn canonical(
    doc: &impl serde::Serialize,
    what: &'static str,
) -> Result<Vec<u8>, OciError> {
    serde_json::to_value(doc)
        .map(|v| cjson::to_vec(&v))
        .map_err(|source| OciError::Json { what, source })
}

/// Build the image configuration, manifest and index for `layers`.
fn documents(
    layers: &[LayerBlob],
    settings: &Oci,
    sde: u64,
    lock_digest: &str,
    tool: &str,
) -> Result<Documents, OciError> {
    let created = rfc3339(sde);
    // The profile's annotations first; created and the lock digest state facts of this
    // build and win.
    let mut annotations: BTreeMap<String, String> = settings.annotations.clone();
    annotations.insert("org.opencontainers.image.created".into(), created.clone());
    annotations.insert(LOCK_ANNOTATION.into(), lock_digest.into());
    for (k, v) in [
        ("source", &settings.source),
        ("revision", &settings.revision),
        ("version", &settings.version),
        ("title", &settings.title),
    ] {
        if let Some(v) = v {
            annotations.insert(format!("org.opencontainers.image.{k}"), v.clone());
        }
    }
    let annotations: HashMap<String, String> = annotations.into_iter().collect();
    let mut layer_desc = Vec::new();
    let mut history = Vec::new();
    for l in layers {
        let mut d = Descriptor::new(MediaType::ImageLayer, l.size, digest_of(&l.digest)?);
        d.set_annotations(Some(HashMap::from([(
            ANNOTATION_TITLE.to_string(),
            l.name.clone(),
        )])));
        layer_desc.push(d);
        history.push(
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(format!("{tool}: {}", l.name))
                .build()
                .map_err(spec_err("image history"))?,
        );
    }
    let config = ImageConfigurationBuilder::default()
        .architecture(arch(&settings.architecture))
        .os(Os::Linux)
        .created(created)
        .config(
            ConfigBuilder::default()
                .labels(annotations.clone())
                .build()
                .map_err(spec_err("image configuration"))?,
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>())
                .build()
                .map_err(spec_err("image configuration"))?,
        )
        .history(history)
        .build()
        .map_err(spec_err("image configuration"))?;
    let config = canonical(&config, "image configuration")?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(
            MediaType::ImageConfig,
            config.len() as u64,
            digest_of(&hex::encode(Sha256::digest(&config)))?,
        ))
        .layers(layer_desc)
        .annotations(annotations)
        .build()
        .map_err(spec_err("image manifest"))?;
    let manifest = canonical(&manifest, "image manifest")?;
    let mut manifest_desc = Descriptor::new(
        MediaType::ImageManifest,
        manifest.len() as u64,
        digest_of(&hex::encode(Sha256::digest(&manifest)))?,
    );
    manifest_desc.set_annotations(Some(HashMap::from([(
        ANNOTATION_REF_NAME.to_string(),
        settings.tag.clone(),
    )])));
    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_desc])
        .build()
        .map_err(spec_err("image index"))?;
    let index = canonical(&index, "image index")?;
    Ok(Documents {
        config,
        manifest,
        index,
    })
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
    let mut written = Vec::new();
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
        written.push(LayerBlob {
            name: layer.name.clone(),
            digest,
            size,
        });
    }
    let docs = documents(&written, settings, sde, lock_digest, tool)?;
    let config_digest = put_blob(&blobs, &docs.config)?;
    let manifest_digest = put_blob(&blobs, &docs.manifest)?;
    let p = dir.join("index.json");
    fs_err::write(&p, &docs.index).map_err(io_err(&p))?;
    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .map_err(spec_err("layout marker"))?;
    let p = dir.join("oci-layout");
    fs_err::write(&p, canonical(&layout, "layout marker")?).map_err(io_err(&p))?;
    Ok(OciImage {
        manifest_digest,
        config_digest,
        layer_digests: written.into_iter().map(|l| l.digest).collect(),
        referrers: Vec::new(),
    })
}

/// Why an OCI image layout could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("Cannot read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` is not a valid OCI {what}")]
    Parse {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{path}` lists no manifest")]
    NoManifest { path: PathBuf },
    #[error("`{digest}` in the OCI layout `{dir}` is not a sha256 digest")]
    NotSha256 { dir: PathBuf, digest: String },
    #[error("Blob `{path}` does not match its digest (expected {expected}, got sha256:{actual})")]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

/// An OCI image layout on disk (one written by [`write_layout`], or any other, e.g. a
/// `skopeo copy`), read by `diskless diff` and `diskless push`.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
    index: ImageIndex,
}

/// The image manifest an index points to: its digest, its exact bytes (what a registry
/// receives and hashes) and their parsed form.
#[derive(Debug, Clone)]
pub struct ManifestBlob {
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub manifest: ImageManifest,
}

impl Layout {
    /// Read the layout's `index.json`.
    pub fn open(dir: &Path) -> Result<Layout, LayoutError> {
        let path = dir.join("index.json");
        let bytes = fs_err::read(&path).map_err(|source| LayoutError::Io {
            path: path.clone(),
            source,
        })?;
        let index = serde_json::from_slice(&bytes).map_err(|source| LayoutError::Parse {
            path,
            what: "image index",
            source,
        })?;
        Ok(Layout {
            dir: dir.to_path_buf(),
            index,
        })
    }

    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    /// Where the blob with `digest` lives (`blobs/sha256/<hex>`). Only sha256 is written
    /// or verified here.
    pub fn blob_path(&self, digest: &Digest) -> Result<PathBuf, LayoutError> {
        if *digest.algorithm() != DigestAlgorithm::Sha256 {
            return Err(LayoutError::NotSha256 {
                dir: self.dir.clone(),
                digest: digest.to_string(),
            });
        }
        // oci-spec checked the hex: 64 lowercase digits, no path separators.
        Ok(self.dir.join("blobs").join("sha256").join(digest.digest()))
    }

    /// The whole blob, checked against its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(digest)?;
        let bytes = fs_err::read(&path).map_err(|source| LayoutError::Io {
            path: path.clone(),
            source,
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != digest.digest() {
            return Err(LayoutError::DigestMismatch {
                path,
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// A JSON blob (checked against its digest), parsed; `what` names it in errors.
    pub fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        digest: &Digest,
        what: &'static str,
    ) -> Result<T, LayoutError> {
        let bytes = self.read_blob(digest)?;
        self.parse(&bytes, digest, what)
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
        digest: &Digest,
        what: &'static str,
    ) -> Result<T, LayoutError> {
        serde_json::from_slice(bytes).map_err(|source| LayoutError::Parse {
            path: self.dir.join("blobs").join("sha256").join(digest.digest()),
            what,
            source,
        })
    }

    /// The first manifest the index lists that is not an artifact (the image a layout
    /// written here holds; its referrers, such as the SBOM, follow it with an
    /// `artifactType`).
    pub fn manifest(&self) -> Result<ManifestBlob, LayoutError> {
        let desc = self
            .index
            .manifests()
            .iter()
            .find(|d| d.artifact_type().is_none())
            .ok_or_else(|| LayoutError::NoManifest {
                path: self.dir.join("index.json"),
            })?;
        self.manifest_blob(desc.digest())
    }

    /// The manifest with `digest`, read and parsed.
    pub fn manifest_blob(&self, digest: &Digest) -> Result<ManifestBlob, LayoutError> {
        let bytes = self.read_blob(digest)?;
        let manifest = self.parse(&bytes, digest, "image manifest")?;
        Ok(ManifestBlob {
            digest: digest.clone(),
            bytes,
            manifest,
        })
    }
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

    /// The documents' bytes for a sample build, pinned: oci-spec builds them and
    /// emit/cjson.rs writes them, and they were checked equal to the hand-assembled JSON
    /// they replaced (an oci-spec update that adds or drops a field fails here, and in the
    /// golden digests, rather than silently changing every manifest digest). `armbe` is
    /// the name oci-spec 0.10 would rewrite as `arm64be`.
    #[test]
    fn documents_are_canonical_and_pinned() {
        let layers: Vec<LayerBlob> = (0..2u8)
            .map(|i| LayerBlob {
                name: format!("layer-{i}"),
                digest: format!("sha256:{}", hex::encode(Sha256::digest([i]))),
                size: 1000 * u64::from(i) + 512,
            })
            .collect();
        let mut s = Oci::default();
        s.annotations.insert(
            "org.opencontainers.image.created".into(),
            "profile loses".into(),
        );
        s.annotations.insert("a.custom".into(), "aa".into());
        s.version = Some("1.2".into());
        s.tag = "1.0".into();
        s.architecture = "armbe".into();
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        let d = documents(&layers, &s, 1_700_000_000, "sha256:lock", "diskless 0.1").unwrap();
        assert_eq!(
            text(d.config.clone()),
            r#"{"architecture":"armbe","config":{"Labels":{"a.custom":"aa","dev.diskless.lock.digest":"sha256:lock","org.opencontainers.image.created":"2023-11-14T22:13:20Z","org.opencontainers.image.version":"1.2"}},"created":"2023-11-14T22:13:20Z","history":[{"created":"2023-11-14T22:13:20Z","created_by":"diskless 0.1: layer-0"},{"created":"2023-11-14T22:13:20Z","created_by":"diskless 0.1: layer-1"}],"os":"linux","rootfs":{"diff_ids":["sha256:6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d","sha256:4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"],"type":"layers"}}"#
        );
        assert_eq!(
            text(d.manifest.clone()),
            r#"{"annotations":{"a.custom":"aa","dev.diskless.lock.digest":"sha256:lock","org.opencontainers.image.created":"2023-11-14T22:13:20Z","org.opencontainers.image.version":"1.2"},"config":{"digest":"sha256:4b2abf238a6f0b4668254cba6fbca05323a4776771cc9982555444bdaaf9bf0f","mediaType":"application/vnd.oci.image.config.v1+json","size":592},"layers":[{"annotations":{"org.opencontainers.image.title":"layer-0"},"digest":"sha256:6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d","mediaType":"application/vnd.oci.image.layer.v1.tar","size":512},{"annotations":{"org.opencontainers.image.title":"layer-1"},"digest":"sha256:4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a","mediaType":"application/vnd.oci.image.layer.v1.tar","size":1512}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}"#
        );
        assert_eq!(
            text(d.index.clone()),
            r#"{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"1.0"},"digest":"sha256:d9d6a26057e4c4c8e315f3dd666fc36de7670c41af42f41f922ef6a4423134ce","mediaType":"application/vnd.oci.image.manifest.v1+json","size":836}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}"#
        );
        // HashMap order never reaches the bytes.
        for _ in 0..5 {
            assert_eq!(
                documents(&layers, &s, 1_700_000_000, "sha256:lock", "diskless 0.1").unwrap(),
                d
            );
        }
        // No layers: empty lists, as before.
        let empty = text(documents(&[], &Oci::default(), 0, "l", "t").unwrap().config);
        assert!(
            empty.contains(r#""history":[],"os":"linux","rootfs":{"diff_ids":[],"type":"layers"}"#),
            "{empty}"
        );
    }

    #[test]
    fn layout_reads_back_what_was_written_and_checks_digests() {
        let dir = tempfile::tempdir().unwrap();
        let layers = [Layer {
            name: "boot".into(),
            entries: with_parents(vec![TarEntry {
                path: "var/lib/tftpboot/motd".into(),
                kind: TarKind::File(b"hello\n".to_vec()),
                mode: 0o644,
                uid: 0,
                gid: 0,
            }]),
        }];
        let img = write_layout(dir.path(), &layers, &Oci::default(), 0, "sha256:l", "t").unwrap();
        let layout = Layout::open(dir.path()).unwrap();
        let m = layout.manifest().unwrap();
        assert_eq!(m.digest.to_string(), img.manifest_digest);
        assert_eq!(m.manifest.config().digest().to_string(), img.config_digest);
        let config: serde_json::Value = layout
            .read_json(m.manifest.config().digest(), "image configuration")
            .unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], img.layer_digests[0]);
        let layer = m.manifest.layers()[0].digest();
        assert_eq!(
            layout.blob_path(layer).unwrap(),
            dir.path()
                .join("blobs/sha256")
                .join(img.layer_digests[0].trim_start_matches("sha256:"))
        );
        // A damaged blob is named, with both digests.
        let p = layout.blob_path(layer).unwrap();
        let mut bytes = fs_err::read(&p).unwrap();
        bytes[600] ^= 1;
        fs_err::write(&p, bytes).unwrap();
        let err = layout.read_blob(layer).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "Blob `{}` does not match its digest (expected {}, got sha256:",
                p.display(),
                img.layer_digests[0]
            )),
            "{err}"
        );
        let sha512 = Digest::try_from(format!("sha512:{}", "a".repeat(128))).unwrap();
        assert!(matches!(
            layout.blob_path(&sha512),
            Err(LayoutError::NotSha256 { .. })
        ));
        fs_err::write(
            dir.path().join("index.json"),
            r#"{"schemaVersion":2,"manifests":[]}"#,
        )
        .unwrap();
        let err = Layout::open(dir.path()).unwrap().manifest().unwrap_err();
        assert!(matches!(err, LayoutError::NoManifest { .. }), "{err}");
    }

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
