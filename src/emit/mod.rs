//! Emit: the deployable artifacts from an assembled tree: the cpio newc initramfs,
//! the kernel, the pxelinux/GRUB tftp tree, boot-service configs, the OCI image,
//! SHA256SUMS and the build manifest.
//!
//! [`emit`] writes everything into a temporary directory that the caller renames into
//! `--out` once it is complete. The output directory:
//!
//! ```text
//! tftpboot/                      the tree to serve (tftp root)
//!   pxelinux/pxelinux.0 ldlinux.c32 vesamenu.c32 libcom32.c32 libutil.c32
//!   pxelinux/pxelinux.cfg/default, 01-<mac>
//!   pxelinux/images/<name>/vmlinuz, initramfs.img (+ rootfs.img with `root = "squashfs"`)
//!   pxelinux/images/<name>/hosts/<host>.img   a [[host]]'s overlay, after the initramfs
//!   efi/bootx64.efi [mmx64.efi grubx64.efi] grub.cfg grub.cfg-01-<mac>
//!   <GRUB's embedded prefix, e.g. EFI/redhat>/grub.cfg grub.cfg-01-<mac>
//! config/                        dhcpd.conf kea-dhcp4.conf dnsmasq.conf dnsmasq-proxy.conf
//!                                xinetd.d/tftp systemd/tftp.{service,socket}.d/diskless.conf
//! oci/                           OCI image layout of tftpboot/ + config/, the SBOMs attached
//! image.oci.tar                  the same as an oci-archive
//! sbom.spdx.json sbom.cdx.json   what is in the build (SPDX 2.3, CycloneDX 1.6)
//! manifest.json SHA256SUMS
//! ```
//!
//! Every byte is a function of the inputs: sorted paths, mtimes = SOURCE_DATE_EPOCH, modes
//! set explicitly (0644 files, 0755 directories, whatever the umask), no host names or
//! paths, compression independent of thread count.

pub mod bootfiles;
pub mod cjson;
pub mod compress;
pub mod cpio;
pub mod dhcpd;
pub mod diff;
pub mod dnsmasq;
pub mod firmware;
pub mod grub;
pub mod grub_prefix;
pub mod initrd;
pub mod kea;
pub mod kernel;
pub mod manifest;
pub mod network;
pub mod oci;
pub mod pxe;
pub mod referrers;
pub mod sbom;
pub mod segments;
pub mod settings;
pub mod sqfs;
pub mod squashfs;
pub mod sums;
pub mod tarball;
pub mod userland;
pub mod xinetd;

pub use manifest::{HostFileRecord, PackageRecord, Provenance};

use crate::rootfs::header::PkgHeader;
use crate::rootfs::store::Store;
use crate::rootfs::tree::{EntryKind, Tree};
use serde_json::{Value, json};
use settings::EmitSettings;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use tarball::{TarEntry, TarKind};

/// The largest compressed initramfs we accept: x86 kernels load the initrd below
/// `initrd_addr_max` (2 GiB), and pxelinux cannot place a larger one either.
pub const MAX_INITRAMFS_BYTES: u64 = (2 << 30) - 1;
pub const TFTP_DIR: &str = "tftpboot";
pub const CONFIG_DIR: &str = "config";
pub const OCI_DIR: &str = "oci";
pub const OCI_ARCHIVE: &str = "image.oci.tar";

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Cpio(#[from] cpio::CpioError),
    #[error(transparent)]
    Kernel(#[from] kernel::KernelError),
    #[error(transparent)]
    BootFiles(#[from] bootfiles::BootFilesError),
    #[error(transparent)]
    Firmware(#[from] firmware::FirmwareError),
    #[error(transparent)]
    Network(#[from] network::NetworkError),
    #[error(transparent)]
    Oci(#[from] oci::OciError),
    #[error(transparent)]
    Sums(#[from] sums::SumsError),
    #[error(transparent)]
    Sbom(#[from] sbom::SbomError),
    #[error(transparent)]
    Initrd(#[from] initrd::InitrdError),
    #[error(transparent)]
    Squashfs(#[from] squashfs::SquashfsError),
    #[error("Cannot write `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "The initramfs of image `{image}` is {size} bytes compressed; the kernel and pxelinux load at most {limit} bytes. Largest packages: {largest}"
    )]
    InitramfsTooLarge {
        image: String,
        size: u64,
        limit: u64,
        largest: String,
    },
    #[error(
        "Image name `{name}` must be letters, digits, `.`, `_` or `-` (it becomes a directory and a menu label)"
    )]
    BadImageName { name: String },
    #[error("Two images are named `{name}`")]
    DuplicateImage { name: String },
    #[error("The menu's default `{name}` is not an entry of this build (nor `local`)")]
    UnknownDefault { name: String },
    #[error("Menu entry `{id}` boots image `{image}`, which this build does not make")]
    EntryImage { id: String, image: String },
    #[error("Two menu entries have the id `{id}`")]
    DuplicateEntry { id: String },
    #[error("No image to emit")]
    NoImages,
}

/// One image of the build: its tree and how it is booted.
#[derive(Debug, Clone)]
pub struct ImageInput<'a> {
    pub name: String,
    /// The menu label (default: the name).
    pub label: Option<String>,
    pub cmdline: String,
    /// Which kernel when the tree holds several.
    pub kernel_version: Option<String>,
    pub tree: &'a Tree,
    /// The headers of the packages installed into the tree (for the SBOM; a package of
    /// the provenance without a header here is described from the lock alone).
    pub packages: &'a [PkgHeader],
}

#[derive(Debug, Clone)]
pub struct EmitInputs<'a> {
    pub images: Vec<ImageInput<'a>>,
    pub store: &'a Store,
    /// Where compressed initramfs segments are kept between builds (`None`: compress
    /// every segment, keep none). The bytes do not depend on it.
    pub segment_cache: Option<&'a segments::SegmentCache>,
    /// What went into the build (profile, lock, packages), recorded in the manifest.
    pub provenance: Provenance,
    /// The boot packages' RPM files (the lock's `boot_package`s, from the cache).
    pub boot_rpms: Vec<PathBuf>,
    /// Every timestamp of every output (decided once by the plan).
    pub source_date_epoch: u64,
    /// Where the value came from (`env`, `profile` or `lock`), for the manifest.
    pub source_date_epoch_from: String,
    /// rootfs's scriptlet report, recorded as is.
    pub scriptlets: Value,
    pub settings: EmitSettings,
    /// Per-host overlays, in host order (empty: every node boots the image alone).
    pub host_overlays: Vec<HostOverlay>,
}

/// One host's overlay: the entries that make a node itself (rootfs::overlay), written as
/// its own archive and loaded after `image`'s initramfs by the host's menus.
#[derive(Debug, Clone)]
pub struct HostOverlay {
    /// The `[[host]]` name (settings.hosts).
    pub host: String,
    /// The image it was made against (its owners and network style).
    pub image: String,
    pub tree: Tree,
}

/// What was written, for the caller to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// Every file (relative path) and its sha256 hex, as in SHA256SUMS.
    pub files: BTreeMap<String, String>,
    pub oci: oci::OciImage,
    pub warnings: Vec<String>,
    /// The initramfs segments used (cache keys, every image's in order), for the build
    /// record that keeps them through `diskless cache gc`.
    pub segment_keys: Vec<String>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> EmitError + '_ {
    move |source| EmitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The directories and files emit writes get fixed modes, whatever the umask.
fn set_mode(path: &Path, mode: u32) -> Result<(), EmitError> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

fn mkdirs(root: &Path, rel: &str) -> Result<PathBuf, EmitError> {
    let mut p = root.to_path_buf();
    for c in rel.split('/').filter(|c| !c.is_empty()) {
        p.push(c);
        if !p.is_dir() {
            fs_err::create_dir(&p).map_err(io_err(&p))?;
            set_mode(&p, 0o755)?;
        }
    }
    Ok(p)
}

/// Which OCI layer a file of the tftp tree belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum LayerClass {
    BootLoaders,
    Image(usize),
    /// The host overlays: a layer of their own, so adding or changing a host leaves the
    /// image's layer (its digest, what a registry already holds) as it was.
    Hosts,
    Configs,
}

struct Writer<'p> {
    out: &'p Path,
    /// (path relative to out, layer)
    files: Vec<(String, LayerClass)>,
}

impl Writer<'_> {
    fn write(&mut self, rel: &str, data: &[u8], class: LayerClass) -> Result<(), EmitError> {
        let (dir, _) = rel.rsplit_once('/').unwrap_or(("", rel));
        mkdirs(self.out, dir)?;
        let p = self.out.join(rel);
        fs_err::write(&p, data).map_err(io_err(&p))?;
        set_mode(&p, 0o644)?;
        self.files.push((rel.to_string(), class));
        Ok(())
    }
}

fn largest_packages(tree: &Tree, n: usize) -> Vec<(String, u64)> {
    let mut by_pkg: BTreeMap<&str, u64> = BTreeMap::new();
    for e in tree.entries.values() {
        if let EntryKind::File { size, .. } = e.kind {
            *by_pkg
                .entry(e.owner_package.as_deref().unwrap_or("(generated)"))
                .or_default() += size;
        }
    }
    let mut v: Vec<(String, u64)> = by_pkg
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

fn fmt_largest(v: &[(String, u64)]) -> String {
    v.iter()
        .map(|(p, s)| format!("{p} ({:.1} MiB)", *s as f64 / 1048576.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_image_name(n: &str) -> bool {
    !n.is_empty()
        && n != "."
        && n != ".."
        && n != pxe::LOCAL
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// What the boot loader loads after `initramfs.img` for `image`: with a squashfs root,
/// `rootfs.img`, which carries the root image (unless the initrd fetches it over HTTP).
fn root_initrds(inputs: &EmitInputs<'_>, image: &str) -> Vec<String> {
    let s = &inputs.settings;
    match s.root {
        settings::RootKind::Squashfs if s.root_fetched_from().is_none() => {
            vec![s.layout.root_image(image)]
        }
        _ => Vec::new(),
    }
}

/// Whether the menus pass the boot loader's network settings on: the initrd needs them to
/// fetch the root image over HTTP.
fn net_args(inputs: &EmitInputs<'_>) -> bool {
    inputs.settings.root_fetched_from().is_some()
}

/// The menu: one entry per image, then the extra entries; ids unique, default known.
fn menu_entries(inputs: &EmitInputs<'_>) -> Result<Vec<pxe::MenuEntry>, EmitError> {
    let menu = &inputs.settings.menu;
    let mut entries: Vec<pxe::MenuEntry> = inputs
        .images
        .iter()
        .map(|i| pxe::MenuEntry {
            id: i.name.clone(),
            label: i.label.clone().unwrap_or_else(|| i.name.clone()),
            image: i.name.clone(),
            cmdline: i.cmdline.clone(),
            extra_initrds: root_initrds(inputs, &i.name),
            net_args: net_args(inputs),
        })
        .collect();
    for x in &menu.extra_entries {
        let image = x
            .image
            .clone()
            .or_else(|| inputs.images.first().map(|i| i.name.clone()))
            .unwrap_or_default();
        if !inputs.images.iter().any(|i| i.name == image) {
            return Err(EmitError::EntryImage {
                id: x.id.clone(),
                image,
            });
        }
        if !valid_image_name(&x.id) {
            return Err(EmitError::BadImageName { name: x.id.clone() });
        }
        entries.push(pxe::MenuEntry {
            id: x.id.clone(),
            label: x.label.clone(),
            extra_initrds: root_initrds(inputs, &image),
            net_args: net_args(inputs),
            image,
            cmdline: x.cmdline.clone(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &entries {
        if !seen.insert(e.id.as_str()) {
            return Err(EmitError::DuplicateEntry { id: e.id.clone() });
        }
    }
    let known = |id: &str| id == pxe::LOCAL && menu.local_boot || seen.contains(id);
    if let Some(d) = &menu.default
        && !known(d)
    {
        return Err(EmitError::UnknownDefault { name: d.clone() });
    }
    for h in &inputs.settings.hosts {
        if let Some(img) = &h.image
            && !known(img)
        {
            return Err(EmitError::Network(network::NetworkError::UnknownImage {
                host: h.name.clone(),
                image: img.clone(),
            }));
        }
    }
    Ok(entries)
}

/// Write every artifact into `out_tmp` (created if missing, expected empty): the steps
/// below, in order. A feature adds a step here (and a [`LayerClass`] when its files form an
/// OCI layer of their own); the order of the steps is the order of the files in the OCI
/// layers, so it is part of the output.
pub fn emit(inputs: &EmitInputs<'_>, out_tmp: &Path) -> Result<Artifacts, EmitError> {
    let checked = check(inputs)?;
    // `uefi = auto` decided: every step below sees on or off.
    let mut resolved = inputs.clone();
    resolved.settings.menu.uefi = if checked.served.uefi {
        settings::Uefi::On
    } else {
        settings::Uefi::Off
    };
    let inputs = &resolved;
    let mut e = Emission::start(inputs, out_tmp, &checked.boot)?;
    e.warnings.extend(checked.served.warnings.iter().cloned());
    e.boot_loaders(&checked.boot)?;
    for (i, (img, k)) in inputs.images.iter().zip(&checked.kernels).enumerate() {
        e.image(i, img, k)?;
    }
    e.host_overlays()?;
    e.menus()?;
    e.service_configs()?;
    let mut oci = e.oci_image()?;
    e.sbom(&mut oci)?;
    e.oci_archive()?;
    e.manifest_and_sums(oci)
}

/// What the checks found before anything is written.
struct Checked {
    /// One kernel per image, in image order.
    kernels: Vec<kernel::Kernel>,
    boot: bootfiles::BootFiles,
    /// Which clients the tree serves, and why.
    served: firmware::Served,
}

/// Everything that can be checked before writing: image names, the network, the menu,
/// cpio limits, one kernel per image and the boot loaders.
fn check(inputs: &EmitInputs<'_>) -> Result<Checked, EmitError> {
    let s = &inputs.settings;
    if inputs.images.is_empty() {
        return Err(EmitError::NoImages);
    }
    let mut names: Vec<String> = Vec::new();
    for img in &inputs.images {
        if !valid_image_name(&img.name) {
            return Err(EmitError::BadImageName {
                name: img.name.clone(),
            });
        }
        if names.contains(&img.name) {
            return Err(EmitError::DuplicateImage {
                name: img.name.clone(),
            });
        }
        names.push(img.name.clone());
    }
    network::validate(s.dhcp.as_ref(), &s.hosts)?;
    menu_entries(inputs)?;
    for img in &inputs.images {
        cpio::check_sizes(img.tree)?;
    }
    let kernels = inputs
        .images
        .iter()
        .map(|i| kernel::find(&i.name, i.tree, i.kernel_version.as_deref()))
        .collect::<Result<_, _>>()?;
    let boot = bootfiles::read(&inputs.boot_rpms, s.menu.bios)?;
    let served = firmware::decide(&s.menu, &boot)?;
    Ok(Checked {
        kernels,
        boot,
        served,
    })
}

/// The state emit's steps share: the inputs, the files written so far (with their OCI
/// layer) and what the manifest will record.
struct Emission<'i, 'a> {
    inputs: &'i EmitInputs<'a>,
    w: Writer<'i>,
    warnings: Vec<String>,
    /// The "generated by" line every config starts with.
    comment: String,
    /// Boot loader path in the output -> the package file it came from.
    boot_origins: BTreeMap<String, String>,
    /// The manifest's `images` records, in image order.
    images: Vec<Value>,
    /// The first file UEFI clients load, when the build serves UEFI (shim, else GRUB).
    efi_first: Option<&'i bootfiles::BootFile>,
    /// Cache keys of the initramfs segments written.
    segment_keys: Vec<String>,
    /// sha256 of files hashed as they were written (relative path -> hex).
    known: BTreeMap<String, String>,
    /// Files being hashed on other threads (relative path, the thread).
    hashing: Vec<(
        String,
        std::thread::JoinHandle<Result<String, sums::SumsError>>,
    )>,
    /// The folders (relative to the tftp root) that get `grub.cfg` and the per-host GRUB
    /// menus: the loader's own, then the one GRUB's embedded prefix names.
    grub_dirs: Vec<String>,
    /// GRUB's embedded prefix, as read from the image.
    grub_prefix: Option<String>,
}

/// `tftpboot/<rel>`.
fn tftp(rel: &str) -> String {
    format!("{TFTP_DIR}/{rel}")
}

/// `config/<rel>`.
fn config(rel: &str) -> String {
    format!("{CONFIG_DIR}/{rel}")
}

impl<'i, 'a> Emission<'i, 'a> {
    /// Create the output folder; decide which EFI binary clients load first.
    fn start(
        inputs: &'i EmitInputs<'a>,
        out: &'i Path,
        boot: &'i bootfiles::BootFiles,
    ) -> Result<Emission<'i, 'a>, EmitError> {
        fs_err::create_dir_all(out).map_err(io_err(out))?;
        set_mode(out, 0o755)?;
        let efi_first = match (&boot.shim, &boot.grub) {
            _ if !inputs.settings.menu.uefi.is_on() => None,
            (Some(shim), _) => Some(shim),
            (None, Some(grub)) => Some(grub),
            (None, None) => None,
        };
        Ok(Emission {
            inputs,
            w: Writer {
                out,
                files: Vec::new(),
            },
            warnings: Vec::new(),
            comment: format!(
                "Generated by diskless {}; do not edit (rebuild instead).",
                crate::VERSION
            ),
            boot_origins: BTreeMap::new(),
            images: Vec::new(),
            efi_first,
            segment_keys: Vec::new(),
            known: BTreeMap::new(),
            hashing: Vec::new(),
            grub_dirs: vec![inputs.settings.layout.efi_dir.trim_matches('/').to_string()],
            grub_prefix: None,
        })
    }

    /// pxelinux and its modules; shim (or GRUB) as the EFI boot file, with GRUB and
    /// MokManager beside shim.
    fn boot_loaders(&mut self, boot: &bootfiles::BootFiles) -> Result<(), EmitError> {
        let lay = &self.inputs.settings.layout;
        for (name, f) in &boot.pxelinux {
            let rel = tftp(&format!("{}/{name}", lay.pxelinux_dir));
            self.w.write(&rel, &f.data, LayerClass::BootLoaders)?;
            self.boot_origins.insert(rel, f.origin.clone());
        }
        // Why a tree serves no UEFI client is firmware::decide's warning.
        let Some(first) = self.efi_first else {
            return Ok(());
        };
        let rel = tftp(&lay.efi_boot_file());
        self.w.write(&rel, &first.data, LayerClass::BootLoaders)?;
        self.boot_origins.insert(rel, first.origin.clone());
        if boot.shim.is_some() {
            // shim loads grubx64.efi (and mmx64.efi) from its own directory.
            for (name, f) in [("grubx64.efi", &boot.grub), ("mmx64.efi", &boot.mokmanager)] {
                if let Some(f) = f {
                    let rel = tftp(&format!("{}/{name}", lay.efi_dir));
                    self.w.write(&rel, &f.data, LayerClass::BootLoaders)?;
                    self.boot_origins.insert(rel, f.origin.clone());
                }
            }
        }
        if let Some(grub) = &boot.grub {
            self.grub_config_dirs(grub);
        }
        Ok(())
    }

    /// Add the folder GRUB's embedded prefix names to [`Emission::grub_dirs`]; warn when
    /// the prefix cannot be read or names no folder of the tftp tree.
    fn grub_config_dirs(&mut self, grub: &bootfiles::BootFile) {
        let beside = format!("{}/grub.cfg", self.grub_dirs[0]);
        let prefix = match grub_prefix::embedded(&grub.data) {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                self.warnings.push(format!(
                    "cannot read the prefix embedded in grubx64.efi ({}): {e}; grub.cfg is only beside the loader (`{beside}`)",
                    grub.origin
                ));
                return;
            }
        };
        match grub_prefix::config_dir(&prefix) {
            grub_prefix::ConfigDir::Beside => {}
            grub_prefix::ConfigDir::Dir(d) => {
                if !self.grub_dirs.contains(&d) {
                    self.grub_dirs.push(d);
                }
            }
            grub_prefix::ConfigDir::Unusable => self.warnings.push(format!(
                "grubx64.efi ({}) looks for its config under the prefix `{prefix}`, which names no folder of the tftp tree: grub.cfg is only beside the loader (`{beside}`)",
                grub.origin
            )),
        }
        self.grub_prefix = Some(prefix);
    }

    /// Image `i`'s kernel and initramfs.
    fn image(
        &mut self,
        i: usize,
        img: &ImageInput<'_>,
        k: &kernel::Kernel,
    ) -> Result<(), EmitError> {
        let (s, out) = (&self.inputs.settings, self.w.out);
        let class = LayerClass::Image(i);
        let krel = tftp(&s.layout.kernel(&img.name));
        let (kdir, _) = krel.rsplit_once('/').unwrap_or(("", &krel));
        mkdirs(out, kdir)?;
        let kpath = out.join(&krel);
        let src = self.inputs.store.path(&k.digest);
        fs_err::copy(&src, &kpath).map_err(io_err(&kpath))?;
        set_mode(&kpath, 0o644)?;
        self.w.files.push((krel, class));

        let irel = tftp(&s.layout.initramfs(&img.name));
        let ipath = out.join(&irel);
        if s.root == settings::RootKind::Squashfs {
            return self.squashfs_image(class, img, k, &irel);
        }
        // A plain std File: cached segments are copied into it by the kernel
        // (copy_file_range), never through a buffer.
        let f = std::fs::File::create(&ipath).map_err(io_err(&ipath))?;
        let stats = segments::write(
            img.tree,
            self.inputs.store,
            self.inputs.source_date_epoch,
            s.compression,
            self.inputs.segment_cache,
            f,
        )?;
        self.segment_keys.extend(stats.keys.iter().cloned());
        set_mode(&ipath, 0o644)?;
        // Its sha256 (for SHA256SUMS) on another thread, while the OCI image is written.
        let p = ipath.clone();
        self.hashing.push((
            irel.clone(),
            std::thread::spawn(move || sums::file_sha256(&p)),
        ));
        self.w.files.push((irel, class));
        let size = fs_err::metadata(&ipath).map_err(io_err(&ipath))?.len();
        self.check_initramfs_size(img, size)?;
        self.images.push(json!({
            "name": img.name,
            "cmdline": img.cmdline,
            "kernel": {"version": k.version, "path": k.path, "sha256": k.digest.to_hex()},
            "initramfs": {"entries": stats.entries, "uncompressed_bytes": stats.bytes, "bytes": size, "segments": stats.segments, "layout": segments::FORMAT},
        }));
        Ok(())
    }

    /// A squashfs root: the small initrd at `irel` (where an initramfs root's initramfs
    /// goes), then `rootfs.img` with the root image; or, with `root_http`, the bare image
    /// `root.squashfs` beside it, which the initrd fetches.
    fn squashfs_image(
        &mut self,
        class: LayerClass,
        img: &ImageInput<'_>,
        k: &kernel::Kernel,
        irel: &str,
    ) -> Result<(), EmitError> {
        let (s, out, store) = (&self.inputs.settings, self.w.out, self.inputs.store);
        let sde = self.inputs.source_date_epoch;
        let base = s.root_fetched_from();
        let rel = match base {
            Some(_) => s.layout.root_squashfs(&img.name),
            None => s.layout.root_image(&img.name),
        };
        let rrel = tftp(&rel);
        let rpath = out.join(&rrel);
        // Built beside the output's files, then carried into rootfs.img (and removed) or
        // renamed into place.
        let tmp = out.join(".root.squashfs.tmp");
        let sq = squashfs::write(img.tree, store, sde, s.compression, &tmp)?;
        let (parts, rbytes, fetch) = match base {
            None => {
                let wrapped = squashfs::wrap(&tmp, sde, &rpath, s.root_chunk_bytes)?;
                fs_err::remove_file(&tmp).map_err(io_err(&tmp))?;
                (wrapped.parts, wrapped.bytes, None)
            }
            Some(base) => {
                fs_err::rename(&tmp, &rpath).map_err(io_err(&rpath))?;
                // The script checks it; SHA256SUMS lists the same digest.
                let sha256 = sums::file_sha256(&rpath)?;
                self.known.insert(rrel.clone(), sha256.clone());
                let fetch = initrd::Fetch {
                    url: format!("{base}/{rel}"),
                    sha256,
                    size: sq.bytes,
                };
                (vec![sq.bytes], sq.bytes, Some(fetch))
            }
        };
        set_mode(&rpath, 0o644)?;

        // The initrd after the root image: its init joins the image's parts, if any, or
        // fetches the image with the NIC drivers: the named ones must be there, of the
        // defaults those the kernel has.
        let kdir = initrd::modules_dir(img.tree, &k.version);
        let fs = initrd::MODULES.iter().copied();
        let (wanted, optional): (Vec<&str>, &[&str]) = match (&fetch, &s.net_modules) {
            (None, _) => (fs.collect(), &[]),
            (Some(_), Some(named)) => (fs.chain(named.iter().map(String::as_str)).collect(), &[]),
            (Some(_), None) => (fs.collect(), &initrd::DEFAULT_NET_MODULES),
        };
        let modules = initrd::modules(img.tree, store, &kdir, &k.version, &wanted, optional)?;
        let delivery = match &fetch {
            Some(f) => initrd::Delivery::Fetched(f),
            None => initrd::Delivery::Loaded { parts: &parts },
        };
        let itree = initrd::tree(img.tree, store, &kdir, &modules, delivery, sde)?;
        let ipath = out.join(irel);
        let istats =
            self.write_archive(&itree, &ipath, squashfs::initrd_compression(s.compression))?;
        self.w.files.push((irel.to_string(), class));
        let hash = [irel.to_string()]
            .into_iter()
            .chain(fetch.is_none().then(|| rrel.clone()));
        for rel in hash {
            let p = out.join(&rel);
            self.hashing
                .push((rel, std::thread::spawn(move || sums::file_sha256(&p))));
        }
        self.w.files.push((rrel, class));
        let isize = fs_err::metadata(&ipath).map_err(io_err(&ipath))?.len();
        // What the boot loader loads: a fetched image is not its business.
        self.check_initramfs_size(img, isize + if fetch.is_some() { 0 } else { rbytes })?;
        let mut root_image = json!({
            "path": rel,
            "entries": sq.entries,
            "squashfs_bytes": sq.bytes,
            "bytes": rbytes,
            "parts": parts.len(),
            "files_with_xattrs": sq.with_xattrs,
            "compression": squashfs::compressor_name(s.compression),
        });
        if let Some(f) = &fetch {
            root_image["url"] = json!(f.url);
            root_image["sha256"] = json!(f.sha256);
        }
        self.images.push(json!({
            "name": img.name,
            "cmdline": img.cmdline,
            "kernel": {"version": k.version, "path": k.path, "sha256": k.digest.to_hex()},
            "root": "squashfs",
            "initrd": {
                "entries": istats.entries,
                "bytes": isize,
                "modules": modules.iter().map(|m| format!("{kdir}/{}", m.rel)).collect::<Vec<_>>(),
            },
            "root_image": root_image,
        }));
        Ok(())
    }

    /// `tree` as one newc archive at `path`, compressed with `compression`.
    fn write_archive(
        &self,
        tree: &Tree,
        path: &Path,
        compression: compress::Compression,
    ) -> Result<cpio::CpioStats, EmitError> {
        let f = std::fs::File::create(path).map_err(io_err(path))?;
        let mut z =
            compress::Compressor::new(compression, io::BufWriter::new(f)).map_err(io_err(path))?;
        let stats = cpio::write_tree(
            tree,
            self.inputs.store,
            self.inputs.source_date_epoch,
            &mut z,
        )?;
        z.finish()
            .and_then(|w| w.into_inner().map_err(io::Error::from))
            .and_then(|f| f.sync_all())
            .map_err(io_err(path))?;
        set_mode(path, 0o644)?;
        Ok(stats)
    }

    /// Too large for the kernel and pxelinux: an error; above the warning size: a warning.
    /// Both name the largest packages.
    fn check_initramfs_size(&mut self, img: &ImageInput<'_>, size: u64) -> Result<(), EmitError> {
        let s = &self.inputs.settings;
        let largest = largest_packages(img.tree, 20);
        if size > MAX_INITRAMFS_BYTES {
            return Err(EmitError::InitramfsTooLarge {
                image: img.name.clone(),
                size,
                limit: MAX_INITRAMFS_BYTES,
                largest: fmt_largest(&largest),
            });
        }
        if size > s.warn_initramfs_bytes {
            let msg = format!(
                "the initramfs of `{}` is {:.1} MiB compressed (above {:.1} MiB; it is loaded over TFTP and unpacked into RAM). Largest packages: {}",
                img.name,
                size as f64 / 1048576.0,
                s.warn_initramfs_bytes as f64 / 1048576.0,
                fmt_largest(&largest)
            );
            tracing::warn!("{msg}");
            self.warnings.push(msg);
        }
        Ok(())
    }

    /// Each host's overlay: a newc archive of its entries, compressed like the image.
    fn host_overlays(&mut self) -> Result<(), EmitError> {
        let (s, out) = (&self.inputs.settings, self.w.out);
        for o in &self.inputs.host_overlays {
            let rel = tftp(&s.layout.host_overlay(&o.image, &o.host));
            let (dir, _) = rel.rsplit_once('/').unwrap_or(("", &rel));
            mkdirs(out, dir)?;
            let path = out.join(&rel);
            let stats = match s.root {
                settings::RootKind::Initramfs => {
                    self.write_archive(&o.tree, &path, s.compression)?
                }
                // Unpacked into the initrd, under the overlay's top lower layer.
                settings::RootKind::Squashfs => {
                    self.write_archive(&under(&o.tree, initrd::HOST_LAYER), &path, s.compression)?
                }
            };
            self.w.files.push((rel, LayerClass::Hosts));
            tracing::debug!(host = %o.host, entries = stats.entries, "host overlay written");
        }
        Ok(())
    }

    /// Menus: pxelinux for BIOS, GRUB for UEFI, the same entries, per-host variants: a
    /// host with an overlay always gets its own menu, which loads the overlay after the
    /// image it was made for.
    fn menus(&mut self) -> Result<(), EmitError> {
        let s = &self.inputs.settings;
        let entries = menu_entries(self.inputs)?;
        let default = pxe::default_id(&s.menu, &entries);
        let comment = self.comment.clone();
        self.menu_files(&entries, &default, None, None, &comment)?;
        for h in &s.hosts {
            let overlays: Vec<&HostOverlay> = self
                .inputs
                .host_overlays
                .iter()
                .filter(|o| o.host == h.name)
                .collect();
            if !s.menu.per_host_files && overlays.is_empty() {
                continue;
            }
            let Ok(mac) = h.mac.parse::<crate::net::addr::Mac>() else {
                continue;
            };
            let mut hentries = entries.clone();
            for e in &mut hentries {
                for o in overlays.iter().filter(|o| o.image == e.image) {
                    e.extra_initrds
                        .push(s.layout.host_overlay(&o.image, &o.host));
                }
            }
            let name = mac.pxelinux_name();
            let hdefault = h.image.clone().unwrap_or_else(|| default.clone());
            let hcomment = format!("{} Host `{}`.", self.comment, h.name);
            self.menu_files(
                &hentries,
                &hdefault,
                h.cmdline.as_deref(),
                Some(&name),
                &hcomment,
            )?;
        }
        Ok(())
    }

    /// One menu in both formats (BIOS when enabled, UEFI when a UEFI loader is served):
    /// `pxelinux.cfg/default` and `grub.cfg`, or for a host's file name (`01-<mac>`)
    /// `pxelinux.cfg/<host>` and `grub.cfg-<host>`.
    fn menu_files(
        &mut self,
        entries: &[pxe::MenuEntry],
        default: &str,
        cmdline: Option<&str>,
        host: Option<&str>,
        comment: &str,
    ) -> Result<(), EmitError> {
        let (menu, lay) = (&self.inputs.settings.menu, &self.inputs.settings.layout);
        if menu.bios {
            let name = host.unwrap_or("default");
            let text = pxe::config(menu, lay, entries, default, cmdline, comment);
            self.w.write(
                &tftp(&format!("{}/pxelinux.cfg/{name}", lay.pxelinux_dir)),
                text.as_bytes(),
                LayerClass::Configs,
            )?;
        }
        if self.efi_first.is_some() {
            let name = match host {
                None => "grub.cfg".to_string(),
                Some(host) => format!("grub.cfg-{host}"),
            };
            let text = grub::config(menu, lay, entries, default, cmdline, comment);
            for dir in &self.grub_dirs {
                let rel = match dir.as_str() {
                    "" => name.clone(),
                    d => format!("{d}/{name}"),
                };
                self.w
                    .write(&tftp(&rel), text.as_bytes(), LayerClass::Configs)?;
            }
        }
        Ok(())
    }

    /// The boot services' configs: xinetd and systemd for tftp; dhcpd, Kea and dnsmasq
    /// (full and proxy) when the profile has a `[dhcp]` network.
    fn service_configs(&mut self) -> Result<(), EmitError> {
        let s = &self.inputs.settings;
        let (lay, comment) = (&s.layout, self.comment.as_str());
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            ("xinetd.d/tftp", xinetd::xinetd(lay, comment).into_bytes()),
            (
                "systemd/tftp.service.d/diskless.conf",
                xinetd::systemd_service(lay, comment).into_bytes(),
            ),
            (
                "systemd/tftp.socket.d/diskless.conf",
                xinetd::systemd_socket(comment).into_bytes(),
            ),
        ];
        if let Some(d) = &s.dhcp {
            files.extend([
                (
                    "dhcpd.conf",
                    dhcpd::config(d, &s.hosts, lay, &s.menu, comment).into_bytes(),
                ),
                (
                    "kea-dhcp4.conf",
                    cjson::to_pretty(&kea::config(d, &s.hosts, lay, &s.menu, comment)),
                ),
                (
                    "dnsmasq.conf",
                    dnsmasq::full(d, &s.hosts, lay, &s.menu, comment).into_bytes(),
                ),
                (
                    "dnsmasq-proxy.conf",
                    dnsmasq::proxy(d, lay, &s.menu, comment).into_bytes(),
                ),
            ]);
        }
        for (rel, data) in files {
            self.w.write(&config(rel), &data, LayerClass::Configs)?;
        }
        Ok(())
    }

    /// The OCI image layout of tftpboot/ + config/.
    fn oci_image(&mut self) -> Result<oci::OciImage, EmitError> {
        let (s, out) = (&self.inputs.settings, self.w.out);
        let sde = self.inputs.source_date_epoch;
        let layers = self.oci_layers()?;
        let tool = format!("diskless {}", crate::VERSION);
        let oci_dir = out.join(OCI_DIR);
        let image = oci::write_layout(
            &oci_dir,
            &layers,
            &s.oci,
            sde,
            &self.inputs.provenance.lock_digest,
            &tool,
        )?;
        // Digests known from writing: SHA256SUMS does not read these files again.
        for d in &image.layer_digests {
            let hex = d.trim_start_matches("sha256:");
            self.known
                .insert(format!("{OCI_DIR}/blobs/sha256/{hex}"), hex.to_string());
        }
        Ok(image)
    }

    /// The SBOMs of the build (SPDX and CycloneDX: every image and boot package), next to
    /// the other artifacts and attached to the OCI image as referrers.
    fn sbom(&mut self, image: &mut oci::OciImage) -> Result<(), EmitError> {
        let (inputs, out) = (self.inputs, self.w.out);
        let (p, s) = (&inputs.provenance, &inputs.settings);
        let boot =
            crate::rootfs::read_headers(&inputs.boot_rpms).map_err(sbom::SbomError::BootHeaders)?;
        let os = match inputs.images.first() {
            Some(i) => sbom::os_release(&i.name, i.tree, inputs.store)?,
            None => None,
        };
        let bom = sbom::collect(sbom::Inputs {
            subject: sbom::Subject {
                name: p.profile_name.clone(),
                manifest_digest: image.manifest_digest.clone(),
                tag: s.oci.tag.clone(),
                version: s.oci.version.clone(),
                profile_digest: p.profile_digest.clone(),
                lock_digest: p.lock_digest.clone(),
            },
            packages: &p.packages,
            boot_packages: &p.boot_packages,
            image_headers: inputs.images.iter().flat_map(|i| i.packages).collect(),
            boot_headers: &boot,
            source_date_epoch: inputs.source_date_epoch,
            os,
        });
        let (spdx, cdx) = sbom::documents(&bom);
        for (name, data) in [(sbom::SPDX_FILE, &spdx), (sbom::CDX_FILE, &cdx)] {
            let path = out.join(name);
            fs_err::write(&path, data).map_err(io_err(&path))?;
            set_mode(&path, 0o644)?;
        }
        let artifacts = [
            (sbom::SPDX_MEDIA_TYPE, sbom::SPDX_FILE, &spdx),
            (sbom::CDX_MEDIA_TYPE, sbom::CDX_FILE, &cdx),
        ]
        .map(|(artifact_type, title, data)| referrers::Artifact {
            artifact_type,
            title,
            data,
        });
        image.referrers = referrers::attach(
            &out.join(OCI_DIR),
            &artifacts,
            &oci::rfc3339(inputs.source_date_epoch),
        )?;
        Ok(())
    }

    /// The OCI layout packed as an oci-archive; then the output's modes.
    fn oci_archive(&mut self) -> Result<(), EmitError> {
        let out = self.w.out;
        let archive = oci::write_archive(
            &out.join(OCI_DIR),
            &out.join(OCI_ARCHIVE),
            self.inputs.source_date_epoch,
        )?;
        self.known.insert(OCI_ARCHIVE.to_string(), archive);
        fix_modes(out)
    }

    /// One layer per [`LayerClass`], the files at their paths in the image (under the
    /// OCI root and config root), in the order they were written.
    fn oci_layers(&self) -> Result<Vec<oci::Layer>, EmitError> {
        let (s, out) = (&self.inputs.settings, self.w.out);
        let oci_root = s.oci.root.trim_matches('/').to_string();
        let cfg_root = s.oci.config_root.trim_matches('/').to_string();
        let mut by_class: BTreeMap<LayerClass, Vec<TarEntry>> = BTreeMap::new();
        for (rel, class) in &self.w.files {
            let in_image = if let Some(r) = rel.strip_prefix(&format!("{TFTP_DIR}/")) {
                format!("{oci_root}/{r}")
            } else if let Some(r) = rel.strip_prefix(&format!("{CONFIG_DIR}/")) {
                format!("{cfg_root}/{r}")
            } else {
                continue;
            };
            let p = out.join(rel);
            let size = fs_err::metadata(&p).map_err(io_err(&p))?.len();
            by_class.entry(*class).or_default().push(TarEntry {
                path: in_image,
                kind: TarKind::FileFrom { path: p, size },
                mode: 0o644,
                uid: 0,
                gid: 0,
            });
        }
        let layers: Vec<oci::Layer> = by_class
            .into_iter()
            .map(|(class, entries)| oci::Layer {
                name: match class {
                    LayerClass::BootLoaders => "boot loaders".to_string(),
                    LayerClass::Image(i) => {
                        format!("image {}: kernel and initramfs", self.inputs.images[i].name)
                    }
                    LayerClass::Hosts => "host overlays".to_string(),
                    LayerClass::Configs => "menus and boot-service configs".to_string(),
                },
                entries: oci::with_parents(entries),
            })
            .collect();
        Ok(layers)
    }

    /// The manifest, then SHA256SUMS over everything (the manifest included).
    fn manifest_and_sums(mut self, image: oci::OciImage) -> Result<Artifacts, EmitError> {
        let (inputs, out) = (self.inputs, self.w.out);
        for (rel, h) in std::mem::take(&mut self.hashing) {
            let digest = h.join().map_err(|_| EmitError::Io {
                path: out.join(&rel),
                source: io::Error::other("the thread hashing it panicked"),
            })??;
            self.known.insert(rel, digest);
        }
        let s = &inputs.settings;
        let uefi = self.efi_first.is_some();
        let boot = manifest::Boot {
            bios_boot_file: s.menu.bios.then(|| s.layout.bios_boot_file()),
            uefi_boot_file: uefi.then(|| s.layout.efi_boot_file()),
            grub_prefix: self.grub_prefix.clone().filter(|_| uefi),
            grub_cfg_dirs: if uefi { self.grub_dirs } else { Vec::new() },
        };
        let hosts = s
            .hosts
            .iter()
            .map(|h| manifest::HostRecord {
                name: h.name.clone(),
                // Validated by `check`; the canonical form (lowercase, `:`) for readers.
                mac: h
                    .mac
                    .parse::<crate::net::addr::Mac>()
                    .map_or_else(|_| h.mac.clone(), |m| m.to_string()),
                overlay: inputs
                    .host_overlays
                    .iter()
                    .find(|o| o.host == h.name)
                    .map(|o| s.layout.host_overlay(&o.image, &o.host)),
            })
            .collect();
        let artifacts =
            sums::digest_tree_known(out, &[sums::FILE_NAME, manifest::FILE_NAME], &self.known)?;
        let m = manifest::build(&manifest::ManifestParts {
            provenance: &inputs.provenance,
            source_date_epoch: inputs.source_date_epoch,
            source_date_epoch_from: &inputs.source_date_epoch_from,
            compression: s.compression.describe(),
            images: self.images,
            boot_files: self.boot_origins,
            boot,
            hosts,
            scriptlets: &inputs.scriptlets,
            oci: json!({
                "manifest_digest": image.manifest_digest,
                "config_digest": image.config_digest,
                "layers": image.layer_digests,
                "referrers": image.referrers.iter().map(|r| json!({
                    "artifactType": r.artifact_type,
                    "digest": r.digest,
                })).collect::<Vec<_>>(),
                "root": s.oci.root,
                "config_root": s.oci.config_root,
                "tag": s.oci.tag,
            }),
            artifacts: &artifacts,
        });
        let mp = out.join(manifest::FILE_NAME);
        fs_err::write(&mp, cjson::to_pretty(&m)).map_err(io_err(&mp))?;
        set_mode(&mp, 0o644)?;
        let mut files = artifacts;
        files.insert(manifest::FILE_NAME.to_string(), sums::file_sha256(&mp)?);
        let sp = out.join(sums::FILE_NAME);
        fs_err::write(&sp, sums::render(&files)).map_err(io_err(&sp))?;
        set_mode(&sp, 0o644)?;
        Ok(Artifacts {
            files,
            oci: image,
            warnings: self.warnings,
            segment_keys: self.segment_keys,
        })
    }
}

/// `tree` moved under the folder `dir` (`/etc/hostname` -> `<dir>/etc/hostname`), with
/// `dir`'s parents as 0755 root folders.
fn under(tree: &Tree, dir: &str) -> Tree {
    let mut t = Tree::default();
    if let Some(root) = tree.get("/") {
        let mut p = crate::rootfs::paths::parent(dir);
        while let Some(d) = p {
            let folder = crate::rootfs::tree::Entry {
                kind: EntryKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                ..root.clone()
            };
            t.insert(d, folder);
            p = crate::rootfs::paths::parent(d);
        }
    }
    for (path, e) in &tree.entries {
        let p = if path == "/" {
            dir.to_string()
        } else {
            format!("{dir}{path}")
        };
        t.insert(p, e.clone());
    }
    t
}

/// Everything under the output gets 0755 directories and 0644 files (the OCI writer and
/// the archive use fs defaults, which follow the umask).
fn fix_modes(root: &Path) -> Result<(), EmitError> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        set_mode(&d, 0o755)?;
        for e in fs_err::read_dir(&d).map_err(io_err(&d))? {
            let e = e.map_err(io_err(&d))?;
            let p = e.path();
            if e.file_type().map_err(io_err(&p))?.is_dir() {
                stack.push(p);
            } else {
                set_mode(&p, 0o644)?;
            }
        }
    }
    Ok(())
}
