//! `[dhcp]`: the boot subnet the DHCP configs serve; the router and the dynamic range must
//! lie inside it.

use super::{Cx, check_hostname};
use crate::net::addr::BadRange;
use crate::profile::error::Diagnostic;
use crate::profile::model::Dhcp;
use crate::profile::schema::RawDhcp;
use std::net::Ipv4Addr;
use toml::Spanned;

pub(super) fn dhcp(cx: &Cx, d: RawDhcp) -> Result<Dhcp, Diagnostic> {
    let subnet = d.subnet;
    let inside = |ip: &Spanned<Ipv4Addr>, key: &str| -> Result<Ipv4Addr, Diagnostic> {
        let a = *ip.get_ref();
        if !subnet.contains(a) {
            return Err(cx
                .loc(ip.span(), key.to_string())
                .err(format!("`{a}` is outside the DHCP subnet `{subnet}`")));
        }
        Ok(a)
    };
    if let Some(dn) = &d.domain_name {
        check_hostname(dn.get_ref()).map_err(|e| {
            cx.loc(dn.span(), "dhcp.domain_name")
                .err(e.replace("host name", "domain name"))
        })?;
    }
    let router = d
        .router
        .as_ref()
        .map(|r| inside(r, "dhcp.router"))
        .transpose()?;
    let range = match &d.range {
        None => None,
        Some(r) => {
            let [a, b] = *r.get_ref();
            let outside = |x| format!("`{x}` is outside the DHCP subnet `{subnet}`");
            subnet.check_range(a, b).map_err(|e| {
                cx.loc(r.span(), "dhcp.range").err(match e {
                    BadRange::StartOutside => outside(a),
                    BadRange::EndOutside => outside(b),
                    BadRange::Reversed => format!("The range starts after it ends (`{a}` > `{b}`)"),
                })
            })?;
            Some((a, b))
        }
    };
    Ok(Dhcp {
        subnet,
        next_server: *d.next_server.get_ref(),
        domain_name: d.domain_name.map(Spanned::into_inner),
        dns: d.dns,
        router,
        range,
        lease_time: d.lease_time,
        interface: d.interface,
    })
}
