//! The tree listing: one line per path with type, mode, owner, size, contents digest and
//! link target, in bytewise path order. `diskless build --stage rootfs` writes it so that
//! users and tests can diff trees (two builds, or diskless against `rpm --root`).
//!
//! Text format (tab-separated): `path type mode uid gid size sha256 target caps`, with `-`
//! for fields that do not apply. Directories have size 0; a symlink's size is the length of
//! its target (as `lstat` reports); a device's target field is `major,minor`.

use super::tree::{EntryKind, Tree};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Line {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Octal permission bits, four digits (`0755`, `4755`).
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<String>,
}

impl Line {
    pub fn to_text(&self) -> String {
        let d = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.path,
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.size,
            d(&self.sha256),
            d(&self.target),
            d(&self.caps)
        )
    }
}

/// The listing of a tree, sorted by path.
pub fn lines(tree: &Tree) -> Vec<Line> {
    tree.entries
        .iter()
        .map(|(path, e)| {
            let (size, sha256, target) = match &e.kind {
                EntryKind::File { digest, size, .. } => (*size, Some(digest.to_hex()), None),
                EntryKind::Symlink { target } => (target.len() as u64, None, Some(target.clone())),
                EntryKind::CharDev { major, minor } | EntryKind::BlockDev { major, minor } => {
                    (0, None, Some(format!("{major},{minor}")))
                }
                _ => (0, None, None),
            };
            Line {
                path: path.clone(),
                kind: e.kind.type_name().to_string(),
                mode: format!("{:04o}", e.mode & 0o7777),
                uid: e.uid,
                gid: e.gid,
                size,
                sha256,
                target,
                caps: e.caps.clone(),
            }
        })
        .collect()
}

pub fn to_text(tree: &Tree) -> String {
    lines(tree).iter().map(|l| l.to_text() + "\n").collect()
}

pub fn to_json(tree: &Tree) -> String {
    // A Vec of plain structs: field order fixed, no maps, so the bytes are stable.
    serde_json::to_string_pretty(&lines(tree)).unwrap_or_default() + "\n"
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Write the listing of `tree` to `path` (what `diskless build --stage rootfs` calls).
pub fn write_listing(tree: &Tree, path: &Path, format: Format) -> std::io::Result<()> {
    let text = match format {
        Format::Text => to_text(tree),
        Format::Json => to_json(tree),
    };
    fs_err::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::tree::{Digest, Entry};

    #[test]
    fn text_lines() {
        let mut t = Tree::default();
        let base = Entry {
            kind: EntryKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 0,
            owner_package: None,
            caps: None,
        };
        t.insert("/", base.clone());
        t.insert(
            "/bin/ping",
            Entry {
                kind: EntryKind::File {
                    digest: Digest([0xab; 32]),
                    size: 3,
                    link_group: None,
                },
                mode: 0o4755,
                caps: Some("cap_net_raw=ep".into()),
                ..base.clone()
            },
        );
        t.insert(
            "/lib",
            Entry {
                kind: EntryKind::Symlink {
                    target: "usr/lib".into(),
                },
                mode: 0o777,
                ..base
            },
        );
        let text = to_text(&t);
        let l: Vec<&str> = text.lines().collect();
        assert_eq!(l[0], "/\tdir\t0755\t0\t0\t0\t-\t-\t-");
        assert!(l[1].starts_with("/bin/ping\tfile\t4755\t0\t0\t3\tabab"));
        assert!(l[1].ends_with("\t-\tcap_net_raw=ep"));
        assert_eq!(l[2], "/lib\tsymlink\t0777\t0\t0\t7\t-\tusr/lib\t-");
        assert!(to_json(&t).contains("\"type\": \"symlink\""));
    }
}
