//! The build's software bill of materials: `sbom.spdx.json` (SPDX 2.3) and `sbom.cdx.json`
//! (CycloneDX 1.6), written next to the other artifacts and attached to the OCI image as
//! referrers (see [`super::referrers`]).
//!
//! Both describe the same thing: the OCI image of the tftp tree as the root, one package
//! per RPM installed into the image and one per boot package (kept apart: SPDX relates
//! them to the image by `CONTAINS` and `GENERATED_FROM`, CycloneDX marks them with the
//! `diskless:package:role` property), and which package requires which. The facts come
//! from the lock (NEVRA, repository, the RPM file's sha256, via [`super::Provenance`])
//! and the RPM headers (license, source RPM, vendor, packager, URL, summary, requires,
//! provides and files: rootfs's headers for the image, the boot RPMs' own for the boot
//! packages). A package whose header is not at hand is described from the lock alone.
//!
//! Reproducible like every other output: canonical JSON, the only time is
//! SOURCE_DATE_EPOCH, and the identifiers a format wants unique (SPDX's document
//! namespace, CycloneDX's serial number) are derived from the document's own content.

pub mod cdx;
pub mod deps;
pub mod read;
pub mod spdx;

use super::PackageRecord;
use crate::rootfs::header::PkgHeader;
use crate::rootfs::store::Store;
use crate::rootfs::tree::{EntryKind, Tree};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};

pub const SPDX_FILE: &str = "sbom.spdx.json";
pub const CDX_FILE: &str = "sbom.cdx.json";
pub const SPDX_MEDIA_TYPE: &str = "application/spdx+json";
pub const CDX_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
/// The CycloneDX property that keeps image and boot packages apart.
pub const ROLE_PROPERTY: &str = "diskless:package:role";

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("Cannot read the boot packages' headers for the SBOM")]
    BootHeaders(#[source] crate::rootfs::RootfsError),
    #[error("Cannot read `{path}` of image `{image}` from the content store")]
    OsRelease {
        image: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where a package of the build went.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Installed into the image's root filesystem (the initramfs).
    Image,
    /// A boot package: its boot loader files are copied into the tftp tree; it is not
    /// installed.
    Boot,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Image => "image",
            Role::Boot => "boot",
        }
    }
}

/// A package's license as the SBOM states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// The header has no License tag.
    None,
    /// A valid SPDX license expression (operators upper-cased).
    Spdx(String),
    /// Free text that is not one (`GPLv2+ and BSD`, older Fedora/EL style): SPDX gets a
    /// `LicenseRef-` for it, CycloneDX the text as a license name.
    Text(String),
}

impl License {
    /// Classify the header's License tag.
    pub fn from_tag(tag: &str) -> License {
        let tag = tag.trim();
        if tag.is_empty() {
            return License::None;
        }
        match ::spdx::Expression::parse(tag) {
            Ok(_) => License::Spdx(upper_operators(tag)),
            Err(_) => License::Text(tag.to_string()),
        }
    }

    /// The text as a person reads it.
    pub fn as_text(&self) -> &str {
        match self {
            License::None => "",
            License::Spdx(s) | License::Text(s) => s,
        }
    }
}

/// `and`, `or` and `with` written as SPDX writes them (rpm spec files often use lower case).
fn upper_operators(expr: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.to_ascii_uppercase().as_str() {
            op @ ("AND" | "OR" | "WITH") => out.push_str(op),
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in expr.chars() {
        if c.is_whitespace() || c == '(' || c == ')' {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// One package of the SBOM.
#[derive(Debug, Clone)]
pub struct Package<'a> {
    pub role: Role,
    pub record: &'a PackageRecord,
    pub header: Option<&'a PkgHeader>,
    /// Unique within the document, made of `[A-Za-z0-9.-]` (an SPDXID's tail, a bom-ref).
    pub id: String,
    pub purl: String,
    pub license: License,
    /// Indexes of the packages (same role) that satisfy one of its requires.
    pub requires: BTreeSet<usize>,
}

impl Package<'_> {
    /// `[epoch:]version-release`, as rpm prints it.
    pub fn evr(&self) -> String {
        let r = self.record;
        if r.epoch == 0 {
            format!("{}-{}", r.version, r.release)
        } else {
            format!("{}:{}-{}", r.epoch, r.version, r.release)
        }
    }

    /// A header tag's text, empty without a header.
    fn info(&self, f: impl Fn(&crate::rootfs::header::PkgInfo) -> &str) -> &str {
        self.header.map_or("", |h| f(&h.info))
    }

    pub fn vendor(&self) -> &str {
        self.info(|i| &i.vendor)
    }
    pub fn sourcerpm(&self) -> &str {
        self.info(|i| &i.sourcerpm)
    }
    pub fn packager(&self) -> &str {
        self.info(|i| &i.packager)
    }
    pub fn summary(&self) -> &str {
        self.info(|i| &i.summary)
    }
    /// The URL tag when it is an http(s) URL (SPDX's homepage must be one).
    pub fn homepage(&self) -> Option<&str> {
        let u = self.info(|i| &i.url);
        ((u.starts_with("https://") || u.starts_with("http://"))
            && !u.contains(char::is_whitespace))
        .then_some(u)
    }
}

/// The image the SBOM describes.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The profile's image name.
    pub name: String,
    /// `sha256:…` of the OCI image manifest.
    pub manifest_digest: String,
    /// The OCI tag (`org.opencontainers.image.ref.name` in the layout).
    pub tag: String,
    /// `org.opencontainers.image.version`, when the profile sets one.
    pub version: Option<String>,
    pub profile_digest: String,
    pub lock_digest: String,
}

/// Everything both documents are written from.
#[derive(Debug, Clone)]
pub struct Sbom<'a> {
    pub subject: Subject,
    /// Image packages, then boot packages, each in lock order.
    pub packages: Vec<Package<'a>>,
    /// SOURCE_DATE_EPOCH as RFC 3339.
    pub created: String,
    /// `ID` and `VERSION_ID` of the image's os-release, when it has one.
    pub os: Option<OsRelease>,
}

/// What an SBOM is built from.
pub struct Inputs<'a> {
    pub subject: Subject,
    pub packages: &'a [PackageRecord],
    pub boot_packages: &'a [PackageRecord],
    /// Headers of the image's packages (every image's) and of the boot packages.
    pub image_headers: Vec<&'a PkgHeader>,
    pub boot_headers: &'a [PkgHeader],
    pub source_date_epoch: u64,
    pub os: Option<OsRelease>,
}

/// Join the lock's records with their headers, name every package and find who requires
/// whom.
pub fn collect<'a>(i: Inputs<'a>) -> Sbom<'a> {
    let boot: Vec<&PkgHeader> = i.boot_headers.iter().collect();
    let mut packages: Vec<Package<'a>> = Vec::new();
    let mut ids = Ids::default();
    for (role, records, headers) in [
        (Role::Image, i.packages, &i.image_headers),
        (Role::Boot, i.boot_packages, &boot),
    ] {
        let by_nevra: BTreeMap<String, &'a PkgHeader> =
            headers.iter().rev().map(|h| (h.nevra(), *h)).collect();
        let first = packages.len();
        for r in records {
            let header = by_nevra.get(&r.nevra).copied();
            let vendor = header.map_or("", |h| h.info.vendor.as_str());
            packages.push(Package {
                role,
                record: r,
                header,
                id: ids.unique(&format!("{}-{}", role.as_str(), r.nevra)),
                purl: purl(r, vendor, i.os.as_ref()),
                license: header.map_or(License::None, |h| License::from_tag(&h.info.license)),
                requires: BTreeSet::new(),
            });
        }
        // Edges among this role's packages that have headers.
        let with: Vec<usize> = (first..packages.len())
            .filter(|&k| packages[k].header.is_some())
            .collect();
        let hs: Vec<&PkgHeader> = with.iter().filter_map(|&k| packages[k].header).collect();
        for (from, to) in deps::requires(&hs).into_iter().enumerate() {
            packages[with[from]].requires = to.into_iter().map(|t| with[t]).collect();
        }
    }
    Sbom {
        subject: i.subject,
        packages,
        created: super::oci::rfc3339(i.source_date_epoch),
        os: i.os,
    }
}

/// Identifiers made of `[A-Za-z0-9.-]`, unique within one document.
#[derive(Default)]
struct Ids(BTreeSet<String>);

impl Ids {
    fn unique(&mut self, text: &str) -> String {
        let base: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut id = base.clone();
        // `libstdc++` and `libstdc--` read the same once cleaned: the digest of the text
        // tells them apart.
        if self.0.contains(&id) {
            id = format!("{base}-{}", &short_digest(text.as_bytes())[..12]);
        }
        self.0.insert(id.clone());
        id
    }
}

fn short_digest(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A UUID from the sha256 of `data`: version 8 (RFC 9562, "custom"), so it is a function of
/// the content instead of random.
pub fn content_uuid(data: &[u8]) -> String {
    let mut b: [u8; 32] = Sha256::digest(data).into();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(&b[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `ID` and `VERSION_ID` of an os-release file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsRelease {
    pub id: String,
    pub version_id: String,
}

impl OsRelease {
    /// Parse os-release(5) text; `None` without an `ID`.
    pub fn parse(text: &str) -> Option<OsRelease> {
        let mut id = None;
        let mut version_id = String::new();
        for line in text.lines() {
            let Some((k, v)) = line.trim().split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
            match k.trim() {
                "ID" => id = Some(v.to_ascii_lowercase()),
                "VERSION_ID" => version_id = v,
                _ => {}
            }
        }
        id.filter(|i| !i.is_empty())
            .map(|id| OsRelease { id, version_id })
    }

    /// The purl `distro` qualifier: `<ID>-<VERSION_ID>` (`rocky-9.3`), as syft writes it.
    pub fn distro(&self) -> String {
        if self.version_id.is_empty() {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.version_id)
        }
    }
}

/// The image's os-release (`/etc/os-release`, or the `/usr/lib/os-release` it links to).
pub fn os_release(image: &str, tree: &Tree, store: &Store) -> Result<Option<OsRelease>, SbomError> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        let mut p = path.to_string();
        // Follow a few symlinks (`/etc/os-release -> ../usr/lib/os-release`), never a loop.
        for _ in 0..8 {
            match tree.get(&p).map(|e| &e.kind) {
                Some(EntryKind::Symlink { target }) => {
                    let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
                    p = normalize(&if target.starts_with('/') {
                        target.clone()
                    } else {
                        format!("{dir}/{target}")
                    });
                }
                Some(EntryKind::File { digest, .. }) => {
                    let bytes = store.read(digest).map_err(|source| SbomError::OsRelease {
                        image: image.to_string(),
                        path: p.clone(),
                        source,
                    })?;
                    return Ok(OsRelease::parse(&String::from_utf8_lossy(&bytes)));
                }
                _ => break,
            }
        }
    }
    Ok(None)
}

/// `/etc/../usr/lib/x` -> `/usr/lib/x`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The purl namespace for an rpm from this vendor: the distribution's short name for the
/// vendors scanners know (`redhat`, `centos`, `rocky`, `fedora`, ...).
fn known_vendor(vendor: &str) -> Option<&'static str> {
    let v = vendor.to_ascii_lowercase();
    [
        ("red hat", "redhat"),
        ("centos", "centos"),
        ("rocky", "rocky"),
        ("almalinux", "almalinux"),
        ("fedora", "fedora"),
        ("oracle", "oracle"),
        ("opensuse", "opensuse"),
        ("suse", "suse"),
        ("amazon", "amazon"),
    ]
    .into_iter()
    .find(|(k, _)| v.contains(k))
    .map(|(_, ns)| ns)
}

/// The purl namespace: a known vendor's distribution, else the vendor's name (lower case,
/// `-` for anything but letters and digits), else the image's os-release `ID` (`rhel`
/// written `redhat`, as for the vendor), else none.
pub fn namespace(vendor: &str, os: Option<&OsRelease>) -> Option<String> {
    if let Some(ns) = known_vendor(vendor) {
        return Some(ns.to_string());
    }
    let slug: String = vendor
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if !slug.is_empty() {
        return Some(slug);
    }
    os.map(|o| match o.id.as_str() {
        "rhel" => "redhat".to_string(),
        id => id.to_string(),
    })
}

/// Percent-encode everything but the characters purl never needs encoded.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pkg:rpm/<namespace>/<name>@<version>-<release>?arch=…&distro=…&epoch=…` (purl spec,
/// type rpm: the epoch is a qualifier, qualifiers sorted by key).
pub fn purl(r: &PackageRecord, vendor: &str, os: Option<&OsRelease>) -> String {
    let mut s = String::from("pkg:rpm/");
    if let Some(ns) = namespace(vendor, os) {
        s.push_str(&pct(&ns));
        s.push('/');
    }
    s.push_str(&pct(&r.name));
    s.push('@');
    s.push_str(&pct(&format!("{}-{}", r.version, r.release)));
    s.push_str("?arch=");
    s.push_str(&pct(&r.arch));
    if let Some(o) = os {
        s.push_str("&distro=");
        s.push_str(&pct(&o.distro()));
    }
    if r.epoch != 0 {
        s.push_str(&format!("&epoch={}", r.epoch));
    }
    s
}

/// `pkg:oci/<name>@sha256%3A<hex>?tag=<tag>` for the image.
pub fn image_purl(s: &Subject) -> String {
    format!(
        "pkg:oci/{}@{}?tag={}",
        pct(&s.name.to_ascii_lowercase()),
        pct(&s.manifest_digest),
        pct(&s.tag)
    )
}

/// Both documents' canonical bytes (indented, final newline).
pub fn documents(s: &Sbom<'_>) -> (Vec<u8>, Vec<u8>) {
    (
        super::cjson::to_pretty(&spdx::document(s)),
        super::cjson::to_pretty(&cdx::document(s)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(name: &str, epoch: u32, arch: &str) -> PackageRecord {
        PackageRecord {
            nevra: if epoch == 0 {
                format!("{name}-1.2-3.el9.{arch}")
            } else {
                format!("{name}-{epoch}:1.2-3.el9.{arch}")
            },
            checksum: format!("sha256:{}", "ab".repeat(32)),
            name: name.into(),
            epoch,
            version: "1.2".into(),
            release: "3.el9".into(),
            arch: arch.into(),
            repo: "baseos".into(),
            sha256: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn purls_follow_the_rpm_type() {
        let os = OsRelease::parse("NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n");
        assert_eq!(
            os,
            Some(OsRelease {
                id: "rocky".into(),
                version_id: "9.3".into()
            })
        );
        let r = record("openssl", 1, "x86_64");
        assert_eq!(
            purl(&r, "Rocky Enterprise Software Foundation", os.as_ref()),
            "pkg:rpm/rocky/openssl@1.2-3.el9?arch=x86_64&distro=rocky-9.3&epoch=1"
        );
        let r = record("libstdc++", 0, "x86_64");
        assert_eq!(
            purl(&r, "Red Hat, Inc.", None),
            "pkg:rpm/redhat/libstdc%2B%2B@1.2-3.el9?arch=x86_64"
        );
        assert_eq!(
            purl(&r, "", None),
            "pkg:rpm/libstdc%2B%2B@1.2-3.el9?arch=x86_64"
        );
        assert_eq!(
            purl(&r, "diskless boot fixture", None),
            "pkg:rpm/diskless-boot-fixture/libstdc%2B%2B@1.2-3.el9?arch=x86_64"
        );
        let rhel = OsRelease::parse("ID=rhel\nVERSION_ID=9.2\n");
        assert_eq!(
            purl(&r, "", rhel.as_ref()),
            "pkg:rpm/redhat/libstdc%2B%2B@1.2-3.el9?arch=x86_64&distro=rhel-9.2"
        );
        assert_eq!(OsRelease::parse("NAME=x\n"), None);
    }

    #[test]
    fn licenses_spdx_or_text() {
        assert_eq!(
            License::from_tag("GPL-2.0-or-later and (MIT or BSD-3-Clause)"),
            License::Spdx("GPL-2.0-or-later AND (MIT OR BSD-3-Clause)".into())
        );
        assert_eq!(
            License::from_tag("GPLv2+ and BSD"),
            License::Text("GPLv2+ and BSD".into())
        );
        assert_eq!(License::from_tag(" "), License::None);
    }

    #[test]
    fn ids_are_clean_and_unique() {
        let mut ids = Ids::default();
        assert_eq!(
            ids.unique("image-libstdc++-1:2-3.x86_64"),
            "image-libstdc---1-2-3.x86-64"
        );
        let other = ids.unique("image-libstdc--+1:2-3.x86_64");
        assert!(
            other.starts_with("image-libstdc---1-2-3.x86-64-"),
            "{other}"
        );
        assert_eq!(other.len(), "image-libstdc---1-2-3.x86-64-".len() + 12);
    }

    #[test]
    fn os_release_through_the_etc_symlink() {
        use crate::rootfs::tree::Entry;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store")).unwrap();
        let (digest, size) = store
            .put_bytes(b"NAME=\"AlmaLinux\"\nID=\"almalinux\"\nVERSION_ID=\"9.4\"\n")
            .unwrap();
        let entry = |kind| Entry {
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            owner_package: None,
            caps: None,
        };
        let mut tree = Tree::default();
        assert_eq!(os_release("i", &tree, &store).unwrap(), None);
        tree.entries.insert(
            "/etc/os-release".into(),
            entry(EntryKind::Symlink {
                target: "../usr/lib/os-release".into(),
            }),
        );
        tree.entries.insert(
            "/usr/lib/os-release".into(),
            entry(EntryKind::File {
                digest,
                size,
                link_group: None,
            }),
        );
        let os = os_release("i", &tree, &store).unwrap().unwrap();
        assert_eq!(os.distro(), "almalinux-9.4");
        // A symlink loop ends the search instead of spinning.
        tree.entries.insert(
            "/usr/lib/os-release".into(),
            entry(EntryKind::Symlink {
                target: "/etc/os-release".into(),
            }),
        );
        assert_eq!(os_release("i", &tree, &store).unwrap(), None);
    }

    #[test]
    fn content_uuids_are_version_8() {
        let u = content_uuid(b"x");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_eq!(u, content_uuid(b"x"));
        assert_ne!(u, content_uuid(b"y"));
    }
}
