//! What emit needs to know beyond the tree: compression, the tftp layout, the boot menu,
//! the network (DHCP) and the hosts, the OCI image. The plan fills these from the profile
//! (`plan::inputs::emit_settings`); defaults follow the recipe (`/var/lib/tftpboot`,
//! `pxelinux/`, gzip -9).

use super::compress::Compression;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmitSettings {
    pub compression: Compression,
    /// Warn (listing the 20 largest packages) when the compressed initramfs exceeds this.
    pub warn_initramfs_bytes: u64,
    pub layout: Layout,
    pub menu: Menu,
    pub dhcp: Option<Dhcp>,
    pub hosts: Vec<Host>,
    pub oci: Oci,
    /// How nodes get their root filesystem.
    pub root: RootKind,
    /// A squashfs root image larger than this travels in parts of this size.
    pub root_chunk_bytes: u64,
    /// A squashfs root fetched over HTTP by the initrd from this base URL (no trailing
    /// `/`; `{server}` is the boot server), instead of `rootfs.img` from the boot loader.
    pub root_http: Option<String>,
    /// The network drivers that initrd loads; `None`: the usual ones the kernel has.
    pub net_modules: Option<Vec<String>>,
}

/// How nodes get their root filesystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    /// The tree as the initramfs.
    #[default]
    Initramfs,
    /// A small initrd, then `rootfs.img` carrying the tree as a squashfs image.
    Squashfs,
}

impl EmitSettings {
    /// The base URL the initrd fetches the root image from: `root_http` of a squashfs
    /// root (`None`: the boot loader loads the image, or the root is the initramfs).
    pub fn root_fetched_from(&self) -> Option<&str> {
        match self.root {
            RootKind::Squashfs => self.root_http.as_deref(),
            RootKind::Initramfs => None,
        }
    }
}

impl Default for EmitSettings {
    fn default() -> Self {
        EmitSettings {
            compression: Compression::default(),
            warn_initramfs_bytes: 1 << 30,
            layout: Layout::default(),
            menu: Menu::default(),
            dhcp: None,
            hosts: Vec::new(),
            oci: Oci::default(),
            root: RootKind::default(),
            root_chunk_bytes: 1 << 30,
            root_http: None,
            net_modules: None,
        }
    }
}

/// Where things go inside the tftp tree (relative paths) and where the tree is served from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Layout {
    /// The tftp server's root directory on the boot server (xinetd `server_args -s`).
    pub tftp_root: String,
    /// pxelinux.0, the .c32 modules and pxelinux.cfg/ live here.
    pub pxelinux_dir: String,
    /// `<images_dir>/<name>/{vmlinuz,initramfs.img}`, relative to the tftp root.
    pub images_dir: String,
    /// bootx64.efi, grubx64.efi, mmx64.efi and grub.cfg.
    pub efi_dir: String,
    /// The path of in.tftpd on the boot server.
    pub tftpd: String,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            tftp_root: "/var/lib/tftpboot".into(),
            pxelinux_dir: "pxelinux".into(),
            images_dir: "pxelinux/images".into(),
            efi_dir: "efi".into(),
            tftpd: "/usr/sbin/in.tftpd".into(),
        }
    }
}

impl Layout {
    pub fn bios_boot_file(&self) -> String {
        format!("{}/pxelinux.0", self.pxelinux_dir)
    }
    pub fn efi_boot_file(&self) -> String {
        format!("{}/bootx64.efi", self.efi_dir)
    }
    pub fn kernel(&self, image: &str) -> String {
        format!("{}/{image}/vmlinuz", self.images_dir)
    }
    pub fn initramfs(&self, image: &str) -> String {
        format!("{}/{image}/initramfs.img", self.images_dir)
    }
    /// A squashfs root's `rootfs.img`, loaded after the initrd (`initramfs.img`).
    pub fn root_image(&self, image: &str) -> String {
        format!("{}/{image}/rootfs.img", self.images_dir)
    }
    /// A squashfs root image fetched over HTTP (`[image] root_http`): the bare image.
    pub fn root_squashfs(&self, image: &str) -> String {
        format!("{}/{image}/root.squashfs", self.images_dir)
    }
    /// A host's overlay, loaded after the image's initramfs by the host's menus.
    pub fn host_overlay(&self, image: &str, host: &str) -> String {
        format!("{}/{image}/hosts/{host}.img", self.images_dir)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Menu {
    pub title: String,
    /// Tenths of a second before the default entry boots (pxelinux's unit; GRUB gets
    /// seconds, rounded up).
    pub timeout_tenths: u32,
    /// The entry booted by default (an entry id, or `local` for the local disk); default:
    /// the first image.
    pub default: Option<String>,
    /// Add a "boot from local disk" entry (id `local`).
    pub local_boot: bool,
    /// Write `pxelinux.cfg/01-<mac>` (and `grub.cfg-01-<mac>`) for every host.
    pub per_host_files: bool,
    /// Serve BIOS clients (pxelinux); the boot packages must carry pxelinux.0.
    pub bios: bool,
    /// Serve UEFI clients (shim/GRUB). [`emit`](super::emit) resolves `Auto` from the boot
    /// packages before any file is written, so the steps only see `On` or `Off`.
    pub uefi: Uefi,
    /// More entries booting one of the images with another command line.
    pub extra_entries: Vec<ExtraEntry>,
}

impl Default for Menu {
    fn default() -> Self {
        Menu {
            title: "Diskless boot".into(),
            timeout_tenths: 50,
            default: None,
            local_boot: true,
            per_host_files: true,
            bios: true,
            uefi: Uefi::Auto,
            extra_entries: Vec::new(),
        }
    }
}

/// Whether the tree serves UEFI clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Uefi {
    /// When the boot packages carry shimx64.efi or grubx64.efi.
    #[default]
    Auto,
    /// Required: a build without a UEFI loader fails.
    On,
    Off,
}

impl Uefi {
    /// Served (after `emit` resolved `Auto`).
    pub fn is_on(self) -> bool {
        self == Uefi::On
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraEntry {
    /// The entry id (pxelinux `LABEL`, GRUB `--id`); unique among entries.
    pub id: String,
    pub label: String,
    /// The image it boots; default: the first image.
    #[serde(default)]
    pub image: Option<String>,
    /// Replaces the image's command line.
    pub cmdline: String,
}

/// The boot network, as dhcpd's `subnet` block describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dhcp {
    pub subnet: Ipv4Addr,
    pub netmask: Ipv4Addr,
    /// The tftp server (`next-server`).
    pub next_server: Ipv4Addr,
    #[serde(default)]
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    #[serde(default)]
    pub routers: Option<Ipv4Addr>,
    #[serde(default)]
    pub dns_servers: Vec<Ipv4Addr>,
    #[serde(default)]
    pub domain_name: Option<String>,
    /// The interface the DHCP server listens on (dnsmasq, kea); all when unset.
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default = "default_lease")]
    pub lease_secs: u32,
}

fn default_lease() -> u32 {
    43200
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Short name (dhcpd `host` block, kea/dnsmasq host name when `hostname` is unset).
    pub name: String,
    /// The (fully qualified) host name DHCP hands out; default: `name`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// `aa:bb:cc:dd:ee:ff` (any case, `-` or `:` separated).
    pub mac: String,
    pub ip: Ipv4Addr,
    /// The image this host boots by default in its per-host menu.
    #[serde(default)]
    pub image: Option<String>,
    /// Appended to every entry's command line in the host's per-host menu.
    #[serde(default)]
    pub cmdline: Option<String>,
}

impl Host {
    pub fn dhcp_hostname(&self) -> &str {
        self.hostname.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Oci {
    /// Where the tftp tree sits inside the image.
    pub root: String,
    /// Where the boot-service configs sit inside the image.
    pub config_root: String,
    /// `org.opencontainers.image.ref.name` in index.json.
    pub tag: String,
    pub source: Option<String>,
    pub revision: Option<String>,
    pub version: Option<String>,
    pub title: Option<String>,
    /// Image architecture in the OCI config.
    pub architecture: String,
    /// More manifest annotations (and config labels), e.g. from the profile's `[oci]`.
    pub annotations: BTreeMap<String, String>,
    /// The repository `diskless push` uses when given only a tag.
    pub name: Option<String>,
}

impl Default for Oci {
    fn default() -> Self {
        Oci {
            root: "/var/lib/tftpboot".into(),
            config_root: "/etc/diskless".into(),
            tag: "latest".into(),
            source: None,
            revision: None,
            version: None,
            title: None,
            architecture: "amd64".into(),
            annotations: BTreeMap::new(),
            name: None,
        }
    }
}
