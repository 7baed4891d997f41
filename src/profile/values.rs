//! Small value types of the profile (file modes, compression) that check themselves while the
//! TOML is read, so a bad value is reported at its own `file:line:column` by the TOML
//! parser's span. MAC addresses and IPv4 subnets do the same; their rules are shared with
//! `emit`, so they live in [`crate::net::addr`].

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
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

/// A switch the build can decide: `true`, `false`, or `"auto"` (on when what it needs is
/// there, e.g. `[pxe] uefi`: on when the boot packages carry a UEFI loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoBool {
    #[default]
    Auto,
    On,
    Off,
}

impl<'de> Deserialize<'de> for AutoBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AutoBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or \"auto\"")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<AutoBool, E> {
                Ok(if b { AutoBool::On } else { AutoBool::Off })
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AutoBool, E> {
                match s {
                    "auto" => Ok(AutoBool::Auto),
                    _ => Err(E::custom(format!(
                        "`{s}` is not a choice here (expected true, false or \"auto\")"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// As written: `"auto"`, `true` or `false`.
impl Serialize for AutoBool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutoBool::Auto => s.serialize_str("auto"),
            AutoBool::On => s.serialize_bool(true),
            AutoBool::Off => s.serialize_bool(false),
        }
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

    #[test]
    fn auto_bool_reads_true_false_and_auto() {
        #[derive(Deserialize)]
        struct T {
            v: AutoBool,
        }
        let v = |s: &str| toml::from_str::<T>(&format!("v = {s}")).map(|t| t.v);
        assert_eq!(v("true").unwrap(), AutoBool::On);
        assert_eq!(v("false").unwrap(), AutoBool::Off);
        assert_eq!(v("\"auto\"").unwrap(), AutoBool::Auto);
        let e = v("\"yes\"").unwrap_err().to_string();
        assert!(e.contains("expected true, false or \"auto\""), "{e}");
        assert!(v("1").is_err());
        assert_eq!(serde_json::to_string(&AutoBool::Auto).unwrap(), "\"auto\"");
        assert_eq!(serde_json::to_string(&AutoBool::Off).unwrap(), "false");
    }
}
