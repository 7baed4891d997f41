//! dnsmasq as the boot server: full DHCP (the subnet, static leases for the hosts) or
//! proxy-DHCP (an existing DHCP server hands out addresses; dnsmasq adds only the boot
//! information), both with its built-in TFTP server on the tree.

use super::dhcpd::EFI_X64_ARCHES;
use super::settings::{Dhcp, Host, Layout, Menu};
use crate::net::addr::normalise_mac;

fn tftp(layout: &Layout) -> String {
    format!("enable-tftp\ntftp-root={}\n", layout.tftp_root)
}

fn arch_tags() -> String {
    EFI_X64_ARCHES
        .iter()
        .map(|a| format!("dhcp-match=set:efi-x86_64,option:client-arch,{a}\n"))
        .collect()
}

/// Full DHCP + TFTP.
pub fn full(d: &Dhcp, hosts: &[Host], layout: &Layout, menu: &Menu, comment: &str) -> String {
    let mut s = format!("# {comment}\n# DHCP and TFTP only: no DNS.\nport=0\n");
    if let Some(i) = &d.interface {
        s.push_str(&format!("interface={i}\nbind-interfaces\n"));
    }
    match d.range {
        Some((a, b)) => s.push_str(&format!(
            "dhcp-range={a},{b},{},{}s\n",
            d.netmask, d.lease_secs
        )),
        None => s.push_str(&format!(
            "dhcp-range={},static,{},{}s\n",
            d.subnet, d.netmask, d.lease_secs
        )),
    }
    if let Some(r) = d.routers {
        s.push_str(&format!("dhcp-option=option:router,{r}\n"));
    }
    if !d.dns_servers.is_empty() {
        let l: Vec<String> = d.dns_servers.iter().map(|i| i.to_string()).collect();
        s.push_str(&format!("dhcp-option=option:dns-server,{}\n", l.join(",")));
    }
    if let Some(dn) = &d.domain_name {
        s.push_str(&format!("domain={dn}\n"));
    }
    for h in hosts {
        let mac = normalise_mac(&h.mac).unwrap_or_else(|| h.mac.clone());
        s.push_str(&format!("dhcp-host={mac},{},{}\n", h.ip, h.dhcp_hostname()));
    }
    match (menu.bios, menu.uefi.is_on()) {
        (true, true) => {
            s.push_str(&arch_tags());
            s.push_str(&format!(
                "dhcp-boot=tag:efi-x86_64,{},,{}\n",
                layout.efi_boot_file(),
                d.next_server
            ));
            s.push_str(&format!(
                "dhcp-boot=tag:!efi-x86_64,{},,{}\n",
                layout.bios_boot_file(),
                d.next_server
            ));
        }
        (false, true) => s.push_str(&format!(
            "dhcp-boot={},,{}\n",
            layout.efi_boot_file(),
            d.next_server
        )),
        _ => s.push_str(&format!(
            "dhcp-boot={},,{}\n",
            layout.bios_boot_file(),
            d.next_server
        )),
    }
    s.push_str(&tftp(layout));
    s
}

/// Proxy-DHCP + TFTP next to an existing DHCP server.
pub fn proxy(d: &Dhcp, layout: &Layout, menu: &Menu, comment: &str) -> String {
    let mut s = format!(
        "# {comment}\n# Proxy-DHCP: another server assigns addresses; this one adds boot options.\nport=0\n"
    );
    if let Some(i) = &d.interface {
        s.push_str(&format!("interface={i}\nbind-interfaces\n"));
    }
    s.push_str(&format!("dhcp-range={},proxy,{}\n", d.subnet, d.netmask));
    if menu.bios {
        // pxe-service appends `.0` to x86PC boot files itself.
        let bios = layout.bios_boot_file();
        let bios = bios.strip_suffix(".0").unwrap_or(&bios);
        s.push_str(&format!(
            "pxe-service=x86PC,\"Network boot (BIOS)\",{bios},{}\n",
            d.next_server
        ));
    }
    if menu.uefi.is_on() {
        for csa in ["X86-64_EFI", "BC_EFI"] {
            s.push_str(&format!(
                "pxe-service={csa},\"Network boot (UEFI)\",{},{}\n",
                layout.efi_boot_file(),
                d.next_server
            ));
        }
    }
    s.push_str(&tftp(layout));
    s
}
