//! The files `[network]` turns into: NetworkManager keyfiles (EL9) or ifcfg files (EL7/EL8).
//! Rendering lives next to the profile so `rootfs` writes them like any `[[file]]`, and the
//! profile can refuse a `[[file]]` that would collide with one.

use super::model::{Dhcp, FileData, FileSpec, Host, Interface, IpMethod, Network, NetworkStyle};
use std::fmt::Write;

impl Network {
    /// The image path the configuration of `itf` is written to.
    pub fn file_path(&self, itf: &Interface) -> String {
        match self.style {
            NetworkStyle::Keyfile => format!(
                "/etc/NetworkManager/system-connections/{}.nmconnection",
                itf.name
            ),
            NetworkStyle::Ifcfg => format!("/etc/sysconfig/network-scripts/ifcfg-{}", itf.name),
        }
    }

    /// The file that gives `host` its fixed address on its interface, in this network's
    /// style, for the host's overlay: the interface as `[network]` defines it (MTU,
    /// onboot), with `ip` and the prefix, gateway and DNS servers of `[dhcp]` (or of the
    /// interface's own static settings). `None` when the host has no interface, or
    /// neither gives a prefix.
    pub fn host_file(&self, host: &Host, dhcp: Option<&Dhcp>) -> Option<FileSpec> {
        let itf = self
            .interfaces
            .iter()
            .find(|i| Some(&i.name) == host.interface.as_ref())?;
        let (own_prefix, own_gateway, own_dns) = match &itf.method {
            IpMethod::Static {
                prefix,
                gateway,
                dns,
                ..
            } => (Some(*prefix), *gateway, dns.clone()),
            IpMethod::Dhcp => (None, None, Vec::new()),
        };
        let prefix = dhcp.map(|d| d.subnet.prefix).or(own_prefix)?;
        let fixed = Interface {
            method: IpMethod::Static {
                address: host.ip,
                prefix,
                gateway: dhcp.and_then(|d| d.router).or(own_gateway),
                dns: match dhcp {
                    Some(d) if !d.dns.is_empty() => d.dns.clone(),
                    _ => own_dns,
                },
            },
            ..itf.clone()
        };
        let one = Network {
            style: self.style,
            interfaces: vec![fixed],
        };
        one.files().pop()
    }

    /// One file per interface, in profile order. Keyfiles are 0600: NetworkManager ignores
    /// connection files other users can read.
    pub fn files(&self) -> Vec<FileSpec> {
        self.interfaces
            .iter()
            .map(|itf| {
                let (text, mode) = match self.style {
                    NetworkStyle::Keyfile => (keyfile(itf), 0o600),
                    NetworkStyle::Ifcfg => (ifcfg(itf), 0o644),
                };
                FileSpec {
                    path: self.file_path(itf),
                    data: FileData::Content(text),
                    mode,
                    owner: "root".into(),
                    group: "root".into(),
                    append: false,
                    template: false,
                }
            })
            .collect()
    }
}

fn keyfile(itf: &Interface) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "[connection]\nid={0}\ntype=ethernet\ninterface-name={0}\nautoconnect={1}\n",
        itf.name, itf.onboot
    );
    if let Some(mtu) = itf.mtu {
        let _ = writeln!(s, "[ethernet]\nmtu={mtu}\n");
    }
    match &itf.method {
        IpMethod::Dhcp => s.push_str("[ipv4]\nmethod=auto\n"),
        IpMethod::Static {
            address,
            prefix,
            gateway,
            dns,
        } => {
            let _ = write!(s, "[ipv4]\nmethod=manual\naddress1={address}/{prefix}");
            if let Some(g) = gateway {
                let _ = write!(s, ",{g}");
            }
            s.push('\n');
            if !dns.is_empty() {
                let list: Vec<String> = dns.iter().map(|d| format!("{d};")).collect();
                let _ = writeln!(s, "dns={}", list.concat());
            }
        }
    }
    s.push_str("\n[ipv6]\nmethod=ignore\n");
    s
}

fn ifcfg(itf: &Interface) -> String {
    let onboot = if itf.onboot { "yes" } else { "no" };
    let mut s = format!("DEVICE={}\nTYPE=Ethernet\nONBOOT={onboot}\n", itf.name);
    match &itf.method {
        IpMethod::Dhcp => s.push_str("BOOTPROTO=dhcp\n"),
        IpMethod::Static {
            address,
            prefix,
            gateway,
            dns,
        } => {
            let _ = writeln!(s, "BOOTPROTO=none\nIPADDR={address}\nPREFIX={prefix}");
            if let Some(g) = gateway {
                let _ = writeln!(s, "GATEWAY={g}");
            }
            for (i, d) in dns.iter().enumerate() {
                let _ = writeln!(s, "DNS{}={d}", i + 1);
            }
        }
    }
    if let Some(mtu) = itf.mtu {
        let _ = writeln!(s, "MTU={mtu}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn net(style: NetworkStyle, method: IpMethod) -> Network {
        Network {
            style,
            interfaces: vec![Interface {
                name: "eth0".into(),
                method,
                mtu: None,
                onboot: true,
            }],
        }
    }

    #[test]
    fn keyfile_dhcp() {
        let f = net(NetworkStyle::Keyfile, IpMethod::Dhcp).files();
        assert_eq!(
            f[0].path,
            "/etc/NetworkManager/system-connections/eth0.nmconnection"
        );
        assert_eq!(f[0].mode, 0o600);
        let FileData::Content(c) = &f[0].data else {
            panic!()
        };
        assert_eq!(
            c,
            "[connection]\nid=eth0\ntype=ethernet\ninterface-name=eth0\nautoconnect=true\n\n[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=ignore\n"
        );
    }

    #[test]
    fn ifcfg_static() {
        let m = IpMethod::Static {
            address: Ipv4Addr::new(192, 168, 0, 101),
            prefix: 24,
            gateway: Some(Ipv4Addr::new(192, 168, 0, 1)),
            dns: vec![Ipv4Addr::new(192, 168, 0, 2)],
        };
        let f = net(NetworkStyle::Ifcfg, m).files();
        assert_eq!(f[0].path, "/etc/sysconfig/network-scripts/ifcfg-eth0");
        let FileData::Content(c) = &f[0].data else {
            panic!()
        };
        assert_eq!(
            c,
            "DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none\nIPADDR=192.168.0.101\nPREFIX=24\nGATEWAY=192.168.0.1\nDNS1=192.168.0.2\n"
        );
    }

    fn host(interface: Option<&str>) -> Host {
        Host {
            name: "n1".into(),
            hostname: "n1.cluster".into(),
            mac: "52:54:00:00:00:01".parse().unwrap(),
            ip: Ipv4Addr::new(10, 1, 0, 11),
            cmdline: None,
            interface: interface.map(Into::into),
            files: Vec::new(),
        }
    }

    /// A host's fixed address, in the network's style: prefix, router and DNS from
    /// `[dhcp]` when there is one, else from the interface's own static settings.
    #[test]
    fn host_file_in_either_style() {
        let dhcp = Dhcp {
            subnet: "10.1.0.0/16".parse().unwrap(),
            next_server: Ipv4Addr::new(10, 1, 0, 1),
            domain_name: None,
            dns: vec![Ipv4Addr::new(10, 1, 0, 2)],
            router: Some(Ipv4Addr::new(10, 1, 0, 1)),
            range: None,
            lease_time: None,
            interface: None,
        };
        let n = net(NetworkStyle::Ifcfg, IpMethod::Dhcp);
        let f = n.host_file(&host(Some("eth0")), Some(&dhcp)).unwrap();
        assert_eq!(
            f.data,
            FileData::Content("DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none\nIPADDR=10.1.0.11\nPREFIX=16\nGATEWAY=10.1.0.1\nDNS1=10.1.0.2\n".into())
        );
        // No [dhcp] and a DHCP interface: no prefix to give, no file.
        assert!(n.host_file(&host(Some("eth0")), None).is_none());
        assert!(n.host_file(&host(None), Some(&dhcp)).is_none());
        let own = IpMethod::Static {
            address: Ipv4Addr::new(10, 9, 0, 5),
            prefix: 24,
            gateway: None,
            dns: Vec::new(),
        };
        let f = net(NetworkStyle::Keyfile, own)
            .host_file(&host(Some("eth0")), None)
            .unwrap();
        let FileData::Content(c) = &f.data else {
            panic!()
        };
        assert!(c.contains("method=manual\naddress1=10.1.0.11/24\n"), "{c}");
        assert_eq!(f.mode, 0o600);
    }
}
