//! The profile as written: serde types mirroring the TOML, strict about unknown fields.
//! Values that are checked against other values later keep their span (`Spanned`) so the
//! error can still point at them. `validate` turns this into the resolved [`super::Profile`].

use super::model::{Arch, ImageRoot, NetworkStyle};
use super::values::{AutoBool, CompressionName, Mode};
use crate::net::addr::{Ipv4Net, Mac};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use toml::Spanned;

/// A string or a list of strings (`gpgkey = "k"` or `gpgkey = ["k1", "k2"]`).
#[derive(Debug, Clone, Default)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![s.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(OneOrMany(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `releasever = "9"` or `releasever = 9`.
#[derive(Debug, Clone)]
pub struct ReleaseVer(pub String);

impl<'de> Deserialize<'de> for ReleaseVer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ReleaseVer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a release version like \"9\" or \"9.4\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ReleaseVer, E> {
                let ok = !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
                if ok {
                    Ok(ReleaseVer(s.to_string()))
                } else {
                    Err(E::custom(format!(
                        "`{s}` is not a release version (expected e.g. \"9\" or \"9.4\")"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ReleaseVer, E> {
                if v < 0 {
                    return Err(E::custom(format!("`{v}` is not a release version")));
                }
                Ok(ReleaseVer(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ReleaseVer, E> {
                Err(E::custom(format!(
                    "write the release version as a string: `releasever = \"{v}\"`"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub image: Spanned<RawImage>,
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "repo")]
    pub repos: Vec<Spanned<RawRepo>>,
    #[serde(default)]
    pub repo_files: Vec<Spanned<String>>,
    #[serde(default)]
    pub packages: RawPackages,
    #[serde(default)]
    pub boot: RawBoot,
    #[serde(default)]
    pub root: RawRoot,
    #[serde(default, rename = "group")]
    pub groups: Vec<RawGroup>,
    #[serde(default, rename = "user")]
    pub users: Vec<RawUser>,
    #[serde(default, rename = "file")]
    pub files: Vec<RawFile>,
    #[serde(default, rename = "dir")]
    pub dirs: Vec<RawDir>,
    #[serde(default, rename = "symlink")]
    pub symlinks: Vec<RawSymlink>,
    #[serde(default)]
    pub services: RawServices,
    #[serde(default)]
    pub system: RawSystem,
    #[serde(default)]
    pub network: RawNetwork,
    #[serde(default)]
    pub pxe: RawPxe,
    pub dhcp: Option<RawDhcp>,
    #[serde(default, rename = "host")]
    pub hosts: Vec<RawHost>,
    #[serde(default)]
    pub oci: RawOci,
    #[serde(default)]
    pub dnf: BTreeMap<String, Spanned<DnfValue>>,
}

/// A dnf.conf `[main]` value: TOML strings, integers and booleans are accepted.
#[derive(Debug, Clone)]
pub struct DnfValue(pub String);

impl<'de> Deserialize<'de> for DnfValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DnfValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, integer or boolean")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DnfValue, E> {
                if s.contains('\n') {
                    return Err(E::custom("a dnf.conf value must be one line"));
                }
                Ok(DnfValue(s.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DnfValue, E> {
                Ok(DnfValue(v.to_string()))
            }
            // dnf.conf writes booleans as True/False.
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<DnfValue, E> {
                Ok(DnfValue(if v { "True" } else { "False" }.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    pub name: Spanned<String>,
    pub arch: Arch,
    pub releasever: ReleaseVer,
    pub compression: Option<CompressionName>,
    pub compression_level: Option<Spanned<i64>>,
    pub source_date_epoch: Option<u64>,
    pub init_symlink: Option<bool>,
    pub rpmdb: Option<bool>,
    pub root: Option<Spanned<ImageRoot>>,
    pub root_chunk_mib: Option<Spanned<i64>>,
    pub root_http: Option<Spanned<String>>,
    pub net_modules: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepo {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub baseurl: Option<Spanned<OneOrMany>>,
    pub mirrorlist: Option<Spanned<String>>,
    pub metalink: Option<Spanned<String>>,
    pub gpgkey: Option<Spanned<OneOrMany>>,
    pub gpgcheck: Option<bool>,
    pub repo_gpgcheck: Option<bool>,
    pub enabled: Option<bool>,
    pub priority: Option<Spanned<i64>>,
    pub cost: Option<Spanned<i64>>,
    pub sslclientcert: Option<Spanned<String>>,
    pub sslclientkey: Option<Spanned<String>>,
    pub sslcacert: Option<Spanned<String>>,
    pub sslverify: Option<bool>,
    #[serde(alias = "exclude")]
    pub excludepkgs: Option<OneOrMany>,
    pub includepkgs: Option<OneOrMany>,
    pub module_hotfixes: Option<bool>,
    pub skip_if_unavailable: Option<bool>,
    pub proxy: Option<Spanned<String>>,
    pub proxy_username: Option<Spanned<String>>,
    pub proxy_password: Option<Spanned<String>>,
    /// dnf's `timeout`, in seconds.
    pub timeout: Option<Spanned<f64>>,
    /// dnf's `minrate`, in bytes per second.
    pub minrate: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPackages {
    #[serde(default)]
    pub install: Vec<Spanned<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub weak_deps: bool,
    #[serde(default)]
    pub nodocs: bool,
    #[serde(default)]
    pub langs: Vec<String>,
    #[serde(default)]
    pub modules: Vec<Spanned<String>>,
    pub install_only_limit: Option<u32>,
    #[serde(default)]
    pub exclude_paths: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoot {
    #[serde(default)]
    pub packages: Vec<String>,
    pub cmdline: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoot {
    pub password_hash: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub name: Spanned<String>,
    pub gid: Option<Spanned<u32>>,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: Spanned<String>,
    pub uid: Option<Spanned<u32>>,
    pub gid: Option<u32>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub home: Option<Spanned<String>>,
    pub shell: Option<Spanned<String>>,
    pub gecos: Option<String>,
    pub password_hash: Option<Spanned<String>>,
    #[serde(default)]
    pub system: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub path: Spanned<String>,
    pub content: Option<String>,
    pub source: Option<Spanned<String>>,
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub append: bool,
    /// `{{ hostname }}`-style placeholders filled in per `[[host]]` (host overlays only).
    #[serde(default)]
    pub template: bool,
    /// Refused: everything diskless writes is served over TFTP and pushed as OCI.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDir {
    pub path: Spanned<String>,
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSymlink {
    pub path: Spanned<String>,
    pub target: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServices {
    #[serde(default)]
    pub enable: Vec<Spanned<String>>,
    #[serde(default)]
    pub disable: Vec<Spanned<String>>,
    #[serde(default)]
    pub mask: Vec<Spanned<String>>,
    pub default_target: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSystem {
    pub hostname: Option<Spanned<String>>,
    #[serde(default)]
    pub fstab: Vec<Spanned<String>>,
    #[serde(default)]
    pub remove: Vec<Spanned<String>>,
    pub empty_machine_id: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawNetworkStyle {
    #[default]
    Auto,
    Keyfile,
    Ifcfg,
}

impl RawNetworkStyle {
    pub fn concrete(self) -> Option<NetworkStyle> {
        match self {
            RawNetworkStyle::Auto => None,
            RawNetworkStyle::Keyfile => Some(NetworkStyle::Keyfile),
            RawNetworkStyle::Ifcfg => Some(NetworkStyle::Ifcfg),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    #[serde(default)]
    pub style: RawNetworkStyle,
    #[serde(default, rename = "interface")]
    pub interfaces: Vec<RawInterface>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInterface {
    pub name: Spanned<String>,
    #[serde(default)]
    pub dhcp: Option<bool>,
    /// `192.168.0.101/24` for a static address.
    pub address: Option<Spanned<String>>,
    pub gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    pub mtu: Option<u32>,
    pub onboot: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPxe {
    pub root: Option<Spanned<String>>,
    pub menu_title: Option<String>,
    pub timeout: Option<u32>,
    pub default: Option<Spanned<String>>,
    pub local_boot: Option<bool>,
    pub label: Option<String>,
    #[serde(default, rename = "entry")]
    pub entries: Vec<RawPxeEntry>,
    #[serde(default)]
    pub per_host: bool,
    pub host_overlays: Option<bool>,
    pub bios: Option<bool>,
    pub uefi: Option<Spanned<AutoBool>>,
    #[serde(default)]
    pub layout: RawPxeLayout,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPxeEntry {
    pub name: Spanned<String>,
    pub label: Option<String>,
    pub cmdline: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPxeLayout {
    pub pxelinux_dir: Option<Spanned<String>>,
    pub images_dir: Option<Spanned<String>>,
    pub efi_dir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDhcp {
    pub subnet: Ipv4Net,
    pub next_server: Spanned<Ipv4Addr>,
    pub domain_name: Option<Spanned<String>>,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    pub router: Option<Spanned<Ipv4Addr>>,
    pub range: Option<Spanned<[Ipv4Addr; 2]>>,
    pub lease_time: Option<u32>,
    pub interface: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub name: Spanned<String>,
    pub hostname: Option<Spanned<String>>,
    pub mac: Spanned<Mac>,
    pub ip: Spanned<Ipv4Addr>,
    pub cmdline: Option<String>,
    /// The `[network]` interface given the fixed address (default: the first one).
    pub interface: Option<Spanned<String>>,
    #[serde(default, rename = "file")]
    pub files: Vec<RawFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOci {
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}
