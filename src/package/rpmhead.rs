//! Reading an RPM's headers safely. The rpm crate (0.30.2) slices a header's data store at
//! each index entry's offset without checking it, so a damaged or hostile package panics
//! the build instead of failing it (found by fuzzing: fuzz/regressions/rpm/). Before the
//! crate parses anything, this reads the lead, the signature header and the main header
//! (exactly those bytes, so a stream stays at the payload) and checks what rpm's own
//! `hdrchkTags`/`hdrchkData`/`hdrchkRange` check (lib/header.c): the entry count and data
//! size within rpm's limits, and every entry's offset inside its data store. Hand-rolled
//! because it is small and must match the format exactly; the crate does the real parsing.

use std::io::{self, BufRead, Read};
use std::path::Path;

/// The lead: a fixed 96 bytes, magic `ed ab ee db`.
const LEAD: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
/// A header's intro: magic `8e ad e8 01`, 4 reserved bytes, entry count, data size.
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// rpm's limits (lib/header.c: `hdrchkTags`, `hdrchkData`).
const MAX_TAGS: u32 = 0xffff;
const MAX_DATA: u32 = 0x0fff_ffff;

fn malformed(what: String) -> rpm::Error {
    rpm::Error::Io(io::Error::new(io::ErrorKind::InvalidData, what))
}

/// Append one header (intro, index, data store) from `r` to `out`, checked; `pad8` for
/// the signature header, which is padded to 8 bytes.
fn read_header(
    r: &mut impl Read,
    out: &mut Vec<u8>,
    which: &str,
    pad8: bool,
) -> Result<(), rpm::Error> {
    let mut intro = [0u8; 16];
    r.read_exact(&mut intro)
        .map_err(|e| malformed(format!("the {which} header is cut short ({e})")))?;
    if intro[..4] != HEADER_MAGIC {
        return Err(malformed(format!("the {which} header has no header magic")));
    }
    let tags = u32::from_be_bytes([intro[8], intro[9], intro[10], intro[11]]);
    let data = u32::from_be_bytes([intro[12], intro[13], intro[14], intro[15]]);
    if tags == 0 || tags > MAX_TAGS {
        return Err(malformed(format!("the {which} header has {tags} entries")));
    }
    if data > MAX_DATA {
        return Err(malformed(format!(
            "the {which} header has a {data}-byte data store"
        )));
    }
    out.extend_from_slice(&intro);
    let index_at = out.len();
    let pad = if pad8 { (8 - data % 8) % 8 } else { 0 };
    let rest = tags as usize * 16 + data as usize + pad as usize;
    let got = r
        .take(rest as u64)
        .read_to_end(out)
        .map_err(rpm::Error::Io)?;
    if got != rest {
        return Err(malformed(format!(
            "the {which} header is cut short ({got} of {rest} bytes)"
        )));
    }
    for i in 0..tags as usize {
        let e = &out[index_at + i * 16..index_at + (i + 1) * 16];
        let tag = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let offset = i32::from_be_bytes([e[8], e[9], e[10], e[11]]);
        if offset < 0 || offset as u32 > data {
            return Err(malformed(format!(
                "entry {i} (tag {tag}) of the {which} header points at byte {offset} of a \
                 {data}-byte data store"
            )));
        }
    }
    Ok(())
}

/// The lead and both headers of the RPM on `input`, checked, then parsed by the rpm crate.
/// `input` is left at the payload.
pub fn parse_metadata(input: &mut impl BufRead) -> Result<rpm::PackageMetadata, rpm::Error> {
    let mut head = vec![0u8; LEAD];
    input
        .read_exact(&mut head)
        .map_err(|e| malformed(format!("no RPM lead ({e})")))?;
    if head[..4] != LEAD_MAGIC {
        return Err(malformed("not an RPM file (no lead magic)".into()));
    }
    read_header(input, &mut head, "signature", true)?;
    read_header(input, &mut head, "main", false)?;
    rpm::PackageMetadata::parse(&mut head.as_slice())
}

/// [`parse_metadata`] of the file at `path`.
pub fn open_metadata(path: &Path) -> Result<rpm::PackageMetadata, rpm::Error> {
    let f = std::fs::File::open(path)?;
    parse_metadata(&mut io::BufReader::with_capacity(128 * 1024, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lead and a signature header whose one entry points past its 4-byte store.
    fn hostile(offset: i32) -> Vec<u8> {
        let mut v = vec![0u8; LEAD];
        v[..4].copy_from_slice(&LEAD_MAGIC);
        v.extend_from_slice(&HEADER_MAGIC);
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&4u32.to_be_bytes());
        v.extend_from_slice(&1000u32.to_be_bytes()); // tag
        v.extend_from_slice(&4u32.to_be_bytes()); // INT32
        v.extend_from_slice(&offset.to_be_bytes());
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&[0; 4]); // padding to 8
        v
    }

    #[test]
    fn an_offset_outside_the_store_is_an_error_not_a_panic() {
        let e = parse_metadata(&mut hostile(4096).as_slice()).unwrap_err();
        assert!(
            e.to_string()
                .contains("entry 0 (tag 1000) of the signature header points at byte 4096"),
            "{e}"
        );
        let e = parse_metadata(&mut hostile(-1).as_slice()).unwrap_err();
        assert!(e.to_string().contains("points at byte -1"), "{e}");
    }

    #[test]
    fn short_and_foreign_files_are_errors() {
        assert!(
            parse_metadata(&mut &b"hello"[..])
                .unwrap_err()
                .to_string()
                .contains("no RPM lead")
        );
        let mut v = hostile(0);
        v.truncate(LEAD + 20);
        assert!(
            parse_metadata(&mut v.as_slice())
                .unwrap_err()
                .to_string()
                .contains("cut short")
        );
    }

    /// A real package reads the same through the check as straight through the crate, and
    /// the stream is left at the payload.
    #[test]
    fn real_packages_parse_as_before() {
        let Some(fx) = std::env::var_os("DISKLESS_FIXTURES") else {
            return;
        };
        let dir = Path::new(&fx).join("rpm-rs/tests/assets/RPMS/v4");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut n = 0;
        for p in rd.flatten().map(|e| e.path()) {
            if p.extension().is_none_or(|x| x != "rpm") {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let Ok(want) = rpm::PackageMetadata::parse(&mut bytes.as_slice()) else {
                continue;
            };
            let mut input = bytes.as_slice();
            let got = parse_metadata(&mut input).unwrap();
            assert_eq!(
                got.get_nevra().ok(),
                want.get_nevra().ok(),
                "{}",
                p.display()
            );
            let mut rest = bytes.as_slice();
            rpm::PackageMetadata::parse(&mut rest).unwrap();
            assert_eq!(input.len(), rest.len(), "{}", p.display());
            n += 1;
        }
        assert!(n > 0, "no RPMs under {}", dir.display());
    }
}
