//! Decompression of metadata files: gzip, xz, zstd, bzip2 or plain, chosen by the file's
//! leading magic bytes, with the file name's extension as a cross-check.
//!
//! Repositories name files `…-primary.xml.gz`, but mirrors and hand-made repos sometimes
//! serve plain XML under a `.gz` name (or the reverse); the magic bytes are what the data
//! really is, so they win, and an extension that promises compression the bytes don't
//! have is an error rather than a confusing XML parse failure later.

use std::io::{self, BufRead, Read};

/// A compression format of a metadata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
    /// zchunk (`.zck`): not supported; repositories always offer a plain alternative.
    Zchunk,
}

impl Compression {
    /// The format a file name's extension claims.
    pub fn from_name(name: &str) -> Compression {
        let ext = name.rsplit('.').next().unwrap_or_default();
        match ext {
            "gz" | "gzip" => Compression::Gzip,
            "xz" => Compression::Xz,
            "zst" | "zstd" => Compression::Zstd,
            "bz2" => Compression::Bzip2,
            "zck" => Compression::Zchunk,
            _ => Compression::None,
        }
    }

    /// The format the leading bytes show, if any known one.
    pub fn from_magic(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.starts_with(b"\0ZCK1") {
            Some(Compression::Zchunk)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Zchunk => "zchunk",
        }
    }
}

/// Why a stream could not be opened for decompression.
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

/// Detect the format of `input` (peeking at its first bytes, consuming nothing) and return
/// a reader of the decompressed bytes. `name` is the file name, for the extension check.
pub fn decompress<'a, R: BufRead + Send + 'a>(
    mut input: R,
    name: &str,
) -> Result<(Compression, Box<dyn Read + Send + 'a>), DecompressError> {
    let by_name = Compression::from_name(name);
    let by_magic = Compression::from_magic(fill_head(&mut input)?);
    let format = match (by_magic, by_name) {
        (Some(m), _) => m,
        (None, Compression::None) => Compression::None,
        (None, n) => {
            return Err(DecompressError::Mismatch {
                expected: n.as_str(),
                actual: "not compressed in that format",
            });
        }
    };
    let reader: Box<dyn Read + Send + 'a> = match format {
        Compression::None => Box::new(input),
        // Multi-member readers: concatenated streams are valid files for gzip(1) and friends.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        Compression::Zchunk => {
            return Err(DecompressError::Unsupported {
                format: Compression::Zchunk.as_str(),
            });
        }
    };
    Ok((format, reader))
}

/// Peek at up to 6 leading bytes without consuming them. A `BufRead` may hand out fewer
/// bytes than exist, so this only looks at what the first fill gives (at least the magic
/// sizes for any real buffer).
fn fill_head<R: BufRead>(input: &mut R) -> io::Result<&[u8]> {
    let buf = input.fill_buf()?;
    Ok(&buf[..buf.len().min(6)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"<?xml version=\"1.0\"?><metadata packages=\"0\"/>\n";

    fn roundtrip(data: &[u8], name: &str) -> (Compression, Vec<u8>) {
        let (c, mut r) = decompress(data, name).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (c, out)
    }

    #[test]
    fn every_format_by_magic_and_name() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(TEXT).unwrap();
        let gz = gz.finish().unwrap();
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
        assert_eq!(
            roundtrip(&gz, "p.xml.gz"),
            (Compression::Gzip, TEXT.to_vec())
        );
        assert_eq!(roundtrip(&xz, "p.xml.xz"), (Compression::Xz, TEXT.to_vec()));
        assert_eq!(
            roundtrip(&zst, "p.xml.zst"),
            (Compression::Zstd, TEXT.to_vec())
        );
        assert_eq!(
            roundtrip(&bz, "p.xml.bz2"),
            (Compression::Bzip2, TEXT.to_vec())
        );
        assert_eq!(roundtrip(TEXT, "p.xml"), (Compression::None, TEXT.to_vec()));
        // The bytes win over a misleading name.
        assert_eq!(
            roundtrip(&gz, "primary.xml"),
            (Compression::Gzip, TEXT.to_vec())
        );
        // Concatenated gzip members read as one stream.
        let two = [gz.clone(), gz].concat();
        assert_eq!(roundtrip(&two, "p.gz").1, [TEXT, TEXT].concat());
    }

    #[test]
    fn name_promising_compression_the_bytes_lack_is_an_error() {
        let err = decompress(TEXT, "primary.xml.xz").err().unwrap();
        assert_eq!(
            err.to_string(),
            "The file name says xz but the data is not compressed in that format"
        );
        let err = decompress(&b"\0ZCK1rest"[..], "primary.xml.zck")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "zchunk compressed metadata is not supported"
        );
    }
}
