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

impl EntryKind {
    /// The short type name used in listings (`dir`, `file`, `symlink`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            EntryKind::Dir => "dir",
            EntryKind::File { .. } => "file",
            EntryKind::Symlink { .. } => "symlink",
            EntryKind::CharDev { .. } => "chardev",
            EntryKind::BlockDev { .. } => "blockdev",
            EntryKind::Fifo => "fifo",
            EntryKind::Socket => "socket",
        }
    }
}

impl Tree {
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    pub fn insert(&mut self, path: impl Into<String>, entry: Entry) -> Option<Entry> {
        self.entries.insert(path.into(), entry)
    }

    pub fn remove(&mut self, path: &str) -> Option<Entry> {
        self.entries.remove(path)
    }

    /// Paths strictly below `dir` (in sorted order), e.g. to remove a directory's contents.
    pub fn descendants<'a>(
        &'a self,
        dir: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(p, _)| p.starts_with(&prefix))
    }

    /// The direct children of `dir` as (name, entry), in bytewise name order, without
    /// walking their subtrees (a directory listing).
    pub fn children<'a>(&'a self, dir: &str) -> Vec<(&'a str, &'a Entry)> {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let mut out = Vec::new();
        let mut from = Included(prefix.clone());
        while let Some((path, entry)) = self.entries.range((from, Unbounded)).next() {
            let Some(rest) = path.strip_prefix(&prefix) else {
                break;
            };
            match rest.split_once('/') {
                None if rest.is_empty() => from = Excluded(path.clone()),
                None => {
                    out.push((rest, entry));
                    from = Excluded(path.clone());
                }
                // Inside a child's subtree: jump past it ('0' is the byte after '/').
                Some((name, _)) => from = Included(format!("{prefix}{name}0")),
            }
        }
        out
    }

    /// The number of regular files and their total size (hardlinked contents counted once).
    pub fn file_stats(&self) -> (usize, u64) {
        let mut seen = std::collections::BTreeSet::new();
        let mut total = 0;
        let mut files = 0;
        for e in self.entries.values() {
            if let EntryKind::File {
                digest,
                size,
                link_group,
            } = &e.kind
            {
                files += 1;
                let first = match link_group {
                    Some(g) => seen.insert((Some(*g), *digest)),
                    None => true,
                };
                if first {
                    total += size;
                }
            }
        }
        (files, total)
    }
}
