//! Verification of a downloaded RPM beyond the lock's checksum: the RPM's own header digests
//! and payload digest, and its OpenPGP header signature against the keys the repository
//! names (`gpgkey`, loaded into a [`Keyring`] by `net::keys`).
//!
//! The payload digest is computed by streaming the file (never holding a payload in memory),
//! so a 500 MB firmware package costs one pass over the page cache. Packages built before
//! rpm 4.14 carry no payload digest; for them the lock's checksum is what covers the payload.

use crate::net::Keyring;
use sha2::Digest;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("Cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{nevra}` is not a valid RPM file")]
    NotRpm {
        nevra: String,
        #[source]
        source: Box<rpm::Error>,
    },
    #[error("`{nevra}` has no header digest")]
    NoHeaderDigest { nevra: String },
    #[error(
        "Header digest mismatch in `{nevra}`: the header was altered ({digest} expected {expected}, got {actual})"
    )]
    HeaderDigest {
        nevra: String,
        digest: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "Payload digest mismatch in `{nevra}`: the payload was altered ({digest} expected {expected}, got {actual})"
    )]
    PayloadDigest {
        nevra: String,
        digest: &'static str,
        expected: String,
        actual: String,
    },
    #[error("`{nevra}` is not signed, but repository `{repo}` has gpgcheck on")]
    Unsigned { nevra: String, repo: String },
    #[error(
        "`{nevra}` is signed with key {key_id}, which is not among the keys of repository `{repo}` ({known})"
    )]
    UnknownKey {
        nevra: String,
        key_id: String,
        repo: String,
        known: String,
    },
    #[error("Bad signature on `{nevra}` by key {key_id}")]
    BadSignature {
        nevra: String,
        key_id: String,
        #[source]
        source: Box<rpm::Error>,
    },
}

/// Check one RPM file: header digests, payload digest and, with `keys`, its signature.
/// `nevra` and `repo` only name things in errors.
pub fn verify_rpm(
    path: &Path,
    nevra: &str,
    repo: &str,
    keys: Option<&Keyring>,
    check_payload: bool,
) -> Result<(), VerifyError> {
    let io = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let meta =
        crate::package::rpmhead::parse_metadata(&mut r).map_err(|source| VerifyError::NotRpm {
            nevra: nevra.to_string(),
            source: Box::new(source),
        })?;

    let report = meta.check_digests().map_err(|source| VerifyError::NotRpm {
        nevra: nevra.to_string(),
        source: Box::new(source),
    })?;
    if !report.has_header_digest() {
        return Err(VerifyError::NoHeaderDigest {
            nevra: nevra.to_string(),
        });
    }
    for (digest, status) in [
        ("SHA-256", &report.header_sha256),
        ("SHA3-256", &report.header_sha3_256),
        ("SHA-1", &report.header_sha1),
    ] {
        if let rpm::DigestStatus::Mismatch { expected, actual } = status {
            return Err(VerifyError::HeaderDigest {
                nevra: nevra.to_string(),
                digest,
                expected: expected.clone(),
                actual: actual.clone(),
            });
        }
    }

    if let Some(keys) = keys {
        check_signature(&meta, nevra, repo, keys)?;
    }

    if check_payload {
        check_payload_digest(&meta, &mut r, nevra).map_err(|e| match e {
            PayloadFail::Io(source) => io(source),
            PayloadFail::Verify(v) => v,
        })?;
    }
    Ok(())
}

fn check_signature(
    meta: &rpm::PackageMetadata,
    nevra: &str,
    repo: &str,
    keys: &Keyring,
) -> Result<(), VerifyError> {
    let report = meta
        .check_signatures(keys.rpm_verifier())
        .map_err(|source| VerifyError::NotRpm {
            nevra: nevra.to_string(),
            source: Box::new(source),
        })?;
    if report.signatures.is_empty() {
        return Err(VerifyError::Unsigned {
            nevra: nevra.to_string(),
            repo: repo.to_string(),
        });
    }
    if report.signatures.iter().any(|s| s.is_verified()) {
        return Ok(());
    }
    // Prefer reporting a signature by a known key that failed (tampering) over one by an
    // unknown key.
    let mut unknown = None;
    for s in report.signatures {
        let key_id = s
            .info
            .key_id()
            .map(str::to_string)
            .or_else(|| {
                s.info
                    .fingerprint()
                    .map(|f| f[f.len().saturating_sub(16)..].to_string())
            })
            .unwrap_or_else(|| "(no issuer)".into());
        match s.error {
            Some(rpm::Error::KeyNotFoundError { .. }) | None => {
                unknown.get_or_insert(key_id);
            }
            Some(source) => {
                if keys.key_ids().contains(&key_id) {
                    return Err(VerifyError::BadSignature {
                        nevra: nevra.to_string(),
                        key_id,
                        source: Box::new(source),
                    });
                }
                unknown.get_or_insert(key_id);
            }
        }
    }
    Err(VerifyError::UnknownKey {
        nevra: nevra.to_string(),
        key_id: unknown.unwrap_or_default(),
        repo: repo.to_string(),
        known: if keys.key_ids().is_empty() {
            "none".into()
        } else {
            format!("known: {}", keys.key_ids().join(", "))
        },
    })
}

enum PayloadFail {
    Io(std::io::Error),
    Verify(VerifyError),
}

/// rpm's `RPMTAG_PAYLOADSHA256ALGO` values (PGP hash algorithm numbers).
const PGPHASHALGO_SHA256: u32 = 8;
const PGPHASHALGO_SHA512: u32 = 10;

fn check_payload_digest(
    meta: &rpm::PackageMetadata,
    r: &mut impl Read,
    nevra: &str,
) -> Result<(), PayloadFail> {
    use rpm::IndexTag;
    let h = &meta.header;
    let tag_string = |tag: IndexTag| -> Option<String> {
        h.get_entry_data_as_string(tag)
            .map(str::to_string)
            .ok()
            .or_else(|| {
                h.get_entry_data_as_string_array(tag)
                    .ok()
                    .and_then(|a| a.first().map(|s| s.to_string()))
            })
    };
    // v4 packages: RPMTAG_PAYLOADDIGEST (named PAYLOADSHA256 by the rpm crate) in the
    // algorithm RPMTAG_PAYLOADSHA256ALGO says (sha256 when absent). v6 adds a sha512 tag.
    let mut wanted: Vec<(&'static str, String)> = Vec::new();
    if let Some(d) = tag_string(IndexTag::RPMTAG_PAYLOADSHA256) {
        let algo = h
            .get_entry_data_as_u32(IndexTag::RPMTAG_PAYLOADSHA256ALGO)
            .unwrap_or(PGPHASHALGO_SHA256);
        match algo {
            PGPHASHALGO_SHA256 => wanted.push(("SHA-256", d)),
            PGPHASHALGO_SHA512 => wanted.push(("SHA-512", d)),
            other => tracing::debug!("`{nevra}`: payload digest algorithm {other} not checked"),
        }
    }
    if let Some(d) = tag_string(IndexTag::RPMTAG_PAYLOAD_SHA512)
        && !wanted.iter().any(|(k, _)| *k == "SHA-512")
    {
        wanted.push(("SHA-512", d));
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let mut s256 = wanted
        .iter()
        .any(|(k, _)| *k == "SHA-256")
        .then(sha2::Sha256::new);
    let mut s512 = wanted
        .iter()
        .any(|(k, _)| *k == "SHA-512")
        .then(sha2::Sha512::new);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).map_err(PayloadFail::Io)?;
        if n == 0 {
            break;
        }
        if let Some(h) = s256.as_mut() {
            h.update(&buf[..n]);
        }
        if let Some(h) = s512.as_mut() {
            h.update(&buf[..n]);
        }
    }
    let a256 = s256.map(|h| hex::encode(h.finalize()));
    let a512 = s512.map(|h| hex::encode(h.finalize()));
    for (digest, expected) in wanted {
        let actual = if digest == "SHA-256" {
            a256.clone()
        } else {
            a512.clone()
        }
        .unwrap_or_default();
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            return Err(PayloadFail::Verify(VerifyError::PayloadDigest {
                nevra: nevra.to_string(),
                digest,
                expected,
                actual,
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx() -> Option<PathBuf> {
        std::env::var_os("DISKLESS_FIXTURES").map(PathBuf::from)
    }

    fn ring(fx: &Path, keys: &[&str]) -> Keyring {
        let mut r = Keyring::new();
        for k in keys {
            let p = fx.join(k);
            r.add_armored(&std::fs::read(&p).unwrap(), &p.display().to_string())
                .unwrap();
        }
        r
    }

    /// Signed packages from the fixtures verify with the key rpmkeys 4.18 verified them with
    /// (derived/sigcheck-rpmkeys-4.18.tsv).
    #[test]
    fn fixture_signatures_verify_with_their_keys() {
        let Some(fx) = fx() else { return };
        let cases: &[(&str, &str)] = &[
            (
                "rpm-rs/tests/assets/RPMS/v4/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm",
                "rpm-rs/tests/assets/signing_keys/v4/rpm-testkey-v4-ed25519.asc",
            ),
            (
                "rpm-rs/tests/assets/RPMS/v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm",
                "rpm-rs/tests/assets/signing_keys/v4/rpm-testkey-v4-rsa4096.asc",
            ),
            (
                "cavaliergopher-rpm/testdata/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
                "distribution-gpg-keys/keys/centos/RPM-GPG-KEY-CentOS-7",
            ),
            (
                "cavaliergopher-rpm/testdata/centos-release-6-0.el6.centos.5.x86_64.rpm",
                "distribution-gpg-keys/keys/centos/RPM-GPG-KEY-CentOS-6",
            ),
            (
                "rpm-rs-history/test_assets/rpm-sign-4.15.1-1.fc31.x86_64.rpm",
                "distribution-gpg-keys/keys/fedora/RPM-GPG-KEY-fedora-31-primary",
            ),
            (
                "go-rpmutils-history/testdata/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
                "distribution-gpg-keys/keys/redhat/RPM-GPG-KEY-redhat8-release",
            ),
            (
                "rpmlint/test/binary/mc-4.8.21-2.1.x86_64.rpm",
                "distribution-gpg-keys/keys/opensuse/RPM-GPG-KEY-openSUSE",
            ),
        ];
        for (rpm, key) in cases {
            let r = ring(&fx, &[key]);
            verify_rpm(&fx.join(rpm), rpm, "r", Some(&r), true)
                .unwrap_or_else(|e| panic!("{rpm}: {e:?}"));
        }
    }

    #[test]
    fn fixture_broken_packages_are_rejected() {
        let Some(fx) = fx() else { return };
        let dir = "libzypp/zypp/tests/zypp/data/RpmPkgSigCheck";
        let e = verify_rpm(
            &fx.join(dir).join("unsigned_broken.rpm"),
            "u",
            "r",
            None,
            true,
        )
        .unwrap_err();
        assert!(matches!(e, VerifyError::PayloadDigest { .. }), "{e}");
        let e = verify_rpm(
            &fx.join(dir).join("unsigned_broken_header.rpm"),
            "u",
            "r",
            None,
            true,
        )
        .unwrap_err();
        assert!(matches!(e, VerifyError::HeaderDigest { .. }), "{e}");
        verify_rpm(&fx.join(dir).join("unsigned.rpm"), "u", "r", None, true).unwrap();
        // Signed by a key the repository does not name.
        let r = ring(
            &fx,
            &["distribution-gpg-keys/keys/centos/RPM-GPG-KEY-CentOS-7"],
        );
        let e = verify_rpm(&fx.join(dir).join("signed.rpm"), "s", "r", Some(&r), true).unwrap_err();
        assert!(
            matches!(&e, VerifyError::UnknownKey { key_id, .. } if key_id.ends_with("bb65a216")),
            "{e}"
        );
        let e =
            verify_rpm(&fx.join(dir).join("unsigned.rpm"), "u", "r", Some(&r), true).unwrap_err();
        assert!(matches!(e, VerifyError::Unsigned { .. }), "{e}");
    }
}
