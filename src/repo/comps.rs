//! comps.xml: package groups (`@core`, `@standard`). A profile's `@group` installs the
//! group's mandatory and default packages, as `dnf group install` does by default.

use super::xml::{XmlError, attr, push_ref};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::io::BufRead;

/// One `<group>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Group {
    pub id: String,
    /// The untranslated `<name>`.
    pub name: String,
    pub mandatory: Vec<String>,
    pub default: Vec<String>,
    pub optional: Vec<String>,
    /// `type="conditional"` packages with the package they depend on (`requires`).
    pub conditional: Vec<(String, String)>,
}

impl Group {
    /// What `dnf group install` installs: mandatory, then default packages.
    pub fn install_set(&self) -> impl Iterator<Item = &str> {
        self.mandatory
            .iter()
            .chain(&self.default)
            .map(String::as_str)
    }

    /// Whether `spec` (without its `@`) names this group, by id or name, case-insensitively
    /// as dnf matches them.
    pub fn matches(&self, spec: &str) -> bool {
        self.id.eq_ignore_ascii_case(spec) || self.name.eq_ignore_ascii_case(spec)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Name,
    PackageReq,
}

/// Parse comps.xml from `input` (already decompressed). Groups come out in file order.
pub fn parse<R: BufRead>(input: R) -> Result<Vec<Group>, XmlError> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut groups = Vec::new();
    let mut cur: Option<Group> = None;
    let mut field: Option<Field> = None;
    let mut req_type = String::new();
    let mut req_requires = None;
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
                let name = e.local_name();
                match (name.as_ref(), cur.is_some()) {
                    ("comps", _) => saw_root = true,
                    ("group", false) if !empty => cur = Some(Group::default()),
                    ("id", true) if !empty => field = Some(Field::Id),
                    // Only the untranslated name.
                    ("name", true) if !empty && attr(e, "xml:lang", pos)?.is_none() => {
                        field = Some(Field::Name)
                    }
                    ("packagereq", true) if !empty => {
                        req_type = attr(e, "type", pos)?.unwrap_or_else(|| "mandatory".into());
                        req_requires = attr(e, "requires", pos)?;
                        field = Some(Field::PackageReq);
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Text(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if field.is_some() => push_ref(&mut text, &r, pos)?,
            Event::End(e) => {
                let name = e.local_name();
                if let (Some(f), Some(g)) = (field.take(), cur.as_mut()) {
                    let value = std::mem::take(&mut text).trim().to_string();
                    match f {
                        Field::Id => g.id = value,
                        Field::Name => g.name = value,
                        Field::PackageReq => match req_type.as_str() {
                            "mandatory" => g.mandatory.push(value),
                            "default" => g.default.push(value),
                            "optional" => g.optional.push(value),
                            "conditional" => g
                                .conditional
                                .push((value, req_requires.take().unwrap_or_default())),
                            _ => {}
                        },
                    }
                } else if name.as_ref() == "group" {
                    if let Some(g) = cur.take() {
                        groups.push(g);
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
            "no `<comps>` element: this is not a comps.xml",
        ));
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandatory_and_default_packages() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>core</id>
    <name>Core</name>
    <name xml:lang="de">Kern</name>
    <description>Smallest possible installation</description>
    <default>false</default>
    <packagelist>
      <packagereq type="mandatory">bash</packagereq>
      <packagereq type="default">NetworkManager</packagereq>
      <packagereq type="optional">dracut-config-rescue</packagereq>
      <packagereq type="conditional" requires="ppp">NetworkManager-ppp</packagereq>
      <packagereq>filesystem</packagereq>
    </packagelist>
  </group>
  <environment><id>minimal-environment</id><name>Minimal Install</name></environment>
</comps>"#;
        let g = parse(&xml[..]).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].id, "core");
        assert_eq!(g[0].name, "Core");
        assert_eq!(
            g[0].install_set().collect::<Vec<_>>(),
            ["bash", "filesystem", "NetworkManager"]
        );
        assert_eq!(g[0].optional, ["dracut-config-rescue"]);
        assert_eq!(
            g[0].conditional,
            [("NetworkManager-ppp".to_string(), "ppp".to_string())]
        );
        assert!(g[0].matches("CORE"));
    }
}
