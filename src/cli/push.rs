//! `diskless push OUT REF`: upload the build's OCI image (OUT/oci) to a registry and print
//! the manifest digest. The manifest is sent as the exact bytes of the layout, so the
//! registry's digest is the one in SHA256SUMS/manifest.json: anyone can check that what
//! the cluster pulls is what was built.
//!
//! Then the artifacts attached to the image in the layout (the SBOMs, OCI 1.1 referrers)
//! are uploaded by digest. A registry with the referrers API lists them by itself; for one
//! without it (the distribution spec's fallback), the index under the tag
//! `sha256-<hex of the image digest>` gets them added to what it lists already.
//!
//! Auth, first found: `DISKLESS_REGISTRY_TOKEN` (bearer), `DISKLESS_REGISTRY_USER` +
//! `DISKLESS_REGISTRY_PASSWORD`, then the `auths` of `REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json` or `~/.docker/config.json`; else anonymous.
//! The tokio runtime lives inside this command only.

use super::GlobalArgs;
use super::hint::HintExt;
use anyhow::Context;
use base64::Engine;
use clap::Args;
use diskless::emit::{OCI_DIR, oci, referrers};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use oci_spec::image::{Descriptor, Digest, MediaType};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The build output directory holding the OCI layout
    pub out: PathBuf,
    /// The reference to push to (registry/name:tag)
    pub reference: String,
    /// Talk plain HTTP to the registry (a local test registry without TLS)
    #[arg(long)]
    pub plain_http: bool,
}

/// What is pushed: the manifest's exact bytes, and the blobs it names (config, then
/// layers), read from the layout; then the artifacts attached to it.
struct Push {
    layout: oci::Layout,
    manifest: oci::ManifestBlob,
    blobs: Vec<Digest>,
    /// The referrers (their index descriptor, manifest and blobs).
    referrers: Vec<(Descriptor, oci::ManifestBlob, Vec<Digest>)>,
}

/// The config's and the layers' digests of a manifest, each checked to be one this layout
/// can hold (before talking to the registry).
fn blobs_of(layout: &oci::Layout, m: &oci::ManifestBlob) -> anyhow::Result<Vec<Digest>> {
    let blobs: Vec<Digest> = std::iter::once(m.manifest.config())
        .chain(m.manifest.layers())
        .map(|d| d.digest().clone())
        .collect();
    for d in &blobs {
        layout.blob_path(d)?;
    }
    Ok(blobs)
}

fn read_layout(dir: &Path) -> anyhow::Result<Push> {
    let layout = oci::Layout::open(dir)?;
    let manifest = layout.manifest()?;
    let blobs = blobs_of(&layout, &manifest)?;
    let referrers = referrers::find(&layout, &manifest.digest)?
        .into_iter()
        .map(|(d, m)| {
            let b = blobs_of(&layout, &m)?;
            Ok((d, m, b))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Push {
        layout,
        manifest,
        blobs,
        referrers,
    })
}

/// Upload the blobs the registry does not have yet.
async fn push_blobs(
    client: &Client,
    reference: &Reference,
    layout: &oci::Layout,
    blobs: &[Digest],
) -> anyhow::Result<()> {
    let registry = reference.resolve_registry();
    for blob in blobs {
        let digest = blob.to_string();
        if client
            .blob_exists(reference, &digest)
            .await
            .unwrap_or(false)
        {
            tracing::info!(%digest, "blob already in the registry");
            continue;
        }
        // Checked against its digest here: a damaged layout fails with the file named,
        // not with a registry's digest error.
        let data = layout.read_blob(blob)?;
        tracing::info!(%digest, bytes = data.len(), "uploading blob");
        client
            .push_blob(reference, data, &digest)
            .await
            .with_context(|| format!("Cannot upload blob `{digest}` to `{registry}`"))?;
    }
    Ok(())
}

/// Upload the referrers by digest; then, unless the registry lists them already (its
/// referrers API, or an earlier push's fallback tag), add them to the fallback tag's index.
async fn push_referrers(
    client: &Client,
    reference: &Reference,
    auth: &RegistryAuth,
    push: &Push,
) -> anyhow::Result<()> {
    if push.referrers.is_empty() {
        return Ok(());
    }
    let ct = reqwest::header::HeaderValue::from_str(MediaType::ImageManifest.as_ref())?;
    for (_, m, blobs) in &push.referrers {
        push_blobs(client, reference, &push.layout, blobs).await?;
        let by_digest = reference.clone_with_digest(m.digest.to_string());
        client
            .push_manifest_raw(&by_digest, m.bytes.clone(), ct.clone())
            .await
            .with_context(|| format!("Cannot upload the artifact manifest `{}`", m.digest))?;
        eprintln!("attached {} as {}", artifact_type(&m.manifest), m.digest);
    }
    let tag = referrers::fallback_tag(&push.manifest.digest);
    let tagged = Reference::with_tag(
        reference.registry().to_string(),
        reference.repository().to_string(),
        tag.clone(),
    );
    let subject = reference.clone_with_digest(push.manifest.digest.to_string());
    // oci-client asks the referrers API and, on 404, reads the fallback tag itself. A
    // registry that answers the API with another error gets the fallback read here: what
    // the tag lists must be kept, never overwritten on a guess.
    let listed = match client.pull_referrers(&subject, None).await {
        Ok(index) => index.manifests,
        Err(e) => {
            tracing::debug!(error = %e, "referrers API failed; reading the fallback tag");
            match client
                .pull_manifest_raw(&tagged, auth, &[MediaType::ImageIndex.as_ref()])
                .await
            {
                Ok((bytes, _)) => {
                    serde_json::from_slice::<oci_client::manifest::OciImageIndex>(&bytes)
                        .with_context(|| format!("The index under tag `{tag}` does not parse"))?
                        .manifests
                }
                Err(OciDistributionError::ImageManifestNotFoundError(_))
                | Err(OciDistributionError::ServerError { code: 404, .. }) => Vec::new(),
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("Cannot read the referrers tag `{tag}`"));
                }
            }
        }
    };
    let ours: Vec<Descriptor> = push.referrers.iter().map(|(d, _, _)| d.clone()).collect();
    if ours
        .iter()
        .all(|d| listed.iter().any(|e| e.digest == d.digest().to_string()))
    {
        return Ok(());
    }
    let existing = listed
        .iter()
        .map(|e| serde_json::to_value(e).and_then(serde_json::from_value))
        .collect::<Result<Vec<Descriptor>, _>>()
        .context("The registry's referrers index does not parse")?;
    let index = referrers::referrers_index(existing, &ours)?;
    let ct = reqwest::header::HeaderValue::from_str(MediaType::ImageIndex.as_ref())?;
    client
        .push_manifest_raw(&tagged, index, ct)
        .await
        .with_context(|| format!("Cannot upload the referrers index as tag `{tag}`"))?;
    tracing::info!(%tag, "referrers listed under the fallback tag");
    Ok(())
}

fn artifact_type(m: &oci_spec::image::ImageManifest) -> String {
    m.artifact_type()
        .as_ref()
        .map_or_else(|| "an artifact".to_string(), |t| t.to_string())
}

/// The `auths` entry for `registry` in a docker/containers auth file, as user and password.
fn auth_from_file(path: &Path, registry: &str) -> anyhow::Result<Option<(String, String)>> {
    let v: serde_json::Value = serde_json::from_slice(&fs_err::read(path)?)
        .with_context(|| format!("`{}` is not JSON", path.display()))?;
    let Some(auths) = v["auths"].as_object() else {
        return Ok(None);
    };
    // Keys may be `host`, `host/path` or `https://host/...`; match on the host.
    let host_of = |k: &str| {
        let k = k
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        k.split('/').next().unwrap_or(k).to_string()
    };
    let mut keys: Vec<&String> = auths.keys().collect();
    keys.sort();
    for k in keys {
        if host_of(k) != registry {
            continue;
        }
        if let Some(a) = auths[k]["auth"].as_str() {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .with_context(|| {
                    format!("`auths.{k}.auth` in `{}` is not base64", path.display())
                })?;
            let text = String::from_utf8(raw)?;
            if let Some((u, p)) = text.split_once(':') {
                return Ok(Some((u.to_string(), p.to_string())));
            }
        }
    }
    Ok(None)
}

fn auth(registry: &str) -> anyhow::Result<RegistryAuth> {
    if let Ok(t) = std::env::var("DISKLESS_REGISTRY_TOKEN")
        && !t.is_empty()
    {
        return Ok(RegistryAuth::Bearer(t));
    }
    if let (Ok(u), Ok(p)) = (
        std::env::var("DISKLESS_REGISTRY_USER"),
        std::env::var("DISKLESS_REGISTRY_PASSWORD"),
    ) {
        return Ok(RegistryAuth::Basic(u, p));
    }
    let mut files = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(f));
    }
    if let Some(r) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(PathBuf::from(r).join("containers/auth.json"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        files.push(PathBuf::from(h).join(".docker/config.json"));
    }
    for f in files.iter().filter(|f| f.is_file()) {
        if let Some((u, p)) = auth_from_file(f, registry)? {
            tracing::debug!(file = %f.display(), "registry credentials");
            return Ok(RegistryAuth::Basic(u, p));
        }
    }
    Ok(RegistryAuth::Anonymous)
}

pub fn run(args: PushArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    let dir = args.out.join(OCI_DIR);
    let push = read_layout(&dir)
        .with_context(|| format!("Cannot read the OCI layout in `{}`", dir.display()))
        .hint("build first: `diskless build PROFILE --out DIR`, then `diskless push DIR REF`")?;
    let reference: Reference = args
        .reference
        .parse()
        .with_context(|| format!("`{}` is not an image reference", args.reference))
        .hint("write it as registry/name:tag, e.g. registry.example.com/cluster/tftp:1.0")?;
    let registry = reference.resolve_registry().to_string();
    let auth = auth(&registry)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = if args.plain_http {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    let client = Client::new(ClientConfig {
        protocol,
        ..Default::default()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        client
            .auth(&reference, &auth, RegistryOperation::Push)
            .await
            .with_context(|| format!("Cannot authenticate to `{registry}`"))
            .hint("set REGISTRY_AUTH_FILE (podman/skopeo login) or DISKLESS_REGISTRY_TOKEN")?;
        push_blobs(&client, &reference, &push.layout, &push.blobs).await?;
        let ct = reqwest::header::HeaderValue::from_str(MediaType::ImageManifest.as_ref())?;
        client
            .push_manifest_raw(&reference, push.manifest.bytes.clone(), ct)
            .await
            .with_context(|| format!("Cannot upload the manifest to `{}`", args.reference))?;
        push_referrers(&client, &reference, &auth, &push)
            .await
            .with_context(|| format!("Cannot attach the SBOMs to `{}`", args.reference))?;
        anyhow::Ok(())
    })?;
    println!("{}", push.manifest.digest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auth_by_host() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("auth.json");
        fs_err::write(&f, r#"{"auths":{"https://reg.example:5000/v1/":{"auth":"dXNlcjpwYTpzcw=="},"other.example":{"auth":"eDp5"}}}"#).unwrap();
        assert_eq!(
            auth_from_file(&f, "reg.example:5000").unwrap(),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(auth_from_file(&f, "none.example").unwrap(), None);
    }
}
