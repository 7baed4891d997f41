//! The root filesystem of the image, assembled from RPM headers and payloads without
//! root, chroot or scriptlets.
//!
//! The tree lives in memory as metadata ([`tree::Tree`]); file contents live in a
//! content-addressed store on disk ([`store::Store`]) so that a 2 GB image does not need
//! 2 GB of RAM. `emit` reads both.
//!
//! [`assemble`] runs the stage: read every header, order the packages as rpm would
//! ([`order`]), stream each payload into the tree ([`extract`], with [`paths`] and
//! [`conflicts`]), declare the accounts the packages ask for ([`users`]), apply the
//! profile's files ([`custom`]), the image's systemd presets ([`presets`]) and then the rest
//! of the profile's customisations, write the kernel module indexes ([`depmod`]), the linker
//! cache and soname links ([`ldconfig`]), the boot step that sets file capabilities
//! ([`xattrs`]), map owner names to ids through the image's own /etc/passwd and /etc/group,
//! and report every scriptlet that was not run ([`scriptlets`]).
//! Nothing is executed from the packages, nothing is chowned on the host, and nothing is
//! written outside the content store.

pub mod conflicts;
pub mod custom;
pub mod depmod;
pub mod elf;
pub mod extract;
pub mod glob;
pub mod header;
pub mod ldconfig;
pub mod listing;
pub mod lua;
pub mod order;
pub mod overlay;
pub mod password;
pub mod paths;
pub mod presets;
pub mod rpmdb;
pub mod scriptlets;
pub mod shell;
pub mod store;
pub mod tree;
pub mod users;
pub mod xattrs;

use extract::{Filters, Image, Owner, Skipped};
use header::PkgHeader;
use rayon::prelude::*;
use std::path::PathBuf;
use store::Store;
use tree::{Entry, EntryKind, Tree};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("Cannot read the RPM header of `{path}`")]
    Header {
        path: String,
        #[source]
        source: rpm::Error,
    },
    #[error(transparent)]
    HeaderFields(#[from] header::HeaderError),
    #[error("Cannot read the payload of `{package}`")]
    Payload {
        package: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Unsafe path in `{package}`")]
    Path {
        package: String,
        #[source]
        source: paths::PathError,
    },
    #[error("File conflict on `{path}` between `{first}` and `{second}` ({reason})")]
    Conflict {
        path: String,
        first: String,
        second: String,
        reason: &'static str,
    },
    #[error("Payload entry `{name}` of `{package}` is not in its header")]
    UnknownPayloadEntry { package: String, name: String },
    #[error("Malformed package `{package}`: {reason}")]
    Malformed { package: String, reason: String },
    #[error(
        "Contents of `{path}` in `{package}` do not match its header digest (expected sha256:{expected}, got sha256:{actual})"
    )]
    DigestMismatch {
        package: String,
        path: String,
        expected: String,
        actual: String,
    },
    #[error("Hardlink `{path}` in `{package}` rejected: {reason}")]
    BadHardlink {
        package: String,
        path: String,
        reason: &'static str,
    },
    #[error("Cannot declare the accounts of {origin}")]
    Users {
        origin: String,
        #[source]
        source: users::UsersError,
    },
    #[error(
        "`{path}` in `{package}` is owned by user `{user}`, which no source defines (setup's /etc/passwd, the profile, sysusers.d, user() provides, %pre useradd)"
    )]
    UnknownUser {
        package: String,
        path: String,
        user: String,
    },
    #[error(
        "`{path}` in `{package}` is owned by group `{group}`, which no source defines (setup's /etc/group, the profile, sysusers.d, group() provides, %pre groupadd)"
    )]
    UnknownGroup {
        package: String,
        path: String,
        group: String,
    },
    #[error("The build's content store failed")]
    Store(#[source] std::io::Error),
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error("Customisation `{what}` failed: {reason}")]
    Custom { what: String, reason: String },
    #[error(transparent)]
    Depmod(#[from] depmod::DepmodError),
    #[error(transparent)]
    Ldconfig(#[from] ldconfig::LdconfigError),
    #[error("File capabilities `{caps}` of `{path}` in `{package}` cannot be set: {reason}")]
    Caps {
        path: String,
        package: String,
        caps: String,
        reason: String,
    },
    #[error(transparent)]
    Rpmdb(#[from] rpmdb::RpmdbError),
}

/// Where the root password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootPassword {
    /// A crypt(3) hash, used as is.
    Hash(String),
    /// A file holding the plain password (first line); hashed with a derived salt.
    File(PathBuf),
}

/// Everything assembly needs from the profile (the plan fills it: `plan::inputs`).
#[derive(Debug, Clone)]
pub struct AssembleConfig {
    pub filters: Filters,
    /// Profile groups (name, fixed gid), created before any package's.
    pub groups: Vec<(String, Option<u32>)>,
    /// Profile users, created after the profile groups.
    pub users: Vec<users::NewUser>,
    /// Profile group members (group, user), added once the profile's users exist.
    pub members: Vec<(String, String)>,
    /// Profile users' password hashes (user, crypt hash).
    pub passwords: Vec<(String, String)>,
    pub root_password: Option<RootPassword>,
    /// Stable identity for the derived password salt (the profile's name).
    pub password_seed: String,
    pub custom: custom::Customisations,
    /// mtime of generated files and implied directories; also the shadow "last change" day.
    /// The build's SOURCE_DATE_EPOCH, decided once by the plan.
    pub source_date_epoch: u64,
    /// The image's rpm database ([`rpmdb`]).
    pub rpmdb: rpmdb::RpmdbConfig,
    /// The image's format carries extended attributes (a squashfs root): file
    /// capabilities stay in the tree for it, and no boot step sets them ([`xattrs`]).
    pub xattrs_carried: bool,
}

/// The assembled root filesystem and what was done to get it.
#[derive(Debug, Clone)]
pub struct Assembled {
    pub tree: Tree,
    pub report: scriptlets::Report,
    /// NEVRAs in install order.
    pub packages_installed: Vec<String>,
    /// The packages' headers, in install order (emit's SBOM reads them).
    pub headers: Vec<PkgHeader>,
    pub users: Vec<users::User>,
    pub groups: Vec<users::Group>,
    pub skipped: Skipped,
    /// Things done that the user should know about (e.g. /etc/initrd-release removed).
    pub notes: Vec<String>,
    /// The SOURCE_DATE_EPOCH used for generated entries (for the build manifest).
    pub source_date_epoch: u64,
}

/// Read the headers of `rpms` (no payload), in parallel; the first error in `rpms` order
/// is the one returned.
pub fn read_headers(rpms: &[PathBuf]) -> Result<Vec<PkgHeader>, RootfsError> {
    let read: Vec<Result<PkgHeader, RootfsError>> = rpms
        .par_iter()
        .map(|p| {
            let path = p.display().to_string();
            let meta = crate::package::rpmhead::open_metadata(p).map_err(|source| {
                RootfsError::Header {
                    path: path.clone(),
                    source,
                }
            })?;
            Ok(PkgHeader::from_metadata(&meta, &path)?)
        })
        .collect();
    read.into_iter().collect()
}

/// One package file to assemble, with the sha256 of the whole file when the caller knows
/// it (the package cache does): the key its extraction manifest is kept under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile {
    pub path: PathBuf,
    pub sha256: Option<String>,
}

impl From<&PathBuf> for RpmFile {
    fn from(path: &PathBuf) -> RpmFile {
        RpmFile {
            path: path.clone(),
            sha256: None,
        }
    }
}

const INITRD_RELEASE: &str = "/etc/initrd-release";

/// Read a small file of the tree (following nothing: the path must be the file).
pub(crate) fn tree_file(
    tree: &Tree,
    store: &Store,
    path: &str,
) -> Result<Option<String>, RootfsError> {
    match tree.get(path).map(|e| &e.kind) {
        Some(EntryKind::File { digest, .. }) => {
            let bytes = store.read(digest).map_err(RootfsError::Store)?;
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        _ => Ok(None),
    }
}

/// Put generated contents at `path`, keeping the metadata of a shipped entry if there is one.
fn put_generated(
    image: &mut Image<'_>,
    path: &str,
    text: &str,
    mode: u32,
) -> Result<(), RootfsError> {
    put_generated_bytes(image, path, text.as_bytes(), mode)
}

/// [`put_generated`] for binary contents.
fn put_generated_bytes(
    image: &mut Image<'_>,
    path: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), RootfsError> {
    let (digest, size) = image.store.put_bytes(bytes).map_err(RootfsError::Store)?;
    let kind = EntryKind::File {
        digest,
        size,
        link_group: None,
    };
    if let Some(e) = image.tree.entries.get_mut(path) {
        if matches!(e.kind, EntryKind::File { .. }) {
            e.kind = kind;
            return Ok(());
        }
    }
    let entry = Entry {
        kind,
        mode,
        uid: 0,
        gid: 0,
        mtime: image.implied_mtime,
        owner_package: None,
        caps: None,
    };
    image.tree.remove(path);
    image.install("(generated)", path, entry, Owner::root())?;
    Ok(())
}

/// Assemble the root filesystem from `rpms` (any order) into a tree, with contents in `store`.
pub fn assemble(
    rpms: &[PathBuf],
    cfg: &AssembleConfig,
    store: &Store,
) -> Result<Assembled, RootfsError> {
    let files: Vec<RpmFile> = rpms.iter().map(RpmFile::from).collect();
    assemble_files(&files, cfg, store)
}

/// [`assemble`] for package files whose sha256 may be known: with a store in the cache
/// ([`Store::in_cache`]), a package read before is applied from its kept manifest
/// ([`extract::Manifests`]) without decompressing it.
///
/// Payloads are read in parallel (decompressed, hashed, contents stored) and applied to
/// the tree one package after the other in rpm's install order, so the tree, and the
/// first error reported, are those of reading them one by one.
pub fn assemble_files(
    rpms: &[RpmFile],
    cfg: &AssembleConfig,
    store: &Store,
) -> Result<Assembled, RootfsError> {
    let paths: Vec<PathBuf> = rpms.iter().map(|r| r.path.clone()).collect();
    let headers = read_headers(&paths)?;
    let order = order::install_order(&headers);
    let sde = cfg.source_date_epoch;
    let mut image = Image::new(store, sde);
    let mut notes = Vec::new();

    let manifests = store
        .memo(extract::MANIFESTS_DIR)
        .map(extract::Manifests::new);
    let payloads: Vec<Result<extract::Payload, RootfsError>> = order
        .par_iter()
        .map(|&i| {
            let key = rpms[i].sha256.as_deref().map(str::to_ascii_lowercase);
            let kept = manifests.as_ref().zip(key.as_deref());
            if let Some(p) = kept.and_then(|(m, k)| m.get(k, store)) {
                return Ok(p);
            }
            let p = extract::read_payload(&rpms[i].path, &headers[i], store)?;
            if let Some((m, k)) = kept {
                m.put(k, &p);
            }
            Ok(p)
        })
        .collect();
    for (&i, payload) in order.iter().zip(payloads) {
        image.apply(&headers[i], &payload?, &cfg.filters)?;
    }

    if let Some(e) = image.tree.remove(INITRD_RELEASE) {
        image.owners.remove(INITRD_RELEASE);
        notes.push(format!(
            "removed {INITRD_RELEASE} (shipped by {}): systemd would treat the image as an initrd",
            e.owner_package.unwrap_or_else(|| "?".into())
        ));
    }

    // Accounts.
    let shipped = |p: &str| tree_file(&image.tree, store, p);
    let (sp, sg, ss, sgs) = (
        shipped("/etc/passwd")?,
        shipped("/etc/group")?,
        shipped("/etc/shadow")?,
        shipped("/etc/gshadow")?,
    );
    let users_err = |origin: &str| {
        let origin = origin.to_string();
        move |source| RootfsError::Users {
            origin: origin.clone(),
            source,
        }
    };
    let mut db =
        users::UserDb::from_files(sp.as_deref(), sg.as_deref(), ss.as_deref(), sgs.as_deref())
            .map_err(users_err("the shipped account files"))?;
    db.lastchg = Some(sde / 86400);
    for (name, gid) in &cfg.groups {
        db.add_group(name, *gid, "profile")
            .map_err(users_err("the profile"))?;
    }
    for u in &cfg.users {
        db.add_user(u, "profile")
            .map_err(users_err("the profile"))?;
    }
    for &i in &order {
        let h = &headers[i];
        let nevra = h.nevra();
        for d in &h.provides {
            let kind = if d.name.starts_with("group(") {
                "g"
            } else if d.name.starts_with("user(") {
                "u"
            } else {
                continue;
            };
            let Some(name) = d
                .name
                .split_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
            else {
                continue;
            };
            let line = users::decode_provide(&d.version)
                .filter(|l| l.starts_with(kind))
                .unwrap_or_else(|| format!("{kind} {name} -"));
            db.apply_sysusers_line(&line, &format!("{nevra} provides"))
                .map_err(users_err(&format!("`{nevra}` ({})", d.name)))?;
        }
        for s in h.scripts.iter().filter(|s| {
            matches!(
                s.kind,
                header::ScriptKind::Pre | header::ScriptKind::Pretrans
            )
        }) {
            let interp = s.prog.first().map(String::as_str).unwrap_or("/bin/sh");
            if interp == "<lua>" {
                continue;
            }
            for c in shell::commands(&s.body) {
                db.apply_command(&c, &format!("{nevra} {}", s.kind.as_str()))
                    .map_err(users_err(&format!("`{nevra}` {}", s.kind.as_str())))?;
            }
        }
        let sysusers: Vec<String> = h
            .files
            .iter()
            .filter(|f| {
                f.path.starts_with("/usr/lib/sysusers.d/")
                    && f.path.ends_with(".conf")
                    && !f.is_ghost()
            })
            .map(|f| f.path.clone())
            .collect();
        for p in sysusers {
            if let Some(text) = tree_file(&image.tree, store, &p)? {
                db.apply_sysusers(&text, &format!("{nevra} {p}"))
                    .map_err(users_err(&format!("`{p}` in `{nevra}`")))?;
            }
        }
    }

    // The profile's files first (unit and preset files among them), then what the
    // packages' `%systemd_post` would have enabled, then the profile's services on top.
    custom::apply_files(&mut image, &cfg.custom, &db)?;
    let mut declared = Vec::new();
    let mut handled = scriptlets::Handled::default();
    for scope in [presets::SYSTEM, presets::GLOBAL] {
        let Some(o) = presets::apply(&mut image, scope) else {
            continue;
        };
        for w in &o.warnings {
            notes.push(format!("presets ({}): {w}", scope.name));
        }
        let global = scope.name == presets::GLOBAL.name;
        if global {
            handled.user_presets = true;
        } else {
            handled.presets = true;
        }
        declared.push(scriptlets::Declared {
            what: format!("{} presets", scope.name),
            verdict: scriptlets::Verdict::Handled,
            detail: format!(
                "{} units enabled, {} disabled: {} symlinks made, {} removed under {}",
                o.enabled.len(),
                o.disabled.len(),
                o.linked.len(),
                o.removed.len(),
                scope.config
            ),
        });
    }
    custom::apply_system(&mut image, &cfg.custom, &db, &mut notes)?;

    // What the kernel package's `depmod -a <kver>` would have written, for the modules
    // the profile kept (its `remove` and `files` are applied).
    for dir in depmod::module_dirs(&image.tree) {
        let out = depmod::run(&image.tree, store, &dir)?;
        for e in &out.skipped {
            notes.push(format!(
                "{e}; left out of the module indexes, as depmod leaves it"
            ));
        }
        for (name, bytes) in &out.files {
            put_generated_bytes(&mut image, &format!("{dir}/{name}"), bytes, 0o644)?;
        }
    }

    // What the packages' `/sbin/ldconfig` scriptlets would have written.
    match ldconfig::run(&mut image)? {
        Ok(out) => {
            handled.ldconfig = true;
            for w in &out.warnings {
                notes.push(format!("ldconfig: {w}"));
            }
            declared.push(scriptlets::Declared {
                what: ldconfig::CACHE.into(),
                verdict: scriptlets::Verdict::Handled,
                detail: format!(
                    "{} entries; {} soname links made, {} dangling links removed",
                    out.entries,
                    out.linked.len(),
                    out.removed.len()
                ),
            });
            put_generated_bytes(&mut image, ldconfig::CACHE, &out.cache, 0o644)?;
        }
        Err(ldconfig::Skip::NoLdconfig) => {
            notes.push(format!(
                "no ldconfig in the image ({}): {} not written",
                ldconfig::LDCONFIG[0],
                ldconfig::CACHE
            ));
        }
        Err(ldconfig::Skip::Machine(tool)) => {
            notes.push(format!(
                "{tool} is for an architecture diskless does not model: {} not written",
                ldconfig::CACHE
            ));
        }
    }

    // File capabilities: kept in the tree; the initramfs gets them at boot, a squashfs root
    // carries them.
    // The image's architecture: its packages' (the most common one besides noarch).
    let mut arches: std::collections::BTreeMap<&str, usize> = Default::default();
    for h in headers.iter().filter(|h| h.arch != "noarch") {
        *arches.entry(h.arch.as_str()).or_default() += 1;
    }
    let arch = arches
        .iter()
        .max_by_key(|(a, n)| (**n, std::cmp::Reverse(**a)))
        .and_then(|(a, _)| xattrs::Arch::from_rpm(a));
    if let Some(d) = xattrs::boot_step(&mut image, arch, cfg.xattrs_carried)? {
        declared.push(d);
    }
    // What rpm records as it installs: its database, where the image's rpm reads it.
    let rpmdb = rpmdb::write(
        &mut image,
        rpms,
        &headers,
        &order,
        &cfg.filters,
        &cfg.rpmdb,
        sde,
    )?;

    match &cfg.root_password {
        Some(RootPassword::Hash(h)) => {
            password::check_hash(h)?;
            db.set_password("root", h);
        }
        Some(RootPassword::File(p)) => {
            let text = fs_err::read_to_string(p).map_err(|e| RootfsError::Custom {
                what: "root password file".into(),
                reason: e.to_string(),
            })?;
            let line = text.lines().next().unwrap_or("");
            db.set_password("root", &password::hash_password(line, &cfg.password_seed)?);
        }
        None => {}
    }
    for (user, hash) in &cfg.passwords {
        password::check_hash(hash)?;
        db.set_password(user, hash);
    }

    let generated = [
        ("/etc/passwd", db.passwd_text(), 0o644, &sp),
        ("/etc/group", db.group_text(), 0o644, &sg),
        ("/etc/shadow", db.shadow_text(), 0o000, &ss),
        ("/etc/gshadow", db.gshadow_text(), 0o000, &sgs),
    ];
    // Shipped account files stay untouched (as rpm leaves them) unless something was
    // declared on top; then all four are written, with a shadow line for every user.
    if db.changed {
        for (path, text, mode, shipped) in generated {
            if shipped.as_deref() != Some(text.as_str()) {
                put_generated(&mut image, path, &text, mode)?;
            }
        }
    }

    // Owner names -> ids, through the image's own account files.
    let Image {
        mut tree,
        owners,
        skipped,
        ..
    } = image;
    for (path, entry) in tree.entries.iter_mut() {
        let Some(o) = owners.get(path) else { continue };
        let package = entry
            .owner_package
            .clone()
            .unwrap_or_else(|| "(generated)".into());
        entry.uid = db.uid(&o.user).ok_or_else(|| RootfsError::UnknownUser {
            package: package.clone(),
            path: path.clone(),
            user: o.user.clone(),
        })?;
        entry.gid = db.gid(&o.group).ok_or_else(|| RootfsError::UnknownGroup {
            package,
            path: path.clone(),
            group: o.group.clone(),
        })?;
    }

    let ordered: Vec<&PkgHeader> = order.iter().map(|&i| &headers[i]).collect();
    let mut report = scriptlets::report(&ordered, &handled, declared);
    report.entries.extend(rpmdb.map(|o| o.report_entry()));
    let packages_installed = ordered.iter().map(|h| h.nevra()).collect();
    let mut slots: Vec<Option<PkgHeader>> = headers.into_iter().map(Some).collect();
    let headers = order.iter().filter_map(|&i| slots[i].take()).collect();
    Ok(Assembled {
        tree,
        report,
        packages_installed,
        headers,
        users: db.users.clone(),
        groups: db.groups.clone(),
        skipped,
        notes,
        source_date_epoch: sde,
    })
}

impl AssembleConfig {
    /// Packages only (no profile accounts, passwords or customisations), with generated
    /// entries dated `source_date_epoch`.
    pub fn new(source_date_epoch: u64) -> AssembleConfig {
        AssembleConfig {
            filters: Filters::default(),
            groups: Vec::new(),
            users: Vec::new(),
            members: Vec::new(),
            passwords: Vec::new(),
            root_password: None,
            password_seed: String::new(),
            custom: custom::Customisations::default(),
            source_date_epoch,
            rpmdb: rpmdb::RpmdbConfig::default(),
            xattrs_carried: false,
        }
    }
}

impl Assembled {
    /// Write what `diskless build --stage rootfs` leaves for users and tests to read, into
    /// `dir`: `rootfs-listing.txt` and `rootfs-listing.json` (see [`listing`]),
    /// `scriptlets.txt` and `scriptlets.json` (the report), `accounts.json` (users and
    /// groups with where each came from). Returns the files written, in that order.
    pub fn write_reports(&self, dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
        fs_err::create_dir_all(dir)?;
        let accounts = serde_json::json!({ "users": self.users, "groups": self.groups });
        let files = [
            ("rootfs-listing.txt", listing::to_text(&self.tree)),
            ("rootfs-listing.json", listing::to_json(&self.tree)),
            (
                "scriptlets.txt",
                format!("{}\n{}", self.report.summary(), self.report.to_text()),
            ),
            ("scriptlets.json", pretty(&self.report)),
            ("accounts.json", pretty(&accounts)),
        ];
        let mut out = Vec::new();
        for (name, text) in files {
            let p = dir.join(name);
            fs_err::write(&p, text)?;
            out.push(p);
        }
        Ok(out)
    }
}

/// Pretty JSON with a trailing newline (structs, Vecs and sorted maps only: stable bytes).
fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}
