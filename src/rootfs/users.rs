//! Users and groups, declared instead of run.
//!
//! rpm would create accounts by running `%pre` scriptlets (`useradd`, `groupadd`) or
//! `systemd-sysusers` inside the image. diskless reads the same intentions and writes
//! /etc/passwd, /etc/group, /etc/shadow and /etc/gshadow itself. Sources, in this order:
//! 1. the `setup` package's /etc/passwd and /etc/group (whatever the tree holds after
//!    extraction), with /etc/shadow and /etc/gshadow when shipped;
//! 2. the profile's groups, then users;
//! 3. per package, in install order: `user()`/`group()` provides (rpm 4.19 carries the
//!    sysusers line base64-encoded in the version), the `%pre` scriptlet's
//!    `groupadd`/`useradd`/`gpasswd -a`/`usermod -aG` commands (including the forms guarded by
//!    `getent` and the `%sysusers_create_compat` output), then sysusers.d files the package ships.
//!
//! Ids that are not fixed are allocated as shadow-utils and systemd-sysusers do on EL:
//! downward from SYS_UID_MAX / SYS_GID_MAX (999), skipping ids in use, in the order above, so
//! the result depends only on the package set. A user's own group prefers the gid equal to
//! its uid. Creating an account that exists already is a no-op (`getent ... ||` semantics).

use super::shell::Command;

pub const SYS_UID_MAX: u32 = 999;
pub const SYS_GID_MAX: u32 = 999;
/// shadow-utils' SYS_UID_MIN on EL8/EL9.
pub const SYS_ID_MIN: u32 = 201;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// Who declared it (`setup`, `profile`, `freeradius-server %pre`, ...).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
    pub source: String,
}

/// A request to create a user, from any source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub uid: Option<u32>,
    /// Primary group by name or number; `None` = a group named like the user.
    pub group: Option<String>,
    pub groups: Vec<String>,
    pub gecos: String,
    pub home: Option<String>,
    pub shell: Option<String>,
    pub system: bool,
    /// `useradd -N`: no user group; primary group 100 (`users`) unless `-g`.
    pub no_user_group: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsersError {
    #[error("No free system id left for {what} `{name}` (declared by {origin})")]
    Exhausted {
        what: &'static str,
        name: String,
        origin: String,
    },
    #[error("User `{user}` needs group `{group}`, which no source defines (declared by {origin})")]
    MissingGroup {
        user: String,
        group: String,
        origin: String,
    },
    #[error("Malformed line {line} in `{file}`: {reason}")]
    Malformed {
        file: String,
        line: usize,
        reason: String,
    },
}

/// The image's account database.
#[derive(Debug, Clone, Default)]
pub struct UserDb {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// Lines of /etc/shadow and /etc/gshadow by name, as shipped or generated.
    shadow: Vec<(String, String)>,
    gshadow: Vec<(String, String)>,
    /// Day count written into new shadow lines (`None` = empty field).
    pub lastchg: Option<u64>,
    /// Something was added or changed after the shipped files were read.
    pub changed: bool,
}

fn parse_colon_file(
    text: &str,
    file: &str,
    min_fields: usize,
) -> Result<Vec<Vec<String>>, UsersError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<String> = line.split(':').map(str::to_string).collect();
        if f.len() < min_fields {
            return Err(UsersError::Malformed {
                file: file.into(),
                line: n + 1,
                reason: format!("expected {min_fields} fields, found {}", f.len()),
            });
        }
        out.push(f);
    }
    Ok(out)
}

impl UserDb {
    /// Start from shipped files (any may be absent).
    pub fn from_files(
        passwd: Option<&str>,
        group: Option<&str>,
        shadow: Option<&str>,
        gshadow: Option<&str>,
    ) -> Result<UserDb, UsersError> {
        let mut db = UserDb::default();
        let num = |s: &str, file: &str, line: usize| {
            s.parse::<u32>().map_err(|_| UsersError::Malformed {
                file: file.into(),
                line,
                reason: format!("`{s}` is not a number"),
            })
        };
        if let Some(g) = group {
            for (i, f) in parse_colon_file(g, "/etc/group", 4)?
                .into_iter()
                .enumerate()
            {
                db.groups.push(Group {
                    gid: num(&f[2], "/etc/group", i + 1)?,
                    name: f[0].clone(),
                    members: f[3]
                        .split(',')
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect(),
                    source: "setup".into(),
                });
            }
        }
        if let Some(p) = passwd {
            for (i, f) in parse_colon_file(p, "/etc/passwd", 7)?
                .into_iter()
                .enumerate()
            {
                db.users.push(User {
                    uid: num(&f[2], "/etc/passwd", i + 1)?,
                    gid: num(&f[3], "/etc/passwd", i + 1)?,
                    name: f[0].clone(),
                    gecos: f[4].clone(),
                    home: f[5].clone(),
                    shell: f[6].clone(),
                    source: "setup".into(),
                });
            }
        }
        for (text, into) in [(shadow, &mut db.shadow), (gshadow, &mut db.gshadow)] {
            if let Some(t) = text {
                for line in t.lines().filter(|l| !l.trim().is_empty()) {
                    let name = line.split(':').next().unwrap_or("").to_string();
                    into.push((name, line.to_string()));
                }
            }
        }
        Ok(db)
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// uid of a user name; `root` is always 0, as rpm assumes.
    pub fn uid(&self, name: &str) -> Option<u32> {
        self.user(name)
            .map(|u| u.uid)
            .or((name == "root").then_some(0))
    }
    pub fn gid(&self, name: &str) -> Option<u32> {
        self.group(name)
            .map(|g| g.gid)
            .or((name == "root").then_some(0))
    }

    fn uid_used(&self, id: u32) -> bool {
        self.users.iter().any(|u| u.uid == id)
    }
    fn gid_used(&self, id: u32) -> bool {
        self.groups.iter().any(|g| g.gid == id)
    }

    fn alloc(
        &self,
        used: impl Fn(u32) -> bool,
        max: u32,
        what: &'static str,
        name: &str,
        source: &str,
    ) -> Result<u32, UsersError> {
        (SYS_ID_MIN..=max)
            .rev()
            .find(|&id| !used(id))
            .ok_or_else(|| UsersError::Exhausted {
                what,
                name: name.into(),
                origin: source.into(),
            })
    }

    /// `groupadd [-g gid] name`; a no-op when the group exists. Returns its gid.
    pub fn add_group(
        &mut self,
        name: &str,
        gid: Option<u32>,
        source: &str,
    ) -> Result<u32, UsersError> {
        if let Some(g) = self.group(name) {
            return Ok(g.gid);
        }
        let gid = match gid {
            Some(g) => g,
            None => self.alloc(|id| self.gid_used(id), SYS_GID_MAX, "group", name, source)?,
        };
        self.groups.push(Group {
            name: name.into(),
            gid,
            members: Vec::new(),
            source: source.into(),
        });
        self.changed = true;
        Ok(gid)
    }

    /// Add `user` to the supplementary members of `group` (if the group exists).
    pub fn add_member(&mut self, group: &str, user: &str) -> bool {
        match self.groups.iter_mut().find(|g| g.name == group) {
            Some(g) => {
                if !g.members.iter().any(|m| m == user) {
                    g.members.push(user.into());
                    self.changed = true;
                }
                true
            }
            None => false,
        }
    }

    /// `useradd`; a no-op when the user exists.
    pub fn add_user(&mut self, u: &NewUser, source: &str) -> Result<(), UsersError> {
        if self.user(&u.name).is_some() {
            return Ok(());
        }
        let uid = match u.uid {
            Some(id) => id,
            None => self.alloc(|id| self.uid_used(id), SYS_UID_MAX, "user", &u.name, source)?,
        };
        let gid = match &u.group {
            Some(g) => match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => self.gid(g).ok_or_else(|| UsersError::MissingGroup {
                    user: u.name.clone(),
                    group: g.clone(),
                    origin: source.into(),
                })?,
            },
            None if u.no_user_group => self.gid("users").unwrap_or(100),
            None => match self.group(&u.name) {
                Some(g) => g.gid,
                None => {
                    let preferred = (!self.gid_used(uid)).then_some(uid);
                    self.add_group(&u.name, preferred, source)?
                }
            },
        };
        self.users.push(User {
            name: u.name.clone(),
            uid,
            gid,
            gecos: u.gecos.clone(),
            home: u
                .home
                .clone()
                .unwrap_or_else(|| format!("/home/{}", u.name)),
            shell: u.shell.clone().unwrap_or_else(|| "/bin/bash".into()),
            source: source.into(),
        });
        self.changed = true;
        for g in &u.groups {
            self.add_member(g, &u.name);
        }
        Ok(())
    }

    /// Apply one sysusers.d line (`u`, `g`, `m`; `r` ranges are ignored: the range is fixed).
    /// Returns false for lines it does not understand.
    pub fn apply_sysusers_line(&mut self, line: &str, source: &str) -> Result<bool, UsersError> {
        let f = split_words(line);
        let Some(kind) = f.first() else {
            return Ok(true);
        };
        let field = |i: usize| f.get(i).map(String::as_str).filter(|s| *s != "-");
        match kind.as_str() {
            "g" => {
                let Some(name) = field(1) else {
                    return Ok(false);
                };
                let gid = field(2).and_then(|s| s.parse().ok());
                self.add_group(name, gid, source)?;
            }
            "u" | "u!" => {
                let Some(name) = field(1) else {
                    return Ok(false);
                };
                let (uid, group) = match field(2) {
                    Some(id) => match id.split_once(':') {
                        Some((u, g)) => (u.parse().ok(), Some(g.to_string())),
                        None => (id.parse().ok(), None),
                    },
                    None => (None, None),
                };
                // A named group must exist; a numeric one is created under the user's name.
                let group = match group {
                    Some(g) if g.parse::<u32>().is_ok() => {
                        let gid = g.parse().ok();
                        self.add_group(name, gid, source)?;
                        Some(name.to_string())
                    }
                    other => other,
                };
                self.add_user(
                    &NewUser {
                        name: name.into(),
                        uid,
                        group,
                        gecos: field(3).unwrap_or("").into(),
                        home: Some(field(4).unwrap_or("/").into()),
                        shell: Some(field(5).unwrap_or("/usr/sbin/nologin").into()),
                        system: true,
                        ..NewUser::default()
                    },
                    source,
                )?;
            }
            "m" => {
                let (Some(user), Some(group)) = (field(1), field(2)) else {
                    return Ok(false);
                };
                self.add_group(group, None, source)?;
                self.add_member(group, user);
            }
            "r" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Apply a whole sysusers.d file: groups first, then users, then memberships, as
    /// systemd-sysusers does. Returns the lines it did not understand.
    pub fn apply_sysusers(&mut self, text: &str, source: &str) -> Result<Vec<String>, UsersError> {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let mut unknown = Vec::new();
        for pass in ["g", "u", "m"] {
            for l in &lines {
                let k = l.split_whitespace().next().unwrap_or("");
                let this = match pass {
                    "g" => k == "g",
                    "u" => k.starts_with('u'),
                    _ => k != "g" && !k.starts_with('u'),
                };
                if this && !self.apply_sysusers_line(l, source)? {
                    unknown.push(l.to_string());
                }
            }
        }
        Ok(unknown)
    }

    /// Apply a command from a scriptlet. `Ok(true)` when it is an account command that was
    /// applied (or a harmless `getent` probe), `Ok(false)` when it is not one.
    pub fn apply_command(&mut self, c: &Command, source: &str) -> Result<bool, UsersError> {
        let args = &c.words[1..];
        match c.name() {
            "getent" => Ok(true),
            "groupadd" | "addgroup" => {
                let mut gid = None;
                let mut name = None;
                let mut i = 0;
                while i < args.len() {
                    match args[i].as_str() {
                        "-g" | "--gid" => {
                            gid = args.get(i + 1).and_then(|s| s.parse().ok());
                            i += 1;
                        }
                        "-K" | "--key" | "-p" | "--password" | "-R" | "--root" | "-P"
                        | "--prefix" => i += 1,
                        a if a.starts_with('-') => {}
                        a => name = Some(a.to_string()),
                    }
                    i += 1;
                }
                match name {
                    Some(n) if !c.unresolved => {
                        self.add_group(&n, gid, source)?;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            }
            "useradd" | "adduser" => {
                let mut u = NewUser::default();
                let mut i = 0;
                while i < args.len() {
                    let v = args.get(i + 1).cloned();
                    let mut takes = true;
                    match args[i].as_str() {
                        "-u" | "--uid" => u.uid = v.and_then(|s| s.parse().ok()),
                        "-g" | "--gid" => u.group = v,
                        "-G" | "--groups" => {
                            u.groups = v
                                .unwrap_or_default()
                                .split(',')
                                .map(str::to_string)
                                .collect()
                        }
                        "-d" | "--home-dir" | "--home" => u.home = v,
                        "-s" | "--shell" => u.shell = v,
                        "-c" | "--comment" => u.gecos = v.unwrap_or_default(),
                        "-K" | "--key" | "-p" | "--password" | "-R" | "--root" | "-b"
                        | "--base-dir" | "-e" | "--expiredate" | "-f" | "--inactive" | "-k"
                        | "--skel" | "-Z" | "--selinux-user" | "-P" | "--prefix" => {}
                        "-r" | "--system" => {
                            u.system = true;
                            takes = false;
                        }
                        "-N" | "--no-user-group" => {
                            u.no_user_group = true;
                            takes = false;
                        }
                        a if a.starts_with('-') => takes = false,
                        a => {
                            u.name = a.to_string();
                            takes = false;
                        }
                    }
                    i += if takes { 2 } else { 1 };
                }
                if u.name.is_empty() || c.unresolved {
                    return Ok(false);
                }
                self.add_user(&u, source)?;
                Ok(true)
            }
            "gpasswd" => {
                // gpasswd -a USER GROUP
                match (args.first().map(String::as_str), args.get(1), args.get(2)) {
                    (Some("-a") | Some("--add"), Some(user), Some(group)) if !c.unresolved => {
                        Ok(self.add_member(group, user))
                    }
                    _ => Ok(false),
                }
            }
            "usermod" => {
                // usermod -a -G g1,g2 USER
                let append = args
                    .iter()
                    .any(|a| a == "-a" || a == "--append" || a == "-aG");
                let groups = args
                    .iter()
                    .position(|a| a == "-G" || a == "--groups" || a == "-aG")
                    .and_then(|i| args.get(i + 1));
                match (append, groups, args.last()) {
                    (true, Some(gs), Some(user)) if !c.unresolved => {
                        for g in gs.split(',') {
                            self.add_member(g, user);
                        }
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            }
            _ => Ok(false),
        }
    }

    /// Set a user's password hash in /etc/shadow.
    pub fn set_password(&mut self, user: &str, hash: &str) {
        let line = self.shadow_line(user);
        let mut f: Vec<String> = line.split(':').map(str::to_string).collect();
        f.resize(9, String::new());
        f[1] = hash.to_string();
        let new = f.join(":");
        self.changed = true;
        match self.shadow.iter_mut().find(|(n, _)| n == user) {
            Some((_, l)) => *l = new,
            None => self.shadow.push((user.into(), new)),
        }
    }

    fn shadow_line(&self, user: &str) -> String {
        match self.shadow.iter().find(|(n, _)| n == user) {
            Some((_, l)) => l.clone(),
            None => {
                let day = self.lastchg.map(|d| d.to_string()).unwrap_or_default();
                format!("{user}:!!:{day}::::::")
            }
        }
    }

    pub fn passwd_text(&self) -> String {
        self.users
            .iter()
            .map(|u| {
                format!(
                    "{}:x:{}:{}:{}:{}:{}\n",
                    u.name, u.uid, u.gid, u.gecos, u.home, u.shell
                )
            })
            .collect()
    }
    pub fn group_text(&self) -> String {
        self.groups
            .iter()
            .map(|g| format!("{}:x:{}:{}\n", g.name, g.gid, g.members.join(",")))
            .collect()
    }
    /// /etc/shadow: shipped lines kept, one line per user, in passwd order.
    pub fn shadow_text(&self) -> String {
        self.users
            .iter()
            .map(|u| self.shadow_line(&u.name) + "\n")
            .collect()
    }
    /// /etc/gshadow: shipped lines kept (members updated), one per group, in group order.
    pub fn gshadow_text(&self) -> String {
        self.groups
            .iter()
            .map(|g| {
                let members = g.members.join(",");
                match self.gshadow.iter().find(|(n, _)| n == &g.name) {
                    Some((_, l)) => {
                        let mut f: Vec<String> = l.split(':').map(str::to_string).collect();
                        f.resize(4, String::new());
                        f[3] = members;
                        f.join(":") + "\n"
                    }
                    None => format!("{}:!::{members}\n", g.name),
                }
            })
            .collect()
    }
}

/// systemd's word splitting, for sysusers.d lines and the `[Install]` list values of unit
/// files ([`super::presets`]): whitespace-separated, double or single quotes group.
pub(super) fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Decode an rpm 4.19 `user(name) = <base64>` provide's version into a sysusers line.
pub fn decode_provide(version: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(version.trim())
        .ok()?;
    // Encoders pad the line with NULs to a multiple of three bytes.
    let text = String::from_utf8(bytes).ok()?;
    Some(text.trim_end_matches(['\0', '\n', ' ']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::shell::commands;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nbin:x:1:\nusers:x:100:\n";

    #[test]
    fn freeradius_pre_scriptlet() {
        let mut db = UserDb::from_files(Some(PASSWD), Some(GROUP), None, None).unwrap();
        let pre = "getent group radiusd >/dev/null || /usr/sbin/groupadd -r radiusd\ngetent passwd radiusd >/dev/null || /usr/sbin/useradd -r -g radiusd \\\n\t-s /bin/false -c \"Radius daemon\" -d /var/lib/radiusd \\\n\tradiusd\n/usr/bin/getent group winbind >/dev/null \\\n  || /usr/sbin/groupadd -r winbind\n/usr/bin/gpasswd -a radiusd winbind\n";
        for c in commands(pre) {
            assert!(db.apply_command(&c, "freeradius %pre").unwrap(), "{c:?}");
        }
        assert_eq!(db.gid("radiusd"), Some(999));
        assert_eq!(db.uid("radiusd"), Some(999));
        assert_eq!(db.gid("winbind"), Some(998));
        assert_eq!(db.group("winbind").unwrap().members, vec!["radiusd"]);
        let u = db.user("radiusd").unwrap();
        assert_eq!(
            (u.home.as_str(), u.shell.as_str(), u.gecos.as_str()),
            ("/var/lib/radiusd", "/bin/false", "Radius daemon")
        );
        assert!(
            db.passwd_text()
                .ends_with("radiusd:x:999:999:Radius daemon:/var/lib/radiusd:/bin/false\n")
        );
        assert!(
            db.shadow_text().contains("radiusd:!!:::::::\n")
                || db.shadow_text().contains("radiusd:!!:")
        );
    }

    #[test]
    fn user_group_prefers_the_uid_and_allocation_goes_down() {
        let mut db = UserDb::from_files(Some(PASSWD), Some(GROUP), None, None).unwrap();
        db.add_group("first", None, "t").unwrap(); // takes gid 999
        db.add_user(
            &NewUser {
                name: "svc".into(),
                system: true,
                ..Default::default()
            },
            "t",
        )
        .unwrap();
        // uid 999 is free but gid 999 is taken: the group gets the next free gid down.
        assert_eq!(db.uid("svc"), Some(999));
        assert_eq!(db.gid("svc"), Some(998));
        db.add_user(
            &NewUser {
                name: "fixed".into(),
                uid: Some(48),
                ..Default::default()
            },
            "t",
        )
        .unwrap();
        assert_eq!(db.gid("fixed"), Some(48));
    }

    #[test]
    fn sysusers_files_and_provides() {
        let mut db = UserDb::from_files(Some(PASSWD), Some(GROUP), None, None).unwrap();
        let unknown = db
            .apply_sysusers("# c\nu chrony - \"chrony system user\" /var/lib/chrony\ng tss 59\nm chrony tss\nu dbus 81 \"System Message Bus\"\n", "pkg")
            .unwrap();
        assert!(unknown.is_empty());
        assert_eq!(db.gid("tss"), Some(59));
        assert_eq!(db.uid("chrony"), Some(999));
        assert_eq!(db.user("chrony").unwrap().shell, "/usr/sbin/nologin");
        assert_eq!(db.uid("dbus"), Some(81));
        assert_eq!(db.gid("dbus"), Some(81));
        assert_eq!(db.group("tss").unwrap().members, vec!["chrony"]);
        // rpm 4.19: user(x) = base64("u x 42 ...")
        let line = decode_provide("dSBuZ2lueCA0MiAibmdpbngiIC92YXIvbGliL25naW54").unwrap();
        assert_eq!(line, "u nginx 42 \"nginx\" /var/lib/nginx");
        db.apply_sysusers_line(&line, "nginx").unwrap();
        assert_eq!(db.uid("nginx"), Some(42));
    }

    #[test]
    fn shadow_lines_follow_passwd() {
        let mut db = UserDb::from_files(
            Some(PASSWD),
            Some(GROUP),
            Some("root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n"),
            Some("root:::\nbin:::\n"),
        )
        .unwrap();
        db.lastchg = Some(20000);
        db.add_user(
            &NewUser {
                name: "a".into(),
                system: true,
                groups: vec!["bin".into()],
                ..Default::default()
            },
            "t",
        )
        .unwrap();
        db.set_password("root", "$6$x$y");
        assert_eq!(
            db.shadow_text(),
            "root:$6$x$y:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\na:!!:20000::::::\n"
        );
        assert_eq!(db.gshadow_text(), "root:::\nbin:::a\nusers:!::\na:!::\n");
    }
}
