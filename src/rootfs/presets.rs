//! `systemctl preset-all` (and `systemctl --global preset-all`) done declaratively: the
//! symlinks under /etc/systemd/system (/etc/systemd/user) that the image's preset files ask
//! for, made from the unit files' `[Install]` sections instead of by running the packages'
//! `%systemd_post` scriptlets or systemctl.
//!
//! [`assemble`](super::assemble) calls [`apply`] after the profile's files are in and before
//! the profile's `[services]`, which go on top. It follows systemd 252's
//! `unit_file_preset_all` (src/shared/install.c, EL9's version), in full mode:
//! - the rules: `*.preset` files from /etc/systemd/system-preset, /run/systemd/system-preset,
//!   /usr/local/lib/systemd/system-preset and /usr/lib/systemd/system-preset (a file name in
//!   an earlier directory hides the same name in a later one; an empty file or a link to
//!   /dev/null hides it too), read in file name order; lines `enable PATTERN [INSTANCE...]`
//!   and `disable PATTERN` (and `ignore PATTERN` from systemd 254), the first rule whose glob
//!   matches a unit decides, and a unit no rule matches is enabled.
//! - the units: every unit file or symlink in the unit search path (/etc/systemd/system,
//!   /run/systemd/system, /usr/local/lib/systemd/system, /usr/lib/systemd/system, ...), names
//!   that are aliases of another unit skipped. Units to disable lose every symlink under
//!   /etc/systemd/system that names them or leads to them (and directories left empty);
//!   then units to enable get the symlinks of their `[Install]` section (main file, then
//!   drop-ins): `Alias=`, `WantedBy=` (`.wants/`), `RequiredBy=` (`.requires/`), `UpheldBy=`
//!   (`.upholds/`, systemd 254 and later), with `DefaultInstance=` for templates and
//!   `Also=` units enabled with them. Link targets are absolute paths of the unit files, as
//!   systemctl writes them; a `.wants` link that already leads to the same unit file is
//!   kept as it is, and an existing alias pointing elsewhere is left alone (systemctl
//!   reports it and goes on).
//!
//! Masked units stay masked; specifiers in `[Install]` values are expanded for the unit
//! name forms (`%n %N %p %i %j %%`); the host-dependent ones (`%H`, `%m`, ...) are not
//! expanded and the value is skipped with a note. Directory entries are read in bytewise
//! order where systemctl reads them in directory order (which only matters when two units
//! claim one alias).

use super::extract::{Image, Owner};
use super::paths;
use super::tree::{Entry, EntryKind, Tree};
use std::collections::{BTreeMap, BTreeSet};

/// One preset scope: where its rules, unit files and links live.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub name: &'static str,
    pub preset_dirs: &'static [&'static str],
    pub search_path: &'static [&'static str],
    pub config: &'static str,
}

/// `systemctl preset-all`.
pub const SYSTEM: Scope = Scope {
    name: "system",
    preset_dirs: &[
        "/etc/systemd/system-preset",
        "/run/systemd/system-preset",
        "/usr/local/lib/systemd/system-preset",
        "/usr/lib/systemd/system-preset",
    ],
    search_path: &[
        "/etc/systemd/system.control",
        "/run/systemd/system.control",
        "/run/systemd/transient",
        "/run/systemd/generator.early",
        "/etc/systemd/system",
        "/etc/systemd/system.attached",
        "/run/systemd/system",
        "/run/systemd/system.attached",
        "/run/systemd/generator",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/run/systemd/generator.late",
    ],
    config: "/etc/systemd/system",
};

/// `systemctl --global preset-all`: the user units every user gets.
pub const GLOBAL: Scope = Scope {
    name: "global",
    preset_dirs: &[
        "/etc/systemd/user-preset",
        "/run/systemd/user-preset",
        "/usr/local/lib/systemd/user-preset",
        "/usr/lib/systemd/user-preset",
    ],
    search_path: &[
        "/etc/systemd/user",
        "/run/systemd/user",
        "/usr/local/share/systemd/user",
        "/usr/share/systemd/user",
        "/usr/local/lib/systemd/user",
        "/usr/lib/systemd/user",
    ],
    config: "/etc/systemd/user",
};

/// The manager binary whose presence makes an image a systemd image.
pub const SYSTEMD: &str = "/usr/lib/systemd/systemd";

const UNIT_NAME_MAX: usize = 255;
const FOLLOW_MAX: usize = 64;
const SUFFIXES: &[&str] = &[
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Enable,
    Disable,
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    pattern: String,
    action: Action,
    instances: Vec<String>,
}

/// Which `[Install]`/preset features the image's systemd has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `UpheldBy=` in `[Install]` and `ignore` preset lines (systemd 254).
    pub v254: bool,
}

impl Features {
    pub fn for_version(v: Option<u32>) -> Features {
        Features {
            v254: v.is_some_and(|v| v >= 254),
        }
    }
}

/// What [`apply`] did for one scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Units the presets enabled (with what `Also=` pulled in), sorted.
    pub enabled: Vec<String>,
    /// Units the presets disabled, sorted.
    pub disabled: Vec<String>,
    /// Symlinks created or replaced (path, target).
    pub linked: Vec<(String, String)>,
    /// Symlinks (and emptied directories) removed.
    pub removed: Vec<String>,
    /// What systemctl would have reported (an alias held by another unit, ...).
    pub warnings: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Unit names

fn split_suffix(name: &str) -> Option<(&str, &str)> {
    let (stem, suffix) = name.rsplit_once('.')?;
    SUFFIXES.contains(&suffix).then_some((stem, suffix))
}

fn valid_chars(s: &str, at: bool) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b":-_.\\".contains(&c) || (at && c == b'@'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Plain,
    Template,
    Instance,
}

/// `unit_name_classify`: a valid unit name's kind.
fn classify(name: &str) -> Option<NameKind> {
    if name.len() > UNIT_NAME_MAX || name.starts_with('.') {
        return None;
    }
    let (stem, _) = split_suffix(name)?;
    match stem.split_once('@') {
        None => valid_chars(stem, false).then_some(NameKind::Plain),
        Some((prefix, inst)) => {
            if !valid_chars(prefix, false) {
                None
            } else if inst.is_empty() {
                Some(NameKind::Template)
            } else {
                valid_chars(inst, true).then_some(NameKind::Instance)
            }
        }
    }
}

fn is_valid(name: &str) -> bool {
    classify(name).is_some()
}

/// `foo@bar.service` -> `foo@.service` (templates stay as they are).
fn template_of(name: &str) -> Option<String> {
    let (stem, suffix) = split_suffix(name)?;
    let (prefix, _) = stem.split_once('@')?;
    Some(format!("{prefix}@.{suffix}"))
}

fn instance_of(name: &str) -> Option<&str> {
    let (stem, _) = split_suffix(name)?;
    stem.split_once('@').map(|(_, i)| i)
}

fn replace_instance(name: &str, instance: &str) -> Option<String> {
    let (stem, suffix) = split_suffix(name)?;
    let (prefix, _) = stem.split_once('@')?;
    Some(format!("{prefix}@{instance}.{suffix}"))
}

fn may_template(name: &str) -> bool {
    matches!(
        split_suffix(name).map(|(_, s)| s),
        Some("service" | "socket" | "target" | "timer" | "path")
    )
}

fn may_alias(name: &str) -> bool {
    matches!(
        split_suffix(name).map(|(_, s)| s),
        Some("service" | "socket" | "target" | "device" | "timer" | "path")
    )
}

/// `install_name_printf` for the name specifiers; `None` for a specifier that depends on
/// the running host.
fn printf(name: &str, s: &str) -> Option<String> {
    let (stem, _) = split_suffix(name).unwrap_or((name, ""));
    let (prefix, instance) = stem.split_once('@').unwrap_or((stem, ""));
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            'n' => out.push_str(name),
            'N' => out.push_str(stem),
            'p' => out.push_str(prefix),
            'i' => out.push_str(instance),
            'j' => out.push_str(prefix.rsplit('-').next().unwrap_or(prefix)),
            _ => return None,
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// Unit files

/// The `[Install]` section of a unit file (and its drop-ins) as systemd reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Install {
    pub aliases: Vec<String>,
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    pub upheld_by: Vec<String>,
    pub also: Vec<String>,
    pub default_instance: Option<String>,
}

impl Install {
    fn has_rules(&self) -> bool {
        !(self.aliases.is_empty()
            && self.wanted_by.is_empty()
            && self.required_by.is_empty()
            && self.upheld_by.is_empty())
    }
}

/// systemd's `config_parse` for the `[Install]` keys: `key=value` lines of the section,
/// `#`/`;` comments, a trailing backslash joining the next line (as a space). List values
/// append; an empty value resets the list. `unit` is the name the file is loaded for.
pub fn parse_install(unit: &str, text: &str, into: &mut Install, features: Features) {
    let mut section = String::new();
    let mut cont: Option<String> = None;
    for raw in text.lines() {
        let l = raw.trim_start();
        if cont.is_none() && (l.starts_with('#') || l.starts_with(';')) {
            continue;
        }
        let mut line = match cont.take() {
            Some(mut c) => {
                if l.starts_with('#') || l.starts_with(';') {
                    cont = Some(c);
                    continue;
                }
                c.push_str(l);
                c
            }
            None => l.to_string(),
        };
        if ends_with_escape(&line) {
            line.pop();
            line.push(' ');
            cont = Some(line);
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].to_string();
            continue;
        }
        if section != "Install" {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let list = |l: &mut Vec<String>| {
            if v.is_empty() {
                l.clear();
            } else {
                l.extend(super::users::split_words(v));
            }
        };
        match k {
            "Alias" if may_alias(unit) => list(&mut into.aliases),
            "WantedBy" => list(&mut into.wanted_by),
            "RequiredBy" => list(&mut into.required_by),
            "UpheldBy" if features.v254 => list(&mut into.upheld_by),
            "Also" => {
                for w in v.split_whitespace() {
                    if let Some(p) = printf(unit, w) {
                        into.also.push(p);
                    }
                }
            }
            "DefaultInstance" if classify(unit) == Some(NameKind::Template) => {
                into.default_instance = printf(unit, v).filter(|p| !p.is_empty());
            }
            _ => {}
        }
    }
}

fn ends_with_escape(s: &str) -> bool {
    s.bytes().rev().take_while(|&c| c == b'\\').count() % 2 == 1
}

/// The `[Install]` keys of unit `unit`'s file text as lists (what `rootfs::custom` enables
/// with).
pub fn install_section(unit: &str, text: &str) -> BTreeMap<String, Vec<String>> {
    let mut i = Install::default();
    parse_install(unit, text, &mut i, Features { v254: true });
    let mut out = BTreeMap::new();
    for (k, v) in [
        ("Alias", i.aliases),
        ("WantedBy", i.wanted_by),
        ("RequiredBy", i.required_by),
        ("UpheldBy", i.upheld_by),
        ("Also", i.also),
    ] {
        if !v.is_empty() {
            out.insert(k.to_string(), v);
        }
    }
    if let Some(d) = i.default_instance {
        out.insert("DefaultInstance".into(), vec![d]);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Regular,
    Masked,
    /// A symlink to another unit file in the search path.
    Alias(String),
    /// A symlink to a unit file outside the search path.
    Linked(String),
}

#[derive(Debug, Clone)]
struct Info {
    name: String,
    path: Option<String>,
    mode: Option<Mode>,
    loaded: bool,
    install: Install,
    auxiliary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fail {
    NotFound,
    Other(String),
}

/// systemd's `InstallContext`: infos by name, in the order they were added.
#[derive(Default)]
struct Ctx {
    infos: Vec<Info>,
}

impl Ctx {
    fn find(&self, name: &str) -> Option<usize> {
        self.infos.iter().position(|i| i.name == name)
    }

    fn add(&mut self, name: &str, auxiliary: bool) -> usize {
        if let Some(i) = self.find(name) {
            self.infos[i].auxiliary &= auxiliary;
            return i;
        }
        self.infos.push(Info {
            name: name.to_string(),
            path: None,
            mode: None,
            loaded: false,
            install: Install::default(),
            auxiliary,
        });
        self.infos.len() - 1
    }
}

struct Presets<'i, 's> {
    image: &'i mut Image<'s>,
    scope: Scope,
    features: Features,
    /// The search path, resolved through the tree and without duplicates.
    search: Vec<String>,
    out: Outcome,
}

/// The image's systemd version, from the package that ships the manager.
pub fn systemd_version(tree: &Tree) -> Option<u32> {
    let real = paths::resolve(tree, SYSTEMD, true).ok()?;
    let nevra = tree.get(&real)?.owner_package.as_deref()?;
    let rest = nevra.strip_prefix("systemd-")?;
    let version = rest.split('-').next()?;
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    version.split('.').next()?.parse().ok()
}

/// Apply the presets of `scope` to the image. Returns `None` when the image has no
/// systemd (`/usr/lib/systemd/systemd`).
pub fn apply(image: &mut Image<'_>, scope: Scope) -> Option<Outcome> {
    let tree = &image.tree;
    let real = paths::resolve(tree, SYSTEMD, true).ok()?;
    tree.get(&real)?;
    let features = Features::for_version(systemd_version(tree));
    let mut search: Vec<String> = Vec::new();
    for d in scope.search_path {
        if let Ok(r) = paths::resolve(tree, d, true) {
            if !search.contains(&r) {
                search.push(r);
            }
        }
    }
    let mut p = Presets {
        image,
        scope,
        features,
        search,
        out: Outcome::default(),
    };
    p.run();
    Some(p.out)
}

impl Presets<'_, '_> {
    fn tree(&self) -> &Tree {
        &self.image.tree
    }

    fn text(&self, path: &str) -> Option<String> {
        let e = self.tree().get(path)?;
        let EntryKind::File { digest, .. } = &e.kind else {
            return None;
        };
        let b = self.image.store.read(digest).ok()?;
        Some(String::from_utf8_lossy(&b).into_owned())
    }

    /// `conf_files_list_strv`: files with `suffix` in `dirs`, one per file name (the first
    /// directory's), sorted by file name; empty files and links to /dev/null hide a name.
    fn conf_files(&self, dirs: &[String], suffix: &str) -> Vec<String> {
        let mut by_name: BTreeMap<String, Option<String>> = BTreeMap::new();
        for d in dirs {
            let Ok(real) = paths::resolve(self.tree(), d, true) else {
                continue;
            };
            for (name, e) in self.tree().children(&real) {
                if name.starts_with('.') || !name.ends_with(suffix) || by_name.contains_key(name) {
                    continue;
                }
                let path = format!("{real}/{name}");
                let target = paths::resolve(self.tree(), &path, true).ok();
                let kind = target
                    .as_deref()
                    .and_then(|t| self.tree().get(t))
                    .map(|e| &e.kind);
                let file = match (&e.kind, kind) {
                    (EntryKind::Symlink { .. }, _) if target.as_deref() == Some("/dev/null") => {
                        None
                    }
                    // Dangling: systemd lists it, cannot open it, and the name stays taken.
                    (EntryKind::Symlink { .. }, None) => None,
                    (_, Some(EntryKind::File { size: 0, .. })) => None,
                    (
                        EntryKind::File { .. } | EntryKind::Symlink { .. },
                        Some(EntryKind::File { .. }),
                    ) => target.clone(),
                    _ => continue,
                };
                by_name.insert(name.to_string(), file);
            }
        }
        by_name.into_values().flatten().collect()
    }

    fn read_rules(&mut self) -> Vec<Rule> {
        let dirs: Vec<String> = self
            .scope
            .preset_dirs
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut rules = Vec::new();
        for f in self.conf_files(&dirs, ".preset") {
            let Some(text) = self.text(&f) else { continue };
            for (n, line) in text.lines().enumerate() {
                let l = line.trim();
                if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                    continue;
                }
                let word = |w: &str| {
                    l.strip_prefix(w)
                        .filter(|r| r.starts_with(char::is_whitespace))
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                };
                let rule = if let Some(p) = word("enable") {
                    let mut it = p.split_whitespace();
                    let pattern = it.next().unwrap_or_default().to_string();
                    let instances: Vec<String> = it.map(str::to_string).collect();
                    if !instances.is_empty() && classify(&pattern) != Some(NameKind::Template) {
                        self.out.warnings.push(format!(
                            "{f}:{}: instances given for `{pattern}`, which is not a template; line ignored",
                            n + 1
                        ));
                        continue;
                    }
                    Rule {
                        pattern,
                        action: Action::Enable,
                        instances,
                    }
                } else if let Some(p) = word("disable") {
                    Rule {
                        pattern: p.to_string(),
                        action: Action::Disable,
                        instances: Vec::new(),
                    }
                } else if let Some(p) = word("ignore").filter(|_| self.features.v254) {
                    Rule {
                        pattern: p.to_string(),
                        action: Action::Ignore,
                        instances: Vec::new(),
                    }
                } else {
                    self.out
                        .warnings
                        .push(format!("{f}:{}: cannot parse `{l}`; ignored", n + 1));
                    continue;
                };
                rules.push(rule);
            }
        }
        rules
    }

    /// `query_presets`: the action for `name`, with the instances to enable for a template.
    fn query(rules: &[Rule], name: &str) -> (Action, Vec<String>) {
        for r in rules {
            if !r.instances.is_empty() && template_of(name).as_deref() == Some(r.pattern.as_str()) {
                if classify(name) == Some(NameKind::Template) {
                    let list = r
                        .instances
                        .iter()
                        .filter_map(|i| replace_instance(name, i))
                        .collect();
                    return (r.action.clone(), list);
                }
                if instance_of(name).is_some_and(|i| r.instances.iter().any(|x| x == i)) {
                    return (r.action.clone(), Vec::new());
                }
            }
            if super::glob::matches(&r.pattern, name) {
                return (r.action.clone(), Vec::new());
            }
        }
        (Action::Enable, Vec::new())
    }

    fn in_search_path(&self, path: &str) -> bool {
        paths::parent(path).is_some_and(|p| self.search.iter().any(|s| s == p))
    }

    /// `unit_file_load_or_readlink` without parsing: what is at `path`.
    fn probe(&self, path: &str) -> Result<Mode, Fail> {
        let lpath = paths::resolve(self.tree(), path, false).map_err(|_| Fail::NotFound)?;
        let Some(e) = self.tree().get(&lpath) else {
            return Err(Fail::NotFound);
        };
        match &e.kind {
            EntryKind::File { size: 0, .. } | EntryKind::CharDev { .. } => Ok(Mode::Masked),
            EntryKind::File { .. } => Ok(Mode::Regular),
            EntryKind::Symlink { .. } => {
                let target = paths::resolve(self.tree(), &lpath, true)
                    .map_err(|e| Fail::Other(e.to_string()))?;
                if target == "/dev/null" {
                    Ok(Mode::Masked)
                } else if self.in_search_path(&target) {
                    Ok(Mode::Alias(target))
                } else {
                    Ok(Mode::Linked(target))
                }
            }
            EntryKind::Dir => Err(Fail::Other(format!("`{path}` is a directory"))),
            _ => Err(Fail::Other(format!("`{path}` is not a unit file"))),
        }
    }

    /// Parse the unit file at `path` and its drop-ins into `info`.
    fn load(&mut self, ctx: &mut Ctx, idx: usize) {
        let (name, path) = {
            let i = &ctx.infos[idx];
            (i.name.clone(), i.path.clone().unwrap_or_default())
        };
        if ctx.infos[idx].loaded {
            return;
        }
        ctx.infos[idx].loaded = true;
        let mut install = Install::default();
        if let Ok(real) = paths::resolve(self.tree(), &path, true) {
            if let Some(text) = self.text(&real) {
                parse_install(&name, &text, &mut install, self.features);
            }
        }
        let mut dirs: Vec<String> = self
            .search
            .iter()
            .map(|s| format!("{s}/{name}.d"))
            .collect();
        if let Some(t) = template_of(&name).filter(|t| *t != name) {
            dirs.extend(self.search.iter().map(|s| format!("{s}/{t}.d")));
        }
        for f in self.conf_files(&dirs, ".conf") {
            if let Some(text) = self.text(&f) {
                parse_install(&name, &text, &mut install, self.features);
            }
        }
        for a in &install.also {
            ctx.add(a, true);
        }
        ctx.infos[idx].install = install;
    }

    /// `unit_file_search`: find the unit file for `ctx.infos[idx]` (its name, else its
    /// template), load it if `load`.
    fn search(&mut self, ctx: &mut Ctx, idx: usize, load: bool) -> Result<(), Fail> {
        // Already searched: systemd does not look (or parse) again.
        if ctx.infos[idx].mode.is_some() {
            return Ok(());
        }
        {
            let name = ctx.infos[idx].name.clone();
            if !may_template(&name) && classify(&name) != Some(NameKind::Plain) {
                return Err(Fail::Other(format!(
                    "{name}: unit type cannot be templated"
                )));
            }
            let mut candidates = vec![name.clone()];
            if classify(&name) == Some(NameKind::Instance) {
                candidates.extend(template_of(&name));
            }
            let mut found = None;
            'outer: for c in &candidates {
                for dir in self.search.clone() {
                    let p = format!("{dir}/{c}");
                    match self.probe(&p) {
                        Ok(m) => {
                            found = Some((p, m));
                            break 'outer;
                        }
                        Err(Fail::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            let Some((p, m)) = found else {
                return Err(Fail::NotFound);
            };
            ctx.infos[idx].path = Some(p);
            ctx.infos[idx].mode = Some(m);
        }
        if load && ctx.infos[idx].mode == Some(Mode::Regular) {
            self.load(ctx, idx);
        }
        Ok(())
    }

    /// `install_info_traverse`: follow aliases and links to the unit file; returns the
    /// index of the final info.
    fn traverse(&mut self, ctx: &mut Ctx, start: usize, load: bool) -> Result<usize, Fail> {
        self.search(ctx, start, load)?;
        let mut i = start;
        let mut k = 0;
        loop {
            let (target, linked) = match ctx.infos[i].mode.clone() {
                Some(Mode::Alias(t)) => (t, false),
                Some(Mode::Linked(t)) => (t, true),
                _ => return Ok(i),
            };
            k += 1;
            if k > FOLLOW_MAX {
                return Err(Fail::Other(format!(
                    "{}: too many links",
                    ctx.infos[i].name
                )));
            }
            let base = target.rsplit('/').next().unwrap_or(&target).to_string();
            let name = ctx.infos[i].name.clone();
            let mut follow = linked || base == name;
            let mut next = base.clone();
            if !follow {
                if let (Some(inst), Some(NameKind::Template)) =
                    (instance_of(&name), classify(&base))
                {
                    if let Some(b) = replace_instance(&base, inst) {
                        if b == name {
                            follow = true;
                        }
                        next = b;
                    }
                }
            }
            if follow {
                ctx.infos[i].mode = Some(self.probe(&target)?);
                ctx.infos[i].path = Some(target);
                if load && ctx.infos[i].mode == Some(Mode::Regular) {
                    self.load(ctx, i);
                }
                continue;
            }
            let j = ctx.add(&next, false);
            match self.search(ctx, j, load) {
                Err(Fail::NotFound) => {
                    return Err(Fail::Other(format!("{name} is a dangling alias of {next}")));
                }
                r => r?,
            }
            i = j;
        }
    }

    /// `install_info_discover` on a throwaway context: the unit's final name.
    fn discover_name(&mut self, name: &str) -> Result<String, Fail> {
        let mut tmp = Ctx::default();
        let i = tmp.add(name, false);
        let j = self.traverse(&mut tmp, i, false)?;
        Ok(tmp.infos[j].name.clone())
    }

    fn run(&mut self) {
        let rules = self.read_rules();
        let mut plus = Ctx::default();
        let mut minus = Ctx::default();
        for dir in self.search.clone() {
            let names: Vec<String> = self
                .tree()
                .children(&dir)
                .into_iter()
                .filter(|(n, e)| {
                    is_valid(n)
                        && matches!(e.kind, EntryKind::File { .. } | EntryKind::Symlink { .. })
                })
                .map(|(n, _)| n.to_string())
                .collect();
            for name in names {
                if plus.find(&name).is_some() || minus.find(&name).is_some() {
                    continue;
                }
                match self.discover_name(&name) {
                    Ok(n) if n == name => {}
                    Ok(_) => continue,
                    Err(Fail::NotFound) => continue,
                    Err(Fail::Other(e)) => {
                        self.out.warnings.push(e);
                        continue;
                    }
                }
                let (action, instances) = Self::query(&rules, &name);
                match action {
                    Action::Enable => {
                        let list = if instances.is_empty() {
                            vec![name.clone()]
                        } else {
                            instances
                        };
                        for n in list {
                            let i = plus.add(&n, false);
                            if let Err(Fail::Other(e)) = self.traverse(&mut plus, i, true) {
                                self.out.warnings.push(e);
                            }
                        }
                    }
                    Action::Disable => {
                        let i = minus.add(&name, false);
                        let _ = self.traverse(&mut minus, i, false);
                    }
                    Action::Ignore => {}
                }
            }
        }
        self.remove_marked(&mut minus);
        self.apply_plus(&mut plus);
        self.out.enabled.sort();
        self.out.enabled.dedup();
        self.out.disabled.sort();
        self.out.disabled.dedup();
    }

    /// `install_context_mark_for_removal` + `remove_marked_symlinks`.
    fn remove_marked(&mut self, minus: &mut Ctx) {
        let mut marked: BTreeSet<String> = BTreeSet::new();
        let mut k = 0;
        while k < minus.infos.len() {
            // Searched (not parsed) when the preset was read: systemd parses nothing here,
            // so a disabled unit's `Also=` units keep their own preset.
            if let Ok(j) = self.traverse(minus, k, false) {
                if minus.infos[j].mode == Some(Mode::Regular) {
                    marked.insert(minus.infos[k].name.clone());
                    self.out.disabled.push(minus.infos[k].name.clone());
                }
            }
            k += 1;
        }
        if marked.is_empty() {
            return;
        }
        let config = self.scope.config;
        let Ok(config) = paths::resolve(self.tree(), config, true) else {
            return;
        };
        loop {
            let mut restart = false;
            let links: Vec<String> = self
                .tree()
                .descendants(&config)
                .filter(|(p, e)| {
                    matches!(e.kind, EntryKind::Symlink { .. })
                        && is_valid(p.rsplit('/').next().unwrap_or(""))
                })
                .map(|(p, _)| p.clone())
                .collect();
            for p in links {
                // A link inside a symlinked directory is not visited (no DT_DIR).
                if paths::resolve(self.tree(), &p, false).ok().as_deref() != Some(p.as_str()) {
                    continue;
                }
                let base = p.rsplit('/').next().unwrap_or("").to_string();
                let mut found = marked.contains(&base)
                    || template_of(&base).is_some_and(|t| marked.contains(&t));
                if !found {
                    let dest = chase_nonexistent(self.tree(), &p);
                    let dest_base = dest.rsplit('/').next().unwrap_or("");
                    found = marked.contains(&dest) || marked.contains(dest_base);
                }
                if !found || self.tree().get(&p).is_none() {
                    continue;
                }
                self.image.tree.remove(&p);
                self.image.owners.remove(&p);
                self.out.removed.push(p.clone());
                self.rmdir_parents(&p, &config);
                if marked.insert(p) {
                    restart = true;
                }
            }
            if !restart {
                break;
            }
        }
    }

    fn rmdir_parents(&mut self, path: &str, stop: &str) {
        let mut p = paths::parent(path).map(str::to_string);
        while let Some(dir) = p {
            if dir == stop || !dir.starts_with(stop) {
                break;
            }
            if self.tree().get(&dir).map(|e| &e.kind) != Some(&EntryKind::Dir)
                || self.tree().descendants(&dir).next().is_some()
            {
                break;
            }
            self.image.tree.remove(&dir);
            self.image.owners.remove(&dir);
            self.out.removed.push(dir.clone());
            p = paths::parent(&dir).map(str::to_string);
        }
    }

    /// `install_context_apply`: create the `[Install]` symlinks of every unit to enable.
    fn apply_plus(&mut self, plus: &mut Ctx) {
        let mut k = 0;
        while k < plus.infos.len() {
            let aux = plus.infos[k].auxiliary;
            let j = match self.traverse(plus, k, true) {
                Ok(j) => j,
                Err(e) => {
                    if !aux {
                        if let Fail::Other(e) = e {
                            self.out.warnings.push(e);
                        }
                    }
                    k += 1;
                    continue;
                }
            };
            if plus.infos[j].mode == Some(Mode::Regular) {
                let info = plus.infos[j].clone();
                self.install_info_apply(&info);
            }
            k += 1;
        }
    }

    fn install_info_apply(&mut self, info: &Info) {
        let Some(path) = info.path.clone() else {
            return;
        };
        let config = self.scope.config;
        if !self.in_search_path(&path) {
            let link = format!("{config}/{}", info.name);
            if !self.create_symlink(&path, &link, false) {
                return;
            }
        }
        if info.install.has_rules() || !info.install.also.is_empty() {
            self.out.enabled.push(info.name.clone());
        }
        for a in &info.install.aliases {
            let Some(dst) = printf(&info.name, a) else {
                self.out
                    .warnings
                    .push(format!("{}: cannot expand `Alias={a}`", info.name));
                continue;
            };
            let Some(dst) = self.verify_alias(info, &dst) else {
                continue;
            };
            self.create_symlink(&path, &format!("{config}/{dst}"), false);
        }
        // `.wants/` etc.: the unit's own name, or its DefaultInstance for a template.
        let kind = classify(&info.name);
        let (n, dst_kinds): (String, &[NameKind]) = match (kind, &info.install.default_instance) {
            (Some(NameKind::Template), Some(inst)) => {
                let Some(n) = replace_instance(&info.name, inst) else {
                    return;
                };
                let mut tmp = Ctx::default();
                let t = tmp.add(&n, false);
                if self.search(&mut tmp, t, false).is_err()
                    || tmp.infos[t].mode == Some(Mode::Masked)
                {
                    return;
                }
                (
                    n,
                    &[NameKind::Plain, NameKind::Template, NameKind::Instance],
                )
            }
            (Some(NameKind::Template), None) => {
                (info.name.clone(), &[NameKind::Template, NameKind::Instance])
            }
            _ => (
                info.name.clone(),
                &[NameKind::Plain, NameKind::Template, NameKind::Instance],
            ),
        };
        for (list, suffix) in [
            (&info.install.wanted_by, ".wants"),
            (&info.install.required_by, ".requires"),
            (&info.install.upheld_by, ".upholds"),
        ] {
            for w in list {
                let Some(dst) = printf(&info.name, w) else {
                    self.out
                        .warnings
                        .push(format!("{}: cannot expand `{w}`", info.name));
                    continue;
                };
                // Presets skip targets of the wrong kind silently (systemctl's
                // UNIT_FILE_IGNORE_AUXILIARY_FAILURE).
                if !classify(&dst).is_some_and(|k| dst_kinds.contains(&k)) {
                    continue;
                }
                self.create_symlink(&path, &format!("{config}/{dst}{suffix}/{n}"), true);
            }
        }
    }

    /// `unit_file_verify_alias`: the alias name to link, or `None` to skip it.
    fn verify_alias(&mut self, info: &Info, dst: &str) -> Option<String> {
        if let Some((dir, base)) = dst.rsplit_once('/') {
            // Legacy `Alias=foo.target.wants/bar.service`.
            let ok = (dir.ends_with(".wants") || dir.ends_with(".requires"))
                && classify(base).is_some()
                && split_suffix(base).map(|(_, s)| s) == split_suffix(&info.name).map(|(_, s)| s);
            if !ok {
                self.out
                    .warnings
                    .push(format!("{}: invalid alias `{dst}`", info.name));
                return None;
            }
            return Some(dst.to_string());
        }
        let mut dst = dst.to_string();
        if classify(&dst) == Some(NameKind::Template) {
            if let Some(inst) = instance_of(&info.name).filter(|i| !i.is_empty()) {
                dst = replace_instance(&dst, inst)?;
            }
        }
        if dst == info.name {
            return None;
        }
        let same_type =
            split_suffix(&dst).map(|(_, s)| s) == split_suffix(&info.name).map(|(_, s)| s);
        let (a, b) = (classify(&dst), classify(&info.name));
        let ok = same_type
            && matches!(
                (a, b),
                (Some(NameKind::Plain), Some(NameKind::Plain))
                    | (Some(NameKind::Template), Some(NameKind::Template))
                    | (
                        Some(NameKind::Instance),
                        Some(NameKind::Instance | NameKind::Template)
                    )
            );
        if !ok {
            self.out
                .warnings
                .push(format!("{}: cannot alias as `{dst}`", info.name));
            return None;
        }
        Some(dst)
    }

    /// `create_symlink`: link `path -> target`; an existing link that leads to the same
    /// unit file is kept, another is replaced only with `force`. Returns whether the link is
    /// in place afterwards.
    fn create_symlink(&mut self, target: &str, path: &str, force: bool) -> bool {
        if let Some(e) = self.tree().get(path) {
            let EntryKind::Symlink { target: old } = &e.kind else {
                self.out
                    .warnings
                    .push(format!("`{path}` already exists and is not a symlink"));
                return false;
            };
            if self.equivalent(path, old, target) {
                return true;
            }
            if !force {
                self.out.warnings.push(format!(
                    "`{path}` already exists and is a symlink to `{old}`"
                ));
                return false;
            }
        }
        let mtime = self.image.implied_mtime;
        let mut missing = Vec::new();
        let mut p = paths::parent(path);
        while let Some(dir) = p {
            if self.tree().get(dir).is_some() {
                break;
            }
            missing.push(dir.to_string());
            p = paths::parent(dir);
        }
        let entry = |kind, mode| Entry {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime,
            owner_package: None,
            caps: None,
        };
        for dir in missing.into_iter().rev() {
            self.image
                .tree
                .insert(dir.clone(), entry(EntryKind::Dir, 0o755));
            self.image.owners.insert(dir, Owner::root());
        }
        self.image.tree.insert(
            path.to_string(),
            entry(
                EntryKind::Symlink {
                    target: target.to_string(),
                },
                0o777,
            ),
        );
        self.image.owners.insert(path.to_string(), Owner::root());
        self.out.linked.push((path.to_string(), target.to_string()));
        true
    }

    /// `chroot_unit_symlinks_equivalent`: both targets lead to the same file, or name the
    /// same unit file in the search path.
    fn equivalent(&self, link: &str, a: &str, b: &str) -> bool {
        let dir = paths::parent(link).unwrap_or("/");
        let abs = |t: &str| {
            if t.starts_with('/') {
                t.to_string()
            } else {
                format!("{dir}/{t}")
            }
        };
        let (a, b) = (abs(a), abs(b));
        let ra = paths::resolve(self.tree(), &a, true).ok();
        let rb = paths::resolve(self.tree(), &b, true).ok();
        if a == b
            || (ra.is_some()
                && ra == rb
                && ra.as_deref().is_some_and(|r| self.tree().get(r).is_some()))
        {
            return true;
        }
        let name = |p: &str| p.rsplit('/').next().unwrap_or("").to_string();
        let under = |p: &str| self.search.iter().any(|s| p.starts_with(&format!("{s}/")));
        name(&a) == name(&b) && under(&a) && under(&b)
    }
}

/// `chase_symlinks(CHASE_NONEXISTENT)`: resolve `path` as far as it exists.
fn chase_nonexistent(tree: &Tree, path: &str) -> String {
    paths::resolve(tree, path, true).unwrap_or_else(|_| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        assert_eq!(classify("sshd.service"), Some(NameKind::Plain));
        assert_eq!(classify("getty@.service"), Some(NameKind::Template));
        assert_eq!(classify("getty@tty1.service"), Some(NameKind::Instance));
        assert_eq!(classify("foo.conf"), None);
        assert_eq!(classify("@.service"), None);
        assert_eq!(
            template_of("getty@tty1.service").as_deref(),
            Some("getty@.service")
        );
        assert_eq!(
            replace_instance("getty@.service", "ttyS0").as_deref(),
            Some("getty@ttyS0.service")
        );
        assert_eq!(
            printf("getty@tty1.service", "%p-%i.%j%%").as_deref(),
            Some("getty-tty1.getty%")
        );
        assert_eq!(printf("a.service", "%H"), None);
    }

    #[test]
    fn install_sections_like_systemd() {
        let mut i = Install::default();
        parse_install(
            "foo@.service",
            "[Unit]\nWantedBy=no\n[Install]\n# c\nWantedBy=multi-user.target \\\n graphical.target\nAlias=bar@.service\nAlso=%p-helper.service\nDefaultInstance=x\nUpheldBy=y.target\n",
            &mut i,
            Features { v254: false },
        );
        assert_eq!(i.wanted_by, vec!["multi-user.target", "graphical.target"]);
        assert_eq!(i.aliases, vec!["bar@.service"]);
        assert_eq!(i.also, vec!["foo-helper.service"]);
        assert_eq!(i.default_instance.as_deref(), Some("x"));
        assert!(i.upheld_by.is_empty(), "UpheldBy= is systemd 254's");
        // An empty value resets a list; a drop-in appends.
        parse_install(
            "foo@.service",
            "[Install]\nWantedBy=\nWantedBy=a.target\n",
            &mut i,
            Features { v254: true },
        );
        assert_eq!(i.wanted_by, vec!["a.target"]);
        let m = install_section(
            "sshd.service",
            "[Install]\nWantedBy=multi-user.target graphical.target\nAlias=sshd2.service\n",
        );
        assert_eq!(m["WantedBy"], vec!["multi-user.target", "graphical.target"]);
        assert_eq!(m["Alias"], vec!["sshd2.service"]);
    }

    #[test]
    fn first_matching_rule_wins_and_instances_expand() {
        let r = |p: &str, a: Action, inst: &[&str]| Rule {
            pattern: p.into(),
            action: a,
            instances: inst.iter().map(|s| s.to_string()).collect(),
        };
        let rules = vec![
            r("getty@.service", Action::Enable, &["tty1", "tty2"]),
            r("sshd.service", Action::Enable, &[]),
            r("*", Action::Disable, &[]),
        ];
        assert_eq!(
            Presets::query(&rules, "getty@.service"),
            (
                Action::Enable,
                vec!["getty@tty1.service".into(), "getty@tty2.service".into()]
            )
        );
        assert_eq!(
            Presets::query(&rules, "getty@tty2.service"),
            (Action::Enable, vec![])
        );
        assert_eq!(
            Presets::query(&rules, "getty@tty3.service"),
            (Action::Disable, vec![])
        );
        assert_eq!(
            Presets::query(&rules, "sshd.service"),
            (Action::Enable, vec![])
        );
        assert_eq!(
            Presets::query(&[], "kdump.service"),
            (Action::Enable, vec![])
        );
    }
}
