//! primary.xml parsed on all cores: the decompressed stream is cut into segments of about
//! a megabyte, each ending right after a `</package>` end tag, and the segments are parsed
//! by [`super::primary::parse_slice`] on one thread per core, the results put back in
//! file order.
//!
//! A cut is only made where it is certainly between two top-level `<package>` elements:
//! text and attribute values cannot hold a literal `<`, so `</package>` is an end tag unless
//! it sits in a comment, CDATA section or processing instruction, and cutting stops for
//! good at the first `<!` or `<?` after the XML declaration. A middle segment is parsed
//! wrapped in `<metadata>`…`</metadata>` (it starts and ends inside the root element).
//! When any segment fails, the caller parses the whole file again sequentially, so errors
//! (message, offset) are exactly those of the sequential parser.

use super::primary::{self, Primary};
use super::xml::XmlError;
use memchr::memmem;
use std::io::BufRead;
use std::sync::{Mutex, mpsc};

/// Bytes of XML per segment (about 300 packages of a RHEL primary.xml).
const SEGMENT: usize = 1 << 20;
/// Segments parsed or waiting at once: bounds the memory held beyond the records.
const IN_FLIGHT: usize = 4;
const END_TAG: &[u8] = b"</package>";
const OPEN: &[u8] = b"<metadata>";
const CLOSE: &[u8] = b"</metadata>";
/// Room for a segment: its megabyte, the chunk that crossed it, and the wrapper.
const CAPACITY: usize = SEGMENT + 512 * 1024;

type SegmentResult = (usize, Result<Primary, XmlError>);

/// Parse primary.xml from `input` on all cores; the same records in the same order as
/// [`primary::parse`], or an error (then parse sequentially for the exact error).
pub fn parse<R: BufRead>(mut input: R, repo: &str) -> Result<Primary, XmlError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    // (index, segment): a bounded queue, so the reader waits for the parsers.
    let (seg_tx, seg_rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(IN_FLIGHT);
    let seg_rx = Mutex::new(seg_rx);
    let (res_tx, res_rx) = mpsc::channel::<SegmentResult>();
    let mut read_error = None;
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (res_tx, seg_rx) = (res_tx.clone(), &seg_rx);
            s.spawn(move || {
                loop {
                    let job = match seg_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((index, bytes)) = job else {
                        return;
                    };
                    let parsed = primary::parse_slice(&bytes, repo);
                    if res_tx.send((index, parsed)).is_err() {
                        return;
                    }
                }
            });
        }
        let mut seg: Vec<u8> = Vec::with_capacity(CAPACITY);
        let mut scanned = 0usize;
        let mut cutting = true;
        let mut index = 0usize;
        let mut offset = 0u64;
        loop {
            let n = match input.fill_buf() {
                Ok([]) => break,
                Ok(buf) => {
                    seg.extend_from_slice(buf);
                    buf.len()
                }
                Err(e) => {
                    read_error = Some(XmlError::new(offset, e.to_string()));
                    break;
                }
            };
            input.consume(n);
            offset += n as u64;
            if !cutting || seg.len() < SEGMENT {
                continue;
            }
            // Look for `<!` / `<?` in what is new (one byte back: a pair split by a chunk).
            let from = if index == 0 && scanned == 0 {
                after_xml_declaration(&seg)
            } else {
                scanned.saturating_sub(1)
            };
            if has_markup_declaration(&seg[from..]) {
                cutting = false;
                continue;
            }
            scanned = seg.len();
            if let Some(at) = memmem::rfind(&seg, END_TAG) {
                // The next segment starts inside the root element: open it there, and
                // close it after this one, so that each is a document of its own.
                let mut next = Vec::with_capacity(CAPACITY);
                next.extend_from_slice(OPEN);
                next.extend_from_slice(&seg[at + END_TAG.len()..]);
                seg.truncate(at + END_TAG.len());
                seg.extend_from_slice(CLOSE);
                let full = std::mem::replace(&mut seg, next);
                scanned = 0;
                if seg_tx.send((index, full)).is_err() {
                    break;
                }
                index += 1;
            }
        }
        if read_error.is_none() {
            let _ = seg_tx.send((index, std::mem::take(&mut seg)));
        }
        // Hang up: the workers finish what is queued and stop.
        drop(seg_tx);
    });
    drop(res_tx);
    if let Some(e) = read_error {
        return Err(e);
    }
    let mut results: Vec<Option<Result<Primary, XmlError>>> = Vec::new();
    for r in res_rx.try_iter() {
        store(&mut results, r);
    }
    let mut out = Primary {
        packages: Vec::new(),
        declared: None,
    };
    for (i, r) in results.into_iter().enumerate() {
        let seg = r.ok_or_else(|| XmlError::new(0, format!("segment {i} was not parsed")))??;
        if i == 0 {
            out.declared = seg.declared;
            out.packages = seg.packages;
        } else {
            out.packages.extend(seg.packages);
        }
    }
    Ok(out)
}

fn store(results: &mut Vec<Option<Result<Primary, XmlError>>>, (i, r): SegmentResult) {
    if results.len() <= i {
        results.resize_with(i + 1, || None);
    }
    results[i] = Some(r);
}

/// Where scanning for markup declarations starts in the first segment: after a leading
/// `<?xml …?>` (and a UTF-8 byte order mark), which every primary.xml has.
fn after_xml_declaration(seg: &[u8]) -> usize {
    let start = if seg.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    if seg[start..].starts_with(b"<?xml") {
        if let Some(end) = memmem::find(&seg[start..], b"?>") {
            return start + end + 2;
        }
    }
    0
}

/// A comment, CDATA section, DOCTYPE or processing instruction starts in `bytes`.
fn has_markup_declaration(bytes: &[u8]) -> bool {
    memmem::find(bytes, b"<!").is_some() || memmem::find(bytes, b"<?").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A primary.xml of `n` packages, big enough for several segments.
    fn document(n: usize, extra: &str) -> String {
        let mut s = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"",
        );
        s.push_str(&format!("{n}\">\n"));
        for i in 0..n {
            if i == n / 2 {
                s.push_str(extra);
            }
            s.push_str(&format!(
                "<package type=\"rpm\"><name>p{i}</name><arch>noarch</arch><version epoch=\"0\" ver=\"1.{i}\" rel=\"1\"/><checksum type=\"sha256\" pkgid=\"YES\">{i:064x}</checksum><summary>pkg {i} &amp; more</summary><description>{}</description><location href=\"p{i}.rpm\"/><format><rpm:provides><rpm:entry name=\"p{i}\" flags=\"EQ\" epoch=\"0\" ver=\"1.{i}\" rel=\"1\"/></rpm:provides><rpm:requires><rpm:entry name=\"p{}\"/></rpm:requires><file>/usr/bin/p{i}</file></format></package>\n",
                "x".repeat(3000),
                i / 2
            ));
        }
        s.push_str("</metadata>\n");
        s
    }

    fn same(a: &Primary, b: &Primary) {
        assert_eq!(a.declared, b.declared);
        assert_eq!(a.packages.len(), b.packages.len());
        for (x, y) in a.packages.iter().zip(&b.packages) {
            assert_eq!(format!("{x:?}"), format!("{y:?}"));
        }
    }

    #[test]
    fn segments_give_the_sequential_records_in_order() {
        let doc = document(2000, "");
        assert!(doc.len() > 4 * SEGMENT, "several segments");
        let par = parse(doc.as_bytes(), "r").unwrap();
        let seq = primary::parse(doc.as_bytes(), "r").unwrap();
        assert_eq!(par.packages.len(), 2000);
        same(&par, &seq);
    }

    #[test]
    fn a_comment_stops_cutting_and_still_parses_the_same() {
        let doc = document(2000, "<!-- </package> -->\n");
        let par = parse(doc.as_bytes(), "r").unwrap();
        let seq = primary::parse(doc.as_bytes(), "r").unwrap();
        same(&par, &seq);
    }

    #[test]
    fn a_broken_segment_is_an_error() {
        let doc = document(2000, "<package><name>x</nam></package>\n");
        assert!(primary::parse(doc.as_bytes(), "r").is_err());
        assert!(parse(doc.as_bytes(), "r").is_err());
    }
}
