//! From the profile as written ([`RawProfile`]) to the resolved [`Profile`]: defaults filled
//! in, relative paths made absolute, `.repo` files read, dnf variables substituted, and every
//! value checked against the others (hosts inside the DHCP subnet, unique names, files that
//! exist). Each failure is a [`Diagnostic`] at the offending value.

// Errors here are a one-shot cold path (the first one ends the load), and a `Diagnostic` carries
// everything needed to show it; boxing every intermediate `Result` would buy nothing.
#![allow(clippy::result_large_err)]

use super::error::{Diagnostic, ProfileError, SourceText};
use super::model::*;
use super::repofile;
use super::schema::*;
use super::values::{Compression, CompressionName};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Where a value was written: enough to build a [`Diagnostic`] later.
#[derive(Debug, Clone)]
pub(crate) struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    width: usize,
    field: String,
    text: String,
}

impl Loc {
    pub fn at(
        st: &SourceText,
        line: usize,
        column: usize,
        width: usize,
        field: impl Into<String>,
    ) -> Loc {
        let d = st.diag_at(line, column, width, field, "");
        Loc::from_diag(d)
    }
    fn span(st: &SourceText, span: std::ops::Range<usize>, field: impl Into<String>) -> Loc {
        Loc::from_diag(st.diag(span, field, ""))
    }
    fn from_diag(d: Diagnostic) -> Loc {
        let (text, width) = d.source_line.unwrap_or_default();
        Loc {
            file: d.file,
            line: d.line,
            column: d.column,
            width,
            field: d.field,
            text,
        }
    }
    /// An error about this value; the message is prefixed with the field's name.
    pub fn err(&self, message: impl Into<String>) -> Diagnostic {
        let message = message.into();
        if self.field.is_empty() {
            return self.err_plain(message);
        }
        self.err_plain(format!("`{}`: {message}", self.field))
    }

    /// An error whose message already names the field.
    pub fn err_plain(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            field: self.field.clone(),
            message: message.into(),
            hint: None,
            source_line: Some((self.text.clone(), self.width)),
        }
    }
}

/// A repository as read from a `[[repo]]` table or a `.repo` section, before substitution and
/// checks.
#[derive(Debug)]
pub(crate) struct RepoDraft {
    pub id: String,
    pub id_loc: Loc,
    pub source: RepoSource,
    /// Relative paths in this definition resolve against this folder.
    pub base_dir: PathBuf,
    pub name: Option<String>,
    pub baseurl: Vec<(String, Loc)>,
    pub mirrorlist: Option<(String, Loc)>,
    pub metalink: Option<(String, Loc)>,
    pub gpgkey: Vec<(String, Loc)>,
    pub gpgcheck: Option<bool>,
    pub repo_gpgcheck: Option<bool>,
    pub enabled: Option<bool>,
    pub priority: Option<(i64, Loc)>,
    pub cost: Option<(i64, Loc)>,
    pub sslclientcert: Option<(String, Loc)>,
    pub sslclientkey: Option<(String, Loc)>,
    pub sslcacert: Option<(String, Loc)>,
    pub sslverify: Option<bool>,
    pub excludepkgs: Vec<String>,
    pub includepkgs: Vec<String>,
    pub module_hotfixes: Option<bool>,
    pub skip_if_unavailable: Option<bool>,
    pub proxy: Option<(String, Loc)>,
}

impl RepoDraft {
    pub fn new(id: String, id_loc: Loc, source: RepoSource, base_dir: PathBuf) -> Self {
        RepoDraft {
            id,
            id_loc,
            source,
            base_dir,
            name: None,
            baseurl: Vec::new(),
            mirrorlist: None,
            metalink: None,
            gpgkey: Vec::new(),
            gpgcheck: None,
            repo_gpgcheck: None,
            enabled: None,
            priority: None,
            cost: None,
            sslclientcert: None,
            sslclientkey: None,
            sslcacert: None,
            sslverify: None,
            excludepkgs: Vec::new(),
            includepkgs: Vec::new(),
            module_hotfixes: None,
            skip_if_unavailable: None,
            proxy: None,
        }
    }
}

/// dnf's rule for repository ids.
pub(crate) fn check_repo_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("Repository id is empty".into());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    {
        return Err(format!(
            "Repository id `{id}` contains `{c}` (allowed: letters, digits, `-`, `_`, `.`, `:`)"
        ));
    }
    Ok(())
}

/// Build the resolved profile. `path` is the profile as the user named it, `dir` its absolute
/// folder.
pub(crate) fn build(
    path: &Path,
    dir: &Path,
    text: &str,
    raw: RawProfile,
) -> Result<Profile, ProfileError> {
    let st = SourceText { path, text };
    let cx = Cx { st: &st, dir };

    // [image]
    let img_span = raw.image.span();
    let ri = raw.image.into_inner();
    check_name(&ri.name, "image.name", &cx)?;
    let compression = Compression::new(
        ri.compression.unwrap_or(CompressionName::Gzip),
        ri.compression_level.as_ref().map(|l| *l.get_ref()),
    )
    .map_err(|m| match &ri.compression_level {
        Some(l) => cx.loc(l.span(), "image.compression_level").err(m),
        None => cx.loc(img_span.clone(), "image.compression").err(m),
    })?;
    let image = Image {
        name: ri.name.get_ref().clone(),
        arch: ri.arch,
        releasever: ri.releasever.0,
        compression,
        source_date_epoch: ri.source_date_epoch,
        rpmdb: ri.rpmdb.unwrap_or(true),
    };

    // [vars]: dnf variables. The built-in ones come from [image] and cannot be overridden,
    // or the repos and the resolver would disagree about the release.
    let mut vars = BTreeMap::new();
    for (k, v) in &raw.vars {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(cx
                .loc(v.span(), format!("vars.{k}"))
                .err_plain(format!(
                    "Variable name `{k}` must be letters, digits and `_`"
                ))
                .into());
        }
        if [
            "releasever",
            "basearch",
            "arch",
            "releasever_major",
            "releasever_minor",
        ]
        .contains(&k.as_str())
        {
            return Err(cx
                .loc(v.span(), format!("vars.{k}"))
                .err_plain(format!(
                    "`{k}` is set by `[image]` and cannot be redefined in `[vars]`"
                ))
                .with_hint("set `image.releasever` / `image.arch` instead")
                .into());
        }
        vars.insert(k.clone(), v.get_ref().clone());
    }
    let (major, minor) = match image.releasever.split_once('.') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (image.releasever.clone(), String::new()),
    };
    vars.insert("releasever".into(), image.releasever.clone());
    vars.insert("releasever_major".into(), major);
    vars.insert("releasever_minor".into(), minor);
    vars.insert("basearch".into(), image.arch.basearch().into());
    vars.insert("arch".into(), image.arch.as_str().into());

    // Repositories.
    let mut drafts = Vec::new();
    for r in raw.repos {
        drafts.push(inline_repo(&cx, r, drafts.len())?);
    }
    for f in &raw.repo_files {
        let abs = cx.existing_file(f, "repo_files")?;
        let content = fs_err::read_to_string(&abs)?;
        // Name the file as the user would find it: next to the profile as written.
        let shown = path.parent().unwrap_or(Path::new("")).join(f.get_ref());
        let mut ds = repofile::parse(&shown, &content)?;
        for d in &mut ds {
            d.base_dir = abs.parent().unwrap_or(dir).to_path_buf();
        }
        drafts.extend(ds);
    }
    let mut repos: Vec<RepoConfig> = Vec::new();
    let mut seen: BTreeMap<String, Loc> = BTreeMap::new();
    for d in drafts {
        if let Some(first) = seen.get(&d.id) {
            return Err(d
                .id_loc
                .err_plain(format!("Repository `{}` is defined twice", d.id))
                .with_hint(format!(
                    "the first definition is at {}:{}",
                    first.file.display(),
                    first.line
                ))
                .into());
        }
        seen.insert(d.id.clone(), d.id_loc.clone());
        if d.enabled == Some(false) {
            continue;
        }
        repos.push(finish_repo(d, &vars)?);
    }
    repos.sort_by(|a, b| a.id.cmp(&b.id));
    if repos.is_empty() {
        return Err(cx
            .loc(img_span.start..img_span.start + 7, "repo")
            .err_plain("The profile has no enabled repository")
            .with_hint("add a `[[repo]]` table with a `baseurl`, or name `.repo` files in the top-level `repo_files`")
            .into());
    }

    // [packages]
    let rp = raw.packages;
    for p in &rp.install {
        let s = p.get_ref();
        if s.is_empty() || s.chars().any(char::is_whitespace) || s == "@" {
            return Err(cx
                .loc(p.span(), "packages.install")
                .err(format!("`{s}` is not a package name, provide or `@group`"))
                .with_hint("one name per entry; version constraints are not supported here, the lock pins versions")
                .into());
        }
    }
    for m in &rp.modules {
        check_module(m.get_ref()).map_err(|e| cx.loc(m.span(), "packages.modules").err(e))?;
    }
    for g in &rp.exclude_paths {
        check_glob(g.get_ref()).map_err(|e| cx.loc(g.span(), "packages.exclude_paths").err(e))?;
    }
    let packages = Packages {
        install: rp.install.into_iter().map(Spanned::into_inner).collect(),
        exclude: rp.exclude,
        weak_deps: rp.weak_deps,
        nodocs: rp.nodocs,
        langs: rp.langs,
        modules: rp.modules.into_iter().map(Spanned::into_inner).collect(),
        install_only_limit: rp.install_only_limit,
        exclude_paths: rp
            .exclude_paths
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
    };
    let cmdline = match &raw.boot.cmdline {
        Some(c) if c.get_ref().contains('\n') => {
            return Err(cx
                .loc(c.span(), "boot.cmdline")
                .err("The kernel command line must be one line")
                .into());
        }
        Some(c) => c.get_ref().trim().to_string(),
        None => String::new(),
    };
    let boot = Boot {
        packages: raw.boot.packages,
        cmdline,
    };

    // [root]
    if let (Some(_), Some(f)) = (&raw.root.password_hash, &raw.root.password_file) {
        return Err(cx
            .loc(f.span(), "root.password_file")
            .err("Set `password_hash` or `password_file`, not both")
            .into());
    }
    if let Some(h) = &raw.root.password_hash {
        check_hash(h.get_ref()).map_err(|e| cx.loc(h.span(), "root.password_hash").err(e))?;
    }
    let root = Root {
        password_hash: raw.root.password_hash.map(Spanned::into_inner),
        password_file: raw
            .root
            .password_file
            .as_ref()
            .map(|f| cx.existing_file(f, "root.password_file"))
            .transpose()?,
    };

    // Groups and users.
    let mut groups = Vec::new();
    let mut gnames = BTreeSet::new();
    let mut gids = BTreeMap::new();
    for (i, g) in raw.groups.into_iter().enumerate() {
        let f = format!("group[{i}]");
        check_account(&g.name, &format!("{f}.name"), &cx)?;
        if !gnames.insert(g.name.get_ref().clone()) {
            return Err(cx
                .loc(g.name.span(), format!("{f}.name"))
                .err(format!("Group `{}` is defined twice", g.name.get_ref()))
                .into());
        }
        if let Some(gid) = &g.gid {
            if let Some(other) = gids.insert(*gid.get_ref(), g.name.get_ref().clone()) {
                return Err(cx
                    .loc(gid.span(), format!("{f}.gid"))
                    .err(format!(
                        "gid {} is already used by group `{other}`",
                        gid.get_ref()
                    ))
                    .into());
            }
        }
        groups.push(Group {
            name: g.name.into_inner(),
            gid: g.gid.map(Spanned::into_inner),
            members: g.members,
        });
    }
    let mut users = Vec::new();
    let mut unames = BTreeSet::new();
    let mut uids = BTreeMap::new();
    for (i, u) in raw.users.into_iter().enumerate() {
        let f = format!("user[{i}]");
        check_account(&u.name, &format!("{f}.name"), &cx)?;
        if !unames.insert(u.name.get_ref().clone()) {
            return Err(cx
                .loc(u.name.span(), format!("{f}.name"))
                .err(format!("User `{}` is defined twice", u.name.get_ref()))
                .into());
        }
        if let Some(uid) = &u.uid {
            if let Some(other) = uids.insert(*uid.get_ref(), u.name.get_ref().clone()) {
                return Err(cx
                    .loc(uid.span(), format!("{f}.uid"))
                    .err(format!(
                        "uid {} is already used by user `{other}`",
                        uid.get_ref()
                    ))
                    .into());
            }
        }
        for (v, name) in [(&u.home, "home"), (&u.shell, "shell")] {
            if let Some(v) = v {
                if !v.get_ref().starts_with('/') {
                    return Err(cx
                        .loc(v.span(), format!("{f}.{name}"))
                        .err(format!("`{}` is not an absolute path", v.get_ref()))
                        .into());
                }
            }
        }
        if let Some(h) = &u.password_hash {
            check_hash(h.get_ref())
                .map_err(|e| cx.loc(h.span(), format!("{f}.password_hash")).err(e))?;
        }
        users.push(User {
            name: u.name.into_inner(),
            uid: u.uid.map(Spanned::into_inner),
            gid: u.gid,
            groups: u.groups,
            home: u.home.map(Spanned::into_inner),
            shell: u.shell.map(Spanned::into_inner),
            gecos: u.gecos,
            password_hash: u.password_hash.map(Spanned::into_inner),
            system: u.system,
        });
    }

    // Files, dirs, symlinks: one owner per image path.
    let mut claimed: BTreeMap<String, (String, Loc)> = BTreeMap::new();
    let mut claim = |p: &str, what: String, loc: Loc| -> Result<(), Diagnostic> {
        if let Some((prev, _)) = claimed.get(p) {
            return Err(loc.err(format!("`{p}` is already set by `{prev}`")));
        }
        claimed.insert(p.to_string(), (what, loc));
        Ok(())
    };
    let mut files = Vec::new();
    for (i, f) in raw.files.into_iter().enumerate() {
        let field = format!("file[{i}]");
        let p = image_path(&f.path, &format!("{field}.path"), &cx)?;
        claim(
            &p,
            field.clone(),
            cx.loc(f.path.span(), format!("{field}.path")),
        )?;
        let data = match (f.content, &f.source) {
            (Some(c), None) => FileData::Content(c),
            (None, Some(s)) => FileData::Source(cx.existing_file(s, &format!("{field}.source"))?),
            (Some(_), Some(s)) => {
                return Err(cx
                    .loc(s.span(), format!("{field}.source"))
                    .err("Set `content` or `source`, not both")
                    .into());
            }
            (None, None) => {
                return Err(cx
                    .loc(f.path.span(), field.clone())
                    .err(format!("`{p}` has neither `content` nor `source`"))
                    .with_hint(
                        "add `content = \"…\"` or `source = \"files/…\"` (relative to the profile)",
                    )
                    .into());
            }
        };
        files.push(FileSpec {
            path: p,
            data,
            mode: f.mode.map_or(0o644, |m| m.0),
            owner: f.owner.unwrap_or_else(|| "root".into()),
            group: f.group.unwrap_or_else(|| "root".into()),
            append: f.append,
        });
    }
    let mut dirs = Vec::new();
    for (i, d) in raw.dirs.into_iter().enumerate() {
        let field = format!("dir[{i}]");
        let p = image_path(&d.path, &format!("{field}.path"), &cx)?;
        claim(
            &p,
            field.clone(),
            cx.loc(d.path.span(), format!("{field}.path")),
        )?;
        dirs.push(DirSpec {
            path: p,
            mode: d.mode.map_or(0o755, |m| m.0),
            owner: d.owner.unwrap_or_else(|| "root".into()),
            group: d.group.unwrap_or_else(|| "root".into()),
        });
    }
    let mut symlinks = Vec::new();
    for (i, s) in raw.symlinks.into_iter().enumerate() {
        let field = format!("symlink[{i}]");
        let p = image_path(&s.path, &format!("{field}.path"), &cx)?;
        claim(
            &p,
            field.clone(),
            cx.loc(s.path.span(), format!("{field}.path")),
        )?;
        let t = s.target.get_ref();
        if t.is_empty() || t.contains('\0') {
            return Err(cx
                .loc(s.target.span(), format!("{field}.target"))
                .err("The symlink target is empty")
                .into());
        }
        symlinks.push(Symlink {
            path: p,
            target: s.target.into_inner(),
        });
    }
    // The kernel runs /init from an initramfs; systemd lives at /sbin/init.
    if ri.init_symlink.unwrap_or(true) && !claimed.contains_key("/init") {
        symlinks.push(Symlink {
            path: "/init".into(),
            target: "sbin/init".into(),
        });
    }

    // [services]
    let mut unit_seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut units =
        |list: Vec<Spanned<String>>, key: &'static str| -> Result<Vec<String>, Diagnostic> {
            let mut out = Vec::new();
            for u in list {
                let loc = cx.loc(u.span(), format!("services.{key}"));
                let name = unit_name(u.get_ref(), "service").map_err(|e| loc.err(e))?;
                if let Some(prev) = unit_seen.insert(name.clone(), key) {
                    return Err(loc.err(format!(
                        "`{name}` is listed in both `services.{prev}` and `services.{key}`"
                    )));
                }
                out.push(name);
            }
            Ok(out)
        };
    let rs = raw.services;
    let services = Services {
        enable: units(rs.enable, "enable")?,
        disable: units(rs.disable, "disable")?,
        mask: units(rs.mask, "mask")?,
        default_target: rs
            .default_target
            .map(|t| {
                let n = unit_name(t.get_ref(), "target")
                    .map_err(|e| cx.loc(t.span(), "services.default_target").err(e))?;
                if !n.ends_with(".target") {
                    return Err(cx
                        .loc(t.span(), "services.default_target")
                        .err(format!("`{n}` is not a target unit")));
                }
                Ok(n)
            })
            .transpose()?,
    };

    // [system]
    let sys = raw.system;
    if let Some(h) = &sys.hostname {
        check_hostname(h.get_ref()).map_err(|e| cx.loc(h.span(), "system.hostname").err(e))?;
    }
    for l in &sys.fstab {
        check_fstab(l.get_ref()).map_err(|e| cx.loc(l.span(), "system.fstab").err(e))?;
    }
    for g in &sys.remove {
        check_glob(g.get_ref()).map_err(|e| cx.loc(g.span(), "system.remove").err(e))?;
    }

    // [network]
    let style = raw
        .network
        .style
        .concrete()
        .unwrap_or(match image.release_major() {
            Some(m) if m < 9 => NetworkStyle::Ifcfg,
            _ => NetworkStyle::Keyfile,
        });
    let mut interfaces = Vec::new();
    let mut if_names = BTreeSet::new();
    for (i, itf) in raw.network.interfaces.into_iter().enumerate() {
        let f = format!("network.interface[{i}]");
        let n = itf.name.get_ref();
        let ok = !n.is_empty()
            && n.len() <= 15
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(cx
                .loc(itf.name.span(), format!("{f}.name"))
                .err(format!(
                    "`{n}` is not an interface name (1-15 letters, digits, `-_.`)"
                ))
                .into());
        }
        if !if_names.insert(n.clone()) {
            return Err(cx
                .loc(itf.name.span(), format!("{f}.name"))
                .err(format!("Interface `{n}` is configured twice"))
                .into());
        }
        let method = match (&itf.address, itf.dhcp) {
            (Some(a), Some(true)) => {
                return Err(cx
                    .loc(a.span(), format!("{f}.address"))
                    .err("Set `dhcp = true` or `address`, not both")
                    .into());
            }
            (Some(a), _) => {
                let loc = cx.loc(a.span(), format!("{f}.address"));
                let (ip, p) = a.get_ref().split_once('/').ok_or_else(|| {
                    loc.err(format!(
                        "`{}` needs a prefix length, like `192.168.0.101/24`",
                        a.get_ref()
                    ))
                })?;
                let address: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| loc.err(format!("`{ip}` is not an IPv4 address")))?;
                let prefix: u8 = p
                    .parse()
                    .ok()
                    .filter(|p| *p <= 32)
                    .ok_or_else(|| loc.err(format!("`{p}` is not a prefix length (0-32)")))?;
                IpMethod::Static {
                    address,
                    prefix,
                    gateway: itf.gateway,
                    dns: itf.dns,
                }
            }
            (None, Some(false)) => {
                return Err(cx
                    .loc(itf.name.span(), f.clone())
                    .err(format!(
                        "Interface `{n}` has `dhcp = false` but no `address`"
                    ))
                    .into());
            }
            (None, _) => IpMethod::Dhcp,
        };
        interfaces.push(Interface {
            name: itf.name.into_inner(),
            method,
            mtu: itf.mtu,
            onboot: itf.onboot.unwrap_or(true),
        });
    }
    let network = Network { style, interfaces };
    for itf in &network.interfaces {
        let p = network.file_path(itf);
        if let Some((what, loc)) = claimed.get(&p) {
            return Err(loc
                .err(format!(
                    "`{what}` writes `{p}`, which `[network]` generates for interface `{}`",
                    itf.name
                ))
                .with_hint(
                    "configure the interface either in `[network]` or with a `[[file]]`, not both",
                )
                .into());
        }
    }

    // [pxe]
    let rx = raw.pxe;
    let mut entry_names = BTreeSet::from([image.name.clone()]);
    let local_boot = rx.local_boot.unwrap_or(true);
    if local_boot {
        entry_names.insert("local".to_string());
    }
    let mut entries = Vec::new();
    for (i, e) in rx.entries.into_iter().enumerate() {
        let f = format!("pxe.entry[{i}].name");
        check_name(&e.name, &f, &cx)?;
        if !entry_names.insert(e.name.get_ref().clone()) {
            return Err(cx
                .loc(e.name.span(), f)
                .err(format!("Menu entry `{}` already exists", e.name.get_ref()))
                .into());
        }
        entries.push(PxeEntry {
            label: e.label.unwrap_or_else(|| e.name.get_ref().clone()),
            name: e.name.into_inner(),
            cmdline: e.cmdline.trim().to_string(),
        });
    }
    let default = match rx.default {
        Some(d) => {
            if !entry_names.contains(d.get_ref()) {
                let known: Vec<_> = entry_names.iter().map(|n| format!("`{n}`")).collect();
                return Err(cx
                    .loc(d.span(), "pxe.default")
                    .err(format!("`{}` is not a menu entry", d.get_ref()))
                    .with_hint(format!("entries: {}", known.join(", ")))
                    .into());
            }
            d.into_inner()
        }
        None => image.name.clone(),
    };
    let layout_dir =
        |v: Option<Spanned<String>>, dflt: &str, key: &str| -> Result<String, Diagnostic> {
            match v {
                None => Ok(dflt.to_string()),
                Some(s) => relative_dir(s.get_ref())
                    .map_err(|e| cx.loc(s.span(), format!("pxe.layout.{key}")).err(e)),
            }
        };
    let pxe = Pxe {
        root: match rx.root {
            Some(r) => image_path(&r, "pxe.root", &cx)?,
            None => "/var/lib/tftpboot".into(),
        },
        menu_title: rx.menu_title.unwrap_or_else(|| "PXE Menu".into()),
        timeout: rx.timeout.unwrap_or(150),
        default,
        local_boot,
        label: rx.label.unwrap_or_else(|| image.name.clone()),
        entries,
        per_host: rx.per_host,
        bios: rx.bios.unwrap_or(true),
        uefi: rx.uefi.unwrap_or(false),
        layout: PxeLayout {
            pxelinux_dir: layout_dir(rx.layout.pxelinux_dir, "pxelinux", "pxelinux_dir")?,
            images_dir: layout_dir(rx.layout.images_dir, "pxelinux/images", "images_dir")?,
            efi_dir: layout_dir(rx.layout.efi_dir, "efi", "efi_dir")?,
        },
    };

    // [dhcp]
    let dhcp = match raw.dhcp {
        None => None,
        Some(d) => {
            let subnet = d.subnet;
            let inside = |ip: &Spanned<Ipv4Addr>, key: &str| -> Result<Ipv4Addr, Diagnostic> {
                let a = *ip.get_ref();
                if !subnet.contains(a) {
                    return Err(cx
                        .loc(ip.span(), key.to_string())
                        .err(format!("`{a}` is outside the DHCP subnet `{subnet}`")));
                }
                Ok(a)
            };
            if let Some(dn) = &d.domain_name {
                check_hostname(dn.get_ref()).map_err(|e| {
                    cx.loc(dn.span(), "dhcp.domain_name")
                        .err(e.replace("host name", "domain name"))
                })?;
            }
            let router = d
                .router
                .as_ref()
                .map(|r| inside(r, "dhcp.router"))
                .transpose()?;
            let range = match &d.range {
                None => None,
                Some(r) => {
                    let [a, b] = *r.get_ref();
                    let loc = cx.loc(r.span(), "dhcp.range");
                    for x in [a, b] {
                        if !subnet.contains(x) {
                            return Err(loc
                                .err(format!("`{x}` is outside the DHCP subnet `{subnet}`"))
                                .into());
                        }
                    }
                    if u32::from(a) > u32::from(b) {
                        return Err(loc
                            .err(format!("The range starts after it ends (`{a}` > `{b}`)"))
                            .into());
                    }
                    Some((a, b))
                }
            };
            Some(Dhcp {
                subnet,
                next_server: *d.next_server.get_ref(),
                domain_name: d.domain_name.map(Spanned::into_inner),
                dns: d.dns,
                router,
                range,
                lease_time: d.lease_time,
                interface: d.interface,
            })
        }
    };

    // [[host]]
    let mut hosts = Vec::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_mac = BTreeMap::new();
    let mut by_ip = BTreeMap::new();
    for (i, h) in raw.hosts.into_iter().enumerate() {
        let f = format!("host[{i}]");
        let n = h.name.get_ref();
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(cx
                .loc(h.name.span(), format!("{f}.name"))
                .err(format!(
                    "`{n}` is not a host name (letters, digits, `-`, `_`, `.`)"
                ))
                .into());
        }
        if let Some(j) = by_name.insert(n.to_ascii_lowercase(), i) {
            return Err(cx
                .loc(h.name.span(), format!("{f}.name"))
                .err(format!("Host `{n}` is defined twice (also `host[{j}]`)"))
                .into());
        }
        let mac = *h.mac.get_ref();
        if let Some(j) = by_mac.insert(mac, i) {
            return Err(cx
                .loc(h.mac.span(), format!("{f}.mac"))
                .err(format!(
                    "MAC `{mac}` of host `{n}` is already used by `host[{j}]`"
                ))
                .into());
        }
        let ip = *h.ip.get_ref();
        if let Some(j) = by_ip.insert(ip, i) {
            return Err(cx
                .loc(h.ip.span(), format!("{f}.ip"))
                .err(format!(
                    "IP `{ip}` of host `{n}` is already used by `host[{j}]`"
                ))
                .into());
        }
        if let Some(d) = &dhcp {
            let loc = cx.loc(h.ip.span(), format!("{f}.ip"));
            if !d.subnet.contains(ip) {
                return Err(loc
                    .err(format!(
                        "IP `{ip}` of host `{n}` is outside the DHCP subnet `{}`",
                        d.subnet
                    ))
                    .with_hint(format!(
                        "use an address in {}-{}",
                        d.subnet.network(),
                        d.subnet.broadcast()
                    ))
                    .into());
            }
            if ip == d.subnet.network() || ip == d.subnet.broadcast() {
                return Err(loc
                    .err(format!(
                        "IP `{ip}` of host `{n}` is the subnet's network or broadcast address"
                    ))
                    .into());
            }
        }
        let hostname = match h.hostname {
            Some(hn) => {
                check_hostname(hn.get_ref())
                    .map_err(|e| cx.loc(hn.span(), format!("{f}.hostname")).err(e))?;
                hn.into_inner()
            }
            None => n.clone(),
        };
        hosts.push(Host {
            name: h.name.into_inner(),
            hostname,
            mac,
            ip,
            cmdline: h.cmdline,
        });
    }

    // [dnf]: dnf.conf [main] options.
    let mut dnf = BTreeMap::new();
    for (k, v) in raw.dnf {
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(cx
                .loc(v.span(), format!("dnf.{k}"))
                .err(format!("`{k}` is not a dnf.conf option name"))
                .into());
        }
        dnf.insert(k, v.into_inner().0);
    }

    // [oci]
    if let Some(n) = &raw.oci.name {
        check_oci_name(n.get_ref()).map_err(|e| cx.loc(n.span(), "oci.name").err(e))?;
    }
    for k in raw.oci.annotations.keys() {
        if k.is_empty() {
            return Err(cx
                .field_err("oci.annotations", "An annotation key is empty")
                .into());
        }
    }
    let oci = Oci {
        name: raw.oci.name.map(Spanned::into_inner),
        annotations: raw.oci.annotations,
    };

    Ok(Profile {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        image,
        vars,
        repos,
        packages,
        boot,
        root,
        users,
        groups,
        files,
        dirs,
        symlinks,
        remove: sys.remove.into_iter().map(Spanned::into_inner).collect(),
        services,
        hostname: sys.hostname.map(Spanned::into_inner),
        fstab: sys.fstab.into_iter().map(Spanned::into_inner).collect(),
        empty_machine_id: sys.empty_machine_id.unwrap_or(true),
        dnf,
        network,
        pxe,
        dhcp,
        hosts,
        oci,
    })
}

struct Cx<'a> {
    st: &'a SourceText<'a>,
    dir: &'a Path,
}

impl Cx<'_> {
    fn loc(&self, span: std::ops::Range<usize>, field: impl Into<String>) -> Loc {
        Loc::span(self.st, span, field)
    }

    /// An error about a field we have no span for (map keys): point at the key's first use.
    fn field_err(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        let key = field.rsplit('.').next().unwrap_or(field);
        let at = self.st.text.find(key).unwrap_or(0);
        self.st.diag(at..at + key.len(), field, message)
    }

    /// A path relative to the profile's folder that must name an existing file.
    fn existing_file(&self, s: &Spanned<String>, field: &str) -> Result<PathBuf, Diagnostic> {
        let p = self.dir.join(s.get_ref());
        if !p.is_file() {
            let what = if p.exists() {
                "is not a file"
            } else {
                "does not exist"
            };
            let mut d = self
                .loc(s.span(), field)
                .err(format!("`{}` {what}", s.get_ref()));
            if !Path::new(s.get_ref()).is_absolute() {
                d.hint = Some(format!(
                    "relative paths resolve against the profile's folder `{}`",
                    self.dir.display()
                ));
            }
            return Err(d);
        }
        Ok(p)
    }
}

fn inline_repo(cx: &Cx, r: Spanned<RawRepo>, index: usize) -> Result<RepoDraft, Diagnostic> {
    let (line, _) = cx.st.line_col(r.span().start);
    let r = r.into_inner();
    let f = |k: &str| format!("repo[{index}].{k}");
    if let Err(m) = check_repo_id(r.id.get_ref()) {
        return Err(cx.loc(r.id.span(), f("id")).err(m));
    }
    let id_loc = cx.loc(r.id.span(), f("id"));
    let mut d = RepoDraft::new(
        r.id.into_inner(),
        id_loc,
        RepoSource::Profile { line },
        cx.dir.to_path_buf(),
    );
    let one = |v: Option<Spanned<String>>, k: &str| {
        v.map(|v| (v.get_ref().clone(), cx.loc(v.span(), f(k))))
    };
    let many = |v: Option<Spanned<OneOrMany>>, k: &str| -> Vec<(String, Loc)> {
        v.map(|v| {
            let loc = cx.loc(v.span(), f(k));
            v.into_inner()
                .0
                .into_iter()
                .map(|s| (s, loc.clone()))
                .collect()
        })
        .unwrap_or_default()
    };
    let num = |v: Option<Spanned<i64>>, k: &str| v.map(|v| (*v.get_ref(), cx.loc(v.span(), f(k))));
    d.name = r.name;
    d.baseurl = many(r.baseurl, "baseurl");
    d.mirrorlist = one(r.mirrorlist, "mirrorlist");
    d.metalink = one(r.metalink, "metalink");
    d.gpgkey = many(r.gpgkey, "gpgkey");
    d.gpgcheck = r.gpgcheck;
    d.repo_gpgcheck = r.repo_gpgcheck;
    d.enabled = r.enabled;
    d.priority = num(r.priority, "priority");
    d.cost = num(r.cost, "cost");
    d.sslclientcert = one(r.sslclientcert, "sslclientcert");
    d.sslclientkey = one(r.sslclientkey, "sslclientkey");
    d.sslcacert = one(r.sslcacert, "sslcacert");
    d.sslverify = r.sslverify;
    // As in .repo files, one string may hold several globs separated by commas or spaces.
    let globs = |v: Option<OneOrMany>| -> Vec<String> {
        v.map(|v| v.0.iter().flat_map(|s| repofile::split_list(s)).collect())
            .unwrap_or_default()
    };
    d.excludepkgs = globs(r.excludepkgs);
    d.includepkgs = globs(r.includepkgs);
    d.module_hotfixes = r.module_hotfixes;
    d.skip_if_unavailable = r.skip_if_unavailable;
    d.proxy = one(r.proxy, "proxy");
    Ok(d)
}

/// Substitute dnf variables (`$name`, `${name}`) in `s`. An unknown variable is an error:
/// dnf would leave it in the URL and fail later with a 404.
pub(crate) fn substitute(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(j) => (&b[..j], j + 2),
                None => return Err(format!("`${{` without a closing `}}` in `{s}`")),
            }
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..n], n)
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        // dnf matches the longest defined name, so `$releasever_major` is not `$releasever` + `_major`.
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => return Err(format!("Unknown variable `${name}` in `{s}`")),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Make a repository URL absolute: http(s)/file URLs stay, paths become `file://` URLs.
fn repo_url(raw: &str, base_dir: &Path, what: &str) -> Result<String, String> {
    match url::Url::parse(raw) {
        Ok(u) => match u.scheme() {
            "http" | "https" | "file" => Ok(raw.to_string()),
            s => Err(format!(
                "Unsupported URL scheme `{s}` in {what} `{raw}` (expected http, https or file)"
            )),
        },
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            if raw.starts_with('/') || raw.starts_with("./") || raw.starts_with("../") {
                let p = base_dir.join(raw);
                let u = url::Url::from_file_path(normalize(&p))
                    .map_err(|_| format!("Cannot turn `{raw}` into a file URL"))?;
                Ok(u.to_string())
            } else {
                Err(format!(
                    "`{raw}` is not a URL or a path in {what} (write `https://…` for a remote repository, or `./…` for a folder next to the profile)"
                ))
            }
        }
        Err(e) => Err(format!("Invalid URL `{raw}` in {what}: {e}")),
    }
}

/// Lexically normalise an absolute path (drop `.`, apply `..`).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn finish_repo(d: RepoDraft, vars: &BTreeMap<String, String>) -> Result<RepoConfig, Diagnostic> {
    let sub = |v: &str, loc: &Loc| {
        substitute(v, vars).map_err(|e| {
            loc.err(e)
                .with_hint("define it under `[vars]` (like /etc/dnf/vars)")
        })
    };
    let url = |v: &str, loc: &Loc, what: &str| -> Result<String, Diagnostic> {
        let s = sub(v, loc)?;
        repo_url(&s, &d.base_dir, what).map_err(|e| loc.err(e))
    };
    let mut baseurl = Vec::new();
    for (u, loc) in &d.baseurl {
        // A baseurl names a folder: end it with `/` so joining `repodata/repomd.xml` works.
        let mut u = url(u, loc, "baseurl")?;
        if !u.ends_with('/') {
            u.push('/');
        }
        baseurl.push(u);
    }
    let remote = |v: &Option<(String, Loc)>, what: &str| -> Result<Option<String>, Diagnostic> {
        match v {
            None => Ok(None),
            Some((u, loc)) => {
                let s = sub(u, loc)?;
                match url::Url::parse(&s) {
                    Ok(p) if ["http", "https", "file"].contains(&p.scheme()) => Ok(Some(s)),
                    Ok(p) => Err(loc.err(format!("Unsupported URL scheme `{}` in {what} `{s}` (expected http, https or file)", p.scheme()))),
                    Err(e) => Err(loc.err(format!("Invalid URL `{s}` in {what}: {e}"))),
                }
            }
        }
    };
    let mirrorlist = remote(&d.mirrorlist, "mirrorlist")?;
    let metalink = remote(&d.metalink, "metalink")?;
    if baseurl.is_empty() && mirrorlist.is_none() && metalink.is_none() {
        return Err(d
            .id_loc
            .err(format!(
                "Repository `{}` has no `baseurl`, `mirrorlist` or `metalink`",
                d.id
            ))
            .with_hint(
                "add `baseurl = \"https://…/os/\"`, or `enabled = false` to keep it switched off",
            ));
    }
    let mut gpgkey = Vec::new();
    for (k, loc) in &d.gpgkey {
        let s = url(k, loc, "gpgkey")?;
        // A key next to the profile must be there now; keys at host paths are read at fetch time.
        if let Some(p) = s.strip_prefix("file://") {
            if !k.starts_with("file:") && !Path::new(p).is_file() {
                return Err(loc
                    .err(format!("GPG key `{k}` does not exist"))
                    .with_hint(format!("looked for `{p}`")));
            }
        }
        gpgkey.push(s);
    }
    let gpgcheck = d.gpgcheck.unwrap_or(true);
    if gpgcheck && gpgkey.is_empty() {
        return Err(d
            .id_loc
            .err(format!("Repository `{}` checks signatures (`gpgcheck` is on) but names no `gpgkey`", d.id))
            .with_hint("add `gpgkey = \"https://…/RPM-GPG-KEY-…\"`, or set `gpgcheck = false` for an unsigned test repository"));
    }
    let count = |v: &Option<(i64, Loc)>,
                 dflt: u32,
                 what: &str,
                 lo: i64,
                 hi: i64|
     -> Result<u32, Diagnostic> {
        match v {
            None => Ok(dflt),
            Some((n, loc)) if (lo..=hi).contains(n) => Ok(*n as u32),
            Some((n, loc)) => Err(loc.err(format!("`{what}` {n} is out of range ({lo} to {hi})"))),
        }
    };
    let priority = count(&d.priority, 99, "priority", 1, 99)?;
    let cost = count(&d.cost, 1000, "cost", 0, i64::from(u32::MAX))?;
    let path = |v: &Option<(String, Loc)>| -> Result<Option<PathBuf>, Diagnostic> {
        match v {
            None => Ok(None),
            Some((p, loc)) => {
                let s = sub(p, loc)?;
                let s = s.strip_prefix("file://").unwrap_or(&s);
                Ok(Some(normalize(&d.base_dir.join(s))))
            }
        }
    };
    let name = match &d.name {
        Some(n) => substitute(n, vars).unwrap_or_else(|_| n.clone()),
        None => d.id.clone(),
    };
    Ok(RepoConfig {
        name,
        baseurl,
        mirrorlist,
        metalink,
        gpgkey,
        gpgcheck,
        repo_gpgcheck: d.repo_gpgcheck.unwrap_or(false),
        priority,
        cost,
        sslclientcert: path(&d.sslclientcert)?,
        sslclientkey: path(&d.sslclientkey)?,
        sslcacert: path(&d.sslcacert)?,
        sslverify: d.sslverify.unwrap_or(true),
        excludepkgs: d.excludepkgs,
        includepkgs: d.includepkgs,
        module_hotfixes: d.module_hotfixes.unwrap_or(false),
        skip_if_unavailable: d.skip_if_unavailable.unwrap_or(false),
        proxy: match &d.proxy {
            None => None,
            Some((p, _)) if p == "_none_" => Some(p.clone()),
            Some((p, loc)) => {
                let s = sub(p, loc)?;
                match url::Url::parse(&s) {
                    Ok(u) if ["http", "https", "socks5", "socks5h"].contains(&u.scheme()) => {
                        Some(s)
                    }
                    _ => {
                        return Err(loc.err(format!(
                            "`{s}` is not a proxy URL (expected `http://host:port`, or `_none_`)"
                        )));
                    }
                }
            }
        },
        source: d.source,
        id: d.id,
    })
}

fn check_name(n: &Spanned<String>, field: &str, cx: &Cx) -> Result<(), Diagnostic> {
    let s = n.get_ref();
    let ok = !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(cx.loc(n.span(), field).err(format!(
            "`{s}` is not a valid name (letters, digits, `-`, `_`, `.`; not starting with `.`)"
        )));
    }
    Ok(())
}

fn check_account(n: &Spanned<String>, field: &str, cx: &Cx) -> Result<(), Diagnostic> {
    let s = n.get_ref();
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let ok = first_ok
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
    if !ok {
        return Err(cx.loc(n.span(), field).err(format!("`{s}` is not a valid user or group name (lower-case letters, digits, `_`, `-`, at most 32, starting with a letter or `_`)")));
    }
    Ok(())
}

/// A crypt(3) hash (`$id$[rounds=N$]salt$hash`) or a locked marker; never a plain password.
fn check_hash(h: &str) -> Result<(), String> {
    if ["!", "!!", "*", "!*"].contains(&h) {
        return Ok(());
    }
    let body = h.strip_prefix('!').unwrap_or(h);
    let parts: Vec<&str> = body.split('$').collect();
    let crypt_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./=,-".contains(c))
    };
    if parts.len() >= 4
        && parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|p| crypt_chars(p))
        && !parts[parts.len() - 1].is_empty()
    {
        return Ok(());
    }
    Err("This does not look like a crypt(3) hash (`$6$salt$hash`, `$y$…`); never put a plain password in a profile".into())
}

/// `name:stream` or `name:stream/profile`.
fn check_module(m: &str) -> Result<(), String> {
    let ok_part = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
    };
    let (ns, profile) = match m.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (m, None),
    };
    match ns.split_once(':') {
        Some((n, s)) if ok_part(n) && ok_part(s) && profile.is_none_or(ok_part) => Ok(()),
        _ => Err(format!(
            "`{m}` is not a module stream (expected `name:stream`, e.g. `nodejs:18`)"
        )),
    }
}

/// Globs over image paths must be absolute and stay inside the image.
fn check_glob(g: &str) -> Result<(), String> {
    if !g.starts_with('/') {
        return Err(format!(
            "`{g}` must be an absolute path glob in the image (start with `/`)"
        ));
    }
    if g.split('/').any(|c| c == "..") {
        return Err(format!("`{g}` must not contain `..`"));
    }
    Ok(())
}

/// An absolute path in the image, normalised: `//` and `.` dropped, `..` refused.
fn image_path(s: &Spanned<String>, field: &str, cx: &Cx) -> Result<String, Diagnostic> {
    let p = s.get_ref();
    let loc = || cx.loc(s.span(), field);
    if !p.starts_with('/') {
        return Err(loc()
            .err(format!("`{p}` is not an absolute path in the image"))
            .with_hint(format!("write `/{}`", p.trim_start_matches("./"))));
    }
    if p.contains('\0') {
        return Err(loc().err("The path contains a NUL byte"));
    }
    let mut out = String::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(loc().err(format!("`{p}` must not contain `..`"))),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        return Err(loc().err("The image root `/` itself cannot be set here"));
    }
    Ok(out)
}

/// A folder relative to the tftp root.
fn relative_dir(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if s.starts_with('/') || parts.contains(&"..") {
        return Err(format!(
            "`{s}` must be a folder relative to the tftp root, without `..`"
        ));
    }
    Ok(parts.join("/"))
}

const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "target",
    "timer",
    "path",
    "mount",
    "automount",
    "swap",
    "slice",
    "scope",
    "device",
];

/// A systemd unit name; without a known suffix, `.<dflt>` is added (as systemctl does).
fn unit_name(u: &str, dflt: &str) -> Result<String, String> {
    let ok = !u.is_empty()
        && u.len() <= 255
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c));
    if !ok {
        return Err(format!("`{u}` is not a systemd unit name"));
    }
    match u.rsplit_once('.') {
        Some((_, t)) if UNIT_TYPES.contains(&t) => Ok(u.to_string()),
        _ => Ok(format!("{u}.{dflt}")),
    }
}

fn check_hostname(h: &str) -> Result<(), String> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(format!(
            "`{h}` is not a valid host name (dot-separated labels of letters, digits and `-`)"
        ));
    }
    Ok(())
}

fn check_fstab(l: &str) -> Result<(), String> {
    let t = l.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(());
    }
    if l.contains('\n') {
        return Err("Give one fstab line per entry".into());
    }
    let fields: Vec<&str> = t.split_whitespace().collect();
    if !(4..=6).contains(&fields.len()) {
        return Err(format!(
            "An fstab line has 4 to 6 fields (device, mount point, type, options[, dump[, pass]]); this one has {}",
            fields.len()
        ));
    }
    if !(fields[1].starts_with('/') || fields[1] == "none" || fields[1] == "swap") {
        return Err(format!(
            "Mount point `{}` is not an absolute path",
            fields[1]
        ));
    }
    Ok(())
}

fn check_oci_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && !n.contains("//")
        && !n.starts_with('/')
        && !n.ends_with('/')
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
    if !ok {
        return Err(format!(
            "`{n}` is not an OCI repository name (lower-case, e.g. `ghcr.io/example/diskless-tftp`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution() {
        let vars: BTreeMap<String, String> = [
            ("releasever", "9"),
            ("releasever_major", "9"),
            ("basearch", "x86_64"),
            ("contentdir", "pub/rocky"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(
            substitute(
                "https://x/$contentdir/$releasever/BaseOS/$basearch/os/",
                &vars
            )
            .unwrap(),
            "https://x/pub/rocky/9/BaseOS/x86_64/os/"
        );
        assert_eq!(
            substitute("a${releasever}b$releasever_major", &vars).unwrap(),
            "a9b9"
        );
        assert_eq!(substitute("cost$", &vars).unwrap(), "cost$");
        assert!(
            substitute("x/$stream/", &vars)
                .unwrap_err()
                .contains("$stream")
        );
    }

    #[test]
    fn units_and_names() {
        assert_eq!(unit_name("sshd", "service").unwrap(), "sshd.service");
        assert_eq!(unit_name("tmp.mount", "service").unwrap(), "tmp.mount");
        assert_eq!(
            unit_name("getty@tty1", "service").unwrap(),
            "getty@tty1.service"
        );
        assert!(unit_name("bad unit", "service").is_err());
        assert!(check_hostname("diskless-1.domain.local").is_ok());
        assert!(check_hostname("-bad").is_err());
        assert!(check_module("nodejs:18").is_ok());
        assert!(check_module("nodejs:18/common").is_ok());
        assert!(check_module("nodejs").is_err());
        assert!(check_hash("$6$REPLACE$WITH.A.REAL.HASH").is_ok());
        assert!(check_hash("$6$rounds=5000$salt$hash").is_ok());
        assert!(check_hash("hunter2").is_err());
        assert!(check_fstab("nfs:/export/ssl /var/lib/puppet/ssl nfs ro,nolock 0 0").is_ok());
        assert!(check_fstab("# commented").is_ok());
        assert!(check_fstab("nfs:/x /y").is_err());
    }

    #[test]
    fn repo_urls() {
        let d = Path::new("/p");
        assert_eq!(
            repo_url("https://x/y/", d, "baseurl").unwrap(),
            "https://x/y/"
        );
        assert_eq!(repo_url("./repo/", d, "baseurl").unwrap(), "file:///p/repo");
        assert!(repo_url("htps//x", d, "baseurl").is_err());
        assert!(
            repo_url("ftp://x/", d, "baseurl")
                .unwrap_err()
                .contains("ftp")
        );
    }
}
