//! UEFI in the tftp tree: `[pxe] uefi = "auto"` follows the boot packages' loaders with
//! warnings that give the real reason, a required UEFI names the missing package, and
//! grub.cfg goes where the packaged GRUB looks: the prefix embedded in real GRUB images
//! (grub-mkimage's, Debian's signed ones), and beside the loader.

use crate::emit::{emit_to, fixture, have, settings};
use crate::support::rpm::Rpm;
use diskless::emit::grub_prefix::{self, ConfigDir};
use diskless::emit::settings::Uefi;
use std::path::{Path, PathBuf};

/// Boot packages at their EL paths: pxelinux (placeholder bytes: nothing boots here),
/// and when given, shim and a GRUB image.
fn boot_rpms(dir: &Path, shim: bool, grub: Option<Vec<u8>>) -> Vec<PathBuf> {
    let rpm = |name: &str| {
        Rpm::new(name, "1.0")
            .release("1.el9")
            .arch("x86_64")
            .license("GPL")
            .summary("fixture")
    };
    let mut syslinux = rpm("syslinux-tftpboot");
    for f in diskless::emit::bootfiles::PXELINUX_FILES {
        syslinux = syslinux.file(format!("/tftpboot/{f}"), f.as_bytes().to_vec(), 0o644);
    }
    let mut rpms = vec![syslinux.write_in(dir).unwrap()];
    if shim {
        let r = rpm("shim-x64")
            .file("/boot/efi/EFI/redhat/shimx64.efi", b"shim".to_vec(), 0o700)
            .file("/boot/efi/EFI/redhat/mmx64.efi", b"mm".to_vec(), 0o700);
        rpms.push(r.write_in(dir).unwrap());
    }
    if let Some(g) = grub {
        let r = rpm("grub2-efi-x64").file("/boot/efi/EFI/redhat/grubx64.efi", g, 0o700);
        rpms.push(r.write_in(dir).unwrap());
    }
    rpms
}

/// `grub-mkimage -O x86_64-efi -p <prefix>` with the modules a netboot image needs.
fn mkimage(dir: &Path, prefix: &str) -> Vec<u8> {
    let out = dir.join("grubx64.efi");
    let st = std::process::Command::new("grub-mkimage")
        .args(["-O", "x86_64-efi", "-p", prefix, "-o"])
        .arg(&out)
        .args(["efinet", "tftp", "normal", "linux"])
        .status()
        .unwrap();
    assert!(st.success(), "grub-mkimage -p {prefix:?} failed");
    fs_err::read(&out).unwrap()
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs_err::read(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn grub_cfg_goes_to_the_prefix_grub_mkimage_embeds() {
    if !have("grub-mkimage") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // (prefix, the folder it names in the tftp tree)
    let cases = [
        ("/EFI/rocky", Some("EFI/rocky")),
        ("(tftp)/EFI/abc", Some("EFI/abc")),
        ("(,gpt2)/EFI/redhat", Some("EFI/redhat")),
        ("", None),
    ];
    for (i, (prefix, folder)) in cases.into_iter().enumerate() {
        let work = dir.path().join(i.to_string());
        fs_err::create_dir_all(&work).unwrap();
        let img = mkimage(&work, prefix);
        assert_eq!(
            grub_prefix::embedded(&img).unwrap().as_deref(),
            Some(prefix)
        );
        let mut fx = fixture();
        fx.boot_rpms = boot_rpms(&work, true, Some(img));
        let out = work.join("out");
        let a = emit_to(&fx, settings(), &out);
        assert!(
            !a.warnings.iter().any(|w| w.contains("prefix")),
            "{prefix}: {:?}",
            a.warnings
        );
        let tftp = out.join("tftpboot");
        let beside = fs_err::read_to_string(tftp.join("efi/grub.cfg")).unwrap();
        assert!(beside.contains("menuentry 'Compute node'"), "{beside}");
        let m = manifest(&out);
        assert_eq!(m["boot"]["grub_prefix"], prefix, "{prefix}");
        assert_eq!(m["boot"]["uefi_boot_file"], "efi/bootx64.efi");
        match folder {
            Some(f) => {
                // The same menus, per-host ones included, at the prefix.
                for name in ["grub.cfg", "grub.cfg-01-52-54-00-12-34-01"] {
                    assert_eq!(
                        fs_err::read(tftp.join(f).join(name)).unwrap(),
                        fs_err::read(tftp.join("efi").join(name)).unwrap(),
                        "{prefix}: {f}/{name}"
                    );
                    assert!(a.files.contains_key(&format!("tftpboot/{f}/{name}")));
                }
                assert_eq!(m["boot"]["grub_cfg_dirs"], serde_json::json!(["efi", f]));
            }
            None => {
                assert_eq!(m["boot"]["grub_cfg_dirs"], serde_json::json!(["efi"]));
                let grub_cfgs = a
                    .files
                    .keys()
                    .filter(|k| k.ends_with("/grub.cfg"))
                    .collect::<Vec<_>>();
                assert_eq!(grub_cfgs, ["tftpboot/efi/grub.cfg"]);
            }
        }
    }
}

#[test]
fn a_prefix_that_is_no_tftp_folder_keeps_the_config_beside_the_loader_and_says_so() {
    if !have("grub-mkimage") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut fx = fixture();
    fx.boot_rpms = boot_rpms(dir.path(), true, Some(mkimage(dir.path(), "boot/grub")));
    let out = dir.path().join("out");
    let a = emit_to(&fx, settings(), &out);
    let w = a.warnings.join("\n");
    assert!(
        w.contains("looks for its config under the prefix `boot/grub`, which names no folder of the tftp tree: grub.cfg is only beside the loader (`efi/grub.cfg`)"),
        "{w}"
    );
    let cfgs: Vec<_> = a.files.keys().filter(|k| k.contains("grub.cfg")).collect();
    assert!(
        cfgs.iter().all(|k| k.starts_with("tftpboot/efi/")),
        "{cfgs:?}"
    );
}

/// Debian's signed GRUB images (grub-efi-amd64-signed; `DISKLESS_GRUB_SIGNED_DIR` points
/// elsewhere) carry a memdisk and an embedded config before the prefix.
#[test]
fn debian_signed_grub_prefixes_are_read() {
    let dir = std::env::var_os("DISKLESS_GRUB_SIGNED_DIR").map_or_else(
        || PathBuf::from("/usr/lib/grub/x86_64-efi-signed"),
        PathBuf::from,
    );
    if !dir.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "grub-efi-amd64-signed is missing in CI (ci/setup.sh installs it)"
        );
        eprintln!("skipped: no {}", dir.display());
        return;
    }
    let prefix = |f: &str| grub_prefix::embedded(&fs_err::read(dir.join(f)).unwrap()).unwrap();
    assert_eq!(prefix("grubx64.efi.signed").as_deref(), Some("/EFI/debian"));
    let net = prefix("grubnetx64.efi.signed").unwrap();
    assert!(
        matches!(grub_prefix::config_dir(&net), ConfigDir::Dir(_)),
        "{net}"
    );
}

#[test]
fn uefi_auto_follows_the_boot_packages_and_warnings_say_why() {
    let dir = tempfile::tempdir().unwrap();
    // No UEFI loader: BIOS only, and the DHCP configs offer no EFI file.
    let mut fx = fixture();
    fx.boot_rpms = boot_rpms(dir.path(), false, None);
    let out = dir.path().join("bios-only");
    let a = emit_to(&fx, settings(), &out);
    assert!(
        a.warnings.contains(&"the tftp tree boots BIOS clients only: no UEFI loader in the boot packages (add grub2-efi-x64 and shim-x64)".to_string()),
        "{:?}",
        a.warnings
    );
    assert!(!a.files.keys().any(|k| k.contains("efi/")), "{:?}", a.files);
    let dhcpd = fs_err::read_to_string(out.join("config/dhcpd.conf")).unwrap();
    assert!(!dhcpd.contains("bootx64.efi"), "{dhcpd}");
    assert_eq!(
        manifest(&out)["boot"]["uefi_boot_file"],
        serde_json::Value::Null
    );

    // Required: an error naming the packages.
    let mut s = settings();
    s.menu.uefi = Uefi::On;
    let e = diskless::emit::emit(&crate::emit::inputs(&fx, s), &dir.path().join("x"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "UEFI is required (`uefi = true`) but no boot package provides shimx64.efi or grubx64.efi: add grub2-efi-x64 and shim-x64 to the boot packages"
    );

    // Off with loaders there: BIOS only, because the profile says so.
    let fx = fixture();
    let mut s = settings();
    s.menu.uefi = Uefi::Off;
    let a = emit_to(&fx, s, &dir.path().join("off"));
    assert!(
        a.warnings.contains(&"the tftp tree boots BIOS clients only: uefi = false in the profile (the boot packages' UEFI loaders are left out)".to_string()),
        "{:?}",
        a.warnings
    );
    assert!(!a.files.keys().any(|k| k.contains("efi/")));
}
