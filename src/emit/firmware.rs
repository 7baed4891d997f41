//! Which clients the tftp tree serves (BIOS, UEFI or both) and why: `[pxe] uefi = "auto"`
//! resolved from the boot loaders the boot packages carry, the packages a required loader
//! needs, and a warning that says the real reason whenever one kind of client is left out.
//! Decided before anything is written, so the menus and the DHCP configs agree.

use super::bootfiles::BootFiles;
use super::settings::{Menu, Uefi};

/// The packages that carry the UEFI loaders, by their EL names.
pub const SHIM_PACKAGE: &str = "shim-x64";
pub const GRUB_PACKAGE: &str = "grub2-efi-x64";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirmwareError {
    #[error(
        "UEFI is required (`uefi = true`) but no boot package provides {what}: add {packages} to the boot packages"
    )]
    NoUefiLoader {
        /// `shimx64.efi or grubx64.efi`, or `grubx64.efi` when shim is there.
        what: String,
        /// The packages to add.
        packages: String,
    },
    #[error(
        "The tftp tree would boot no client: BIOS is off (`bios = false`) and there is no UEFI loader in the boot packages (add {GRUB_PACKAGE} and {SHIM_PACKAGE})"
    )]
    NothingToBoot,
}

/// The decision: UEFI on or off, and what the user should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub uefi: bool,
    pub warnings: Vec<String>,
}

/// Decide from `menu` (as the profile set it) and the loaders found in the boot packages.
/// BIOS needs pxelinux, which [`super::bootfiles::read`] already required.
pub fn decide(menu: &Menu, boot: &BootFiles) -> Result<Served, FirmwareError> {
    let (shim, grub) = (boot.shim.is_some(), boot.grub.is_some());
    let mut warnings = Vec::new();
    let uefi = match menu.uefi {
        Uefi::Off => false,
        Uefi::On if !grub => {
            return Err(FirmwareError::NoUefiLoader {
                what: if shim {
                    "grubx64.efi (shim-x64 is there, but shim only starts GRUB)".into()
                } else {
                    "shimx64.efi or grubx64.efi".into()
                },
                packages: if shim {
                    GRUB_PACKAGE.into()
                } else {
                    format!("{GRUB_PACKAGE} and {SHIM_PACKAGE}")
                },
            });
        }
        Uefi::On => true,
        Uefi::Auto => shim || grub,
    };
    if !menu.bios && !uefi {
        return Err(FirmwareError::NothingToBoot);
    }
    if !uefi {
        let why = match menu.uefi {
            Uefi::Off if shim || grub => {
                "uefi = false in the profile (the boot packages' UEFI loaders are left out)"
                    .to_string()
            }
            Uefi::Off => "uefi = false in the profile".to_string(),
            _ => format!(
                "no UEFI loader in the boot packages (add {GRUB_PACKAGE} and {SHIM_PACKAGE})"
            ),
        };
        warnings.push(format!("the tftp tree boots BIOS clients only: {why}"));
    } else {
        if !menu.bios {
            warnings.push(
                "the tftp tree boots UEFI clients only: bios = false in the profile".to_string(),
            );
        }
        if shim && !grub {
            warnings.push(format!(
                "shimx64.efi is in the boot packages but grubx64.efi is not: UEFI clients will stop after shim (add {GRUB_PACKAGE})"
            ));
        }
        if grub && !shim {
            warnings.push(format!(
                "grubx64.efi is served without shim: clients with Secure Boot on will refuse it (add {SHIM_PACKAGE})"
            ));
        }
    }
    Ok(Served { uefi, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::bootfiles::BootFile;

    fn boot(shim: bool, grub: bool) -> BootFiles {
        let f = || {
            Some(BootFile {
                data: vec![1],
                origin: "x".into(),
            })
        };
        BootFiles {
            shim: if shim { f() } else { None },
            grub: if grub { f() } else { None },
            ..BootFiles::default()
        }
    }

    fn menu(bios: bool, uefi: Uefi) -> Menu {
        Menu {
            bios,
            uefi,
            ..Menu::default()
        }
    }

    #[test]
    fn auto_follows_the_loaders_and_says_why() {
        let s = decide(&menu(true, Uefi::Auto), &boot(true, true)).unwrap();
        assert_eq!(
            s,
            Served {
                uefi: true,
                warnings: vec![]
            }
        );
        let s = decide(&menu(true, Uefi::Auto), &boot(false, false)).unwrap();
        assert!(!s.uefi);
        assert_eq!(
            s.warnings,
            [
                "the tftp tree boots BIOS clients only: no UEFI loader in the boot packages (add grub2-efi-x64 and shim-x64)"
            ]
        );
        let s = decide(&menu(true, Uefi::Auto), &boot(false, true)).unwrap();
        assert!(s.uefi);
        assert!(s.warnings[0].contains("without shim"), "{:?}", s.warnings);
        let s = decide(&menu(true, Uefi::Auto), &boot(true, false)).unwrap();
        assert!(s.uefi);
        assert!(
            s.warnings[0].contains("add grub2-efi-x64"),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn off_says_the_profile_turned_it_off() {
        let s = decide(&menu(true, Uefi::Off), &boot(true, true)).unwrap();
        assert!(!s.uefi);
        assert_eq!(
            s.warnings,
            [
                "the tftp tree boots BIOS clients only: uefi = false in the profile (the boot packages' UEFI loaders are left out)"
            ]
        );
        let s = decide(&menu(false, Uefi::Auto), &boot(true, true)).unwrap();
        assert_eq!(
            s.warnings,
            ["the tftp tree boots UEFI clients only: bios = false in the profile"]
        );
    }

    #[test]
    fn required_uefi_names_the_missing_package() {
        let e = decide(&menu(true, Uefi::On), &boot(false, false)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "UEFI is required (`uefi = true`) but no boot package provides shimx64.efi or grubx64.efi: add grub2-efi-x64 and shim-x64 to the boot packages"
        );
        let e = decide(&menu(true, Uefi::On), &boot(true, false)).unwrap_err();
        assert!(e.to_string().contains("add grub2-efi-x64 to"), "{e}");
        assert_eq!(
            decide(&menu(false, Uefi::Auto), &boot(false, false)),
            Err(FirmwareError::NothingToBoot)
        );
    }
}
