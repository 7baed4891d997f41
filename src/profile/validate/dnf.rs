//! `[dnf]`: `[main]` options written into the image's dnf.conf.

use super::Cx;
use crate::profile::error::Diagnostic;
use crate::profile::schema::DnfValue;
use std::collections::BTreeMap;
use toml::Spanned;

pub(super) fn dnf(
    cx: &Cx,
    raw: BTreeMap<String, Spanned<DnfValue>>,
) -> Result<BTreeMap<String, String>, Diagnostic> {
    let mut dnf = BTreeMap::new();
    for (k, v) in raw {
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(cx
                .loc(v.span(), format!("dnf.{k}"))
                .err(format!("`{k}` is not a dnf.conf option name")));
        }
        dnf.insert(k, v.into_inner().0);
    }
    Ok(dnf)
}
