//! Streaming reader for RPM payloads: decompression (gzip, xz, lzma, zstd, bzip2 or none)
//! and the cpio archive inside (newc `070701`, crc `070702`, and rpm's stripped `07070X`
//! used for files over 4 GiB).
//!
//! Entries are read one at a time and their data is streamed to the caller, so memory use
//! does not depend on the size of a file or of the package.

use crate::codec::{self, Compression};
use std::io::{self, BufRead, Read};

/// Wrap the payload stream in the right decompressor. rpm names the compressor in the
/// header (`PAYLOADCOMPRESSOR`); the magic bytes are checked first because some packages
/// name it wrongly, and `lzma` (the legacy format) has no reliable magic.
pub fn decompress<'a>(
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

/// One cpio header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name as stored (`./usr/bin/x`); `None` in rpm's stripped format.
    pub name: Option<String>,
    /// Header file index in rpm's stripped format.
    pub index: Option<u32>,
    pub ino: u32,
    pub mode: u32,
    pub nlink: u32,
    pub size: u64,
}

/// A cpio archive read entry by entry.
pub struct Reader<R> {
    r: R,
    /// Bytes of the current entry's data not yet read, then its padding.
    remaining: u64,
    pad: u64,
}

fn hex8(b: &[u8]) -> io::Result<u32> {
    let s = std::str::from_utf8(b).map_err(|_| bad("non-ASCII cpio header field"))?;
    u32::from_str_radix(s, 16).map_err(|_| bad("non-hex cpio header field"))
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl<R: Read> Reader<R> {
    pub fn new(r: R) -> Reader<R> {
        Reader {
            r,
            remaining: 0,
            pad: 0,
        }
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut (&mut self.r).take(n), &mut io::sink())?;
        if copied != n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated cpio archive",
            ));
        }
        Ok(())
    }

    /// The next header, or `None` at the trailer. Unread data of the previous entry is
    /// skipped. `size_of` gives the size of a stripped entry from its header index.
    pub fn next(&mut self, size_of: impl Fn(u32) -> Option<u64>) -> io::Result<Option<Header>> {
        self.skip(self.remaining + self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        let mut magic = [0u8; 6];
        self.r.read_exact(&mut magic)?;
        if &magic == b"07070X" {
            let mut idx = [0u8; 8];
            self.r.read_exact(&mut idx)?;
            let index = hex8(&idx)?;
            let size = size_of(index)
                .ok_or_else(|| bad("stripped cpio entry with an unknown file index"))?;
            self.remaining = size;
            self.pad = (4 - size % 4) % 4;
            return Ok(Some(Header {
                name: None,
                index: Some(index),
                ino: 0,
                mode: 0,
                nlink: 1,
                size,
            }));
        }
        if &magic != b"070701" && &magic != b"070702" {
            return Err(bad("not a newc cpio archive (bad magic)"));
        }
        let mut h = [0u8; 104];
        self.r.read_exact(&mut h)?;
        let f = |i: usize| hex8(&h[i * 8..i * 8 + 8]);
        let ino = f(0)?;
        let mode = f(1)?;
        let nlink = f(4)?;
        let size = u64::from(f(6)?);
        let namesize = f(11)? as usize;
        if namesize == 0 || namesize > 64 * 1024 {
            return Err(bad("cpio name size out of range"));
        }
        let mut name = vec![0u8; namesize];
        self.r.read_exact(&mut name)?;
        // The name is NUL-terminated; header (110) + name is padded to 4 bytes.
        name.pop();
        let name_pad = (4 - (110 + namesize) % 4) % 4;
        self.skip(name_pad as u64)?;
        let name = String::from_utf8(name).map_err(|_| bad("cpio name is not UTF-8"))?;
        if name == "TRAILER!!!" {
            return Ok(None);
        }
        self.remaining = size;
        self.pad = (4 - size % 4) % 4;
        Ok(Some(Header {
            name: Some(name),
            index: None,
            ino,
            mode,
            nlink,
            size,
        }))
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
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newc(name: &str, data: &[u8]) -> Vec<u8> {
        let namesize = name.len() + 1;
        let mut v = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1,
            0o100644,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
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
        let mut a = newc("./a", b"hello");
        a.extend(newc("./bb", b"xy"));
        a.extend(newc("TRAILER!!!", b""));
        let mut r = Reader::new(&a[..]);
        let h = r.next(|_| None).unwrap().unwrap();
        assert_eq!(h.name.as_deref(), Some("./a"));
        assert_eq!(h.size, 5);
        let h = r.next(|_| None).unwrap().unwrap();
        assert_eq!(h.name.as_deref(), Some("./bb"));
        let mut s = String::new();
        r.data().read_to_string(&mut s).unwrap();
        assert_eq!(s, "xy");
        assert!(r.next(|_| None).unwrap().is_none());
    }
}
