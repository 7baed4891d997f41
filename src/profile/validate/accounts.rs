//! `[root]`, `[[group]]` and `[[user]]`: the accounts the image adds, with unique names and
//! ids, and password hashes that are hashes.

use super::Cx;
use crate::profile::error::Diagnostic;
use crate::profile::model::{Group, Root, User};
use crate::profile::schema::{RawGroup, RawRoot, RawUser};
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

pub(super) fn root(cx: &Cx, raw: RawRoot) -> Result<Root, Diagnostic> {
    if let (Some(_), Some(f)) = (&raw.password_hash, &raw.password_file) {
        return Err(cx
            .loc(f.span(), "root.password_file")
            .err("Set `password_hash` or `password_file`, not both"));
    }
    if let Some(h) = &raw.password_hash {
        check_hash(h.get_ref()).map_err(|e| cx.loc(h.span(), "root.password_hash").err(e))?;
    }
    Ok(Root {
        password_hash: raw.password_hash.map(Spanned::into_inner),
        password_file: raw
            .password_file
            .as_ref()
            .map(|f| cx.existing_file(f, "root.password_file"))
            .transpose()?,
    })
}

pub(super) fn groups(cx: &Cx, raw: Vec<RawGroup>) -> Result<Vec<Group>, Diagnostic> {
    let mut groups = Vec::new();
    let mut gnames = BTreeSet::new();
    let mut gids = BTreeMap::new();
    for (i, g) in raw.into_iter().enumerate() {
        let f = format!("group[{i}]");
        check_account(&g.name, &format!("{f}.name"), cx)?;
        if !gnames.insert(g.name.get_ref().clone()) {
            return Err(cx
                .loc(g.name.span(), format!("{f}.name"))
                .err(format!("Group `{}` is defined twice", g.name.get_ref())));
        }
        if let Some(gid) = &g.gid {
            if let Some(other) = gids.insert(*gid.get_ref(), g.name.get_ref().clone()) {
                return Err(cx.loc(gid.span(), format!("{f}.gid")).err(format!(
                    "gid {} is already used by group `{other}`",
                    gid.get_ref()
                )));
            }
        }
        groups.push(Group {
            name: g.name.into_inner(),
            gid: g.gid.map(Spanned::into_inner),
            members: g.members,
        });
    }
    Ok(groups)
}

pub(super) fn users(cx: &Cx, raw: Vec<RawUser>) -> Result<Vec<User>, Diagnostic> {
    let mut users = Vec::new();
    let mut unames = BTreeSet::new();
    let mut uids = BTreeMap::new();
    for (i, u) in raw.into_iter().enumerate() {
        let f = format!("user[{i}]");
        check_account(&u.name, &format!("{f}.name"), cx)?;
        if !unames.insert(u.name.get_ref().clone()) {
            return Err(cx
                .loc(u.name.span(), format!("{f}.name"))
                .err(format!("User `{}` is defined twice", u.name.get_ref())));
        }
        if let Some(uid) = &u.uid {
            if let Some(other) = uids.insert(*uid.get_ref(), u.name.get_ref().clone()) {
                return Err(cx.loc(uid.span(), format!("{f}.uid")).err(format!(
                    "uid {} is already used by user `{other}`",
                    uid.get_ref()
                )));
            }
        }
        for (v, name) in [(&u.home, "home"), (&u.shell, "shell")] {
            if let Some(v) = v {
                if !v.get_ref().starts_with('/') {
                    return Err(cx
                        .loc(v.span(), format!("{f}.{name}"))
                        .err(format!("`{}` is not an absolute path", v.get_ref())));
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
    Ok(users)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hashes() {
        assert!(check_hash("$6$REPLACE$WITH.A.REAL.HASH").is_ok());
        assert!(check_hash("$6$rounds=5000$salt$hash").is_ok());
        assert!(check_hash("hunter2").is_err());
    }
}
