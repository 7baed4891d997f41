//! `[network]`: the image's interfaces (DHCP or a static address) and the file style
//! (NetworkManager keyfiles from EL9, ifcfg before), refusing a `[[file]]` at a path it
//! generates.

use super::Cx;
use super::files::Claimed;
use crate::net::addr::parse_cidr;
use crate::profile::error::Diagnostic;
use crate::profile::model::{Image, Interface, IpMethod, Network, NetworkStyle};
use crate::profile::schema::{RawInterface, RawNetwork};
use std::collections::BTreeSet;

pub(super) fn network(
    cx: &Cx,
    raw: RawNetwork,
    image: &Image,
    claimed: &Claimed,
) -> Result<Network, Diagnostic> {
    let style = raw.style.concrete().unwrap_or(match image.release_major() {
        Some(m) if m < 9 => NetworkStyle::Ifcfg,
        _ => NetworkStyle::Keyfile,
    });
    let mut interfaces = Vec::new();
    let mut if_names = BTreeSet::new();
    for (i, itf) in raw.interfaces.into_iter().enumerate() {
        interfaces.push(interface(cx, i, itf, &mut if_names)?);
    }
    let network = Network { style, interfaces };
    for itf in &network.interfaces {
        let p = network.file_path(itf);
        if let Some((what, loc)) = claimed.get(&p) {
            return Err(loc
                .err(format!(
                    "`{what}` writes `{p}`, which `[network]` generates for interface `{}`",
                    itf.name
                ))
                .with_hint(
                    "configure the interface either in `[network]` or with a `[[file]]`, not both",
                ));
        }
    }
    Ok(network)
}

/// `network.interface[i]`; `seen` holds the names of the ones before it.
fn interface(
    cx: &Cx,
    i: usize,
    itf: RawInterface,
    seen: &mut BTreeSet<String>,
) -> Result<Interface, Diagnostic> {
    let f = format!("network.interface[{i}]");
    let n = itf.name.get_ref();
    let ok = !n.is_empty()
        && n.len() <= 15
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(cx.loc(itf.name.span(), format!("{f}.name")).err(format!(
            "`{n}` is not an interface name (1-15 letters, digits, `-_.`)"
        )));
    }
    if !seen.insert(n.clone()) {
        return Err(cx
            .loc(itf.name.span(), format!("{f}.name"))
            .err(format!("Interface `{n}` is configured twice")));
    }
    let method = match (&itf.address, itf.dhcp) {
        (Some(a), Some(true)) => {
            return Err(cx
                .loc(a.span(), format!("{f}.address"))
                .err("Set `dhcp = true` or `address`, not both"));
        }
        (Some(a), _) => {
            let (address, prefix) = parse_cidr(a.get_ref())
                .map_err(|e| cx.loc(a.span(), format!("{f}.address")).err(e.to_string()))?;
            IpMethod::Static {
                address,
                prefix,
                gateway: itf.gateway,
                dns: itf.dns,
            }
        }
        (None, Some(false)) => {
            return Err(cx.loc(itf.name.span(), f.clone()).err(format!(
                "Interface `{n}` has `dhcp = false` but no `address`"
            )));
        }
        (None, _) => IpMethod::Dhcp,
    };
    Ok(Interface {
        name: itf.name.into_inner(),
        method,
        mtu: itf.mtu,
        onboot: itf.onboot.unwrap_or(true),
    })
}
