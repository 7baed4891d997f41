//! Boot loader files read straight from the boot packages' RPMs in the lock (never from the
//! host): pxelinux.0 and its .c32 modules (syslinux-tftpboot puts them in /tftpboot,
//! syslinux in /usr/share/syslinux), shimx64.efi and mmx64.efi (shim-x64,
//! /boot/efi/EFI/<vendor>/), grubx64.efi (grub2-efi-x64, same place).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The BIOS files the tftp tree needs, by basename.
pub const PXELINUX_FILES: [&str; 5] = [
    "pxelinux.0",
    "ldlinux.c32",
    "vesamenu.c32",
    "libcom32.c32",
    "libutil.c32",
];

#[derive(Debug, thiserror::Error)]
pub enum BootFilesError {
    #[error("Cannot read boot package `{path}`")]
    Rpm {
        path: PathBuf,
        #[source]
        source: rpm::Error,
    },
    #[error("No boot package in the lock provides `{file}` (looked in: {looked})")]
    Missing { file: String, looked: String },
    #[error("`{file}` in `{package}` is a hardlink whose content is not in the payload")]
    NoContent { file: String, package: String },
}

/// A file taken from an RPM, with where it came from (for the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFile {
    pub data: Vec<u8>,
    /// `package-nevra:/path/in/package`.
    pub origin: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootFiles {
    /// pxelinux.0 and modules by basename.
    pub pxelinux: BTreeMap<String, BootFile>,
    pub shim: Option<BootFile>,
    pub mokmanager: Option<BootFile>,
    pub grub: Option<BootFile>,
}

/// Which role a payload path plays, and its priority (lower wins) when several packages
/// carry the same file.
fn classify(path: &str) -> Option<(&'static str, u8)> {
    let base = path.rsplit('/').next()?;
    for f in PXELINUX_FILES {
        if base == f {
            let prio = if path.starts_with("/tftpboot/") || path.starts_with("/var/lib/tftpboot/") {
                0
            } else if path.starts_with("/usr/share/syslinux/") {
                1
            } else {
                return None;
            };
            return Some((f, prio));
        }
    }
    if path.starts_with("/boot/efi/EFI/") && !path.starts_with("/boot/efi/EFI/BOOT/") {
        return match base {
            "shimx64.efi" => Some(("shim", 0)),
            "mmx64.efi" => Some(("mm", 0)),
            "grubx64.efi" => Some(("grub", 0)),
            _ => None,
        };
    }
    None
}

/// Read the boot loader files out of `rpms`. Missing pxelinux files are an error when
/// `bios` is set; the UEFI files are optional (BIOS-only trees are valid).
pub fn read(rpms: &[PathBuf], bios: bool) -> Result<BootFiles, BootFilesError> {
    // role -> (priority, origin, data)
    let mut found: BTreeMap<&'static str, (u8, BootFile)> = BTreeMap::new();
    let mut sorted: Vec<&PathBuf> = rpms.iter().collect();
    sorted.sort();
    for rpm_path in sorted {
        read_one(rpm_path, &mut found)?;
    }
    let mut files = BootFiles::default();
    let looked = rpms
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    for f in PXELINUX_FILES.iter().filter(|_| bios) {
        match found.remove(f) {
            Some((_, b)) => {
                files.pxelinux.insert(f.to_string(), b);
            }
            None => {
                return Err(BootFilesError::Missing {
                    file: f.to_string(),
                    looked: looked.clone(),
                });
            }
        }
    }
    files.shim = found.remove("shim").map(|x| x.1);
    files.mokmanager = found.remove("mm").map(|x| x.1);
    files.grub = found.remove("grub").map(|x| x.1);
    Ok(files)
}

fn read_one(
    rpm_path: &Path,
    found: &mut BTreeMap<&'static str, (u8, BootFile)>,
) -> Result<(), BootFilesError> {
    let err = |source| BootFilesError::Rpm {
        path: rpm_path.to_path_buf(),
        source,
    };
    let mut reader = rpm::PackageReader::open(rpm_path).map_err(err)?;
    let m = &reader.metadata;
    // Printed as dnf and the lock print it: the epoch only when it is not 0.
    let epoch = m.get_epoch().unwrap_or(0);
    let nevra = format!(
        "{}-{}{}-{}.{}",
        m.get_name().map_err(err)?,
        if epoch == 0 {
            String::new()
        } else {
            format!("{epoch}:")
        },
        m.get_version().map_err(err)?,
        m.get_release().map_err(err)?,
        m.get_arch().map_err(err)?
    );
    // Hardlinked files carry content only on one link: remember content by digest.
    let mut wanted: Vec<(String, &'static str, u8, Option<String>)> = Vec::new();
    let mut by_digest: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    while let Some(mut file) = reader.next_file().map_err(err)? {
        let path = file.metadata.path().to_string_lossy().into_owned();
        let digest = file.metadata.digest().map(|d| d.as_hex().to_string());
        let Some((role, prio)) = classify(&path) else {
            // Keep contents of other files only when they may be the data of a wanted link.
            let mut buf = Vec::new();
            file.read_to_end(&mut buf)
                .map_err(|e| err(rpm::Error::Io(e)))?;
            if let (Some(d), false) = (digest, buf.is_empty()) {
                by_digest.entry(d).or_insert(buf);
            }
            continue;
        };
        if file.metadata.mode().file_type() != rpm::FileType::Regular {
            continue;
        }
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .map_err(|e| err(rpm::Error::Io(e)))?;
        if let Some(d) = &digest
            && !buf.is_empty()
        {
            by_digest.entry(d.clone()).or_insert(buf.clone());
        }
        if buf.is_empty() && file.metadata.size() > 0 {
            wanted.push((path, role, prio, digest));
            continue;
        }
        insert(
            found,
            role,
            prio,
            BootFile {
                data: buf,
                origin: format!("{nevra}:{path}"),
            },
        );
    }
    for (path, role, prio, digest) in wanted {
        let data = digest
            .and_then(|d| by_digest.get(&d).cloned())
            .ok_or_else(|| BootFilesError::NoContent {
                file: path.clone(),
                package: nevra.clone(),
            })?;
        insert(
            found,
            role,
            prio,
            BootFile {
                data,
                origin: format!("{nevra}:{path}"),
            },
        );
    }
    Ok(())
}

fn insert(
    found: &mut BTreeMap<&'static str, (u8, BootFile)>,
    role: &'static str,
    prio: u8,
    f: BootFile,
) {
    match found.get(role) {
        // Packages are visited in sorted order and paths within one package in payload
        // order; the first file of the best priority wins, deterministically.
        Some((p, _)) if *p <= prio => {}
        _ => {
            found.insert(role, (prio, f));
        }
    }
}
