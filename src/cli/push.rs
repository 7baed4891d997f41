//! `diskless push OUT REF`: upload the build's OCI image (OUT/oci) to a registry and print
//! the manifest digest. The manifest is sent as the exact bytes of the layout, so the
//! registry's digest is the one in SHA256SUMS/manifest.json: anyone can check that what
//! the cluster pulls is what was built.
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
use diskless::emit::{OCI_DIR, oci};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use oci_spec::image::{Digest, MediaType};
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
/// layers), read from the layout.
struct Push {
    layout: oci::Layout,
    manifest: oci::ManifestBlob,
    blobs: Vec<Digest>,
}

fn read_layout(dir: &Path) -> anyhow::Result<Push> {
    let layout = oci::Layout::open(dir)?;
    let manifest = layout.manifest()?;
    let blobs: Vec<Digest> = std::iter::once(manifest.manifest.config())
        .chain(manifest.manifest.layers())
        .map(|d| d.digest().clone())
        .collect();
    // Refuse a digest this layout cannot hold before talking to the registry.
    for d in &blobs {
        layout.blob_path(d)?;
    }
    Ok(Push {
        layout,
        manifest,
        blobs,
    })
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
        for blob in &push.blobs {
            let digest = blob.to_string();
            if client
                .blob_exists(&reference, &digest)
                .await
                .unwrap_or(false)
            {
                tracing::info!(%digest, "blob already in the registry");
                continue;
            }
            // Checked against its digest here: a damaged layout fails with the file named,
            // not with a registry's digest error.
            let data = push.layout.read_blob(blob)?;
            tracing::info!(%digest, bytes = data.len(), "uploading blob");
            client
                .push_blob(&reference, data, &digest)
                .await
                .with_context(|| format!("Cannot upload blob `{digest}` to `{registry}`"))?;
        }
        let ct = reqwest::header::HeaderValue::from_str(MediaType::ImageManifest.as_ref())?;
        client
            .push_manifest_raw(&reference, push.manifest.bytes.clone(), ct)
            .await
            .with_context(|| format!("Cannot upload the manifest to `{}`", args.reference))?;
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
