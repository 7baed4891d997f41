//! A squashfs 4.0 writer: the image tree as the root image of `root = "squashfs"`.
//!
//! Hand-written, not backhand's writer (which wrote these images before): that one has no
//! extended attributes (its issue #32), and a squashfs root exists to carry what newc
//! cannot, file capabilities first. The format is small and fixed, and every byte here
//! must be decided by the tree alone (reproducibility): entries in byte order of their
//! names, inode numbers in write order, one id table sorted by value, SOURCE_DATE_EPOCH
//! everywhere a time goes, data blocks compressed in parallel but written in order.
//! Checked against squashfs-tools (`unsquashfs`) and the kernel (the boot tests mount it);
//! the layout follows the kernel's reader (fs/squashfs/super.c): inode table, directory
//! table, fragment table, id table, xattr table, each lookup table's index ending where
//! the next table starts, the xattr index at the very end, then padding to 4 KiB.
//!
//! Written as squashfs-tools writes by default: 128 KiB blocks, tail ends packed into
//! fragment blocks, identical contents stored once (the tree's content digests say which),
//! hard links as one inode, a block or metadata block stored uncompressed when compressing
//! does not make it smaller.

use crate::rootfs::store::Store;
use crate::rootfs::tree::{Entry, EntryKind};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read, Seek, SeekFrom, Write};

pub const BLOCK_SIZE: u32 = 1 << 17;
const BLOCK_LOG: u16 = 17;
const METADATA_SIZE: usize = 8192;
const INVALID: u64 = u64::MAX;
const NO_FRAGMENT: u32 = u32::MAX;
const NO_XATTR: u32 = u32::MAX;
/// Bit 24 of a data block's size: stored uncompressed.
const UNCOMPRESSED_BLOCK: u32 = 1 << 24;
/// Bit 15 of a metadata block's header: stored uncompressed.
const UNCOMPRESSED_META: u16 = 1 << 15;
/// How many data blocks are compressed at once (16 MiB): enough for every core, little RAM.
const WINDOW: usize = 128;

/// The compressor of data and metadata blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressor {
    /// zlib streams, level 9.
    Gzip,
    /// xz, preset 6, CRC32 check, a dictionary of one block (what the kernel's decoder
    /// allocates when the image names no options).
    Xz,
    /// zstd, level 3: one block at a time, and higher levels cost minutes on big images.
    Zstd,
}

impl Compressor {
    fn id(self) -> u16 {
        match self {
            Compressor::Gzip => 1,
            Compressor::Xz => 4,
            Compressor::Zstd => 6,
        }
    }

    fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Compressor::Gzip => {
                let mut z = flate2::write::ZlibEncoder::new(
                    Vec::with_capacity(data.len() / 2),
                    flate2::Compression::best(),
                );
                z.write_all(data)?;
                z.finish()
            }
            Compressor::Zstd => zstd::bulk::compress(data, 3),
            Compressor::Xz => {
                use liblzma::stream::{Check, Filters, LzmaOptions, Stream};
                let mut opts = LzmaOptions::new_preset(6).map_err(io::Error::other)?;
                opts.dict_size(BLOCK_SIZE);
                let mut filters = Filters::new();
                filters.lzma2(&opts);
                let stream =
                    Stream::new_stream_encoder(&filters, Check::Crc32).map_err(io::Error::other)?;
                let mut z = liblzma::write::XzEncoder::new_stream(
                    Vec::with_capacity(data.len() / 2),
                    stream,
                );
                z.write_all(data)?;
                z.finish()
            }
        }
    }
}

/// What [`write`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub inodes: u32,
    /// The image's size (padded to 4 KiB).
    pub bytes: u64,
    /// Inodes with extended attributes.
    pub with_xattrs: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SqfsError {
    #[error("`{path}`: {reason}")]
    Entry { path: String, reason: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn entry_err(path: &str, reason: impl Into<String>) -> SqfsError {
    SqfsError::Entry {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// A metadata stream: records cut into 8 KiB blocks, each compressed (or not) behind a
/// 16-bit header. References are (block start relative to the stream, offset in block).
struct Meta {
    c: Compressor,
    out: Vec<u8>,
    cur: Vec<u8>,
}

impl Meta {
    fn new(c: Compressor) -> Meta {
        Meta {
            c,
            out: Vec::new(),
            cur: Vec::with_capacity(METADATA_SIZE),
        }
    }

    /// Where the next byte goes: (block start, offset).
    fn pos(&self) -> (u64, u16) {
        (self.out.len() as u64, self.cur.len() as u16)
    }

    fn reference(&self) -> u64 {
        let (block, offset) = self.pos();
        (block << 16) | u64::from(offset)
    }

    fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = (METADATA_SIZE - self.cur.len()).min(bytes.len());
            self.cur.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.cur.len() == METADATA_SIZE {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.cur.is_empty() {
            return Ok(());
        }
        let z = self.c.compress(&self.cur)?;
        if z.len() < self.cur.len() {
            self.out.extend((z.len() as u16).to_le_bytes());
            self.out.extend(z);
        } else {
            self.out
                .extend((self.cur.len() as u16 | UNCOMPRESSED_META).to_le_bytes());
            self.out.extend(&self.cur);
        }
        self.cur.clear();
        Ok(())
    }

    /// The whole stream.
    fn finish(mut self) -> io::Result<Vec<u8>> {
        self.flush()?;
        Ok(self.out)
    }
}

/// A lookup table (fixed-size records) as metadata blocks at `at`: the blocks, then the
/// index of their absolute locations. Returns (bytes, where the index starts).
fn lookup_table(c: Compressor, records: &[u8], at: u64) -> io::Result<(Vec<u8>, u64)> {
    let mut m = Meta::new(c);
    let mut starts = Vec::new();
    for chunk in records.chunks(METADATA_SIZE) {
        starts.push(at + m.pos().0);
        m.write(chunk)?;
    }
    let mut bytes = m.finish()?;
    let index_at = at + bytes.len() as u64;
    for s in starts {
        bytes.extend(s.to_le_bytes());
    }
    Ok((bytes, index_at))
}

/// Where a regular file's contents are.
#[derive(Debug, Clone, Default)]
struct DataLoc {
    size: u64,
    blocks_start: u64,
    blocks: Vec<u32>,
    fragment: u32,
    frag_offset: u32,
}

/// The output with its position, and the fragment block being filled.
struct DataWriter<'w, W: Write> {
    w: &'w mut W,
    pos: u64,
    c: Compressor,
    frag: Vec<u8>,
    /// Fragment table records (start, size).
    frags: Vec<(u64, u32)>,
}

impl<W: Write> DataWriter<'_, W> {
    /// A compressed block (or the raw one when compressing does not help): its size field.
    fn put_block(&mut self, raw: &[u8], z: Vec<u8>) -> io::Result<u32> {
        let size = if z.len() < raw.len() {
            self.w.write_all(&z)?;
            z.len() as u32
        } else {
            self.w.write_all(raw)?;
            raw.len() as u32 | UNCOMPRESSED_BLOCK
        };
        self.pos += u64::from(size & !UNCOMPRESSED_BLOCK);
        Ok(size)
    }

    fn flush_fragment(&mut self) -> io::Result<()> {
        if self.frag.is_empty() {
            return Ok(());
        }
        let start = self.pos;
        let raw = std::mem::take(&mut self.frag);
        let z = self.c.compress(&raw)?;
        let size = self.put_block(&raw, z)?;
        self.frags.push((start, size));
        Ok(())
    }

    /// A tail end into the fragment block: (fragment index, offset).
    fn add_tail(&mut self, tail: &[u8]) -> io::Result<(u32, u32)> {
        if self.frag.len() + tail.len() > BLOCK_SIZE as usize {
            self.flush_fragment()?;
        }
        let at = (self.frags.len() as u32, self.frag.len() as u32);
        self.frag.extend_from_slice(tail);
        Ok(at)
    }
}

/// One piece of work in the data window: a full block of file `file`, or its tail end.
enum Piece {
    Block(usize, Vec<u8>),
    Tail(usize, Vec<u8>),
}

/// Write the data of `files` (digest, path, size), each once, in order: blocks compressed
/// [`WINDOW`] at a time in parallel.
fn write_data<W: Write>(
    dw: &mut DataWriter<'_, W>,
    store: &Store,
    files: &[([u8; 32], String, u64)],
) -> Result<Vec<DataLoc>, SqfsError> {
    let mut locs: Vec<DataLoc> = files
        .iter()
        .map(|(_, _, size)| DataLoc {
            size: *size,
            fragment: NO_FRAGMENT,
            ..DataLoc::default()
        })
        .collect();
    let mut window: Vec<Piece> = Vec::new();
    let mut full = 0usize;
    let drain = |window: &mut Vec<Piece>,
                 dw: &mut DataWriter<'_, W>,
                 locs: &mut Vec<DataLoc>|
     -> io::Result<()> {
        let c = dw.c;
        let compressed: Vec<Option<io::Result<Vec<u8>>>> = window
            .par_iter()
            .map(|p| match p {
                Piece::Block(_, raw) => Some(c.compress(raw)),
                Piece::Tail(..) => None,
            })
            .collect();
        for (p, z) in window.drain(..).zip(compressed) {
            match (p, z) {
                (Piece::Block(f, raw), Some(z)) => {
                    let at = dw.pos;
                    let size = dw.put_block(&raw, z?)?;
                    let loc = &mut locs[f];
                    if loc.blocks.is_empty() {
                        loc.blocks_start = at;
                    }
                    loc.blocks.push(size);
                }
                (Piece::Tail(f, tail), _) => {
                    let (idx, off) = dw.add_tail(&tail)?;
                    locs[f].fragment = idx;
                    locs[f].frag_offset = off;
                }
                (Piece::Block(..), None) => unreachable!("every block is compressed"),
            }
        }
        Ok(())
    };
    for (i, (digest, path, size)) in files.iter().enumerate() {
        let read_err = |e: io::Error| entry_err(path, format!("cannot read its contents: {e}"));
        let mut f = std::fs::File::open(store.path(&crate::rootfs::tree::Digest(*digest)))
            .map_err(read_err)?;
        let mut left = *size;
        while left > 0 {
            let n = left.min(u64::from(BLOCK_SIZE)) as usize;
            let mut buf = vec![0u8; n];
            f.read_exact(&mut buf).map_err(read_err)?;
            left -= n as u64;
            if n == BLOCK_SIZE as usize {
                window.push(Piece::Block(i, buf));
                full += 1;
            } else {
                window.push(Piece::Tail(i, buf));
            }
            if full >= WINDOW {
                drain(&mut window, dw, &mut locs)?;
                full = 0;
            }
        }
        // The store holds exactly `size` bytes: more is a changed store, not this tree.
        if f.read(&mut [0u8; 1]).map_err(read_err)? != 0 {
            return Err(entry_err(path, "its stored contents changed size"));
        }
    }
    drain(&mut window, dw, &mut locs)?;
    dw.flush_fragment()?;
    Ok(locs)
}

/// The kernel's `new_encode_dev`, which squashfs stores for device nodes.
pub fn device_number(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// An xattr name's squashfs prefix id and the rest of the name.
fn xattr_prefix(name: &str) -> Option<(u16, &str)> {
    [("user.", 0u16), ("trusted.", 1), ("security.", 2)]
        .iter()
        .find_map(|(p, id)| name.strip_prefix(p).map(|rest| (*id, rest)))
}

/// Per-inode facts from the first pass.
struct Node<'t> {
    path: &'t str,
    entry: &'t Entry,
    number: u32,
    /// Children (name, index into the node list), sorted by name bytes.
    children: Vec<(&'t str, usize)>,
    parent: usize,
    /// The node whose inode this entry shares (a hard link after the first), if any.
    same_as: Option<usize>,
}

/// The basic inode type of an entry (what directory entries record).
fn basic_type(k: &EntryKind) -> u16 {
    match k {
        EntryKind::Dir => 1,
        EntryKind::File { .. } => 2,
        EntryKind::Symlink { .. } => 3,
        EntryKind::BlockDev { .. } => 4,
        EntryKind::CharDev { .. } => 5,
        EntryKind::Fifo => 6,
        EntryKind::Socket => 7,
    }
}

/// Write `all` (every entry, parents included, as [`super::cpio::complete`] gives them;
/// contents from `store`) as a squashfs image to `w`, every time `mtime`, with the
/// extended attributes `xattrs` gives for each entry.
pub fn write<W: Write + Seek>(
    all: &BTreeMap<String, Entry>,
    store: &Store,
    mtime: u32,
    c: Compressor,
    xattrs: impl Fn(&Entry) -> Result<Vec<(String, Vec<u8>)>, String>,
    w: &mut W,
) -> Result<Written, SqfsError> {
    // --- The tree: nodes, children sorted by name bytes, post-order numbering. ---------
    let paths: Vec<&str> = all.keys().map(String::as_str).collect();
    let index: HashMap<&str, usize> = paths.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let root = *index
        .get("/")
        .ok_or_else(|| entry_err("/", "the tree has no root"))?;
    let mut nodes: Vec<Node<'_>> = all
        .iter()
        .map(|(p, e)| Node {
            path: p,
            entry: e,
            number: 0,
            children: Vec::new(),
            parent: root,
            same_as: None,
        })
        .collect();
    for (i, p) in paths.iter().enumerate() {
        if i == root {
            continue;
        }
        let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
        let dir = if dir.is_empty() { "/" } else { dir };
        let Some(&d) = index.get(dir) else {
            return Err(entry_err(p, "its folder is not in the tree"));
        };
        if !matches!(all[dir].kind, EntryKind::Dir) {
            return Err(entry_err(p, "its parent is not a folder"));
        }
        // Linux's NAME_MAX (squashfs itself would take 256).
        if name.is_empty() || name.len() > 255 {
            return Err(entry_err(p, "a name is 1 to 255 bytes"));
        }
        nodes[i].parent = d;
        nodes[d].children.push((name, i));
    }
    for n in &mut nodes {
        n.children
            .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    // Hard links: every member of a link group after the first shares its inode.
    let mut first_of_group: HashMap<u32, usize> = HashMap::new();
    // Post-order: children (a folder's whole subtree first) before their folder.
    let mut order: Vec<usize> = Vec::with_capacity(nodes.len());
    let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
    while let Some((n, next)) = stack.pop() {
        if let Some(&(_, child)) = nodes[n].children.get(next) {
            stack.push((n, next + 1));
            if matches!(nodes[child].entry.kind, EntryKind::Dir) {
                stack.push((child, 0));
            } else {
                order.push(child);
            }
        } else {
            order.push(n);
        }
    }
    let mut link_counts: HashMap<u32, u32> = HashMap::new();
    for n in &nodes {
        if let EntryKind::File {
            link_group: Some(g),
            ..
        } = n.entry.kind
        {
            *link_counts.entry(g).or_default() += 1;
        }
    }
    let mut count = 0u32;
    for &i in &order {
        if let EntryKind::File {
            link_group: Some(g),
            ..
        } = nodes[i].entry.kind
        {
            if let Some(&first) = first_of_group.get(&g) {
                nodes[i].same_as = Some(first);
                nodes[i].number = nodes[first].number;
                continue;
            }
            first_of_group.insert(g, i);
        }
        count += 1;
        nodes[i].number = count;
    }

    // --- Ids and extended attributes. --------------------------------------------------
    let ids: BTreeSet<u32> = nodes
        .iter()
        .flat_map(|n| [n.entry.uid, n.entry.gid])
        .collect();
    if ids.len() > usize::from(u16::MAX) {
        return Err(entry_err("/", "more than 65535 distinct owners and groups"));
    }
    let id_index: HashMap<u32, u16> = ids
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, i as u16))
        .collect();
    let mut kv = Meta::new(c);
    let mut xattr_ids: Vec<u8> = Vec::new();
    let mut xattr_sets: HashMap<Vec<(String, Vec<u8>)>, u32> = HashMap::new();
    let mut node_xattr = vec![NO_XATTR; nodes.len()];
    let mut with_xattrs = 0u32;
    for &i in &order {
        if nodes[i].same_as.is_some() {
            continue;
        }
        let set = xattrs(nodes[i].entry).map_err(|r| entry_err(nodes[i].path, r))?;
        if set.is_empty() {
            continue;
        }
        with_xattrs += 1;
        let next = xattr_sets.len() as u32;
        let id = *xattr_sets.entry(set.clone()).or_insert(next);
        if id == next {
            let reference = kv.reference();
            let mut bytes = Vec::new();
            for (name, value) in &set {
                let (prefix, rest) = xattr_prefix(name).ok_or_else(|| {
                    entry_err(
                        nodes[i].path,
                        format!("squashfs carries user., trusted. and security. attributes, not `{name}`"),
                    )
                })?;
                bytes.extend(prefix.to_le_bytes());
                bytes.extend((rest.len() as u16).to_le_bytes());
                bytes.extend(rest.as_bytes());
                bytes.extend((value.len() as u32).to_le_bytes());
                bytes.extend(value);
            }
            kv.write(&bytes)?;
            xattr_ids.extend(reference.to_le_bytes());
            xattr_ids.extend((set.len() as u32).to_le_bytes());
            xattr_ids.extend((bytes.len() as u32).to_le_bytes());
        }
        node_xattr[i] = id;
    }

    // --- Data: every distinct content once, in path order. -----------------------------
    let mut w = super::cpio::CountingWriter { inner: w, count: 0 };
    w.write_all(&[0u8; 96])?; // the superblock, written last
    let mut contents: Vec<([u8; 32], String, u64)> = Vec::new();
    let mut content_of: HashMap<[u8; 32], usize> = HashMap::new();
    for n in &nodes {
        if let EntryKind::File { digest, size, .. } = &n.entry.kind {
            content_of.entry(digest.0).or_insert_with(|| {
                contents.push((digest.0, n.path.to_string(), *size));
                contents.len() - 1
            });
        }
    }
    let pos = w.count;
    let mut dw = DataWriter {
        w: &mut w,
        pos,
        c,
        frag: Vec::new(),
        frags: Vec::new(),
    };
    let locs = write_data(&mut dw, store, &contents)?;
    let frags = std::mem::take(&mut dw.frags);
    let data_end = dw.pos;

    // --- Inodes and directories, in post-order. ----------------------------------------
    let mut inodes = Meta::new(c);
    let mut dirs = Meta::new(c);
    let mut refs: Vec<u64> = vec![0; nodes.len()];
    for &i in &order {
        if let Some(first) = nodes[i].same_as {
            refs[i] = refs[first];
            continue;
        }
        let n = &nodes[i];
        let e = n.entry;
        let xattr = node_xattr[i];
        let mut body: Vec<u8> = Vec::new();
        let put32 = |b: &mut Vec<u8>, v: u32| b.extend(v.to_le_bytes());
        let kind: u16 = match &e.kind {
            EntryKind::Dir => {
                // The listing first: its place goes into the inode.
                let (block, offset) = dirs.pos();
                let listing = listing(n, &nodes, &refs)?;
                dirs.write(&listing)?;
                let size = listing.len() as u64 + 3;
                let subdirs = n
                    .children
                    .iter()
                    .filter(|(_, c)| matches!(nodes[*c].entry.kind, EntryKind::Dir))
                    .count() as u32;
                let parent = if i == root {
                    count + 1
                } else {
                    nodes[n.parent].number
                };
                if size <= 0xffff && xattr == NO_XATTR {
                    put32(&mut body, block as u32);
                    put32(&mut body, 2 + subdirs);
                    body.extend((size as u16).to_le_bytes());
                    body.extend(offset.to_le_bytes());
                    put32(&mut body, parent);
                    1
                } else {
                    put32(&mut body, 2 + subdirs);
                    put32(
                        &mut body,
                        u32::try_from(size)
                            .map_err(|_| entry_err(n.path, "a folder listing past 4 GiB"))?,
                    );
                    put32(&mut body, block as u32);
                    put32(&mut body, parent);
                    body.extend(0u16.to_le_bytes()); // no index
                    body.extend(offset.to_le_bytes());
                    put32(&mut body, xattr);
                    8
                }
            }
            EntryKind::File {
                digest, link_group, ..
            } => {
                let loc = &locs[content_of[&digest.0]];
                let nlink = link_group
                    .and_then(|g| link_counts.get(&g).copied())
                    .unwrap_or(1);
                let basic = loc.blocks_start <= u64::from(u32::MAX)
                    && loc.size <= u64::from(u32::MAX)
                    && nlink == 1
                    && xattr == NO_XATTR;
                if basic {
                    put32(&mut body, loc.blocks_start as u32);
                    put32(&mut body, loc.fragment);
                    put32(&mut body, loc.frag_offset);
                    put32(&mut body, loc.size as u32);
                } else {
                    body.extend(loc.blocks_start.to_le_bytes());
                    body.extend(loc.size.to_le_bytes());
                    body.extend(0u64.to_le_bytes()); // sparse bytes
                    put32(&mut body, nlink);
                    put32(&mut body, loc.fragment);
                    put32(&mut body, loc.frag_offset);
                    put32(&mut body, xattr);
                }
                for b in &loc.blocks {
                    put32(&mut body, *b);
                }
                if basic { 2 } else { 9 }
            }
            EntryKind::Symlink { target } => {
                put32(&mut body, 1);
                put32(&mut body, target.len() as u32);
                body.extend(target.as_bytes());
                if xattr == NO_XATTR {
                    3
                } else {
                    put32(&mut body, xattr);
                    10
                }
            }
            EntryKind::BlockDev { .. }
            | EntryKind::CharDev { .. }
            | EntryKind::Fifo
            | EntryKind::Socket => {
                put32(&mut body, 1);
                if let EntryKind::BlockDev { major, minor } | EntryKind::CharDev { major, minor } =
                    &e.kind
                {
                    put32(&mut body, device_number(*major, *minor));
                }
                // The extended type of each is its basic type + 7, with the xattr index.
                let base = basic_type(&e.kind);
                if xattr == NO_XATTR {
                    base
                } else {
                    put32(&mut body, xattr);
                    base + 7
                }
            }
        };
        refs[i] = inodes.reference();
        let mut head = Vec::with_capacity(16 + body.len());
        head.extend(kind.to_le_bytes());
        head.extend(((e.mode & 0o7777) as u16).to_le_bytes());
        head.extend(id_index[&e.uid].to_le_bytes());
        head.extend(id_index[&e.gid].to_le_bytes());
        head.extend(mtime.to_le_bytes());
        head.extend(n.number.to_le_bytes());
        head.extend(body);
        inodes.write(&head)?;
    }
    let root_ref = refs[root];

    // --- The tables, in the order the kernel checks them. ------------------------------
    let inode_table_start = data_end;
    let inode_bytes = inodes.finish()?;
    let directory_table_start = inode_table_start + inode_bytes.len() as u64;
    let dir_bytes = dirs.finish()?;
    let fragment_at = directory_table_start + dir_bytes.len() as u64;
    let mut frag_records = Vec::with_capacity(frags.len() * 16);
    for (start, size) in &frags {
        frag_records.extend(start.to_le_bytes());
        frag_records.extend(size.to_le_bytes());
        frag_records.extend(0u32.to_le_bytes());
    }
    let (frag_bytes, fragment_table_start) = lookup_table(c, &frag_records, fragment_at)?;
    let id_at = fragment_at + frag_bytes.len() as u64;
    let id_records: Vec<u8> = ids.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (id_bytes, id_table_start) = lookup_table(c, &id_records, id_at)?;
    let mut end = id_at + id_bytes.len() as u64;
    let mut xattr_bytes = Vec::new();
    let mut xattr_id_table_start = INVALID;
    if !xattr_sets.is_empty() {
        let kv_start = end;
        let kv_bytes = kv.finish()?;
        let ids_at = kv_start + kv_bytes.len() as u64;
        let (ids_bytes, index_at) = lookup_table(c, &xattr_ids, ids_at)?;
        // The lookup table's index comes after a header naming the key/value start.
        let index = ids_bytes[(index_at - ids_at) as usize..].to_vec();
        xattr_bytes.extend(kv_bytes);
        xattr_bytes.extend(&ids_bytes[..(index_at - ids_at) as usize]);
        xattr_id_table_start = kv_start + xattr_bytes.len() as u64;
        xattr_bytes.extend(kv_start.to_le_bytes());
        xattr_bytes.extend((xattr_sets.len() as u32).to_le_bytes());
        xattr_bytes.extend(0u32.to_le_bytes());
        xattr_bytes.extend(index);
        end = kv_start + xattr_bytes.len() as u64;
    }
    for part in [
        &inode_bytes,
        &dir_bytes,
        &frag_bytes,
        &id_bytes,
        &xattr_bytes,
    ] {
        w.write_all(part)?;
    }
    debug_assert_eq!(w.count, end);
    // Padded to 4 KiB: the kernel reads the device in blocks of up to 4 KiB.
    let padded = end.div_ceil(4096) * 4096;
    w.write_all(&vec![0u8; (padded - end) as usize])?;

    // --- The superblock. ---------------------------------------------------------------
    let mut sb = Vec::with_capacity(96);
    sb.extend(0x7371_7368u32.to_le_bytes());
    sb.extend(count.to_le_bytes());
    sb.extend(mtime.to_le_bytes());
    sb.extend(BLOCK_SIZE.to_le_bytes());
    sb.extend((frags.len() as u32).to_le_bytes());
    sb.extend(c.id().to_le_bytes());
    sb.extend(BLOCK_LOG.to_le_bytes());
    // Duplicates removed; no xattrs when there are none (both informational).
    let flags: u16 = 0x0040 | if xattr_sets.is_empty() { 0x0200 } else { 0 };
    sb.extend(flags.to_le_bytes());
    sb.extend((ids.len() as u16).to_le_bytes());
    sb.extend(4u16.to_le_bytes());
    sb.extend(0u16.to_le_bytes());
    sb.extend(root_ref.to_le_bytes());
    sb.extend(end.to_le_bytes());
    sb.extend(id_table_start.to_le_bytes());
    sb.extend(xattr_id_table_start.to_le_bytes());
    sb.extend(inode_table_start.to_le_bytes());
    sb.extend(directory_table_start.to_le_bytes());
    sb.extend(fragment_table_start.to_le_bytes());
    sb.extend(INVALID.to_le_bytes()); // no export table
    debug_assert_eq!(sb.len(), 96);
    w.inner.seek(SeekFrom::Start(0))?;
    w.inner.write_all(&sb)?;
    w.inner.flush()?;
    Ok(Written {
        inodes: count,
        bytes: padded,
        with_xattrs,
    })
}

/// A folder's listing: runs of at most 256 entries under a header, a new run where the
/// inode's metadata block changes or its number is too far from the run's first.
fn listing(n: &Node<'_>, nodes: &[Node<'_>], refs: &[u64]) -> Result<Vec<u8>, SqfsError> {
    let mut out = Vec::new();
    let mut run: Vec<(u16, i16, u16, &str)> = Vec::new();
    let mut run_block = 0u64;
    let mut run_base = 0u32;
    let flush = |out: &mut Vec<u8>, run: &mut Vec<(u16, i16, u16, &str)>, block: u64, base: u32| {
        if run.is_empty() {
            return;
        }
        out.extend((run.len() as u32 - 1).to_le_bytes());
        out.extend((block as u32).to_le_bytes());
        out.extend(base.to_le_bytes());
        for (offset, delta, kind, name) in run.drain(..) {
            out.extend(offset.to_le_bytes());
            out.extend(delta.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend((name.len() as u16 - 1).to_le_bytes());
            out.extend(name.as_bytes());
        }
    };
    for (name, c) in &n.children {
        let r = refs[*c];
        let (block, offset) = (r >> 16, (r & 0xffff) as u16);
        let number = nodes[*c].number;
        let delta = i64::from(number) - i64::from(run_base);
        if run.is_empty()
            || run.len() == 256
            || block != run_block
            || !(-32768..=32767).contains(&delta)
        {
            flush(&mut out, &mut run, run_block, run_base);
            run_block = block;
            run_base = number;
        }
        if block > u64::from(u32::MAX) {
            return Err(entry_err(nodes[*c].path, "the inode table is past 4 GiB"));
        }
        let delta = (i64::from(number) - i64::from(run_base)) as i16;
        run.push((offset, delta, basic_type(&nodes[*c].entry.kind), name));
    }
    flush(&mut out, &mut run, run_block, run_base);
    Ok(out)
}
