//! The one cpio reader: newc (`070701`), crc (`070702`) and rpm's stripped `07070X` (used
//! for packages with files over 4 GiB), read entry by entry with each entry's data
//! streamed to the caller, so memory use does not depend on the size of a file or of the
//! archive. rootfs reads RPM payloads with it; emit reads initramfs archives back with it
//! (`diskless diff`, tests). The writer of the initramfs is emit's (src/emit/cpio.rs).

use std::io::{self, Read};

/// The trailer entry's name, which ends a newc archive.
pub const TRAILER: &str = "TRAILER!!!";

/// One cpio header. In rpm's stripped format only `index` and `size` are known (the rest
/// is in the package header); the other fields are then 0 and `nlink` 1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The name as stored (`./usr/bin/x` in RPM payloads, `etc/passwd` in an initramfs);
    /// `None` in rpm's stripped format.
    pub name: Option<String>,
    /// The package header's file index, in rpm's stripped format.
    pub index: Option<u32>,
    pub ino: u32,
    /// Type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// Data bytes that follow the header (for a symlink, its target).
    pub size: u64,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
}

/// A cpio archive read entry by entry.
pub struct Reader<R> {
    r: R,
    /// Bytes consumed so far, for messages.
    pos: u64,
    /// Bytes of the current entry's data not yet read, then its padding.
    remaining: u64,
    pad: u64,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Padding after `len` bytes to the next multiple of 4.
fn pad4(len: u64) -> u64 {
    (4 - len % 4) % 4
}

impl<R: Read> Reader<R> {
    pub fn new(r: R) -> Reader<R> {
        Reader {
            r,
            pos: 0,
            remaining: 0,
            pad: 0,
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.r.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut (&mut self.r).take(n), &mut io::sink())?;
        self.pos += copied;
        if copied != n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated cpio archive",
            ));
        }
        Ok(())
    }

    fn hex8(&self, b: &[u8], at: u64) -> io::Result<u32> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
            .ok_or_else(|| bad(format!("non-hex cpio header field at offset {at}")))
    }

    /// The next header, or `None` at the trailer. Unread data of the previous entry is
    /// skipped. `size_of` gives the size of a stripped entry from its header index (an
    /// archive that is not rpm's stripped format never calls it: pass `|_| None`).
    pub fn next(&mut self, size_of: impl Fn(u32) -> Option<u64>) -> io::Result<Option<Header>> {
        self.skip(self.remaining + self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        let start = self.pos;
        let mut magic = [0u8; 6];
        self.read_exact(&mut magic)?;
        if &magic == b"07070X" {
            let mut idx = [0u8; 8];
            self.read_exact(&mut idx)?;
            let index = self.hex8(&idx, start)?;
            let size = size_of(index).ok_or_else(|| {
                bad(format!(
                    "stripped cpio entry with an unknown file index {index} at offset {start}"
                ))
            })?;
            self.remaining = size;
            self.pad = pad4(size);
            return Ok(Some(Header {
                index: Some(index),
                nlink: 1,
                size,
                ..Header::default()
            }));
        }
        if &magic != b"070701" && &magic != b"070702" {
            return Err(bad(format!(
                "bad cpio magic at offset {start} (not a newc archive)"
            )));
        }
        let mut h = [0u8; 104];
        self.read_exact(&mut h)?;
        let mut f = [0u32; 13];
        for (i, v) in f.iter_mut().enumerate() {
            *v = self.hex8(&h[i * 8..i * 8 + 8], start)?;
        }
        let [
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            size,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
            namesize,
            _check,
        ] = f;
        let namesize = namesize as usize;
        if namesize == 0 || namesize > 64 * 1024 {
            return Err(bad(format!(
                "cpio name size {namesize} out of range at offset {start}"
            )));
        }
        let mut name = vec![0u8; namesize];
        self.read_exact(&mut name)?;
        // The name is NUL-terminated; header (110) + name is padded to 4 bytes.
        if name.last() == Some(&0) {
            name.pop();
        }
        self.skip(pad4(110 + namesize as u64))?;
        let name = String::from_utf8(name)
            .map_err(|_| bad(format!("cpio name at offset {start} is not UTF-8")))?;
        if name == TRAILER {
            return Ok(None);
        }
        let size = u64::from(size);
        self.remaining = size;
        self.pad = pad4(size);
        Ok(Some(Header {
            name: Some(name),
            index: None,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            size,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
        }))
    }

    /// After a trailer: whether another archive follows. The kernel reads concatenated
    /// archives (an initramfs is written as several, see emit's segments) and skips NUL
    /// bytes between them; so does this. `false` at the end of the input.
    pub fn next_archive(&mut self) -> io::Result<bool>
    where
        R: io::BufRead,
    {
        self.skip(self.remaining + self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let zeros = buf.iter().take_while(|&&b| b == 0).count();
            let more = zeros < buf.len();
            self.r.consume(zeros);
            self.pos += zeros as u64;
            if more {
                return Ok(true);
            }
        }
    }

    /// The current entry's data (at most its size; the rest is skipped by `next`).
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { reader: self }
    }
}

/// Reads the data of the current entry.
pub struct EntryData<'a, R> {
    reader: &'a mut Reader<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(self.reader.remaining.min(usize::MAX as u64) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.reader.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated cpio entry",
            ));
        }
        self.reader.remaining -= n as u64;
        self.reader.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newc(magic: &str, name: &str, data: &[u8]) -> Vec<u8> {
        let namesize = name.len() + 1;
        let mut v = format!(
            "{magic}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            7,
            0o100644,
            10,
            20,
            1,
            1234,
            data.len(),
            0,
            0,
            5,
            1,
            namesize,
            0
        )
        .into_bytes();
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn reads_entries_and_skips_unread_data() {
        let mut a = newc("070701", "./a", b"hello");
        a.extend(newc("070702", "./bb", b"xy"));
        a.extend(newc("070701", TRAILER, b""));
        let mut r = Reader::new(&a[..]);
        let h = r.next(|_| None).unwrap().unwrap();
        assert_eq!(
            h,
            Header {
                name: Some("./a".into()),
                index: None,
                ino: 7,
                mode: 0o100644,
                uid: 10,
                gid: 20,
                nlink: 1,
                mtime: 1234,
                size: 5,
                devmajor: 0,
                devminor: 0,
                rdevmajor: 5,
                rdevminor: 1,
            }
        );
        let h = r.next(|_| None).unwrap().unwrap();
        assert_eq!(h.name.as_deref(), Some("./bb"));
        let mut s = String::new();
        r.data().read_to_string(&mut s).unwrap();
        assert_eq!(s, "xy");
        assert!(r.next(|_| None).unwrap().is_none());
    }

    #[test]
    fn stripped_entries_take_their_size_from_the_header() {
        let mut a = b"07070X00000002".to_vec();
        a.extend_from_slice(b"abc\0");
        a.extend(newc("070701", TRAILER, b""));
        let mut r = Reader::new(&a[..]);
        let h = r.next(|i| (i == 2).then_some(3)).unwrap().unwrap();
        assert_eq!((h.name, h.index, h.size), (None, Some(2), 3));
        let mut s = String::new();
        r.data().read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
        assert!(r.next(|_| None).unwrap().is_none());
        let err = Reader::new(&a[..]).next(|_| None).unwrap_err();
        assert!(err.to_string().contains("unknown file index 2"), "{err}");
    }

    #[test]
    fn bad_magic_and_truncation_are_errors_with_offsets() {
        let mut a = newc("070701", "./a", b"hello");
        a.extend_from_slice(b"garbage-garbage");
        let mut r = Reader::new(&a[..]);
        r.next(|_| None).unwrap();
        let err = r.next(|_| None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "bad cpio magic at offset 124 (not a newc archive)"
        );
        let a = newc("070701", "./a", b"hello");
        let mut r = Reader::new(&a[..a.len() - 6]);
        r.next(|_| None).unwrap();
        let err = io::copy(&mut r.data(), &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
