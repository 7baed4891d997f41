//! Decompression on a second thread: a producer reads the stored file, decompresses it,
//! hashes and counts the decompressed bytes (open-checksum, open-size), and hands chunks
//! through a bounded channel to the parser on the calling thread. Inflating, hashing and
//! XML parsing then overlap on two cores; the bytes and their order are exactly those of
//! a single-threaded read, so the parse result cannot differ.

use super::checksum::{Algorithm, Hasher};
use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel as unbounded, sync_channel};

/// Decompressed bytes per chunk: big enough that channel hand-offs are rare.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight: the producer runs at most this far ahead (bounded memory).
const IN_FLIGHT: usize = 4;

/// The decompressed content of one record, as the parser reads it.
pub struct DataStream {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// Read chunks go back to the producer for reuse (no fresh, zeroed buffer per chunk).
    back: Sender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

/// The producer's end of a [`DataStream`].
pub struct Producer {
    tx: SyncSender<io::Result<Vec<u8>>>,
    back: Receiver<Vec<u8>>,
}

/// What the producer saw once the stream ended: byte count and hex digest.
pub type Totals = (u64, Option<String>);

/// A channel for one record: the parser's end and the producer's end.
pub fn channel() -> (DataStream, Producer) {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let (back_tx, back_rx) = unbounded();
    let stream = DataStream {
        rx,
        back: back_tx,
        buf: Vec::new(),
        pos: 0,
    };
    (stream, Producer { tx, back: back_rx })
}

/// The producer: read `input` to its end in chunks, hashing with `alg`, and send them.
/// Stops early (returning what it counted so far) when the parser hung up. A read error
/// goes down the channel for the parser to see, and is returned too.
pub fn pump(
    mut input: impl Read,
    alg: Option<Algorithm>,
    Producer { tx, back }: Producer,
) -> io::Result<Totals> {
    let mut hasher = alg.map(Hasher::new);
    let mut count = 0u64;
    loop {
        let mut chunk = back.try_recv().unwrap_or_default();
        // Only a fresh or short buffer needs zeroing up to the chunk size.
        chunk.resize(CHUNK, 0);
        let n = match read_full(&mut input, &mut chunk) {
            Ok(n) => n,
            Err(e) => {
                let kind = e.kind();
                let message = e.to_string();
                let _ = tx.send(Err(e));
                return Err(io::Error::new(kind, message));
            }
        };
        if n == 0 {
            break;
        }
        chunk.truncate(n);
        if let Some(h) = &mut hasher {
            h.update(&chunk);
        }
        count += n as u64;
        if tx.send(Ok(chunk)).is_err() {
            break;
        }
    }
    Ok((count, hasher.map(Hasher::finish_hex)))
}

/// Fill `buf` as far as the input goes (decoders hand out short reads).
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl DataStream {
    /// Read the rest, so the producer's digest covers the whole content.
    pub fn drain(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        loop {
            match self.rx.recv() {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            }
        }
    }
}

impl BufRead for DataStream {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let old = std::mem::replace(&mut self.buf, chunk);
                    if old.capacity() > 0 {
                        let _ = self.back.send(old);
                    }
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The producer is done: end of stream.
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

impl Read for DataStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order_with_their_digest() {
        // More than a few chunks, so the bounded channel has to block and resume.
        let data: Vec<u8> = (0..(CHUNK * 9 + 123))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let (mut stream, tx) = channel();
        let totals = std::thread::scope(|s| {
            let producer = s.spawn(|| pump(&data[..], Some(Algorithm::Sha256), tx));
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            assert_eq!(got, data);
            producer.join().unwrap().unwrap()
        });
        assert_eq!(totals.0, data.len() as u64);
        assert_eq!(totals.1.unwrap(), super::super::checksum::sha256_hex(&data));
    }

    #[test]
    fn drain_covers_what_the_parser_left_unread() {
        let data = vec![7u8; CHUNK * 3];
        let (mut stream, tx) = channel();
        let totals = std::thread::scope(|s| {
            let producer = s.spawn(|| pump(&data[..], None, tx));
            let mut first = [0u8; 10];
            stream.read_exact(&mut first).unwrap();
            stream.drain().unwrap();
            producer.join().unwrap().unwrap()
        });
        assert_eq!(totals, (data.len() as u64, None));
    }

    #[test]
    fn read_errors_reach_the_parser() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "corrupt deflate stream",
                ))
            }
        }
        let (mut stream, tx) = channel();
        std::thread::scope(|s| {
            let producer = s.spawn(|| pump(Broken, None, tx));
            let err = stream.fill_buf().unwrap_err();
            assert_eq!(err.to_string(), "corrupt deflate stream");
            assert!(producer.join().unwrap().is_err());
        });
    }
}
