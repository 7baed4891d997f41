//! What a boot test needs from the host, found where Debian/Ubuntu and EL/Fedora put it:
//! QEMU (`qemu-system-x86_64`, or EL's `/usr/libexec/qemu-kvm`), a NIC model it has with
//! its iPXE option ROM, OVMF (through QEMU's firmware descriptors,
//! `/usr/share/qemu/firmware/*.json`, then the known paths), and whether KVM can run a
//! stock kernel here. A missing piece is an error naming the package to install.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} not found (looked in: {looked}): install `{debian}` (Debian/Ubuntu) or `{el}` (EL/Fedora)"
)]
pub struct Missing {
    pub what: String,
    pub looked: String,
    pub debian: &'static str,
    pub el: &'static str,
}

/// QEMU, and the network card it boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qemu {
    pub binary: PathBuf,
    /// A `-device` model this QEMU has (`e1000`, `e1000e` or `virtio-net-pci`).
    pub nic: &'static str,
    /// The model's iPXE ROM (BIOS and UEFI drivers in one file).
    pub rom: PathBuf,
}

/// OVMF's code image and the variable store template each boot copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub code_format: String,
    pub vars: PathBuf,
    pub vars_format: String,
}

fn in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The NIC models in order of preference (e1000 is what the boot tests have run most),
/// with the ROM QEMU loads for each.
const NICS: [(&str, &str); 3] = [
    ("e1000", "efi-e1000.rom"),
    ("e1000e", "efi-e1000e.rom"),
    ("virtio-net-pci", "efi-virtio.rom"),
];

/// Where distributions keep QEMU's iPXE ROMs, besides the data folders QEMU names.
const ROM_DIRS: [&str; 5] = [
    "/usr/share/qemu",
    "/usr/lib/ipxe/qemu",
    "/usr/share/qemu-kvm",
    "/usr/share/ipxe/qemu",
    "/usr/local/share/qemu",
];

pub fn qemu() -> Result<Qemu, Missing> {
    let binary = in_path("qemu-system-x86_64")
        .or_else(|| Some(PathBuf::from("/usr/libexec/qemu-kvm")).filter(|p| p.is_file()))
        .or_else(|| in_path("qemu-kvm"))
        .ok_or_else(|| Missing {
            what: "QEMU".into(),
            looked: "qemu-system-x86_64 and qemu-kvm in PATH, /usr/libexec/qemu-kvm".into(),
            debian: "qemu-system-x86",
            el: "qemu-kvm",
        })?;
    let devices = Command::new(&binary)
        .args(["-device", "help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let has = |model: &str| devices.contains(&format!("name \"{model}\""));
    // `-L help` lists the folders this QEMU reads ROMs from.
    let mut dirs: Vec<PathBuf> = Command::new(&binary)
        .args(["-L", "help"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| PathBuf::from(l.trim()))
                .filter(|p| p.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(ROM_DIRS.iter().map(PathBuf::from));
    let mut looked = Vec::new();
    for (nic, rom) in NICS.iter().filter(|(m, _)| has(m)) {
        if let Some(p) = dirs.iter().map(|d| d.join(rom)).find(|p| p.is_file()) {
            return Ok(Qemu {
                binary,
                nic,
                rom: p,
            });
        }
        looked.push(*rom);
    }
    if looked.is_empty() {
        return Err(Missing {
            what: format!(
                "A network card QEMU (`{}`) can boot from (e1000, e1000e or virtio-net-pci)",
                binary.display()
            ),
            looked: "`-device help`".into(),
            debian: "qemu-system-x86",
            el: "qemu-kvm",
        });
    }
    Err(Missing {
        what: format!("The iPXE ROM ({})", looked.join(" or ")),
        looked: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        debian: "ipxe-qemu",
        el: "ipxe-roms-qemu",
    })
}

/// Folders of QEMU firmware descriptors (docs/interop/firmware.json), read in this order:
/// a file in /etc overrides one of the same name in /usr/share.
const DESCRIPTOR_DIRS: [&str; 2] = ["/usr/share/qemu/firmware", "/etc/qemu/firmware"];

/// Known OVMF files (code, variable store template) when no descriptor matches.
const OVMF_PATHS: [(&str, &str); 5] = [
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
    (
        "/usr/share/edk2/ovmf/OVMF_CODE.fd",
        "/usr/share/edk2/ovmf/OVMF_VARS.fd",
    ),
    (
        "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
        "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
    ),
    (
        "/usr/share/edk2-ovmf/x64/OVMF_CODE.fd",
        "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd",
    ),
];

/// A descriptor for plain UEFI on x86_64 q35 from flash, without Secure Boot or SMM
/// (shim would boot with Secure Boot too, but an enrolled-keys store needs SMM and rules
/// out an unsigned GRUB).
fn from_descriptor(json: &serde_json::Value) -> Option<Ovmf> {
    let strs = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    if !strs(&json["interface-types"]).iter().any(|t| t == "uefi") {
        return None;
    }
    let features = strs(&json["features"]);
    if features
        .iter()
        .any(|f| matches!(f.as_str(), "secure-boot" | "requires-smm" | "enrolled-keys"))
    {
        return None;
    }
    let q35 = json["targets"].as_array()?.iter().any(|t| {
        t["architecture"] == "x86_64"
            && strs(&t["machines"])
                .iter()
                .any(|m| m.starts_with("pc-q35") || m == "q35")
    });
    let m = &json["mapping"];
    if !q35 || m["device"] != "flash" {
        return None;
    }
    let file = |k: &str| -> Option<(PathBuf, String)> {
        let p = PathBuf::from(m[k]["filename"].as_str()?);
        let format = m[k]["format"].as_str().unwrap_or("raw").to_string();
        p.is_file().then_some((p, format))
    };
    let (code, code_format) = file("executable")?;
    let (vars, vars_format) = file("nvram-template")?;
    Some(Ovmf {
        code,
        code_format,
        vars,
        vars_format,
    })
}

pub fn ovmf() -> Result<Ovmf, Missing> {
    let mut files: std::collections::BTreeMap<std::ffi::OsString, PathBuf> = Default::default();
    for d in DESCRIPTOR_DIRS {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                files.insert(e.file_name(), e.path());
            }
        }
    }
    // Descriptor names start with a priority (`60-edk2-x86_64.json`): lowest first.
    for path in files.values() {
        let json = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        if let Some(o) = json.as_ref().and_then(from_descriptor) {
            return Ok(o);
        }
    }
    OVMF_PATHS
        .iter()
        .map(|(c, v)| (Path::new(c), Path::new(v)))
        .find(|(c, v)| c.is_file() && v.is_file())
        .map(|(c, v)| Ovmf {
            code: c.to_path_buf(),
            code_format: "raw".into(),
            vars: v.to_path_buf(),
            vars_format: "raw".into(),
        })
        .ok_or_else(|| Missing {
            what: "OVMF (UEFI firmware for QEMU)".into(),
            looked: format!(
                "{}, {}",
                DESCRIPTOR_DIRS.join(", "),
                OVMF_PATHS.map(|(c, _)| c).join(", ")
            ),
            debian: "ovmf",
            el: "edk2-ovmf",
        })
}

/// How QEMU runs the guest's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accel {
    /// KVM where it can run a stock kernel, else TCG.
    #[default]
    Auto,
    Kvm,
    Tcg,
}

impl Accel {
    /// `kvm` or `tcg`. KVM needs /dev/kvm open for read and write, hardware virtualisation
    /// (vmx/svm in /proc/cpuinfo), and not the `kvm_pvm` module some CI machines expose
    /// (its /dev/kvm opens, but a stock kernel does not boot on it).
    pub fn resolve(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
            Accel::Auto => {
                let usable = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/kvm")
                    .is_ok()
                    && !Path::new("/sys/module/kvm_pvm").exists()
                    && std::fs::read_to_string("/proc/cpuinfo")
                        .is_ok_and(|c| c.contains(" vmx") || c.contains(" svm"));
                if usable { "kvm" } else { "tcg" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_pick_plain_uefi_on_q35() {
        let dir = tempfile::tempdir().unwrap();
        let (code, vars) = (dir.path().join("CODE.fd"), dir.path().join("VARS.fd"));
        std::fs::write(&code, b"c").unwrap();
        std::fs::write(&vars, b"v").unwrap();
        let d = |features: &str, machine: &str| {
            serde_json::from_str::<serde_json::Value>(&format!(
                r#"{{"interface-types": ["uefi"],
                    "mapping": {{"device": "flash",
                        "executable": {{"filename": "{}", "format": "raw"}},
                        "nvram-template": {{"filename": "{}", "format": "qcow2"}}}},
                    "targets": [{{"architecture": "x86_64", "machines": ["{machine}"]}}],
                    "features": [{features}]}}"#,
                code.display(),
                vars.display()
            ))
            .unwrap()
        };
        let o = from_descriptor(&d(r#""acpi-s3""#, "pc-q35-*")).unwrap();
        assert_eq!((o.code, o.vars_format.as_str()), (code.clone(), "qcow2"));
        assert!(from_descriptor(&d(r#""secure-boot", "requires-smm""#, "pc-q35-*")).is_none());
        assert!(from_descriptor(&d("", "pc-i440fx-*")).is_none());
    }

    #[test]
    fn missing_names_both_packages() {
        let m = Missing {
            what: "OVMF (UEFI firmware for QEMU)".into(),
            looked: "/usr/share/OVMF".into(),
            debian: "ovmf",
            el: "edk2-ovmf",
        };
        assert_eq!(
            m.to_string(),
            "OVMF (UEFI firmware for QEMU) not found (looked in: /usr/share/OVMF): install `ovmf` (Debian/Ubuntu) or `edk2-ovmf` (EL/Fedora)"
        );
    }
}
