//! ISC `dhcpd.conf` as the recipe writes it: the PXE option space, option 93 (client
//! architecture) choosing pxelinux.0 for BIOS and bootx64.efi for UEFI, the subnet with
//! next-server, and one host block per profile host.

use super::settings::{Dhcp, Host, Layout, Menu};
use crate::net::addr::normalise_mac;

/// Client architectures (RFC 4578, IANA) that boot the x86-64 UEFI loader.
pub const EFI_X64_ARCHES: [u16; 2] = [7, 9];

pub fn config(d: &Dhcp, hosts: &[Host], layout: &Layout, menu: &Menu, comment: &str) -> String {
    let mut s = format!("# {comment}\n");
    s.push_str(
        "option space pxelinux;\n\
         option pxelinux.magic code 208 = string;\n\
         option pxelinux.configfile code 209 = text;\n\
         option pxelinux.pathprefix code 210 = text;\n\
         option pxelinux.reboottime code 211 = unsigned integer 32;\n\
         option architecture-type code 93 = unsigned integer 16;\n\n",
    );
    s.push_str("allow booting;\nallow bootp;\nauthoritative;\n");
    s.push_str(&format!(
        "default-lease-time {};\nmax-lease-time {};\n\n",
        d.lease_secs, d.lease_secs
    ));
    s.push_str(&format!("subnet {} netmask {} {{\n", d.subnet, d.netmask));
    if let Some((a, b)) = d.range {
        s.push_str(&format!("  range {a} {b};\n"));
    }
    if let Some(r) = d.routers {
        s.push_str(&format!("  option routers {r};\n"));
    }
    if !d.dns_servers.is_empty() {
        let list: Vec<String> = d.dns_servers.iter().map(|i| i.to_string()).collect();
        s.push_str(&format!(
            "  option domain-name-servers {};\n",
            list.join(", ")
        ));
    }
    if let Some(dn) = &d.domain_name {
        s.push_str(&format!("  option domain-name \"{dn}\";\n"));
    }
    s.push_str(&format!("  next-server {};\n", d.next_server));
    match (menu.bios, menu.uefi.is_on()) {
        (true, true) => {
            let cond: Vec<String> = EFI_X64_ARCHES
                .iter()
                // Option 93 is two bytes: ISC dhcpd compares data, and a bare `7` is one
                // byte that never matches, so UEFI clients would get the BIOS loader.
                .map(|a| format!("option architecture-type = {:02x}:{:02x}", a >> 8, a & 0xff))
                .collect();
            s.push_str(&format!("  if {} {{\n", cond.join(" or ")));
            s.push_str(&format!("    filename \"{}\";\n", layout.efi_boot_file()));
            s.push_str("  } else {\n");
            s.push_str(&format!("    filename \"{}\";\n", layout.bios_boot_file()));
            s.push_str("  }\n");
        }
        (false, true) => s.push_str(&format!("  filename \"{}\";\n", layout.efi_boot_file())),
        _ => s.push_str(&format!("  filename \"{}\";\n", layout.bios_boot_file())),
    }
    s.push_str("}\n");
    for h in hosts {
        let mac = normalise_mac(&h.mac).unwrap_or_else(|| h.mac.clone());
        s.push_str(&format!(
            "\nhost {} {{\n  hardware ethernet {mac};\n  fixed-address {};\n  option host-name \"{}\";\n}}\n",
            h.name,
            h.ip,
            h.dhcp_hostname()
        ));
    }
    s
}
