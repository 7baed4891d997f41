//! `manifest.json`: what went into a build and what came out: profile and lock digests,
//! SOURCE_DATE_EPOCH and where it came from, tool and compressor versions, every package
//! (NEVRA and checksum), the boot files' origins, the scriptlet report from rootfs, the OCI
//! digests and every artifact's digest. Canonical (sorted keys), so it is reproducible too.

use super::compress;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const FILE_NAME: &str = "manifest.json";

/// One package that went into the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    /// `kind:hex`, as the lock pins it.
    pub checksum: String,
}

/// What went into a build, as the plan read it from the profile and the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub profile_name: String,
    /// The profile's resolution digest.
    pub profile_digest: String,
    /// `sha256:<hex>` of the lockfile's bytes.
    pub lock_digest: String,
    /// The profile digest the lock was resolved from.
    pub lock_profile_digest: String,
    /// The image's packages and the boot packages.
    pub packages: Vec<PackageRecord>,
    pub boot_packages: Vec<PackageRecord>,
    /// Files outside the profile's folder the user allowed the build to read
    /// (`--allow-host-path`): the field, the path and the sha256 of what was read. Recorded
    /// only when there are some (the manifest of an ordinary build is unchanged).
    pub host_files: Vec<HostFileRecord>,
}

/// One allowed host file: where it is and a digest of what was read, never its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFileRecord {
    pub field: String,
    pub path: String,
    pub sha256: String,
}

fn packages(p: &[PackageRecord]) -> Value {
    let mut v: Vec<(String, String)> = p
        .iter()
        .map(|p| (p.nevra.clone(), p.checksum.clone()))
        .collect();
    v.sort();
    Value::Array(
        v.into_iter()
            .map(|(n, c)| json!({"nevra": n, "checksum": c}))
            .collect(),
    )
}

pub struct ManifestParts<'a> {
    pub provenance: &'a Provenance,
    pub source_date_epoch: u64,
    pub source_date_epoch_from: &'a str,
    pub compression: String,
    pub images: Vec<Value>,
    pub boot_files: BTreeMap<String, String>,
    pub scriptlets: &'a Value,
    pub oci: Value,
    pub artifacts: &'a BTreeMap<String, String>,
}

pub fn build(m: &ManifestParts<'_>) -> Value {
    let p = m.provenance;
    let mut v = body(m);
    if !p.host_files.is_empty()
        && let Some(obj) = v.as_object_mut()
    {
        let files = p
            .host_files
            .iter()
            .map(|h| json!({"field": h.field, "path": h.path, "sha256": format!("sha256:{}", h.sha256)}))
            .collect();
        obj.insert("host_files".into(), Value::Array(files));
    }
    v
}

fn body(m: &ManifestParts<'_>) -> Value {
    let p = m.provenance;
    json!({
        "tool": {"name": "diskless", "version": crate::VERSION},
        "profile": {"name": p.profile_name, "digest": p.profile_digest},
        "lock": {"digest": p.lock_digest, "profile_digest": p.lock_profile_digest},
        "source_date_epoch": {"value": m.source_date_epoch, "from": m.source_date_epoch_from},
        "mtime_rule": "every entry of every archive has mtime = SOURCE_DATE_EPOCH",
        "compression": {
            "initramfs": m.compression,
            "crates": {
                "flate2": compress::FLATE2_VERSION,
                "zlib-rs": compress::ZLIB_RS_VERSION,
                "zstd-sys": compress::ZSTD_SYS_VERSION,
                "liblzma-sys": compress::LIBLZMA_SYS_VERSION,
            },
        },
        "images": m.images,
        "packages": packages(&p.packages),
        "boot_packages": packages(&p.boot_packages),
        "boot_files": m.boot_files,
        "scriptlets": m.scriptlets,
        "oci": m.oci,
        "artifacts": m.artifacts.iter().map(|(k, v)| (k.clone(), Value::String(format!("sha256:{v}")))).collect::<serde_json::Map<_, _>>(),
    })
}
