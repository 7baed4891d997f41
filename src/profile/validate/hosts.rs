//! `[[host]]`: the cluster's nodes, each with a unique name, MAC and address; with `[dhcp]`,
//! the address must be a usable one of its subnet.

use super::{Cx, check_hostname};
use crate::profile::error::Diagnostic;
use crate::profile::model::{Dhcp, Host};
use crate::profile::schema::RawHost;
use std::collections::BTreeMap;

pub(super) fn hosts(
    cx: &Cx,
    raw: Vec<RawHost>,
    dhcp: Option<&Dhcp>,
) -> Result<Vec<Host>, Diagnostic> {
    let mut hosts = Vec::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_mac = BTreeMap::new();
    let mut by_ip = BTreeMap::new();
    for (i, h) in raw.into_iter().enumerate() {
        let f = format!("host[{i}]");
        let n = h.name.get_ref();
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(cx.loc(h.name.span(), format!("{f}.name")).err(format!(
                "`{n}` is not a host name (letters, digits, `-`, `_`, `.`)"
            )));
        }
        if let Some(j) = by_name.insert(n.to_ascii_lowercase(), i) {
            return Err(cx
                .loc(h.name.span(), format!("{f}.name"))
                .err(format!("Host `{n}` is defined twice (also `host[{j}]`)")));
        }
        let mac = *h.mac.get_ref();
        if let Some(j) = by_mac.insert(mac, i) {
            return Err(cx.loc(h.mac.span(), format!("{f}.mac")).err(format!(
                "MAC `{mac}` of host `{n}` is already used by `host[{j}]`"
            )));
        }
        let ip = *h.ip.get_ref();
        if let Some(j) = by_ip.insert(ip, i) {
            return Err(cx.loc(h.ip.span(), format!("{f}.ip")).err(format!(
                "IP `{ip}` of host `{n}` is already used by `host[{j}]`"
            )));
        }
        if let Some(d) = dhcp {
            let loc = cx.loc(h.ip.span(), format!("{f}.ip"));
            if !d.subnet.contains(ip) {
                return Err(loc
                    .err(format!(
                        "IP `{ip}` of host `{n}` is outside the DHCP subnet `{}`",
                        d.subnet
                    ))
                    .with_hint(format!(
                        "use an address in {}-{}",
                        d.subnet.network(),
                        d.subnet.broadcast()
                    )));
            }
            if ip == d.subnet.network() || ip == d.subnet.broadcast() {
                return Err(loc.err(format!(
                    "IP `{ip}` of host `{n}` is the subnet's network or broadcast address"
                )));
            }
        }
        let hostname = match h.hostname {
            Some(hn) => {
                check_hostname(hn.get_ref())
                    .map_err(|e| cx.loc(hn.span(), format!("{f}.hostname")).err(e))?;
                hn.into_inner()
            }
            None => n.clone(),
        };
        hosts.push(Host {
            name: h.name.into_inner(),
            hostname,
            mac,
            ip,
            cmdline: h.cmdline,
        });
    }
    Ok(hosts)
}
