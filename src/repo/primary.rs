//! primary.xml: one `<package>` record per RPM, read as a stream of XML events straight
//! into [`Package`] records, so memory grows with the records kept, not with the file
//! (no DOM: a 100 MB primary.xml is read through a small buffer).

use super::checksum;
use super::xml::{XmlError, attr, parse_num, push_ref};
use crate::package::{Checksum, DepEvr, Dependency, Evr, Op, Package};
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use std::io::BufRead;

/// What primary.xml holds.
#[derive(Debug)]
pub struct Primary {
    pub packages: Vec<Package>,
    /// The `packages="N"` count the root element claims.
    pub declared: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    Name,
    Arch,
    Checksum,
    Summary,
    Sourcerpm,
    File,
}

#[derive(Clone, Copy)]
enum DepKind {
    Provides,
    Requires,
    Conflicts,
    Obsoletes,
    Recommends,
    Suggests,
    Supplements,
    Enhances,
}

impl DepKind {
    fn from_name(n: &str) -> Option<DepKind> {
        Some(match n {
            "provides" => DepKind::Provides,
            "requires" => DepKind::Requires,
            "conflicts" => DepKind::Conflicts,
            "obsoletes" => DepKind::Obsoletes,
            "recommends" => DepKind::Recommends,
            "suggests" => DepKind::Suggests,
            "supplements" => DepKind::Supplements,
            "enhances" => DepKind::Enhances,
            _ => return None,
        })
    }

    fn list(self, p: &mut Package) -> &mut Vec<Dependency> {
        match self {
            DepKind::Provides => &mut p.provides,
            DepKind::Requires => &mut p.requires,
            DepKind::Conflicts => &mut p.conflicts,
            DepKind::Obsoletes => &mut p.obsoletes,
            DepKind::Recommends => &mut p.recommends,
            DepKind::Suggests => &mut p.suggests,
            DepKind::Supplements => &mut p.supplements,
            DepKind::Enhances => &mut p.enhances,
        }
    }
}

fn empty_package(repo: &str) -> Package {
    Package {
        name: String::new(),
        arch: String::new(),
        evr: Evr {
            epoch: 0,
            version: String::new(),
            release: String::new(),
        },
        repo: repo.to_string(),
        location: String::new(),
        location_base: None,
        checksum: Checksum {
            kind: String::new(),
            value: String::new(),
        },
        size_package: 0,
        size_installed: 0,
        time_build: 0,
        sourcerpm: String::new(),
        summary: String::new(),
        provides: Vec::new(),
        requires: Vec::new(),
        conflicts: Vec::new(),
        obsoletes: Vec::new(),
        recommends: Vec::new(),
        suggests: Vec::new(),
        supplements: Vec::new(),
        enhances: Vec::new(),
        files: Vec::new(),
    }
}

/// Parse primary.xml from `input` (already decompressed); records get `repo` as their id.
pub fn parse<R: BufRead>(input: R, repo: &str) -> Result<Primary, XmlError> {
    run(
        Buffered {
            reader: Reader::from_reader(input),
            buf: Vec::with_capacity(4096),
        },
        repo,
    )
}

/// Parse primary.xml held in memory: the same as [`parse`], without copying each event
/// into a buffer first (the parallel reader in [`super::split`] has whole segments).
pub fn parse_slice(input: &[u8], repo: &str) -> Result<Primary, XmlError> {
    run(
        Slice {
            reader: Reader::from_reader(input),
        },
        repo,
    )
}

/// Where XML events come from: a stream (copied into a buffer) or a slice (borrowed).
trait Events {
    /// The next event and the byte offset it starts at.
    fn next_event(&mut self) -> Result<(u64, Event<'_>), XmlError>;
    fn position(&self) -> u64;
}

struct Buffered<R> {
    reader: Reader<R>,
    buf: Vec<u8>,
}

impl<R: BufRead> Events for Buffered<R> {
    fn next_event(&mut self) -> Result<(u64, Event<'_>), XmlError> {
        self.buf.clear();
        let pos = self.reader.buffer_position();
        let ev = self
            .reader
            .read_event_into(&mut self.buf)
            .map_err(|e| XmlError::new(self.reader.error_position(), e.to_string()))?;
        Ok((pos, ev))
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }
}

struct Slice<'a> {
    reader: Reader<&'a [u8]>,
}

impl Events for Slice<'_> {
    fn next_event(&mut self) -> Result<(u64, Event<'_>), XmlError> {
        let pos = self.reader.buffer_position();
        let ev = self
            .reader
            .read_event()
            .map_err(|e| XmlError::new(self.reader.error_position(), e.to_string()))?;
        Ok((pos, ev))
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }
}

fn run(mut reader: impl Events, repo: &str) -> Result<Primary, XmlError> {
    let mut packages = Vec::new();
    let mut declared = None;
    let mut cur: Option<Package> = None;
    let mut checksum_kind = String::new();
    let mut dep: Option<DepKind> = None;
    let mut text_field: Option<Text> = None;
    let mut text = String::new();
    // The entries of the dependency list being read, and the files of the package: moved
    // out in one exactly-sized allocation each, instead of growing every record's vectors
    // by doubling (and shrinking them again).
    let mut deps: Vec<Dependency> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    let mut saw_root = false;
    loop {
        let (pos, ev) = reader.next_event()?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let local = e.local_name();
                let name = local.as_ref();
                let Some(p) = cur.as_mut() else {
                    match name {
                        "metadata" => {
                            saw_root = true;
                            declared = parse_num(attr(e, "packages", pos)?, "`packages`", pos)?;
                        }
                        "package" if !empty => cur = Some(empty_package(repo)),
                        _ => {}
                    }
                    continue;
                };
                match name {
                    "entry" => {
                        if dep.is_some() {
                            deps.push(entry(e, pos)?);
                        }
                    }
                    "file" => text_field = Some(Text::File),
                    "name" => text_field = Some(Text::Name),
                    "arch" => text_field = Some(Text::Arch),
                    "summary" => text_field = Some(Text::Summary),
                    "sourcerpm" => text_field = Some(Text::Sourcerpm),
                    "checksum" => {
                        checksum_kind = attr(e, "type", pos)?.unwrap_or_default();
                        text_field = Some(Text::Checksum);
                    }
                    "version" => {
                        p.evr.epoch =
                            parse_num(attr(e, "epoch", pos)?, "`epoch`", pos)?.unwrap_or(0);
                        p.evr.version = attr(e, "ver", pos)?.unwrap_or_default();
                        p.evr.release = attr(e, "rel", pos)?.unwrap_or_default();
                    }
                    "time" => {
                        p.time_build =
                            parse_num(attr(e, "build", pos)?, "`build`", pos)?.unwrap_or(0);
                    }
                    "size" => {
                        p.size_package =
                            parse_num(attr(e, "package", pos)?, "`package`", pos)?.unwrap_or(0);
                        p.size_installed =
                            parse_num(attr(e, "installed", pos)?, "`installed`", pos)?.unwrap_or(0);
                    }
                    "location" => {
                        p.location = attr(e, "href", pos)?.unwrap_or_default();
                        p.location_base = attr(e, "xml:base", pos)?;
                    }
                    other => {
                        if let Some(k) = DepKind::from_name(other) {
                            flush(&mut dep, p, &mut deps);
                            dep = (!empty).then_some(k);
                        }
                    }
                }
                // An empty element (`<summary/>`) has no End event: nothing to collect.
                if empty {
                    text_field = None;
                }
                text.clear();
            }
            Event::Text(t) if text_field.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if text_field.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if text_field.is_some() => push_ref(&mut text, &r, pos)?,
            Event::End(e) => {
                let local = e.local_name();
                let name = local.as_ref();
                if let (Some(f), Some(p)) = (text_field.take(), cur.as_mut()) {
                    let value = std::mem::take(&mut text);
                    match f {
                        Text::Name => p.name = value,
                        Text::Arch => p.arch = value,
                        Text::Summary => p.summary = value,
                        Text::Sourcerpm => p.sourcerpm = value,
                        Text::Checksum => p.checksum = checksum::normalize(&checksum_kind, &value),
                        Text::File => files.push(value),
                    }
                }
                if name == "package" {
                    if let Some(mut p) = cur.take() {
                        flush(&mut dep, &mut p, &mut deps);
                        p.files = exact(&mut files);
                        packages.push(check(p, pos)?);
                    }
                } else if DepKind::from_name(name).is_some() {
                    if let Some(p) = cur.as_mut() {
                        flush(&mut dep, p, &mut deps);
                    }
                    dep = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(XmlError::new(
            0,
            "no `<metadata>` element: this is not a primary.xml",
        ));
    }
    if cur.is_some() {
        return Err(XmlError::new(
            reader.position(),
            "the file ends inside a `<package>`",
        ));
    }
    Ok(Primary { packages, declared })
}

/// One `<rpm:entry name= flags= epoch= ver= rel= pre=/>`, keeping exactly what it says.
/// Half a million of these in a distribution's primary.xml: only the strings kept are
/// allocated (flags, epoch and pre are read from the borrowed attribute value).
fn entry(e: &BytesStart<'_>, pos: u64) -> Result<Dependency, XmlError> {
    let mut name = None;
    let mut flags: Option<Result<Op, String>> = None;
    let mut epoch: Option<Result<u32, String>> = None;
    let mut ver = None;
    let mut rel = None;
    let mut pre = false;
    for a in e.attributes().with_checks(false) {
        let a =
            a.map_err(|err| XmlError::new(pos, format!("bad `<rpm:entry>` attributes: {err}")))?;
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| XmlError::new(pos, format!("bad `<rpm:entry>` attribute: {err}")))?;
        match a.key.as_ref() {
            "name" => name = Some(value.into_owned()),
            "flags" => flags = Some(Op::from_flags(&value).ok_or_else(|| value.into_owned())),
            "epoch" => epoch = Some(value.trim().parse().map_err(|_| value.into_owned())),
            "ver" => ver = Some(value.into_owned()),
            "rel" => rel = Some(value.into_owned()),
            "pre" => pre = matches!(&*value, "1" | "true"),
            _ => {}
        }
    }
    let name = name.ok_or_else(|| XmlError::new(pos, "`<rpm:entry>` without a `name`"))?;
    let op = match flags {
        None => None,
        Some(Ok(op)) => Some(op),
        Some(Err(f)) => {
            return Err(XmlError::new(
                pos,
                format!("unknown `flags=\"{f}\"` on `{name}`"),
            ));
        }
    };
    let epoch = match epoch {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(v)) => {
            return Err(XmlError::new(
                pos,
                format!("`epoch` is not a number: `{v}`"),
            ));
        }
    };
    let evr = if op.is_some() || ver.is_some() || epoch.is_some() {
        Some(DepEvr {
            epoch,
            version: ver.unwrap_or_default(),
            release: rel,
        })
    } else {
        None
    };
    Ok(Dependency { name, op, evr, pre })
}

/// Move the entries read for the open dependency list into the package.
fn flush(dep: &mut Option<DepKind>, p: &mut Package, deps: &mut Vec<Dependency>) {
    if let Some(k) = dep.take() {
        // An empty vector takes them in one allocation of the exact size, leaving the
        // scratch buffer's capacity for the next list; a list given twice is appended to.
        let list = k.list(p);
        if list.is_empty() {
            *list = exact(deps);
        } else {
            list.append(deps);
        }
    }
    deps.clear();
}

/// Move the items out of a scratch vector into a new one of exactly their number.
fn exact<T>(scratch: &mut Vec<T>) -> Vec<T> {
    let mut v = Vec::with_capacity(scratch.len());
    v.append(scratch);
    v
}

fn check(mut p: Package, pos: u64) -> Result<Package, XmlError> {
    // Tens of thousands of records stay in memory for the whole run: no slack (the lists
    // are filled exactly sized; this only trims what a repeated list appended).
    for v in [
        &mut p.provides,
        &mut p.requires,
        &mut p.conflicts,
        &mut p.obsoletes,
        &mut p.recommends,
        &mut p.suggests,
        &mut p.supplements,
        &mut p.enhances,
    ] {
        v.shrink_to_fit();
    }
    p.files.shrink_to_fit();
    if p.name.is_empty() || p.arch.is_empty() || p.evr.version.is_empty() {
        let what = if p.name.is_empty() {
            "a package without a `<name>`".to_string()
        } else {
            format!("`{}`", p.name)
        };
        return Err(XmlError::new(
            pos,
            format!("{what} lacks a name, arch or version"),
        ));
    }
    if p.checksum.value.is_empty() {
        return Err(XmlError::new(
            pos,
            format!("`{}` has no `<checksum>`", p.nevra()),
        ));
    }
    if p.location.is_empty() {
        return Err(XmlError::new(
            pos,
            format!("`{}` has no `<location href>`", p.nevra()),
        ));
    }
    Ok(p)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use crate::package::{Evr, Package};

    /// A minimal valid package record for unit tests.
    pub fn package(name: &str, version: &str, release: &str) -> Package {
        let mut p = super::empty_package("test");
        p.name = name.into();
        p.arch = "noarch".into();
        p.evr = Evr {
            epoch: 0,
            version: version.into(),
            release: release.into(),
        };
        p.location = format!("Packages/{name}-{version}-{release}.noarch.rpm");
        p.checksum = crate::package::Checksum {
            kind: "sha256".into(),
            value: "00".into(),
        };
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>bash</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="5.1.8" rel="2.el9"/>
  <checksum type="sha256" pkgid="YES">ABCD</checksum>
  <summary>The GNU Bourne Again shell &amp; more</summary>
  <description>Long text &lt;ignored&gt;</description>
  <packager/>
  <url>https://www.gnu.org/software/bash</url>
  <time file="1" build="1639000000"/>
  <size package="1800000" installed="7700000" archive="7800000"/>
  <location xml:base="http://elsewhere/" href="Packages/bash-5.1.8-2.el9.x86_64.rpm"/>
  <format>
    <rpm:license>GPLv3+</rpm:license>
    <rpm:sourcerpm>bash-5.1.8-2.el9.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="68629"/>
    <rpm:provides>
      <rpm:entry name="/bin/sh"/>
      <rpm:entry name="bash" flags="EQ" epoch="0" ver="5.1.8" rel="2.el9"/>
      <rpm:entry name="config(bash)" flags="EQ" ver="5.1.8"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="filesystem" flags="GE" epoch="0" ver="3" pre="1"/>
      <rpm:entry name="libc.so.6(GLIBC_2.34)(64bit)"/>
      <rpm:entry name="(glibc &gt;= 2.34 if glibc)"/>
    </rpm:requires>
    <rpm:recommends><rpm:entry name="bash-doc"/></rpm:recommends>
    <file>/etc/skel/.bashrc</file>
    <file type="dir">/etc/skel</file>
    <file>/usr/bin/bash</file>
  </format>
</package>
<package type="rpm">
  <name>odd</name><arch>noarch</arch><version epoch="3" ver="1.0-rc1" rel="1"/>
  <checksum type="sha">ef</checksum><summary/><location href="o.rpm"/>
  <format><rpm:provides/><rpm:obsoletes><rpm:entry name="old" flags="LT" epoch="0" ver="2"/></rpm:obsoletes></format>
</package>
</metadata>
"#;

    #[test]
    fn reads_every_field_it_keeps() {
        let p = parse(XML.as_bytes(), "baseos").unwrap();
        assert_eq!(p.declared, Some(2));
        let [bash, odd] = p.packages.as_slice() else {
            panic!("two packages")
        };
        assert_eq!(bash.nevra(), "bash-5.1.8-2.el9.x86_64");
        assert_eq!(bash.repo, "baseos");
        assert_eq!(bash.checksum.to_string(), "sha256:abcd");
        assert_eq!(bash.summary, "The GNU Bourne Again shell & more");
        assert_eq!(
            (bash.size_package, bash.size_installed, bash.time_build),
            (1800000, 7700000, 1639000000)
        );
        assert_eq!(bash.location, "Packages/bash-5.1.8-2.el9.x86_64.rpm");
        assert_eq!(bash.location_base.as_deref(), Some("http://elsewhere/"));
        assert_eq!(bash.sourcerpm, "bash-5.1.8-2.el9.src.rpm");
        let provides: Vec<String> = bash.provides.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            provides,
            ["/bin/sh", "bash = 0:5.1.8-2.el9", "config(bash) = 5.1.8"]
        );
        // No `rel`/`epoch` on the entry: unconstrained, not "0".
        assert_eq!(bash.provides[2].evr.as_ref().unwrap().release, None);
        assert_eq!(bash.provides[2].evr.as_ref().unwrap().epoch, None);
        assert!(bash.requires[0].pre);
        assert_eq!(bash.requires[2].name, "(glibc >= 2.34 if glibc)");
        assert!(bash.requires[2].is_rich());
        assert_eq!(bash.recommends.len(), 1);
        assert_eq!(
            bash.files,
            ["/etc/skel/.bashrc", "/etc/skel", "/usr/bin/bash"]
        );
        // Version kept as written even with a `-` in it; `sha` is sha1.
        assert_eq!(odd.nevra(), "odd-3:1.0-rc1-1.noarch");
        assert_eq!(odd.checksum.kind, "sha1");
        assert_eq!(odd.summary, "");
        assert!(odd.provides.is_empty());
        assert_eq!(odd.obsoletes[0].to_string(), "old < 0:2");
    }

    #[test]
    fn truncated_and_foreign_files_are_errors() {
        let cut = &XML[..XML.find("</package>").unwrap()];
        let err = parse(cut.as_bytes(), "r").unwrap_err();
        assert!(
            err.message.contains("ends inside a `<package>`"),
            "{}",
            err.message
        );
        let err = parse(&b"<html/>"[..], "r").unwrap_err();
        assert!(err.message.contains("not a primary.xml"), "{}", err.message);
    }
}
