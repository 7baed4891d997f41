//! Extraction: stream one package's payload into the image tree.
//!
//! Each payload is decompressed and read entry by entry; regular files go straight into the
//! content store (never whole into memory), everything else becomes metadata in the tree.
//! The rules are rpm's, as `rpm -i --noscripts` applies them:
//! - owners are the user and group *names* from the header (the payload's cpio uid/gid are
//!   0); they are mapped to ids later, through the image's own /etc/passwd and /etc/group;
//! - hardlink groups are the files sharing (FILEDEVICES, FILEINODES); in the payload only the
//!   last member carries the contents;
//! - `%ghost` files are not created; `nodocs` skips `%doc` files (not `%license`); `langs`
//!   keeps files whose FILELANGS is empty or matches (rpm's `%_install_langs` rule: a
//!   configured language matches a file language it starts with); `exclude_paths` globs;
//! - paths are resolved through symlinked directories already in the image
//!   ([`super::paths`]) and conflicts are decided by [`super::conflicts`].

use super::RootfsError;
use super::conflicts::{self, Side, Verdict};
use super::header::{PkgHeader, fflags};
use super::paths;
use super::store::Store;
use super::tree::{Digest, Entry, EntryKind, Tree};
use crate::cas;
use crate::codec::{self, Compression};
use crate::cpio;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// The owner names of a tree entry (and its ELF color for multilib decisions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user: String,
    pub group: String,
    pub color: u32,
}

impl Owner {
    pub fn root() -> Owner {
        Owner {
            user: "root".into(),
            group: "root".into(),
            color: 0,
        }
    }
}

/// Which files of a package are installed.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub nodocs: bool,
    /// `None` = all languages.
    pub langs: Option<Vec<String>>,
    pub exclude_paths: Vec<String>,
}

/// What a package's payload holds, as the install pass needs it: the payload order of the
/// header's files, the contents (in the store) of the files that carry them, and symlink
/// targets the header leaves out. Made by [`read_payload`]; kept in the cache by
/// [`Manifests`] so a package already read is not decompressed again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    /// Header file indices in payload order, then the header-only (ghost) ones.
    pub order: Vec<u32>,
    /// (file index, contents, size) of every regular file that carried contents.
    pub contents: Vec<(u32, Digest, u64)>,
    /// ((device, inode), contents, size) of every hardlink group with contents.
    pub group_content: Vec<((u32, u32), Digest, u64)>,
    /// (file index, target) of symlinks whose target is only in the payload.
    pub link_targets: Vec<(u32, String)>,
}

impl Payload {
    /// Every content the install pass reads from the store.
    pub fn digests(&self) -> impl Iterator<Item = (&Digest, u64)> {
        self.contents
            .iter()
            .map(|(_, d, s)| (d, *s))
            .chain(self.group_content.iter().map(|(_, d, s)| (d, *s)))
    }
}

/// Payloads already read, kept in the cache by the RPM file's sha256
/// (`<cache>/extracted/ab/cdef…`, sealed postcard): a warm build applies them without
/// decompressing the package again, as long as the store still has every content.
#[derive(Debug, Clone)]
pub struct Manifests {
    dir: cas::Dir,
}

const MANIFEST_KIND: [u8; 4] = *b"xman";
/// Bumped whenever [`read_payload`] would record something else for the same RPM.
const MANIFEST_VERSION: u32 = 1;
/// The manifests' folder in the cache.
pub const MANIFESTS_DIR: &str = "extracted";

impl Manifests {
    pub fn new(dir: cas::Dir) -> Manifests {
        Manifests { dir }
    }

    pub fn dir(&self) -> &cas::Dir {
        &self.dir
    }

    /// The payload of the RPM with this sha256, when it was read before and the store
    /// still has all of its contents.
    pub fn get(&self, rpm_sha256: &str, store: &Store) -> Option<Payload> {
        let body = self
            .dir
            .get_sealed(rpm_sha256, MANIFEST_KIND, MANIFEST_VERSION)?;
        let p: Payload = postcard::from_bytes(&body).ok()?;
        let whole = p.digests().all(|(d, size)| store.has(d, Some(size)));
        whole.then_some(p)
    }

    /// Keep `payload` for the RPM with this sha256 (a failure to write only costs a later
    /// build the decompression).
    pub fn put(&self, rpm_sha256: &str, payload: &Payload) {
        let written = postcard::to_allocvec(payload)
            .map_err(std::io::Error::other)
            .and_then(|b| {
                self.dir
                    .put_sealed(rpm_sha256, MANIFEST_KIND, MANIFEST_VERSION, &b)
            });
        if let Err(e) = written {
            tracing::debug!("cannot keep the extraction manifest of {rpm_sha256}: {e}");
        }
    }

    /// The contents a kept manifest references (for `diskless cache gc`); `None` when
    /// there is no readable manifest for this RPM.
    pub fn referenced(&self, rpm_sha256: &str) -> Option<Vec<Digest>> {
        let body = self
            .dir
            .get_sealed(rpm_sha256, MANIFEST_KIND, MANIFEST_VERSION)?;
        let p: Payload = postcard::from_bytes(&body).ok()?;
        Some(p.digests().map(|(d, _)| *d).collect())
    }
}

/// A header's hex sha256 file digest, when it is one.
fn hex_digest(hex: &str) -> Option<Digest> {
    let mut d = [0u8; 32];
    hex::decode_to_slice(hex, &mut d).ok()?;
    Some(Digest(d))
}

/// Counts of files not installed, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub ghost: usize,
    pub doc: usize,
    pub lang: usize,
    pub excluded: usize,
}

/// The image being built: tree, owner names by path, and the content store.
pub struct Image<'s> {
    pub tree: Tree,
    pub owners: BTreeMap<String, Owner>,
    pub store: &'s Store,
    pub skipped: Skipped,
    /// mtime given to directories nobody ships (rpm would use the clock).
    pub implied_mtime: u64,
    next_link_group: u32,
}

fn root_dir(mtime: u64) -> Entry {
    Entry {
        kind: EntryKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime,
        owner_package: None,
        caps: None,
    }
}

/// Does a file tagged with `flangs` (`|`-separated) survive `%_install_langs`?
pub fn lang_kept(flangs: &str, langs: &[String]) -> bool {
    if flangs.is_empty() || langs.iter().any(|l| l == "all") {
        return true;
    }
    flangs
        .split('|')
        .any(|fl| fl.is_empty() || langs.iter().any(|l| l.starts_with(fl)))
}

impl<'s> Image<'s> {
    pub fn new(store: &'s Store, implied_mtime: u64) -> Image<'s> {
        let mut tree = Tree::default();
        tree.insert("/", root_dir(implied_mtime));
        let mut owners = BTreeMap::new();
        owners.insert("/".to_string(), Owner::root());
        Image {
            tree,
            owners,
            store,
            skipped: Skipped::default(),
            implied_mtime,
            next_link_group: 1,
        }
    }

    /// An image that starts as `tree` (assembled before, its owners already numeric): for
    /// changes on top of it ([`super::overlay`]). Only entries added from here on have
    /// owner names in `owners`.
    pub fn over(tree: Tree, store: &'s Store, implied_mtime: u64) -> Image<'s> {
        Image {
            tree,
            owners: BTreeMap::new(),
            store,
            skipped: Skipped::default(),
            implied_mtime,
            next_link_group: 1,
        }
    }

    /// Create missing parent directories of a resolved path (0755 root:root, as rpm does).
    fn ensure_parents(&mut self, resolved: &str) {
        let mut missing = Vec::new();
        let mut p = paths::parent(resolved);
        while let Some(dir) = p {
            if self.tree.get(dir).is_some() {
                break;
            }
            missing.push(dir.to_string());
            p = paths::parent(dir);
        }
        for dir in missing.into_iter().rev() {
            self.tree.insert(dir.clone(), root_dir(self.implied_mtime));
            self.owners.insert(dir, Owner::root());
        }
    }

    /// Install one entry at `path` (as a package names it), resolving symlinked parent
    /// directories and applying the conflict rules. Returns the resolved path.
    pub fn install(
        &mut self,
        package: &str,
        path: &str,
        entry: Entry,
        owner: Owner,
    ) -> Result<String, RootfsError> {
        let path_err = |source| RootfsError::Path {
            package: package.to_string(),
            source,
        };
        let checked = paths::check_package_path(path).map_err(path_err)?;
        let resolved = paths::resolve(&self.tree, &checked, false).map_err(path_err)?;
        if let Some(old) = self.tree.get(&resolved) {
            let old_owner = self
                .owners
                .get(&resolved)
                .cloned()
                .unwrap_or_else(Owner::root);
            let old_is_dir_link = matches!(old.kind, EntryKind::Symlink { .. })
                && paths::resolve(&self.tree, &resolved, true)
                    .ok()
                    .and_then(|r| self.tree.get(&r))
                    .is_some_and(|e| e.kind == EntryKind::Dir);
            let verdict = conflicts::decide(
                &Side {
                    entry: old,
                    user: &old_owner.user,
                    group: &old_owner.group,
                    color: old_owner.color,
                },
                &Side {
                    entry: &entry,
                    user: &owner.user,
                    group: &owner.group,
                    color: owner.color,
                },
                old_is_dir_link,
            );
            match verdict {
                Verdict::Keep => return Ok(resolved),
                Verdict::Install => {}
                Verdict::Conflict(reason) => {
                    return Err(RootfsError::Conflict {
                        path: resolved,
                        first: old
                            .owner_package
                            .clone()
                            .unwrap_or_else(|| "(generated)".into()),
                        second: package.to_string(),
                        reason,
                    });
                }
            }
        }
        self.ensure_parents(&resolved);
        self.tree.insert(resolved.clone(), entry);
        self.owners.insert(resolved.clone(), owner);
        Ok(resolved)
    }
}

/// The payload pass: stream the payload of the package at `rpm` (whose header is `hdr`),
/// putting every regular file's contents into `store` (only those it lacks are written)
/// and checking them against the header (sizes, sha256 digests, hardlink counts). A pure
/// function of the RPM's bytes, so packages are read in parallel and the result is kept
/// ([`Manifests`]); the install pass ([`Image::apply`]) runs in install order.
pub fn read_payload(rpm: &Path, hdr: &PkgHeader, store: &Store) -> Result<Payload, RootfsError> {
    {
        let nevra = hdr.nevra();
        // A write into the store (a full disk) is not a damaged payload: say which.
        let payload_err = |source: std::io::Error| match super::store::WriteError::of(&source) {
            Some(_) => RootfsError::Store(source),
            None => RootfsError::Payload {
                package: nevra.clone(),
                source,
            },
        };
        let file = fs_err::File::open(rpm).map_err(payload_err)?;
        let mut input = BufReader::with_capacity(128 * 1024, file);
        crate::package::rpmhead::parse_metadata(&mut input).map_err(|source| {
            RootfsError::Header {
                path: rpm.display().to_string(),
                source,
            }
        })?;
        let stream = open_payload(input, &hdr.payload_compressor).map_err(payload_err)?;
        let mut archive = cpio::Reader::new(stream);

        let by_path: HashMap<&str, usize> = hdr
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect();
        // Hardlink groups among regular, non-ghost files.
        let mut group_size: HashMap<(u32, u32), usize> = HashMap::new();
        for f in hdr.files.iter().filter(|f| f.is_reg() && !f.is_ghost()) {
            *group_size.entry((f.device, f.inode)).or_default() += 1;
        }
        let is_linked = |i: usize| {
            let f = &hdr.files[i];
            f.is_reg()
                && !f.is_ghost()
                && group_size.get(&(f.device, f.inode)).copied().unwrap_or(0) > 1
        };

        // Payload pass: contents into the store, entries collected in payload order.
        let mut seen = vec![false; hdr.files.len()];
        let mut order: Vec<usize> = Vec::with_capacity(hdr.files.len());
        let mut contents: Vec<(u32, Digest, u64)> = Vec::new();
        let mut group_content: Vec<((u32, u32), Digest, u64)> = Vec::new();
        let mut link_targets: Vec<(u32, String)> = Vec::new();
        let sizes = |i: u32| hdr.files.get(i as usize).map(|f| f.size);
        while let Some(h) = archive.next(sizes).map_err(payload_err)? {
            let index = match (&h.index, &h.name) {
                (Some(i), _) => *i as usize,
                (None, Some(name)) => {
                    let p =
                        paths::check_package_path(name).map_err(|source| RootfsError::Path {
                            package: nevra.clone(),
                            source,
                        })?;
                    *by_path
                        .get(p.as_str())
                        .ok_or_else(|| RootfsError::UnknownPayloadEntry {
                            package: nevra.clone(),
                            name: name.clone(),
                        })?
                }
                (None, None) => unreachable_entry(&nevra)?,
            };
            let Some(f) = hdr.files.get(index) else {
                return Err(RootfsError::UnknownPayloadEntry {
                    package: nevra.clone(),
                    name: format!("file index {index}"),
                });
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(RootfsError::Malformed {
                    package: nevra.clone(),
                    reason: format!("`{}` appears twice in the payload", f.path),
                });
            }
            order.push(index);
            if f.is_ghost() {
                continue;
            }
            if f.is_reg() {
                let members = group_size.get(&(f.device, f.inode)).copied().unwrap_or(1);
                if h.nlink as usize > members.max(1) {
                    // rpm writes the link count of the package's own group; a larger count
                    // means the archive links this file to something the package lacks.
                    return Err(RootfsError::BadHardlink {
                        package: nevra.clone(),
                        path: f.path.clone(),
                        reason: "its link count names files outside the package",
                    });
                }
                if is_linked(index) && h.size == 0 && f.size != 0 {
                    // Not the contents-carrying member of its hardlink group.
                    continue;
                }
                // The header's sha256 names the contents before they are read: a content
                // the store has is only hashed, not written again.
                let expected = (hdr.digest_algo == 8)
                    .then(|| hex_digest(&f.digest))
                    .flatten();
                let (digest, size) = store
                    .put_expected(archive.data(), expected.as_ref().map(|d| (d, f.size)))
                    .map_err(payload_err)?;
                if size != f.size {
                    return Err(RootfsError::Malformed {
                        package: nevra.clone(),
                        reason: format!(
                            "`{}` has {size} bytes in the payload but {} in the header",
                            f.path, f.size
                        ),
                    });
                }
                if hdr.digest_algo == 8 && !f.digest.is_empty() && f.digest != digest.to_hex() {
                    return Err(RootfsError::DigestMismatch {
                        package: nevra.clone(),
                        path: f.path.clone(),
                        expected: f.digest.clone(),
                        actual: digest.to_hex(),
                    });
                }
                if is_linked(index) {
                    group_content.push(((f.device, f.inode), digest, size));
                }
                contents.push((index as u32, digest, size));
            } else if f.file_type() == 0o120000 && f.linkto.is_empty() {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut archive.data(), &mut t).map_err(payload_err)?;
                link_targets.push((index as u32, t));
            }
        }
        for (i, f) in hdr.files.iter().enumerate() {
            if !seen[i] {
                if !f.is_ghost() {
                    return Err(RootfsError::Malformed {
                        package: nevra.clone(),
                        reason: format!("`{}` is in the header but not in the payload", f.path),
                    });
                }
                order.push(i);
            }
        }
        Ok(Payload {
            order: order.into_iter().map(|i| i as u32).collect(),
            contents,
            group_content,
            link_targets,
        })
    }
}

impl Image<'_> {
    /// Stream the payload of the package at `rpm` (whose header is `hdr`) into the image:
    /// [`read_payload`], then [`Image::apply`].
    pub fn extract(
        &mut self,
        rpm: &Path,
        hdr: &PkgHeader,
        filters: &Filters,
    ) -> Result<usize, RootfsError> {
        let payload = read_payload(rpm, hdr, self.store)?;
        self.apply(hdr, &payload, filters)
    }

    /// The install pass: put the package's files into the tree in payload order (rpm's
    /// order), applying the filters, the path rules and the conflict rules.
    pub fn apply(
        &mut self,
        hdr: &PkgHeader,
        payload: &Payload,
        filters: &Filters,
    ) -> Result<usize, RootfsError> {
        let nevra = hdr.nevra();
        let payload_err = |source: std::io::Error| RootfsError::Payload {
            package: nevra.clone(),
            source,
        };
        let mut group_size: HashMap<(u32, u32), usize> = HashMap::new();
        for f in hdr.files.iter().filter(|f| f.is_reg() && !f.is_ghost()) {
            *group_size.entry((f.device, f.inode)).or_default() += 1;
        }
        let is_linked = |i: usize| {
            let f = &hdr.files[i];
            f.is_reg()
                && !f.is_ghost()
                && group_size.get(&(f.device, f.inode)).copied().unwrap_or(0) > 1
        };
        let contents: HashMap<usize, (Digest, u64)> = payload
            .contents
            .iter()
            .map(|(i, d, s)| (*i as usize, (*d, *s)))
            .collect();
        let group_content: HashMap<(u32, u32), (Digest, u64)> = payload
            .group_content
            .iter()
            .map(|(k, d, s)| (*k, (*d, *s)))
            .collect();
        let mut link_targets: HashMap<usize, String> = payload
            .link_targets
            .iter()
            .map(|(i, t)| (*i as usize, t.clone()))
            .collect();
        let order = payload.order.iter().map(|&i| i as usize);
        if let Some(bad) = payload
            .order
            .iter()
            .find(|&&i| i as usize >= hdr.files.len())
        {
            return Err(RootfsError::UnknownPayloadEntry {
                package: nevra.clone(),
                name: format!("file index {bad}"),
            });
        }

        // Install pass, in payload order (rpm's order).
        let mut groups: HashMap<(u32, u32), u32> = HashMap::new();
        let mut installed = 0usize;
        for i in order {
            let f = &hdr.files[i];
            if f.is_ghost() {
                self.skipped.ghost += 1;
                continue;
            }
            if filters.nodocs && f.flags & fflags::DOC != 0 {
                self.skipped.doc += 1;
                continue;
            }
            if let Some(langs) = &filters.langs {
                if !lang_kept(&f.lang, langs) {
                    self.skipped.lang += 1;
                    continue;
                }
            }
            let normal =
                paths::check_package_path(&f.path).map_err(|source| RootfsError::Path {
                    package: nevra.clone(),
                    source,
                })?;
            if filters
                .exclude_paths
                .iter()
                .any(|g| super::glob::matches_or_below(g, &normal))
            {
                self.skipped.excluded += 1;
                continue;
            }
            let kind = match f.file_type() {
                0o040000 => EntryKind::Dir,
                0o100000 => {
                    let (digest, size) = if is_linked(i) {
                        let key = (f.device, f.inode);
                        let content = group_content.get(&key).copied().or_else(|| {
                            // A group of empty files carries no data at all.
                            (f.size == 0)
                                .then(|| self.store.put_bytes(b"").ok())
                                .flatten()
                        });
                        content.ok_or_else(|| RootfsError::BadHardlink {
                            package: nevra.clone(),
                            path: f.path.clone(),
                            reason: "no member of its hardlink group carries contents in the payload",
                        })?
                    } else {
                        match contents.get(&i) {
                            Some(c) => *c,
                            None => self.store.put_bytes(b"").map_err(payload_err)?,
                        }
                    };
                    let link_group = if is_linked(i) {
                        let next = &mut self.next_link_group;
                        Some(*groups.entry((f.device, f.inode)).or_insert_with(|| {
                            let g = *next;
                            *next += 1;
                            g
                        }))
                    } else {
                        None
                    };
                    EntryKind::File {
                        digest,
                        size,
                        link_group,
                    }
                }
                0o120000 => EntryKind::Symlink {
                    target: if f.linkto.is_empty() {
                        link_targets.remove(&i).unwrap_or_default()
                    } else {
                        f.linkto.clone()
                    },
                },
                0o020000 => EntryKind::CharDev {
                    major: (f.rdev >> 8) & 0xff,
                    minor: f.rdev & 0xff,
                },
                0o060000 => EntryKind::BlockDev {
                    major: (f.rdev >> 8) & 0xff,
                    minor: f.rdev & 0xff,
                },
                0o010000 => EntryKind::Fifo,
                0o140000 => EntryKind::Socket,
                other => {
                    return Err(RootfsError::Malformed {
                        package: nevra.clone(),
                        reason: format!("`{}` has unknown file type {other:o}", f.path),
                    });
                }
            };
            let entry = Entry {
                kind,
                mode: u32::from(f.mode) & 0o7777,
                uid: 0,
                gid: 0,
                mtime: u64::from(f.mtime),
                owner_package: Some(nevra.clone()),
                caps: (!f.caps.is_empty()).then(|| f.caps.clone()),
            };
            let owner = Owner {
                user: f.user.clone(),
                group: f.group.clone(),
                color: f.color,
            };
            self.install(&nevra, &f.path, entry, owner)?;
            installed += 1;
        }
        Ok(installed)
    }
}

/// Wrap the payload stream in the right decompressor. rpm names the compressor in the
/// header (`PAYLOADCOMPRESSOR`); the magic bytes are checked first because some packages
/// name it wrongly, and `lzma` (the legacy format) has no reliable magic.
fn open_payload<'a>(
    mut r: impl BufRead + Send + 'a,
    compressor: &str,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let magic = codec::peek(&mut r)?;
    let format = match Compression::from_magic(magic) {
        Some(Compression::Zchunk) | None if magic.starts_with(b"0707") => Compression::None,
        Some(Compression::Zchunk) | None
            if compressor == "lzma" || magic.first() == Some(&0x5d) =>
        {
            Compression::Lzma
        }
        Some(Compression::Zchunk) | None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unsupported payload compression `{compressor}`"),
            ));
        }
        Some(found) => found,
    };
    codec::decoder(format, r)
}

fn unreachable_entry(nevra: &str) -> Result<usize, RootfsError> {
    Err(RootfsError::Malformed {
        package: nevra.to_string(),
        reason: "a cpio entry without a name or index".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_langs_rule() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(lang_kept("", &l(&["en"])));
        assert!(lang_kept("de", &l(&["de_DE"])));
        assert!(!lang_kept("en_US", &l(&["en"])));
        assert!(!lang_kept("fr", &l(&["en", "de"])));
        assert!(lang_kept("fr|de", &l(&["de"])));
        assert!(lang_kept("fr", &l(&["all"])));
    }
}
