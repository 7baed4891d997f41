//! Checksums as repomd.xml states them (`sha`/`sha1`, `sha256`, `sha512`), computed while
//! data streams past, so a file is read once whatever its size.

use crate::package::Checksum;
use sha1::Digest;
use std::io::{self, Read};

/// A supported checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// Parse repomd's `type` attribute; `sha` is yum's old name for sha1.
    pub fn parse(kind: &str) -> Option<Algorithm> {
        match kind.to_ascii_lowercase().as_str() {
            "sha" | "sha1" => Some(Algorithm::Sha1),
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

/// `sha` becomes `sha1`, other names are lowercased; the value is lowercased hex.
pub fn normalize(kind: &str, value: &str) -> Checksum {
    let kind = match Algorithm::parse(kind) {
        Some(a) => a.name().to_string(),
        None => kind.to_ascii_lowercase(),
    };
    Checksum {
        kind,
        value: value.trim().to_ascii_lowercase(),
    }
}

/// A running hash of one algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(alg: Algorithm) -> Hasher {
        match alg {
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// Lowercase hex of the digest.
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// sha256 of a byte slice, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(data);
    h.finish_hex()
}

/// A reader that hashes (optionally) and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, alg: Option<Algorithm>) -> Self {
        HashingReader {
            inner,
            hasher: alg.map(Hasher::new),
            count: 0,
        }
    }

    /// Read the rest of the stream (so the digest covers all of it), then return the byte
    /// count and the hex digest (when an algorithm was given).
    pub fn finish(mut self) -> io::Result<(u64, Option<String>)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.count, self.hasher.map(Hasher::finish_hex)))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_of_abc() {
        // FIPS 180-2 test vectors for "abc".
        let digest = |alg| {
            let r = HashingReader::new(&b"abc"[..], Some(alg));
            r.finish().unwrap()
        };
        assert_eq!(
            digest(Algorithm::Sha1),
            (3, Some("a9993e364706816aba3e25717850c26c9cd0d89d".into()))
        );
        assert_eq!(
            digest(Algorithm::Sha256).1.unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            digest(Algorithm::Sha512)
                .1
                .unwrap()
                .starts_with("ddaf35a193617aba")
        );
    }

    #[test]
    fn sha_is_sha1() {
        assert_eq!(Algorithm::parse("sha"), Some(Algorithm::Sha1));
        assert_eq!(normalize("sha", "ABC").to_string(), "sha1:abc");
        assert_eq!(Algorithm::parse("md5"), None);
    }
}
