//! From the profile as written ([`RawProfile`]) to the resolved [`Profile`]: defaults filled
//! in, relative paths made absolute, `.repo` files read, dnf variables substituted, and every
//! value checked against the others (hosts inside the DHCP subnet, unique names, files that
//! exist). Each failure is a [`Diagnostic`] at the offending value.
//!
//! One submodule per profile table; [`build`] calls them in the order the tables are checked,
//! so the first error a profile shows does not depend on how this code is laid out.

// Errors here are a one-shot cold path (the first one ends the load), and a `Diagnostic` carries
// everything needed to show it; boxing every intermediate `Result` would buy nothing.
#![allow(clippy::result_large_err)]

mod accounts;
mod boot;
mod dhcp;
mod dnf;
mod files;
mod hosts;
mod image;
mod network;
mod oci;
mod packages;
mod pxe;
mod repos;
mod services;
mod system;

pub(crate) use repos::{RepoDraft, check_repo_id};

use super::error::{Diagnostic, ProfileError, SourceText};
use super::model::*;
use super::schema::*;
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

/// Build the resolved profile. `path` is the profile as the user named it, `dir` its absolute
/// folder.
pub(crate) fn build(
    path: &Path,
    dir: &Path,
    text: &str,
    raw: RawProfile,
    allowed: &[PathBuf],
) -> Result<Profile, ProfileError> {
    let st = SourceText { path, text };
    let cx = Cx {
        st: &st,
        dir,
        allowed,
        host_files: Default::default(),
    };

    let img = image::image(&cx, raw.image)?;
    let image = img.image;
    let vars = image::vars(&cx, &raw.vars, &image)?;
    let repos = repos::repos(&cx, raw.repos, &raw.repo_files, &vars, img.span)?;
    let packages = packages::packages(&cx, raw.packages)?;
    let boot = boot::boot(&cx, raw.boot)?;
    let root = accounts::root(&cx, raw.root)?;
    let groups = accounts::groups(&cx, raw.groups)?;
    let users = accounts::users(&cx, raw.users)?;
    // Files, dirs, symlinks: one owner per image path.
    let mut claimed = files::Claimed::new();
    let files = files::files(&cx, raw.files, &mut claimed)?;
    let dirs = files::dirs(&cx, raw.dirs, &mut claimed)?;
    let symlinks = files::symlinks(&cx, raw.symlinks, &mut claimed, img.init_symlink)?;
    let services = services::services(&cx, raw.services)?;
    let sys = system::system(&cx, raw.system)?;
    let network = network::network(&cx, raw.network, &image, &claimed)?;
    let pxe = pxe::pxe(&cx, raw.pxe, &image)?;
    let dhcp = raw.dhcp.map(|d| dhcp::dhcp(&cx, d)).transpose()?;
    let hosts = hosts::hosts(&cx, raw.hosts, dhcp.as_ref(), &network)?;
    let dnf = dnf::dnf(&cx, raw.dnf)?;
    let oci = oci::oci(&cx, raw.oci)?;

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
        remove: sys.remove,
        services,
        hostname: sys.hostname,
        fstab: sys.fstab,
        empty_machine_id: sys.empty_machine_id,
        dnf,
        network,
        pxe,
        dhcp,
        hosts,
        oci,
        host_files: cx.host_files.into_inner(),
    })
}

struct Cx<'a> {
    st: &'a SourceText<'a>,
    dir: &'a Path,
    /// Host paths outside `dir` the command line allowed (canonical; files or folders).
    allowed: &'a [PathBuf],
    /// The allowed host files the profile names, in the order met.
    host_files: std::cell::RefCell<Vec<HostFile>>,
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

    /// A file the build reads from the host (`[[file]] source`, `root.password_file`,
    /// `repo_files`): relative to the profile's folder, existing, and, after symlinks,
    /// inside that folder, unless the command line allowed it (`--allow-host-path`; it is
    /// then recorded in [`Profile::host_files`]). Returns the canonical path, so what is
    /// read later is what was checked here.
    fn existing_file(&self, s: &Spanned<String>, field: &str) -> Result<PathBuf, Diagnostic> {
        let p = self.dir.join(s.get_ref());
        let canonical = self.existing(s, field, &p)?;
        if canonical.starts_with(self.dir) {
            return Ok(canonical);
        }
        if self.allowed.iter().any(|a| canonical.starts_with(a)) {
            // Recorded as written (joined to the profile's folder), not resolved: the same
            // profile on another host names the same file even where symlinks differ.
            self.host_files.borrow_mut().push(HostFile {
                field: field.to_string(),
                path: p.clone(),
            });
            return Ok(canonical);
        }
        let written = s.get_ref();
        let resolves = if Path::new(written) == canonical {
            String::new()
        } else {
            format!(" resolves to `{}`, which", canonical.display())
        };
        Err(self
            .loc(s.span(), field)
            .err(format!(
                "`{written}`{resolves} is outside the profile's folder `{}`: a profile reads host files only from its own folder",
                self.dir.display()
            ))
            .with_hint(format!(
                "copy the file next to the profile, or, if this build may read it (it can end up in the image, which is public on the network), name it on the command line: `--allow-host-path {}`",
                p.display()
            )))
    }

    /// `p` (written as `s`) exists and is a file: its canonical path.
    fn existing(&self, s: &Spanned<String>, field: &str, p: &Path) -> Result<PathBuf, Diagnostic> {
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
        fs_err::canonicalize(p).map_err(|e| {
            self.loc(s.span(), field)
                .err(format!("Cannot resolve `{}`: {e}", s.get_ref()))
        })
    }
}

// Checks more than one table uses.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(check_hostname("diskless-1.domain.local").is_ok());
        assert!(check_hostname("-bad").is_err());
    }
}
