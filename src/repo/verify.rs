//! A full check of any `<data>` record, whatever its type: the file exists, its size and
//! checksum match repomd.xml, it decompresses to the stated open-size and open-checksum,
//! and, for package lists (primary, filelists, other), the `packages="N"` count matches
//! the `<package>` elements. `load` checks the same for the files it reads; this covers
//! the rest (other.xml, sqlite, updateinfo) too.

use super::xml::{XmlError, parse_num};
use super::{DataRecord, LoadOptions, RecordReader, RepoError};
use crate::codec::Compression;
use quick_xml::Reader;
use quick_xml::events::Event;
use std::io::BufRead;

/// What a successful check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCheck {
    /// For package lists: the number of `<package>` elements.
    pub packages: Option<u64>,
}

/// Check one record of the repository at `baseurl`.
pub fn check_record(
    baseurl: &str,
    rec: &DataRecord,
    options: &LoadOptions,
) -> Result<RecordCheck, RepoError> {
    // A plain client (no TLS client certificate): for checking repositories of any origin.
    let transport = crate::net::Transport::new(
        &crate::net::TlsConfig::default(),
        &crate::net::Proxy::Environment,
        crate::net::Timeouts::default(),
    )
    .map_err(|e| RepoError::Download {
        url: baseurl.to_string(),
        source: Box::new(e),
    })?;
    let reader = RecordReader {
        baseurl,
        options,
        transport: &transport,
    };
    if Compression::from_name(&rec.href) == Compression::Zchunk {
        // zchunk can't be decompressed here; its stored checksum and size still can.
        let url = reader.url(rec)?;
        reader.local_copy(rec, &url)?;
        return Ok(RecordCheck { packages: None });
    }
    let is_list = rec.href.contains(".xml")
        && ["primary", "filelists", "other", "filelists-ext"].contains(&rec.kind.as_str());
    let (url, counted) = reader.read(rec, |r| {
        if is_list {
            count_packages(r).map(Some)
        } else {
            Ok(None)
        }
    })?;
    if let Some((declared, actual)) = counted {
        if let Some(d) = declared {
            if d != actual {
                return Err(RepoError::PackageCount {
                    url,
                    declared: d,
                    actual,
                });
            }
        }
        return Ok(RecordCheck {
            packages: Some(actual),
        });
    }
    Ok(RecordCheck { packages: None })
}

/// The root's `packages` attribute and the number of `<package>` children.
fn count_packages<R: BufRead>(input: R) -> Result<(Option<u64>, u64), XmlError> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut declared = None;
    let mut count = 0;
    loop {
        let pos = reader.buffer_position();
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlError::new(reader.error_position(), e.to_string()))?
        {
            Event::Start(e) => {
                if depth == 0 {
                    declared =
                        parse_num(super::xml::attr(&e, "packages", pos)?, "`packages`", pos)?;
                } else if depth == 1 && e.local_name().as_ref() == "package" {
                    count += 1;
                }
                depth += 1;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    declared =
                        parse_num(super::xml::attr(&e, "packages", pos)?, "`packages`", pos)?;
                } else if depth == 1 && e.local_name().as_ref() == "package" {
                    count += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok((declared, count))
}
