//! The initramfs archive: an exact cpio `newc` (`070701`) writer over the image tree, and
//! a listing of an archive (entries with their data digests, read with [`crate::cpio`])
//! for `diskless diff` and the tests.
//!
//! What the Linux kernel's initramfs unpacker needs, and what makes the bytes reproducible:
//! paths in bytewise order, every directory before its contents (the kernel creates no
//! parents), inode numbers assigned in output order, hardlink groups sharing one inode with
//! the group's nlink and their data once on the last link (GNU cpio's convention, which the
//! kernel's `maybe_link` follows), one mtime for every entry (SOURCE_DATE_EPOCH),
//! devmajor/devminor 0, rdev only for device nodes, check 0, 4-byte padding and a
//! `TRAILER!!!` entry. Names are relative (`.`, `etc`, `etc/passwd`), as `find . | cpio`
//! writes them minus the `./`.

use crate::cpio::TRAILER;
use crate::rootfs::store::Store;
use crate::rootfs::tree::{Digest, Entry, EntryKind, Tree};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// newc's size field is 8 hex digits.
pub const MAX_FILE_SIZE: u64 = u32::MAX as u64;

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;

#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    #[error(
        "`{path}` is {size} bytes; cpio newc cannot hold files of 4 GiB or more (the size field is 32 bits)"
    )]
    FileTooLarge { path: String, size: u64 },
    #[error("SOURCE_DATE_EPOCH {0} does not fit cpio newc's 32-bit mtime field")]
    MtimeTooLarge(u64),
    #[error("`{path}` is not a normalised absolute path")]
    BadPath { path: String },
    #[error(
        "Content of `{path}` in the store ({store_path}) is {actual} bytes, the tree says {expected}"
    )]
    SizeMismatch {
        path: String,
        store_path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("Cannot read the content of `{path}` from the store")]
    Store {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("Hardlink group {group} mixes different contents (`{first}` and `{other}`)")]
    HardlinkMismatch {
        group: u32,
        first: String,
        other: String,
    },
    #[error("Cannot write the cpio archive")]
    Write(#[source] io::Error),
    #[error("Cannot use the initramfs segment cache at `{}`", path.display())]
    Segment {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("Not a cpio newc archive: {0}")]
    Malformed(String),
    #[error("Cannot read the cpio archive")]
    Read(#[source] io::Error),
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpioStats {
    pub entries: u64,
    /// Uncompressed archive size in bytes.
    pub bytes: u64,
}

/// Write the whole tree as one newc archive (inode numbers from 1, one trailer). Every
/// entry gets `mtime`; a parent directory the tree lacks is emitted as `0755 root:root` so
/// the kernel can create the child. The initramfs is written in segments instead
/// ([`super::segments`]), each of them by [`write_items`].
pub fn write_tree<W: Write>(
    tree: &Tree,
    store: &Store,
    mtime: u64,
    out: W,
) -> Result<CpioStats, CpioError> {
    let mtime = check_mtime(mtime)?;
    let all = complete(tree)?;
    let subdirs = subdir_counts(&all);
    let items = number(all.iter(), &subdirs)?;
    write_items(&items, store, mtime, out)
}

/// SOURCE_DATE_EPOCH as newc's 32-bit mtime field.
pub fn check_mtime(mtime: u64) -> Result<u32, CpioError> {
    u32::try_from(mtime).map_err(|_| CpioError::MtimeTooLarge(mtime))
}

/// Write `items` (numbered by [`number`]) as one newc archive ending with its trailer.
pub fn write_items<W: Write>(
    items: &[Item],
    store: &Store,
    mtime: u32,
    out: W,
) -> Result<CpioStats, CpioError> {
    let mut w = CountingWriter {
        inner: out,
        count: 0,
    };
    let mut stats = CpioStats::default();
    for item in items {
        w.write_all(&item.header(mtime)).map_err(CpioError::Write)?;
        match &item.entry.kind {
            EntryKind::File { digest, size, .. } if item.carries_data => {
                copy_content(&mut w, store, &item.path, digest, *size)?;
                pad(&mut w, *size).map_err(CpioError::Write)?;
            }
            EntryKind::Symlink { target } => {
                w.write_all(target.as_bytes()).map_err(CpioError::Write)?;
                pad(&mut w, target.len() as u64).map_err(CpioError::Write)?;
            }
            _ => {}
        }
        stats.entries += 1;
    }
    let trailer = Header {
        nlink: 1,
        ..Header::default()
    };
    write_header(&mut w, &trailer, TRAILER).map_err(CpioError::Write)?;
    w.flush().map_err(CpioError::Write)?;
    stats.bytes = w.count;
    Ok(stats)
}

/// An archive of one folder `dir` (0755 root) and the files `parts` (name, size) inside it
/// (0644 root), their bytes read one after another from `src`, then the trailer: how a
/// squashfs root travels ([`super::squashfs::wrap`]).
pub fn write_parts<W: Write>(
    w: &mut W,
    dir: &str,
    parts: &[(String, u64)],
    src: &mut impl Read,
    mtime: u32,
) -> io::Result<()> {
    let d = Header {
        ino: 1,
        mode: S_IFDIR | 0o755,
        nlink: 2,
        mtime,
        ..Header::default()
    };
    write_header(w, &d, dir)?;
    for (i, (name, size)) in parts.iter().enumerate() {
        let f = Header {
            ino: 2 + i as u32,
            mode: S_IFREG | 0o644,
            nlink: 1,
            mtime,
            filesize: u32::try_from(*size).map_err(io::Error::other)?,
            ..Header::default()
        };
        write_header(w, &f, name)?;
        let copied = io::copy(&mut src.take(*size), w)?;
        if copied != *size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name}: {copied} of {size} bytes"),
            ));
        }
        pad(w, *size)?;
    }
    let trailer = Header {
        nlink: 1,
        ..Header::default()
    };
    write_header(w, &trailer, TRAILER)?;
    w.flush()
}

/// The largest regular file in the tree, for the size guard before any byte is written.
pub fn check_sizes(tree: &Tree) -> Result<(), CpioError> {
    for (path, e) in &tree.entries {
        if let EntryKind::File { size, .. } = e.kind
            && size > MAX_FILE_SIZE
        {
            return Err(CpioError::FileTooLarge {
                path: path.clone(),
                size,
            });
        }
    }
    Ok(())
}

/// One entry as it is written: path, metadata, inode number, link count and whether it
/// carries the data (the last member of a hardlink group does).
#[derive(Debug, Clone)]
pub struct Item {
    pub path: String,
    pub entry: Entry,
    pub ino: u32,
    pub nlink: u32,
    pub carries_data: bool,
}

impl Item {
    /// Bytes of data after the header: the file's contents (when it carries them), a
    /// symlink's target, else none.
    pub fn data_size(&self) -> u64 {
        match &self.entry.kind {
            // Hardlinks other than the last carry no data (GNU cpio's newc convention).
            EntryKind::File { size, .. } if self.carries_data => *size,
            EntryKind::Symlink { target } => target.len() as u64,
            _ => 0,
        }
    }

    /// Bytes of this entry in the archive: header, name, data, paddings.
    pub fn archive_size(&self) -> u64 {
        let name = cpio_name(&self.path).len() as u64 + 1;
        let head = 110 + name;
        head + (4 - head % 4) % 4 + self.data_size() + (4 - self.data_size() % 4) % 4
    }

    /// The header and name (padded) as written with `mtime`.
    pub fn header(&self, mtime: u32) -> Vec<u8> {
        let entry = &self.entry;
        let (ftype, rdev) = match &entry.kind {
            EntryKind::Dir => (S_IFDIR, (0, 0)),
            EntryKind::File { .. } => (S_IFREG, (0, 0)),
            EntryKind::Symlink { .. } => (S_IFLNK, (0, 0)),
            EntryKind::CharDev { major, minor } => (S_IFCHR, (*major, *minor)),
            EntryKind::BlockDev { major, minor } => (S_IFBLK, (*major, *minor)),
            EntryKind::Fifo => (S_IFIFO, (0, 0)),
            EntryKind::Socket => (S_IFSOCK, (0, 0)),
        };
        let header = Header {
            ino: self.ino,
            mode: ftype | (entry.mode & 0o7777),
            uid: entry.uid,
            gid: entry.gid,
            nlink: self.nlink,
            mtime,
            filesize: self.data_size() as u32,
            rdevmajor: rdev.0,
            rdevminor: rdev.1,
        };
        let mut v = Vec::with_capacity(128 + self.path.len());
        // Writing into a Vec cannot fail.
        let _ = write_header(&mut v, &header, &cpio_name(&self.path));
        v
    }
}

/// The tree completed with any missing parent directory (and `/`), every path checked to
/// be absolute and normalised; sizes checked against newc's limit.
pub fn complete(tree: &Tree) -> Result<BTreeMap<String, Entry>, CpioError> {
    check_sizes(tree)?;
    let mut all: BTreeMap<String, Entry> = BTreeMap::new();
    for (path, entry) in &tree.entries {
        if !path.starts_with('/')
            || (path.len() > 1 && path.ends_with('/'))
            || path
                .split('/')
                .skip(1)
                .any(|c| c == "." || c == ".." || (c.is_empty() && path != "/"))
        {
            return Err(CpioError::BadPath { path: path.clone() });
        }
        let mut parent = parent_of(path);
        while let Some(p) = parent {
            if tree.entries.contains_key(p) || all.contains_key(p) {
                break;
            }
            tracing::warn!(parent = p, child = %path, "tree lacks a parent directory; emitting it as 0755 root:root");
            all.insert(p.to_string(), synth_dir());
            parent = parent_of(p);
        }
        all.insert(path.clone(), entry.clone());
    }
    if !all.contains_key("/") {
        all.insert("/".to_string(), synth_dir());
    }
    Ok(all)
}

/// Subdirectory counts, which give directories the nlink a filesystem would report.
pub fn subdir_counts(all: &BTreeMap<String, Entry>) -> BTreeMap<&str, u32> {
    let mut subdirs: BTreeMap<&str, u32> = BTreeMap::new();
    for (path, e) in all {
        if matches!(e.kind, EntryKind::Dir)
            && let Some(p) = parent_of(path)
        {
            *subdirs.entry(p).or_default() += 1;
        }
    }
    subdirs
}

/// Number the entries of one archive, in the order given: inode numbers from 1, hardlink
/// groups sharing one inode with the group's nlink and the data on the last member, so
/// every member of a group must be in `entries`.
pub fn number<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Entry)> + Clone,
    subdirs: &BTreeMap<&str, u32>,
) -> Result<Vec<Item>, CpioError> {
    // Hardlink groups: members in output order; the last one carries the data.
    let mut groups: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    let mut group_digest: BTreeMap<u32, (&str, Digest)> = BTreeMap::new();
    for (path, e) in entries.clone() {
        if let EntryKind::File {
            link_group: Some(g),
            digest,
            ..
        } = &e.kind
        {
            groups.entry(*g).or_default().push(path);
            match group_digest.get(g) {
                Some((first, d)) if d != digest => {
                    return Err(CpioError::HardlinkMismatch {
                        group: *g,
                        first: first.to_string(),
                        other: path.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    group_digest.insert(*g, (path, *digest));
                }
            }
        }
    }
    let mut group_ino: BTreeMap<u32, u32> = BTreeMap::new();
    let mut next_ino: u32 = 1;
    let mut items = Vec::new();
    for (path, entry) in entries {
        let (ino, nlink, carries_data) = match &entry.kind {
            EntryKind::Dir => {
                let ino = next_ino;
                next_ino += 1;
                (
                    ino,
                    2 + subdirs.get(path.as_str()).copied().unwrap_or(0),
                    false,
                )
            }
            EntryKind::File {
                link_group: Some(g),
                ..
            } => {
                let members = &groups[g];
                let ino = *group_ino.entry(*g).or_insert_with(|| {
                    let i = next_ino;
                    next_ino += 1;
                    i
                });
                let last = members.last().is_some_and(|l| *l == path.as_str());
                (ino, members.len() as u32, last)
            }
            EntryKind::File { .. } => {
                let ino = next_ino;
                next_ino += 1;
                (ino, 1, true)
            }
            _ => {
                let ino = next_ino;
                next_ino += 1;
                (ino, 1, false)
            }
        };
        items.push(Item {
            path: path.clone(),
            entry: entry.clone(),
            ino,
            nlink,
            carries_data,
        });
    }
    Ok(items)
}

fn synth_dir() -> Entry {
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

fn parent_of(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// `/` -> `.`, `/etc/passwd` -> `etc/passwd`.
fn cpio_name(path: &str) -> String {
    if path == "/" {
        ".".to_string()
    } else {
        path.trim_start_matches('/').to_string()
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Header {
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    mtime: u32,
    filesize: u32,
    rdevmajor: u32,
    rdevminor: u32,
}

fn write_header<W: Write>(w: &mut W, h: &Header, name: &str) -> io::Result<()> {
    let namesize = name.len() as u32 + 1;
    // devmajor/devminor and check are always 0: no host device numbers leak in.
    let s = format!(
        "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        h.ino,
        h.mode,
        h.uid,
        h.gid,
        h.nlink,
        h.mtime,
        h.filesize,
        0,
        0,
        h.rdevmajor,
        h.rdevminor,
        namesize,
        0
    );
    w.write_all(s.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    // The header (110 bytes) plus the name is padded to a multiple of 4.
    pad(w, 110 + namesize as u64)
}

fn pad<W: Write>(w: &mut W, len: u64) -> io::Result<()> {
    let n = (4 - (len % 4) as usize) % 4;
    w.write_all(&[0u8; 3][..n])
}

fn copy_content<W: Write>(
    w: &mut W,
    store: &Store,
    path: &str,
    digest: &Digest,
    size: u64,
) -> Result<(), CpioError> {
    let store_path = store.path(digest);
    let f = fs_err::File::open(&store_path).map_err(|source| CpioError::Store {
        path: path.to_string(),
        source,
    })?;
    let actual = f
        .metadata()
        .map_err(|source| CpioError::Store {
            path: path.to_string(),
            source,
        })?
        .len();
    if actual != size {
        return Err(CpioError::SizeMismatch {
            path: path.to_string(),
            store_path,
            expected: size,
            actual,
        });
    }
    let mut r = f.take(size);
    let copied = io::copy(&mut r, w).map_err(CpioError::Write)?;
    if copied != size {
        return Err(CpioError::SizeMismatch {
            path: path.to_string(),
            store_path,
            expected: size,
            actual: copied,
        });
    }
    Ok(())
}

/// A writer that counts the bytes written through it (archives and images report sizes).
pub(crate) struct CountingWriter<W> {
    pub(crate) inner: W,
    pub(crate) count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One entry as read back from an archive (for `diff` and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEntry {
    /// As stored in the archive (`.`, `etc/passwd`).
    pub name: String,
    pub ino: u32,
    /// Type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub size: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    /// sha256 of the entry's data (for a symlink, its target).
    pub digest: [u8; 32],
    /// The symlink target, for symlinks.
    pub link_target: Option<String>,
    /// Which of the concatenated archives (segments) holds it, from 0.
    pub segment: usize,
}

impl ReadEntry {
    pub fn kind(&self) -> &'static str {
        match self.mode & S_IFMT {
            S_IFDIR => "dir",
            S_IFREG => "file",
            S_IFLNK => "symlink",
            S_IFCHR => "chardev",
            S_IFBLK => "blockdev",
            S_IFIFO => "fifo",
            S_IFSOCK => "socket",
            _ => "unknown",
        }
    }
}

/// Read every entry of a (decompressed) newc archive, or of several concatenated ones (an
/// initramfs written in segments), hashing each entry's data.
pub fn read_entries<R: Read>(r: R) -> Result<Vec<ReadEntry>, CpioError> {
    let err = |e: io::Error| match e.kind() {
        io::ErrorKind::InvalidData => CpioError::Malformed(e.to_string()),
        _ => CpioError::Read(e),
    };
    let mut reader = crate::cpio::Reader::new(io::BufReader::with_capacity(256 * 1024, r));
    let mut out = Vec::new();
    let mut segment = 0;
    loop {
        read_archive(&mut reader, segment, &mut out).map_err(err)?;
        if !reader.next_archive().map_err(err)? {
            return Ok(out);
        }
        segment += 1;
    }
}

/// The entries of one archive, up to its trailer.
fn read_archive<R: io::BufRead>(
    reader: &mut crate::cpio::Reader<R>,
    segment: usize,
    out: &mut Vec<ReadEntry>,
) -> io::Result<()> {
    while let Some(h) = reader.next(|_| None)? {
        let size = u32::try_from(h.size).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("entry size {} over 4 GiB", h.size),
            )
        })?;
        let is_link = h.mode & S_IFMT == S_IFLNK;
        let mut hasher = Sha256::new();
        let mut link = Vec::new();
        let mut data = reader.data();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = data.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if is_link {
                link.extend_from_slice(&buf[..n]);
            }
        }
        out.push(ReadEntry {
            name: h.name.unwrap_or_default(),
            ino: h.ino,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            nlink: h.nlink,
            mtime: h.mtime,
            size,
            rdevmajor: h.rdevmajor,
            rdevminor: h.rdevminor,
            digest: hasher.finalize().into(),
            link_target: is_link.then(|| String::from_utf8_lossy(&link).into_owned()),
            segment,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small tree with every entry kind and a hardlink group, contents in `store`.
    pub(crate) fn sample(store: &Store) -> Tree {
        let mut t = Tree::default();
        let mut put = |path: &str, kind: EntryKind, mode: u32| {
            t.entries.insert(
                path.to_string(),
                Entry {
                    kind,
                    mode,
                    uid: 0,
                    gid: 0,
                    mtime: 12345,
                    owner_package: None,
                    caps: None,
                },
            );
        };
        let file = |store: &Store, data: &[u8], group: Option<u32>| {
            let d = Digest(Sha256::digest(data).into());
            let p = store.path(&d);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(&p, data).unwrap();
            EntryKind::File {
                digest: d,
                size: data.len() as u64,
                link_group: group,
            }
        };
        put("/", EntryKind::Dir, 0o755);
        put(
            "/bin",
            EntryKind::Symlink {
                target: "usr/bin".into(),
            },
            0o777,
        );
        put("/dev", EntryKind::Dir, 0o755);
        put(
            "/dev/console",
            EntryKind::CharDev { major: 5, minor: 1 },
            0o600,
        );
        put("/etc", EntryKind::Dir, 0o755);
        put("/etc/motd", file(store, b"hello\n", None), 0o644);
        put(
            "/etc/shadow",
            file(store, b"root:!::0:99999:7:::\n", None),
            0o000,
        );
        put("/usr", EntryKind::Dir, 0o755);
        put("/usr/bin", EntryKind::Dir, 0o755);
        put(
            "/usr/bin/a",
            file(store, b"#!/bin/sh\necho same\n", Some(1)),
            0o4755,
        );
        put(
            "/usr/bin/b",
            file(store, b"#!/bin/sh\necho same\n", Some(1)),
            0o4755,
        );
        put("/usr/bin/empty", file(store, b"", None), 0o755);
        t
    }

    #[test]
    fn roundtrip_and_hardlinks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store")).unwrap();
        let tree = sample(&store);
        let mut buf = Vec::new();
        let stats = write_tree(&tree, &store, 1_700_000_000, &mut buf).unwrap();
        assert_eq!(stats.bytes as usize, buf.len());
        assert_eq!(buf.len() % 4, 0);
        let entries = read_entries(&buf[..]).unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                ".",
                "bin",
                "dev",
                "dev/console",
                "etc",
                "etc/motd",
                "etc/shadow",
                "usr",
                "usr/bin",
                "usr/bin/a",
                "usr/bin/b",
                "usr/bin/empty"
            ]
        );
        let a = &entries[9];
        let b = &entries[10];
        assert_eq!((a.ino, a.nlink, a.size), (b.ino, 2, 0));
        assert_eq!(b.size, 20);
        assert_eq!(a.mode, 0o104755);
        assert!(entries.iter().all(|e| e.mtime == 1_700_000_000));
        let inos: Vec<_> = entries.iter().map(|e| e.ino).collect();
        assert_eq!(inos, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 11]);
        assert_eq!((entries[3].rdevmajor, entries[3].rdevminor), (5, 1));
        assert_eq!(entries[1].link_target.as_deref(), Some("usr/bin"));
        // `.` has dev, etc, usr as subdirectories.
        assert_eq!(entries[0].nlink, 5);
    }

    #[test]
    fn missing_parents_are_synthesised_before_children() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store")).unwrap();
        let mut tree = Tree::default();
        tree.entries.insert(
            "/a/b/c".into(),
            Entry {
                kind: EntryKind::Fifo,
                mode: 0o644,
                uid: 1,
                gid: 2,
                mtime: 0,
                owner_package: None,
                caps: None,
            },
        );
        let mut buf = Vec::new();
        write_tree(&tree, &store, 0, &mut buf).unwrap();
        let names: Vec<_> = read_entries(&buf[..])
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [".", "a", "a/b", "a/b/c"]);
    }

    #[test]
    fn files_of_4_gib_are_refused() {
        let mut tree = Tree::default();
        tree.entries.insert(
            "/big".into(),
            Entry {
                kind: EntryKind::File {
                    digest: Digest([0; 32]),
                    size: 1 << 32,
                    link_group: None,
                },
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 0,
                owner_package: None,
                caps: None,
            },
        );
        let err = check_sizes(&tree).unwrap_err();
        assert!(
            err.to_string().contains("`/big` is 4294967296 bytes"),
            "{err}"
        );
    }

    #[test]
    fn store_size_mismatch_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store")).unwrap();
        let mut tree = sample(&store);
        if let Some(Entry {
            kind: EntryKind::File { size, .. },
            ..
        }) = tree.entries.get_mut("/etc/motd")
        {
            *size = 99;
        }
        let err = write_tree(&tree, &store, 0, Vec::new()).unwrap_err();
        assert!(
            matches!(
                err,
                CpioError::SizeMismatch {
                    expected: 99,
                    actual: 6,
                    ..
                }
            ),
            "{err}"
        );
    }
}
