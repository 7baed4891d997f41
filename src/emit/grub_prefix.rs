//! Where a packaged GRUB looks for `grub.cfg`: the prefix `grub-mkimage -p` embedded in the
//! EFI image. Vendor builds set it to their ESP folder (`/EFI/redhat`, `/EFI/rocky`,
//! `/EFI/debian`, sometimes with a device: `(,gpt2)/EFI/redhat`); over the network GRUB
//! reads `<prefix>/grub.cfg` from the tftp server, relative to its root. emit writes the
//! menus there as well as beside the loader (where a GRUB with an empty prefix, or a vendor
//! patch trying `$cmdpath` first, looks).
//!
//! The image is a PE file whose `mods` section starts with GRUB's module info (kernel.h:
//! `struct grub_module_info64 { u32 magic "mimg"; u32 pad; u64 offset; u64 size }`, the
//! 32-bit variant with u32 fields), followed by objects (`struct grub_module_header { u32
//! type; u32 size }`, size including the header, each padded to the pointer size as
//! util/mkimage.c writes them); the object of type `OBJ_TYPE_PREFIX` (3 in every GRUB
//! release: ELF, MEMDISK, CONFIG, PREFIX come first) holds the NUL-terminated prefix.

/// `GRUB_MODULE_MAGIC` (0x676d696d), as its little-endian bytes.
const MODULE_MAGIC: &[u8; 4] = b"mimg";
/// `OBJ_TYPE_PREFIX` in include/grub/kernel.h.
const OBJ_TYPE_PREFIX: u32 = 3;
/// PE optional header magics.
const PE32: u16 = 0x10b;
const PE32_PLUS: u16 = 0x20b;

/// Why no prefix could be read: the file is not a GRUB EFI image as mkimage writes them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("not a PE image ({0})")]
    NotPe(&'static str),
    #[error("no `mods` section (not a GRUB core image)")]
    NoMods,
    #[error("the `mods` section does not start with GRUB's module info")]
    NoModuleInfo,
    #[error("a module header at offset {offset} of the `mods` section is malformed")]
    BadObject { offset: usize },
    #[error("the prefix is not UTF-8")]
    NotUtf8,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The `mods` section's bytes and the image's pointer size (4 or 8).
fn mods_section(img: &[u8]) -> Result<(&[u8], usize), PrefixError> {
    if img.get(..2) != Some(b"MZ") {
        return Err(PrefixError::NotPe("no `MZ` header"));
    }
    let pe = u32_at(img, 0x3c).ok_or(PrefixError::NotPe("truncated DOS header"))? as usize;
    if img.get(pe..pe + 4) != Some(b"PE\0\0") {
        return Err(PrefixError::NotPe("no `PE` signature"));
    }
    let truncated = PrefixError::NotPe("truncated headers");
    let sections = u16_at(img, pe + 6).ok_or(truncated.clone())? as usize;
    let optional_size = u16_at(img, pe + 20).ok_or(truncated.clone())? as usize;
    let ptr_size = match u16_at(img, pe + 24).ok_or(truncated.clone())? {
        PE32 => 4,
        PE32_PLUS => 8,
        _ => return Err(PrefixError::NotPe("unknown optional header")),
    };
    let table = pe + 24 + optional_size;
    for i in 0..sections {
        let h = table + 40 * i;
        let name = img.get(h..h + 8).ok_or(truncated.clone())?;
        if name != b"mods\0\0\0\0" {
            continue;
        }
        let virtual_size = u32_at(img, h + 8).ok_or(truncated.clone())? as usize;
        let raw_size = u32_at(img, h + 16).ok_or(truncated.clone())? as usize;
        let raw_at = u32_at(img, h + 20).ok_or(truncated.clone())? as usize;
        // The file may pad the section beyond its virtual size, never the other way round
        // for GRUB; take the smaller (a zero virtual size means "as in the file").
        let len = match virtual_size {
            0 => raw_size,
            v => v.min(raw_size),
        };
        let data = img
            .get(raw_at..raw_at.saturating_add(len))
            .ok_or(PrefixError::NotPe("section beyond the end of the file"))?;
        return Ok((data, ptr_size));
    }
    Err(PrefixError::NoMods)
}

/// The prefix embedded in a GRUB EFI image: `Some("")` or `None` when it has none (GRUB
/// then uses the folder it was loaded from).
pub fn embedded(img: &[u8]) -> Result<Option<String>, PrefixError> {
    let (mods, ptr) = mods_section(img)?;
    if mods.get(..4) != Some(MODULE_MAGIC) {
        return Err(PrefixError::NoModuleInfo);
    }
    let (offset, size) = if ptr == 8 {
        (u64_at(mods, 8), u64_at(mods, 16))
    } else {
        (
            u32_at(mods, 4).map(u64::from),
            u32_at(mods, 8).map(u64::from),
        )
    };
    let (Some(offset), Some(size)) = (offset, size) else {
        return Err(PrefixError::NoModuleInfo);
    };
    let end = usize::try_from(size).map_or(mods.len(), |s| s.min(mods.len()));
    let mut at = usize::try_from(offset).map_err(|_| PrefixError::NoModuleInfo)?;
    while at + 8 <= end {
        let kind = u32_at(mods, at).ok_or(PrefixError::BadObject { offset: at })?;
        let len = u32_at(mods, at + 4).ok_or(PrefixError::BadObject { offset: at })? as usize;
        if len < 8 || at + len > end {
            return Err(PrefixError::BadObject { offset: at });
        }
        if kind == OBJ_TYPE_PREFIX {
            let body = &mods[at + 8..at + len];
            let s = body.split(|b| *b == 0).next().unwrap_or_default();
            return String::from_utf8(s.to_vec())
                .map(Some)
                .map_err(|_| PrefixError::NotUtf8);
        }
        at += len.next_multiple_of(ptr);
    }
    Ok(None)
}

/// Where a prefix puts `grub.cfg` in the tftp tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigDir {
    /// No prefix: GRUB reads the folder it was loaded from, beside the loader.
    Beside,
    /// A folder relative to the tftp root (`""`: the root itself).
    Dir(String),
    /// Not a plain absolute path once the device is dropped (a variable, `..`, a relative
    /// path): there is no telling where GRUB looks.
    Unusable,
}

/// The tftp folder of `prefix`: a device part (`(tftp)`, `($root)`, `(,gpt2)`) is dropped,
/// since over the network GRUB reads from the tftp server whatever the device says.
pub fn config_dir(prefix: &str) -> ConfigDir {
    let path = match prefix.strip_prefix('(') {
        Some(rest) => match rest.split_once(')') {
            Some((_, path)) => path,
            None => return ConfigDir::Unusable,
        },
        None => prefix,
    };
    if path.is_empty() {
        return ConfigDir::Beside;
    }
    let Some(abs) = path.strip_prefix('/') else {
        return ConfigDir::Unusable;
    };
    let parts: Vec<&str> = abs.split('/').filter(|c| !c.is_empty()).collect();
    let plain = |c: &str| {
        c != "."
            && c != ".."
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-+~@".contains(ch))
    };
    if parts.iter().all(|c| plain(c)) {
        ConfigDir::Dir(parts.join("/"))
    } else {
        ConfigDir::Unusable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32+ image with a `mods` section holding `objects` after the module info,
    /// laid out as mkimage writes it.
    fn image(objects: &[(u32, &[u8])]) -> Vec<u8> {
        let mut mods = Vec::new();
        mods.extend_from_slice(MODULE_MAGIC);
        mods.extend_from_slice(&[0; 4]);
        mods.extend_from_slice(&24u64.to_le_bytes());
        mods.extend_from_slice(&[0; 8]);
        for (kind, body) in objects {
            let padded = body.len().next_multiple_of(8);
            mods.extend_from_slice(&kind.to_le_bytes());
            mods.extend_from_slice(&((padded + 8) as u32).to_le_bytes());
            mods.extend_from_slice(body);
            mods.resize(mods.len() + padded - body.len(), 0);
        }
        let total = mods.len() as u64;
        mods[16..24].copy_from_slice(&total.to_le_bytes());
        let mut img = vec![0u8; 0x200];
        img[..2].copy_from_slice(b"MZ");
        img[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        img[0x80..0x84].copy_from_slice(b"PE\0\0");
        img[0x86..0x88].copy_from_slice(&1u16.to_le_bytes());
        img[0x94..0x96].copy_from_slice(&0xf0u16.to_le_bytes());
        img[0x98..0x9a].copy_from_slice(&PE32_PLUS.to_le_bytes());
        let sh = 0x98 + 0xf0;
        img[sh..sh + 8].copy_from_slice(b"mods\0\0\0\0");
        img[sh + 8..sh + 12].copy_from_slice(&(mods.len() as u32).to_le_bytes());
        img[sh + 16..sh + 20].copy_from_slice(&(mods.len() as u32).to_le_bytes());
        img[sh + 20..sh + 24].copy_from_slice(&0x200u32.to_le_bytes());
        img.extend_from_slice(&mods);
        img
    }

    #[test]
    fn reads_the_prefix_after_other_objects() {
        let img = image(&[(0, b"elf module"), (2, b"normal\n\0"), (3, b"/EFI/rocky\0")]);
        assert_eq!(embedded(&img).unwrap().as_deref(), Some("/EFI/rocky"));
        assert_eq!(embedded(&image(&[(0, b"x")])).unwrap(), None);
        assert_eq!(
            embedded(&image(&[(3, b"\0")])).unwrap().as_deref(),
            Some("")
        );
    }

    #[test]
    fn refuses_what_is_not_a_grub_image() {
        assert!(matches!(
            embedded(b"not an image"),
            Err(PrefixError::NotPe(_))
        ));
        let mut img = image(&[(3, b"/EFI/x\0")]);
        img[0x200] = b'X';
        assert_eq!(embedded(&img), Err(PrefixError::NoModuleInfo));
        let mut img = image(&[(3, b"/EFI/x\0")]);
        // An object claiming 4 bytes (less than its own header).
        img[0x200 + 28..0x200 + 32].copy_from_slice(&4u32.to_le_bytes());
        assert!(matches!(embedded(&img), Err(PrefixError::BadObject { .. })));
    }

    #[test]
    fn config_dirs() {
        let dir = |s: &str| ConfigDir::Dir(s.to_string());
        assert_eq!(config_dir("/EFI/rocky"), dir("EFI/rocky"));
        assert_eq!(config_dir("(,gpt2)/EFI/redhat"), dir("EFI/redhat"));
        assert_eq!(config_dir("(tftp)/EFI/abc/"), dir("EFI/abc"));
        assert_eq!(config_dir("($root)/boot/grub"), dir("boot/grub"));
        assert_eq!(config_dir("/"), dir(""));
        assert_eq!(config_dir(""), ConfigDir::Beside);
        assert_eq!(config_dir("(tftp)"), ConfigDir::Beside);
        assert_eq!(config_dir("EFI/x"), ConfigDir::Unusable);
        assert_eq!(config_dir("/EFI/../x"), ConfigDir::Unusable);
        assert_eq!(config_dir("$prefix/x"), ConfigDir::Unusable);
        assert_eq!(config_dir("/EFI/$vendor"), ConfigDir::Unusable);
        assert_eq!(config_dir("(hd0,gpt2"), ConfigDir::Unusable);
    }
}
