//! What happens when a path is installed twice, by two packages or by one package and a
//! symlinked directory, following rpm's file-conflict rules (`rpmfilesCompare`):
//!
//! - two directories: fine; the later package's mode and owner win, as rpm applies
//!   metadata again when it meets an existing directory;
//! - a directory where a symlink to a directory already is (EL9's /lib -> usr/lib): the
//!   symlink stays, as rpm keeps it;
//! - two non-directories of the same type, mode (ignored for symlinks), owner, group and
//!   content (digest, link target or device numbers): fine, shared;
//! - anything else is an error naming both packages, except the multilib case: when both
//!   files carry an ELF color (1 = 32-bit, 2 = 64-bit) and the colors differ, the 64-bit file
//!   wins silently, as rpm's default `%_prefer_color 2` does on x86_64.
//!
//! Kept simple on purpose: rpm's `%config` handling (.rpmnew) and replacement on upgrade do
//! not arise when every package is installed once into an empty root.

use super::tree::{Entry, EntryKind};

/// What the installer should do with the new entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing there yet, or the new entry replaces the old (dir metadata, multilib winner).
    Install,
    /// Leave the existing entry (identical file, symlinked directory, multilib loser).
    Keep,
    /// Refuse: the two entries differ.
    Conflict(&'static str),
}

/// The facts compared for one side.
pub struct Side<'a> {
    pub entry: &'a Entry,
    pub user: &'a str,
    pub group: &'a str,
    pub color: u32,
}

/// Decide for a path that `old` already occupies. `old_is_dir_link` tells whether the old
/// entry is a symlink that resolves to a directory inside the image.
pub fn decide(old: &Side<'_>, new: &Side<'_>, old_is_dir_link: bool) -> Verdict {
    use EntryKind as K;
    match (&old.entry.kind, &new.entry.kind) {
        (K::Dir, K::Dir) => return Verdict::Install,
        (K::Symlink { .. }, K::Dir) if old_is_dir_link => return Verdict::Keep,
        (K::Dir, _) | (_, K::Dir) => return Verdict::Conflict("a directory and a non-directory"),
        _ => {}
    }
    let same_content = match (&old.entry.kind, &new.entry.kind) {
        (
            K::File {
                digest: a,
                size: sa,
                ..
            },
            K::File {
                digest: b,
                size: sb,
                ..
            },
        ) => a == b && sa == sb,
        (K::Symlink { target: a }, K::Symlink { target: b }) => a == b,
        (K::CharDev { major: a, minor: b }, K::CharDev { major: c, minor: d })
        | (K::BlockDev { major: a, minor: b }, K::BlockDev { major: c, minor: d }) => {
            a == c && b == d
        }
        (K::Fifo, K::Fifo) | (K::Socket, K::Socket) => true,
        _ => return Verdict::Conflict("different file types"),
    };
    if old.color != 0 && new.color != 0 && old.color != new.color {
        // Multilib: prefer the 64-bit (color 2) file.
        return if new.color & 2 != 0 {
            Verdict::Install
        } else {
            Verdict::Keep
        };
    }
    if !same_content {
        return Verdict::Conflict("different contents");
    }
    let is_link = matches!(old.entry.kind, K::Symlink { .. });
    if !is_link && old.entry.mode != new.entry.mode {
        return Verdict::Conflict("different modes");
    }
    if old.user != new.user || old.group != new.group {
        return Verdict::Conflict("different owners");
    }
    Verdict::Keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::tree::Digest;

    fn file(d: u8, mode: u32) -> Entry {
        Entry {
            kind: EntryKind::File {
                digest: Digest([d; 32]),
                size: 1,
                link_group: None,
            },
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            owner_package: None,
            caps: None,
        }
    }
    fn side<'a>(e: &'a Entry, color: u32) -> Side<'a> {
        Side {
            entry: e,
            user: "root",
            group: "root",
            color,
        }
    }

    #[test]
    fn rules() {
        let a = file(1, 0o644);
        let b = file(2, 0o644);
        let a2 = file(1, 0o600);
        assert_eq!(decide(&side(&a, 0), &side(&a, 0), false), Verdict::Keep);
        assert_eq!(
            decide(&side(&a, 0), &side(&b, 0), false),
            Verdict::Conflict("different contents")
        );
        assert_eq!(
            decide(&side(&a, 0), &side(&a2, 0), false),
            Verdict::Conflict("different modes")
        );
        assert_eq!(decide(&side(&a, 1), &side(&b, 2), false), Verdict::Install);
        assert_eq!(decide(&side(&a, 2), &side(&b, 1), false), Verdict::Keep);
        let d = Entry {
            kind: EntryKind::Dir,
            ..file(0, 0o755)
        };
        let l = Entry {
            kind: EntryKind::Symlink {
                target: "usr/lib".into(),
            },
            ..file(0, 0o777)
        };
        assert_eq!(decide(&side(&d, 0), &side(&d, 0), false), Verdict::Install);
        assert_eq!(decide(&side(&l, 0), &side(&d, 0), true), Verdict::Keep);
        assert!(matches!(
            decide(&side(&d, 0), &side(&a, 0), false),
            Verdict::Conflict(_)
        ));
    }
}
