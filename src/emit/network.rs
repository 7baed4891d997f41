//! Validation of the boot network and the hosts before any config is written: MAC
//! addresses, addresses inside the subnet, unique names, MACs and addresses. Errors name
//! the host.

use super::settings::{Dhcp, Host};
use std::collections::BTreeMap;
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
    #[error("Host `{host}`: {ip} is inside the dynamic range {start}-{end}")]
    InRange {
        host: String,
        ip: Ipv4Addr,
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
}

/// `AA-bb:CC...` -> `aa:bb:cc:dd:ee:ff`.
pub fn normalise_mac(mac: &str) -> Option<String> {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    if parts.len() != 6
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(parts.join(":").to_ascii_lowercase())
}

pub fn prefix_len(netmask: Ipv4Addr) -> Option<u32> {
    let m = u32::from(netmask);
    let ones = m.leading_ones();
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones)
}

fn inside(ip: Ipv4Addr, d: &Dhcp) -> bool {
    let m = u32::from(d.netmask);
    u32::from(ip) & m == u32::from(d.subnet) & m
}

/// Check the network and the hosts (their images are checked against the menu by `emit`).
pub fn validate(dhcp: Option<&Dhcp>, hosts: &[Host]) -> Result<(), NetworkError> {
    if let Some(d) = dhcp {
        prefix_len(d.netmask).ok_or(NetworkError::BadNetmask { netmask: d.netmask })?;
        if u32::from(d.subnet) & !u32::from(d.netmask) != 0 {
            return Err(NetworkError::SubnetHostBits {
                subnet: d.subnet,
                netmask: d.netmask,
            });
        }
        let check = |what, ip| {
            if inside(ip, d) {
                Ok(())
            } else {
                Err(NetworkError::NetOutside {
                    what,
                    ip,
                    subnet: d.subnet,
                    netmask: d.netmask,
                })
            }
        };
        if let Some((a, b)) = d.range {
            check("range start", a)?;
            check("range end", b)?;
        }
        if let Some(r) = d.routers {
            check("router", r)?;
        }
    }
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut macs: BTreeMap<String, &str> = BTreeMap::new();
    let mut ips: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
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
        let mac = normalise_mac(&h.mac).ok_or_else(|| NetworkError::BadMac {
            host: h.name.clone(),
            mac: h.mac.clone(),
        })?;
        if let Some(d) = dhcp {
            if !inside(h.ip, d) {
                return Err(NetworkError::OutsideSubnet {
                    host: h.name.clone(),
                    ip: h.ip,
                    subnet: d.subnet,
                    netmask: d.netmask,
                });
            }
            let host_bits = u32::from(h.ip) & !u32::from(d.netmask);
            if host_bits == 0 || host_bits == !u32::from(d.netmask) {
                return Err(NetworkError::Reserved {
                    host: h.name.clone(),
                    ip: h.ip,
                });
            }
            if let Some((a, b)) = d.range
                && (u32::from(a)..=u32::from(b)).contains(&u32::from(h.ip))
            {
                return Err(NetworkError::InRange {
                    host: h.name.clone(),
                    ip: h.ip,
                    start: a,
                    end: b,
                });
            }
        }
        let lname = h.name.to_ascii_lowercase();
        if let Some(first) = names.insert(lname.clone(), &h.name) {
            return Err(NetworkError::Duplicate {
                first: first.to_string(),
                second: h.name.clone(),
                what: "name",
                value: h.name.clone(),
            });
        }
        if let Some(first) = macs.insert(mac.clone(), &h.name) {
            return Err(NetworkError::Duplicate {
                first: first.to_string(),
                second: h.name.clone(),
                what: "MAC address",
                value: mac,
            });
        }
        if let Some(first) = ips.insert(h.ip, &h.name) {
            return Err(NetworkError::Duplicate {
                first: first.to_string(),
                second: h.name.clone(),
                what: "address",
                value: h.ip.to_string(),
            });
        }
    }
    Ok(())
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
    fn netmask_and_prefix() {
        assert_eq!(prefix_len("255.255.252.0".parse().unwrap()), Some(22));
        assert_eq!(prefix_len("255.0.255.0".parse().unwrap()), None);
        assert_eq!(prefix_len("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(prefix_len("255.255.255.255".parse().unwrap()), Some(32));
    }
}
