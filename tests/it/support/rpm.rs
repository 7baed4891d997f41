//! Test RPMs: one builder for every test that needs packages, over the rpm crate's
//! `PackageBuilder`. An [`Rpm`] is a plain, cloneable description (name, EVR, arch, payload
//! entries with modes and owners, dependencies, scriptlets); building it is reproducible: every
//! timestamp is the source date (default [`SOURCE_DATE`]) and the Ed25519 signatures the tests
//! use are deterministic, so one description always gives the same bytes. Golden digests
//! (tests/it/emit.rs, the boot fixture's lock) depend on that.
//!
//! Shared as a source file by the integration tests (tests/it), the boot tests and
//! examples/fixture_repo.rs (through tests/boot/fixture_repo.rs), so it returns errors
//! instead of unwrapping them and refers to nothing outside this file.

use rpm::{BuildConfig, CompressionWithLevel, Dependency, FileOptions, FileOptionsBuilder};
use std::path::{Path, PathBuf};

/// Build time and file mtime of test RPMs unless a test picks another (2023-11-14T22:13:20Z).
pub const SOURCE_DATE: u32 = 1_700_000_000;

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Ghost,
    Fifo,
    CharDevice(u8, u8),
    BlockDevice(u8, u8),
}

/// One payload entry: a file with contents, a directory, a symlink, a ghost or a special
/// file, with the attributes a spec file's `%attr`, `%config`, `%doc`... would give it.
/// Unset attributes keep the rpm crate's defaults (root:root; 0644 files, 0755 directories).
#[derive(Debug, Clone)]
pub struct Entry {
    path: String,
    kind: Kind,
    mode: Option<u16>,
    user: Option<String>,
    group: Option<String>,
    config: bool,
    noreplace: bool,
    doc: bool,
    license: bool,
    language: Option<String>,
    caps: Option<String>,
    hardlink: Option<String>,
}

impl Entry {
    fn new(path: impl Into<String>, kind: Kind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: None,
            user: None,
            group: None,
            config: false,
            noreplace: false,
            doc: false,
            license: false,
            language: None,
            caps: None,
            hardlink: None,
        }
    }

    /// A regular file with `contents`.
    pub fn file(path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Entry {
        Entry::new(path, Kind::File(contents.into()))
    }

    pub fn dir(path: impl Into<String>) -> Entry {
        Entry::new(path, Kind::Dir)
    }

    /// A symlink at `path` pointing to `target`.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry::new(path, Kind::Symlink(target.into()))
    }

    /// `%ghost`: in the header, not in the payload.
    pub fn ghost(path: impl Into<String>) -> Entry {
        Entry::new(path, Kind::Ghost)
    }

    pub fn fifo(path: impl Into<String>) -> Entry {
        Entry::new(path, Kind::Fifo)
    }

    pub fn char_device(path: impl Into<String>, major: u8, minor: u8) -> Entry {
        Entry::new(path, Kind::CharDevice(major, minor))
    }

    pub fn block_device(path: impl Into<String>, major: u8, minor: u8) -> Entry {
        Entry::new(path, Kind::BlockDevice(major, minor))
    }

    /// The permission bits (setuid, setgid and sticky included), e.g. `0o4755`.
    pub fn mode(mut self, mode: u16) -> Entry {
        self.mode = Some(mode);
        self
    }

    /// The owner's user name (RPM headers carry names, not ids).
    pub fn user(mut self, user: impl Into<String>) -> Entry {
        self.user = Some(user.into());
        self
    }

    pub fn group(mut self, group: impl Into<String>) -> Entry {
        self.group = Some(group.into());
        self
    }

    pub fn config(mut self) -> Entry {
        self.config = true;
        self
    }

    /// `%config(noreplace)` (with [`Entry::config`]).
    pub fn noreplace(mut self) -> Entry {
        self.noreplace = true;
        self
    }

    pub fn doc(mut self) -> Entry {
        self.doc = true;
        self
    }

    pub fn license(mut self) -> Entry {
        self.license = true;
        self
    }

    /// `%lang(..)`.
    pub fn language(mut self, language: impl Into<String>) -> Entry {
        self.language = Some(language.into());
        self
    }

    /// `%caps(..)`, e.g. `cap_net_raw=ep`.
    pub fn caps(mut self, caps: impl Into<String>) -> Entry {
        self.caps = Some(caps.into());
        self
    }

    /// Files with the same `set` name are hardlinks of one another (one inode).
    pub fn hardlink(mut self, set: impl Into<String>) -> Entry {
        self.hardlink = Some(set.into());
        self
    }

    fn options(&self) -> Result<FileOptionsBuilder, rpm::Error> {
        let p = self.path.as_str();
        let mut o = match &self.kind {
            Kind::File(_) => FileOptions::new(p),
            Kind::Dir => FileOptions::dir(p),
            Kind::Symlink(target) => FileOptions::symlink(p, target),
            Kind::Ghost => FileOptions::ghost(p),
            Kind::Fifo => FileOptions::fifo(p),
            Kind::CharDevice(major, minor) => FileOptions::character_device(p, *major, *minor),
            Kind::BlockDevice(major, minor) => FileOptions::block_device(p, *major, *minor),
        };
        if let Some(m) = self.mode {
            o = o.permissions(m);
        }
        if let Some(u) = &self.user {
            o = o.user(u);
        }
        if let Some(g) = &self.group {
            o = o.group(g);
        }
        if self.config {
            o = o.config();
        }
        if self.noreplace {
            o = o.noreplace();
        }
        if self.doc {
            o = o.doc();
        }
        if self.license {
            o = o.license();
        }
        if let Some(l) = &self.language {
            o = o.language(l);
        }
        if let Some(c) = &self.caps {
            o = o.caps(c.as_str())?;
        }
        if let Some(h) = &self.hardlink {
            o = o.hardlink(h);
        }
        Ok(o)
    }

    fn add_to(&self, b: &mut rpm::PackageBuilder) -> Result<(), rpm::Error> {
        let o = self.options()?;
        match &self.kind {
            Kind::File(contents) => b.with_file_contents(contents.clone(), o)?,
            Kind::Dir => b.with_dir_entry(o)?,
            Kind::Symlink(_) => b.with_symlink(o)?,
            Kind::Ghost => b.with_ghost(o)?,
            Kind::Fifo | Kind::CharDevice(..) | Kind::BlockDevice(..) => b.with_special_file(o)?,
        };
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum DepKind {
    Requires,
    Provides,
}

/// A test package: `Rpm::new(name, version)` is `name-version-1.noarch`, license MIT, summary
/// `name`, rpm's default payload compression, built at [`SOURCE_DATE`]; every other field is
/// set by a method of the same name.
#[derive(Debug, Clone)]
pub struct Rpm {
    name: String,
    version: String,
    release: String,
    epoch: Option<u32>,
    arch: String,
    license: String,
    summary: String,
    description: Option<String>,
    vendor: Option<String>,
    source_date: u32,
    compression: CompressionWithLevel,
    entries: Vec<Entry>,
    deps: Vec<(DepKind, Dependency)>,
    pre_install: Option<String>,
    post_install: Option<String>,
}

impl Rpm {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Rpm {
        let name = name.into();
        Rpm {
            summary: name.clone(),
            name,
            version: version.into(),
            release: "1".into(),
            epoch: None,
            arch: "noarch".into(),
            license: "MIT".into(),
            description: None,
            vendor: None,
            source_date: SOURCE_DATE,
            compression: CompressionWithLevel::default(),
            entries: Vec::new(),
            deps: Vec::new(),
            pre_install: None,
            post_install: None,
        }
    }

    pub fn release(mut self, release: impl Into<String>) -> Rpm {
        self.release = release.into();
        self
    }

    pub fn epoch(mut self, epoch: u32) -> Rpm {
        self.epoch = Some(epoch);
        self
    }

    pub fn arch(mut self, arch: impl Into<String>) -> Rpm {
        self.arch = arch.into();
        self
    }

    pub fn license(mut self, license: impl Into<String>) -> Rpm {
        self.license = license.into();
        self
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Rpm {
        self.summary = summary.into();
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Rpm {
        self.description = Some(description.into());
        self
    }

    pub fn vendor(mut self, vendor: impl Into<String>) -> Rpm {
        self.vendor = Some(vendor.into());
        self
    }

    /// Build time, file mtimes and signature time.
    pub fn source_date(mut self, t: u32) -> Rpm {
        self.source_date = t;
        self
    }

    pub fn compression(mut self, c: impl Into<CompressionWithLevel>) -> Rpm {
        self.compression = c.into();
        self
    }

    /// Add one payload entry.
    pub fn entry(mut self, e: Entry) -> Rpm {
        self.entries.push(e);
        self
    }

    pub fn entries(mut self, es: impl IntoIterator<Item = Entry>) -> Rpm {
        self.entries.extend(es);
        self
    }

    /// A regular file with `contents` and permission bits `mode`.
    pub fn file(self, path: impl Into<String>, contents: impl Into<Vec<u8>>, mode: u16) -> Rpm {
        self.entry(Entry::file(path, contents).mode(mode))
    }

    pub fn dir(self, path: impl Into<String>, mode: u16) -> Rpm {
        self.entry(Entry::dir(path).mode(mode))
    }

    pub fn symlink(self, path: impl Into<String>, target: impl Into<String>) -> Rpm {
        self.entry(Entry::symlink(path, target))
    }

    /// Dependencies keep the order they are added in (it is the order in the header).
    pub fn requires(mut self, dep: Dependency) -> Rpm {
        self.deps.push((DepKind::Requires, dep));
        self
    }

    pub fn provides(mut self, dep: Dependency) -> Rpm {
        self.deps.push((DepKind::Provides, dep));
        self
    }

    /// `%pre`, run by /bin/sh.
    pub fn pre_install(mut self, script: impl Into<String>) -> Rpm {
        self.pre_install = Some(script.into());
        self
    }

    /// `%post`, run by /bin/sh.
    pub fn post_install(mut self, script: impl Into<String>) -> Rpm {
        self.post_install = Some(script.into());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `name-version-release.arch.rpm`, as createrepo_c and dnf name packages.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }

    fn builder(&self) -> Result<rpm::PackageBuilder, rpm::Error> {
        let mut b = rpm::PackageBuilder::new(
            &self.name,
            &self.version,
            &self.license,
            &self.arch,
            &self.summary,
        );
        // The config first: entries take their mtime from it as they are added.
        b.using_config(
            BuildConfig::v4()
                .source_date(self.source_date)
                .compression(self.compression),
        )
        .release(&self.release);
        if let Some(e) = self.epoch {
            b.epoch(e);
        }
        if let Some(d) = &self.description {
            b.description(d);
        }
        if let Some(v) = &self.vendor {
            b.vendor(v);
        }
        for e in &self.entries {
            e.add_to(&mut b)?;
        }
        for (kind, dep) in &self.deps {
            match kind {
                DepKind::Requires => b.requires(dep.clone()),
                DepKind::Provides => b.provides(dep.clone()),
            };
        }
        if let Some(s) = &self.pre_install {
            b.pre_install_script(s.as_str());
        }
        if let Some(s) = &self.post_install {
            b.post_install_script(s.as_str());
        }
        Ok(b)
    }

    pub fn build(&self) -> Result<rpm::Package, rpm::Error> {
        self.builder()?.build()
    }

    /// Built and signed; the signature time is the source date.
    pub fn build_signed(
        &self,
        signer: &rpm::signature::pgp::Signer,
    ) -> Result<rpm::Package, rpm::Error> {
        self.builder()?.build_and_sign(signer)
    }

    /// The package file's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, rpm::Error> {
        to_bytes(&self.build()?)
    }

    pub fn signed_bytes(
        &self,
        signer: &rpm::signature::pgp::Signer,
    ) -> Result<Vec<u8>, rpm::Error> {
        to_bytes(&self.build_signed(signer)?)
    }

    /// Write the package to `path`.
    pub fn write_to(&self, path: &Path) -> Result<(), rpm::Error> {
        self.build()?.write_file(path)
    }

    /// Write the package into `dir` (created if missing) under [`Rpm::file_name`].
    pub fn write_in(&self, dir: &Path) -> Result<PathBuf, rpm::Error> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(self.file_name());
        self.write_to(&path)?;
        Ok(path)
    }
}

fn to_bytes(p: &rpm::Package) -> Result<Vec<u8>, rpm::Error> {
    let mut out = Vec::new();
    p.write(&mut out)?;
    Ok(out)
}
