//! Compression formats, and the one place that turns a compressed stream into plain bytes.
//!
//! [`Compression`] names a format: what a file's leading magic bytes or its name show, and
//! (with a level) what the initramfs encoder writes. [`decoder`] wraps a buffered reader in
//! the decoder for a format; repo (metadata files, [`open_named`]), rootfs (RPM payloads,
//! kernel modules) and emit (`diskless diff`, [`open_sniffed`]) all decompress through it.
//! How a caller picks the format stays with the caller (rpm's header tag, a module's file
//! name); the deterministic encoders are emit's (src/emit/compress.rs).
//! Concatenated gzip, xz and bzip2 streams are read to their end, as gzip(1) and the
//! kernel read them.

use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Read};

/// A compression format. The levels are the encoder's: a format found by
/// [`Compression::from_magic`] or [`Compression::from_name`] carries the format's default
/// level (the bytes do not record one, and decoders need none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Compression {
    Gzip {
        level: u32,
    },
    Zstd {
        level: i32,
    },
    Xz {
        preset: u32,
    },
    None,
    /// Read only (metadata files).
    #[serde(skip)]
    Bzip2,
    /// The legacy `.lzma` format (LZMA_Alone), read only (old RPM payloads).
    #[serde(skip)]
    Lzma,
    /// zchunk (`.zck`): recognised, never read; repositories always offer an alternative.
    #[serde(skip)]
    Zchunk,
}

/// gzip -9, as the seed recipe's `gzip -9`.
pub const GZIP: Compression = Compression::Gzip { level: 9 };
pub const ZSTD: Compression = Compression::Zstd { level: 19 };
pub const XZ: Compression = Compression::Xz { preset: 6 };

impl Default for Compression {
    fn default() -> Self {
        GZIP
    }
}

impl Compression {
    /// The format a file name's extension claims.
    pub fn from_name(name: &str) -> Compression {
        let ext = name.rsplit('.').next().unwrap_or_default();
        match ext {
            "gz" | "gzip" => GZIP,
            "xz" => XZ,
            "zst" | "zstd" => ZSTD,
            "bz2" => Compression::Bzip2,
            "lzma" => Compression::Lzma,
            "zck" => Compression::Zchunk,
            _ => Compression::None,
        }
    }

    /// The format the leading bytes show, if any with a reliable magic (legacy lzma has
    /// none: its first byte is a parameter, so a caller that expects it must say so).
    pub fn from_magic(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(GZIP)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(XZ)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(ZSTD)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.starts_with(b"\0ZCK1") {
            Some(Compression::Zchunk)
        } else {
            None
        }
    }

    /// Parse `gzip`, `gzip:6`, `zstd`, `zstd:19`, `xz`, `xz:6`, `none` (formats the
    /// encoder writes, levels in range).
    pub fn parse(s: &str) -> Option<Compression> {
        let (kind, level) = match s.split_once(':') {
            Some((k, l)) => (k, Some(l)),
            None => (s, None),
        };
        Some(match kind {
            "gzip" => Compression::Gzip {
                level: level.map_or(Some(9), |l| l.parse().ok())?,
            },
            "zstd" => Compression::Zstd {
                level: level.map_or(Some(19), |l| l.parse().ok())?,
            },
            "xz" => Compression::Xz {
                preset: level.map_or(Some(6), |l| l.parse().ok())?,
            },
            "none" if level.is_none() => Compression::None,
            _ => return None,
        })
        .filter(|c| match c {
            Compression::Gzip { level } => (1..=9).contains(level),
            Compression::Zstd { level } => (1..=22).contains(level),
            Compression::Xz { preset } => *preset <= 9,
            _ => true,
        })
    }

    /// The format's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Compression::Gzip { .. } => "gzip",
            Compression::Zstd { .. } => "zstd",
            Compression::Xz { .. } => "xz",
            Compression::None => "none",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
            Compression::Zchunk => "zchunk",
        }
    }
}

/// Up to 6 leading bytes of `input` (the longest magic), without consuming them. A
/// `BufRead` may hand out fewer bytes than exist, so this only looks at what the first fill
/// gives (at least the magic sizes for any real buffer).
pub fn peek<R: BufRead>(input: &mut R) -> io::Result<&[u8]> {
    let buf = input.fill_buf()?;
    Ok(&buf[..buf.len().min(6)])
}

/// A reader of `input`'s decompressed bytes, `format` chosen by the caller. `None` passes
/// the bytes through; zchunk is an [`io::ErrorKind::Unsupported`] error.
pub fn decoder<'a, R: BufRead + Send + 'a>(
    format: Compression,
    input: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match format {
        Compression::None => Box::new(input),
        // Multi-member readers: concatenated streams are valid files for gzip(1) and friends.
        Compression::Gzip { .. } => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Xz { .. } => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
        Compression::Zstd { .. } => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        Compression::Lzma => {
            let stream = liblzma::stream::Stream::new_lzma_decoder(u64::MAX)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(input, stream))
        }
        Compression::Zchunk => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "zchunk compression is not supported",
            ));
        }
    })
}

/// Why a file could not be opened by [`open_named`].
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("The file name says {expected} but the data is {actual}")]
    Mismatch {
        expected: &'static str,
        actual: &'static str,
    },
    #[error("{format} compressed metadata is not supported")]
    Unsupported { format: &'static str },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Detect the format of `input` by its magic bytes (consuming nothing) and return it with
/// a reader of the decompressed bytes. `name` is the file's name: repositories name files
/// `…-primary.xml.gz`, but mirrors and hand-made repos sometimes serve plain XML under a
/// `.gz` name (or the reverse); the bytes are what the data really is, so they win, and a
/// name that promises compression the bytes don't have is an error rather than a confusing
/// parse failure later.
pub fn open_named<'a, R: BufRead + Send + 'a>(
    mut input: R,
    name: &str,
) -> Result<(Compression, Box<dyn Read + Send + 'a>), DecompressError> {
    let by_name = Compression::from_name(name);
    let format = match (Compression::from_magic(peek(&mut input)?), by_name) {
        (Some(Compression::Zchunk), _) => {
            return Err(DecompressError::Unsupported {
                format: Compression::Zchunk.name(),
            });
        }
        (Some(m), _) => m,
        (None, Compression::None) => Compression::None,
        (None, n) => {
            return Err(DecompressError::Mismatch {
                expected: n.name(),
                actual: "not compressed in that format",
            });
        }
    };
    Ok((format, decoder(format, input)?))
}

/// A reader of `input`'s decompressed bytes, the format found by its magic bytes. Data in
/// no format that can be read passes through unchanged (for `diskless diff`, which compares
/// whatever it is given).
pub fn open_sniffed<'a, R: BufRead + Send + 'a>(
    mut input: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let format = match Compression::from_magic(peek(&mut input)?) {
        None | Some(Compression::Zchunk) => Compression::None,
        Some(c) => c,
    };
    decoder(format, input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"<?xml version=\"1.0\"?><metadata packages=\"0\"/>\n";

    fn roundtrip(data: &[u8], name: &str) -> (&'static str, Vec<u8>) {
        let (c, mut r) = open_named(data, name).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (c.name(), out)
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_format_by_magic_and_name() {
        let gz = gz(TEXT);
        let xz = {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(TEXT).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(TEXT, 1).unwrap();
        let bz = {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(TEXT).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(roundtrip(&gz, "p.xml.gz"), ("gzip", TEXT.to_vec()));
        assert_eq!(roundtrip(&xz, "p.xml.xz"), ("xz", TEXT.to_vec()));
        assert_eq!(roundtrip(&zst, "p.xml.zst"), ("zstd", TEXT.to_vec()));
        assert_eq!(roundtrip(&bz, "p.xml.bz2"), ("bzip2", TEXT.to_vec()));
        assert_eq!(roundtrip(TEXT, "p.xml"), ("none", TEXT.to_vec()));
        // The bytes win over a misleading name.
        assert_eq!(roundtrip(&gz, "primary.xml"), ("gzip", TEXT.to_vec()));
        // Concatenated gzip members read as one stream.
        let two = [gz.clone(), gz].concat();
        assert_eq!(roundtrip(&two, "p.gz").1, [TEXT, TEXT].concat());
    }

    #[test]
    fn name_promising_compression_the_bytes_lack_is_an_error() {
        let err = open_named(TEXT, "primary.xml.xz").err().unwrap();
        assert_eq!(
            err.to_string(),
            "The file name says xz but the data is not compressed in that format"
        );
        let err = open_named(&b"\0ZCK1rest"[..], "primary.xml.zck")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "zchunk compressed metadata is not supported"
        );
    }

    #[test]
    fn legacy_lzma_is_read_when_named() {
        let mut e = liblzma::write::XzEncoder::new_stream(
            Vec::new(),
            liblzma::stream::Stream::new_lzma_encoder(
                &liblzma::stream::LzmaOptions::new_preset(1).unwrap(),
            )
            .unwrap(),
        );
        e.write_all(TEXT).unwrap();
        let lzma = e.finish().unwrap();
        assert_eq!(Compression::from_magic(&lzma), None);
        assert_eq!(Compression::from_name("payload.lzma"), Compression::Lzma);
        let mut out = Vec::new();
        decoder(Compression::Lzma, &lzma[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, TEXT);
    }

    #[test]
    fn sniffed_passes_unknown_data_through() {
        for data in [TEXT, b"\0ZCK1 not really", b""] {
            let mut out = Vec::new();
            open_sniffed(data).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
        let mut out = Vec::new();
        open_sniffed(&gz(TEXT)[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, TEXT);
    }

    #[test]
    fn parse_levels() {
        assert_eq!(Compression::parse("gzip"), Some(GZIP));
        assert_eq!(
            Compression::parse("zstd:3"),
            Some(Compression::Zstd { level: 3 })
        );
        assert_eq!(Compression::parse("xz"), Some(XZ));
        assert_eq!(Compression::parse("none"), Some(Compression::None));
        assert_eq!(Compression::parse("gzip:10"), None);
        assert_eq!(Compression::parse("lz4"), None);
        assert_eq!(Compression::parse("bzip2"), None);
    }
}
