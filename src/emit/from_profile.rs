//! Emit's settings from a loaded profile: `[image]` compression, `[pxe]` (root, menu,
//! layout, BIOS/UEFI, extra entries, per-host files), `[boot].cmdline`, `[dhcp]`,
//! `[[host]]` and `[oci]`. `cli/build.rs` calls [`settings`] and [`image`].

use super::ImageInput;
use super::compress::Compression;
use super::settings::{Dhcp, EmitSettings, ExtraEntry, Host, Layout, Menu, Oci};
use crate::profile::{self, Profile};
use crate::rootfs::tree::Tree;

/// OCI's name for an rpm architecture.
pub fn oci_arch(a: profile::Arch) -> &'static str {
    match a {
        profile::Arch::X86_64 => "amd64",
        profile::Arch::Aarch64 => "arm64",
        profile::Arch::Ppc64le => "ppc64le",
        profile::Arch::S390x => "s390x",
    }
}

pub fn compression(c: profile::Compression) -> Compression {
    match c {
        profile::Compression::Gzip { level } => Compression::Gzip { level },
        profile::Compression::Zstd { level } => Compression::Zstd { level },
        profile::Compression::Xz { level } => Compression::Xz { preset: level },
        profile::Compression::None => Compression::None,
    }
}

pub fn settings(p: &Profile) -> EmitSettings {
    let defaults = EmitSettings::default();
    let layout = Layout {
        tftp_root: p.pxe.root.clone(),
        pxelinux_dir: p.pxe.layout.pxelinux_dir.clone(),
        images_dir: p.pxe.layout.images_dir.clone(),
        efi_dir: p.pxe.layout.efi_dir.clone(),
        ..Layout::default()
    };
    let menu = Menu {
        title: p.pxe.menu_title.clone(),
        timeout_tenths: p.pxe.timeout,
        default: Some(p.pxe.default.clone()),
        local_boot: p.pxe.local_boot,
        per_host_files: p.pxe.per_host,
        bios: p.pxe.bios,
        uefi: p.pxe.uefi,
        extra_entries: p
            .pxe
            .entries
            .iter()
            .map(|e| ExtraEntry {
                id: e.name.clone(),
                label: e.label.clone(),
                image: None,
                cmdline: e.cmdline.clone(),
            })
            .collect(),
    };
    let dhcp = p.dhcp.as_ref().map(|d| Dhcp {
        subnet: d.subnet.network(),
        netmask: d.subnet.netmask(),
        next_server: d.next_server,
        range: d.range,
        routers: d.router,
        dns_servers: d.dns.clone(),
        domain_name: d.domain_name.clone(),
        interface: None,
        lease_secs: d.lease_time.unwrap_or(43200),
    });
    let hosts = p
        .hosts
        .iter()
        .map(|h| Host {
            name: h.name.clone(),
            hostname: Some(h.hostname.clone()).filter(|n| !n.is_empty()),
            mac: h.mac.to_string(),
            ip: h.ip,
            image: None,
            cmdline: h.cmdline.clone(),
        })
        .collect();
    let a = &p.oci.annotations;
    let get = |k: &str| a.get(&format!("org.opencontainers.image.{k}")).cloned();
    let oci = Oci {
        root: p.pxe.root.clone(),
        source: get("source"),
        revision: get("revision"),
        version: get("version"),
        title: get("title").or_else(|| Some(p.image.name.clone())),
        architecture: oci_arch(p.image.arch).to_string(),
        annotations: a.clone(),
        name: p.oci.name.clone(),
        ..Oci::default()
    };
    EmitSettings {
        compression: compression(p.image.compression),
        layout,
        menu,
        dhcp,
        hosts,
        oci,
        ..defaults
    }
}

/// The profile's one image, over the tree rootfs assembled.
pub fn image<'a>(p: &Profile, tree: &'a Tree) -> ImageInput<'a> {
    ImageInput {
        name: p.image.name.clone(),
        label: Some(p.pxe.label.clone()).filter(|l| !l.is_empty()),
        cmdline: p.boot.cmdline.clone(),
        kernel_version: None,
        tree,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn example_profile_maps_onto_settings() {
        let text = r#"
[image]
name = "compute"
releasever = "9"
arch = "x86_64"
compression = "zstd"

[[repo]]
id = "baseos"
baseurl = "https://example.invalid/9/BaseOS/x86_64/os/"
gpgcheck = false

[packages]
install = ["bash"]

[boot]
packages = ["syslinux-tftpboot"]
cmdline = "console=ttyS0"

[dhcp]
subnet = "10.1.0.0/24"
next_server = "10.1.0.1"

[[host]]
name = "node01"
mac = "52:54:00:12:34:01"
ip = "10.1.0.11"
"#;
        let p = match crate::profile::from_str(Path::new("p.toml"), Path::new("/tmp"), text) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let s = settings(&p);
        assert_eq!(s.compression, Compression::Zstd { level: 19 });
        assert_eq!(
            s.dhcp.as_ref().unwrap().netmask.to_string(),
            "255.255.255.0"
        );
        assert_eq!(s.hosts[0].mac, "52:54:00:12:34:01");
        assert_eq!(s.layout.tftp_root, s.oci.root);
        assert_eq!(s.menu.default.as_deref(), Some("compute"));
        let tree = Tree::default();
        assert_eq!(image(&p, &tree).cmdline, "console=ttyS0");
    }

    #[test]
    fn shipped_profiles_give_valid_networks() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles");
        let mut n = 0;
        for e in fs_err::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let prof =
                    crate::profile::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let s = settings(&prof);
                crate::emit::network::validate(s.dhcp.as_ref(), &s.hosts)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n > 0);
    }
}
