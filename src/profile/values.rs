//! Small value types of the profile (file modes, MAC addresses, IPv4 subnets, compression)
//! that check themselves while the TOML is read, so a bad value is reported at its own
//! `file:line:column` by the TOML parser's span.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A Unix permission mode (the low 12 bits: permissions, setuid, setgid, sticky).
///
/// Written in the profile as a string of octal digits (`"0644"`, `"755"`, `"0o4755"`). A bare
/// TOML integer is refused: `mode = 644` would silently mean 0o1204.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mode(pub u32);

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.strip_prefix("0o").unwrap_or(s);
        let ok = !digits.is_empty()
            && digits.len() <= 5
            && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
        let bad = || {
            format!("`{s}` is not an octal file mode (expected digits 0-7 like `0644` or `4755`)")
        };
        if !ok {
            return Err(bad());
        }
        let v = u32::from_str_radix(digits, 8).map_err(|_| bad())?;
        if v > 0o7777 {
            return Err(format!(
                "`{s}` is not a file mode: it is larger than `07777`"
            ));
        }
        Ok(Mode(v))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Mode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an octal mode as a string, like \"0644\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Mode, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Mode, E> {
                Err(E::custom(format!(
                    "the mode must be a string of octal digits (write `\"0{v:o}\"` for {v}, or quote the digits you meant, e.g. `\"0644\"`)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// Serialize a mode as its octal string (`"0644"`), the way admins read modes.
pub fn serialize_mode<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}

/// An Ethernet MAC address. Parsed from `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (any case);
/// displayed lower-case with colons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The pxelinux per-host config file name: `01-aa-bb-cc-dd-ee-ff` (ARP type 1, Ethernet).
    pub fn pxelinux_name(&self) -> String {
        let b = self.0;
        format!(
            "01-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{s}` is not a MAC address (expected six hex pairs like `aa:bb:cc:dd:ee:01`)")
        };
        let sep = if s.contains('-') { '-' } else { ':' };
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(&parts) {
            if p.len() != 2 {
                return Err(bad());
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// An IPv4 subnet in CIDR form (`192.168.0.0/24`). The address is the network address:
/// host bits must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    /// The netmask, e.g. 255.255.255.0 for /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.prefix))
    }
    /// The network address (same as `addr`, host bits are zero by construction).
    pub fn network(&self) -> Ipv4Addr {
        self.addr
    }
    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask_bits(self.prefix))
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask_bits(self.prefix) == u32::from(self.addr)
    }
}

fn mask_bits(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl FromStr for Ipv4Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not an IPv4 subnet (expected CIDR form like `192.168.0.0/24`)");
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        let net = Ipv4Net { addr, prefix };
        let base = Ipv4Addr::from(u32::from(addr) & mask_bits(prefix));
        if base != addr {
            return Err(format!(
                "`{s}` has host bits set: the network address of /{prefix} is `{base}`"
            ));
        }
        Ok(net)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Deserialize through `FromStr`, reporting the parser's message at the value's span.
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
serde_via_str!(MacAddr, "a MAC address like \"aa:bb:cc:dd:ee:01\"");
serde_via_str!(Ipv4Net, "an IPv4 subnet like \"192.168.0.0/24\"");

/// How the initramfs is compressed. The kernel reads all four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum Compression {
    /// gzip, level 1-9 (default 9, as the seed recipe's `gzip -9`).
    Gzip { level: u32 },
    /// zstd, level 1-19 (default 19).
    Zstd { level: i32 },
    /// xz with a crc32 check (the kernel cannot verify crc64), level 0-9 (default 6).
    Xz { level: u32 },
    /// No compression.
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip { level: 9 }
    }
}

/// The algorithm name as written in the profile (`compression = "zstd"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionName {
    Gzip,
    Zstd,
    Xz,
    None,
}

impl Compression {
    /// Combine the name and an optional level, checking the level's range.
    pub fn new(name: CompressionName, level: Option<i64>) -> Result<Self, String> {
        let check = |lo: i64, hi: i64, dflt: i64| -> Result<i64, String> {
            let l = level.unwrap_or(dflt);
            if (lo..=hi).contains(&l) {
                Ok(l)
            } else {
                Err(format!(
                    "level {l} is out of range for this compression (expected {lo} to {hi})"
                ))
            }
        };
        Ok(match name {
            CompressionName::Gzip => Compression::Gzip {
                level: check(1, 9, 9)? as u32,
            },
            CompressionName::Zstd => Compression::Zstd {
                level: check(1, 19, 19)? as i32,
            },
            CompressionName::Xz => Compression::Xz {
                level: check(0, 9, 6)? as u32,
            },
            CompressionName::None => {
                if level.is_some() {
                    return Err("`compression = \"none\"` takes no level".into());
                }
                Compression::None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!("0644".parse::<Mode>().unwrap(), Mode(0o644));
        assert_eq!("755".parse::<Mode>().unwrap(), Mode(0o755));
        assert_eq!("0o4755".parse::<Mode>().unwrap(), Mode(0o4755));
        assert!("0x44".parse::<Mode>().is_err());
        assert!("0888".parse::<Mode>().is_err());
        assert!("".parse::<Mode>().is_err());
        assert!("17777".parse::<Mode>().is_err());
        assert_eq!(Mode(0o600).to_string(), "0600");
    }

    #[test]
    fn macs() {
        let m: MacAddr = "AA-bb-cc-dd-ee-01".parse().unwrap();
        assert_eq!(m.to_string(), "aa:bb:cc:dd:ee:01");
        assert_eq!(m.pxelinux_name(), "01-aa-bb-cc-dd-ee-01");
        assert!("aa:bb:cc:dd:ee".parse::<MacAddr>().is_err());
        assert!("aa:bb:cc:dd:ee:gg".parse::<MacAddr>().is_err());
        assert!("aabb:cc:dd:ee:ff:0".parse::<MacAddr>().is_err());
    }

    #[test]
    fn subnets() {
        let n: Ipv4Net = "192.168.0.0/24".parse().unwrap();
        assert_eq!(n.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(n.broadcast(), Ipv4Addr::new(192, 168, 0, 255));
        assert!(n.contains(Ipv4Addr::new(192, 168, 0, 101)));
        assert!(!n.contains(Ipv4Addr::new(192, 168, 1, 1)));
        let e = "192.168.0.1/24".parse::<Ipv4Net>().unwrap_err();
        assert!(e.contains("192.168.0.0"), "{e}");
        assert!("10.0.0.0/33".parse::<Ipv4Net>().is_err());
        let all: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(8, 8, 8, 8)));
    }

    #[test]
    fn compression_levels() {
        assert_eq!(
            Compression::new(CompressionName::Gzip, None).unwrap(),
            Compression::default()
        );
        assert!(Compression::new(CompressionName::Gzip, Some(10)).is_err());
        assert_eq!(
            Compression::new(CompressionName::Zstd, Some(3)).unwrap(),
            Compression::Zstd { level: 3 }
        );
        assert!(Compression::new(CompressionName::None, Some(1)).is_err());
    }
}
