//! `[system]`: the host name, fstab lines, paths removed from the image, and whether
//! /etc/machine-id is left empty.

use super::{Cx, check_glob, check_hostname};
use crate::profile::error::Diagnostic;
use crate::profile::schema::RawSystem;
use toml::Spanned;

/// `[system]`, checked; its values are top-level fields of the profile.
pub(super) struct System {
    pub hostname: Option<String>,
    pub fstab: Vec<String>,
    pub remove: Vec<String>,
    pub empty_machine_id: bool,
}

pub(super) fn system(cx: &Cx, sys: RawSystem) -> Result<System, Diagnostic> {
    if let Some(h) = &sys.hostname {
        check_hostname(h.get_ref()).map_err(|e| cx.loc(h.span(), "system.hostname").err(e))?;
    }
    for l in &sys.fstab {
        check_fstab(l.get_ref()).map_err(|e| cx.loc(l.span(), "system.fstab").err(e))?;
    }
    for g in &sys.remove {
        check_glob(g.get_ref()).map_err(|e| cx.loc(g.span(), "system.remove").err(e))?;
    }
    Ok(System {
        hostname: sys.hostname.map(Spanned::into_inner),
        fstab: sys.fstab.into_iter().map(Spanned::into_inner).collect(),
        remove: sys.remove.into_iter().map(Spanned::into_inner).collect(),
        empty_machine_id: sys.empty_machine_id.unwrap_or(true),
    })
}

fn check_fstab(l: &str) -> Result<(), String> {
    let t = l.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(());
    }
    if l.contains('\n') {
        return Err("Give one fstab line per entry".into());
    }
    let fields: Vec<&str> = t.split_whitespace().collect();
    if !(4..=6).contains(&fields.len()) {
        return Err(format!(
            "An fstab line has 4 to 6 fields (device, mount point, type, options[, dump[, pass]]); this one has {}",
            fields.len()
        ));
    }
    if !(fields[1].starts_with('/') || fields[1] == "none" || fields[1] == "swap") {
        return Err(format!(
            "Mount point `{}` is not an absolute path",
            fields[1]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstab_lines() {
        assert!(check_fstab("nfs:/export/ssl /var/lib/puppet/ssl nfs ro,nolock 0 0").is_ok());
        assert!(check_fstab("# commented").is_ok());
        assert!(check_fstab("nfs:/x /y").is_err());
    }
}
