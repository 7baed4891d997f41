//! The CycloneDX 1.6 BOM (JSON): the OCI image is `metadata.component`; every RPM is a
//! component whose `diskless:package:role` property says `image` (installed) or `boot`
//! (boot loader files copied into the tftp tree), with the RPM's identity in `diskless:rpm:*`
//! properties for readers that do not parse purls (`diskless sbom` reads them back);
//! `dependencies` holds the image's packages and which package requires which. The
//! serial number is a UUID of the BOM's own content.

use super::{License, ROLE_PROPERTY, Sbom, content_uuid, image_purl};
use serde_json::{Value, json};

/// The bom-ref of the image.
pub const IMAGE_REF: &str = "image";

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

/// The BOM as JSON (written canonically by the caller).
pub fn document(s: &Sbom<'_>) -> Value {
    let sub = &s.subject;
    let mut image = json!({
        "type": "container",
        "bom-ref": IMAGE_REF,
        "name": sub.name,
        "purl": image_purl(sub),
        "hashes": [{"alg": "SHA-256", "content": sub.manifest_digest.trim_start_matches("sha256:")}],
        "description": "The OCI image of the tftp tree (kernels, initramfs, boot loaders, menus, boot-service configs) built by diskless; the hash is its manifest digest",
        "properties": [
            prop("diskless:oci:tag", &sub.tag),
            prop("diskless:profile:digest", &sub.profile_digest),
            prop("diskless:lock:digest", &sub.lock_digest),
        ],
    });
    if let Some(v) = &sub.version {
        image["version"] = json!(v);
    }
    let mut components = Vec::new();
    let mut dependencies = vec![json!({
        "ref": IMAGE_REF,
        "dependsOn": s.packages.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
    })];
    for p in &s.packages {
        let r = p.record;
        let mut props = vec![
            prop(ROLE_PROPERTY, p.role.as_str()),
            prop("diskless:rpm:epoch", r.epoch.to_string()),
            prop("diskless:rpm:version", &r.version),
            prop("diskless:rpm:release", &r.release),
            prop("diskless:rpm:arch", &r.arch),
            prop("diskless:rpm:repo", &r.repo),
        ];
        if !p.sourcerpm().is_empty() {
            props.push(prop("diskless:rpm:sourcerpm", p.sourcerpm()));
        }
        let mut c = json!({
            "type": "library",
            "bom-ref": p.id,
            "name": r.name,
            "version": p.evr(),
            "purl": p.purl,
            "properties": props,
        });
        if let Some(sha) = &r.sha256 {
            c["hashes"] = json!([{"alg": "SHA-256", "content": sha}]);
        }
        match &p.license {
            License::None => {}
            License::Spdx(e) => c["licenses"] = json!([{"expression": e}]),
            License::Text(t) => c["licenses"] = json!([{"license": {"name": t}}]),
        }
        if !p.vendor().is_empty() {
            c["supplier"] = json!({"name": p.vendor()});
        }
        if !p.packager().is_empty() {
            c["publisher"] = json!(p.packager());
        }
        if !p.summary().is_empty() {
            c["description"] = json!(p.summary());
        }
        if let Some(h) = p.homepage() {
            c["externalReferences"] = json!([{"type": "website", "url": h}]);
        }
        components.push(c);
        dependencies.push(json!({
            "ref": p.id,
            "dependsOn": p.requires.iter().map(|&t| s.packages[t].id.clone()).collect::<Vec<_>>(),
        }));
    }
    let mut bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": s.created,
            "tools": {"components": [{
                "type": "application",
                "name": "diskless",
                "version": crate::VERSION,
            }]},
            "component": image,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let uuid = content_uuid(&crate::emit::cjson::to_vec(&bom));
    bom["serialNumber"] = json!(format!("urn:uuid:{uuid}"));
    bom
}
