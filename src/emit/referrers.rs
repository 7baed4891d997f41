//! OCI 1.1 referrers: artifacts (the SBOMs) attached to the image of the tftp tree.
//!
//! Each artifact is an image manifest with an `artifactType`, the empty config
//! (`application/vnd.oci.empty.v1+json`, `{}`), the artifact as its one layer and a
//! `subject` naming the image manifest, as the image spec 1.1 describes ("artifacts
//! guidance"). In the layout they are blobs listed in `index.json` after the image, with
//! their `artifactType` and without a ref name, so tools that open the image by its tag
//! (skopeo, umoci) see only the image, and tools that look for referrers find them.
//! `diskless push` uploads them after the image; for registries without the referrers
//! API it also maintains the fallback tag (`sha256-<hex of the subject digest>`), an index
//! of the subject's referrers ([`referrers_index`]).

use super::oci::{
    Layout, LayoutError, ManifestBlob, OciError, canonical, digest_of, io_err, put_blob, spec_err,
};
use oci_spec::image::{
    ANNOTATION_CREATED, ANNOTATION_TITLE, Descriptor, Digest, ImageIndex, ImageIndexBuilder,
    ImageManifestBuilder, MediaType, SCHEMA_VERSION,
};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// The empty JSON object the image spec uses as the config of artifacts.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// Its media type.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// One file to attach: its artifact type (also the layer's media type) and name.
#[derive(Debug, Clone, Copy)]
pub struct Artifact<'a> {
    pub artifact_type: &'a str,
    /// The file name, recorded as the layer's `org.opencontainers.image.title`.
    pub title: &'a str,
    pub data: &'a [u8],
}

/// An artifact manifest written into the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub artifact_type: String,
    /// `sha256:…` of the artifact manifest.
    pub digest: String,
    pub size: u64,
}

/// The empty config's descriptor, its bytes inline (`data`) as the spec suggests.
fn empty_config() -> Result<Descriptor, OciError> {
    let mut d = Descriptor::new(
        MediaType::EmptyJSON,
        EMPTY_CONFIG.len() as u64,
        digest_of(&hex::encode(Sha256::digest(EMPTY_CONFIG)))?,
    );
    d.set_data(Some("e30=".to_string()));
    Ok(d)
}

/// The canonical bytes of the artifact manifest for `artifact` about `subject`.
pub fn manifest(
    subject: &Descriptor,
    artifact: &Artifact<'_>,
    created: &str,
) -> Result<Vec<u8>, OciError> {
    let mut layer = Descriptor::new(
        MediaType::Other(artifact.artifact_type.to_string()),
        artifact.data.len() as u64,
        digest_of(&hex::encode(Sha256::digest(artifact.data)))?,
    );
    layer.set_annotations(Some(HashMap::from([(
        ANNOTATION_TITLE.to_string(),
        artifact.title.to_string(),
    )])));
    let m = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(artifact.artifact_type.to_string()))
        .config(empty_config()?)
        .layers(vec![layer])
        .subject(subject.clone())
        .annotations(HashMap::from([(
            ANNOTATION_CREATED.to_string(),
            created.to_string(),
        )]))
        .build()
        .map_err(spec_err("artifact manifest"))?;
    canonical(&m, "artifact manifest")
}

/// The descriptor of an artifact manifest as an index lists it: with its `artifactType`
/// and its annotations, as the referrers API returns them.
pub fn descriptor(
    bytes: &[u8],
    artifact_type: &str,
    created: &str,
) -> Result<Descriptor, OciError> {
    let mut d = Descriptor::new(
        MediaType::ImageManifest,
        bytes.len() as u64,
        digest_of(&hex::encode(Sha256::digest(bytes)))?,
    );
    d.set_artifact_type(Some(MediaType::Other(artifact_type.to_string())));
    d.set_annotations(Some(HashMap::from([(
        ANNOTATION_CREATED.to_string(),
        created.to_string(),
    )])));
    Ok(d)
}

/// Attach `artifacts` to the image of the layout in `dir`: write the blobs and the artifact
/// manifests, and list the manifests in `index.json` after what it lists already.
pub fn attach(
    dir: &Path,
    artifacts: &[Artifact<'_>],
    created: &str,
) -> Result<Vec<Referrer>, OciError> {
    let layout_err = |e: LayoutError| OciError::Layout(Box::new(e));
    let layout = Layout::open(dir).map_err(layout_err)?;
    let image = layout.manifest().map_err(layout_err)?;
    let subject = Descriptor::new(
        MediaType::ImageManifest,
        image.bytes.len() as u64,
        image.digest.clone(),
    );
    let blobs = dir.join("blobs").join("sha256");
    put_blob(&blobs, EMPTY_CONFIG)?;
    let mut index = layout.index().clone();
    let mut listed = index.manifests().clone();
    let mut out = Vec::new();
    for a in artifacts {
        put_blob(&blobs, a.data)?;
        let bytes = manifest(&subject, a, created)?;
        let digest = put_blob(&blobs, &bytes)?;
        listed.push(descriptor(&bytes, a.artifact_type, created)?);
        out.push(Referrer {
            artifact_type: a.artifact_type.to_string(),
            digest,
            size: bytes.len() as u64,
        });
    }
    index.set_manifests(listed);
    let p = dir.join("index.json");
    fs_err::write(&p, canonical(&index, "image index")?).map_err(io_err(&p))?;
    Ok(out)
}

/// The artifact manifests in `layout` whose subject is `subject`, in index order, with
/// their descriptors as the index lists them.
pub fn find(
    layout: &Layout,
    subject: &Digest,
) -> Result<Vec<(Descriptor, ManifestBlob)>, LayoutError> {
    let mut out = Vec::new();
    for d in layout.index().manifests() {
        if d.artifact_type().is_none() || d.media_type() != &MediaType::ImageManifest {
            continue;
        }
        let m = layout.manifest_blob(d.digest())?;
        if m.manifest.subject().as_ref().map(|s| s.digest()) == Some(subject) {
            out.push((d.clone(), m));
        }
    }
    Ok(out)
}

/// The fallback tag of the distribution spec for the referrers of `subject`
/// (`sha256:<hex>` -> `sha256-<hex>`).
pub fn fallback_tag(subject: &Digest) -> String {
    subject.to_string().replace(':', "-")
}

/// The referrers index for the fallback tag: what the registry lists already (`existing`,
/// kept in its order), then each of `ours` it does not list yet; canonical bytes.
pub fn referrers_index(
    existing: Vec<Descriptor>,
    ours: &[Descriptor],
) -> Result<Vec<u8>, OciError> {
    let mut all = existing;
    for d in ours {
        if !all.iter().any(|e| e.digest() == d.digest()) {
            all.push(d.clone());
        }
    }
    let index: ImageIndex = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(all)
        .build()
        .map_err(spec_err("referrers index"))?;
    canonical(&index, "referrers index")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::oci::{Layer, write_layout};
    use crate::emit::settings::Oci;
    use crate::emit::tarball::{TarEntry, TarKind};

    fn layout(dir: &Path) -> String {
        let layers = [Layer {
            name: "boot".into(),
            entries: vec![TarEntry {
                path: "motd".into(),
                kind: TarKind::File(b"hello\n".to_vec()),
                mode: 0o644,
                uid: 0,
                gid: 0,
            }],
        }];
        write_layout(dir, &layers, &Oci::default(), 0, "sha256:l", "t")
            .unwrap()
            .manifest_digest
    }

    #[test]
    fn attached_artifacts_follow_the_image_and_name_it_as_subject() {
        let dir = tempfile::tempdir().unwrap();
        let image = layout(dir.path());
        let spdx = br#"{"spdxVersion":"SPDX-2.3"}"#;
        let refs = attach(
            dir.path(),
            &[Artifact {
                artifact_type: "application/spdx+json",
                title: "sbom.spdx.json",
                data: spdx,
            }],
            "1970-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(refs.len(), 1);
        let layout = Layout::open(dir.path()).unwrap();
        // The image is still what the layout opens to.
        assert_eq!(layout.manifest().unwrap().digest.to_string(), image);
        let index =
            String::from_utf8(fs_err::read(dir.path().join("index.json")).unwrap()).unwrap();
        assert!(
            index.contains(&format!(
                r#"{{"annotations":{{"org.opencontainers.image.created":"1970-01-01T00:00:00Z"}},"artifactType":"application/spdx+json","digest":"{}","mediaType":"application/vnd.oci.image.manifest.v1+json","size":{}}}"#,
                refs[0].digest, refs[0].size
            )),
            "{index}"
        );
        let found = find(&layout, &image.parse().unwrap()).unwrap();
        assert_eq!(found.len(), 1);
        let (d, m) = &found[0];
        assert_eq!(m.digest.to_string(), refs[0].digest);
        assert_eq!(d.digest(), &m.digest);
        let text = String::from_utf8(m.bytes.clone()).unwrap();
        assert!(
            text.contains(r#""artifactType":"application/spdx+json","config":{"data":"e30=","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","mediaType":"application/vnd.oci.empty.v1+json","size":2}"#),
            "{text}"
        );
        assert_eq!(
            layout.read_blob(m.manifest.layers()[0].digest()).unwrap(),
            spdx
        );
        assert_eq!(
            layout.read_blob(m.manifest.config().digest()).unwrap(),
            EMPTY_CONFIG
        );
        // Another subject has no referrers.
        let other: Digest = format!("sha256:{}", "0".repeat(64)).parse().unwrap();
        assert!(find(&layout, &other).unwrap().is_empty());
        assert_eq!(fallback_tag(&other), format!("sha256-{}", "0".repeat(64)));
    }

    #[test]
    fn referrers_index_keeps_what_is_listed_and_adds_once() {
        let d = |b: &[u8], t: &str| descriptor(b, t, "x").unwrap();
        let (a, b) = (d(b"a", "application/x-a"), d(b"b", "application/spdx+json"));
        let one = referrers_index(vec![a.clone()], &[b.clone(), a.clone()]).unwrap();
        let again = referrers_index(vec![a, b.clone()], std::slice::from_ref(&b)).unwrap();
        assert_eq!(one, again);
        let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
        assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(v["manifests"][0]["artifactType"], "application/x-a");
        assert_eq!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
    }
}
