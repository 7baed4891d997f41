//! `[[file]]`, `[[dir]]` and `[[symlink]]`: customisations at image paths, each path owned by
//! one entry. The claims are kept so `[network]` can refuse a file it would generate.

use super::{Cx, Loc, image_path};
use crate::profile::error::Diagnostic;
use crate::profile::model::{DirSpec, FileData, FileSpec, Symlink};
use crate::profile::schema::{RawDir, RawFile, RawSymlink};
use crate::profile::template;
use std::collections::BTreeMap;

/// Image path -> the entry that sets it (`file[0]`) and where.
pub(super) type Claimed = BTreeMap<String, (String, Loc)>;

fn claim(claimed: &mut Claimed, p: &str, what: String, loc: Loc) -> Result<(), Diagnostic> {
    if let Some((prev, _)) = claimed.get(p) {
        return Err(loc.err(format!("`{p}` is already set by `{prev}`")));
    }
    claimed.insert(p.to_string(), (what, loc));
    Ok(())
}

pub(super) fn files(
    cx: &Cx,
    raw: Vec<RawFile>,
    claimed: &mut Claimed,
) -> Result<Vec<FileSpec>, Diagnostic> {
    raw.into_iter()
        .enumerate()
        .map(|(i, f)| file(cx, &format!("file[{i}]"), f, claimed))
        .collect()
}

/// One `[[file]]` (or `[[host.file]]`) entry, `field` naming it in errors.
pub(super) fn file(
    cx: &Cx,
    field: &str,
    f: RawFile,
    claimed: &mut Claimed,
) -> Result<FileSpec, Diagnostic> {
    let p = image_path(&f.path, &format!("{field}.path"), cx)?;
    claim(
        claimed,
        &p,
        field.to_string(),
        cx.loc(f.path.span(), format!("{field}.path")),
    )?;
    if f.secret {
        // tftp has no access control and the OCI image goes to a registry: a secret in
        // either is readable by anyone on the network or with pull access.
        return Err(cx
            .loc(f.path.span(), format!("{field}.secret"))
            .err(format!(
                "`{p}` is marked secret, but every file diskless builds (the image and the host overlays) is served over TFTP and pushed in the OCI image, where anyone on the boot network or with pull access can read it"
            ))
            .with_hint(
                "deliver secrets at boot from a service that authenticates the node (e.g. a root-only NFS export, a secrets manager or your configuration management), and keep at most a placeholder here",
            ));
    }
    let data = match (f.content, &f.source) {
        (Some(c), None) => {
            if f.template {
                template::check(&c).map_err(|e| {
                    cx.loc(f.path.span(), format!("{field}.content"))
                        .err(format!("`{p}`: {e}"))
                        .with_hint(template::HINT)
                })?;
            }
            FileData::Content(c)
        }
        (None, Some(s)) => FileData::Source(cx.existing_file(s, &format!("{field}.source"))?),
        (Some(_), Some(s)) => {
            return Err(cx
                .loc(s.span(), format!("{field}.source"))
                .err("Set `content` or `source`, not both"));
        }
        (None, None) => {
            return Err(cx
                .loc(f.path.span(), field.to_string())
                .err(format!("`{p}` has neither `content` nor `source`"))
                .with_hint(
                    "add `content = \"…\"` or `source = \"files/…\"` (relative to the profile)",
                ));
        }
    };
    Ok(FileSpec {
        path: p,
        data,
        mode: f.mode.map_or(0o644, |m| m.0),
        owner: f.owner.unwrap_or_else(|| "root".into()),
        group: f.group.unwrap_or_else(|| "root".into()),
        append: f.append,
        template: f.template,
    })
}

pub(super) fn dirs(
    cx: &Cx,
    raw: Vec<RawDir>,
    claimed: &mut Claimed,
) -> Result<Vec<DirSpec>, Diagnostic> {
    let mut dirs = Vec::new();
    for (i, d) in raw.into_iter().enumerate() {
        let field = format!("dir[{i}]");
        let p = image_path(&d.path, &format!("{field}.path"), cx)?;
        claim(
            claimed,
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
    Ok(dirs)
}

/// The symlinks as written, then `/init -> sbin/init` when `init_symlink` is on and no entry
/// sets `/init`.
pub(super) fn symlinks(
    cx: &Cx,
    raw: Vec<RawSymlink>,
    claimed: &mut Claimed,
    init_symlink: bool,
) -> Result<Vec<Symlink>, Diagnostic> {
    let mut symlinks = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let field = format!("symlink[{i}]");
        let p = image_path(&s.path, &format!("{field}.path"), cx)?;
        claim(
            claimed,
            &p,
            field.clone(),
            cx.loc(s.path.span(), format!("{field}.path")),
        )?;
        let t = s.target.get_ref();
        if t.is_empty() || t.contains('\0') {
            return Err(cx
                .loc(s.target.span(), format!("{field}.target"))
                .err("The symlink target is empty"));
        }
        symlinks.push(Symlink {
            path: p,
            target: s.target.into_inner(),
        });
    }
    // The kernel runs /init from an initramfs; systemd lives at /sbin/init.
    if init_symlink && !claimed.contains_key("/init") {
        symlinks.push(Symlink {
            path: "/init".into(),
            target: "sbin/init".into(),
        });
    }
    Ok(symlinks)
}
