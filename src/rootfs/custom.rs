//! The profile's customisations, applied to the tree after every package is in:
//! directories, files (replaced or appended to; the network files `profile` renders,
//! NetworkManager keyfiles for EL9 or ifcfg for EL7/8, arrive here as files too), symlinks
//! (`/init -> sbin/init` for initramfs images), systemd units enabled/disabled/masked as the
//! symlinks `systemctl` would create from their [Install] sections, the default target,
//! hostname, an empty /etc/machine-id (so systemd applies presets at every boot), fstab
//! lines, NETWORKING=yes for ifcfg networking, dnf/yum `[main]` options, and last the
//! removals (globs), as the profile documents.
//!
//! Everything here is data: files come as bytes, owners as names (checked against the
//! image's accounts), modes as numbers; nothing is written to the host.

use super::RootfsError;
use super::extract::{Image, Owner};
use super::paths;
use super::tree::{Entry, EntryKind};
use super::users::UserDb;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: String,
    pub contents: Vec<u8>,
    pub mode: u32,
    pub user: String,
    pub group: String,
    /// Append to what the packages installed (creating the file if absent).
    pub append: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSpec {
    pub path: String,
    pub mode: u32,
    pub user: String,
    pub group: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customisations {
    pub remove: Vec<String>,
    pub dirs: Vec<DirSpec>,
    pub files: Vec<FileSpec>,
    /// (path, target)
    pub symlinks: Vec<(String, String)>,
    pub enable: Vec<String>,
    pub disable: Vec<String>,
    pub mask: Vec<String>,
    pub default_target: Option<String>,
    pub hostname: Option<String>,
    pub empty_machine_id: bool,
    /// Lines appended to /etc/fstab, as written.
    pub fstab: Vec<String>,
    /// Set NETWORKING=yes in /etc/sysconfig/network (EL7/8 ifcfg networking); the
    /// interface files themselves come as `files`.
    pub sysconfig_networking: bool,
    /// `[main]` options for /etc/dnf/dnf.conf (and /etc/yum.conf when it is a file).
    pub dnf_main: Vec<(String, String)>,
    /// `/init -> sbin/init`, needed when the tree becomes an initramfs.
    pub init_symlink: bool,
}

impl Default for Customisations {
    fn default() -> Self {
        Customisations {
            remove: Vec::new(),
            dirs: Vec::new(),
            files: Vec::new(),
            symlinks: Vec::new(),
            enable: Vec::new(),
            disable: Vec::new(),
            mask: Vec::new(),
            default_target: None,
            hostname: None,
            empty_machine_id: true,
            fstab: Vec::new(),
            sysconfig_networking: false,
            dnf_main: Vec::new(),
            init_symlink: true,
        }
    }
}

fn err(what: impl Into<String>, reason: impl Into<String>) -> RootfsError {
    RootfsError::Custom {
        what: what.into(),
        reason: reason.into(),
    }
}

const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];
const ETC_UNITS: &str = "/etc/systemd/system";

struct Ctx<'a, 'b> {
    image: &'a mut Image<'b>,
    db: &'a UserDb,
}

impl Ctx<'_, '_> {
    fn check_owner(&self, what: &str, user: &str, group: &str) -> Result<(), RootfsError> {
        if self.db.uid(user).is_none() {
            return Err(err(
                what,
                format!("user `{user}` is not defined in the image"),
            ));
        }
        if self.db.gid(group).is_none() {
            return Err(err(
                what,
                format!("group `{group}` is not defined in the image"),
            ));
        }
        Ok(())
    }

    fn resolved(&self, path: &str) -> Result<String, RootfsError> {
        let p = paths::check_package_path(path).map_err(|e| err(path, e.to_string()))?;
        paths::resolve(&self.image.tree, &p, false).map_err(|e| err(path, e.to_string()))
    }

    /// Replace whatever is at `path` (not a directory with contents) with `entry`.
    fn put(
        &mut self,
        what: &str,
        path: &str,
        entry: Entry,
        owner: Owner,
    ) -> Result<(), RootfsError> {
        let resolved = self.resolved(path)?;
        if let Some(old) = self.image.tree.get(&resolved) {
            if old.kind == EntryKind::Dir && entry.kind == EntryKind::Dir {
                // Keep the directory, take the new metadata.
            } else if old.kind == EntryKind::Dir
                && self.image.tree.descendants(&resolved).next().is_some()
            {
                return Err(err(
                    what,
                    format!("`{resolved}` is a directory that is not empty"),
                ));
            }
            self.image.tree.remove(&resolved);
            self.image.owners.remove(&resolved);
        }
        self.image.install("(profile)", &resolved, entry, owner)?;
        Ok(())
    }

    fn meta(&self, kind: EntryKind, mode: u32) -> Entry {
        Entry {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: self.image.implied_mtime,
            owner_package: None,
            caps: None,
        }
    }

    fn write(
        &mut self,
        what: &str,
        path: &str,
        bytes: &[u8],
        mode: u32,
        user: &str,
        group: &str,
    ) -> Result<(), RootfsError> {
        self.check_owner(what, user, group)?;
        let (digest, size) = self
            .image
            .store
            .put_bytes(bytes)
            .map_err(RootfsError::Store)?;
        let e = self.meta(
            EntryKind::File {
                digest,
                size,
                link_group: None,
            },
            mode,
        );
        self.put(
            what,
            path,
            e,
            Owner {
                user: user.into(),
                group: group.into(),
                color: 0,
            },
        )
    }

    fn symlink(&mut self, what: &str, path: &str, target: &str) -> Result<(), RootfsError> {
        let e = self.meta(
            EntryKind::Symlink {
                target: target.into(),
            },
            0o777,
        );
        self.put(what, path, e, Owner::root())
    }

    fn read(&self, path: &str) -> Result<Option<String>, RootfsError> {
        let resolved = self.resolved(path)?;
        match self.image.tree.get(&resolved).map(|e| &e.kind) {
            Some(EntryKind::File { digest, .. }) => {
                let b = self.image.store.read(digest).map_err(RootfsError::Store)?;
                Ok(Some(String::from_utf8_lossy(&b).into_owned()))
            }
            _ => Ok(None),
        }
    }

    /// Find a unit's file: `(path in the image, contents)`.
    fn unit(&self, unit: &str) -> Result<Option<(String, String)>, RootfsError> {
        // Template instances (`getty@tty1.service`) use the template's file.
        let file = match unit.split_once('@') {
            Some((pre, rest)) if !rest.starts_with('.') => {
                let suffix = rest.rsplit_once('.').map(|(_, s)| s).unwrap_or("service");
                format!("{pre}@.{suffix}")
            }
            _ => unit.to_string(),
        };
        for dir in UNIT_DIRS {
            let p = format!("{dir}/{file}");
            if let Some(text) = self.read(&p)? {
                // Report the canonical /usr/lib path, as systemctl writes it.
                let p = p
                    .replace("/lib/systemd/system/", "/usr/lib/systemd/system/")
                    .replace("/usr/usr/", "/usr/");
                return Ok(Some((p, text)));
            }
        }
        Ok(None)
    }

    fn enable(&mut self, unit: &str, seen: &mut Vec<String>) -> Result<(), RootfsError> {
        if seen.iter().any(|u| u == unit) {
            return Ok(());
        }
        seen.push(unit.to_string());
        let what = format!("enable {unit}");
        let Some((file, text)) = self.unit(unit)? else {
            return Err(err(what, "no such unit file in the image"));
        };
        let install = super::presets::install_section(unit, &text);
        let instance_name = match unit.split_once('@') {
            Some((pre, rest)) if rest.starts_with('.') => {
                match install.get("DefaultInstance").and_then(|v| v.first()) {
                    Some(i) => format!("{pre}@{i}{rest}"),
                    None => {
                        return Err(err(
                            what,
                            "a template unit needs an instance or DefaultInstance=",
                        ));
                    }
                }
            }
            _ => unit.to_string(),
        };
        let mut made = false;
        for (key, suffix) in [
            ("WantedBy", "wants"),
            ("RequiredBy", "requires"),
            ("UpheldBy", "upholds"),
        ] {
            for target in install.get(key).into_iter().flatten() {
                self.symlink(
                    &what,
                    &format!("{ETC_UNITS}/{target}.{suffix}/{instance_name}"),
                    &file,
                )?;
                made = true;
            }
        }
        for alias in install.get("Alias").into_iter().flatten() {
            self.symlink(&what, &format!("{ETC_UNITS}/{alias}"), &file)?;
            made = true;
        }
        for also in install
            .get("Also")
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
        {
            self.enable(&also, seen)?;
            made = true;
        }
        if !made {
            return Err(err(
                what,
                format!("`{file}` has no [Install] section to enable it with"),
            ));
        }
        Ok(())
    }

    fn disable(&mut self, unit: &str) {
        let dir = ETC_UNITS.to_string();
        let doomed: Vec<String> = self
            .image
            .tree
            .descendants(&dir)
            .filter(|(p, e)| {
                matches!(&e.kind, EntryKind::Symlink { target } if target.rsplit('/').next() == Some(unit))
                    || (p.rsplit('/').next() == Some(unit) && matches!(e.kind, EntryKind::Symlink { .. }))
            })
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            self.image.tree.remove(&p);
            self.image.owners.remove(&p);
        }
    }
}

/// Set `key=value` in the `[main]` section of an ini file's text.
pub fn set_ini_main(text: &str, key: &str, value: &str) -> String {
    let mut out = Vec::new();
    let mut in_main = false;
    let mut done = false;
    let mut saw_main = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if in_main && !done {
                out.push(format!("{key}={value}"));
                done = true;
            }
            in_main = t == "[main]";
            saw_main |= in_main;
        } else if in_main && !done && t.split_once('=').map(|(k, _)| k.trim()) == Some(key) {
            out.push(format!("{key}={value}"));
            done = true;
            continue;
        }
        out.push(line.to_string());
    }
    if !done {
        if !saw_main {
            out.push("[main]".into());
        }
        out.push(format!("{key}={value}"));
    }
    out.join("\n") + "\n"
}

/// Apply `c` to the image. `db` holds the image's accounts for owner checks.
pub fn apply(
    image: &mut Image<'_>,
    c: &Customisations,
    db: &UserDb,
    notes: &mut Vec<String>,
) -> Result<(), RootfsError> {
    apply_files(image, c, db)?;
    apply_system(image, c, db, notes)
}

/// The profile's directories, files and symlinks: what the packages' configuration (unit
/// files, preset files) is read with from here on.
pub fn apply_files(
    image: &mut Image<'_>,
    c: &Customisations,
    db: &UserDb,
) -> Result<(), RootfsError> {
    let mut x = Ctx { image, db };

    for d in &c.dirs {
        let what = format!("directory {}", d.path);
        x.check_owner(&what, &d.user, &d.group)?;
        let e = x.meta(EntryKind::Dir, d.mode & 0o7777);
        x.put(
            &what,
            &d.path,
            e,
            Owner {
                user: d.user.clone(),
                group: d.group.clone(),
                color: 0,
            },
        )?;
    }
    for f in &c.files {
        let mut bytes = Vec::new();
        if f.append {
            if let Some(old) = x.read(&f.path)? {
                bytes.extend_from_slice(old.as_bytes());
                if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                    bytes.push(b'\n');
                }
            }
        }
        bytes.extend_from_slice(&f.contents);
        let what = format!("file {}", f.path);
        x.write(&what, &f.path, &bytes, f.mode & 0o7777, &f.user, &f.group)?;
    }
    for (path, target) in &c.symlinks {
        x.symlink(&format!("symlink {path}"), path, target)?;
    }
    Ok(())
}

/// The rest, in the documented order: services (on top of the packages' presets), the
/// default target, hostname, machine-id, fstab, network, dnf options, `/init`, removals.
pub fn apply_system(
    image: &mut Image<'_>,
    c: &Customisations,
    db: &UserDb,
    notes: &mut Vec<String>,
) -> Result<(), RootfsError> {
    let mut x = Ctx { image, db };
    let mut seen = Vec::new();
    for u in &c.enable {
        x.enable(u, &mut seen)?;
    }
    for u in &c.disable {
        x.disable(u);
    }
    for u in &c.mask {
        x.disable(u);
        x.symlink(
            &format!("mask {u}"),
            &format!("{ETC_UNITS}/{u}"),
            "/dev/null",
        )?;
    }
    if let Some(t) = &c.default_target {
        let what = format!("default target {t}");
        let Some((file, _)) = x.unit(t)? else {
            return Err(err(what, "no such unit file in the image"));
        };
        x.symlink(&what, &format!("{ETC_UNITS}/default.target"), &file)?;
    }
    if let Some(h) = &c.hostname {
        x.write(
            "hostname",
            "/etc/hostname",
            format!("{h}\n").as_bytes(),
            0o644,
            "root",
            "root",
        )?;
    }
    if c.empty_machine_id {
        x.write("machine-id", "/etc/machine-id", b"", 0o444, "root", "root")?;
    }
    if !c.fstab.is_empty() {
        let mut text = x.read("/etc/fstab")?.unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for line in &c.fstab {
            text.push_str(line);
            text.push('\n');
        }
        x.write(
            "fstab",
            "/etc/fstab",
            text.as_bytes(),
            0o644,
            "root",
            "root",
        )?;
    }
    if c.sysconfig_networking {
        let mut text = x.read("/etc/sysconfig/network")?.unwrap_or_default();
        if !text.lines().any(|l| l.starts_with("NETWORKING=")) {
            text.push_str("NETWORKING=yes\n");
        }
        x.write(
            "network",
            "/etc/sysconfig/network",
            text.as_bytes(),
            0o644,
            "root",
            "root",
        )?;
    }
    if !c.dnf_main.is_empty() {
        for conf in ["/etc/dnf/dnf.conf", "/etc/yum.conf"] {
            let resolved = x.resolved(conf)?;
            let is_file = matches!(
                x.image.tree.get(&resolved).map(|e| &e.kind),
                Some(EntryKind::File { .. })
            );
            if !is_file && conf == "/etc/yum.conf" {
                continue; // EL8/9: a symlink to dnf.conf, already edited.
            }
            let mut text = x.read(conf)?.unwrap_or_default();
            for (k, v) in &c.dnf_main {
                text = set_ini_main(&text, k, v);
            }
            x.write(
                "dnf/yum configuration",
                conf,
                text.as_bytes(),
                0o644,
                "root",
                "root",
            )?;
        }
    }
    if c.init_symlink && x.image.tree.get("/init").is_none() {
        x.symlink("/init", "/init", "sbin/init")?;
    }
    // Removals come last, as the profile documents: they also see what was added above.
    for pattern in &c.remove {
        let doomed: Vec<String> = x
            .image
            .tree
            .entries
            .keys()
            .filter(|p| *p != "/" && super::glob::matches_or_below(pattern, p))
            .cloned()
            .collect();
        if doomed.is_empty() {
            notes.push(format!("remove `{pattern}` matched nothing"));
        }
        for p in doomed {
            x.image.tree.remove(&p);
            x.image.owners.remove(&p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_main() {
        assert_eq!(
            set_ini_main("[main]\ngpgcheck=1\n", "diskspacecheck", "0"),
            "[main]\ngpgcheck=1\ndiskspacecheck=0\n"
        );
        assert_eq!(
            set_ini_main("[main]\ndiskspacecheck=1\n[x]\n", "diskspacecheck", "0"),
            "[main]\ndiskspacecheck=0\n[x]\n"
        );
        assert_eq!(set_ini_main("", "a", "b"), "[main]\na=b\n");
    }
}
