//! The package record and the rpm rules over it: what repository metadata says about one
//! RPM, and how rpm compares versions, matches dependencies, parses rich dependencies and
//! globs package names.
//!
//! This is the base both `repo` and `solve` stand on: `repo` produces these records from
//! primary.xml (and filelists on demand) and answers queries with the rules, `solve` maps
//! them onto a SAT problem without any I/O, and `lock` pins the chosen ones. Strings are
//! kept as rpm writes them.

mod depmatch;
mod glob;
mod rich;
pub mod rpmhead;
mod vercmp;

pub use depmatch::{Sense, evr_as_dep, evr_in_range, overlap, parse_evr, provide_satisfies};
pub use glob::{glob_match, is_glob};
pub use rich::{Rich, RichError, parse as parse_rich};
pub use vercmp::{evr_cmp, rpmvercmp};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Epoch, version and release of a package, as in primary.xml's `<version>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Evr {
    pub epoch: u32,
    pub version: String,
    pub release: String,
}

impl fmt::Display for Evr {
    /// `E:V-R`, with the epoch left out when it is 0 (as rpm and dnf print it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        write!(f, "{}-{}", self.version, self.release)
    }
}

/// The comparison of a versioned dependency (`<rpm:entry flags="GE" …>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    /// Parse primary.xml's `flags` attribute (`LT`, `LE`, `EQ`, `GE`, `GT`).
    pub fn from_flags(flags: &str) -> Option<Op> {
        Some(match flags {
            "LT" => Op::Lt,
            "LE" => Op::Le,
            "EQ" => Op::Eq,
            "GE" => Op::Ge,
            "GT" => Op::Gt,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }
}

/// The version side of a dependency. Parts that primary.xml leaves out are `None`, which
/// means "not constrained", not "0" (an entry without `rel` matches any release).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DepEvr {
    pub epoch: Option<u32>,
    pub version: String,
    pub release: Option<String>,
}

impl fmt::Display for DepEvr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.epoch {
            write!(f, "{e}:")?;
        }
        write!(f, "{}", self.version)?;
        if let Some(r) = &self.release {
            write!(f, "-{r}")?;
        }
        Ok(())
    }
}

/// One Provides/Requires/Conflicts/... entry. A rich (boolean) dependency keeps its whole
/// text in `name` (it starts with `(`) and has no `op`; `solve` parses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    pub op: Option<Op>,
    pub evr: Option<DepEvr>,
    /// `pre="1"`: Requires(pre)/(post); still a hard requirement for an empty install root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pre: bool,
}

impl Dependency {
    pub fn is_rich(&self) -> bool {
        self.name.starts_with('(')
    }
}

impl fmt::Display for Dependency {
    /// Printed as rpm and dnf print it: `name`, or `name >= 1.2-3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let (Some(op), Some(evr)) = (self.op, &self.evr) {
            write!(f, " {} {evr}", op.as_str())?;
        }
        Ok(())
    }
}

/// A content checksum as repository metadata and lockfiles carry it. Serialised as one
/// `kind:value` string (`sha256:ab12…`), which keeps each lock entry on one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// `sha256`, `sha512`, `sha1` (`sha` in old metadata is normalised to `sha1`).
    pub kind: String,
    /// Lowercase hex.
    pub value: String,
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

impl Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Checksum, D::Error> {
        let text = String::deserialize(d)?;
        let (kind, value) = text.split_once(':').ok_or_else(|| {
            serde::de::Error::custom(format!(
                "checksum `{text}` is not `kind:hex` (e.g. `sha256:ab12…`)"
            ))
        })?;
        Ok(Checksum {
            kind: kind.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// One package from a repository's primary.xml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub arch: String,
    pub evr: Evr,
    /// The repository id (from the profile or `.repo` file) this record came from.
    pub repo: String,
    /// `location href`, relative to the repository base URL (or to `location_base`).
    pub location: String,
    /// `location xml:base`, when the metadata points elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_base: Option<String>,
    pub checksum: Checksum,
    /// Size of the .rpm file in bytes.
    pub size_package: u64,
    /// Installed size in bytes.
    pub size_installed: u64,
    pub time_build: u64,
    pub sourcerpm: String,
    pub summary: String,
    pub provides: Vec<Dependency>,
    pub requires: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub recommends: Vec<Dependency>,
    pub suggests: Vec<Dependency>,
    pub supplements: Vec<Dependency>,
    pub enhances: Vec<Dependency>,
    /// The files primary.xml lists (a subset: /etc/*, *bin/*, /usr/lib/sendmail).
    /// The full list is in filelists.xml, loaded by `repo` only when needed.
    pub files: Vec<String>,
}

impl Package {
    /// `name-[epoch:]version-release.arch`, as dnf prints a package.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr, self.arch)
    }

    /// `name-epoch:version-release.arch` with the epoch always present, as
    /// `dnf repoquery` prints it by default.
    pub fn nevra_full_epoch(&self) -> String {
        format!(
            "{}-{}:{}-{}.{}",
            self.name, self.evr.epoch, self.evr.version, self.evr.release, self.arch
        )
    }
}

/// Index of a package in the slice `repo`'s pool holds and `solve` takes.
pub type PkgId = usize;

/// Full file lists, loaded lazily: primary.xml lists only some files, so a file
/// dependency that no primary entry satisfies asks this (filelists.xml behind it).
/// `repo`'s pool implements it and `solve` asks it; the trait sits here, under both.
pub trait FileProviders {
    /// Packages (indices into the solve input) that contain `path`.
    fn providers(&self, path: &str) -> Vec<PkgId>;
}

/// No extra file lists: only primary.xml's files satisfy file dependencies.
pub struct NoFileLists;

impl FileProviders for NoFileLists {
    fn providers(&self, _path: &str) -> Vec<PkgId> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_dnf() {
        let d = Dependency {
            name: "glibc".into(),
            op: Some(Op::Ge),
            evr: Some(DepEvr {
                epoch: None,
                version: "2.34".into(),
                release: None,
            }),
            pre: false,
        };
        assert_eq!(d.to_string(), "glibc >= 2.34");
        let e = Evr {
            epoch: 2,
            version: "1.0".into(),
            release: "3.el9".into(),
        };
        assert_eq!(e.to_string(), "2:1.0-3.el9");
    }
}
