//! The resolved profile: what the rest of the pipeline reads. Every value here has been
//! checked, defaults are filled in, relative paths are absolute, `.repo` files are read and
//! `$releasever`/`$basearch` are substituted. Maps are `BTreeMap`s and lists keep a defined
//! order, so serializing a `Profile` is deterministic.

use super::values::{AutoBool, Compression, serialize_mode};
use crate::net::Timeouts;
use crate::net::addr::{Ipv4Net, Mac};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A loaded, validated profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// The profile file, as given.
    pub path: PathBuf,
    /// Its folder (absolute): relative paths in the profile resolve against it.
    pub dir: PathBuf,
    pub image: Image,
    /// dnf variables (`[vars]`, like /etc/dnf/vars), plus `releasever`, `basearch`, `arch`.
    pub vars: BTreeMap<String, String>,
    /// Enabled repositories, inline `[[repo]]` and those read from `repo_files`, sorted by id.
    pub repos: Vec<RepoConfig>,
    pub packages: Packages,
    pub boot: Boot,
    pub root: Root,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub files: Vec<FileSpec>,
    pub dirs: Vec<DirSpec>,
    /// Includes `/init -> sbin/init` unless `image.init_symlink = false` or the profile
    /// defines `/init` itself.
    pub symlinks: Vec<Symlink>,
    /// Globs of image paths removed after packages and customisations are applied.
    pub remove: Vec<String>,
    pub services: Services,
    pub hostname: Option<String>,
    /// Lines of /etc/fstab, as written (comment lines allowed); see [`Profile::fstab_entries`].
    pub fstab: Vec<String>,
    /// Leave /etc/machine-id empty so systemd treats every boot as a first boot (applies
    /// presets, makes a fresh id per node). Default true.
    pub empty_machine_id: bool,
    /// `[main]` options set in /etc/dnf/dnf.conf (and /etc/yum.conf where it is a file),
    /// e.g. the recipe's `diskspacecheck = 0`. Values as dnf reads them.
    pub dnf: BTreeMap<String, String>,
    pub network: Network,
    pub pxe: Pxe,
    pub dhcp: Option<Dhcp>,
    pub hosts: Vec<Host>,
    pub oci: Oci,
    /// Files outside the profile's folder the build reads because the command line allowed
    /// them (`--allow-host-path`); the manifest records each with its digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_files: Vec<HostFile>,
}

/// A host file outside the profile's folder that a field names, allowed by the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostFile {
    /// The field naming it (`file[0].source`, `root.password_file`, `repo_files`).
    pub field: String,
    /// The path as the profile names it (relative ones joined to the profile's folder).
    pub path: PathBuf,
}

/// One non-comment line of `fstab`, split into its six fields (dump and pass default to 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FstabEntry {
    pub spec: String,
    pub file: String,
    pub vfstype: String,
    pub options: String,
    pub freq: u32,
    pub passno: u32,
}

impl Profile {
    /// The fstab lines that are not comments, split into fields (checked at load time).
    pub fn fstab_entries(&self) -> Vec<FstabEntry> {
        self.fstab
            .iter()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let field = |i: usize| f.get(i).copied().unwrap_or("").to_string();
                let num = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
                FstabEntry {
                    spec: field(0),
                    file: field(1),
                    vfstype: field(2),
                    options: field(3),
                    freq: num(4),
                    passno: num(5),
                }
            })
            .collect()
    }
}

/// CPU architectures diskless builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub enum Arch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "aarch64")]
    Aarch64,
    #[serde(rename = "ppc64le")]
    Ppc64le,
    #[serde(rename = "s390x")]
    S390x,
}

impl Arch {
    pub fn as_str(&self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }
    /// dnf's `$basearch` (the same string for these four).
    pub fn basearch(&self) -> &'static str {
        self.as_str()
    }
    /// Package architectures installable on this arch, best first (`noarch` last).
    pub fn compatible(&self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &["x86_64", "noarch"],
            Arch::Aarch64 => &["aarch64", "noarch"],
            Arch::Ppc64le => &["ppc64le", "noarch"],
            Arch::S390x => &["s390x", "noarch"],
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// Names `images/<name>/` in the tftp tree and the PXE menu entry.
    pub name: String,
    pub arch: Arch,
    /// dnf's `$releasever`, e.g. "9" or "9.4".
    pub releasever: String,
    pub compression: Compression,
    /// Pinned SOURCE_DATE_EPOCH; `None` means derive it from the lock (the env var wins).
    pub source_date_epoch: Option<u64>,
    /// Write the rpm database into the image (`rpm -qa`, `rpm -V`, dnf and scanners).
    pub rpmdb: bool,
    /// How the node gets its root filesystem.
    #[serde(skip_serializing_if = "ImageRoot::is_initramfs")]
    pub root: ImageRoot,
    /// A squashfs root image larger than this many MiB travels in parts of it inside
    /// rootfs.img (`None`: 1024).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_chunk_mib: Option<u32>,
    /// With a squashfs root: the initrd fetches the root image over HTTP from this base URL
    /// (the tftp tree served by a web server; `{server}` is the boot server) instead of the
    /// boot loader loading it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_http: Option<String>,
    /// The network drivers that initrd loads (`None`: the usual ones the kernel has,
    /// `emit::initrd::DEFAULT_NET_MODULES`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_modules: Option<Vec<String>>,
}

/// In `[image] root_http`: the boot server's address, as the node's boot loader saw it.
pub const ROOT_HTTP_SERVER: &str = "{server}";

/// How the node gets its root filesystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageRoot {
    /// The whole tree as the initramfs, unpacked into RAM (the recipe's way).
    #[default]
    Initramfs,
    /// The tree as a compressed squashfs image, mounted read-only under a tmpfs overlay by
    /// a small generated initrd.
    Squashfs,
}

impl ImageRoot {
    pub fn is_initramfs(&self) -> bool {
        *self == ImageRoot::Initramfs
    }
}

impl Image {
    /// The major release as a number ("9.4" -> 9), when it is one.
    pub fn release_major(&self) -> Option<u32> {
        self.releasever.split('.').next()?.parse().ok()
    }
}

fn is_default_timeouts(t: &Timeouts) -> bool {
    *t == Timeouts::default()
}

/// Where a repository was defined.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RepoSource {
    /// An inline `[[repo]]` table of the profile, at this line.
    Profile { line: usize },
    /// A section of a `.repo` file, at this line.
    RepoFile { path: PathBuf, line: usize },
}

/// One enabled repository, as dnf would configure it.
#[derive(Debug, Clone, Serialize)]
pub struct RepoConfig {
    pub id: String,
    /// Human name (defaults to the id).
    pub name: String,
    /// Absolute URLs (`http`, `https` or `file`); relative paths became `file://` URLs.
    pub baseurl: Vec<String>,
    pub mirrorlist: Option<String>,
    pub metalink: Option<String>,
    /// Key locations: URLs (`https://…`, `file:///…`); relative paths became `file://` URLs.
    pub gpgkey: Vec<String>,
    pub gpgcheck: bool,
    pub repo_gpgcheck: bool,
    /// Lower wins (dnf default 99).
    pub priority: u32,
    /// Lower is preferred among equal priorities (dnf default 1000).
    pub cost: u32,
    pub sslclientcert: Option<PathBuf>,
    pub sslclientkey: Option<PathBuf>,
    pub sslcacert: Option<PathBuf>,
    pub sslverify: bool,
    /// Package name globs hidden from this repository.
    pub excludepkgs: Vec<String>,
    /// When non-empty, only these package name globs are visible.
    pub includepkgs: Vec<String>,
    /// Packages of this repo ignore module filtering.
    pub module_hotfixes: bool,
    pub skip_if_unavailable: bool,
    /// dnf's `proxy` for this repository, as written (`_none_` = ignore the environment's
    /// proxy variables); `None` = the environment decides.
    pub proxy: Option<String>,
    /// Credentials for `proxy` (dnf's `proxy_username`, `proxy_password`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_username: Option<String>,
    /// Never serialized (`profile check --json` output lands in logs).
    #[serde(skip)]
    pub proxy_password: Option<String>,
    /// dnf's `timeout` (connect and read) and `minrate`; command-line flags override them.
    #[serde(skip_serializing_if = "is_default_timeouts")]
    pub timeouts: Timeouts,
    pub source: RepoSource,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Packages {
    /// Package names, provides, or `@group` ids from comps.
    pub install: Vec<String>,
    /// Name globs never installed.
    pub exclude: Vec<String>,
    /// Install Recommends/Supplements (dnf's install_weak_deps). Default false.
    pub weak_deps: bool,
    /// Skip %doc files (dnf's tsflags=nodocs).
    pub nodocs: bool,
    /// Keep only these languages' %lang files (dnf's install_langs); empty keeps all.
    pub langs: Vec<String>,
    /// EL8 module streams to enable: `name:stream` (optionally `name:stream/profile`).
    pub modules: Vec<String>,
    /// How many versions of an install-only package (kernel) to keep; `None` = one.
    pub install_only_limit: Option<u32>,
    /// Globs of image paths not extracted from packages.
    pub exclude_paths: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Boot {
    /// Resolved separately; their files feed the tftp tree, not the image.
    pub packages: Vec<String>,
    /// The kernel command line after `initrd=…`.
    pub cmdline: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Root {
    /// A crypt(3) hash for root in /etc/shadow.
    pub password_hash: Option<String>,
    /// A file holding a plain password, hashed at build time with a salt derived from the
    /// profile (absolute path).
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub uid: Option<u32>,
    /// Primary group id; `None` = a group named like the user.
    pub gid: Option<u32>,
    /// Supplementary group names.
    pub groups: Vec<String>,
    pub home: Option<String>,
    pub shell: Option<String>,
    pub gecos: Option<String>,
    pub password_hash: Option<String>,
    /// A system account (uid below 1000 when allocated).
    pub system: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub gid: Option<u32>,
    pub members: Vec<String>,
}

/// A file's content: inline text or a file next to the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileData {
    Content(String),
    /// Absolute path on the build host (checked to exist when the profile was loaded).
    Source(PathBuf),
}

#[derive(Debug, Clone, Serialize)]
pub struct FileSpec {
    /// Absolute path in the image, normalised (no `.`/`..`, no trailing `/`).
    pub path: String,
    pub data: FileData,
    #[serde(serialize_with = "serialize_mode")]
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Append to the file the packages installed (creating it if absent) instead of
    /// replacing it (the recipe's `echo … >> /etc/yum.conf`).
    pub append: bool,
    /// Filled in per host (`{{ hostname }}`, `{{ ip }}`, `{{ mac }}`, `{{ name }}`) and
    /// written into each host's overlay instead of the base image.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub template: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirSpec {
    pub path: String,
    #[serde(serialize_with = "serialize_mode")]
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symlink {
    pub path: String,
    /// The link target, as written (relative targets resolve against the link's folder).
    pub target: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Services {
    /// Unit names; a name without a unit suffix gets `.service`.
    pub enable: Vec<String>,
    pub disable: Vec<String>,
    pub mask: Vec<String>,
    /// e.g. `multi-user.target`.
    pub default_target: Option<String>,
}

/// Which network configuration files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkStyle {
    /// NetworkManager keyfiles in /etc/NetworkManager/system-connections (EL9).
    Keyfile,
    /// /etc/sysconfig/network-scripts/ifcfg-* (EL7/EL8).
    Ifcfg,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    /// Resolved from `style = "auto"`: keyfile for releasever >= 9, else ifcfg.
    pub style: NetworkStyle,
    pub interfaces: Vec<Interface>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Interface {
    /// Kernel interface name, e.g. `eth0`.
    pub name: String,
    pub method: IpMethod,
    pub mtu: Option<u32>,
    /// Bring it up at boot (ifcfg `ONBOOT`, keyfile `autoconnect`). Default true.
    pub onboot: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum IpMethod {
    Dhcp,
    Static {
        address: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
        dns: Vec<Ipv4Addr>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Pxe {
    /// Where the tree lives on the tftp server and in the OCI image.
    pub root: String,
    pub menu_title: String,
    /// Tenths of a second (pxelinux counts so; GRUB gets seconds, rounded up).
    pub timeout: u32,
    /// Label of the default entry: the image name or `local`.
    pub default: String,
    /// Add a "boot from local disk" entry (label `local`).
    pub local_boot: bool,
    /// The menu label of the image's entry.
    pub label: String,
    /// Extra entries booting the same image with another command line.
    pub entries: Vec<PxeEntry>,
    /// Write `pxelinux.cfg/01-<mac>` per host (its `cmdline` appended).
    pub per_host: bool,
    /// Give each `[[host]]` an overlay archive (hostname, network, host files) loaded
    /// after the image by its own menus. Default true; implies per-host menus.
    pub host_overlays: bool,
    /// Serve BIOS clients: pxelinux.0, its modules and `pxelinux.cfg/`.
    pub bios: bool,
    /// Serve UEFI clients (shim, GRUB, `grub.cfg`); `Auto`: when the boot packages carry
    /// shimx64.efi or grubx64.efi (emit decides, it reads the packages).
    pub uefi: AutoBool,
    pub layout: PxeLayout,
}

#[derive(Debug, Clone, Serialize)]
pub struct PxeEntry {
    /// Entry label (`LABEL` / grub menuentry id); must be unique.
    pub name: String,
    pub label: String,
    /// Replaces `boot.cmdline` for this entry.
    pub cmdline: String,
}

/// Folders in the tftp tree, relative to its root (recipe layout by default).
#[derive(Debug, Clone, Serialize)]
pub struct PxeLayout {
    /// pxelinux.0, *.c32 and pxelinux.cfg/ (default `pxelinux`).
    pub pxelinux_dir: String,
    /// `<images_dir>/<name>/{vmlinuz,initramfs.img}` (default `pxelinux/images`).
    pub images_dir: String,
    /// bootx64.efi and grub.cfg (default `efi`).
    pub efi_dir: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dhcp {
    pub subnet: Ipv4Net,
    /// The tftp server.
    pub next_server: Ipv4Addr,
    pub domain_name: Option<String>,
    pub dns: Vec<Ipv4Addr>,
    pub router: Option<Ipv4Addr>,
    /// A dynamic pool (first, last), inside the subnet.
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Default lease time in seconds.
    pub lease_time: Option<u32>,
    /// The server interface dnsmasq/kea listen on; all when unset.
    pub interface: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// Short name (dhcpd `host` block name); unique.
    pub name: String,
    /// Fully qualified host name handed out by DHCP.
    pub hostname: String,
    pub mac: Mac,
    pub ip: Ipv4Addr,
    /// Appended to the kernel command line in this host's pxelinux.cfg/01-<mac>.
    pub cmdline: Option<String>,
    /// The `[network]` interface configured with `ip` in the host's overlay (default: the
    /// first one); `None` with no `[network]` interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// `[[host.file]]`: written into this host's overlay only, after everything else.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpec>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Oci {
    /// Repository reference without tag, e.g. `ghcr.io/example/diskless-tftp`.
    pub name: Option<String>,
    pub annotations: BTreeMap<String, String>,
}
