//! Paths inside the image, resolved as rpm resolves them.
//!
//! rpm installs with the image as its root, so a directory that an earlier package made a
//! symlink (EL9's `filesystem` turns /lib into `usr/lib`) is followed when a later package
//! ships /lib/modules/...: the file lands in /usr/lib/modules. This module walks a path
//! through the in-memory [`Tree`] the same way, one component at a time, and never leaves
//! the image: absolute symlink targets restart at the image root (as inside a chroot), a
//! `..` in a package's own path that would climb above the root is an error, and a `..`
//! reached through a symlink target stops at the root, as the kernel does in a chroot.
//! Nothing here touches the host filesystem.

use super::tree::{EntryKind, Tree};

/// Symlinks followed while resolving one path before giving up (the kernel's limit).
pub const MAX_SYMLINKS: usize = 40;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("Path `{path}` climbs out of the image root with `..`")]
    Escape { path: String },
    #[error("Too many levels of symbolic links resolving `{path}` (a symlink loop at `{at}`)")]
    SymlinkLoop { path: String, at: String },
    #[error("Cannot resolve `{path}`: `{component}` is not a directory")]
    NotADirectory { path: String, component: String },
    #[error("Invalid path `{path}`: {reason}")]
    Invalid { path: String, reason: &'static str },
}

/// Check a path as it comes from a package (header or payload): absolute or `./`-relative,
/// no NUL, not empty, and no `..` that climbs above the root when read lexically.
/// Returns it as an absolute path with `.` and empty components removed (`..` kept: it is
/// resolved physically by [`resolve`]).
pub fn check_package_path(path: &str) -> Result<String, PathError> {
    let invalid = |reason| PathError::Invalid {
        path: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("empty"));
    }
    if path.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    let rel = path.strip_prefix("./").unwrap_or(path);
    let mut depth = 0usize;
    let mut out = String::new();
    for c in rel.split('/') {
        match c {
            "" | "." => continue,
            ".." => {
                if depth == 0 {
                    return Err(PathError::Escape {
                        path: path.to_string(),
                    });
                }
                depth -= 1;
            }
            _ => depth += 1,
        }
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn join(stack: &[String]) -> String {
    if stack.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for c in stack {
        s.push('/');
        s.push_str(c);
    }
    s
}

/// Resolve `path` (absolute, inside the image) through the tree's symlinks.
///
/// With `follow_last` false the last component is kept as is (the entry rpm creates or
/// replaces); every directory above it is resolved. Components that do not exist yet are
/// taken literally (rpm creates missing parents). The result is absolute and normalised.
pub fn resolve(tree: &Tree, path: &str, follow_last: bool) -> Result<String, PathError> {
    let mut pending: std::collections::VecDeque<(String, bool)> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(|c| (c.to_string(), true))
        .collect();
    let mut stack: Vec<String> = Vec::new();
    let mut links = 0usize;
    while let Some((c, from_path)) = pending.pop_front() {
        if c == "." || c.is_empty() {
            continue;
        }
        if c == ".." {
            if stack.pop().is_none() && from_path {
                return Err(PathError::Escape {
                    path: path.to_string(),
                });
            }
            continue;
        }
        let last = pending.is_empty();
        stack.push(c);
        if last && !follow_last {
            break;
        }
        let here = join(&stack);
        match tree.get(&here).map(|e| &e.kind) {
            None | Some(EntryKind::Dir) => {}
            Some(EntryKind::Symlink { target }) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(PathError::SymlinkLoop {
                        path: path.to_string(),
                        at: here,
                    });
                }
                stack.pop();
                if target.starts_with('/') {
                    stack.clear();
                }
                for t in target.split('/').rev() {
                    if !t.is_empty() && t != "." {
                        pending.push_front((t.to_string(), false));
                    }
                }
            }
            Some(_) if last => {}
            Some(_) => {
                return Err(PathError::NotADirectory {
                    path: path.to_string(),
                    component: here,
                });
            }
        }
    }
    Ok(join(&stack))
}

/// The parent of an absolute normalised path (`/` for `/x`), or `None` for `/`.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::tree::Entry;

    fn dir() -> Entry {
        Entry {
            kind: EntryKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 0,
            owner_package: None,
            caps: None,
        }
    }
    fn link(t: &str) -> Entry {
        Entry {
            kind: EntryKind::Symlink { target: t.into() },
            mode: 0o777,
            ..dir()
        }
    }

    fn el9() -> Tree {
        let mut t = Tree::default();
        t.insert("/usr", dir());
        t.insert("/usr/lib", dir());
        t.insert("/lib", link("usr/lib"));
        t.insert("/bin", link("usr/bin"));
        t
    }

    #[test]
    fn follows_usrmerge_symlinks_like_rpm() {
        let t = el9();
        assert_eq!(
            resolve(&t, "/lib/modules/5.14/vmlinuz", false).unwrap(),
            "/usr/lib/modules/5.14/vmlinuz"
        );
        // The last component is not followed: /lib itself is the symlink.
        assert_eq!(resolve(&t, "/lib", false).unwrap(), "/lib");
        assert_eq!(resolve(&t, "/lib", true).unwrap(), "/usr/lib");
    }

    #[test]
    fn absolute_symlinks_stay_inside_the_image() {
        let mut t = el9();
        t.insert("/opt", link("/"));
        t.insert("/etc", dir());
        t.insert("/evil", link("/../../../../etc"));
        assert_eq!(resolve(&t, "/opt/etc/x", false).unwrap(), "/etc/x");
        assert_eq!(resolve(&t, "/evil/passwd", false).unwrap(), "/etc/passwd");
    }

    #[test]
    fn dotdot_that_climbs_out_is_an_error() {
        assert_eq!(
            check_package_path("../../aaaaaaaaa1"),
            Err(PathError::Escape {
                path: "../../aaaaaaaaa1".into()
            })
        );
        assert_eq!(
            check_package_path("./usr/../etc/x").unwrap(),
            "/usr/../etc/x"
        );
        let t = Tree::default();
        assert!(matches!(
            resolve(&t, "/usr/../../etc", false),
            Err(PathError::Escape { .. })
        ));
        assert_eq!(resolve(&t, "/usr/../etc", false).unwrap(), "/etc");
    }

    #[test]
    fn symlink_loops_are_reported() {
        let mut t = Tree::default();
        t.insert("/a", link("b"));
        t.insert("/b", link("a"));
        let err = resolve(&t, "/a/file", false).unwrap_err();
        assert!(matches!(err, PathError::SymlinkLoop { .. }), "{err}");
    }

    #[test]
    fn a_file_used_as_a_directory_is_an_error() {
        let mut t = Tree::default();
        t.insert(
            "/f",
            Entry {
                kind: EntryKind::Fifo,
                ..dir()
            },
        );
        assert!(matches!(
            resolve(&t, "/f/x", false),
            Err(PathError::NotADirectory { .. })
        ));
    }

    #[test]
    fn parents() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
    }
}
