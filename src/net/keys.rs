//! Repository keys: the OpenPGP public keys a repository's `gpgkey` names, loaded from
//! disk or downloaded (and kept for `--offline`), and the check of a detached signature
//! (`repomd.xml.asc`, for `repo_gpgcheck`) against them.
//!
//! `repo` checks repomd.xml with these keys; `fetch` checks each package's header
//! signature with the same [`Keyring`] (the rpm side of that check lives in `fetch::verify`).
//! Keys with algorithms the rpm crate cannot verify (DSA, as on CentOS 5) are skipped with a
//! warning; a package signed by such a key then fails as signed by an unknown key.

use super::remote::Remote;
use super::retry::{RetryPolicy, get_small};
use super::transport::{Transport, TransportError};
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;
use rpm::signature::pgp::Verifier;
use std::path::PathBuf;
use thiserror::Error;
use url::Url;

/// Why keys could not be loaded, or a detached signature did not verify.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("Cannot use the GPG key `{key}`: {reason}")]
    Key { key: String, reason: String },
    #[error("Repository `{repo}` has gpgcheck on but names no gpgkey")]
    NoKeys { repo: String },
    /// Downloading a remote key failed, and no copy of it was kept.
    #[error(transparent)]
    Download(#[from] TransportError),
    #[error("Bad or unknown signature on `{url}` ({reason})")]
    Detached { url: String, reason: String },
}

/// The public keys of one repository.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    verifier: Verifier,
    keys: Vec<SignedPublicKey>,
    /// Key ids (16 hex digits) of primary keys and subkeys, for messages.
    ids: Vec<String>,
}

const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Key ids of the keys (and subkeys) loaded, lowercase hex.
    pub fn key_ids(&self) -> &[String] {
        &self.ids
    }

    /// Add the keys of an ASCII-armored file (one or several key blocks) read from `source`.
    pub fn add_armored(&mut self, data: &[u8], source: &str) -> Result<(), KeyError> {
        let text = std::str::from_utf8(data).map_err(|_| KeyError::Key {
            key: source.to_string(),
            reason: "not an ASCII-armored key (not UTF-8)".into(),
        })?;
        let mut added = 0;
        let mut skipped = Vec::new();
        // Files like RPM-GPG-KEY-fedora hold several armored blocks back to back: load each.
        for (i, _) in text.match_indices(BEGIN) {
            let rest = &text[i..];
            let end = rest[BEGIN.len()..]
                .find(BEGIN)
                .map_or(rest.len(), |e| e + BEGIN.len());
            let block = &rest[..end];
            let key = match SignedPublicKey::from_string(block) {
                Ok((k, _)) => k,
                Err(e) => {
                    skipped.push(e.to_string());
                    continue;
                }
            };
            match self.verifier.load_from_asc(block) {
                Ok(()) => {
                    self.ids.push(hex::encode(key.legacy_key_id().as_ref()));
                    for sub in &key.public_subkeys {
                        self.ids.push(hex::encode(sub.legacy_key_id().as_ref()));
                    }
                    self.keys.push(key);
                    added += 1;
                }
                Err(e) => {
                    let id = hex::encode(key.legacy_key_id().as_ref());
                    tracing::warn!("skipping GPG key {id} from `{source}`: {e}");
                    skipped.push(format!("key {id}: {e}"));
                }
            }
        }
        if added == 0 {
            return Err(KeyError::Key {
                key: source.to_string(),
                reason: if skipped.is_empty() {
                    "no ASCII-armored public key block in it".into()
                } else {
                    skipped.join("; ")
                },
            });
        }
        Ok(())
    }

    /// Check a detached ASCII-armored signature (`repomd.xml.asc`) over `data`.
    pub fn verify_detached(&self, data: &[u8], asc: &[u8], url: &str) -> Result<(), KeyError> {
        let err = |reason: String| KeyError::Detached {
            url: url.to_string(),
            reason,
        };
        let text = std::str::from_utf8(asc)
            .map_err(|_| err("the signature is not ASCII-armored".into()))?;
        let (sig, _) = DetachedSignature::from_string(text).map_err(|e| err(e.to_string()))?;
        for key in &self.keys {
            if sig.verify(&key.primary_key, data).is_ok() {
                return Ok(());
            }
            for sub in &key.public_subkeys {
                if sig.verify(&sub.key, data).is_ok() {
                    return Ok(());
                }
            }
        }
        let issuers: Vec<String> = sig
            .signature
            .issuer_key_id()
            .iter()
            .map(|k| hex::encode(k.as_ref()))
            .collect();
        Err(err(format!(
            "signed by key {}, known keys: {}",
            if issuers.is_empty() {
                "(no issuer)".into()
            } else {
                issuers.join(", ")
            },
            self.ids.join(", ")
        )))
    }

    /// The keys as the rpm crate's signature verifier holds them (for package signatures).
    pub fn rpm_verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// The keys a repository's `gpgkey` names: `file://` URLs and plain paths are read from disk,
/// `http(s)://` URLs downloaded with `t`. A downloaded key is kept under
/// `<cache_dir>/keys/<sha256 of the URL>` so that `--offline` (`t` = `None`) can still check
/// signatures, and as a fallback when the key server is unreachable. Also what
/// `repo_gpgcheck` needs to check `repomd.xml.asc` ([`Keyring::verify_detached`]).
pub fn load_keyring(
    remote: &Remote,
    t: Option<&Transport>,
    policy: &RetryPolicy,
    cache_dir: Option<&std::path::Path>,
) -> Result<Keyring, KeyError> {
    if remote.gpgkeys.is_empty() {
        return Err(KeyError::NoKeys {
            repo: remote.id.clone(),
        });
    }
    let key_err = |k: &str, reason: String| KeyError::Key {
        key: k.to_string(),
        reason,
    };
    let mut ring = Keyring::new();
    for k in &remote.gpgkeys {
        let local = if k.starts_with("file:") {
            let u = Url::parse(k).map_err(|e| key_err(k, e.to_string()))?;
            Some(
                u.to_file_path()
                    .map_err(|()| key_err(k, "not a local file URL".into()))?,
            )
        } else if k.contains("://") {
            None
        } else {
            Some(PathBuf::from(k))
        };
        let kept = cache_dir.map(|d| {
            use sha2::Digest;
            d.join("keys")
                .join(hex::encode(sha2::Sha256::digest(k.as_bytes())))
        });
        let data = match (local, t) {
            (Some(path), _) => std::fs::read(&path).map_err(|e| key_err(k, e.to_string()))?,
            (None, Some(t)) => match get_small(t, k, policy) {
                Ok(data) => {
                    if let Some(kept) = &kept {
                        keep_key(kept, &data);
                    }
                    data
                }
                Err(e) => match kept.as_ref().and_then(|p| std::fs::read(p).ok()) {
                    Some(data) => {
                        tracing::warn!(
                            "{}; using the copy kept from an earlier download",
                            super::error_chain(&e)
                        );
                        data
                    }
                    None => return Err(e.into()),
                },
            },
            (None, None) => match kept.as_ref().and_then(|p| std::fs::read(p).ok()) {
                Some(data) => data,
                None => {
                    return Err(key_err(
                        k,
                        "offline, and no copy of it was kept from an earlier download".into(),
                    ));
                }
            },
        };
        ring.add_armored(&data, k)?;
    }
    Ok(ring)
}

/// Keep a downloaded key for offline use (atomically; failing to keep it is not an error).
fn keep_key(path: &std::path::Path, data: &[u8]) {
    let Some(dir) = path.parent() else { return };
    let r = std::fs::create_dir_all(dir).and_then(|()| crate::fsx::write_atomic(path, data));
    if let Err(e) = r {
        tracing::debug!("cannot keep the key at `{}`: {e}", path.display());
    }
}
