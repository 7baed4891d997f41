//! Kea `kea-dhcp4.conf` (ISC dhcpd's successor): the same subnet, boot files chosen by
//! client class on option 93, one reservation per host. Written as canonical JSON.

use super::dhcpd::EFI_X64_ARCHES;
use super::settings::{Dhcp, Host, Layout, Menu};
use crate::net::addr::{normalise_mac, prefix_len};
use serde_json::{Value, json};

pub fn config(d: &Dhcp, hosts: &[Host], layout: &Layout, menu: &Menu, comment: &str) -> Value {
    let efi_test = EFI_X64_ARCHES
        .iter()
        .map(|a| format!("option[93].hex == 0x{a:04x}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let mut options = Vec::new();
    if let Some(r) = d.routers {
        options.push(json!({"name": "routers", "data": r.to_string()}));
    }
    if !d.dns_servers.is_empty() {
        let l: Vec<String> = d.dns_servers.iter().map(|i| i.to_string()).collect();
        options.push(json!({"name": "domain-name-servers", "data": l.join(", ")}));
    }
    if let Some(dn) = &d.domain_name {
        options.push(json!({"name": "domain-name", "data": dn}));
    }
    let reservations: Vec<Value> = hosts
        .iter()
        .map(|h| {
            json!({
                "hw-address": normalise_mac(&h.mac).unwrap_or_else(|| h.mac.clone()),
                "ip-address": h.ip.to_string(),
                "hostname": h.dhcp_hostname(),
            })
        })
        .collect();
    let pools: Vec<Value> = d
        .range
        .iter()
        .map(|(a, b)| json!({"pool": format!("{a} - {b}")}))
        .collect();
    let interfaces = match &d.interface {
        Some(i) => vec![i.clone()],
        None => vec!["*".to_string()],
    };
    let efi = json!({
        "name": "uefi-x64",
        "test": efi_test,
        "next-server": d.next_server.to_string(),
        "boot-file-name": layout.efi_boot_file(),
    });
    let bios = json!({
        "name": "bios",
        "test": format!("not ({efi_test})"),
        "next-server": d.next_server.to_string(),
        "boot-file-name": layout.bios_boot_file(),
    });
    let classes: Vec<Value> = match (menu.bios, menu.uefi.is_on()) {
        (true, true) => vec![efi, bios],
        (false, true) => vec![efi],
        _ => vec![bios],
    };
    json!({
        "Dhcp4": {
            "comment": comment,
            "interfaces-config": {"interfaces": interfaces},
            "lease-database": {"type": "memfile", "lfc-interval": 3600},
            "valid-lifetime": d.lease_secs,
            "client-classes": classes,
            "subnet4": [{
                "id": 1,
                "subnet": format!("{}/{}", d.subnet, prefix_len(d.netmask).unwrap_or(32)),
                "next-server": d.next_server.to_string(),
                "pools": pools,
                "option-data": options,
                "reservations": reservations,
            }],
        }
    })
}
