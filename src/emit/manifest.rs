//! `manifest.json`: what went into a build and what came out: profile and lock digests,
//! SOURCE_DATE_EPOCH and where it came from, tool and compressor versions, every package
//! (NEVRA and checksum), the boot files' origins, how the tree boots (the boot file of each
//! firmware, GRUB's prefix and config folders), the hosts (name and MAC: `diskless
//! boot-test --host` and per-host steps read them), the scriptlet report from rootfs, the
//! OCI digests and every artifact's digest. Canonical (sorted keys), so it is reproducible
//! too.

use super::compress;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const FILE_NAME: &str = "manifest.json";

/// One package that went into the build, as the lock pins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    /// `kind:hex`, as the lock pins it.
    pub checksum: String,
    pub name: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    /// The repository id it came from.
    pub repo: String,
    /// Hex sha256 of the RPM file: the lock's checksum when that is sha256, else what the
    /// fetcher computed (`None` when neither is known).
    pub sha256: Option<String>,
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

/// How clients boot the tftp tree: paths relative to its root (`tftpboot/`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boot {
    /// What DHCP offers BIOS clients (`pxelinux/pxelinux.0`), when served.
    pub bios_boot_file: Option<String>,
    /// What DHCP offers UEFI clients (`efi/bootx64.efi`), when served.
    pub uefi_boot_file: Option<String>,
    /// The prefix embedded in grubx64.efi, as read.
    pub grub_prefix: Option<String>,
    /// The folders holding `grub.cfg` (beside the loader, then GRUB's prefix).
    #[serde(default)]
    pub grub_cfg_dirs: Vec<String>,
}

/// A `[[host]]` of the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub name: String,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// The host's overlay, from the tftp root (`None`: the host boots the image alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
}

/// The parts of a manifest a reader of a build's output needs (`diskless boot-test`);
/// builds made before these were recorded read as the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub boot: Option<Boot>,
    #[serde(default)]
    pub hosts: Vec<HostRecord>,
    #[serde(default)]
    pub images: Vec<ImageSummary>,
}

/// An `images` record, as far as a reader needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ImageSummary {
    #[serde(default)]
    pub name: String,
    /// An initramfs root's archive (absent with a squashfs root).
    #[serde(default)]
    pub initramfs: InitramfsSummary,
    /// A squashfs root's small initrd and root image (absent with an initramfs root).
    #[serde(default)]
    pub initrd: Option<BytesSummary>,
    #[serde(default)]
    pub root_image: Option<RootImageSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BytesSummary {
    pub bytes: u64,
}

/// A squashfs root's image: `rootfs.img`, which the boot loader loads, or (`[image]
/// root_http`) the bare `root.squashfs`, which the initrd fetches from `url`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RootImageSummary {
    pub bytes: u64,
    /// From the tftp tree's root (`pxelinux/images/<name>/root.squashfs`); builds before it
    /// was recorded: `None`.
    #[serde(default)]
    pub path: Option<String>,
    /// Where the initrd fetches it (`http://{server}:8080/pxelinux/images/<name>/root.squashfs`,
    /// `{server}` being the boot server); `None`: the boot loader loads it.
    #[serde(default)]
    pub url: Option<String>,
}

impl ImageSummary {
    /// About what the node holds in RAM before its root runs: an initramfs unpacked next to
    /// its compressed copy; a squashfs root's files as loaded (the image stays compressed).
    pub fn ram_bytes(&self) -> u64 {
        // A fetched image is held in RAM too: the initrd downloads it into its rootfs.
        self.initramfs.uncompressed_bytes
            + self.initramfs.bytes
            + self.initrd.as_ref().map_or(0, |b| b.bytes)
            + self.root_image.as_ref().map_or(0, |b| b.bytes)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InitramfsSummary {
    /// Compressed.
    pub bytes: u64,
    pub uncompressed_bytes: u64,
}

pub struct ManifestParts<'a> {
    pub provenance: &'a Provenance,
    pub source_date_epoch: u64,
    pub source_date_epoch_from: &'a str,
    pub compression: String,
    pub images: Vec<Value>,
    pub boot_files: BTreeMap<String, String>,
    pub boot: Boot,
    pub hosts: Vec<HostRecord>,
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
        "boot": m.boot,
        "hosts": m.hosts,
        "scriptlets": m.scriptlets,
        "oci": m.oci,
        "artifacts": m.artifacts.iter().map(|(k, v)| (k.clone(), Value::String(format!("sha256:{v}")))).collect::<serde_json::Map<_, _>>(),
    })
}
