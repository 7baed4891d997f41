//! The image's rpm database: what `rpm -i` would have recorded for the installed packages,
//! written in the format and at the place the image's own rpm reads, so that on a node
//! `rpm -qa`, `rpm -V`, `rpm -qf`, dnf and vulnerability scanners see an installed system.
//!
//! The place and format come from the image's rpm macros ([`macros`]): `%_dbpath` (EL9:
//! `/var/lib/rpm`, a directory the rpm package ships; Fedora 36+ and EL10:
//! `/usr/lib/sysimage/rpm`) and `%_db_backend`. Only `sqlite` (rpm 4.16 and later) is
//! written ([`sqlite`]); for Berkeley DB (EL7, EL8) or ndb nothing is written and the
//! scriptlet report says so. An image without rpm configuration gets the database at
//! `/usr/lib/sysimage/rpm`, where scanners look too. When the database lives there and
//! the image has no `/var/lib/rpm`, the link `/var/lib/rpm -> ../../usr/lib/sysimage/rpm`
//! is added, as the rpm package's `%posttrans` adds it on Fedora and EL10.
//!
//! Each package's header is stored as rpm stores it on install ([`blob`]): the package's
//! immutable region unchanged, plus the signature tags rpm merges when it reads a package
//! and the tags it adds at install (`INSTALLTID`, `INSTALLTIME`, `INSTALLCOLOR`,
//! `FILESTATES` ([`states`]), `INSTPREFIXES` for relocatable packages). Times follow rpm
//! 4.18+ under SOURCE_DATE_EPOCH: the transaction id is SOURCE_DATE_EPOCH and the n-th
//! package installed (from 0) gets SOURCE_DATE_EPOCH + n as its install time, so
//! `rpm -qa --last` lists the install order. Packages take hnum 1, 2, ... in install order
//! and the index tables are filled as `rpmdbAdd` fills them ([`index`]).

pub mod blob;
pub mod index;
pub mod macros;
pub mod sqlite;
pub mod states;

use super::RootfsError;
use super::extract::{Filters, Image, Owner};
use super::header::PkgHeader;
use super::tree::{Entry, EntryKind};
use blob::{Added, RawHeader, tag};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `[image] rpmdb`: write the database (the default) or leave it out, silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RpmdbMode {
    #[default]
    Auto,
    Off,
}

/// What the database step needs from the build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmdbConfig {
    pub mode: RpmdbMode,
    /// The image's architecture (`x86_64`, `aarch64`...): picks rpm's platform macros
    /// (`%_transaction_color`). `None`: the rpm package's, or the packages' most common.
    pub arch: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RpmdbError {
    #[error("Cannot read the headers of `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Cannot write the rpm database")]
    Sqlite(#[source] rusqlite::Error),
    #[error("Cannot write the rpm database")]
    Io(#[source] std::io::Error),
}

/// What the step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Written {
        /// The database file, as `%_dbpath` names it.
        path: String,
        packages: usize,
        bytes: u64,
        /// Where `%_dbpath` came from.
        source: String,
        /// The package whose rpm reads it (the owner of `/usr/lib/rpm/macros`).
        rpm_package: Option<String>,
    },
    NotWritten {
        reason: String,
        rpm_package: Option<String>,
    },
}

impl Outcome {
    /// The scriptlet report's line for the database.
    pub fn report_entry(&self) -> super::scriptlets::Entry {
        use super::scriptlets::{Entry, Verdict};
        let (package, verdict, reason) = match self {
            Outcome::Written {
                path,
                packages,
                bytes,
                source,
                rpm_package,
            } => (
                rpm_package,
                Verdict::Handled,
                format!(
                    "rpm database written: {path} (sqlite, {packages} packages, {bytes} bytes; %_dbpath {source})"
                ),
            ),
            Outcome::NotWritten {
                reason,
                rpm_package,
            } => (rpm_package, Verdict::NotHandled, reason.clone()),
        };
        Entry {
            package: package.clone().unwrap_or_else(|| "(image)".into()),
            scriptlet: "rpm database".into(),
            interpreter: String::new(),
            trigger_on: None,
            verdict,
            reason,
        }
    }
}

/// The default place when the image has no rpm configuration (Fedora 36+, EL10).
pub const SYSIMAGE: &str = "/usr/lib/sysimage/rpm";
const VAR_LIB_RPM: &str = "/var/lib/rpm";
const DB_FILE: &str = "rpmdb.sqlite";

/// rpm's `%_transaction_color` for an architecture whose platform macros the image lacks:
/// 3 (ELF32 and ELF64) on 64-bit architectures, 0 elsewhere (rpm's platform files).
fn default_color(arch: &str) -> u32 {
    if arch.ends_with("64") || arch.ends_with("64le") || arch == "s390x" {
        3
    } else {
        0
    }
}

/// The architecture whose platform macros rpm reads on the node.
fn image_arch(cfg: &RpmdbConfig, headers: &[PkgHeader], rpm_package: Option<&str>) -> String {
    if let Some(a) = &cfg.arch {
        return a.clone();
    }
    if let Some(h) = rpm_package.and_then(|n| headers.iter().find(|h| h.nevra() == n)) {
        if h.arch != "noarch" {
            return h.arch.clone();
        }
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for h in headers.iter().filter(|h| h.arch != "noarch") {
        *counts.entry(h.arch.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| "noarch".into())
}

/// Read the lead and both headers of a package file (not its payload).
fn read_headers(path: &Path) -> Result<(RawHeader, RawHeader), RpmdbError> {
    let err = |source| RpmdbError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut f = fs_err::File::open(path).map_err(err)?;
    let mut buf = Vec::new();
    loop {
        let more = match blob::headers_len(&buf) {
            Some(n) if n <= buf.len() => break,
            Some(n) => n - buf.len(),
            None => 64 * 1024,
        };
        let got = (&mut f)
            .take(more as u64)
            .read_to_end(&mut buf)
            .map_err(err)?;
        if got == 0 {
            break;
        }
    }
    blob::parse_package(&buf).map_err(|e| {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.to_string(),
        ))
    })
}

/// Where and how the image's rpm keeps its database.
struct Layout {
    dbpath: String,
    source: String,
    tscolor: u32,
    prefcolor: u32,
}

fn layout(image: &Image<'_>, arch: &str) -> Result<Result<Layout, String>, RpmdbError> {
    let target = format!("{arch}-linux");
    let mut m = macros::Macros::default();
    for (k, v) in [
        ("_target", target.as_str()),
        ("_target_cpu", arch),
        ("_target_os", "linux"),
        ("_arch", arch),
    ] {
        m.set(k, v);
    }
    let loaded = macros::Macros::load(&image.tree, image.store, &target).map_err(RpmdbError::Io)?;
    // rpm's own configuration is /usr/lib/rpm/macros (the rpm package's); without it the
    // image has no rpm and gets rpm's current default, where scanners look too.
    let has_rpm = loaded.files.iter().any(|f| f == "/usr/lib/rpm/macros");
    m.defs.extend(loaded.defs);
    let from = |name: &str| {
        m.defs
            .get(name)
            .map(|d| d.file.clone())
            .unwrap_or_else(|| "rpm's default".into())
    };
    let dbpath = if m.defs.contains_key("_dbpath") {
        match m.expand("%{_dbpath}") {
            Ok(p) => p.trim().to_string(),
            Err(e) => return Ok(Err(format!("cannot evaluate the image's %_dbpath: {e}"))),
        }
    } else {
        SYSIMAGE.to_string()
    };
    let backend = match m.value("_db_backend") {
        Ok(b) => b,
        Err(e) => {
            return Ok(Err(format!(
                "cannot evaluate the image's %_db_backend: {e}"
            )));
        }
    };
    let reason = match backend.as_deref() {
        Some("sqlite") => None,
        Some(other) => Some(format!(
            "the image's rpm keeps its database in the `{other}` format (%_db_backend in {}); diskless writes only sqlite (rpm 4.16 and later)",
            from("_db_backend")
        )),
        None if has_rpm => Some(
            "the image's rpm sets no %_db_backend (/usr/lib/rpm/macros): rpm before 4.14 reads only Berkeley DB; diskless writes only sqlite (rpm 4.16 and later)".to_string(),
        ),
        None => None,
    };
    if let Some(r) = reason {
        return Ok(Err(format!(
            "{r}. Set `[image] rpmdb = false` to leave the database out without this note"
        )));
    }
    if !dbpath.starts_with('/') {
        return Ok(Err(format!(
            "the image's %_dbpath `{dbpath}` is not an absolute path"
        )));
    }
    let number = |name: &str| -> u32 {
        m.value(name)
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let prefcolor = match number("_prefer_color") {
        0 => 2,
        n => n,
    };
    let tscolor = if m.defs.contains_key("_transaction_color") {
        number("_transaction_color")
    } else {
        default_color(arch)
    };
    Ok(Ok(Layout {
        source: if m.defs.contains_key("_dbpath") {
            format!("from {}", from("_dbpath"))
        } else {
            "not configured in the image: rpm's default on Fedora and EL10".into()
        },
        dbpath,
        tscolor,
        prefcolor,
    }))
}

/// Write the database for `rpms` (installed in `order`, with `headers`) into the image.
/// `None` when `cfg` turns it off.
pub fn write(
    image: &mut Image<'_>,
    rpms: &[PathBuf],
    headers: &[PkgHeader],
    order: &[usize],
    filters: &Filters,
    cfg: &RpmdbConfig,
    source_date_epoch: u64,
) -> Result<Option<Outcome>, RootfsError> {
    if cfg.mode == RpmdbMode::Off {
        return Ok(None);
    }
    let rpm_package = image
        .tree
        .get("/usr/lib/rpm/macros")
        .and_then(|e| e.owner_package.clone());
    let arch = image_arch(cfg, headers, rpm_package.as_deref());
    let not_written = |reason: String| {
        Ok(Some(Outcome::NotWritten {
            reason,
            rpm_package: rpm_package.clone(),
        }))
    };
    let lay = match layout(image, &arch)? {
        Ok(l) => l,
        Err(reason) => return not_written(reason),
    };
    let dbpath = match super::paths::check_package_path(&lay.dbpath) {
        Ok(p) => p,
        Err(e) => return not_written(format!("the image's %_dbpath `{}`: {e}", lay.dbpath)),
    };

    let started = std::time::Instant::now();
    let raws = order
        .iter()
        .map(|&i| read_headers(&rpms[i]))
        .collect::<Result<Vec<_>, _>>()?;
    let pairs: Vec<(&PkgHeader, &RawHeader)> = order
        .iter()
        .zip(&raws)
        .map(|(&i, (_, main))| (&headers[i], main))
        .collect();
    let file_states = states::file_states(&pairs, filters, lay.tscolor, lay.prefcolor, &image.tree);

    let tid = u32::try_from(source_date_epoch).unwrap_or(u32::MAX);
    let mut packages = Vec::with_capacity(order.len());
    for (n, ((sig, main), fstates)) in raws.iter().zip(&file_states).enumerate() {
        let nevra = pairs[n].0.nevra();
        let unstorable = |e: blob::BlobError| {
            format!(
                "`{nevra}` cannot be recorded as rpm records it: {e}; the rpm database is not written"
            )
        };
        let mut added = match blob::merged_signature_tags(sig, main) {
            Ok(a) => a,
            Err(e) => return not_written(unstorable(e)),
        };
        // `applyRetrofits`: every header says whether it is a source package.
        if main.find(tag::SOURCERPM).is_none() && main.find(tag::SOURCEPACKAGE).is_none() {
            let dirs = main.strings(tag::DIRNAMES);
            if dirs.len() == 1 && dirs[0].is_empty() {
                added.push(Added::u32s(tag::SOURCEPACKAGE, &[1]));
            } else {
                added.push(Added::string(tag::SOURCERPM, b"(none)"));
            }
        }
        let fc = main.strings(tag::BASENAMES).len();
        if fc > 0 {
            let prefixes = main.strings(tag::PREFIXES);
            if !prefixes.is_empty() && main.find(tag::INSTPREFIXES).is_none() {
                added.push(Added::string_array(tag::INSTPREFIXES, &prefixes));
            }
            added.push(Added::chars(tag::FILESTATES, fstates));
        }
        let time = tid.saturating_add(n as u32);
        added.push(Added::u32s(tag::INSTALLTID, &[tid]));
        added.push(Added::u32s(tag::INSTALLTIME, &[time]));
        added.push(Added::u32s(tag::INSTALLCOLOR, &[lay.tscolor]));
        let blob = match blob::export(main, &added) {
            Ok(b) => b,
            Err(e) => return not_written(unstorable(e)),
        };
        let mut with_magic = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
        with_magic.extend_from_slice(&blob);
        let installed = match RawHeader::parse(&with_magic, "installed") {
            Ok((h, _)) => h,
            Err(e) => return not_written(unstorable(e)),
        };
        let rows = index::TABLES
            .iter()
            .map(|(_, t, _)| index::rows(&installed, *t))
            .collect();
        packages.push(sqlite::Package { blob, rows });
    }

    let tmp = tempfile::Builder::new()
        .prefix(".rpmdb-")
        .tempfile_in(image.store.root())
        .map_err(RootfsError::Store)?;
    sqlite::write(&packages, tmp.path()).map_err(RpmdbError::Sqlite)?;
    let (digest, size) = image
        .store
        .put_reader(fs_err::File::open(tmp.path()).map_err(RootfsError::Store)?)
        .map_err(RootfsError::Store)?;
    drop(tmp);

    tracing::debug!(
        "rpm database: {} packages, {size} bytes in {:.3} s",
        packages.len(),
        started.elapsed().as_secs_f64()
    );
    let db_file = format!("{dbpath}/{DB_FILE}");
    put_file(image, &db_file, digest, size)?;
    if dbpath == SYSIMAGE && image.tree.get(VAR_LIB_RPM).is_none() {
        let link = Entry {
            kind: EntryKind::Symlink {
                target: "../../usr/lib/sysimage/rpm".into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
            mtime: image.implied_mtime,
            owner_package: None,
            caps: None,
        };
        image.install("(generated)", VAR_LIB_RPM, link, Owner::root())?;
    }
    Ok(Some(Outcome::Written {
        path: db_file,
        packages: packages.len(),
        bytes: size,
        source: lay.source,
        rpm_package,
    }))
}

/// The database file, 0644 root:root as rpm creates it (and as rpm's package declares its
/// `%ghost`), in its directory (created 0755 root:root when no package ships it).
fn put_file(
    image: &mut Image<'_>,
    path: &str,
    digest: super::tree::Digest,
    size: u64,
) -> Result<(), RootfsError> {
    let entry = Entry {
        kind: EntryKind::File {
            digest,
            size,
            link_group: None,
        },
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: image.implied_mtime,
        owner_package: None,
        caps: None,
    };
    let resolved = super::paths::resolve(&image.tree, path, false).unwrap_or(path.to_string());
    image.tree.remove(&resolved);
    image.owners.remove(&resolved);
    image.install("(generated)", path, entry, Owner::root())?;
    Ok(())
}
