//! UEFI boot: `efi/grub.cfg` with the same entries as the pxelinux menu. GRUB fetches over
//! tftp relative to the tftp root, so its paths are absolute from there.

use super::pxe::{LOCAL, MenuImage};
use super::settings::{Layout, Menu};

fn quote(s: &str) -> String {
    // GRUB's single quotes take everything literally except `'` itself.
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn config(
    menu: &Menu,
    layout: &Layout,
    images: &[MenuImage],
    default: &str,
    comment: &str,
) -> String {
    let mut s = format!("# {comment}\n");
    s.push_str(&format!("set timeout={}\n", menu.timeout_secs));
    s.push_str(&format!("set default={}\n", quote(default)));
    s.push_str(&format!(
        "# menu title: {}\n",
        menu.title.replace('\n', " ")
    ));
    for img in images {
        s.push_str(&format!(
            "\nmenuentry {} --id {} {{\n",
            quote(&img.label),
            quote(&img.name)
        ));
        let cmd = img.cmdline.trim();
        s.push_str(&format!(
            "  linux /{}{}{}\n",
            layout.kernel(&img.name),
            if cmd.is_empty() { "" } else { " " },
            cmd
        ));
        s.push_str(&format!("  initrd /{}\n", layout.initramfs(&img.name)));
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
        let images = vec![MenuImage {
            name: "compute".into(),
            label: "Compute node".into(),
            cmdline: "console=ttyS0".into(),
        }];
        let c = config(
            &Menu::default(),
            &Layout::default(),
            &images,
            "compute",
            "x",
        );
        assert!(c.contains("menuentry 'Compute node' --id 'compute' {\n  linux /pxelinux/images/compute/vmlinuz console=ttyS0\n  initrd /pxelinux/images/compute/initramfs.img\n}"), "{c}");
        assert!(c.contains("set default='compute'"));
        assert!(c.contains("--id local"));
    }
}
