//! UEFI boot: `efi/grub.cfg` (and per-host `grub.cfg-01-<mac>`, which GRUB's netboot looks
//! for first) with the same entries as the pxelinux menu. GRUB fetches over tftp relative
//! to the tftp root, so its paths are absolute from there.

use super::pxe::{LOCAL, MenuEntry, cmdline};
use super::settings::{Layout, Menu};

/// GRUB's single quotes take everything literally except `'` itself, as sh's do.
pub(super) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What pxelinux's `IPAPPEND 3` passes, from GRUB's network variables (set when GRUB was
/// booted over the network): the address it got by DHCP and the boot server's. GRUB keeps
/// no netmask or gateway; the initrd then routes to the server on the link.
pub const NET_ARGS: &str = "ip=${net_default_ip}:${net_default_server}:: BOOTIF=${net_default_mac}";

pub fn config(
    menu: &Menu,
    layout: &Layout,
    entries: &[MenuEntry],
    default: &str,
    extra: Option<&str>,
    comment: &str,
) -> String {
    let mut s = format!("# {comment}\n");
    // GRUB counts whole seconds; round pxelinux's tenths up.
    s.push_str(&format!(
        "set timeout={}\n",
        menu.timeout_tenths.div_ceil(10)
    ));
    s.push_str(&format!("set default={}\n", quote(default)));
    s.push_str(&format!(
        "# menu title: {}\n",
        menu.title.replace('\n', " ")
    ));
    for e in entries {
        s.push_str(&format!(
            "\nmenuentry {} --id {} {{\n",
            quote(&e.label),
            quote(&e.id)
        ));
        let mut c = cmdline(e, extra);
        if e.net_args {
            if !c.is_empty() {
                c.push(' ');
            }
            c.push_str(NET_ARGS);
        }
        s.push_str(&format!(
            "  linux /{}{}{}\n",
            layout.kernel(&e.image),
            if c.is_empty() { "" } else { " " },
            c
        ));
        s.push_str(&format!("  initrd /{}", layout.initramfs(&e.image)));
        for extra in &e.extra_initrds {
            s.push_str(&format!(" /{extra}"));
        }
        s.push('\n');
        s.push_str("}\n");
    }
    if menu.local_boot {
        s.push_str(&format!(
            "\nmenuentry 'Boot from local disk' --id {LOCAL} {{\n  exit\n}}\n"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_entries_as_pxelinux() {
        let entries = vec![MenuEntry {
            id: "compute".into(),
            label: "Compute node".into(),
            image: "compute".into(),
            cmdline: "console=ttyS0".into(),
            extra_initrds: Vec::new(),
            net_args: false,
        }];
        let c = config(
            &Menu::default(),
            &Layout::default(),
            &entries,
            "compute",
            None,
            "x",
        );
        assert!(
            c.contains("menuentry 'Compute node' --id 'compute' {\n  linux /pxelinux/images/compute/vmlinuz console=ttyS0\n  initrd /pxelinux/images/compute/initramfs.img\n}"),
            "{c}"
        );
        assert!(c.contains("set default='compute'"));
        assert!(c.contains("set timeout=5\n"));
        assert!(c.contains("--id local"));

        // A root fetched over HTTP: GRUB's network variables after the host's arguments.
        let mut fetch = entries;
        fetch[0].net_args = true;
        let c = config(
            &Menu::default(),
            &Layout::default(),
            &fetch,
            "compute",
            Some("x=1"),
            "x",
        );
        assert!(
            c.contains("  linux /pxelinux/images/compute/vmlinuz console=ttyS0 x=1 ip=${net_default_ip}:${net_default_server}:: BOOTIF=${net_default_mac}\n"),
            "{c}"
        );
    }
}
