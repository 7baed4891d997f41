//! Compression of the initramfs, with bytes that depend only on the input.
//!
//! - `gzip` (default, level 9 like the recipe's `gzip -9`): our own gzip framing over one
//!   pinned deflate implementation (flate2 with the zlib-rs backend, set in Cargo.toml).
//!   The input is cut into fixed [`GZIP_BLOCK`]-byte blocks; each block is deflated on its
//!   own with the previous block's last 32 KiB as preset dictionary and ended with a sync
//!   flush, as pigz does, so the blocks can be compressed in parallel and simply joined into
//!   one gzip member. The block size is a constant, so the bytes are the same for any
//!   number of threads and any sequence of `write` calls (flate2's level 1/6 output varies
//!   with write sizes under zlib-rs; here each block is handed over whole).
//! - `zstd`: always libzstd's multithreaded mode (at least one worker), whose output does
//!   not depend on the worker count; it differs from the single-threaded mode, so that mode
//!   is never used.
//! - `xz`: liblzma's multithreaded encoder with a fixed block size (thread-count independent)
//!   and a CRC32 check, the only check the kernel's XZ decoder accepts.
//! - `none`.

use flate2::{Compress, Compression as Level, Crc, FlushCompress, Status};
use rayon::prelude::*;
use std::io::{self, Write};

/// Uncompressed bytes per independently deflated gzip block.
pub const GZIP_BLOCK: usize = 1 << 20;
/// How many blocks are buffered and compressed in one parallel batch (memory, not bytes).
const GZIP_BATCH: usize = 16;
const DICT: usize = 32 * 1024;
/// xz block size for the multithreaded encoder: fixed, so output is thread-count independent.
pub const XZ_BLOCK: u64 = 24 << 20;

/// The versions whose bytes we depend on; recorded in the build manifest. A unit test
/// checks them against Cargo.lock so that an update cannot slip in unnoticed.
pub const FLATE2_VERSION: &str = "1.1.11";
pub const ZLIB_RS_VERSION: &str = "0.6.8";
pub const ZSTD_SYS_VERSION: &str = "2.1.3+zstd.1.5.7";
pub const LIBLZMA_SYS_VERSION: &str = "0.4.9";

/// The initramfs compression setting is codec's format enum (with its level); emit adds
/// only what the manifest says about the pinned encoders.
pub use crate::codec::Compression;

// An inherent impl beside the encoders: the pinned versions it names are emit's facts.
impl Compression {
    /// What the manifest records, e.g. `gzip -9 (flate2 1.1.11, zlib-rs 0.6.8, 1 MiB blocks)`.
    pub fn describe(&self) -> String {
        match self {
            Compression::Gzip { level } => format!(
                "gzip -{level} (flate2 {FLATE2_VERSION}, zlib-rs {ZLIB_RS_VERSION}, {} KiB blocks with 32 KiB dictionaries)",
                GZIP_BLOCK / 1024
            ),
            Compression::Zstd { level } => {
                format!("zstd -{level} (zstd-sys {ZSTD_SYS_VERSION}, multithreaded mode, checksum)")
            }
            Compression::Xz { preset } => format!(
                "xz -{preset} --check=crc32 (liblzma-sys {LIBLZMA_SYS_VERSION}, multithreaded encoder, {} MiB blocks)",
                XZ_BLOCK >> 20
            ),
            Compression::None => "none".to_string(),
            Compression::Bzip2 | Compression::Lzma | Compression::Zchunk => {
                format!("{} (not written by diskless)", self.name())
            }
        }
    }
}

/// A compressing writer; call [`Compressor::finish`] to get the inner writer back.
pub enum Compressor<W: Write> {
    Gzip(GzipWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Xz(liblzma::write::XzEncoder<W>),
    None(W),
}

impl<W: Write> Compressor<W> {
    /// A compressor whose zstd and xz encoders use one worker thread per rayon thread.
    pub fn new(c: Compression, out: W) -> io::Result<Compressor<W>> {
        Compressor::with_workers(c, out, workers())
    }

    /// A compressor whose zstd and xz encoders use `workers` threads (at least 1): for
    /// callers that run several compressors at once. The bytes are the same for any count
    /// (both encoders always run in their multithreaded mode); gzip uses rayon's threads.
    pub fn with_workers(c: Compression, out: W, workers: u32) -> io::Result<Compressor<W>> {
        let workers = workers.clamp(1, 64);
        Ok(match c {
            Compression::Gzip { level } => Compressor::Gzip(GzipWriter::new(out, level)),
            Compression::Zstd { level } => {
                let mut e = zstd::stream::write::Encoder::new(out, level)?;
                e.include_checksum(true)?;
                e.multithread(workers)?;
                Compressor::Zstd(e)
            }
            Compression::Xz { preset } => {
                let stream = liblzma::stream::MtStreamBuilder::new()
                    .threads(workers)
                    .block_size(XZ_BLOCK)
                    .preset(preset)
                    .check(liblzma::stream::Check::Crc32)
                    .encoder()
                    .map_err(io::Error::other)?;
                Compressor::Xz(liblzma::write::XzEncoder::new_stream(out, stream))
            }
            Compression::None => Compressor::None(out),
            Compression::Bzip2 | Compression::Lzma | Compression::Zchunk => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "the initramfs is written as gzip, zstd, xz or none, not {}",
                        c.name()
                    ),
                ));
            }
        })
    }

    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(g) => g.finish(),
            Compressor::Zstd(z) => z.finish(),
            Compressor::Xz(x) => x.finish(),
            Compressor::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(g) => g.write(buf),
            Compressor::Zstd(z) => z.write(buf),
            Compressor::Xz(x) => x.write(buf),
            Compressor::None(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        // Flushing a compressor would insert sync points that depend on the caller's calls;
        // only the inner writer of `none` is flushed.
        match self {
            Compressor::None(w) => w.flush(),
            _ => Ok(()),
        }
    }
}

/// At least one worker (the multithreaded modes); the count changes speed, not bytes.
fn workers() -> u32 {
    rayon::current_num_threads().clamp(1, 64) as u32
}

/// Parallel, deterministic gzip (one member, pigz-style blocks).
pub struct GzipWriter<W: Write> {
    out: Option<W>,
    level: u32,
    pending: Vec<u8>,
    /// The last 32 KiB of the previous block: the next block's dictionary.
    dict: Vec<u8>,
    crc: Crc,
    header_written: bool,
}

impl<W: Write> GzipWriter<W> {
    pub fn new(out: W, level: u32) -> GzipWriter<W> {
        GzipWriter {
            out: Some(out),
            level: level.clamp(1, 9),
            pending: Vec::with_capacity(GZIP_BLOCK * GZIP_BATCH),
            dict: Vec::new(),
            crc: Crc::new(),
            header_written: false,
        }
    }

    fn out(&mut self) -> io::Result<&mut W> {
        self.out
            .as_mut()
            .ok_or_else(|| io::Error::other("gzip writer already finished"))
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL (2 = max compression, 4 = fastest) OS=255.
            let xfl = match self.level {
                9 => 2,
                1 => 4,
                _ => 0,
            };
            let hdr = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255];
            self.out()?.write_all(&hdr)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Compress every complete block in `pending` (all of it when `all`).
    fn drain(&mut self, all: bool) -> io::Result<()> {
        self.write_header()?;
        let full = if all {
            self.pending.len()
        } else {
            self.pending.len() / GZIP_BLOCK * GZIP_BLOCK
        };
        if full == 0 {
            return Ok(());
        }
        let data = &self.pending[..full];
        let blocks: Vec<&[u8]> = data.chunks(GZIP_BLOCK).collect();
        let level = self.level;
        let first_dict = std::mem::take(&mut self.dict);
        let compressed: Vec<io::Result<Vec<u8>>> = blocks
            .par_iter()
            .enumerate()
            .map(|(i, block)| {
                let dict: &[u8] = if i == 0 {
                    &first_dict
                } else {
                    let prev = blocks[i - 1];
                    &prev[prev.len().saturating_sub(DICT)..]
                };
                deflate_block(level, dict, block)
            })
            .collect();
        self.crc.update(data);
        let last = blocks[blocks.len() - 1];
        let tail = last[last.len().saturating_sub(DICT)..].to_vec();
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("gzip writer already finished"))?;
        for c in compressed {
            out.write_all(&c?)?;
        }
        self.dict = tail;
        self.pending.drain(..full);
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.drain(true)?;
        // The final, empty block with BFINAL set (no dictionary needed for no input).
        let end = {
            let mut c = Compress::new(Level::new(self.level), false);
            let mut v = Vec::with_capacity(64);
            c.compress_vec(&[], &mut v, FlushCompress::Finish)
                .map_err(io::Error::other)?;
            v
        };
        let crc = self.crc.sum();
        let isize = self.crc.amount();
        let mut out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("gzip writer already finished"))?;
        out.write_all(&end)?;
        out.write_all(&crc.to_le_bytes())?;
        out.write_all(&isize.to_le_bytes())?;
        out.flush()?;
        Ok(out)
    }
}

impl<W: Write> Write for GzipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= GZIP_BLOCK * GZIP_BATCH {
            self.drain(false)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Raw deflate of one block, ended with a sync flush (byte-aligned, not final), so that
/// blocks can be concatenated into one deflate stream.
fn deflate_block(level: u32, dict: &[u8], data: &[u8]) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Level::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out: Vec<u8> = Vec::with_capacity(data.len() / 2 + 4096);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        // zlib's contract: the flush is complete when input is used up and output space is left.
        if c.total_in() as usize == data.len() && out.len() < out.capacity() {
            break;
        }
        if status == Status::StreamEnd {
            break;
        }
    }
    Ok(out)
}

/// Compress a whole buffer (tests, small artifacts).
pub fn compress_bytes(c: Compression, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut w = Compressor::new(c, Vec::new())?;
    w.write_all(data)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Deterministic, partly compressible test data (no RNG crate needed).
    pub(crate) fn data(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut v = Vec::with_capacity(len);
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 {
                v.extend_from_slice(b"the quick brown fox jumps over the lazy dog ");
            } else {
                v.extend_from_slice(&x.to_le_bytes());
            }
        }
        v.truncate(len);
        v
    }

    fn sha(b: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    }

    fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    fn chunked(c: Compression, d: &[u8], chunk: usize) -> Vec<u8> {
        let mut w = Compressor::new(c, Vec::new()).unwrap();
        for p in d.chunks(chunk) {
            w.write_all(p).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn gzip_bytes_do_not_depend_on_threads_or_write_sizes() {
        let d = data(3 * GZIP_BLOCK + 12345);
        let c = Compression::Gzip { level: 9 };
        let a = in_pool(1, || chunked(c, &d, 7));
        let b = in_pool(4, || chunked(c, &d, 1 << 22));
        let e = in_pool(2, || chunked(c, &d, 65536 + 3));
        assert_eq!(a, b);
        assert_eq!(a, e);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&a[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, d);
        // Golden: changing these bytes (flate2/zlib-rs update, block size) must be deliberate.
        assert_eq!(sha(&a), GOLDEN_GZIP, "gzip output changed");
    }

    const GOLDEN_GZIP: &str = "23ee25191e17ec72ce39fecdf5c7413534516ab5f3b4dbce81a74373a58ded1b";

    #[test]
    fn gzip_of_empty_input_is_valid() {
        let z = compress_bytes(Compression::default(), b"").unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn gzip_is_read_by_system_gzip() {
        let d = data(2 * GZIP_BLOCK + 5);
        let z = compress_bytes(Compression::default(), &d).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        fs_err::write(&p, &z).unwrap();
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == d);
        let t = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&p)
            .status()
            .unwrap();
        assert!(t.success());
    }

    #[test]
    fn zstd_and_xz_do_not_depend_on_threads() {
        let d = data(2 * GZIP_BLOCK + 77);
        for c in [
            Compression::Zstd { level: 3 },
            Compression::Xz { preset: 1 },
        ] {
            let a = in_pool(1, || chunked(c, &d, 1000));
            let b = in_pool(3, || chunked(c, &d, 1 << 20));
            assert_eq!(sha(&a), sha(&b), "{c:?}");
            let mut back = Vec::new();
            crate::codec::open_sniffed(&a[..])
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == d, "{c:?}");
        }
    }

    #[test]
    fn xz_uses_crc32_check() {
        let z = compress_bytes(Compression::Xz { preset: 1 }, b"abc").unwrap();
        // Stream flags: byte 7 is the check type; 0x01 = CRC32.
        assert_eq!(z[7], 0x01);
    }

    #[test]
    fn pinned_versions_match_cargo_lock() {
        let lock =
            fs_err::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
        for (name, v) in [
            ("flate2", FLATE2_VERSION),
            ("zlib-rs", ZLIB_RS_VERSION),
            ("zstd-sys", ZSTD_SYS_VERSION),
            ("liblzma-sys", LIBLZMA_SYS_VERSION),
        ] {
            let needle = format!("name = \"{name}\"\nversion = \"{v}\"");
            assert!(
                lock.contains(&needle),
                "Cargo.lock does not pin {name} {v}: update compress.rs and the golden hashes together"
            );
        }
    }
}
