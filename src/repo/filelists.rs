//! filelists.xml: every file of every package. Big (hundreds of MB unpacked for a full
//! distribution) and needed only for file dependencies that primary.xml's file subset
//! cannot answer, so [`super::RepoData::filelists`] reads it lazily, as a stream.

use super::xml::{XmlError, attr, parse_num, push_ref};
use crate::package::Evr;
use quick_xml::Reader;
use quick_xml::events::Event;
use std::io::BufRead;

/// The parsed filelists.xml of one repository.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct FileLists {
    pub packages: Vec<FilelistPackage>,
    /// The `packages="N"` count the root element claims.
    pub declared: Option<u64>,
}

/// The files of one package; `pkgid` is the package checksum that primary.xml also has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilelistPackage {
    pub pkgid: String,
    pub name: String,
    pub arch: String,
    pub evr: Evr,
    /// Files, directories and ghosts alike: each satisfies a file dependency.
    pub files: Vec<String>,
}

/// Parse filelists.xml from `input` (already decompressed).
pub fn parse<R: BufRead>(input: R) -> Result<FileLists, XmlError> {
    let mut packages = Vec::new();
    let declared = parse_each(input, |p| packages.push(p))?;
    Ok(FileLists { packages, declared })
}

/// Parse filelists.xml from `input`, handing each package to `each` as it is read (so a
/// caller that indexes the files can take the strings instead of copying them); returns
/// the `packages="N"` count the root element claims.
pub fn parse_each<R: BufRead>(
    input: R,
    mut each: impl FnMut(FilelistPackage),
) -> Result<Option<u64>, XmlError> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::with_capacity(4096);
    let mut declared = None;
    let mut cur: Option<FilelistPackage> = None;
    let mut in_file = false;
    let mut text = String::new();
    let mut saw_root = false;
    loop {
        let pos = reader.buffer_position();
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlError::new(reader.error_position(), e.to_string()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.local_name().as_ref() {
                    "filelists" => {
                        saw_root = true;
                        declared = parse_num(attr(e, "packages", pos)?, "`packages`", pos)?;
                    }
                    "package" => {
                        let p = FilelistPackage {
                            pkgid: attr(e, "pkgid", pos)?
                                .unwrap_or_default()
                                .to_ascii_lowercase(),
                            name: attr(e, "name", pos)?.unwrap_or_default(),
                            arch: attr(e, "arch", pos)?.unwrap_or_default(),
                            evr: Evr {
                                epoch: 0,
                                version: String::new(),
                                release: String::new(),
                            },
                            files: Vec::new(),
                        };
                        if empty {
                            each(p);
                        } else {
                            cur = Some(p);
                        }
                    }
                    "version" => {
                        if let Some(p) = cur.as_mut() {
                            p.evr.epoch =
                                parse_num(attr(e, "epoch", pos)?, "`epoch`", pos)?.unwrap_or(0);
                            p.evr.version = attr(e, "ver", pos)?.unwrap_or_default();
                            p.evr.release = attr(e, "rel", pos)?.unwrap_or_default();
                        }
                    }
                    "file" if !empty && cur.is_some() => {
                        in_file = true;
                        text.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_file => text.push_str(&t.xml10_content()),
            Event::CData(t) if in_file => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_file => push_ref(&mut text, &r, pos)?,
            Event::End(e) => match e.local_name().as_ref() {
                "file" if in_file => {
                    in_file = false;
                    if let Some(p) = cur.as_mut() {
                        p.files.push(std::mem::take(&mut text));
                    }
                }
                "package" => {
                    if let Some(p) = cur.take() {
                        each(p);
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(XmlError::new(
            0,
            "no `<filelists>` element: this is not a filelists.xml",
        ));
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_dirs_and_escapes() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="2">
<package pkgid="AB12" name="bash" arch="x86_64"><version epoch="0" ver="5.1.8" rel="2.el9"/>
  <file>/usr/bin/bash</file><file type="dir">/usr/share/doc/bash</file><file>/tmp/a&amp;b</file>
</package>
<package pkgid="cd" name="empty" arch="noarch"><version epoch="1" ver="1" rel="1"/></package>
</filelists>"#;
        let f = parse(&xml[..]).unwrap();
        assert_eq!(f.declared, Some(2));
        assert_eq!(f.packages.len(), 2);
        assert_eq!(f.packages[0].pkgid, "ab12");
        assert_eq!(
            f.packages[0].files,
            ["/usr/bin/bash", "/usr/share/doc/bash", "/tmp/a&b"]
        );
        assert_eq!(f.packages[1].evr.epoch, 1);
        assert!(f.packages[1].files.is_empty());
    }
}
