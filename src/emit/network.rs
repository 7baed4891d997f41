//! Validation of the boot network and the hosts before any config is written: MAC
//! addresses, addresses inside the subnet, unique names, MACs and addresses. The rules are
//! [`crate::net::addr`]'s, shared with the profile; emit checks its settings itself because
//! they need not come from a profile. Errors name the host.

use super::settings::{Dhcp, Host};
use crate::net::addr::{self, BadHostAddr, BadRange, Clash, HostIndex, Ipv4Net, Mac};
use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkError {
    #[error(
        "Host `{host}`: `{mac}` is not a MAC address (expected six hex pairs like aa:bb:cc:dd:ee:ff)"
    )]
    BadMac { host: String, mac: String },
    #[error("Host `{host}`: {ip} is outside the subnet {subnet}/{netmask}")]
    OutsideSubnet {
        host: String,
        ip: Ipv4Addr,
        subnet: Ipv4Addr,
        netmask: Ipv4Addr,
    },
    #[error("Host `{host}`: {ip} is the subnet's network or broadcast address")]
    Reserved { host: String, ip: Ipv4Addr },
    #[error("Hosts `{first}` and `{second}` have the same {what} `{value}`")]
    Duplicate {
        first: String,
        second: String,
        what: &'static str,
        value: String,
    },
    #[error(
        "Host `{host}`: `{name}` is not a valid host name (letters, digits and `-`, at most 63 characters)"
    )]
    BadName { host: String, name: String },
    #[error("Host `{host}` boots `{image}`, which is not an entry of the menu")]
    UnknownImage { host: String, image: String },
    #[error("`{netmask}` is not a contiguous netmask")]
    BadNetmask { netmask: Ipv4Addr },
    #[error("The DHCP {what} {ip} is outside the subnet {subnet}/{netmask}")]
    NetOutside {
        what: &'static str,
        ip: Ipv4Addr,
        subnet: Ipv4Addr,
        netmask: Ipv4Addr,
    },
    #[error("The subnet address {subnet} has host bits set for netmask {netmask}")]
    SubnetHostBits { subnet: Ipv4Addr, netmask: Ipv4Addr },
    #[error("The DHCP range starts after it ends ({start} > {end})")]
    RangeReversed { start: Ipv4Addr, end: Ipv4Addr },
    #[error("Host `{host}`: {ip} is inside the dynamic range {start}-{end}")]
    InRange {
        host: String,
        ip: Ipv4Addr,
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
}

/// Check the network and the hosts (their images are checked against the menu by `emit`).
pub fn validate(dhcp: Option<&Dhcp>, hosts: &[Host]) -> Result<(), NetworkError> {
    let net = dhcp.map(subnet).transpose()?;
    let mut seen = HostIndex::default();
    for h in hosts {
        let valid_name = !h.name.is_empty()
            && h.name.len() <= 63
            && h.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !h.name.starts_with('-');
        if !valid_name {
            return Err(NetworkError::BadName {
                host: h.name.clone(),
                name: h.name.clone(),
            });
        }
        let mac: Mac = h.mac.parse().map_err(|_| NetworkError::BadMac {
            host: h.name.clone(),
            mac: h.mac.clone(),
        })?;
        if let (Some(d), Some(net)) = (dhcp, &net) {
            net.check_host(h.ip, d.range)
                .map_err(|e| host_error(h, d, e))?;
        }
        seen.insert(&h.name, mac, h.ip, h.name.as_str())
            .map_err(|c| {
                let (first, what, value) = match c {
                    Clash::Name(first) => (first, "name", h.name.clone()),
                    Clash::Mac(first) => (first, "MAC address", mac.to_string()),
                    Clash::Ip(first) => (first, "address", h.ip.to_string()),
                };
                NetworkError::Duplicate {
                    first: first.to_string(),
                    second: h.name.clone(),
                    what,
                    value,
                }
            })?;
    }
    Ok(())
}

/// The DHCP subnet, once its netmask, range and router are known to fit.
fn subnet(d: &Dhcp) -> Result<Ipv4Net, NetworkError> {
    let prefix =
        addr::prefix_len(d.netmask).ok_or(NetworkError::BadNetmask { netmask: d.netmask })?;
    let net = Ipv4Net::new(d.subnet, prefix).ok_or(NetworkError::SubnetHostBits {
        subnet: d.subnet,
        netmask: d.netmask,
    })?;
    let outside = |what, ip| NetworkError::NetOutside {
        what,
        ip,
        subnet: d.subnet,
        netmask: d.netmask,
    };
    if let Some((start, end)) = d.range {
        net.check_range(start, end).map_err(|e| match e {
            BadRange::StartOutside => outside("range start", start),
            BadRange::EndOutside => outside("range end", end),
            BadRange::Reversed => NetworkError::RangeReversed { start, end },
        })?;
    }
    if let Some(r) = d.routers
        && !net.contains(r)
    {
        return Err(outside("router", r));
    }
    Ok(net)
}

fn host_error(h: &Host, d: &Dhcp, e: BadHostAddr) -> NetworkError {
    let host = h.name.clone();
    match e {
        BadHostAddr::Outside => NetworkError::OutsideSubnet {
            host,
            ip: h.ip,
            subnet: d.subnet,
            netmask: d.netmask,
        },
        BadHostAddr::Reserved => NetworkError::Reserved { host, ip: h.ip },
        BadHostAddr::InRange { start, end } => NetworkError::InRange {
            host,
            ip: h.ip,
            start,
            end,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn net() -> Dhcp {
        Dhcp {
            subnet: "10.1.0.0".parse().unwrap(),
            netmask: "255.255.255.0".parse().unwrap(),
            next_server: "10.1.0.1".parse().unwrap(),
            range: Some(("10.1.0.100".parse().unwrap(), "10.1.0.199".parse().unwrap())),
            routers: Some("10.1.0.1".parse().unwrap()),
            dns_servers: vec!["10.1.0.1".parse().unwrap()],
            domain_name: Some("cluster.example".into()),
            interface: None,
            lease_secs: 43200,
        }
    }

    pub(crate) fn host(name: &str, mac: &str, ip: &str) -> Host {
        Host {
            name: name.into(),
            hostname: None,
            mac: mac.into(),
            ip: ip.parse().unwrap(),
            image: None,
            cmdline: None,
        }
    }

    #[test]
    fn errors_name_the_host() {
        let n = net();
        let ok = [
            host("node01", "52:54:00:AA:BB:01", "10.1.0.11"),
            host("node02", "52-54-00-aa-bb-02", "10.1.0.12"),
        ];
        validate(Some(&n), &ok).unwrap();
        let cases: Vec<(Vec<Host>, &str)> = vec![
            (
                vec![host("node01", "52:54:00:aa:bb", "10.1.0.11")],
                "Host `node01`: `52:54:00:aa:bb` is not a MAC address",
            ),
            (
                vec![host("node01", "52:54:00:aa:bb:01", "10.2.0.11")],
                "Host `node01`: 10.2.0.11 is outside the subnet 10.1.0.0/255.255.255.0",
            ),
            (
                vec![host("node01", "52:54:00:aa:bb:01", "10.1.0.255")],
                "Host `node01`: 10.1.0.255 is the subnet's network or broadcast address",
            ),
            (
                vec![host("node01", "52:54:00:aa:bb:01", "10.1.0.150")],
                "Host `node01`: 10.1.0.150 is inside the dynamic range",
            ),
            (
                vec![
                    host("node01", "52:54:00:aa:bb:01", "10.1.0.11"),
                    host("node02", "52:54:00:AA:BB:01", "10.1.0.12"),
                ],
                "Hosts `node01` and `node02` have the same MAC address `52:54:00:aa:bb:01`",
            ),
            (
                vec![
                    host("node01", "52:54:00:aa:bb:01", "10.1.0.11"),
                    host("node01", "52:54:00:aa:bb:02", "10.1.0.12"),
                ],
                "Hosts `node01` and `node01` have the same name",
            ),
            (
                vec![
                    host("node01", "52:54:00:aa:bb:01", "10.1.0.11"),
                    host("node02", "52:54:00:aa:bb:02", "10.1.0.11"),
                ],
                "Hosts `node01` and `node02` have the same address `10.1.0.11`",
            ),
            (
                vec![host("bad_name", "52:54:00:aa:bb:01", "10.1.0.11")],
                "Host `bad_name`: `bad_name` is not a valid host name",
            ),
        ];
        for (hosts, want) in cases {
            let e = validate(Some(&n), &hosts).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}\n  wanted: {want}");
        }
    }

    #[test]
    fn subnet_errors() {
        let ip = |s: &str| -> Ipv4Addr { s.parse().unwrap() };
        let with = |change: &dyn Fn(&mut Dhcp)| {
            let mut d = net();
            change(&mut d);
            d
        };
        let cases = [
            (
                with(&|d| d.netmask = ip("255.0.255.0")),
                "`255.0.255.0` is not a contiguous netmask",
            ),
            (
                with(&|d| d.subnet = ip("10.1.0.1")),
                "The subnet address 10.1.0.1 has host bits set for netmask 255.255.255.0",
            ),
            (
                with(&|d| d.range = Some((ip("10.2.0.100"), ip("10.1.0.199")))),
                "The DHCP range start 10.2.0.100 is outside the subnet 10.1.0.0/255.255.255.0",
            ),
            (
                with(&|d| d.range = Some((ip("10.1.0.100"), ip("10.2.0.199")))),
                "The DHCP range end 10.2.0.199 is outside the subnet 10.1.0.0/255.255.255.0",
            ),
            (
                with(&|d| d.range = Some((ip("10.1.0.199"), ip("10.1.0.100")))),
                "The DHCP range starts after it ends (10.1.0.199 > 10.1.0.100)",
            ),
            (
                with(&|d| d.routers = Some(ip("10.2.0.1"))),
                "The DHCP router 10.2.0.1 is outside the subnet 10.1.0.0/255.255.255.0",
            ),
        ];
        let hosts = [host("node01", "52:54:00:aa:bb:01", "10.1.0.11")];
        for (d, want) in cases {
            let e = validate(Some(&d), &hosts).unwrap_err().to_string();
            assert_eq!(e, want);
        }
        // Without a subnet, hosts are only checked against each other.
        validate(None, &[host("node01", "52:54:00:aa:bb:01", "192.0.2.1")]).unwrap();
    }
}
