//! A host's overlay: the files that make one node of the cluster itself (its hostname, its
//! fixed address, `[[host.file]]`s, the profile's templates filled in), as the entries that
//! differ from the assembled image, plus every folder above them.
//!
//! The folders are copied from the image with their modes and owners: the kernel's
//! initramfs unpacker applies a directory entry's mode and owner to a folder that already
//! exists, so an overlay that made `/etc/NetworkManager/system-connections` 0755 root would
//! change it on the node.

use super::RootfsError;
use super::custom::{self, Customisations};
use super::extract::Image;
use super::paths;
use super::store::Store;
use super::tree::Tree;
use super::users::UserDb;

/// The entries `files` add or change on top of `base` (an assembled image), with their
/// parent folders. Owners are checked against the image's own /etc/passwd and /etc/group.
pub fn host_overlay(
    base: &Tree,
    store: &Store,
    files: &[custom::FileSpec],
    implied_mtime: u64,
) -> Result<Tree, RootfsError> {
    let passwd = super::tree_file(base, store, "/etc/passwd")?;
    let group = super::tree_file(base, store, "/etc/group")?;
    let db =
        UserDb::from_files(passwd.as_deref(), group.as_deref(), None, None).map_err(|source| {
            RootfsError::Users {
                origin: "the image's account files (for a host overlay)".into(),
                source,
            }
        })?;
    let mut image = Image::over(base.clone(), store, implied_mtime);
    let c = Customisations {
        files: files.to_vec(),
        ..Customisations::default()
    };
    custom::apply_files(&mut image, &c, &db)?;
    let Image {
        mut tree, owners, ..
    } = image;
    // Owner names of what was added -> ids, as the image's assembly does.
    for (path, o) in &owners {
        let Some(e) = tree.entries.get_mut(path) else {
            continue;
        };
        e.uid = db.uid(&o.user).ok_or_else(|| RootfsError::UnknownUser {
            package: "(host overlay)".into(),
            path: path.clone(),
            user: o.user.clone(),
        })?;
        e.gid = db.gid(&o.group).ok_or_else(|| RootfsError::UnknownGroup {
            package: "(host overlay)".into(),
            path: path.clone(),
            group: o.group.clone(),
        })?;
    }
    let mut overlay = Tree::default();
    for (path, e) in &tree.entries {
        if base.get(path) == Some(e) {
            continue;
        }
        overlay.insert(path.clone(), e.clone());
        let mut p = paths::parent(path);
        while let Some(dir) = p {
            if overlay.get(dir).is_some() {
                break;
            }
            if let Some(d) = tree.get(dir) {
                overlay.insert(dir.to_string(), d.clone());
            }
            p = paths::parent(dir);
        }
    }
    Ok(overlay)
}
