//! Reading a build's package list back, for `diskless sbom` and `diskless diff`: from the
//! CycloneDX SBOM (an output directory's `sbom.cdx.json`, the file itself, or the referrer
//! attached in an OCI layout), or, for builds made before SBOMs existed, from
//! `manifest.json`'s NEVRAs. Then what changed between two lists: added, removed,
//! upgraded, downgraded and rebuilt (same EVR, other RPM file) packages.

use super::{CDX_FILE, CDX_MEDIA_TYPE, ROLE_PROPERTY, Role};
use crate::emit::oci::{Layout, LayoutError};
use crate::emit::{OCI_DIR, manifest, referrers};
use crate::package::{Evr, evr_cmp};
use serde::Serialize;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("Cannot read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not JSON")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{path}`: {what}")]
    Field { path: PathBuf, what: String },
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(
        "`{path}` holds no package list (no {CDX_FILE}, no SBOM referrer in an OCI layout, no manifest.json)"
    )]
    Missing { path: PathBuf },
}

/// One package as an SBOM lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub name: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub role: Role,
    /// The License tag (empty when unknown).
    pub license: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// The RPM file's sha256 (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sourcerpm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

impl Listed {
    fn evr_parts(&self) -> Evr {
        Evr {
            epoch: self.epoch,
            version: self.version.clone(),
            release: self.release.clone(),
        }
    }

    /// `epoch:version-release`, the epoch always written (the table's column).
    pub fn full_evr(&self) -> String {
        format!("{}:{}-{}", self.epoch, self.version, self.release)
    }

    /// `name-[epoch:]version-release.arch`, as dnf prints it.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr_parts(), self.arch)
    }
}

fn read_json(path: &Path) -> Result<Value, ReadError> {
    let bytes = fs_err::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    json_of(&bytes, path)
}

fn json_of(bytes: &[u8], path: &Path) -> Result<Value, ReadError> {
    serde_json::from_slice(bytes).map_err(|source| ReadError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// The packages of a build: `path` is an output directory, an OCI layout, or an SBOM file.
pub fn read(path: &Path) -> Result<Vec<Listed>, ReadError> {
    if path.is_file() {
        // Only a JSON file can be an SBOM (never read a 2 GB initramfs to find out).
        if path.extension().is_some_and(|e| e == "json") {
            return from_cdx(&read_json(path)?, path);
        }
        return Err(ReadError::Missing {
            path: path.to_path_buf(),
        });
    }
    let cdx = path.join(CDX_FILE);
    if cdx.is_file() {
        return from_cdx(&read_json(&cdx)?, &cdx);
    }
    for layout in [path.to_path_buf(), path.join(OCI_DIR)] {
        if layout.join("index.json").is_file() {
            if let Some(v) = from_layout(&layout)? {
                return Ok(v);
            }
        }
    }
    let m = path.join(manifest::FILE_NAME);
    if m.is_file() {
        return from_manifest(&read_json(&m)?, &m);
    }
    Err(ReadError::Missing {
        path: path.to_path_buf(),
    })
}

/// The CycloneDX SBOM attached to the layout's image, when there is one.
fn from_layout(dir: &Path) -> Result<Option<Vec<Listed>>, ReadError> {
    let layout = Layout::open(dir)?;
    let image = layout.manifest()?;
    for (_, m) in referrers::find(&layout, &image.digest)? {
        let is_cdx = m
            .manifest
            .artifact_type()
            .as_ref()
            .is_some_and(|t| t.as_ref() == CDX_MEDIA_TYPE);
        if let (true, Some(layer)) = (is_cdx, m.manifest.layers().first()) {
            let bytes = layout.read_blob(layer.digest())?;
            let path = layout.blob_path(layer.digest())?;
            return from_cdx(&json_of(&bytes, &path)?, &path).map(Some);
        }
    }
    Ok(None)
}

fn from_cdx(bom: &Value, path: &Path) -> Result<Vec<Listed>, ReadError> {
    let field = |what: String| ReadError::Field {
        path: path.to_path_buf(),
        what,
    };
    if bom["bomFormat"] != "CycloneDX" {
        return Err(field(
            "not a CycloneDX BOM (no `bomFormat: CycloneDX`)".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, c) in bom["components"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let props: BTreeMap<&str, &str> = c["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["name"].as_str()?, p["value"].as_str()?)))
            .collect();
        let get = |k: &str| {
            props
                .get(k)
                .map(|v| v.to_string())
                .ok_or_else(|| field(format!("component {i} has no `{k}` property")))
        };
        let role = match get(ROLE_PROPERTY)?.as_str() {
            "image" => Role::Image,
            "boot" => Role::Boot,
            other => return Err(field(format!("component {i}: unknown role `{other}`"))),
        };
        let license = match c["licenses"].get(0) {
            Some(l) => l["expression"]
                .as_str()
                .or(l["license"]["name"].as_str())
                .or(l["license"]["id"].as_str())
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        };
        let text = |v: &Value| v.as_str().map(str::to_string);
        out.push(Listed {
            name: c["name"]
                .as_str()
                .ok_or_else(|| field(format!("component {i} has no name")))?
                .to_string(),
            epoch: get("diskless:rpm:epoch")?
                .parse()
                .map_err(|_| field(format!("component {i}: epoch is not a number")))?,
            version: get("diskless:rpm:version")?,
            release: get("diskless:rpm:release")?,
            arch: get("diskless:rpm:arch")?,
            role,
            license,
            purl: text(&c["purl"]),
            sha256: c["hashes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|h| h["alg"] == "SHA-256")
                .and_then(|h| text(&h["content"])),
            sourcerpm: props.get("diskless:rpm:sourcerpm").map(|s| s.to_string()),
            vendor: text(&c["supplier"]["name"]),
        });
    }
    Ok(out)
}

/// Split `name-[epoch:]version-release.arch` as rpm builds it.
fn parse_nevra(nevra: &str) -> Option<(String, Evr, String)> {
    let (nevr, arch) = nevra.rsplit_once('.')?;
    let (nev, release) = nevr.rsplit_once('-')?;
    let (name, ev) = nev.rsplit_once('-')?;
    let (epoch, version) = match ev.split_once(':') {
        Some((e, v)) => (e.parse().ok()?, v),
        None => (0, ev),
    };
    Some((
        name.to_string(),
        Evr {
            epoch,
            version: version.to_string(),
            release: release.to_string(),
        },
        arch.to_string(),
    ))
}

fn from_manifest(m: &Value, path: &Path) -> Result<Vec<Listed>, ReadError> {
    let mut out = Vec::new();
    for (key, role) in [("packages", Role::Image), ("boot_packages", Role::Boot)] {
        for p in m[key].as_array().into_iter().flatten() {
            let nevra = p["nevra"].as_str().unwrap_or_default();
            let (name, evr, arch) = parse_nevra(nevra).ok_or_else(|| ReadError::Field {
                path: path.to_path_buf(),
                what: format!("`{nevra}` in `{key}` is not a NEVRA"),
            })?;
            let sha256 = p["checksum"]
                .as_str()
                .and_then(|c| c.strip_prefix("sha256:"))
                .map(str::to_string);
            out.push(Listed {
                name,
                epoch: evr.epoch,
                version: evr.version,
                release: evr.release,
                arch,
                role,
                license: String::new(),
                purl: None,
                sha256,
                sourcerpm: None,
                vendor: None,
            });
        }
    }
    Ok(out)
}

/// How a package differs between two builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Upgraded,
    Downgraded,
    /// Same name, EVR and arch, another RPM file (a rebuild or a re-signed package).
    Rebuilt,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Upgraded => "upgraded",
            Change::Downgraded => "downgraded",
            Change::Rebuilt => "rebuilt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageChange {
    pub change: Change,
    pub name: String,
    pub arch: String,
    pub role: Role,
    /// The EVR in the first build (`None` when added).
    pub a: Option<String>,
    /// The EVR in the second build (`None` when removed).
    pub b: Option<String>,
}

impl std::fmt::Display for PackageChange {
    /// `added: foo-1.0-1.el9.x86_64 (image)`, `upgraded: openssl.x86_64 1:3.0.1-1 -> 1:3.0.7-2 (image)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (c, n, a, r) = (
            self.change.as_str(),
            &self.name,
            &self.arch,
            self.role.as_str(),
        );
        match (&self.a, &self.b) {
            (Some(x), Some(y)) if x != y => write!(f, "{c}: {n}.{a} {x} -> {y} ({r})"),
            (Some(x), _) | (None, Some(x)) => write!(f, "{c}: {n}-{x}.{a} ({r})"),
            (None, None) => write!(f, "{c}: {n}.{a} ({r})"),
        }
    }
}

/// What changed from `a` to `b`, sorted by name, arch and role. A name.arch with one EVR
/// gone and one new is an upgrade or a downgrade; anything else (kernels side by side) is
/// listed as added and removed EVRs.
pub fn changes(a: &[Listed], b: &[Listed]) -> Vec<PackageChange> {
    type Key = (String, String, Role);
    let group = |l: &[Listed]| {
        let mut m: BTreeMap<Key, Vec<(Evr, Option<String>)>> = BTreeMap::new();
        for p in l {
            m.entry((p.name.clone(), p.arch.clone(), p.role))
                .or_default()
                .push((p.evr_parts(), p.sha256.clone()));
        }
        m
    };
    let (ga, gb) = (group(a), group(b));
    let keys: BTreeSet<&Key> = ga.keys().chain(gb.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (xa, xb) = (
            ga.get(key).map(Vec::as_slice).unwrap_or_default(),
            gb.get(key).map(Vec::as_slice).unwrap_or_default(),
        );
        let change = |change, a: Option<&Evr>, b: Option<&Evr>| PackageChange {
            change,
            name: key.0.clone(),
            arch: key.1.clone(),
            role: key.2,
            a: a.map(Evr::to_string),
            b: b.map(Evr::to_string),
        };
        let only_a: Vec<&Evr> = xa
            .iter()
            .filter(|(e, _)| !xb.iter().any(|(f, _)| f == e))
            .map(|(e, _)| e)
            .collect();
        let only_b: Vec<&Evr> = xb
            .iter()
            .filter(|(e, _)| !xa.iter().any(|(f, _)| f == e))
            .map(|(e, _)| e)
            .collect();
        for (e, sa) in xa {
            if let Some((_, sb)) = xb.iter().find(|(f, _)| f == e)
                && sa.is_some()
                && sb.is_some()
                && sa != sb
            {
                out.push(change(Change::Rebuilt, Some(e), Some(e)));
            }
        }
        if let ([x], [y]) = (only_a.as_slice(), only_b.as_slice()) {
            let c = match evr_cmp(x, y) {
                Ordering::Greater => Change::Downgraded,
                _ => Change::Upgraded,
            };
            out.push(change(c, Some(x), Some(y)));
            continue;
        }
        out.extend(
            only_a
                .iter()
                .map(|x| change(Change::Removed, Some(x), None)),
        );
        out.extend(only_b.iter().map(|y| change(Change::Added, None, Some(y))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str, evr: &str, role: Role) -> Listed {
        let (_, e, arch) = parse_nevra(&format!("{name}-{evr}.x86_64")).unwrap();
        Listed {
            name: name.into(),
            epoch: e.epoch,
            version: e.version,
            release: e.release,
            arch,
            role,
            license: String::new(),
            purl: None,
            sha256: Some(format!("{name}{evr}")),
            sourcerpm: None,
            vendor: None,
        }
    }

    #[test]
    fn added_removed_upgraded_downgraded_rebuilt() {
        let a = [
            l("openssl", "1:3.0.1-43.el9", Role::Image),
            l("bash", "5.1.8-9.el9", Role::Image),
            l("kernel", "5.14.0-70.el9", Role::Image),
            l("grub2-efi-x64", "1:2.06-70.el9", Role::Boot),
            l("gone", "1-1", Role::Image),
        ];
        let mut b = vec![
            l("openssl", "1:3.0.7-24.el9", Role::Image),
            l("bash", "5.1.8-9.el9", Role::Image),
            l("kernel", "5.14.0-70.el9", Role::Image),
            l("kernel", "5.14.0-80.el9", Role::Image),
            l("grub2-efi-x64", "1:2.06-61.el9", Role::Boot),
            l("new", "2-1", Role::Boot),
        ];
        b[1].sha256 = Some("other".into());
        let text: Vec<String> = changes(&a, &b).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            text,
            [
                "rebuilt: bash-5.1.8-9.el9.x86_64 (image)",
                "removed: gone-1-1.x86_64 (image)",
                "downgraded: grub2-efi-x64.x86_64 1:2.06-70.el9 -> 1:2.06-61.el9 (boot)",
                "added: kernel-5.14.0-80.el9.x86_64 (image)",
                "added: new-2-1.x86_64 (boot)",
                "upgraded: openssl.x86_64 1:3.0.1-43.el9 -> 1:3.0.7-24.el9 (image)",
            ]
        );
        assert!(changes(&a, &a).is_empty());
    }

    #[test]
    fn nevra_parts() {
        let (n, e, a) = parse_nevra("perl-Net-SSLeay-1:1.92-2.el9.x86_64").unwrap();
        assert_eq!(
            (n.as_str(), e.to_string(), a.as_str()),
            ("perl-Net-SSLeay", "1:1.92-2.el9".into(), "x86_64")
        );
        assert!(parse_nevra("nodots").is_none());
    }
}
