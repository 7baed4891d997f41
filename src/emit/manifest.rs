//! `manifest.json`: what went into a build and what came out: profile and lock digests,
//! SOURCE_DATE_EPOCH and where it came from, tool and compressor versions, every package
//! (NEVRA and checksum), the boot files' origins, the scriptlet report from rootfs, the OCI
//! digests and every artifact's digest. Canonical (sorted keys), so it is reproducible too.

use super::compress;
use crate::lock::{LockedPackage, Lockfile};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const FILE_NAME: &str = "manifest.json";

fn packages(p: &[LockedPackage]) -> Value {
    let mut v: Vec<(String, String)> = p
        .iter()
        .map(|p| (p.nevra(), p.checksum.to_string()))
        .collect();
    v.sort();
    Value::Array(
        v.into_iter()
            .map(|(n, c)| json!({"nevra": n, "checksum": c}))
            .collect(),
    )
}

pub struct ManifestParts<'a> {
    pub profile_name: &'a str,
    pub profile_digest: &'a str,
    pub lock_digest: &'a str,
    pub lock: &'a Lockfile,
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
    json!({
        "tool": {"name": "diskless", "version": crate::VERSION},
        "profile": {"name": m.profile_name, "digest": m.profile_digest},
        "lock": {"digest": m.lock_digest, "profile_digest": m.lock.profile_digest},
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
        "packages": packages(&m.lock.packages),
        "boot_packages": packages(&m.lock.boot_packages),
        "boot_files": m.boot_files,
        "scriptlets": m.scriptlets,
        "oci": m.oci,
        "artifacts": m.artifacts.iter().map(|(k, v)| (k.clone(), Value::String(format!("sha256:{v}")))).collect::<serde_json::Map<_, _>>(),
    })
}
