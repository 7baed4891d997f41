//! Ethernet MAC and IPv4 address rules of the boot network, written once for the two places
//! that check them: `profile` (what the admin wrote, reported at its `file:line:column`) and
//! `emit` (the settings it is handed, which need not come from a profile, checked before any
//! pxelinux, dhcpd, Kea or dnsmasq config is written).
//!
//! Parsing and the checks live here; the checks answer with plain facts ([`BadRange`],
//! [`BadHostAddr`], [`Clash`]) and each caller words its own error, located or not.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An Ethernet MAC address. Parsed from six hex pairs separated by `:` or `-`, any case
/// (`AA-bb-cc-dd-ee-01`); displayed lower-case with colons, the form dhcpd, Kea and dnsmasq
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

/// Text that is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a MAC address (expected six hex pairs like `aa:bb:cc:dd:ee:01`)")]
pub struct BadMac(pub String);

impl Mac {
    /// The pxelinux per-host config file name: `01-aa-bb-cc-dd-ee-ff` (ARP type 1, Ethernet).
    /// GRUB's per-host `grub.cfg-01-…` uses the same form.
    pub fn pxelinux_name(&self) -> String {
        let b = self.0;
        format!(
            "01-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for Mac {
    type Err = BadMac;
    fn from_str(s: &str) -> Result<Self, BadMac> {
        let bad = || BadMac(s.to_string());
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(&parts) {
            // Checked digit by digit: `u8::from_str_radix` would also take a sign (`+a`).
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// `AA-bb:CC…` -> `aa:bb:cc:dd:ee:ff`; `None` when it is not a MAC address.
pub fn normalise_mac(text: &str) -> Option<String> {
    text.parse::<Mac>().ok().map(|m| m.to_string())
}

/// An address with a prefix length as written in CIDR form (`192.168.0.101/24`), not
/// checked against anything else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCidr {
    #[error("`{0}` needs a prefix length, like `192.168.0.101/24`")]
    NoPrefix(String),
    #[error("`{0}` is not an IPv4 address")]
    Address(String),
    #[error("`{0}` is not a prefix length (0-32)")]
    Prefix(String),
}

/// Split `a.b.c.d/n` into the address and the prefix length (at most 32).
pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), BadCidr> {
    let (a, p) = s
        .split_once('/')
        .ok_or_else(|| BadCidr::NoPrefix(s.to_string()))?;
    let addr: Ipv4Addr = a.parse().map_err(|_| BadCidr::Address(a.to_string()))?;
    let prefix: u8 = p
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| BadCidr::Prefix(p.to_string()))?;
    Ok((addr, prefix))
}

/// The prefix length of a netmask (`255.255.252.0` -> 22); `None` when its one bits are not
/// contiguous.
pub fn prefix_len(netmask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(netmask);
    let ones = m.leading_ones();
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

fn mask_bits(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// An IPv4 subnet (`192.168.0.0/24`). The address is the network address: host bits are
/// zero, and the prefix is at most 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// Text that is not an IPv4 subnet in CIDR form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSubnet {
    #[error("`{0}` is not an IPv4 subnet (expected CIDR form like `192.168.0.0/24`)")]
    Syntax(String),
    #[error("`{text}` has host bits set: the network address of /{prefix} is `{network}`")]
    HostBits {
        text: String,
        prefix: u8,
        network: Ipv4Addr,
    },
}

/// Why a DHCP dynamic range does not fit its subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRange {
    StartOutside,
    EndOutside,
    /// The first address is above the last.
    Reversed,
}

/// Why an address cannot be a host's fixed address in a subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadHostAddr {
    Outside,
    /// The subnet's network or broadcast address.
    Reserved,
    /// Inside the dynamic range `start..=end`: the server could lease it to another machine.
    InRange {
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
}

impl Ipv4Net {
    /// `addr/prefix`; `None` when the prefix is over 32 or `addr` has host bits set.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Net> {
        let net = Ipv4Net { addr, prefix };
        (prefix <= 32 && net.network() == addr).then_some(net)
    }

    /// The netmask, e.g. 255.255.255.0 for /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.prefix))
    }

    /// The network address (`addr` with the host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & mask_bits(self.prefix))
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask_bits(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask_bits(self.prefix) == u32::from(self.network())
    }

    /// A dynamic range `start..=end` must lie inside the subnet, first address first.
    pub fn check_range(&self, start: Ipv4Addr, end: Ipv4Addr) -> Result<(), BadRange> {
        if !self.contains(start) {
            return Err(BadRange::StartOutside);
        }
        if !self.contains(end) {
            return Err(BadRange::EndOutside);
        }
        if start > end {
            return Err(BadRange::Reversed);
        }
        Ok(())
    }

    /// A host's fixed address must be inside the subnet, neither its network nor its
    /// broadcast address, and outside the dynamic range `(start, end)` (both ends included).
    pub fn check_host(
        &self,
        ip: Ipv4Addr,
        range: Option<(Ipv4Addr, Ipv4Addr)>,
    ) -> Result<(), BadHostAddr> {
        if !self.contains(ip) {
            return Err(BadHostAddr::Outside);
        }
        if ip == self.network() || ip == self.broadcast() {
            return Err(BadHostAddr::Reserved);
        }
        if let Some((start, end)) = range
            && (start..=end).contains(&ip)
        {
            return Err(BadHostAddr::InRange { start, end });
        }
        Ok(())
    }
}

impl FromStr for Ipv4Net {
    type Err = BadSubnet;
    fn from_str(s: &str) -> Result<Self, BadSubnet> {
        let (addr, prefix) = parse_cidr(s).map_err(|_| BadSubnet::Syntax(s.to_string()))?;
        Ipv4Net::new(addr, prefix).ok_or_else(|| BadSubnet::HostBits {
            text: s.to_string(),
            prefix,
            network: Ipv4Net { addr, prefix }.network(),
        })
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Which value of a host another host already uses, and that host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clash<T> {
    Name(T),
    Mac(T),
    Ip(T),
}

/// The first host to use each name (case-insensitive, as DNS compares names), MAC and
/// address. `T` is how the caller names a host (an index, a name).
#[derive(Debug)]
pub struct HostIndex<T> {
    names: BTreeMap<String, T>,
    macs: BTreeMap<Mac, T>,
    ips: BTreeMap<Ipv4Addr, T>,
}

impl<T> Default for HostIndex<T> {
    fn default() -> Self {
        HostIndex {
            names: BTreeMap::new(),
            macs: BTreeMap::new(),
            ips: BTreeMap::new(),
        }
    }
}

impl<T: Clone> HostIndex<T> {
    /// Record a host, or say which of its values (checked in the order name, MAC, address)
    /// an earlier host holds. After a clash the index may hold part of the host: callers stop
    /// at the first error.
    pub fn insert(&mut self, name: &str, mac: Mac, ip: Ipv4Addr, who: T) -> Result<(), Clash<T>> {
        fn claim<K: Ord, T: Clone>(map: &mut BTreeMap<K, T>, key: K, who: &T) -> Result<(), T> {
            match map.entry(key) {
                Entry::Occupied(e) => Err(e.get().clone()),
                Entry::Vacant(e) => {
                    e.insert(who.clone());
                    Ok(())
                }
            }
        }
        claim(&mut self.names, name.to_ascii_lowercase(), &who).map_err(Clash::Name)?;
        claim(&mut self.macs, mac, &who).map_err(Clash::Mac)?;
        claim(&mut self.ips, ip, &who).map_err(Clash::Ip)?;
        Ok(())
    }
}

/// Deserialize through `FromStr` (the parser's message is the error, so the profile reports
/// it at the value's span) and serialize through `Display`.
macro_rules! serde_via_str {
    ($t:ty, $expect:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expect)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}
serde_via_str!(Mac, "a MAC address like \"aa:bb:cc:dd:ee:01\"");
serde_via_str!(Ipv4Net, "an IPv4 subnet like \"192.168.0.0/24\"");

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn macs() {
        let m: Mac = "AA-bb-cc-dd-ee-01".parse().unwrap();
        assert_eq!(m.to_string(), "aa:bb:cc:dd:ee:01");
        assert_eq!(m.pxelinux_name(), "01-aa-bb-cc-dd-ee-01");
        assert_eq!(
            normalise_mac("52-54-00:AA:bb-01").as_deref(),
            Some("52:54:00:aa:bb:01")
        );
        for bad in [
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:gg",
            "aabb:cc:dd:ee:ff:0",
            "aa:bb:cc:dd:ee:ff:00",
            "+a:bb:cc:dd:ee:01",
            "a:bb:cc:dd:ee:001",
            "",
        ] {
            assert_eq!(bad.parse::<Mac>(), Err(BadMac(bad.into())), "{bad}");
        }
        assert_eq!(
            BadMac("x".into()).to_string(),
            "`x` is not a MAC address (expected six hex pairs like `aa:bb:cc:dd:ee:01`)"
        );
    }

    #[test]
    fn cidr_and_subnets() {
        assert_eq!(parse_cidr("10.0.0.1/8"), Ok((ip("10.0.0.1"), 8)));
        assert_eq!(
            parse_cidr("10.0.0.1"),
            Err(BadCidr::NoPrefix("10.0.0.1".into()))
        );
        assert_eq!(
            parse_cidr("10.0.1/8"),
            Err(BadCidr::Address("10.0.1".into()))
        );
        assert_eq!(parse_cidr("10.0.0.1/33"), Err(BadCidr::Prefix("33".into())));

        let n: Ipv4Net = "192.168.0.0/24".parse().unwrap();
        assert_eq!(n.netmask(), ip("255.255.255.0"));
        assert_eq!(n.network(), ip("192.168.0.0"));
        assert_eq!(n.broadcast(), ip("192.168.0.255"));
        assert!(n.contains(ip("192.168.0.101")));
        assert!(!n.contains(ip("192.168.1.1")));
        let e = "192.168.0.1/24".parse::<Ipv4Net>().unwrap_err().to_string();
        assert_eq!(
            e,
            "`192.168.0.1/24` has host bits set: the network address of /24 is `192.168.0.0`"
        );
        assert_eq!(
            "10.0.0.0/33".parse::<Ipv4Net>(),
            Err(BadSubnet::Syntax("10.0.0.0/33".into()))
        );
        let all: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert_eq!(Ipv4Net::new(ip("10.0.0.0"), 33), None);
        assert_eq!(Ipv4Net::new(ip("10.1.0.1"), 16), None);
        assert!(Ipv4Net::new(ip("10.1.0.0"), 16).is_some());
    }

    #[test]
    fn netmask_and_prefix() {
        assert_eq!(prefix_len(ip("255.255.252.0")), Some(22));
        assert_eq!(prefix_len(ip("255.0.255.0")), None);
        assert_eq!(prefix_len(ip("0.0.0.0")), Some(0));
        assert_eq!(prefix_len(ip("255.255.255.255")), Some(32));
    }

    #[test]
    fn ranges_and_hosts() {
        let n: Ipv4Net = "10.1.0.0/24".parse().unwrap();
        assert_eq!(n.check_range(ip("10.1.0.100"), ip("10.1.0.199")), Ok(()));
        assert_eq!(
            n.check_range(ip("10.2.0.100"), ip("10.2.0.199")),
            Err(BadRange::StartOutside)
        );
        assert_eq!(
            n.check_range(ip("10.1.0.100"), ip("10.2.0.199")),
            Err(BadRange::EndOutside)
        );
        assert_eq!(
            n.check_range(ip("10.1.0.199"), ip("10.1.0.100")),
            Err(BadRange::Reversed)
        );
        let range = Some((ip("10.1.0.100"), ip("10.1.0.199")));
        assert_eq!(n.check_host(ip("10.1.0.11"), range), Ok(()));
        assert_eq!(
            n.check_host(ip("10.2.0.11"), range),
            Err(BadHostAddr::Outside)
        );
        assert_eq!(
            n.check_host(ip("10.1.0.0"), range),
            Err(BadHostAddr::Reserved)
        );
        assert_eq!(
            n.check_host(ip("10.1.0.255"), None),
            Err(BadHostAddr::Reserved)
        );
        let in_range = Err(BadHostAddr::InRange {
            start: ip("10.1.0.100"),
            end: ip("10.1.0.199"),
        });
        assert_eq!(n.check_host(ip("10.1.0.100"), range), in_range);
        assert_eq!(n.check_host(ip("10.1.0.199"), range), in_range);
        assert_eq!(n.check_host(ip("10.1.0.200"), range), Ok(()));
        assert_eq!(n.check_host(ip("10.1.0.150"), None), Ok(()));
    }

    #[test]
    fn host_clashes_name_the_first_holder() {
        let mac = |s: &str| s.parse::<Mac>().unwrap();
        let mut idx = HostIndex::default();
        idx.insert("node01", mac("52:54:00:aa:bb:01"), ip("10.1.0.11"), 0)
            .unwrap();
        idx.insert("node02", mac("52:54:00:aa:bb:02"), ip("10.1.0.12"), 1)
            .unwrap();
        assert_eq!(
            idx.insert("NODE01", mac("52:54:00:aa:bb:03"), ip("10.1.0.13"), 2),
            Err(Clash::Name(0))
        );
        assert_eq!(
            idx.insert("node03", mac("52-54-00-AA-BB-02"), ip("10.1.0.13"), 2),
            Err(Clash::Mac(1))
        );
        assert_eq!(
            idx.insert("node04", mac("52:54:00:aa:bb:04"), ip("10.1.0.11"), 3),
            Err(Clash::Ip(0))
        );
    }

    #[test]
    fn serde_forms() {
        let m: Mac = serde_json::from_str("\"AA-BB-CC-DD-EE-01\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"aa:bb:cc:dd:ee:01\"");
        let n: Ipv4Net = serde_json::from_str("\"10.0.0.0/8\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"10.0.0.0/8\"");
        let e = serde_json::from_str::<Mac>("\"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("`x` is not a MAC address"), "{e}");
    }
}
