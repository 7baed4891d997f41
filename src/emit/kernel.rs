//! The kernel the tftp tree serves: `vmlinuz` from the image tree, where the kernel package
//! put it: `/lib/modules/<kver>/vmlinuz` on EL8/9 (in the tree as `/usr/lib/modules/...`,
//! /lib being a symlink to usr/lib), `/boot/vmlinuz-<kver>` on older releases.

use crate::rootfs::tree::{Digest, EntryKind, Tree};

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(
        "Image `{image}` has no kernel (no /usr/lib/modules/<kver>/vmlinuz or /boot/vmlinuz-<kver>); add a kernel package to the profile"
    )]
    NotFound { image: String },
    #[error(
        "Image `{image}` has several kernels ({found}); name one with the image's kernel version"
    )]
    Ambiguous { image: String, found: String },
    #[error("Image `{image}` has no kernel version `{kver}` (found: {found})")]
    NoSuchVersion {
        image: String,
        kver: String,
        found: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    pub version: String,
    /// Where it is in the tree.
    pub path: String,
    pub digest: Digest,
    pub size: u64,
}

/// Find the image's kernel; `want` picks one version when several are installed.
pub fn find(image: &str, tree: &Tree, want: Option<&str>) -> Result<Kernel, KernelError> {
    let mut found: Vec<Kernel> = Vec::new();
    // The modules directory is where EL8/9's kernel-core keeps the real file (its
    // /boot/vmlinuz-<kver> is a %ghost copied by a scriptlet): look there first.
    for pass in 0..2 {
        for (path, e) in &tree.entries {
            let EntryKind::File { digest, size, .. } = e.kind else {
                continue;
            };
            let version = if pass == 0 {
                ["/usr/lib/modules/", "/lib/modules/"]
                    .iter()
                    .find_map(|p| {
                        path.strip_prefix(p)
                            .and_then(|r| r.strip_suffix("/vmlinuz"))
                    })
                    .filter(|v| !v.contains('/'))
            } else {
                path.strip_prefix("/boot/vmlinuz-")
                    .filter(|v| !v.contains('/') && !v.contains("rescue"))
            };
            if let Some(v) = version
                && !found.iter().any(|k| k.version == v)
            {
                found.push(Kernel {
                    version: v.to_string(),
                    path: path.clone(),
                    digest,
                    size,
                });
            }
        }
    }
    found.sort_by(|a, b| a.version.cmp(&b.version));
    let list = || {
        found
            .iter()
            .map(|k| k.version.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match want {
        Some(kver) => found
            .iter()
            .find(|k| k.version == kver)
            .cloned()
            .ok_or_else(|| KernelError::NoSuchVersion {
                image: image.to_string(),
                kver: kver.to_string(),
                found: list(),
            }),
        None => match found.len() {
            0 => Err(KernelError::NotFound {
                image: image.to_string(),
            }),
            1 => Ok(found.remove(0)),
            _ => Err(KernelError::Ambiguous {
                image: image.to_string(),
                found: list(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::tree::Entry;

    fn file(t: &mut Tree, p: &str) {
        t.entries.insert(
            p.into(),
            Entry {
                kind: EntryKind::File {
                    digest: Digest([1; 32]),
                    size: 10,
                    link_group: None,
                },
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 0,
                owner_package: Some("kernel-core".into()),
                caps: None,
            },
        );
    }

    #[test]
    fn finds_el9_and_old_layouts() {
        let mut t = Tree::default();
        file(&mut t, "/usr/lib/modules/5.14.0-70.el9.x86_64/vmlinuz");
        assert_eq!(find("x", &t, None).unwrap().version, "5.14.0-70.el9.x86_64");
        let mut t = Tree::default();
        file(&mut t, "/boot/vmlinuz-3.10.0-1160.el7.x86_64");
        assert_eq!(
            find("x", &t, None).unwrap().path,
            "/boot/vmlinuz-3.10.0-1160.el7.x86_64"
        );
    }

    #[test]
    fn several_kernels_need_a_choice() {
        let mut t = Tree::default();
        file(&mut t, "/usr/lib/modules/5.14.0-70.el9.x86_64/vmlinuz");
        file(&mut t, "/usr/lib/modules/5.14.0-80.el9.x86_64/vmlinuz");
        file(&mut t, "/boot/vmlinuz-5.14.0-80.el9.x86_64");
        let e = find("compute", &t, None).unwrap_err().to_string();
        assert!(
            e.contains(
                "`compute` has several kernels (5.14.0-70.el9.x86_64, 5.14.0-80.el9.x86_64)"
            ),
            "{e}"
        );
        assert_eq!(
            find("x", &t, Some("5.14.0-80.el9.x86_64")).unwrap().path,
            "/usr/lib/modules/5.14.0-80.el9.x86_64/vmlinuz"
        );
        assert!(matches!(
            find("x", &Tree::default(), None),
            Err(KernelError::NotFound { .. })
        ));
    }
}
