//! Repository metadata: repomd.xml, primary/filelists (gz, xz, zst, bz2), comps groups and
//! modules.yaml, each checked against repomd.xml's checksums.
//!
//! [`load`] reads one repository ([`Remote`]) into a [`RepoData`]: the parsed repomd.xml,
//! every package of primary.xml, comps groups and modules.yaml. filelists.xml is big and
//! rarely needed, so it is read only when asked ([`RepoData::filelists`]). [`Pool`] puts
//! the packages of several repositories into one slice for `solve` and answers
//! whatprovides lookups; [`query`] is `diskless repoquery`'s engine.
//!
//! Every file is checked before its content is trusted: size and checksum (of the file as
//! stored) first, then the open-checksum and open-size of the decompressed bytes as they
//! stream through the parser, so a wrong file never yields records.
//!
//! A repository is read from its `baseurl`s, then from the mirrors of its `metalink` and
//! `mirrorlist` ([`mirrors`]), through the same HTTP client as the package fetcher
//! ([`crate::net::Transport`]: TLS client certificate and CA). repomd.xml is believed only
//! once it matches the metalink's hashes (when there is a metalink) and its detached
//! signature `repomd.xml.asc` verifies against the repository's `gpgkey`s (when
//! `repo_gpgcheck` is on). [`RepoData::baseurl`] is the mirror that answered: the lock
//! records it, and the fetcher tries it first, then the other mirrors.

pub mod cache;
pub mod capability;
pub mod checksum;
pub mod comps;
pub mod download;
pub mod filelists;
pub mod mirrors;
pub mod modules;
pub mod parsed;
pub mod pool;
pub mod primary;
pub mod query;
pub mod repomd;
pub mod split;
pub mod stream;
pub mod verify;
pub mod xml;

pub use comps::Group;
pub use filelists::FileLists;
pub use modules::Modules;
pub use pool::{Pool, PoolOptions};
pub use repomd::{DataRecord, Repomd};

use crate::fsx;
use crate::net::{
    KeyError, Keyring, Metalink, MirrorError, Remote, RetryPolicy, Transport, TransportError,
    load_keyring,
};
use crate::package::{Checksum, Package};
use download::Target;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::OnceLock;
use url::Url;

/// How to read repositories.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where remote metadata is cached (by checksum).
    pub cache_dir: PathBuf,
    /// Use only cached metadata for remote repositories.
    pub offline: bool,
}

/// A repository's metadata, loaded and verified.
#[derive(Debug)]
pub struct RepoData {
    pub remote: Remote,
    /// The base URL the metadata was read from (the first mirror that worked).
    pub baseurl: String,
    pub repomd: Repomd,
    /// sha256 of repomd.xml's bytes: identifies this state of the repository.
    pub repomd_sha256: String,
    pub packages: Vec<Package>,
    /// comps groups (empty when the repository has none).
    pub groups: Vec<Group>,
    /// modules.yaml (empty when the repository has none).
    pub modules: Modules,
    options: LoadOptions,
    transport: Transport,
    filelists: OnceLock<FileLists>,
}

/// Everything that can go wrong reading repository metadata.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(
        "Repository `{repo}` has no base URL to read: no `baseurl`, and its `mirrorlist`/`metalink` lists no usable mirror"
    )]
    NoBaseurl { repo: String },
    #[error("Cannot set up downloads for repository `{repo}`")]
    Setup {
        repo: String,
        #[source]
        source: Box<TransportError>,
    },
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error("Cannot load the GPG keys of repository `{repo}` (`repo_gpgcheck` needs them)")]
    Keys {
        repo: String,
        #[source]
        source: Box<KeyError>,
    },
    #[error(
        "Repository `{repo}` has `repo_gpgcheck` on, but its repomd.xml is not signed: `{url}` does not exist"
    )]
    MissingSignature { repo: String, url: String },
    #[error("The repomd.xml of repository `{repo}` fails its signature check")]
    BadSignature {
        repo: String,
        #[source]
        source: Box<KeyError>,
    },
    #[error("Invalid URL `{url}`")]
    BadUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("Unsupported URL `{url}` (use file://, http:// or https://)")]
    UnsupportedScheme { url: String },
    #[error("`{url}` does not exist")]
    NotFound { url: String },
    #[error("Repository metadata names a file outside the repository: {reason}")]
    Outside { url: String, reason: String },
    #[error("Downloading `{url}` failed with HTTP status {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("Downloading `{url}` failed")]
    Download {
        url: String,
        #[source]
        source: Box<TransportError>,
    },
    #[error("Reading `{url}` failed")]
    Transfer {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{url}` is not in the cache, and offline mode forbids downloading it")]
    Offline { url: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Writing the metadata cache failed (a full disk, a read-only cache): no mirror helps.
    #[error("Cannot write `{}` (the metadata cache)", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Checksum mismatch for `{url}` (expected {expected}, got {actual})")]
    ChecksumMismatch {
        url: String,
        expected: Checksum,
        actual: Checksum,
    },
    #[error("Size mismatch for `{url}` (repomd.xml says {expected} bytes, got {actual})")]
    SizeMismatch {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "Open-checksum mismatch for the decompressed content of `{url}` (expected {expected}, got {actual})"
    )]
    OpenChecksumMismatch {
        url: String,
        expected: Checksum,
        actual: Checksum,
    },
    #[error(
        "Open-size mismatch for the decompressed content of `{url}` (repomd.xml says {expected} bytes, got {actual})"
    )]
    OpenSizeMismatch {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("Unsupported checksum type `{kind}` for `{url}`")]
    UnsupportedChecksum { url: String, kind: String },
    #[error("Cannot decompress `{url}`")]
    Decompress {
        url: String,
        #[source]
        source: crate::codec::DecompressError,
    },
    #[error("Cannot parse `{url}` at byte {offset}: {message}")]
    Parse {
        url: String,
        offset: u64,
        message: String,
    },
    #[error("Cannot parse `{url}`: {message}")]
    Yaml { url: String, message: String },
    #[error("`{url}` lists {actual} packages but says it has {declared}")]
    PackageCount {
        url: String,
        declared: u64,
        actual: u64,
    },
    #[error("The repomd.xml of repository `{repo}` (`{url}`) has no primary metadata")]
    NoPrimary { repo: String, url: String },
}

impl RepoError {
    /// Errors where another mirror may do better: missing or unreachable files (or, offline,
    /// not cached for this mirror), and a repomd.xml that is stale (metalink) or unsigned or
    /// badly signed on this mirror.
    fn is_mirror_specific(&self) -> bool {
        matches!(
            self,
            RepoError::NotFound { .. }
                | RepoError::HttpStatus { .. }
                | RepoError::Download { .. }
                | RepoError::Transfer { .. }
                | RepoError::Offline { .. }
        ) || self.is_trust()
    }

    /// The repository could not be reached (missing files, HTTP errors, dead or slow
    /// mirrors, nothing cached offline): what dnf's `skip_if_unavailable` skips. A refused
    /// repomd.xml (signature, metalink) or damaged metadata is not "unavailable".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            RepoError::NoBaseurl { .. }
                | RepoError::NotFound { .. }
                | RepoError::HttpStatus { .. }
                | RepoError::Download { .. }
                | RepoError::Transfer { .. }
                | RepoError::Offline { .. }
        )
    }

    /// repomd.xml was refused: more telling than a dead mirror when every mirror failed.
    fn is_trust(&self) -> bool {
        matches!(
            self,
            RepoError::Mirror(_)
                | RepoError::MissingSignature { .. }
                | RepoError::BadSignature { .. }
        )
    }

    /// What the user can do about this error, when there is something (for `hint:` lines).
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            RepoError::ChecksumMismatch { .. }
            | RepoError::SizeMismatch { .. }
            | RepoError::OpenChecksumMismatch { .. } => {
                "the repository's files disagree with its repomd.xml: a mirror in the middle of a sync, or a damaged copy; try again later or another mirror"
            }
            RepoError::Offline { .. } => "run once without `--offline` to fill the cache",
            RepoError::NotFound { .. } => {
                "check the repository's `baseurl`, `mirrorlist` or `metalink` in the profile"
            }
            RepoError::Mirror(_) => {
                "the mirrors serve another repomd.xml than the metalink lists: they are out of sync (try again later) or the repository was altered"
            }
            RepoError::MissingSignature { .. } => {
                "set `repo_gpgcheck = false` for this repository if its publisher does not sign repomd.xml"
            }
            RepoError::BadSignature { .. } => {
                "check the repository's `gpgkey`: repomd.xml was signed by another key, or altered after signing"
            }
            RepoError::Keys { .. } => "check the repository's `gpgkey` entries",
            RepoError::Setup { .. } => {
                "check `sslclientcert`, `sslclientkey` and `sslcacert` of the repository"
            }
            RepoError::Download { source, .. }
                if matches!(
                    **source,
                    TransportError::Connect { .. } | TransportError::Timeout { .. }
                ) =>
            {
                "the repository cannot be reached from here: check the network (DNS, firewall) and the proxy variables (HTTPS_PROXY), or point `baseurl` at a reachable or local mirror (`file:///…`); `diskless build --offline` builds from a warm cache"
            }
            _ => return None,
        })
    }
}

/// Read one repository: repomd.xml, primary, comps and modules (filelists later, on demand).
/// Mirrors are tried in order while files are missing or unreachable; a checksum mismatch
/// stops at once (it is a repository problem worth seeing, not a flaky network).
/// When every mirror failed, the error reported is the first refused repomd.xml (metalink,
/// signature), else the first failure.
pub fn load(source: &Remote, options: &LoadOptions) -> Result<RepoData, RepoError> {
    each_mirror(source, options, |baseurl, access| {
        load_from(source, baseurl, access, options)
    })
}

/// Which state a repository is in, without loading its packages: the base URL that
/// answered and the sha256 of its repomd.xml, trusted exactly as [`load`] trusts it
/// (mirrors in order, metalink, signature). The same state gives the same records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub baseurl: String,
    pub repomd_sha256: String,
}

/// [`Probe`] one repository.
pub fn probe(source: &Remote, options: &LoadOptions) -> Result<Probe, RepoError> {
    each_mirror(source, options, |baseurl, access| {
        let url = download::join(baseurl, "repodata/repomd.xml")?;
        let bytes = read_repomd(&url, source, baseurl, access, options)?;
        Ok(Probe {
            baseurl: baseurl.to_string(),
            repomd_sha256: checksum::sha256_hex(&bytes),
        })
    })
}

/// Run `f` on the repository's base URLs in order until one works; see [`load`] for
/// which errors move on to the next one and which error is reported.
fn each_mirror<T>(
    source: &Remote,
    options: &LoadOptions,
    f: impl Fn(&str, &Access) -> Result<T, RepoError>,
) -> Result<T, RepoError> {
    let transport = Transport::new(&source.tls, &source.proxy, source.timeouts).map_err(|e| {
        RepoError::Setup {
            repo: source.id.clone(),
            source: Box::new(e),
        }
    })?;
    let mirrors = mirrors::resolve(source, &transport, options)?;
    let keys = if source.repo_gpgcheck {
        Some(load_keys(source, &transport, options)?)
    } else {
        None
    };
    let access = Access {
        transport,
        metalink: mirrors.metalink,
        keys,
    };
    let mut errors = Vec::new();
    for (i, baseurl) in mirrors.baseurls.iter().enumerate() {
        match f(baseurl, &access) {
            Ok(d) => return Ok(d),
            Err(e) if e.is_mirror_specific() => {
                if i + 1 < mirrors.baseurls.len() {
                    tracing::warn!("repository `{}`: {e}; trying the next base URL", source.id);
                }
                errors.push(e);
            }
            Err(e) => return Err(e),
        }
    }
    let pick = errors.iter().position(RepoError::is_trust).unwrap_or(0);
    if pick < errors.len() {
        return Err(errors.swap_remove(pick));
    }
    Err(RepoError::NoBaseurl {
        repo: source.id.clone(),
    })
}

/// How one load reaches and trusts a repository's mirrors.
struct Access {
    transport: Transport,
    metalink: Option<Metalink>,
    keys: Option<Keyring>,
}

/// The repository's `gpgkey`s, read the way the fetcher reads them (downloaded keys kept in
/// the cache, so `--offline` still has them).
fn load_keys(source: &Remote, t: &Transport, options: &LoadOptions) -> Result<Keyring, RepoError> {
    let t = (!options.offline).then_some(t);
    load_keyring(source, t, &RetryPolicy::default(), Some(&options.cache_dir)).map_err(|e| {
        RepoError::Keys {
            repo: source.id.clone(),
            source: Box::new(e),
        }
    })
}

fn load_from(
    source: &Remote,
    baseurl: &str,
    access: &Access,
    options: &LoadOptions,
) -> Result<RepoData, RepoError> {
    let url = download::join(baseurl, "repodata/repomd.xml")?;
    let bytes = read_repomd(&url, source, baseurl, access, options)?;
    let repomd = Repomd::parse(&bytes).map_err(|e| RepoError::Parse {
        url: url.to_string(),
        offset: e.offset,
        message: e.message,
    })?;
    let reader = RecordReader {
        baseurl,
        options,
        transport: &access.transport,
    };
    let record = repomd
        .record("primary")
        .ok_or_else(|| RepoError::NoPrimary {
            repo: source.id.clone(),
            url: url.to_string(),
        })?;
    // primary.xml is most of the work: parse it on its own thread while this one reads
    // comps and modules. Errors are reported in the sequential order (primary first).
    let (primary, rest) = std::thread::scope(|s| {
        let primary = s.spawn(|| {
            reader.read_parsed(record, parsed::Kind::Primary, || {
                // On all cores first; a file that fails is read again sequentially, so its
                // error is exactly the sequential parser's (see `split`).
                let (url, p) = match reader.read(record, |r| split::parse(r, &source.id)) {
                    Err(RepoError::Parse { .. }) => {
                        reader.read(record, |r| primary::parse(r, &source.id))
                    }
                    other => other,
                }?;
                Ok((
                    url,
                    parsed::PrimaryRecords {
                        declared: p.declared,
                        packages: p.packages,
                    },
                ))
            })
        });
        let rest = load_groups(&reader, &repomd)
            .and_then(|groups| Ok((groups, load_modules(&reader, &repomd)?)));
        (
            primary
                .join()
                .unwrap_or_else(|_| Err(panicked("primary.xml"))),
            rest,
        )
    });
    let (rurl, mut primary) = primary?;
    check_count(&rurl, primary.declared, primary.packages.len())?;
    // Parsed records kept in the cache may come from another repository with this file.
    for p in primary.packages.iter_mut().filter(|p| p.repo != source.id) {
        p.repo.clone_from(&source.id);
    }
    let (groups, modules) = rest?;
    tracing::info!(
        "repository `{}`: {} packages, {} groups, {} module streams from {baseurl}",
        source.id,
        primary.packages.len(),
        groups.len(),
        modules.streams.len()
    );
    Ok(RepoData {
        remote: source.clone(),
        baseurl: baseurl.to_string(),
        repomd_sha256: checksum::sha256_hex(&bytes),
        repomd,
        packages: primary.packages,
        groups,
        modules,
        options: options.clone(),
        transport: access.transport.clone(),
        filelists: OnceLock::new(),
    })
}

fn load_modules(reader: &RecordReader<'_>, repomd: &Repomd) -> Result<Modules, RepoError> {
    match repomd.record("modules") {
        Some(rec) => Ok(reader
            .read_parsed(rec, parsed::Kind::Modules, || {
                reader.read_with(rec, |url, r| {
                    modules::parse(r).map_err(|message| RepoError::Yaml {
                        url: url.to_string(),
                        message,
                    })
                })
            })?
            .1),
        None => Ok(Modules::default()),
    }
}

/// A worker thread panicked (a bug): reported as an I/O error rather than a crash.
fn panicked(what: &str) -> RepoError {
    RepoError::Io(std::io::Error::other(format!(
        "the thread reading {what} panicked"
    )))
}

/// [`load`] several repositories at once, one thread each; results in `sources` order.
pub fn load_all(sources: &[Remote], options: &LoadOptions) -> Vec<Result<RepoData, RepoError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = sources
            .iter()
            .map(|src| s.spawn(move || load(src, options)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(panicked("repository metadata")))
            })
            .collect()
    })
}

/// comps comes as `group` (plain) and compressed twins; mirrors often carry only some of
/// them, so a missing one falls through to the next.
fn load_groups(reader: &RecordReader<'_>, repomd: &Repomd) -> Result<Vec<Group>, RepoError> {
    let mut missing = None;
    for kind in ["group", "group_gz", "group_xz", "group_zst"] {
        let Some(rec) = repomd.record(kind) else {
            continue;
        };
        match reader.read_parsed(rec, parsed::Kind::Comps, || {
            reader.read(rec, |r| comps::parse(r))
        }) {
            Ok((_, groups)) => return Ok(groups),
            Err(e @ RepoError::NotFound { .. }) => {
                tracing::debug!("{e}; trying another comps variant");
                missing = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    match missing {
        Some(e) => Err(e),
        None => Ok(Vec::new()),
    }
}

fn check_count(url: &str, declared: Option<u64>, actual: usize) -> Result<(), RepoError> {
    match declared {
        Some(d) if d != actual as u64 => Err(RepoError::PackageCount {
            url: url.to_string(),
            declared: d,
            actual: actual as u64,
        }),
        _ => Ok(()),
    }
}

/// repomd.xml of one mirror, believed only after it matches the metalink (when there is
/// one) and its signature verifies (with `repo_gpgcheck`); only then is it kept for
/// `--offline` runs.
fn read_repomd(
    url: &Url,
    source: &Remote,
    baseurl: &str,
    access: &Access,
    options: &LoadOptions,
) -> Result<Vec<u8>, RepoError> {
    let asc_url = download::join(baseurl, "repodata/repomd.xml.asc")?;
    let remote = matches!(download::target(url)?, Target::Remote(_));
    let cached = cache::repomd_path(&options.cache_dir, &source.id, baseurl);
    let cached_asc = cached.with_file_name("repomd.xml.asc");
    let offline = |u: &Url| RepoError::Offline { url: u.to_string() };
    let (bytes, asc) = if remote && options.offline {
        let bytes = fs_err::read(&cached).map_err(|_| offline(url))?;
        let asc = match access.keys {
            Some(_) => Some(fs_err::read(&cached_asc).map_err(|_| offline(&asc_url))?),
            None => None,
        };
        (bytes, asc)
    } else {
        let bytes = download::read_all(&access.transport, url)?;
        let asc = match access.keys {
            Some(_) => Some(download::read_all(&access.transport, &asc_url).map_err(
                |e| match e {
                    RepoError::NotFound { url } => RepoError::MissingSignature {
                        repo: source.id.clone(),
                        url,
                    },
                    e => e,
                },
            )?),
            None => None,
        };
        (bytes, asc)
    };
    if let Some(ml) = &access.metalink {
        ml.check_repomd(&bytes, url.as_str())?;
    }
    if let (Some(keys), Some(asc)) = (&access.keys, &asc) {
        keys.verify_detached(&bytes, asc, asc_url.as_str())
            .map_err(|e| RepoError::BadSignature {
                repo: source.id.clone(),
                source: Box::new(e),
            })?;
    }
    if remote && !options.offline {
        let cache_err = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| RepoError::Cache { path, source }
        };
        if let Some(dir) = cached.parent() {
            fs_err::create_dir_all(dir).map_err(cache_err(dir))?;
        }
        fsx::write_atomic(&cached, &bytes).map_err(cache_err(&cached))?;
        if let Some(asc) = &asc {
            fsx::write_atomic(&cached_asc, asc).map_err(cache_err(&cached_asc))?;
        }
    }
    Ok(bytes)
}

/// Reads `<data>` records of one repository at one base URL, verifying them.
pub(crate) struct RecordReader<'a> {
    pub baseurl: &'a str,
    pub options: &'a LoadOptions,
    pub transport: &'a Transport,
}

/// The decompressed stream handed to parsers (decompressed and hashed on another thread).
pub use stream::DataStream;

impl RecordReader<'_> {
    pub fn url(&self, rec: &DataRecord) -> Result<Url, RepoError> {
        let url = download::join(
            rec.location_base.as_deref().unwrap_or(self.baseurl),
            &rec.href,
        )?;
        download::check_within(self.baseurl, &url)?;
        Ok(url)
    }

    /// Verify a record's file and run an XML parser over its decompressed content.
    pub fn read<T>(
        &self,
        rec: &DataRecord,
        parse: impl FnOnce(&mut DataStream) -> Result<T, xml::XmlError>,
    ) -> Result<(String, T), RepoError> {
        self.read_with(rec, |url, r| {
            parse(r).map_err(|e| RepoError::Parse {
                url: url.to_string(),
                offset: e.offset,
                message: e.message,
            })
        })
    }

    /// The records `make` parses from a record's file, kept in the cache by the file's
    /// checksum ([`parsed`]): when they are kept, a local file is still checked (size and
    /// checksum, so a damaged repository fails as before) but not parsed, and a remote
    /// one is not read at all (its bytes were checked when it was downloaded and parsed).
    pub fn read_parsed<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        rec: &DataRecord,
        kind: parsed::Kind,
        make: impl FnOnce() -> Result<(String, T), RepoError>,
    ) -> Result<(String, T), RepoError> {
        let cache = parsed::Parsed::new(&self.options.cache_dir);
        if let Some(v) = cache.get(kind, &rec.checksum) {
            let url = self.url(rec)?;
            if let Target::Local(_) = download::target(&url)? {
                self.local_copy(rec, &url)?;
            }
            return Ok((url.to_string(), v));
        }
        let (url, v) = make()?;
        cache.put(kind, &rec.checksum, &v);
        Ok((url, v))
    }

    /// Verify a record's file (size and checksum), then stream its decompressed content
    /// through `parse`, and check the open-checksum and open-size once it is read.
    /// Decompression and hashing run on a second thread ([`stream`]), overlapping the parse.
    pub fn read_with<T>(
        &self,
        rec: &DataRecord,
        parse: impl FnOnce(&str, &mut DataStream) -> Result<T, RepoError>,
    ) -> Result<(String, T), RepoError> {
        let url = self.url(rec)?;
        let path = self.local_copy(rec, &url)?;
        let url_s = url.to_string();
        let file = BufReader::with_capacity(64 * 1024, fs_err::File::open(&path)?);
        let (_, inner) =
            crate::codec::open_named(file, &rec.href).map_err(|source| RepoError::Decompress {
                url: url_s.clone(),
                source,
            })?;
        let open_alg = match &rec.open_checksum {
            Some(ck) => Some(algorithm(ck, &url_s)?),
            None => None,
        };
        let (value, totals) = std::thread::scope(|s| {
            let (mut stream, tx) = stream::channel();
            let producer = s.spawn(move || stream::pump(inner, open_alg, tx));
            let value = parse(&url_s, &mut stream);
            // Read what the parser left (so the digest covers it all); after a failed
            // parse, hang up instead so the producer stops early.
            let drained = match value {
                Ok(_) => stream.drain(),
                Err(_) => Ok(()),
            };
            drop(stream);
            let totals = producer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("decompression thread panicked")));
            (value, drained.and(totals))
        });
        let value = value?;
        let (count, digest) = totals.map_err(|source| RepoError::Decompress {
            url: url_s.clone(),
            source: source.into(),
        })?;
        if let (Some(expected), Some(actual)) = (&rec.open_checksum, digest) {
            if expected.value != actual {
                return Err(RepoError::OpenChecksumMismatch {
                    url: url_s,
                    expected: expected.clone(),
                    actual: Checksum {
                        kind: expected.kind.clone(),
                        value: actual,
                    },
                });
            }
        }
        if let Some(expected) = rec.open_size {
            if expected != count {
                return Err(RepoError::OpenSizeMismatch {
                    url: url_s,
                    expected,
                    actual: count,
                });
            }
        }
        Ok((url_s, value))
    }

    /// A verified local file with the record's content: the file itself for `file://`,
    /// the cached copy (downloaded when missing or damaged) for remote repositories.
    pub(crate) fn local_copy(&self, rec: &DataRecord, url: &Url) -> Result<PathBuf, RepoError> {
        match download::target(url)? {
            Target::Local(path) => {
                if !path.exists() {
                    return Err(RepoError::NotFound {
                        url: url.to_string(),
                    });
                }
                verify_file(&path, rec, url)?;
                Ok(path)
            }
            Target::Remote(_) => {
                let cached =
                    cache::metadata_path(&self.options.cache_dir, &rec.checksum, &rec.href);
                if cached.exists() {
                    match verify_file(&cached, rec, url) {
                        Ok(()) => {
                            // Used now: `diskless cache gc --max-age` goes by this.
                            crate::cas::touch(&cached);
                            return Ok(cached);
                        }
                        Err(e) => tracing::warn!("cached copy damaged ({e}); downloading again"),
                    }
                }
                if self.options.offline {
                    return Err(RepoError::Offline {
                        url: url.to_string(),
                    });
                }
                let dir = cached.parent().unwrap_or(&self.options.cache_dir);
                let cache_err = |path: &std::path::Path| {
                    let path = path.to_path_buf();
                    move |source| RepoError::Cache { path, source }
                };
                fs_err::create_dir_all(dir).map_err(cache_err(dir))?;
                let tmp = fsx::temp_in(dir, ".tmp").map_err(cache_err(dir))?;
                download::download_to(self.transport, url, tmp.path())?;
                verify_file(tmp.path(), rec, url)?;
                fsx::persist(tmp, &cached, fsx::Durability::Rename).map_err(cache_err(&cached))?;
                Ok(cached)
            }
        }
    }
}

fn algorithm(ck: &Checksum, url: &str) -> Result<checksum::Algorithm, RepoError> {
    checksum::Algorithm::parse(&ck.kind).ok_or_else(|| RepoError::UnsupportedChecksum {
        url: url.to_string(),
        kind: ck.kind.clone(),
    })
}

/// Check a stored file's checksum and size against its repomd.xml record.
pub fn verify_file(path: &std::path::Path, rec: &DataRecord, url: &Url) -> Result<(), RepoError> {
    let url_s = url.to_string();
    let alg = algorithm(&rec.checksum, &url_s)?;
    let file = fs_err::File::open(path)?;
    let (size, digest) = checksum::HashingReader::new(file, Some(alg)).finish()?;
    let digest = digest.unwrap_or_default();
    if digest != rec.checksum.value {
        return Err(RepoError::ChecksumMismatch {
            url: url_s,
            expected: rec.checksum.clone(),
            actual: Checksum {
                kind: rec.checksum.kind.clone(),
                value: digest,
            },
        });
    }
    if let Some(expected) = rec.size {
        if expected != size {
            return Err(RepoError::SizeMismatch {
                url: url_s,
                expected,
                actual: size,
            });
        }
    }
    Ok(())
}

impl RepoData {
    /// The full file lists (filelists.xml), read and verified on first use.
    pub fn filelists(&self) -> Result<&FileLists, RepoError> {
        if let Some(f) = self.filelists.get() {
            return Ok(f);
        }
        let reader = RecordReader {
            baseurl: &self.baseurl,
            options: &self.options,
            transport: &self.transport,
        };
        let lists = match self.repomd.record("filelists") {
            Some(rec) => {
                let (url, lists) = reader.read_parsed(rec, parsed::Kind::Filelists, || {
                    reader.read(rec, |r| filelists::parse(r))
                })?;
                check_count(&url, lists.declared, lists.packages.len())?;
                lists
            }
            None => FileLists::default(),
        };
        Ok(self.filelists.get_or_init(|| lists))
    }

    /// Hand every package of filelists.xml (verified, package count checked) to `each`,
    /// by value: for an index that takes the strings. Parsed from the XML once, then from
    /// the cache ([`parsed`]); [`RepoData::filelists`]' copy when that was read already.
    pub fn filelists_each(
        &self,
        each: impl FnMut(filelists::FilelistPackage),
    ) -> Result<(), RepoError> {
        if let Some(f) = self.filelists.get() {
            f.packages.iter().cloned().for_each(each);
            return Ok(());
        }
        let Some(rec) = self.repomd.record("filelists") else {
            return Ok(());
        };
        let reader = RecordReader {
            baseurl: &self.baseurl,
            options: &self.options,
            transport: &self.transport,
        };
        // Parsed once, then kept in the cache (by the file's checksum) for the next load.
        let (url, lists) = reader.read_parsed(rec, parsed::Kind::Filelists, || {
            reader.read(rec, |r| filelists::parse(r))
        })?;
        check_count(&url, lists.declared, lists.packages.len())?;
        lists.packages.into_iter().for_each(each);
        Ok(())
    }

    /// The URL a package is downloaded from.
    pub fn package_url(&self, p: &Package) -> Result<Url, RepoError> {
        let url = download::join(
            p.location_base.as_deref().unwrap_or(&self.baseurl),
            &p.location,
        )?;
        download::check_within(&self.baseurl, &url)?;
        Ok(url)
    }

    /// A stream over a record's verified, decompressed content (for callers that parse
    /// other metadata types themselves).
    pub fn read_record<T>(
        &self,
        rec: &DataRecord,
        parse: impl FnOnce(&str, &mut DataStream) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        let reader = RecordReader {
            baseurl: &self.baseurl,
            options: &self.options,
            transport: &self.transport,
        };
        Ok(reader.read_with(rec, parse)?.1)
    }
}
