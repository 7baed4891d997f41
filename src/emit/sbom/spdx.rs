//! The SPDX 2.3 document (JSON): the OCI image is the package the document DESCRIBES; it
//! CONTAINS each installed RPM and was GENERATED_FROM each boot package (whose boot loader
//! files it carries); RPMs that require others DEPENDS_ON them.
//!
//! RPM facts SPDX has no field for travel in the purl (arch, epoch, distro) and in
//! `sourceInfo` (the source RPM). A License tag that is not an SPDX expression becomes a
//! `LicenseRef-` with the tag as its extracted text. The document namespace is derived
//! from the document's content (see [`super::content_uuid`]).

use super::{License, Role, Sbom, content_uuid, image_purl};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const NOASSERTION: &str = "NOASSERTION";
const IMAGE_ID: &str = "SPDXRef-Image";

fn purl_ref(purl: &str) -> Value {
    json!([{
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": purl,
    }])
}

/// `LicenseRef-…` ids for the license tags that are not SPDX expressions, by tag text.
fn license_refs(s: &Sbom<'_>) -> BTreeMap<String, String> {
    let texts: std::collections::BTreeSet<&str> = s
        .packages
        .iter()
        .filter_map(|p| match &p.license {
            License::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let mut ids = super::Ids::default();
    texts
        .into_iter()
        .map(|t| (t.to_string(), format!("LicenseRef-{}", ids.unique(t))))
        .collect()
}

/// The document as JSON (written canonically by the caller).
pub fn document(s: &Sbom<'_>) -> Value {
    let sub = &s.subject;
    let refs = license_refs(s);
    let mut image = json!({
        "SPDXID": IMAGE_ID,
        "name": sub.name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{
            "algorithm": "SHA256",
            "checksumValue": sub.manifest_digest.trim_start_matches("sha256:"),
        }],
        "externalRefs": purl_ref(&image_purl(sub)),
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "builtDate": s.created,
        "comment": format!(
            "The OCI image of the tftp tree (kernels, initramfs, boot loaders, menus, boot-service configs) built by diskless; the checksum is its manifest digest. Profile digest {}, lock digest {}.",
            sub.profile_digest, sub.lock_digest
        ),
    });
    if let Some(v) = &sub.version {
        image["versionInfo"] = json!(v);
    }
    let mut packages = vec![image];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": IMAGE_ID,
    })];
    let spdx_id = |k: usize| format!("SPDXRef-Package-{}", s.packages[k].id);
    for (k, p) in s.packages.iter().enumerate() {
        let mut v = json!({
            "SPDXID": spdx_id(k),
            "name": p.record.name,
            "versionInfo": p.evr(),
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": false,
            "externalRefs": purl_ref(&p.purl),
            "licenseConcluded": NOASSERTION,
            "licenseDeclared": match &p.license {
                License::None => NOASSERTION.to_string(),
                License::Spdx(e) => e.clone(),
                License::Text(t) => refs[t].clone(),
            },
            "copyrightText": NOASSERTION,
            "supplier": if p.vendor().is_empty() {
                NOASSERTION.to_string()
            } else {
                format!("Organization: {}", p.vendor())
            },
            "comment": match p.role {
                Role::Image => format!("RPM installed in the image (repository `{}`)", p.record.repo),
                Role::Boot => format!("Boot package (repository `{}`): its boot loader files are copied into the tftp tree; it is not installed in the image", p.record.repo),
            },
        });
        if let Some(sha) = &p.record.sha256 {
            v["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": sha}]);
        }
        if !p.sourcerpm().is_empty() {
            v["sourceInfo"] = json!(format!("built from the source RPM {}", p.sourcerpm()));
        }
        if let Some(h) = p.homepage() {
            v["homepage"] = json!(h);
        }
        if !p.summary().is_empty() {
            v["summary"] = json!(p.summary());
        }
        packages.push(v);
        relationships.push(match p.role {
            Role::Image => json!({
                "spdxElementId": IMAGE_ID,
                "relationshipType": "CONTAINS",
                "relatedSpdxElement": spdx_id(k),
            }),
            Role::Boot => json!({
                "spdxElementId": IMAGE_ID,
                "relationshipType": "GENERATED_FROM",
                "relatedSpdxElement": spdx_id(k),
                "comment": "boot loader files of the tftp tree come from this package",
            }),
        });
    }
    for (k, p) in s.packages.iter().enumerate() {
        for &t in &p.requires {
            relationships.push(json!({
                "spdxElementId": spdx_id(k),
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": spdx_id(t),
            }));
        }
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{} image", sub.name),
        "creationInfo": {
            "created": s.created,
            "creators": [format!("Tool: diskless-{}", crate::VERSION)],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = Value::Array(
            refs.iter()
                .map(|(text, id)| {
                    json!({
                        "licenseId": id,
                        "extractedText": text,
                        "name": text,
                        "comment": "The License tag of the RPM header, which is not an SPDX license expression",
                    })
                })
                .collect(),
        );
    }
    // Unique and reproducible: a UUID of everything else in the document.
    let uuid = content_uuid(&crate::emit::cjson::to_vec(&doc));
    doc["documentNamespace"] = json!(format!("https://diskless.invalid/spdx/{}-{uuid}", sub.name));
    doc
}
