//! Parsed repository metadata kept in the cache, as libsolv keeps `.solv` files: the
//! records of primary.xml (and filelists.xml, comps and modules.yaml when they are read)
//! in a compact binary form under `<cache>/parsed/`, keyed by the metadata file's checksum
//! (from repomd.xml) and the kind of record, sealed with this format's version
//! ([`crate::cas::seal`]). A warm `diskless lock` checks each file's checksum as before
//! and then loads these instead of decompressing and parsing XML.
//!
//! The checksum names the file's exact bytes, so its parse is the same whichever
//! repository or mirror served it; the repository id the records carry is set on load.
//! A cache file that is missing, damaged (CRC), of another format version or that does
//! not decode is ignored and written again from the XML: never a wrong answer.
//!
//! The form is postcard (serde): a documented, stable, compact wire format, varint
//! integers and length-prefixed strings, with no schema to maintain beside the types.
//! bincode (the usual choice) is unmaintained since 2025; rkyv's zero-copy access would
//! need the pool and the solver to work on archived types, while decoding into the
//! existing records is what the rest of the code reads. postcard is not self-describing,
//! so the serde attributes that skip default fields in JSON (`Dependency::pre`,
//! `Package::location_base`) cannot be used as is: the mirrors below (`serde(remote)`)
//! encode every field, and the compiler checks they list exactly the records' fields.

use crate::cas;
use crate::package::{Checksum, DepEvr, Dependency, Evr, Op, Package};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::Path;

/// The parsed metadata's folder in the cache.
pub const DIR: &str = "parsed";
/// Bumped whenever a parser would produce other records from the same file.
const VERSION: u32 = 1;

/// What kind of record a cache file holds (part of its key and of its seal).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Primary,
    Filelists,
    Comps,
    Modules,
}

impl Kind {
    fn tag(self) -> [u8; 4] {
        match self {
            Kind::Primary => *b"prim",
            Kind::Filelists => *b"file",
            Kind::Comps => *b"comp",
            Kind::Modules => *b"modl",
        }
    }
}

/// The parsed-metadata cache of one cache folder.
#[derive(Debug, Clone)]
pub struct Parsed {
    dir: cas::Dir,
}

impl Parsed {
    pub fn new(cache_dir: &Path) -> Parsed {
        Parsed {
            dir: cas::Dir::new(cache_dir.join(DIR)),
        }
    }

    fn key(kind: Kind, checksum: &Checksum) -> String {
        let mut k = cas::KeyHasher::new("diskless parsed metadata");
        k.part(&kind.tag())
            .part(checksum.kind.as_bytes())
            .part(checksum.value.to_ascii_lowercase().as_bytes());
        k.finish()
    }

    /// The records parsed from the file with `checksum`, when kept and whole.
    pub fn get<T: DeserializeOwned>(&self, kind: Kind, checksum: &Checksum) -> Option<T> {
        let key = Parsed::key(kind, checksum);
        let body = self.dir.get_sealed(&key, kind.tag(), VERSION)?;
        match postcard::from_bytes(&body) {
            Ok(v) => {
                self.dir.touch(&key);
                Some(v)
            }
            Err(e) => {
                tracing::debug!("parsed metadata {key} does not decode ({e}); parsing again");
                None
            }
        }
    }

    /// Keep the records parsed from the file with `checksum` (a failure to write only
    /// costs the next load a parse).
    pub fn put<T: Serialize>(&self, kind: Kind, checksum: &Checksum, value: &T) {
        let key = Parsed::key(kind, checksum);
        let written = postcard::to_allocvec(value)
            .map_err(std::io::Error::other)
            .and_then(|body| self.dir.put_sealed(&key, kind.tag(), VERSION, &body));
        if let Err(e) = written {
            tracing::debug!(
                "cannot keep parsed metadata in `{}`: {e}",
                self.dir.root().display()
            );
        }
    }
}

/// primary.xml's records and declared count.
///
/// The records are encoded in chunks of [`CHUNK`] packages, each its own postcard
/// message, so that loading decodes the chunks on all cores (decoding is allocation-bound:
/// every name and version is a `String`).
#[derive(Debug)]
pub struct PrimaryRecords {
    pub declared: Option<u64>,
    pub packages: Vec<Package>,
}

/// Packages per independently decoded chunk.
const CHUNK: usize = 2048;

/// A chunk's bytes, borrowed from the cache file when decoding.
struct Chunk<'a>(&'a [u8]);

impl Serialize for Chunk<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de> Deserialize<'de> for Chunk<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Chunk<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Chunk<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("borrowed bytes")
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(
                self,
                v: &'de [u8],
            ) -> Result<Chunk<'de>, E> {
                Ok(Chunk(v))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A slice of packages through [`PackageDef`].
struct Slice<'a>(&'a [Package]);

impl Serialize for Slice<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        packages::serialize(self.0, s)
    }
}

/// Owned packages through [`PackageDef`].
struct Owned(Vec<Package>);

impl<'de> Deserialize<'de> for Owned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Owned, D::Error> {
        packages::deserialize(d).map(Owned)
    }
}

impl Serialize for PrimaryRecords {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use rayon::prelude::*;
        let chunks: Vec<Vec<u8>> = self
            .packages
            .par_chunks(CHUNK)
            .map(|c| postcard::to_allocvec(&Slice(c)))
            .collect::<Result<_, _>>()
            .map_err(serde::ser::Error::custom)?;
        let chunks: Vec<Chunk<'_>> = chunks.iter().map(|c| Chunk(c)).collect();
        (self.declared, chunks).serialize(s)
    }
}

impl<'de> Deserialize<'de> for PrimaryRecords {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PrimaryRecords, D::Error> {
        use rayon::prelude::*;
        let (declared, chunks): (Option<u64>, Vec<Chunk<'de>>) = Deserialize::deserialize(d)?;
        let decoded: Vec<Vec<Package>> = chunks
            .par_iter()
            .map(|c| postcard::from_bytes::<Owned>(c.0).map(|o| o.0))
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom)?;
        let mut packages = Vec::with_capacity(decoded.iter().map(Vec::len).sum());
        for mut v in decoded {
            packages.append(&mut v);
        }
        Ok(PrimaryRecords { declared, packages })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Dependency")]
struct DependencyDef {
    name: String,
    op: Option<Op>,
    evr: Option<DepEvr>,
    pre: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Package")]
struct PackageDef {
    name: String,
    arch: String,
    evr: Evr,
    repo: String,
    location: String,
    location_base: Option<String>,
    checksum: Checksum,
    size_package: u64,
    size_installed: u64,
    time_build: u64,
    sourcerpm: String,
    summary: String,
    #[serde(with = "deps")]
    provides: Vec<Dependency>,
    #[serde(with = "deps")]
    requires: Vec<Dependency>,
    #[serde(with = "deps")]
    conflicts: Vec<Dependency>,
    #[serde(with = "deps")]
    obsoletes: Vec<Dependency>,
    #[serde(with = "deps")]
    recommends: Vec<Dependency>,
    #[serde(with = "deps")]
    suggests: Vec<Dependency>,
    #[serde(with = "deps")]
    supplements: Vec<Dependency>,
    #[serde(with = "deps")]
    enhances: Vec<Dependency>,
    files: Vec<String>,
}

/// `Vec<T>` through a remote definition: (de)serialise each element with it.
macro_rules! vec_via {
    ($module:ident, $ty:ty, $def:ident) => {
        mod $module {
            use super::*;

            struct Ref<'a>(&'a $ty);
            impl Serialize for Ref<'_> {
                fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    $def::serialize(self.0, s)
                }
            }
            struct Own($ty);
            impl<'de> Deserialize<'de> for Own {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Own, D::Error> {
                    $def::deserialize(d).map(Own)
                }
            }

            pub fn serialize<S: Serializer>(v: &[$ty], s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(v.iter().map(Ref))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<$ty>, D::Error> {
                let v: Vec<Own> = Vec::deserialize(d)?;
                Ok(v.into_iter().map(|o| o.0).collect())
            }
        }
    };
}

vec_via!(deps, Dependency, DependencyDef);
vec_via!(packages, Package, PackageDef);

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> Package {
        let dep = |name: &str, pre: bool| Dependency {
            name: name.into(),
            op: Some(Op::Ge),
            evr: Some(DepEvr {
                epoch: None,
                version: "1".into(),
                release: Some("2".into()),
            }),
            pre,
        };
        Package {
            name: "bash".into(),
            arch: "x86_64".into(),
            evr: Evr {
                epoch: 1,
                version: "5.1".into(),
                release: "9.el9".into(),
            },
            repo: "baseos".into(),
            location: "Packages/bash.rpm".into(),
            location_base: Some("http://elsewhere/".into()),
            checksum: Checksum {
                kind: "sha256".into(),
                value: "ab".repeat(32),
            },
            size_package: 1,
            size_installed: 2,
            time_build: 3,
            sourcerpm: "bash.src.rpm".into(),
            summary: "The GNU Bourne Again shell".into(),
            provides: vec![dep("bash", false)],
            requires: vec![dep("glibc", true), dep("(a or b)", false)],
            conflicts: vec![],
            obsoletes: vec![dep("sh", false)],
            recommends: vec![],
            suggests: vec![],
            supplements: vec![],
            enhances: vec![],
            files: vec!["/usr/bin/bash".into()],
        }
    }

    #[test]
    fn records_round_trip_with_every_field() {
        let mut p2 = package();
        p2.location_base = None;
        // More than one chunk, so order across chunks is checked too.
        let mut packages = vec![package(), p2];
        for i in 0..CHUNK + 5 {
            let mut p = package();
            p.name = format!("p{i}");
            packages.push(p);
        }
        let r = PrimaryRecords {
            declared: Some(2),
            packages,
        };
        let bytes = postcard::to_allocvec(&r).unwrap();
        let back: PrimaryRecords = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.packages, r.packages);
        assert_eq!(back.declared, Some(2));
    }

    #[test]
    fn damaged_or_stale_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Parsed::new(dir.path());
        let ck = Checksum {
            kind: "sha256".into(),
            value: "cd".repeat(32),
        };
        let r = PrimaryRecords {
            declared: None,
            packages: vec![package()],
        };
        assert!(cache.get::<PrimaryRecords>(Kind::Primary, &ck).is_none());
        cache.put(Kind::Primary, &ck, &r);
        let back: PrimaryRecords = cache.get(Kind::Primary, &ck).unwrap();
        assert_eq!(back.packages, r.packages);
        // Another kind under the same checksum is another file.
        assert!(cache.get::<PrimaryRecords>(Kind::Filelists, &ck).is_none());
        // A flipped byte: ignored.
        let key = Parsed::key(Kind::Primary, &ck);
        let p = cache.dir.path(&key).unwrap();
        let mut bytes = fs_err::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        fs_err::write(&p, &bytes).unwrap();
        assert!(cache.get::<PrimaryRecords>(Kind::Primary, &ck).is_none());
        // Another format version: ignored.
        cache
            .dir
            .put_sealed(
                &key,
                Kind::Primary.tag(),
                VERSION + 1,
                &postcard::to_allocvec(&r).unwrap(),
            )
            .unwrap();
        assert!(cache.get::<PrimaryRecords>(Kind::Primary, &ck).is_none());
        // Sealed but not decodable as records: ignored.
        cache
            .dir
            .put_sealed(&key, Kind::Primary.tag(), VERSION, b"\xff\xff\xff")
            .unwrap();
        assert!(cache.get::<PrimaryRecords>(Kind::Primary, &ck).is_none());
    }
}
