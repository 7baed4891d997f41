//! Writing an assembled tree to a host directory, for the real tools (`ldconfig -r`,
//! `systemctl --root`, `getcap`) to read: directories, files with their modes, symlinks;
//! owners too when the tests run as root.

use diskless::rootfs::store::Store;
use diskless::rootfs::tree::{EntryKind, Tree};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// Write `tree` (contents from `store`) under `root`. Device nodes, FIFOs and sockets are
/// left out; directory modes are set last so read-only directories can be filled.
pub fn materialise(tree: &Tree, store: &Store, root: &Path) {
    let as_root = super::proc::is_root();
    let mut dirs = Vec::new();
    for (path, e) in &tree.entries {
        let dest = root.join(path.trim_start_matches('/'));
        match &e.kind {
            EntryKind::Dir => {
                std::fs::create_dir_all(&dest).unwrap();
                dirs.push((dest.clone(), e.mode));
            }
            EntryKind::File { digest, .. } => {
                std::fs::copy(store.path(digest), &dest).unwrap();
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(e.mode)).unwrap();
            }
            EntryKind::Symlink { target } => std::os::unix::fs::symlink(target, &dest).unwrap(),
            _ => continue,
        }
        if as_root {
            std::os::unix::fs::lchown(&dest, Some(e.uid), Some(e.gid)).unwrap();
        }
    }
    for (d, mode) in dirs.into_iter().rev() {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// The symlinks under `dir` of a host tree rooted at `root`, as (path in the tree, target).
pub fn host_links(root: &Path, dir: &str) -> std::collections::BTreeMap<String, String> {
    fn walk(root: &Path, rel: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
            return;
        };
        for e in rd {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap();
                out.insert(
                    format!("/{}", r.display()),
                    t.to_string_lossy().into_owned(),
                );
            } else if ft.is_dir() {
                walk(root, &r, out);
            }
        }
    }
    let mut out = Default::default();
    walk(root, Path::new(dir.trim_start_matches('/')), &mut out);
    out
}

/// The symlinks of `tree` under `dir`, as (path, target).
pub fn tree_links(tree: &Tree, dir: &str) -> std::collections::BTreeMap<String, String> {
    tree.descendants(dir)
        .filter_map(|(p, e)| match &e.kind {
            EntryKind::Symlink { target } => Some((p.clone(), target.clone())),
            _ => None,
        })
        .collect()
}
