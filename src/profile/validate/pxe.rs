//! `[pxe]`: the boot menu (the image, `local`, extra entries), its default, and where the
//! tftp tree and its folders are.

use super::{Cx, check_name, image_path};
use crate::profile::error::Diagnostic;
use crate::profile::model::{Image, Pxe, PxeEntry, PxeLayout};
use crate::profile::schema::RawPxe;
use crate::profile::values::AutoBool;
use std::collections::BTreeSet;
use toml::Spanned;

pub(super) fn pxe(cx: &Cx, rx: RawPxe, image: &Image) -> Result<Pxe, Diagnostic> {
    let mut entry_names = BTreeSet::from([image.name.clone()]);
    let local_boot = rx.local_boot.unwrap_or(true);
    if local_boot {
        entry_names.insert("local".to_string());
    }
    let mut entries = Vec::new();
    for (i, e) in rx.entries.into_iter().enumerate() {
        let f = format!("pxe.entry[{i}].name");
        check_name(&e.name, &f, cx)?;
        if !entry_names.insert(e.name.get_ref().clone()) {
            return Err(cx
                .loc(e.name.span(), f)
                .err(format!("Menu entry `{}` already exists", e.name.get_ref())));
        }
        entries.push(PxeEntry {
            label: e.label.unwrap_or_else(|| e.name.get_ref().clone()),
            name: e.name.into_inner(),
            cmdline: e.cmdline.trim().to_string(),
        });
    }
    let default = match rx.default {
        Some(d) => {
            if !entry_names.contains(d.get_ref()) {
                let known: Vec<_> = entry_names.iter().map(|n| format!("`{n}`")).collect();
                return Err(cx
                    .loc(d.span(), "pxe.default")
                    .err(format!("`{}` is not a menu entry", d.get_ref()))
                    .with_hint(format!("entries: {}", known.join(", "))));
            }
            d.into_inner()
        }
        None => image.name.clone(),
    };
    let bios = rx.bios.unwrap_or(true);
    let uefi = match rx.uefi {
        Some(u) if !bios && *u.get_ref() == AutoBool::Off => {
            return Err(cx
                .loc(u.span(), "pxe.uefi")
                .err("`bios` and `uefi` are both false: the tftp tree would boot no client")
                .with_hint("set `uefi = true` (or `\"auto\"`) or `bios = true`"));
        }
        Some(u) => u.into_inner(),
        None => AutoBool::Auto,
    };
    let layout_dir =
        |v: Option<Spanned<String>>, dflt: &str, key: &str| -> Result<String, Diagnostic> {
            match v {
                None => Ok(dflt.to_string()),
                Some(s) => relative_dir(s.get_ref())
                    .map_err(|e| cx.loc(s.span(), format!("pxe.layout.{key}")).err(e)),
            }
        };
    Ok(Pxe {
        root: match rx.root {
            Some(r) => image_path(&r, "pxe.root", cx)?,
            None => "/var/lib/tftpboot".into(),
        },
        menu_title: rx.menu_title.unwrap_or_else(|| "PXE Menu".into()),
        timeout: rx.timeout.unwrap_or(150),
        default,
        local_boot,
        label: rx.label.unwrap_or_else(|| image.name.clone()),
        entries,
        per_host: rx.per_host,
        host_overlays: rx.host_overlays.unwrap_or(true),
        bios,
        uefi,
        layout: PxeLayout {
            pxelinux_dir: layout_dir(rx.layout.pxelinux_dir, "pxelinux", "pxelinux_dir")?,
            images_dir: layout_dir(rx.layout.images_dir, "pxelinux/images", "images_dir")?,
            efi_dir: layout_dir(rx.layout.efi_dir, "efi", "efi_dir")?,
        },
    })
}

/// A folder relative to the tftp root.
fn relative_dir(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if s.starts_with('/') || parts.contains(&"..") {
        return Err(format!(
            "`{s}` must be a folder relative to the tftp root, without `..`"
        ));
    }
    Ok(parts.join("/"))
}
