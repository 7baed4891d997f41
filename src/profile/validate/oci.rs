//! `[oci]`: the repository `diskless push` uses and extra annotations of the OCI image.

use super::Cx;
use crate::profile::error::Diagnostic;
use crate::profile::model::Oci;
use crate::profile::schema::RawOci;
use toml::Spanned;

pub(super) fn oci(cx: &Cx, raw: RawOci) -> Result<Oci, Diagnostic> {
    if let Some(n) = &raw.name {
        check_oci_name(n.get_ref()).map_err(|e| cx.loc(n.span(), "oci.name").err(e))?;
    }
    for k in raw.annotations.keys() {
        if k.is_empty() {
            return Err(cx.field_err("oci.annotations", "An annotation key is empty"));
        }
    }
    Ok(Oci {
        name: raw.name.map(Spanned::into_inner),
        annotations: raw.annotations,
    })
}

fn check_oci_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && !n.contains("//")
        && !n.starts_with('/')
        && !n.ends_with('/')
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
    if !ok {
        return Err(format!(
            "`{n}` is not an OCI repository name (lower-case, e.g. `ghcr.io/example/diskless-tftp`)"
        ));
    }
    Ok(())
}
