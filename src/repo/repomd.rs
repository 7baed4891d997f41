//! repomd.xml: the index of a repository's metadata files, each with its location,
//! checksum (of the file as stored), open-checksum (of its decompressed content) and sizes.

use super::checksum;
use super::xml::{XmlError, attr, parse_num, push_ref};
use crate::package::Checksum;
use quick_xml::Reader;
use quick_xml::events::Event;

/// A parsed repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repomd {
    /// `<revision>`, often a timestamp or a release name.
    pub revision: Option<String>,
    /// The `<data>` records in file order.
    pub records: Vec<DataRecord>,
}

/// One `<data type="…">` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRecord {
    /// `primary`, `filelists`, `group_gz`, `modules`, ...
    pub kind: String,
    /// `location href`, relative to the base URL (or to `location_base`).
    pub href: String,
    /// `location xml:base`.
    pub location_base: Option<String>,
    pub checksum: Checksum,
    pub open_checksum: Option<Checksum>,
    pub size: Option<u64>,
    pub open_size: Option<u64>,
}

impl Repomd {
    /// The first record of type `kind`.
    pub fn record(&self, kind: &str) -> Option<&DataRecord> {
        self.records.iter().find(|r| r.kind == kind)
    }

    /// Parse repomd.xml's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Repomd, XmlError> {
        let mut reader = Reader::from_reader(bytes);
        let mut buf = Vec::new();
        let mut revision = None;
        let mut records = Vec::new();
        let mut cur: Option<Partial> = None;
        // The element whose text we are collecting, and the text so far.
        let mut field: Option<Field> = None;
        let mut text = String::new();
        let mut saw_root = false;
        loop {
            let pos = reader.buffer_position();
            let ev = reader
                .read_event_into(&mut buf)
                .map_err(|e| XmlError::new(reader.error_position(), e.to_string()))?;
            match ev {
                Event::Start(e) | Event::Empty(e) => {
                    let name = e.local_name();
                    match name.as_ref() {
                        "repomd" => saw_root = true,
                        "revision" if cur.is_none() => {
                            start(&mut field, &mut text, Field::Revision)
                        }
                        "data" => {
                            let kind = attr(&e, "type", pos)?
                                .ok_or_else(|| XmlError::new(pos, "`<data>` without a `type`"))?;
                            cur = Some(Partial {
                                kind,
                                ..Partial::default()
                            });
                        }
                        "checksum" | "open-checksum" if cur.is_some() => {
                            let kind = attr(&e, "type", pos)?.unwrap_or_default();
                            if let Some(p) = cur.as_mut() {
                                if name.as_ref() == "checksum" {
                                    p.checksum_kind = Some(kind);
                                    start(&mut field, &mut text, Field::Checksum);
                                } else {
                                    p.open_checksum_kind = Some(kind);
                                    start(&mut field, &mut text, Field::OpenChecksum);
                                }
                            }
                        }
                        "location" => {
                            if let Some(p) = cur.as_mut() {
                                p.href = attr(&e, "href", pos)?;
                                p.location_base = attr(&e, "xml:base", pos)?;
                            }
                        }
                        "size" if cur.is_some() => start(&mut field, &mut text, Field::Size),
                        "open-size" if cur.is_some() => {
                            start(&mut field, &mut text, Field::OpenSize)
                        }
                        _ => {}
                    }
                }
                Event::Text(t) if field.is_some() => text.push_str(&t.xml10_content()),
                Event::CData(t) if field.is_some() => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) if field.is_some() => push_ref(&mut text, &r, pos)?,
                Event::End(e) => {
                    let name = e.local_name();
                    if let Some(f) = field.take() {
                        let value = std::mem::take(&mut text).trim().to_string();
                        match (f, cur.as_mut()) {
                            (Field::Revision, _) => revision = Some(value),
                            (Field::Checksum, Some(p)) => p.checksum = Some(value),
                            (Field::OpenChecksum, Some(p)) => p.open_checksum = Some(value),
                            (Field::Size, Some(p)) => {
                                p.size = parse_num(Some(value), "`<size>`", pos)?
                            }
                            (Field::OpenSize, Some(p)) => {
                                p.open_size = parse_num(Some(value), "`<open-size>`", pos)?
                            }
                            _ => {}
                        }
                    }
                    if name.as_ref() == "data" {
                        if let Some(p) = cur.take() {
                            records.push(p.finish(pos)?);
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        if !saw_root {
            return Err(XmlError::new(
                0,
                "no `<repomd>` element: this is not a repomd.xml",
            ));
        }
        Ok(Repomd { revision, records })
    }
}

#[derive(Clone, Copy)]
enum Field {
    Revision,
    Checksum,
    OpenChecksum,
    Size,
    OpenSize,
}

fn start(field: &mut Option<Field>, text: &mut String, f: Field) {
    *field = Some(f);
    text.clear();
}

#[derive(Default)]
struct Partial {
    kind: String,
    href: Option<String>,
    location_base: Option<String>,
    checksum_kind: Option<String>,
    checksum: Option<String>,
    open_checksum_kind: Option<String>,
    open_checksum: Option<String>,
    size: Option<u64>,
    open_size: Option<u64>,
}

impl Partial {
    fn finish(self, pos: u64) -> Result<DataRecord, XmlError> {
        let kind = self.kind;
        let href = self.href.ok_or_else(|| {
            XmlError::new(
                pos,
                format!("`<data type=\"{kind}\">` has no `<location href>`"),
            )
        })?;
        let (Some(ck), Some(cv)) = (self.checksum_kind, self.checksum) else {
            return Err(XmlError::new(
                pos,
                format!("`<data type=\"{kind}\">` has no `<checksum>`"),
            ));
        };
        let open_checksum = match (self.open_checksum_kind, self.open_checksum) {
            (Some(k), Some(v)) => Some(checksum::normalize(&k, &v)),
            _ => None,
        };
        Ok(DataRecord {
            kind,
            href,
            location_base: self.location_base,
            checksum: checksum::normalize(&ck, &cv),
            open_checksum,
            size: self.size,
            open_size: self.open_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_and_normalises_sha() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="primary">
    <checksum type="sha">ABCDEF</checksum>
    <open-checksum type="sha256">0123</open-checksum>
    <location xml:base="http://mirror/x/" href="repodata/p-primary.xml.gz"/>
    <size>42</size>
    <open-size>100</open-size>
  </data>
  <data type="group"><checksum type="sha256">ff</checksum><location href="repodata/comps.xml"/></data>
</repomd>"#;
        let md = Repomd::parse(xml).unwrap();
        assert_eq!(md.revision.as_deref(), Some("1700000000"));
        let p = md.record("primary").unwrap();
        assert_eq!(p.checksum.to_string(), "sha1:abcdef");
        assert_eq!(p.open_checksum.as_ref().unwrap().to_string(), "sha256:0123");
        assert_eq!(p.location_base.as_deref(), Some("http://mirror/x/"));
        assert_eq!((p.size, p.open_size), (Some(42), Some(100)));
        assert_eq!(md.record("group").unwrap().size, None);
    }

    #[test]
    fn not_a_repomd() {
        let err = Repomd::parse(b"<html><body>404</body></html>").unwrap_err();
        assert!(err.message.contains("not a repomd.xml"), "{}", err.message);
        let err =
            Repomd::parse(b"<repomd><data type=\"primary\"><location href=\"x\"/></data></repomd>")
                .unwrap_err();
        assert!(
            err.message.contains("has no `<checksum>`"),
            "{}",
            err.message
        );
    }
}
