//! The initramfs as a concatenation of independently compressed newc archives
//! ("segments"), each cached by the digest of what went into it, so that a rebuild
//! compresses only what changed.
//!
//! The Linux kernel unpacks concatenated archives, each compressed on its own (gzip
//! members, zstd frames, xz streams, or plain newc), skipping NUL padding between them;
//! every segment ends with its own `TRAILER!!!`, at which the kernel forgets the inode
//! numbers it saw. Hence the layout ([`split`], a pure function of the tree: never of the
//! thread count or of what the cache holds):
//! 1. one segment with every directory (parents exist before any child is unpacked);
//! 2. the packages' entries, in package order (NEVRA, bytewise), each package's entries in
//!    path order: a package of at least [`UNIT_MIN`] bytes of archive is its own segment,
//!    cut into content-defined chunks (after an entry whose path hash has its low 4 bits
//!    zero, once the chunk holds [`UNIT_MIN`] bytes, and always at [`UNIT_MAX`]) so that
//!    a few changed files of a big package recompress one chunk; smaller packages are
//!    grouped (a group closes after a package whose name hash has its low 2 bits zero once
//!    it holds [`UNIT_MIN`] bytes, and always at [`UNIT_MAX`]), so per-segment overhead
//!    stays small. Cut points depend on names and sizes near them only, so one changed
//!    package moves at most its neighbours' boundaries;
//! 3. the generated entries (accounts, module indexes, the profile's files), chunked the
//!    same way.
//!
//! A hardlink group never crosses a trailer: it goes where its first member (in path
//! order) goes. Inode numbers restart at 1 in every segment, so a segment's bytes do not
//! depend on the segments before it. The decompressed content is the tree's entries with
//! the same metadata, contents, link counts and mtimes as one archive would hold; only
//! the order (by segment, then by path) and the inode numbers differ.
//!
//! A segment's key ([`Segment::key`]) is the sha256 of the layout version, the
//! compression with its level and pinned encoder versions
//! ([`Compression::describe`]), and every header of the segment as written (name, mode,
//! owner, nlink, size, mtime, inode, device) with the sha256 of each entry's data (the
//! contents are identified by digest, not read). [`SegmentCache`] keeps compressed
//! segments under `<cache>/segments/` by that key: a package that did not change is never
//! compressed twice, and a cold, a warm and an incremental build write the same bytes.

use super::compress::{Compression, Compressor};
use super::cpio::{self, CpioError, Item};
use crate::cas;
use crate::rootfs::store::Store;
use crate::rootfs::tree::{Entry, EntryKind, Tree};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;

/// The layout's version: part of every segment key (and recorded in the manifest).
pub const FORMAT: &str = "diskless newc segments v2";
/// A chunk or group closes at a cut point only once it holds this many archive bytes.
pub const UNIT_MIN: u64 = 2 << 20;
/// ... and always at this many.
pub const UNIT_MAX: u64 = 8 << 20;
/// Chunks of a big package: a cut after 1 entry in 16 (by path hash) past [`UNIT_MIN`].
const CUT_MASK: u64 = 15;
/// Groups of small packages: a cut after 1 package in 4 (by name hash) past [`UNIT_MIN`].
const GROUP_MASK: u64 = 3;

/// One segment: its entries, numbered, in the order written.
#[derive(Debug, Clone)]
pub struct Segment {
    /// What it holds (`directories`, a NEVRA, `NEVRA part 2`, `a-1-1.x86_64 .. c-2-1.noarch`,
    /// `generated`), for logs.
    pub label: String,
    pub items: Vec<Item>,
}

/// The trailer entry: 110 bytes of header, `TRAILER!!!\0`, padded to 124.
const TRAILER_BYTES: u64 = 124;

impl Segment {
    /// Uncompressed bytes of the segment, trailer included.
    pub fn archive_size(&self) -> u64 {
        self.items.iter().map(Item::archive_size).sum::<u64>() + TRAILER_BYTES
    }

    /// The digest of everything that goes into the compressed segment (see the module
    /// documentation), as hex.
    pub fn key(&self, compression: Compression, mtime: u32) -> String {
        let mut k = cas::KeyHasher::new(FORMAT);
        k.part(compression.describe().as_bytes());
        k.part(&mtime.to_le_bytes());
        for it in &self.items {
            k.part(&it.header(mtime));
            match &it.entry.kind {
                EntryKind::File { digest, .. } if it.carries_data => k.part(&digest.0),
                EntryKind::Symlink { target } => k.part(target.as_bytes()),
                _ => k.part(b""),
            };
        }
        k.finish()
    }
}

/// 64-bit FNV-1a: the cut-point hash (stable across platforms and releases).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The name part of a NEVRA (`bash-5.1.8-9.el9.x86_64` -> `bash`): what groups hash, so
/// an upgrade does not move a cut.
fn name_of(nevra: &str) -> &str {
    nevra.rsplitn(3, '-').last().unwrap_or(nevra)
}

/// An entry, or a whole hardlink group (placed at its first member), with its archive
/// bytes (data counted once).
struct Atom<'t> {
    entries: Vec<(&'t String, &'t Entry)>,
    bytes: u64,
}

fn entry_bytes(path: &str, e: &Entry, with_data: bool) -> u64 {
    let head = 110 + path.len() as u64 + 1;
    let data = match &e.kind {
        EntryKind::File { size, .. } if with_data => *size,
        EntryKind::Symlink { target } => target.len() as u64,
        _ => 0,
    };
    head + (4 - head % 4) % 4 + data + (4 - data % 4) % 4
}

/// Split the tree into segments (see the module documentation). Checks paths and sizes
/// as [`cpio::write_tree`] does; completes missing parents the same way.
pub fn split(tree: &Tree) -> Result<Vec<Segment>, CpioError> {
    let all = cpio::complete(tree)?;
    let subdirs = cpio::subdir_counts(&all);
    let number = |label: String, mut entries: Vec<(&String, &Entry)>| {
        entries.sort_by(|a, b| a.0.cmp(b.0));
        cpio::number(entries.into_iter(), &subdirs).map(|items| Segment { label, items })
    };
    let mut out = vec![number(
        "directories".into(),
        all.iter()
            .filter(|(_, e)| e.kind == EntryKind::Dir)
            .collect(),
    )?];

    // Atoms per owner: packages by NEVRA, then the generated entries (owner `None`).
    let mut owners: BTreeMap<(bool, &str), Vec<Atom<'_>>> = BTreeMap::new();
    let mut groups: BTreeMap<u32, ((bool, &str), usize)> = BTreeMap::new();
    for (path, e) in all.iter().filter(|(_, e)| e.kind != EntryKind::Dir) {
        let owner = match &e.owner_package {
            Some(p) => (false, p.as_str()),
            None => (true, ""),
        };
        if let EntryKind::File {
            link_group: Some(g),
            ..
        } = &e.kind
        {
            if let Some(&(o, i)) = groups.get(g) {
                let atom = &mut owners.entry(o).or_default()[i];
                atom.entries.push((path, e));
                atom.bytes += entry_bytes(path, e, false);
                continue;
            }
            let atoms = owners.entry(owner).or_default();
            groups.insert(*g, (owner, atoms.len()));
        }
        owners.entry(owner).or_default().push(Atom {
            entries: vec![(path, e)],
            bytes: entry_bytes(path, e, true),
        });
    }

    let mut group: Vec<(&String, &Entry)> = Vec::new();
    let (mut group_bytes, mut group_first, mut group_last) = (0u64, "", "");
    let close_group = |group: &mut Vec<(&String, &Entry)>,
                       bytes: &mut u64,
                       first: &str,
                       last: &str,
                       out: &mut Vec<Segment>|
     -> Result<(), CpioError> {
        if !group.is_empty() {
            let label = if first == last {
                first.to_string()
            } else {
                format!("{first} .. {last}")
            };
            out.push(number(label, std::mem::take(group))?);
        }
        *bytes = 0;
        Ok(())
    };
    for ((generated, owner), atoms) in owners {
        let bytes: u64 = atoms.iter().map(|a| a.bytes).sum();
        if !generated && bytes < UNIT_MIN {
            if group.is_empty() {
                group_first = owner;
            }
            group_last = owner;
            group.extend(atoms.into_iter().flat_map(|a| a.entries));
            group_bytes += bytes;
            if group_bytes >= UNIT_MAX
                || (group_bytes >= UNIT_MIN && fnv(name_of(owner).as_bytes()) & GROUP_MASK == 0)
            {
                close_group(
                    &mut group,
                    &mut group_bytes,
                    group_first,
                    group_last,
                    &mut out,
                )?;
            }
            continue;
        }
        close_group(
            &mut group,
            &mut group_bytes,
            group_first,
            group_last,
            &mut out,
        )?;
        let label = if generated { "generated" } else { owner };
        let mut chunk: Vec<(&String, &Entry)> = Vec::new();
        let (mut chunk_bytes, mut part) = (0u64, 1);
        let n = atoms.len();
        for (i, a) in atoms.into_iter().enumerate() {
            let cut_hash = fnv(a.entries[0].0.as_bytes());
            chunk_bytes += a.bytes;
            chunk.extend(a.entries);
            let cut =
                chunk_bytes >= UNIT_MAX || (chunk_bytes >= UNIT_MIN && cut_hash & CUT_MASK == 0);
            if cut || i + 1 == n {
                let name = if part == 1 && i + 1 == n {
                    label.to_string()
                } else {
                    format!("{label} part {part}")
                };
                out.push(number(name, std::mem::take(&mut chunk))?);
                chunk_bytes = 0;
                part += 1;
            }
        }
    }
    close_group(
        &mut group,
        &mut group_bytes,
        group_first,
        group_last,
        &mut out,
    )?;
    Ok(out)
}

/// What [`write`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Entries (trailers not counted).
    pub entries: u64,
    /// Uncompressed bytes, every segment's trailer included.
    pub bytes: u64,
    /// Compressed bytes written.
    pub compressed: u64,
    /// How many segments.
    pub segments: usize,
    /// How many came from the cache.
    pub reused: usize,
    /// Every segment's key, in order (empty when no cache was used).
    pub keys: Vec<String>,
}

/// Compressed segments kept in the cache (`<cache>/segments/ab/cdef…`), by key. Each file
/// is the compressed bytes followed by a 32-byte footer (magic, version, entry count,
/// uncompressed and compressed sizes); a file whose footer does not match its size is
/// made again.
#[derive(Debug, Clone)]
pub struct SegmentCache {
    dir: cas::Dir,
}

const FOOTER_MAGIC: &[u8; 4] = b"DLsg";
const FOOTER_VERSION: u32 = 1;
const FOOTER_BYTES: u64 = 32;

#[derive(Debug, Clone, Copy)]
struct Footer {
    entries: u64,
    bytes: u64,
    compressed: u64,
}

impl Footer {
    fn encode(&self) -> [u8; FOOTER_BYTES as usize] {
        let mut f = [0u8; FOOTER_BYTES as usize];
        f[..4].copy_from_slice(FOOTER_MAGIC);
        f[4..8].copy_from_slice(&FOOTER_VERSION.to_le_bytes());
        f[8..16].copy_from_slice(&self.entries.to_le_bytes());
        f[16..24].copy_from_slice(&self.bytes.to_le_bytes());
        f[24..32].copy_from_slice(&self.compressed.to_le_bytes());
        f
    }

    fn decode(f: &[u8; FOOTER_BYTES as usize], file_len: u64) -> Option<Footer> {
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&f[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let footer = Footer {
            entries: u64_at(8),
            bytes: u64_at(16),
            compressed: u64_at(24),
        };
        (&f[..4] == FOOTER_MAGIC
            && f[4..8] == FOOTER_VERSION.to_le_bytes()
            && footer.compressed.checked_add(FOOTER_BYTES) == Some(file_len))
        .then_some(footer)
    }
}

impl SegmentCache {
    /// The cache in `root` (`<cache dir>/segments`).
    pub fn new(root: impl Into<PathBuf>) -> SegmentCache {
        SegmentCache {
            dir: cas::Dir::new(root),
        }
    }

    pub fn dir(&self) -> &cas::Dir {
        &self.dir
    }

    /// The cached segment under `key` when present and whole.
    fn lookup(&self, key: &str) -> Option<(PathBuf, Footer)> {
        let path = self.dir.path(key).ok()?;
        let mut f = std::fs::File::open(&path).ok()?;
        let len = f.metadata().ok()?.len();
        if len < FOOTER_BYTES {
            return None;
        }
        f.seek(io::SeekFrom::Start(len - FOOTER_BYTES)).ok()?;
        let mut raw = [0u8; FOOTER_BYTES as usize];
        f.read_exact(&mut raw).ok()?;
        let footer = Footer::decode(&raw, len);
        if footer.is_none() {
            tracing::warn!(
                "initramfs segment `{}` is damaged: making it again",
                path.display()
            );
        }
        Some((path, footer?))
    }

    /// Compress `seg` into the cache under `key`.
    fn make(
        &self,
        seg: &Segment,
        key: &str,
        store: &Store,
        mtime: u32,
        compression: Compression,
    ) -> Result<(PathBuf, Footer), CpioError> {
        let root = self.dir.root().to_path_buf();
        let err = |source| CpioError::Segment {
            path: root.clone(),
            source,
        };
        let tmp = self.dir.temp().map_err(err)?;
        let counting = cpio::CountingWriter {
            inner: io::BufWriter::with_capacity(1 << 20, tmp),
            count: 0,
        };
        // Segments are compressed several at once: one encoder thread each.
        let mut comp = Compressor::with_workers(compression, counting, 1).map_err(err)?;
        let stats = cpio::write_items(&seg.items, store, mtime, &mut comp)?;
        let counting = comp.finish().map_err(err)?;
        let footer = Footer {
            entries: stats.entries,
            bytes: stats.bytes,
            compressed: counting.count,
        };
        let mut bw = counting.inner;
        bw.write_all(&footer.encode()).map_err(err)?;
        let tmp = bw.into_inner().map_err(|e| err(e.into_error()))?;
        let path = self.dir.commit(tmp, key).map_err(err)?;
        tracing::debug!(segment = %seg.label, key, "compressed an initramfs segment");
        Ok((path, footer))
    }
}

/// A segment in the cache: its file and footer.
type Made = (PathBuf, Footer);

/// Write the tree as compressed segments into `out`. With a `cache`, segments it holds are
/// copied from it and the others compressed in parallel into it first; without one (or
/// for `none`, where a copy would cost what writing costs), segments are compressed one
/// after the other straight into `out`. The bytes are the same either way.
pub fn write<W: Write>(
    tree: &Tree,
    store: &Store,
    mtime: u64,
    compression: Compression,
    cache: Option<&SegmentCache>,
    mut out: W,
) -> Result<Written, CpioError> {
    let mtime = cpio::check_mtime(mtime)?;
    let segments = split(tree)?;
    let mut w = Written {
        segments: segments.len(),
        ..Written::default()
    };
    let cache = cache.filter(|_| compression != Compression::None);
    let Some(cache) = cache else {
        let mut counting = cpio::CountingWriter {
            inner: io::BufWriter::with_capacity(1 << 20, &mut out),
            count: 0,
        };
        for seg in &segments {
            let mut comp = Compressor::new(compression, &mut counting).map_err(CpioError::Write)?;
            let stats = cpio::write_items(&seg.items, store, mtime, &mut comp)?;
            comp.finish().map_err(CpioError::Write)?;
            w.entries += stats.entries;
            w.bytes += stats.bytes;
        }
        w.compressed = counting.count;
        counting.inner.flush().map_err(CpioError::Write)?;
        drop(counting);
        out.flush().map_err(CpioError::Write)?;
        return Ok(w);
    };
    w.keys = segments
        .par_iter()
        .map(|s| s.key(compression, mtime))
        .collect();
    // Misses are compressed in parallel; the first error in segment order is reported.
    let found: Vec<Result<(Made, bool), CpioError>> = segments
        .par_iter()
        .zip(&w.keys)
        .map(|(seg, key)| match cache.lookup(key) {
            Some(hit) => Ok((hit, true)),
            None => cache
                .make(seg, key, store, mtime, compression)
                .map(|m| (m, false)),
        })
        .collect();
    for (r, key) in found.into_iter().zip(&w.keys) {
        let ((path, footer), hit) = r?;
        if hit {
            w.reused += 1;
            cache.dir.touch(key);
        }
        let seg_err = |source| CpioError::Segment {
            path: path.clone(),
            source,
        };
        let f = std::fs::File::open(&path).map_err(seg_err)?;
        let copied = io::copy(&mut f.take(footer.compressed), &mut out).map_err(seg_err)?;
        if copied != footer.compressed {
            return Err(seg_err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the cached segment is shorter than its footer says",
            )));
        }
        w.entries += footer.entries;
        w.bytes += footer.bytes;
        w.compressed += footer.compressed;
    }
    out.flush().map_err(CpioError::Write)?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::cpio::read_entries;
    use crate::emit::cpio::tests::sample;
    use crate::rootfs::tree::Digest;

    fn file(store: &Store, data: &[u8], group: Option<u32>) -> EntryKind {
        let (digest, size) = store.put_bytes(data).unwrap();
        EntryKind::File {
            digest,
            size,
            link_group: group,
        }
    }

    fn entry(kind: EntryKind, owner: Option<&str>) -> Entry {
        Entry {
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 5,
            owner_package: owner.map(str::to_string),
            caps: None,
        }
    }

    /// Packages of different sizes: one big enough to be chunked, small ones to group.
    fn tree(store: &Store, extra: &[u8]) -> Tree {
        let mut t = sample(store);
        for (i, (pkg, files, size)) in [
            ("aa-1-1.x86_64", 3, 1000),
            ("big-1-1.x86_64", 40, 600_000),
            ("bb-1-1.x86_64", 2, 10),
            ("cc-1-1.noarch", 5, 900_000),
        ]
        .into_iter()
        .enumerate()
        {
            t.entries
                .insert(format!("/p{i}"), entry(EntryKind::Dir, Some(pkg)));
            for f in 0..files {
                let data: Vec<u8> = (0..size)
                    .map(|b| ((b * 7 + f * 13 + i) % 251) as u8)
                    .collect();
                t.entries.insert(
                    format!("/p{i}/f{f}"),
                    entry(file(store, &data, None), Some(pkg)),
                );
            }
        }
        t.entries.insert(
            "/p1/z-link1".into(),
            entry(file(store, b"linked", Some(9)), Some("big-1-1.x86_64")),
        );
        t.entries.insert(
            "/etc/zz-link2".into(),
            entry(file(store, b"linked", Some(9)), Some("big-1-1.x86_64")),
        );
        t.entries.insert(
            "/etc/generated".into(),
            entry(file(store, extra, None), None),
        );
        t
    }

    fn build(
        tree: &Tree,
        store: &Store,
        c: Compression,
        cache: Option<&SegmentCache>,
    ) -> (Vec<u8>, Written) {
        let mut out = Vec::new();
        let w = write(tree, store, 1_700_000_000, c, cache, &mut out).unwrap();
        (out, w)
    }

    #[test]
    fn split_keeps_every_entry_once_with_dirs_first_and_hardlinks_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("s")).unwrap();
        let t = tree(&store, b"x");
        let segs = split(&t).unwrap();
        assert!(segs[0].items.iter().all(|i| i.entry.kind == EntryKind::Dir));
        assert!(
            segs[1..]
                .iter()
                .all(|s| s.items.iter().all(|i| i.entry.kind != EntryKind::Dir))
        );
        let mut paths: Vec<&str> = segs
            .iter()
            .flat_map(|s| s.items.iter().map(|i| i.path.as_str()))
            .collect();
        paths.sort();
        let want: Vec<&str> = t.entries.keys().map(String::as_str).collect();
        assert_eq!(paths, want);
        // The big package (24 MB) is cut into chunks of at most UNIT_MAX.
        let big: Vec<_> = segs
            .iter()
            .filter(|s| s.label.starts_with("big-1-1.x86_64 part"))
            .collect();
        assert!(
            big.len() >= 2,
            "{:?}",
            segs.iter().map(|s| &s.label).collect::<Vec<_>>()
        );
        assert!(big.iter().all(|s| s.archive_size() <= UNIT_MAX + 700_000));
        // Both links in one segment, one inode, nlink 2, data on the last.
        let with_links: Vec<_> = segs
            .iter()
            .filter(|s| s.items.iter().any(|i| i.path.contains("-link")))
            .collect();
        assert_eq!(with_links.len(), 1);
        let links: Vec<_> = with_links[0]
            .items
            .iter()
            .filter(|i| i.path.contains("-link"))
            .collect();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].ino, links[1].ino);
        assert!(links.iter().all(|i| i.nlink == 2));
        assert_eq!(
            (links[0].carries_data, links[1].carries_data),
            (false, true)
        );
        // Generated entries come last.
        assert_eq!(segs.last().unwrap().label, "generated");
        // Inode numbers restart in every segment.
        assert!(segs.iter().all(|s| s.items[0].ino == 1));
    }

    #[test]
    fn cold_warm_and_uncached_builds_give_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("s")).unwrap();
        let t = tree(&store, b"one");
        for c in [
            Compression::Gzip { level: 6 },
            Compression::Zstd { level: 3 },
            Compression::Xz { preset: 1 },
            Compression::None,
        ] {
            let cache = SegmentCache::new(dir.path().join(format!("cache-{}", c.name())));
            let (plain, _) = build(&t, &store, c, None);
            let (cold, wc) = build(&t, &store, c, Some(&cache));
            let (warm, ww) = build(&t, &store, c, Some(&cache));
            assert!(plain == cold && cold == warm, "{c:?}");
            if c != Compression::None {
                assert_eq!((wc.reused, ww.reused), (0, ww.segments), "{c:?}");
            }
            // Every entry comes back, across segments.
            let raw = match c {
                Compression::None => plain.clone(),
                _ => {
                    let mut v = Vec::new();
                    crate::codec::open_sniffed(&plain[..])
                        .unwrap()
                        .read_to_end(&mut v)
                        .unwrap();
                    v
                }
            };
            let entries = read_entries(&raw[..]).unwrap();
            assert_eq!(entries.len(), t.entries.len(), "{c:?}");
            assert_eq!(entries.len() as u64, ww.entries.max(wc.entries));
            assert_eq!(entries.last().unwrap().segment + 1, wc.segments);
        }
    }

    #[test]
    fn a_changed_file_recompresses_only_its_segment() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("s")).unwrap();
        let cache = SegmentCache::new(dir.path().join("cache"));
        let c = Compression::Gzip { level: 1 };
        let (_, first) = build(&tree(&store, b"one"), &store, c, Some(&cache));
        let (_, second) = build(&tree(&store, b"two"), &store, c, Some(&cache));
        assert_eq!(first.segments, second.segments);
        assert_eq!(second.reused, second.segments - 1);
        let changed: Vec<_> = first
            .keys
            .iter()
            .zip(&second.keys)
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), 1);
    }

    #[test]
    fn a_damaged_cached_segment_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("s")).unwrap();
        let cache = SegmentCache::new(dir.path().join("cache"));
        let c = Compression::Gzip { level: 1 };
        let t = tree(&store, b"one");
        let (good, w) = build(&t, &store, c, Some(&cache));
        let p = cache.dir().path(&w.keys[0]).unwrap();
        let len = fs_err::metadata(&p).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(len - 1)
            .unwrap();
        let (again, w2) = build(&t, &store, c, Some(&cache));
        assert!(again == good);
        assert_eq!(w2.reused, w2.segments - 1);
    }

    #[test]
    fn keys_cover_metadata_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("s")).unwrap();
        let t = sample(&store);
        let segs = split(&t).unwrap();
        let c = Compression::default();
        let k = segs[1].key(c, 1);
        assert_ne!(k, segs[1].key(c, 2), "mtime");
        assert_ne!(k, segs[1].key(Compression::Gzip { level: 8 }, 1), "level");
        let mut s = segs[1].clone();
        s.items[0].entry.mode ^= 1;
        assert_ne!(k, s.key(c, 1), "mode");
        let mut s = segs[1].clone();
        if let Some(i) = s
            .items
            .iter_mut()
            .find(|i| matches!(i.entry.kind, EntryKind::File { .. }))
        {
            if let EntryKind::File { digest, .. } = &mut i.entry.kind {
                *digest = Digest([7; 32]);
            }
        }
        assert_ne!(k, s.key(c, 1), "contents");
    }
}
