//! The squashfs root (`[image] root = "squashfs"`): the image tree as a squashfs 4.0
//! image, written by [`super::sqfs`] (no mksquashfs on the build host, no root; backhand,
//! the squashfs crate, reads it back for `diff`), and `rootfs.img`, the uncompressed newc archive that carries it to the
//! node as the single file `/diskless/root.squashfs`, or in parts past `[image]
//! root_chunk_mib` (1 GiB by default; newc and the kernel's unpacker stop at 4 GiB a file)
//! that the initrd joins. The boot loader loads it after the small initrd
//! ([`super::initrd`]).
//!
//! Reproducible: every inode's mtime and the superblock's time SOURCE_DATE_EPOCH, owners
//! and modes from the tree, the data compressed like the image (gzip, xz or zstd; `none`
//! gives gzip, squashfs has no uncompressed mode the kernels we boot enable by default).
//! Extended attributes (file capabilities) are in the image: the kernel reads them from
//! the squashfs, and the image's `/init` sets none at boot ([`crate::rootfs::xattrs`]).

use super::compress::Compression;
use super::cpio::{self, CpioError};
use super::sqfs::{self, Compressor};
use crate::rootfs::store::Store;
use crate::rootfs::tree::Tree;
use std::io;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SquashfsError {
    #[error("Cannot write the squashfs root image `{}`", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: sqfs::SqfsError,
    },
    #[error("Cannot read the squashfs root image `{}`", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: backhand::BackhandError,
    },
    #[error(
        "The root image ({size} bytes) would need more than 1000 parts of {part_size} bytes in rootfs.img; raise `[image] root_chunk_mib` (at most 2047)"
    )]
    TooManyParts { size: u64, part_size: u64 },
    #[error(transparent)]
    Cpio(#[from] CpioError),
    #[error("Cannot write `{}`", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SquashfsStats {
    pub entries: u64,
    pub bytes: u64,
    /// Inodes that carry extended attributes (file capabilities).
    pub with_xattrs: u32,
}

/// The squashfs compressor for the image's compression.
fn compressor(c: Compression) -> Compressor {
    match c {
        Compression::Xz { .. } => Compressor::Xz,
        Compression::Zstd { .. } => Compressor::Zstd,
        _ => Compressor::Gzip,
    }
}

/// The small initrd's compression: the image's algorithm at most at the root image's
/// levels (zstd 3, xz 6). With `root_http` it carries NIC drivers, tens of MB, and zstd
/// -19 took 17 s for 20% fewer bytes than -3 (0.2 s) on the bench corpus's.
pub fn initrd_compression(c: Compression) -> Compression {
    match c {
        Compression::Zstd { level } => Compression::Zstd {
            level: level.min(3),
        },
        Compression::Xz { preset } => Compression::Xz {
            preset: preset.min(6),
        },
        other => other,
    }
}

/// The squashfs compressor's name, for the manifest.
pub fn compressor_name(c: Compression) -> &'static str {
    match compressor(c) {
        Compressor::Xz => "xz",
        Compressor::Zstd => "zstd",
        Compressor::Gzip => "gzip",
    }
}

/// Write `tree` (contents from `store`) as a squashfs image at `out`, with the entries'
/// extended attributes ([`crate::rootfs::xattrs::xattrs`]).
pub fn write(
    tree: &Tree,
    store: &Store,
    mtime: u64,
    compression: Compression,
    out: &Path,
) -> Result<SquashfsStats, SquashfsError> {
    let mtime = cpio::check_mtime(mtime)?;
    let all = cpio::complete(tree)?;
    let io_err = |source| SquashfsError::Io {
        path: out.to_path_buf(),
        source,
    };
    let f = std::fs::File::create(out).map_err(io_err)?;
    let mut bw = io::BufWriter::with_capacity(1 << 20, f);
    let written = sqfs::write(
        &all,
        store,
        mtime,
        compressor(compression),
        crate::rootfs::xattrs::xattrs,
        &mut bw,
    )
    .map_err(|source| SquashfsError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let f = bw.into_inner().map_err(|e| io_err(e.into_error()))?;
    f.sync_all().map_err(io_err)?;
    Ok(SquashfsStats {
        entries: all.len() as u64,
        bytes: written.bytes,
        with_xattrs: written.with_xattrs,
    })
}

/// The largest part [`wrap`] writes: what one `sendfile` of the initrd's join moves
/// (Linux's `MAX_RW_COUNT`), below newc's 4 GiB file limit.
pub const MAX_PART: u64 = 0x7fff_f000;
/// Parts are numbered with three digits ([`super::initrd::part_name`]).
const MAX_PARTS: u64 = 1000;

/// What [`wrap`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// `rootfs.img`'s size.
    pub bytes: u64,
    /// The root image's parts' sizes, in order; one part is `/diskless/root.squashfs`
    /// itself, more are `root.squashfs.000`, `.001`, … which the initrd joins.
    pub parts: Vec<u64>,
}

/// `rootfs.img`: an uncompressed newc archive of `/diskless` and the bytes of `squashfs`
/// as `/diskless/root.squashfs`, or in parts of `part_size` bytes when it is larger (newc
/// and the kernel's unpacker hold at most 4 GiB in one file); for the boot loader to load
/// after the initrd.
pub fn wrap(
    squashfs: &Path,
    mtime: u64,
    out: &Path,
    part_size: u64,
) -> Result<Wrapped, SquashfsError> {
    let mtime = cpio::check_mtime(mtime)?;
    let io_err = |p: &Path| {
        let path = p.to_path_buf();
        move |source| SquashfsError::Io { path, source }
    };
    let mut src = io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(squashfs).map_err(io_err(squashfs))?,
    );
    let size = src.get_ref().metadata().map_err(io_err(squashfs))?.len();
    let part_size = part_size.clamp(1, MAX_PART);
    let parts: Vec<(String, u64)> = if size <= part_size {
        vec![(super::initrd::ROOT_IMAGE.to_string(), size)]
    } else {
        let n = size.div_ceil(part_size);
        if n > MAX_PARTS {
            return Err(SquashfsError::TooManyParts { size, part_size });
        }
        (0..n)
            .map(|i| {
                let len = part_size.min(size - i * part_size);
                (super::initrd::part_name(i as usize), len)
            })
            .collect()
    };
    let relative: Vec<(String, u64)> = parts
        .iter()
        .map(|(p, n)| (p.trim_start_matches('/').to_string(), *n))
        .collect();
    let dir = super::initrd::ROOT_IMAGE
        .trim_start_matches('/')
        .rsplit_once('/')
        .map_or("diskless", |(d, _)| d);
    let f = std::fs::File::create(out).map_err(io_err(out))?;
    let mut w = io::BufWriter::with_capacity(1 << 20, f);
    cpio::write_parts(&mut w, dir, &relative, &mut src, mtime).map_err(io_err(out))?;
    let f = w.into_inner().map_err(|e| io_err(out)(e.into_error()))?;
    f.sync_all().map_err(io_err(out))?;
    Ok(Wrapped {
        bytes: f.metadata().map(|m| m.len()).map_err(io_err(out))?,
        parts: parts.into_iter().map(|(_, n)| n).collect(),
    })
}

/// Whether `name` (an archive entry's name, with or without the leading `/`) is the root
/// image or one of its parts in a [`wrap`]ped archive.
pub fn is_root_image(name: &str) -> bool {
    let whole = super::initrd::ROOT_IMAGE.trim_start_matches('/');
    name.trim_start_matches('/')
        .strip_prefix(whole)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The squashfs image inside `rootfs_img` (a [`wrap`]ped archive; its parts joined)
/// copied to a temporary file, for reading; `None` when the archive holds no root image.
pub fn unwrap(rootfs_img: &Path) -> io::Result<Option<tempfile::NamedTempFile>> {
    let f = std::fs::File::open(rootfs_img)?;
    let mut r = crate::cpio::Reader::new(io::BufReader::new(f));
    let whole = super::initrd::ROOT_IMAGE.trim_start_matches('/');
    let mut out: Option<tempfile::NamedTempFile> = None;
    while let Some(h) = r.next(|_| None)? {
        let Some(name) = h.name.as_deref() else {
            continue;
        };
        let part = name
            .strip_prefix(whole)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
        if part {
            if out.is_none() {
                out = Some(tempfile::NamedTempFile::new()?);
            }
            if let Some(tmp) = out.as_mut() {
                io::copy(&mut r.data(), tmp.as_file_mut())?;
            }
        }
    }
    Ok(out)
}

/// Every entry of the squashfs image at `path`, as the initramfs listing reads a cpio
/// entry (names relative, `.` for the root; file data and symlink targets hashed), in
/// path order: so `diskless diff` compares two root images entry by entry.
pub fn read_entries(path: &Path) -> Result<Vec<cpio::ReadEntry>, SquashfsError> {
    use backhand::{FilesystemReader, InnerNode};
    use sha2::{Digest, Sha256};
    let bad = |source| SquashfsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let io_err = |source| SquashfsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io_err)?;
    let fs = FilesystemReader::from_reader(io::BufReader::new(f)).map_err(bad)?;
    let mut out = Vec::new();
    for node in fs.files() {
        let name = node.fullpath.to_string_lossy();
        let name = match name.trim_start_matches('/') {
            "" => ".".to_string(),
            n => n.to_string(),
        };
        let h = &node.header;
        let mut hasher = Sha256::new();
        let (kind, size, target, rdev) = match &node.inner {
            InnerNode::File(file) => {
                let mut reader = fs.file(file).reader_checked().map_err(bad)?;
                let (mut buf, mut n) = (vec![0u8; 1 << 16], 0u64);
                loop {
                    let got = io::Read::read(&mut reader, &mut buf).map_err(io_err)?;
                    if got == 0 {
                        break;
                    }
                    hasher.update(&buf[..got]);
                    n += got as u64;
                }
                (0o100000, n, None, 0)
            }
            InnerNode::Symlink(l) => {
                let t = l.link.to_string_lossy().into_owned();
                hasher.update(t.as_bytes());
                (0o120000, t.len() as u64, Some(t), 0)
            }
            InnerNode::Dir(_) => (0o040000, 0, None, 0),
            InnerNode::CharacterDevice(d) => (0o020000, 0, None, d.device_number),
            InnerNode::BlockDevice(d) => (0o060000, 0, None, d.device_number),
            InnerNode::NamedPipe => (0o010000, 0, None, 0),
            InnerNode::Socket => (0o140000, 0, None, 0),
        };
        out.push(cpio::ReadEntry {
            name,
            ino: 0,
            mode: kind | u32::from(h.permissions),
            uid: h.uid,
            gid: h.gid,
            nlink: 1,
            mtime: h.mtime,
            size: u32::try_from(size).unwrap_or(u32::MAX),
            rdevmajor: (rdev >> 8) & 0xfff,
            rdevminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
            digest: hasher.finalize().into(),
            link_target: target,
            segment: 0,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_as_the_kernel_encodes_them() {
        use sqfs::device_number;
        assert_eq!(device_number(5, 1), 0x501);
        assert_eq!(device_number(1, 3), 0x103);
        assert_eq!(
            device_number(259, 300),
            (300 & 0xff) | (259 << 8) | ((300 & !0xff) << 12)
        );
    }

    #[test]
    fn gzip_when_the_image_is_uncompressed() {
        assert_eq!(compressor(Compression::None), Compressor::Gzip);
    }
}
