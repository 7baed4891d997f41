//! `[[host]]`: the cluster's nodes, each with a unique name, MAC and address; with `[dhcp]`,
//! the address must be a usable one of its subnet, outside the dynamic range.

use super::files::{Claimed, file};
use super::{Cx, check_hostname};
use crate::net::addr::{BadHostAddr, Clash, HostIndex};
use crate::profile::error::Diagnostic;
use crate::profile::model::{Dhcp, Host, Network};
use crate::profile::schema::RawHost;

pub(super) fn hosts(
    cx: &Cx,
    raw: Vec<RawHost>,
    dhcp: Option<&Dhcp>,
    network: &Network,
) -> Result<Vec<Host>, Diagnostic> {
    let mut seen = HostIndex::default();
    raw.into_iter()
        .enumerate()
        .map(|(i, h)| host(cx, i, h, dhcp, network, &mut seen))
        .collect()
}

/// `host[i]`; `seen` holds the hosts before it.
fn host(
    cx: &Cx,
    i: usize,
    h: RawHost,
    dhcp: Option<&Dhcp>,
    network: &Network,
    seen: &mut HostIndex<usize>,
) -> Result<Host, Diagnostic> {
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
    let mac = *h.mac.get_ref();
    let ip = *h.ip.get_ref();
    seen.insert(n, mac, ip, i).map_err(|c| match c {
        Clash::Name(j) => cx
            .loc(h.name.span(), format!("{f}.name"))
            .err(format!("Host `{n}` is defined twice (also `host[{j}]`)")),
        Clash::Mac(j) => cx.loc(h.mac.span(), format!("{f}.mac")).err(format!(
            "MAC `{mac}` of host `{n}` is already used by `host[{j}]`"
        )),
        Clash::Ip(j) => cx.loc(h.ip.span(), format!("{f}.ip")).err(format!(
            "IP `{ip}` of host `{n}` is already used by `host[{j}]`"
        )),
    })?;
    if let Some(d) = dhcp {
        d.subnet.check_host(ip, d.range).map_err(|e| {
            let loc = cx.loc(h.ip.span(), format!("{f}.ip"));
            match e {
                BadHostAddr::Outside => loc
                    .err(format!(
                        "IP `{ip}` of host `{n}` is outside the DHCP subnet `{}`",
                        d.subnet
                    ))
                    .with_hint(format!(
                        "use an address in {}-{}",
                        d.subnet.network(),
                        d.subnet.broadcast()
                    )),
                BadHostAddr::Reserved => loc.err(format!(
                    "IP `{ip}` of host `{n}` is the subnet's network or broadcast address"
                )),
                BadHostAddr::InRange { start, end } => loc
                    .err(format!(
                        "IP `{ip}` of host `{n}` is inside the DHCP range `{start}`-`{end}`"
                    ))
                    .with_hint("the DHCP server could lease it to another machine; use an address outside `dhcp.range`"),
            }
        })?;
    }
    let hostname = match h.hostname {
        Some(hn) => {
            check_hostname(hn.get_ref())
                .map_err(|e| cx.loc(hn.span(), format!("{f}.hostname")).err(e))?;
            hn.into_inner()
        }
        None => n.clone(),
    };
    let interface = match h.interface {
        Some(itf) if network.interfaces.iter().any(|i| &i.name == itf.get_ref()) => {
            Some(itf.into_inner())
        }
        Some(itf) => {
            let known: Vec<String> = network
                .interfaces
                .iter()
                .map(|i| format!("`{}`", i.name))
                .collect();
            return Err(cx
                .loc(itf.span(), format!("{f}.interface"))
                .err(format!(
                    "Host `{n}` names interface `{}`, which `[network]` does not define",
                    itf.get_ref()
                ))
                .with_hint(if known.is_empty() {
                    "add a `[[network.interface]]` with that name: the host's fixed address is written in its style".to_string()
                } else {
                    format!("use one of {}", known.join(", "))
                }));
        }
        None => network.interfaces.first().map(|i| i.name.clone()),
    };
    // Paths are unique within a host; a host file may replace a profile file (that is
    // what it is for).
    let mut claimed = Claimed::new();
    let files = h
        .files
        .into_iter()
        .enumerate()
        .map(|(j, rf)| file(cx, &format!("{f}.file[{j}]"), rf, &mut claimed))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Host {
        name: h.name.into_inner(),
        hostname,
        mac,
        ip,
        cmdline: h.cmdline,
        interface,
        files,
    })
}

#[cfg(test)]
mod tests {
    use crate::profile::{ProfileError, from_str};
    use std::path::Path;

    const PROFILE: &str = r#"[image]
name = "t"
arch = "x86_64"
releasever = "9"

[[repo]]
id = "baseos"
baseurl = "https://dl.example.org/9/BaseOS/x86_64/os/"
gpgcheck = false

[dhcp]
subnet = "192.168.0.0/24"
next_server = "192.168.0.10"
range = ["192.168.0.150", "192.168.0.199"]

[[host]]
name = "n1"
mac = "AA-bb:cc-DD:ee-01"
ip = "192.168.0.101"
"#;

    fn load(text: &str) -> Result<crate::profile::Profile, ProfileError> {
        from_str(Path::new("p.toml"), Path::new("/tmp"), text)
    }

    #[test]
    fn mac_written_either_way_is_normalised() {
        let p = load(PROFILE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hosts[0].mac.to_string(), "aa:bb:cc:dd:ee:01");
        assert_eq!(p.hosts[0].mac.pxelinux_name(), "01-aa-bb-cc-dd-ee-01");
    }

    /// emit refuses a fixed address inside the dynamic range; the profile says so at load,
    /// at the address, instead of after the packages are fetched.
    #[test]
    fn fixed_address_inside_the_dynamic_range_is_refused() {
        let Err(e) = load(&PROFILE.replace("192.168.0.101", "192.168.0.150")) else {
            panic!("expected an error")
        };
        let d = e.diagnostic().unwrap();
        assert_eq!((d.line, d.column, d.field.as_str()), (19, 6, "host[0].ip"));
        assert_eq!(
            d.message,
            "`host[0].ip`: IP `192.168.0.150` of host `n1` is inside the DHCP range `192.168.0.150`-`192.168.0.199`"
        );
    }

    /// tftp and the OCI image are readable by anyone: a file marked secret is refused where
    /// it is written, with a hint, in `[[file]]` and `[[host.file]]` alike.
    #[test]
    fn secret_files_are_refused_with_a_hint() {
        for (extra, field) in [
            (
                "\n[[host.file]]\npath = \"/etc/k\"\ncontent = \"x\"\nsecret = true\n",
                "host[0].file[0].secret",
            ),
            (
                "\n[[file]]\npath = \"/etc/k\"\ncontent = \"x\"\nsecret = true\n",
                "file[0].secret",
            ),
        ] {
            let Err(e) = load(&format!("{PROFILE}{extra}")) else {
                panic!("expected an error")
            };
            let d = e.diagnostic().unwrap();
            assert_eq!(d.field, field);
            assert!(
                d.message
                    .contains("`/etc/k` is marked secret, but every file diskless builds"),
                "{}",
                d.message
            );
            assert!(
                d.hint
                    .as_deref()
                    .unwrap_or("")
                    .contains("deliver secrets at boot"),
                "{d:?}"
            );
        }
    }

    #[test]
    fn host_files_templates_and_interfaces_are_checked() {
        let p = load(&format!(
            "{PROFILE}\n[[host.file]]\npath = \"/etc/motd\"\ncontent = \"hi {{{{ hostname }}}}\"\ntemplate = true\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hosts[0].files[0].path, "/etc/motd");
        assert!(p.hosts[0].files[0].template);
        assert_eq!(p.hosts[0].interface, None, "no [network] interfaces");

        let Err(e) = load(&format!(
            "{PROFILE}\n[[host.file]]\npath = \"/etc/motd\"\ncontent = \"hi {{{{ host }}}}\"\ntemplate = true\n"
        )) else {
            panic!("expected an error")
        };
        let d = e.diagnostic().unwrap();
        assert_eq!(d.field, "host[0].file[0].content");
        assert!(
            d.message.contains("unknown template field `{{ host }}`"),
            "{}",
            d.message
        );
        assert!(
            d.hint.as_deref().unwrap_or("").contains("{{ hostname }}"),
            "{d:?}"
        );

        let Err(e) = load(&PROFILE.replace(
            "ip = \"192.168.0.101\"\n",
            "ip = \"192.168.0.101\"\ninterface = \"eth1\"\n",
        )) else {
            panic!("expected an error")
        };
        let d = e.diagnostic().unwrap();
        assert_eq!(d.field, "host[0].interface");
        assert!(
            d.message
                .contains("names interface `eth1`, which `[network]` does not define"),
            "{}",
            d.message
        );
    }

    #[test]
    fn signed_hex_is_not_a_mac() {
        let Err(e) = load(&PROFILE.replace("AA-bb", "+a-bb")) else {
            panic!("expected an error")
        };
        assert!(e.to_string().contains("is not a MAC address"), "{e}");
    }
}
