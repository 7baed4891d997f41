//! RPM headers as bytes: read the signature and main headers of a package file as they are
//! stored, and write the header blob rpm keeps in its database for an installed package.
//!
//! rpm stores an installed package's header as `headerExport` writes it (lib/header.c,
//! `doExport`): the package's immutable region (every index entry and every data byte of
//! the main header, unchanged, so its digests and signatures still verify) followed by the
//! tags added at install time ("dribbles"): their index entries after the region's, sorted
//! by tag, and their data after the region's data, each aligned to its type's size
//! relative to the start of the data.

/// Header entry types (rpm's `rpmTagType`).
pub mod ty {
    pub const CHAR: u32 = 1;
    pub const INT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const INT32: u32 = 4;
    pub const INT64: u32 = 5;
    pub const STRING: u32 = 6;
    pub const BIN: u32 = 7;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// The tags the database code reads or writes (lib/rpmtag.h).
pub mod tag {
    pub const HEADERIMAGE: u32 = 61;
    pub const HEADERIMMUTABLE: u32 = 63;
    pub const HEADERI18NTABLE: u32 = 100;
    pub const SIGSIZE: u32 = 257;
    pub const SIGPGP: u32 = 259;
    pub const SIGMD5: u32 = 261;
    pub const SIGGPG: u32 = 262;
    pub const DSAHEADER: u32 = 267;
    pub const RSAHEADER: u32 = 268;
    pub const SHA1HEADER: u32 = 269;
    pub const LONGSIGSIZE: u32 = 270;
    pub const LONGARCHIVESIZE: u32 = 271;
    pub const SHA256HEADER: u32 = 273;
    pub const SIG_FILESIGNATURES: u32 = 274;
    pub const SIG_FILESIGNATURELENGTH: u32 = 275;
    pub const VERITYSIGNATURES: u32 = 276;
    pub const VERITYSIGNATUREALGO: u32 = 277;
    pub const SIG_SIZE: u32 = 1000;
    pub const SIG_PGP: u32 = 1002;
    pub const SIG_MD5: u32 = 1004;
    pub const SIG_GPG: u32 = 1005;
    pub const SIG_PAYLOADSIZE: u32 = 1007;
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const INSTALLTIME: u32 = 1008;
    pub const GROUP: u32 = 1016;
    pub const ARCH: u32 = 1022;
    pub const FILEMODES: u32 = 1030;
    pub const FILESTATES: u32 = 1029;
    pub const FILEFLAGS: u32 = 1037;
    pub const SOURCERPM: u32 = 1044;
    pub const ARCHIVESIZE: u32 = 1046;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIREFLAGS: u32 = 1048;
    pub const REQUIRENAME: u32 = 1049;
    pub const CONFLICTNAME: u32 = 1054;
    pub const TRIGGERNAME: u32 = 1066;
    pub const OLDFILENAMES: u32 = 1027;
    pub const OBSOLETENAME: u32 = 1090;
    pub const PREFIXES: u32 = 1098;
    pub const INSTPREFIXES: u32 = 1099;
    pub const SOURCEPACKAGE: u32 = 1106;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const INSTALLCOLOR: u32 = 1127;
    pub const INSTALLTID: u32 = 1128;
    pub const FILECOLORS: u32 = 1140;
    pub const FILELANGS: u32 = 1097;
    pub const RECOMMENDNAME: u32 = 5046;
    pub const SUGGESTNAME: u32 = 5049;
    pub const SUPPLEMENTNAME: u32 = 5052;
    pub const ENHANCENAME: u32 = 5055;
    pub const FILETRIGGERNAME: u32 = 5069;
    pub const FILETRIGGERINDEX: u32 = 5070;
    pub const TRANSFILETRIGGERNAME: u32 = 5079;
    pub const TRANSFILETRIGGERINDEX: u32 = 5080;
    pub const FILESIGNATURES: u32 = 5090;
    pub const FILESIGNATURELENGTH: u32 = 5091;
}

const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
/// rpm's limits (`hdrchkTags`, `hdrchkData`).
const MAX_TAGS: u32 = 0xffff;
const MAX_DATA: u32 = 0x0fff_ffff;

/// One index entry, in host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub tag: u32,
    pub ty: u32,
    pub offset: i32,
    pub count: u32,
}

/// A header as stored: its index entries and its data area.
#[derive(Debug, Clone, Default)]
pub struct RawHeader {
    pub entries: Vec<IndexEntry>,
    pub data: Vec<u8>,
}

/// A tag added to a header (in host form: numbers as values, strings with their NULs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub tag: u32,
    pub ty: u32,
    pub count: u32,
    /// The bytes as the blob stores them (big-endian numbers).
    pub data: Vec<u8>,
}

impl Added {
    pub fn u32s(tag: u32, values: &[u32]) -> Added {
        Added {
            tag,
            ty: ty::INT32,
            count: values.len() as u32,
            data: values.iter().flat_map(|v| v.to_be_bytes()).collect(),
        }
    }
    pub fn chars(tag: u32, values: &[u8]) -> Added {
        Added {
            tag,
            ty: ty::CHAR,
            count: values.len() as u32,
            data: values.to_vec(),
        }
    }
    pub fn string(tag: u32, s: &[u8]) -> Added {
        let mut data = s.to_vec();
        data.push(0);
        Added {
            tag,
            ty: ty::STRING,
            count: 1,
            data,
        }
    }
    pub fn string_array(tag: u32, values: &[&[u8]]) -> Added {
        let mut data = Vec::new();
        for v in values {
            data.extend_from_slice(v);
            data.push(0);
        }
        Added {
            tag,
            ty: ty::STRING_ARRAY,
            count: values.len() as u32,
            data,
        }
    }
}

/// Why a header cannot be read or stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("not an RPM package (no lead)")]
    NoLead,
    #[error("malformed {which} header: {reason}")]
    Malformed { which: &'static str, reason: String },
    #[error("no immutable header region (an RPM v3 package, which rpm converts on install)")]
    Legacy,
    #[error("{0}")]
    Signature(String),
}

fn malformed(which: &'static str, reason: impl Into<String>) -> BlobError {
    BlobError::Malformed {
        which,
        reason: reason.into(),
    }
}

/// `typeSizes` / `typeAlign` of lib/header.c: the alignment of a type's data.
fn type_size(t: u32) -> usize {
    match t {
        ty::INT16 => 2,
        ty::INT32 => 4,
        ty::INT64 => 8,
        _ => 1,
    }
}

fn align(len: usize, t: u32) -> usize {
    let s = type_size(t);
    (s - len % s) % s
}

impl RawHeader {
    /// Parse a header from `bytes` (starting at the 8-byte header magic); returns it and
    /// the number of bytes it occupies (magic, counts, index and data, without padding).
    pub fn parse(bytes: &[u8], which: &'static str) -> Result<(RawHeader, usize), BlobError> {
        let m = |r: &str| malformed(which, r);
        if bytes.len() < 16 || bytes[..3] != HEADER_MAGIC[..3] {
            return Err(m("no header magic"));
        }
        let be =
            |o: usize| u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let (il, dl) = (be(8), be(12));
        if il == 0 || il > MAX_TAGS || dl > MAX_DATA {
            return Err(m(&format!("{il} entries and {dl} data bytes")));
        }
        let (il, dl) = (il as usize, dl as usize);
        let total = 16 + il * 16 + dl;
        if bytes.len() < total {
            return Err(m("truncated"));
        }
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let o = 16 + i * 16;
            let e = IndexEntry {
                tag: be(o),
                ty: be(o + 4),
                offset: be(o + 8) as i32,
                count: be(o + 12),
            };
            if !(1..=9).contains(&e.ty) && e.ty != 0 {
                return Err(m(&format!("tag {} has type {}", e.tag, e.ty)));
            }
            entries.push(e);
        }
        let data = bytes[16 + il * 16..total].to_vec();
        let h = RawHeader { entries, data };
        // Every entry's data must lie inside the data area (rpm's `hdrchkRange`).
        for e in h.entries.iter().skip(1) {
            h.entry_bytes(e).map_err(|r| m(&r))?;
        }
        Ok((h, total))
    }

    pub fn find(&self, tag: u32) -> Option<&IndexEntry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    /// The data bytes of `e` (`dataLength` of lib/header.c).
    pub fn entry_bytes(&self, e: &IndexEntry) -> Result<&[u8], String> {
        let start = usize::try_from(e.offset)
            .ok()
            .filter(|&o| o <= self.data.len())
            .ok_or_else(|| format!("tag {} points outside the data", e.tag))?;
        let rest = &self.data[start..];
        let n = e.count as usize;
        let len = match e.ty {
            ty::CHAR | ty::INT8 | ty::BIN => n,
            ty::INT16 => n * 2,
            ty::INT32 => n * 4,
            ty::INT64 => n * 8,
            ty::STRING | ty::STRING_ARRAY | ty::I18NSTRING => {
                let strings = if e.ty == ty::STRING { 1 } else { n };
                let mut len = 0;
                for _ in 0..strings {
                    let nul = rest[len..]
                        .iter()
                        .position(|&b| b == 0)
                        .ok_or_else(|| format!("tag {}: unterminated string", e.tag))?;
                    len += nul + 1;
                }
                len
            }
            _ => 0,
        };
        rest.get(..len)
            .ok_or_else(|| format!("tag {} runs past the data", e.tag))
    }

    fn data_of(&self, tag: u32) -> Option<(&IndexEntry, &[u8])> {
        let e = self.find(tag)?;
        self.entry_bytes(e).ok().map(|d| (e, d))
    }

    /// A string or string array tag's strings (the first locale's for I18N strings).
    pub fn strings(&self, tag: u32) -> Vec<&[u8]> {
        match self.data_of(tag) {
            Some((e, d)) if matches!(e.ty, ty::STRING | ty::STRING_ARRAY | ty::I18NSTRING) => {
                let mut v: Vec<&[u8]> = d.split(|&b| b == 0).collect();
                v.pop(); // after the last NUL
                if e.ty == ty::I18NSTRING {
                    v.truncate(1);
                }
                v
            }
            _ => Vec::new(),
        }
    }

    pub fn string(&self, tag: u32) -> Option<&[u8]> {
        self.strings(tag).into_iter().next()
    }

    pub fn u32s(&self, tag: u32) -> Vec<u32> {
        match self.data_of(tag) {
            Some((e, d)) if e.ty == ty::INT32 => d
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn u16s(&self, tag: u32) -> Vec<u16> {
        match self.data_of(tag) {
            Some((e, d)) if e.ty == ty::INT16 => d
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn bin(&self, tag: u32) -> Option<&[u8]> {
        self.data_of(tag)
            .filter(|(e, _)| e.ty == ty::BIN)
            .map(|(_, d)| d)
    }

    /// The number of entries of the immutable region (rpm's `ril`), checking the region
    /// as `hdrblobVerifyRegion` and `hdrblobImport` do. `Err(Legacy)`: no region at all.
    fn region_entries(&self) -> Result<usize, BlobError> {
        let m = |r: String| malformed("main", r);
        let first = self.entries[0];
        if first.tag >= tag::HEADERI18NTABLE {
            return Err(BlobError::Legacy);
        }
        if !(first.tag == tag::HEADERIMMUTABLE || first.tag == tag::HEADERIMAGE)
            || first.ty != ty::BIN
            || first.count != 16
        {
            return Err(m(format!("region tag {} is not rpm's", first.tag)));
        }
        let off = usize::try_from(first.offset)
            .ok()
            .filter(|o| o + 16 <= self.data.len())
            .ok_or_else(|| m("region trailer outside the data".into()))?;
        let t = &self.data[off..off + 16];
        let be = |o: usize| u32::from_be_bytes([t[o], t[o + 1], t[o + 2], t[o + 3]]);
        let trailer_off = be(8) as i32;
        if be(0) != first.tag || be(4) != ty::BIN || be(12) != 16 || trailer_off >= 0 {
            return Err(m("bad region trailer".into()));
        }
        let ril = (-(trailer_off as i64) / 16) as usize;
        if ril == 0 || ril > self.entries.len() || (-(trailer_off as i64)) % 16 != 0 {
            return Err(m(format!("region of {ril} entries")));
        }
        Ok(ril)
    }
}

/// Read the signature and main headers of the package in `bytes` (a prefix of the file
/// that holds both).
pub fn parse_package(bytes: &[u8]) -> Result<(RawHeader, RawHeader), BlobError> {
    if bytes.len() < 96 || bytes[..4] != LEAD_MAGIC {
        return Err(BlobError::NoLead);
    }
    let (sig, sig_len) = RawHeader::parse(&bytes[96..], "signature")?;
    // The signature header is padded to a multiple of 8 bytes.
    let start = 96 + sig_len + (8 - sig_len % 8) % 8;
    let (main, _) = RawHeader::parse(bytes.get(start..).unwrap_or(&[]), "main")?;
    Ok((sig, main))
}

/// How many bytes of a package file hold its lead and both headers (to read no payload).
pub fn headers_len(prefix: &[u8]) -> Option<usize> {
    let be = |b: &[u8], o: usize| -> Option<usize> {
        Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?) as usize)
    };
    let sig = 96;
    let sig_len = 16 + be(prefix, sig + 8)? * 16 + be(prefix, sig + 12)?;
    let main = sig + sig_len + (8 - sig_len % 8) % 8;
    Some(main + 16 + be(prefix, main + 8)? * 16 + be(prefix, main + 12)?)
}

/// Signature tags merged into the main header when rpm reads a package
/// (`headerMergeLegacySigs`, lib/package.c, rpm 4.18's table): signature tag, header tag,
/// required count (0: any), whether the header tag may already be in the main header
/// (rpm's "quirk": then the signature header must not have it), and the header tag's type.
const XLATE: [(u32, u32, u32, bool, u32); 15] = [
    (tag::SIG_SIZE, tag::SIGSIZE, 1, false, ty::INT32),
    (tag::SIG_PGP, tag::SIGPGP, 0, false, ty::BIN),
    (tag::SIG_MD5, tag::SIGMD5, 16, false, ty::BIN),
    (tag::SIG_GPG, tag::SIGGPG, 0, false, ty::BIN),
    (tag::SIG_PAYLOADSIZE, tag::ARCHIVESIZE, 1, true, ty::INT32),
    (
        tag::SIG_FILESIGNATURES,
        tag::FILESIGNATURES,
        0,
        true,
        ty::STRING_ARRAY,
    ),
    (
        tag::SIG_FILESIGNATURELENGTH,
        tag::FILESIGNATURELENGTH,
        1,
        true,
        ty::INT32,
    ),
    (
        tag::VERITYSIGNATURES,
        tag::VERITYSIGNATURES,
        0,
        false,
        ty::STRING_ARRAY,
    ),
    (
        tag::VERITYSIGNATUREALGO,
        tag::VERITYSIGNATUREALGO,
        1,
        false,
        ty::INT32,
    ),
    (tag::SHA1HEADER, tag::SHA1HEADER, 1, false, ty::STRING),
    (tag::SHA256HEADER, tag::SHA256HEADER, 1, false, ty::STRING),
    (tag::DSAHEADER, tag::DSAHEADER, 0, false, ty::BIN),
    (tag::RSAHEADER, tag::RSAHEADER, 0, false, ty::BIN),
    (tag::LONGSIGSIZE, tag::LONGSIGSIZE, 1, false, ty::INT64),
    (
        tag::LONGARCHIVESIZE,
        tag::LONGARCHIVESIZE,
        1,
        false,
        ty::INT64,
    ),
];

/// The signature-header tags rpm copies into the main header when it reads the package.
pub fn merged_signature_tags(sig: &RawHeader, main: &RawHeader) -> Result<Vec<Added>, BlobError> {
    for &(stag, xtag, _, quirk, _) in &XLATE {
        if main.find(xtag).is_some() && !(quirk && sig.find(stag).is_none()) {
            return Err(BlobError::Signature(format!(
                "signature tag {xtag} is in the main header too"
            )));
        }
    }
    let mut out = Vec::new();
    for &(stag, xtag, count, _, want) in &XLATE {
        let Some(e) = sig.find(stag) else { continue };
        let bad = |why: &str| BlobError::Signature(format!("invalid signature tag {xtag}: {why}"));
        if e.ty != want {
            return Err(bad("wrong type"));
        }
        if e.count < 1 || e.count > 16 * 1024 * 1024 || (count != 0 && e.count != count) {
            return Err(bad("wrong count"));
        }
        let data = sig.entry_bytes(e).map_err(|r| bad(&r))?.to_vec();
        out.push(Added {
            tag: xtag,
            ty: e.ty,
            count: e.count,
            data,
        });
    }
    Ok(out)
}

/// The blob rpm stores for `main` with `added` tags (`headerExport` of a header whose
/// entries all lie in its immutable region, plus dribbles).
pub fn export(main: &RawHeader, added: &[Added]) -> Result<Vec<u8>, BlobError> {
    let ril = main.region_entries()?;
    if ril != main.entries.len() {
        return Err(malformed("main", "entries outside the immutable region"));
    }
    // The region's data length as `regionSwab` counts it: entry lengths with alignment,
    // in index order; rpm refuses a header where that plus the trailer is not the data.
    let mut rdlen = 0usize;
    for e in &main.entries[1..] {
        rdlen += align(rdlen, e.ty);
        rdlen += main.entry_bytes(e).map_err(|r| malformed("main", r))?.len();
    }
    if rdlen + 16 != main.data.len() || main.entries[0].offset as usize != rdlen {
        return Err(malformed(
            "main",
            "region data is not laid out as rpm writes it",
        ));
    }
    let mut added: Vec<&Added> = added.iter().collect();
    added.sort_by_key(|a| a.tag);
    let mut data = main.data.clone();
    let mut index = Vec::with_capacity((main.entries.len() + added.len()) * 16);
    let mut put = |e: IndexEntry| {
        index.extend_from_slice(&e.tag.to_be_bytes());
        index.extend_from_slice(&e.ty.to_be_bytes());
        index.extend_from_slice(&e.offset.to_be_bytes());
        index.extend_from_slice(&e.count.to_be_bytes());
    };
    for e in &main.entries {
        put(*e);
    }
    for a in added {
        data.resize(data.len() + align(data.len(), a.ty), 0);
        put(IndexEntry {
            tag: a.tag,
            ty: a.ty,
            offset: data.len() as i32,
            count: a.count,
        });
        data.extend_from_slice(&a.data);
    }
    let il = (index.len() / 16) as u32;
    if il > MAX_TAGS || data.len() > MAX_DATA as usize {
        return Err(malformed("main", "too large once installed"));
    }
    let mut blob = Vec::with_capacity(8 + index.len() + data.len());
    blob.extend_from_slice(&il.to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header blob as rpmbuild writes one: region tag first, then the entries in tag
    /// order, data in index order with alignment, the trailer last.
    pub(crate) fn build(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, t, count, bytes) in entries {
            data.resize(data.len() + align(data.len(), *t), 0);
            index.push(IndexEntry {
                tag: *tag,
                ty: *t,
                offset: data.len() as i32,
                count: *count,
            });
            data.extend_from_slice(bytes);
        }
        let il = entries.len() as u32 + 1;
        let trailer_at = data.len() as i32;
        for v in [
            tag::HEADERIMMUTABLE,
            ty::BIN,
            (-(il as i32 * 16)) as u32,
            16,
        ] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let mut out = HEADER_MAGIC.to_vec();
        out.extend_from_slice(&il.to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut push = |e: IndexEntry| {
            for v in [e.tag, e.ty, e.offset as u32, e.count] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        };
        push(IndexEntry {
            tag: tag::HEADERIMMUTABLE,
            ty: ty::BIN,
            offset: trailer_at,
            count: 16,
        });
        for e in index {
            push(e);
        }
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn export_appends_sorted_aligned_dribbles_after_the_region() {
        let bytes = build(&[
            (tag::NAME, ty::STRING, 1, b"abc\0".to_vec()),
            (tag::DIRINDEXES, ty::INT32, 1, 0u32.to_be_bytes().to_vec()),
        ]);
        let (h, n) = RawHeader::parse(&bytes, "main").unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(h.string(tag::NAME), Some(&b"abc"[..]));
        let blob = export(
            &h,
            &[
                Added::u32s(tag::INSTALLTID, &[7]),
                Added::chars(tag::FILESTATES, &[0, 2, 4]),
            ],
        )
        .unwrap();
        // The stored blob is the header without its magic, two entries longer.
        assert_eq!(&blob[0..4], &5u32.to_be_bytes());
        assert_eq!(&blob[8..8 + 3 * 16], &bytes[16..16 + 3 * 16]);
        let mut again = HEADER_MAGIC.to_vec();
        again.extend_from_slice(&blob);
        let (x, _) = RawHeader::parse(&again, "db").unwrap();
        assert_eq!(x.entries[3].tag, tag::FILESTATES, "dribbles sorted by tag");
        assert_eq!(x.entries[4].tag, tag::INSTALLTID);
        assert_eq!(x.entries[4].offset % 4, 0, "INT32 data aligned");
        assert_eq!(x.u32s(tag::INSTALLTID), vec![7]);
        assert_eq!(x.bin(tag::FILESTATES), None);
        assert_eq!(
            &x.data[..h.data.len()],
            &h.data[..],
            "region data unchanged"
        );
    }

    #[test]
    fn signature_tags_are_renumbered_and_checked() {
        let sig_bytes = build(&[
            (tag::SHA1HEADER, ty::STRING, 1, b"00ff\0".to_vec()),
            (tag::SIG_SIZE, ty::INT32, 1, 9u32.to_be_bytes().to_vec()),
            (tag::SIG_MD5, ty::BIN, 16, vec![1; 16]),
        ]);
        let (sig, _) = RawHeader::parse(&sig_bytes, "signature").unwrap();
        let (main, _) = RawHeader::parse(
            &build(&[(tag::NAME, ty::STRING, 1, b"a\0".to_vec())]),
            "main",
        )
        .unwrap();
        let tags: Vec<(u32, u32)> = merged_signature_tags(&sig, &main)
            .unwrap()
            .iter()
            .map(|a| (a.tag, a.count))
            .collect();
        assert_eq!(
            tags,
            vec![(tag::SIGSIZE, 1), (tag::SIGMD5, 16), (tag::SHA1HEADER, 1)]
        );
        let bad = build(&[(tag::SIG_MD5, ty::BIN, 15, vec![1; 15])]);
        let (bad, _) = RawHeader::parse(&bad, "signature").unwrap();
        assert!(merged_signature_tags(&bad, &main).is_err());
    }
}
