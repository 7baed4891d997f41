//! The SBOMs, checked by the formats' own validators: `pyspdxtools` (PyPI `spdx-tools`)
//! for SPDX 2.3 and cyclonedx-python-lib's strict JSON validator for CycloneDX 1.6
//! (ci/setup.sh installs both; outside CI a missing tool skips with a message).
//!
//! Two sources: real distribution RPMs from the shared fixtures (CentOS, Fedora, Red Hat,
//! openSUSE headers; licenses that are and are not SPDX expressions; rich dependencies),
//! described through the library; and `diskless build` of the offline fixture profile,
//! whose SBOMs are also compared with the lock, the RPM files, the OCI referrers and
//! `diskless sbom`.

use crate::support::fixtures;
use diskless::emit::PackageRecord;
use diskless::emit::sbom::{self, Inputs, Subject};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_diskless");

/// The CycloneDX validator, as its documentation shows it.
const CDX_CHECK: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if errors:
    print(errors)
    sys.exit(1)
print("valid CycloneDX 1.6")
"#;

/// Both validators are installed; else skip (outside CI) or fail (in CI).
pub(crate) fn validators() -> bool {
    let spdx = Command::new("pyspdxtools")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    let cdx = Command::new("python3")
        .args(["-c", "import cyclonedx.validation.json, jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !(spdx && cdx) {
        assert!(
            std::env::var_os("CI").is_none(),
            "pyspdxtools or cyclonedx-python-lib is missing in CI (ci/setup.sh installs them)"
        );
        eprintln!(
            "skipped: pip install spdx-tools 'cyclonedx-python-lib[json-validation]' to validate SBOMs"
        );
    }
    spdx && cdx
}

/// Run a validator; (passed, what it printed).
fn validate(spdx: bool, file: &Path) -> (bool, String) {
    let out = if spdx {
        Command::new("pyspdxtools").arg("-i").arg(file).output()
    } else {
        Command::new("python3")
            .args(["-c", CDX_CHECK])
            .arg(file)
            .output()
    }
    .expect("run the validator");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Both files pass; a damaged copy of each fails (the check can fail).
pub(crate) fn assert_valid(spdx_file: &Path, cdx_file: &Path) {
    for (is_spdx, f) in [(true, spdx_file), (false, cdx_file)] {
        let (ok, said) = validate(is_spdx, f);
        assert!(ok, "{} rejected:\n{said}", f.display());
        let said = said.trim();
        eprintln!(
            "{}: valid ({})",
            f.display(),
            if said.is_empty() { "no findings" } else { said }
        );
        let mut v: Value = serde_json::from_slice(&fs_err::read(f).unwrap()).unwrap();
        if is_spdx {
            v["relationships"][0]["relationshipType"] = "CONTAINED_IN_NOWHERE".into();
        } else {
            v["components"][0]["hashes"][0]["alg"] = "SHA-255".into();
        }
        let bad = f.with_extension("broken.json");
        fs_err::write(&bad, serde_json::to_vec(&v).unwrap()).unwrap();
        let (ok, said) = validate(is_spdx, &bad);
        assert!(!ok, "a broken {} passed:\n{said}", bad.display());
    }
}

fn record(path: &Path, h: &diskless::rootfs::header::PkgHeader) -> PackageRecord {
    let sha = hex::encode(Sha256::digest(fs_err::read(path).unwrap()));
    PackageRecord {
        nevra: h.nevra(),
        checksum: format!("sha256:{sha}"),
        name: h.name.clone(),
        epoch: h.epoch.unwrap_or(0),
        version: h.version.clone(),
        release: h.release.clone(),
        arch: h.arch.clone(),
        repo: "fixtures".into(),
        sha256: Some(sha),
    }
}

#[test]
fn real_distribution_rpms_give_valid_spdx_and_cyclonedx() {
    let Some(fx) = fixtures() else { return };
    if !validators() {
        return;
    }
    let image: Vec<_> = [
        "rpm-rs-history/test_assets/rpm-sign-4.15.1-1.fc31.x86_64.rpm",
        "rpm-rs-history/test_assets/389-ds-base-devel-1.3.8.4-15.el7.x86_64.rpm",
        "go-rpmutils-history/testdata/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
        "cavaliergopher-rpm/testdata/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
        "rpmlint-history/test/binary/freeradius-server-3.2.3-3.1.x86_64.rpm",
        "rpmlint-history/test/binary/python3-power-1.1-4.20121103git2cfe611.fc19.noarch.rpm",
        "rpm-rs/tests/assets/RPMS/v6/rpm-rich-deps-1.0-1.noarch.rpm",
    ]
    .iter()
    .map(|p| fx.join(p))
    .collect();
    let boot = vec![fx.join("cavaliergopher-rpm/testdata/epel-release-7-5.noarch.rpm")];
    let ih = diskless::rootfs::read_headers(&image).unwrap();
    let bh = diskless::rootfs::read_headers(&boot).unwrap();
    let irec: Vec<_> = image.iter().zip(&ih).map(|(p, h)| record(p, h)).collect();
    let brec: Vec<_> = boot.iter().zip(&bh).map(|(p, h)| record(p, h)).collect();
    let bom = sbom::collect(Inputs {
        subject: Subject {
            name: "real".into(),
            manifest_digest: format!("sha256:{}", "12".repeat(32)),
            tag: "latest".into(),
            version: Some("1.0".into()),
            profile_digest: "p".into(),
            lock_digest: format!("sha256:{}", "34".repeat(32)),
        },
        packages: &irec,
        boot_packages: &brec,
        image_headers: ih.iter().collect(),
        boot_headers: &bh,
        source_date_epoch: 1_700_000_000,
        os: sbom::OsRelease::parse("ID=\"centos\"\nVERSION_ID=\"7\"\n"),
    });
    let (spdx, cdx) = sbom::documents(&bom);
    let dir = tempfile::tempdir().unwrap();
    let (sf, cf) = (
        dir.path().join("s.spdx.json"),
        dir.path().join("c.cdx.json"),
    );
    fs_err::write(&sf, &spdx).unwrap();
    fs_err::write(&cf, &cdx).unwrap();
    assert_valid(&sf, &cf);

    let s: Value = serde_json::from_slice(&spdx).unwrap();
    let pkg = |name: &str| {
        s["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    let purl = |p: &Value| p["externalRefs"][0]["referenceLocator"].clone();
    // Vendors become purl namespaces; the os-release gives the distro.
    assert_eq!(
        purl(&pkg("crypto-policies")),
        "pkg:rpm/redhat/crypto-policies@20210617-1.gitc776d3e.el8?arch=noarch&distro=centos-7"
    );
    assert_eq!(
        purl(&pkg("freeradius-server")),
        "pkg:rpm/opensuse/freeradius-server@3.2.3-3.1?arch=x86_64&distro=centos-7"
    );
    assert_eq!(
        purl(&pkg("rpm-sign")),
        "pkg:rpm/fedora/rpm-sign@4.15.1-1.fc31?arch=x86_64&distro=centos-7"
    );
    // No vendor: the image's distribution.
    assert!(
        purl(&pkg("rpm-rich-deps"))
            .as_str()
            .unwrap()
            .starts_with("pkg:rpm/centos/rpm-rich-deps@1.0-1?")
    );
    // SPDX licenses stay, the others become LicenseRefs with the tag as text.
    assert_eq!(
        pkg("freeradius-server")["licenseDeclared"],
        "GPL-2.0-only AND LGPL-2.1-only"
    );
    assert_eq!(pkg("rpm-sign")["licenseDeclared"], "LicenseRef-GPLv2-");
    assert!(
        s["hasExtractedLicensingInfos"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["licenseId"] == "LicenseRef-GPLv2-" && l["extractedText"] == "GPLv2+"),
        "{}",
        s["hasExtractedLicensingInfos"]
    );
    let p = pkg("389-ds-base-devel");
    assert_eq!(p["supplier"], "Organization: CentOS");
    assert_eq!(
        p["sourceInfo"],
        "built from the source RPM 389-ds-base-1.3.8.4-15.el7.src.rpm"
    );
    assert_eq!(p["homepage"], "https://www.port389.org/");
    assert_eq!(
        p["checksums"][0]["checksumValue"],
        hex::encode(Sha256::digest(fs_err::read(&image[1]).unwrap()))
    );
    // The boot package is kept apart.
    let rel = |kind: &str| -> BTreeSet<String> {
        s["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["relationshipType"] == kind)
            .map(|r| r["relatedSpdxElement"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(rel("CONTAINS").len(), 7);
    assert_eq!(
        rel("GENERATED_FROM"),
        BTreeSet::from([pkg("epel-release")["SPDXID"].as_str().unwrap().to_string()])
    );

    let c: Value = serde_json::from_slice(&cdx).unwrap();
    assert!(c["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
    let comp = c["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rpm-sign")
        .unwrap();
    assert_eq!(comp["licenses"][0]["license"]["name"], "GPLv2+");
    assert_eq!(comp["supplier"]["name"], "Fedora Project");
    // The same inputs give the same bytes.
    assert_eq!(sbom::documents(&bom), (spdx, cdx));
}

/// Who `from` requires, by package name, in the SPDX document.
fn depends_on(s: &Value, from: &str) -> BTreeSet<String> {
    let name_of = |id: &str| {
        s["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["SPDXID"] == id)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .unwrap()
    };
    s["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["relationshipType"] == "DEPENDS_ON"
                && name_of(r["spdxElementId"].as_str().unwrap()) == from
        })
        .map(|r| name_of(r["relatedSpdxElement"].as_str().unwrap()))
        .collect()
}

#[test]
fn fixture_build_sboms_are_valid_complete_attached_and_listed() {
    let Some(dir) = crate::reprotest::fixture() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let st = Command::new(BIN)
        .args(["-q", "build"])
        .arg(dir.join("fixture.toml"))
        .arg("--out")
        .arg(&out)
        .env("DISKLESS_CACHE_DIR", dir.join("cache"))
        .status()
        .unwrap();
    assert!(st.success());
    let (sf, cf) = (out.join(sbom::SPDX_FILE), out.join(sbom::CDX_FILE));
    eprintln!(
        "fixture SBOMs: {} bytes SPDX, {} bytes CycloneDX",
        fs_err::metadata(&sf).unwrap().len(),
        fs_err::metadata(&cf).unwrap().len()
    );
    let sums = fs_err::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  sbom.spdx.json\n") && sums.contains("  sbom.cdx.json\n"));
    let copy = tmp.path().join("check");
    fs_err::create_dir_all(&copy).unwrap();
    let (sc, cc) = (copy.join("s.spdx.json"), copy.join("c.cdx.json"));
    if validators() {
        fs_err::copy(&sf, &sc).unwrap();
        fs_err::copy(&cf, &cc).unwrap();
        assert_valid(&sc, &cc);
    }

    // One package per locked package, image and boot apart, with the RPM file's digest.
    let lock: toml::Value =
        toml::from_str(&fs_err::read_to_string(dir.join("fixture.lock")).unwrap()).unwrap();
    let locked = |k: &str| lock[k].as_array().unwrap().len();
    let s: Value = serde_json::from_slice(&fs_err::read(&sf).unwrap()).unwrap();
    let count = |kind: &str| {
        s["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["relationshipType"] == kind)
            .count()
    };
    assert_eq!(count("DESCRIBES"), 1);
    assert_eq!(count("CONTAINS"), locked("package"));
    assert_eq!(count("GENERATED_FROM"), locked("boot_package"));
    assert_eq!(
        s["packages"].as_array().unwrap().len(),
        1 + locked("package") + locked("boot_package")
    );
    let m: Value =
        serde_json::from_slice(&fs_err::read(out.join("manifest.json")).unwrap()).unwrap();
    let image_digest = m["oci"]["manifest_digest"].as_str().unwrap().to_string();
    assert_eq!(
        format!(
            "sha256:{}",
            s["packages"][0]["checksums"][0]["checksumValue"]
                .as_str()
                .unwrap()
        ),
        image_digest
    );
    for p in lock["package"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let rpm = dir.join("repo").join(p["location"].as_str().unwrap());
        let sha = hex::encode(Sha256::digest(fs_err::read(&rpm).unwrap()));
        let sp = s["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["name"] == name && x["comment"].as_str().unwrap().starts_with("RPM installed")
            })
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(sp["checksums"][0]["checksumValue"], sha.as_str(), "{name}");
        assert_eq!(sp["licenseDeclared"], "GPL-2.0-or-later", "{name}");
        assert_eq!(sp["supplier"], "Organization: diskless boot fixture");
    }
    // The relations rpm would see: a file provide, plain names, kernel -> kernel-core.
    assert_eq!(
        depends_on(&s, "boot-fixture-init"),
        BTreeSet::from(["busybox".into(), "filesystem".into(), "setup".into()])
    );
    assert_eq!(
        depends_on(&s, "kernel"),
        BTreeSet::from(["kernel-core".to_string()])
    );

    // Attached to the image in the layout: found from the image's digest, same bytes.
    let layout = diskless::emit::oci::Layout::open(&out.join("oci")).unwrap();
    let image = layout.manifest().unwrap();
    assert_eq!(image.digest.to_string(), image_digest);
    let found = diskless::emit::referrers::find(&layout, &image.digest).unwrap();
    let attached: Vec<(String, Vec<u8>)> = found
        .iter()
        .map(|(d, m)| {
            (
                d.artifact_type().as_ref().unwrap().to_string(),
                layout.read_blob(m.manifest.layers()[0].digest()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attached,
        [
            (
                sbom::SPDX_MEDIA_TYPE.to_string(),
                fs_err::read(&sf).unwrap()
            ),
            (sbom::CDX_MEDIA_TYPE.to_string(), fs_err::read(&cf).unwrap())
        ]
    );

    // `diskless sbom`: the table, and JSON from the layout alone.
    let o = Command::new(BIN).arg("sbom").arg(&out).output().unwrap();
    assert!(o.status.success());
    let table = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("EPOCH:VERSION-RELEASE"),
        "{table}"
    );
    assert_eq!(lines.len(), 1 + locked("package") + locked("boot_package"));
    let busybox = lines.iter().find(|l| l.starts_with("busybox ")).unwrap();
    assert_eq!(
        busybox.split_whitespace().collect::<Vec<_>>(),
        [
            "busybox",
            "0:1.36.1-1.el9",
            "x86_64",
            "GPL-2.0-or-later",
            "image"
        ]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("shim-x64 ") && l.ends_with(" boot")),
        "{table}"
    );
    let o = Command::new(BIN)
        .args(["sbom", "--json"])
        .arg(out.join("oci"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let listed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let shim = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "shim-x64")
        .unwrap();
    assert_eq!(shim["role"], "boot");
    assert!(
        shim["purl"]
            .as_str()
            .unwrap()
            .starts_with("pkg:rpm/diskless-boot-fixture/shim-x64@15.8-4.el9?arch=x86_64")
    );
}
