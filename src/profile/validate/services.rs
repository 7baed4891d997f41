//! `[services]`: systemd units to enable, disable or mask (each in one list only) and the
//! default target.

use super::Cx;
use crate::profile::error::Diagnostic;
use crate::profile::model::Services;
use crate::profile::schema::RawServices;
use std::collections::BTreeMap;
use toml::Spanned;

pub(super) fn services(cx: &Cx, rs: RawServices) -> Result<Services, Diagnostic> {
    let mut unit_seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut units =
        |list: Vec<Spanned<String>>, key: &'static str| -> Result<Vec<String>, Diagnostic> {
            let mut out = Vec::new();
            for u in list {
                let loc = cx.loc(u.span(), format!("services.{key}"));
                let name = unit_name(u.get_ref(), "service").map_err(|e| loc.err(e))?;
                if let Some(prev) = unit_seen.insert(name.clone(), key) {
                    return Err(loc.err(format!(
                        "`{name}` is listed in both `services.{prev}` and `services.{key}`"
                    )));
                }
                out.push(name);
            }
            Ok(out)
        };
    let services = Services {
        enable: units(rs.enable, "enable")?,
        disable: units(rs.disable, "disable")?,
        mask: units(rs.mask, "mask")?,
        default_target: rs
            .default_target
            .map(|t| {
                let n = unit_name(t.get_ref(), "target")
                    .map_err(|e| cx.loc(t.span(), "services.default_target").err(e))?;
                if !n.ends_with(".target") {
                    return Err(cx
                        .loc(t.span(), "services.default_target")
                        .err(format!("`{n}` is not a target unit")));
                }
                Ok(n)
            })
            .transpose()?,
    };
    Ok(services)
}

const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "target",
    "timer",
    "path",
    "mount",
    "automount",
    "swap",
    "slice",
    "scope",
    "device",
];

/// A systemd unit name; without a known suffix, `.<dflt>` is added (as systemctl does).
fn unit_name(u: &str, dflt: &str) -> Result<String, String> {
    let ok = !u.is_empty()
        && u.len() <= 255
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c));
    if !ok {
        return Err(format!("`{u}` is not a systemd unit name"));
    }
    match u.rsplit_once('.') {
        Some((_, t)) if UNIT_TYPES.contains(&t) => Ok(u.to_string()),
        _ => Ok(format!("{u}.{dflt}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        assert_eq!(unit_name("sshd", "service").unwrap(), "sshd.service");
        assert_eq!(unit_name("tmp.mount", "service").unwrap(), "tmp.mount");
        assert_eq!(
            unit_name("getty@tty1", "service").unwrap(),
            "getty@tty1.service"
        );
        assert!(unit_name("bad unit", "service").is_err());
    }
}
