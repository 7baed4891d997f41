//! Small helpers shared by the streaming XML readers (repomd, primary, filelists, comps).

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart};

/// An XML problem, with the byte offset where the reader was.
#[derive(Debug)]
pub struct XmlError {
    pub offset: u64,
    pub message: String,
}

impl XmlError {
    pub fn new(offset: u64, message: impl Into<String>) -> Self {
        XmlError {
            offset,
            message: message.into(),
        }
    }
}

/// The value of attribute `name` (entities resolved), if present.
pub fn attr(e: &BytesStart<'_>, name: &str, offset: u64) -> Result<Option<String>, XmlError> {
    match e.try_get_attribute(name) {
        Ok(Some(a)) => match a.normalized_value(XmlVersion::Implicit1_0) {
            Ok(v) => Ok(Some(v.into_owned())),
            Err(err) => Err(XmlError::new(
                offset,
                format!("bad attribute `{name}`: {err}"),
            )),
        },
        Ok(None) => Ok(None),
        Err(err) => Err(XmlError::new(offset, format!("bad attributes: {err}"))),
    }
}

/// Append an entity or character reference (`&amp;`, `&#x41;`) to `out`.
pub fn push_ref(out: &mut String, r: &BytesRef<'_>, offset: u64) -> Result<(), XmlError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => {
            out.push(c);
            Ok(())
        }
        Ok(None) => match quick_xml::escape::resolve_predefined_entity(r) {
            Some(s) => {
                out.push_str(s);
                Ok(())
            }
            None => Err(XmlError::new(
                offset,
                format!("unknown entity `&{};`", &**r),
            )),
        },
        Err(err) => Err(XmlError::new(
            offset,
            format!("bad character reference: {err}"),
        )),
    }
}

/// A parse-time number attribute: absent is `None`, garbage is an error naming it.
pub fn parse_num<T: std::str::FromStr>(
    value: Option<String>,
    what: &str,
    offset: u64,
) -> Result<Option<T>, XmlError> {
    match value {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| XmlError::new(offset, format!("{what} is not a number: `{v}`"))),
    }
}
