//! The in-memory image tree: every path with its type, mode, numeric owner and mtime.
//!
//! Owners are numeric ids already mapped through the image's own /etc/passwd and
//! /etc/group (never the builder's). Paths are absolute inside the image, normalised
//! (no `.`/`..`, no trailing `/`), with symlinked directories already resolved as rpm
//! resolves them. A `BTreeMap` keeps them in bytewise order, which is the order every
//! archive is written in.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// sha256 of a file's contents; the key into the content store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Digest(#[serde(with = "hex_bytes")] pub [u8; 32]);

impl Digest {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub fn serialize<S: Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(D::Error::custom)?;
        v.try_into()
            .map_err(|_| D::Error::custom("expected 32 bytes"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryKind {
    Dir,
    /// A regular file. Files of one hardlink group share `link_group` (and contents).
    File {
        digest: Digest,
        size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link_group: Option<u32>,
    },
    Symlink {
        target: String,
    },
    CharDev {
        major: u32,
        minor: u32,
    },
    BlockDev {
        major: u32,
        minor: u32,
    },
    Fifo,
    Socket,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask); the type is in `kind`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
    /// Which package put it there (`None` for the profile's customisations and generated files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_package: Option<String>,
    /// `security.capability` as rpm's `%caps` text (e.g. `cap_net_raw=ep`), kept as metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<String>,
}

/// The image tree, keyed by absolute normalised path (`/`, `/etc`, `/etc/passwd`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub entries: BTreeMap<String, Entry>,
}
