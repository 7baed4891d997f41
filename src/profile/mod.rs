//! The profile: what the admin asked for, read from TOML and validated.
//!
//! First stage of the pipeline. [`load`] reads a profile file and the `.repo` files it names
//! and returns a [`Profile`] in which every value is checked, defaults are filled in, relative
//! paths are absolute and dnf variables are substituted; later stages never see raw TOML.
//! Errors name `file:line:column` and the field ([`ProfileError`]). The format is documented
//! field by field in `docs/profile.md`.

mod digest;
mod error;
mod model;
mod network;
mod repofile;
mod schema;
pub mod template;
mod validate;
mod values;

pub use crate::net::addr::{Ipv4Net, Mac};
pub use error::{Diagnostic, ProfileError};
pub use model::*;
pub use values::{AutoBool, Compression, Mode};

use error::{SourceText, did_you_mean};
use std::path::{Path, PathBuf};

/// Read, check and resolve the profile at `path`. Host files it names (`[[file]] source`,
/// `root.password_file`, `repo_files`) must be inside its folder: see [`load_allowing`].
pub fn load(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
    load_allowing(path, &[])
}

/// [`load`], with host files outside the profile's folder allowed when they are, or are
/// under, one of `allowed` (the command line's `--allow-host-path`: files or folders).
pub fn load_allowing(path: impl AsRef<Path>, allowed: &[PathBuf]) -> Result<Profile, ProfileError> {
    let path = path.as_ref();
    let text = fs_err::read_to_string(path)?;
    let abs = std::path::absolute(path)?;
    let dir = abs.parent().unwrap_or(Path::new("/"));
    let dir = fs_err::canonicalize(dir)?;
    from_str_allowing(path, &dir, &text, allowed)
}

/// Parse profile text as if it were the file `path` in folder `dir` (absolute).
pub fn from_str(path: &Path, dir: &Path, text: &str) -> Result<Profile, ProfileError> {
    from_str_allowing(path, dir, text, &[])
}

/// [`from_str`] with host paths allowed as in [`load_allowing`].
pub fn from_str_allowing(
    path: &Path,
    dir: &Path,
    text: &str,
    allowed: &[PathBuf],
) -> Result<Profile, ProfileError> {
    let st = SourceText { path, text };
    let raw = parse_raw(&st)?;
    // Compare canonical paths: `/tmp/x` may be a symlink to where the file really is.
    let allowed: Vec<PathBuf> = allowed
        .iter()
        .map(|a| {
            std::path::absolute(a)
                .and_then(fs_err::canonicalize)
                .unwrap_or_else(|_| a.clone())
        })
        .collect();
    validate::build(path, dir, text, raw, &allowed)
}

fn parse_raw(st: &SourceText) -> Result<schema::RawProfile, ProfileError> {
    let de = toml::Deserializer::parse(st.text).map_err(|e| toml_error(st, &e, None))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = field_path(e.path());
        toml_error(st, e.inner(), Some(path)).into()
    })
}

/// `repo[0].baseurl` from serde_path_to_error's path.
fn field_path(p: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut s = String::new();
    for seg in p.iter() {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("[{index}]")),
            // toml's `Spanned` wrapper shows up as a private key: not part of the user's path.
            Segment::Map { key } if key.starts_with("$__serde_spanned") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    s
}

/// The table a field path points into, as the user wrote it (`repo[0].x` -> `[[repo]]`).
fn table_of(path: &str) -> String {
    match path.rsplit_once('.') {
        None => "the top level".to_string(),
        Some((t, _)) => {
            if let Some((name, _)) = t.rsplit_once('[').filter(|_| t.ends_with(']')) {
                format!("`[[{name}]]`")
            } else {
                format!("`[{t}]`")
            }
        }
    }
}

/// serde's type words in the words of a TOML user.
fn plain_type(t: &str) -> String {
    let t = t.trim();
    match t {
        "u8" | "u16" | "u32" | "u64" => return "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" => return "an integer".into(),
        "a sequence" | "sequence" => return "an array".into(),
        "map" | "a map" => return "a table".into(),
        _ => {}
    }
    if t.starts_with("struct ") {
        return "a table".into();
    }
    t.to_string()
}

/// Turn a TOML/serde error into a located diagnostic with our wording and a hint.
fn toml_error(st: &SourceText, e: &toml::de::Error, path: Option<String>) -> error::Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let msg = e.message().trim_end_matches('\n').trim_end_matches('.');
    let field = path.clone().unwrap_or_default();
    let Some(path) = path else {
        // A TOML syntax error.
        let m = msg
            .strip_prefix("invalid ")
            .map_or(msg.to_string(), |r| format!("Invalid {r}"));
        return st.diag(span, "", format!("TOML syntax error: {m}"));
    };
    let shown = if path.is_empty() {
        "the profile".to_string()
    } else {
        format!("`{path}`")
    };
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // serde_path_to_error's path for an unknown key includes the key itself.
        let table = table_of(&path);
        let message = if path.contains('.') {
            format!("Unknown field `{name}` in {table}")
        } else {
            format!("Unknown top-level table or key `{name}`")
        };
        let mut d = st.diag(span, &path, message);
        d.hint = Some(if name == "repo_files" && path.starts_with("repo[") {
            "`repo_files` is a top-level key: TOML puts a key written after a `[[repo]]` header into that repo, so move it above the first table".to_string()
        } else if let Some(m) = did_you_mean(name, candidates.iter().copied()) {
            format!("did you mean `{m}`?")
        } else if candidates.is_empty() {
            format!("{table} takes no fields")
        } else {
            format!("expected one of: {}", candidates.join(", "))
        });
        return d;
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let full = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return st.diag(span, &full, format!("Missing field `{full}`"));
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return st.diag(
                span,
                &path,
                format!(
                    "Wrong type for {shown}: expected {}, found {}",
                    plain_type(expected),
                    plain_type(found)
                ),
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let mut d = st.diag(
            span,
            &path,
            format!("`{name}` is not a valid value for {shown}"),
        );
        d.hint = Some(match did_you_mean(name, candidates.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None => format!("expected one of: {}", candidates.join(", ")),
        });
        return d;
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        return st.diag(span, &path, format!("Invalid value for {shown}: {rest}"));
    }
    let _ = &field;
    st.diag(span, &path, format!("Invalid {shown}: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared sketch (../shared/guide/profile-sketch.toml), verbatim: its keys must keep working.
    const SKETCH: &str = include_str!("testdata/profile-sketch.toml");

    fn load_str(text: &str) -> Result<Profile, ProfileError> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        from_str(Path::new("profile.toml"), &dir, text)
    }

    #[test]
    fn sketch_loads() {
        let p = load_str(SKETCH).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.image.name, "diskless");
        assert_eq!(p.image.compression, Compression::Gzip { level: 9 });
        assert_eq!(p.repos.len(), 2);
        assert_eq!(p.repos[0].id, "appstream");
        assert_eq!(
            p.repos[1].baseurl,
            ["https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"]
        );
        assert_eq!(p.repos[1].priority, 99);
        assert_eq!(p.packages.install.len(), 11);
        assert_eq!(
            p.symlinks,
            [Symlink {
                path: "/init".into(),
                target: "sbin/init".into()
            }]
        );
        assert_eq!(p.services.enable, ["sshd.service"]);
        assert_eq!(p.hosts[1].mac.to_string(), "aa:bb:cc:dd:ee:02");
        assert_eq!(
            p.dhcp.as_ref().unwrap().subnet.to_string(),
            "192.168.0.0/24"
        );
        assert_eq!(p.pxe.timeout, 150);
        assert_eq!(p.files[1].mode, 0o600);
        assert!(
            matches!(&p.files[1].data, FileData::Source(s) if s.ends_with("files/eth0.nmconnection"))
        );
        assert_eq!(
            p.oci.annotations["org.opencontainers.image.source"],
            "https://github.com/example/cluster"
        );
    }

    fn err(text: &str) -> Diagnostic {
        match load_str(text) {
            Ok(_) => panic!("expected an error"),
            Err(ProfileError::Invalid(d)) => *d,
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }

    const MIN: &str = "[image]\nname = \"t\"\narch = \"x86_64\"\nreleasever = \"9\"\n";

    #[test]
    fn unknown_field_is_located_with_hint() {
        let d = err(&format!(
            "{MIN}[[repo]]\nid = \"a\"\nbaseurll = \"https://x/\"\n"
        ));
        assert_eq!((d.line, d.column), (7, 1), "{d}");
        assert_eq!(d.field, "repo[0].baseurll");
        assert_eq!(d.hint.as_deref(), Some("did you mean `baseurl`?"));
    }

    #[test]
    fn resolution_digest_ignores_image_only_fields() {
        let a = load_str(SKETCH).unwrap();
        let b = load_str(&SKETCH.replace("menu_title = \"PXE Menu\"", "menu_title = \"Other\""))
            .unwrap();
        let c = load_str(&SKETCH.replace("\"vim-minimal\"", "\"vim-enhanced\"")).unwrap();
        assert_eq!(a.resolution_digest(), b.resolution_digest());
        assert_ne!(a.resolution_digest(), c.resolution_digest());
        assert_eq!(a.resolution_digest().len(), 64);
    }
}
