//! `SHA256SUMS` in `sha256sum` format (`<hex>  <path>`), sorted by path, over every file of
//! an output directory; and the check `diskless verify` runs against it.

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "SHA256SUMS";

#[derive(Debug, thiserror::Error)]
pub enum SumsError {
    #[error("Cannot read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: not a `sha256sum` line (expected `<64 hex>  <path>`)")]
    BadLine { path: PathBuf, line: usize },
    #[error("`{path}` is not valid UTF-8 or contains a newline; artifact paths must be plain")]
    BadName { path: PathBuf },
}

/// sha256 of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String, SumsError> {
    let err = |source| SumsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs_err::File::open(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Every regular file under `root` (relative, `/`-separated, sorted), except `skip`.
pub fn list_files(root: &Path, skip: &[&str]) -> Result<Vec<String>, SumsError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for e in fs_err::read_dir(&dir).map_err(|source| SumsError::Io {
            path: dir.clone(),
            source,
        })? {
            let e = e.map_err(|source| SumsError::Io {
                path: dir.clone(),
                source,
            })?;
            let name = e.file_name();
            let r = rel.join(&name);
            let ft = e.file_type().map_err(|source| SumsError::Io {
                path: e.path(),
                source,
            })?;
            if ft.is_dir() {
                stack.push(r);
            } else {
                let s = r
                    .to_str()
                    .filter(|s| !s.contains('\n'))
                    .ok_or_else(|| SumsError::BadName { path: e.path() })?;
                if !skip.contains(&s) {
                    out.push(s.to_string());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Digests of every file under `root` except `skip`, hashed in parallel, keyed by path.
pub fn digest_tree(root: &Path, skip: &[&str]) -> Result<BTreeMap<String, String>, SumsError> {
    digest_tree_known(root, skip, &BTreeMap::new())
}

/// [`digest_tree`], taking the digests of `known` files (hashed as they were written)
/// instead of reading them again.
pub fn digest_tree_known(
    root: &Path,
    skip: &[&str],
    known: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, SumsError> {
    let files = list_files(root, skip)?;
    let digests: Result<Vec<String>, SumsError> = files
        .par_iter()
        .map(|f| match known.get(f) {
            Some(d) => Ok(d.clone()),
            None => file_sha256(&root.join(f)),
        })
        .collect();
    Ok(files.into_iter().zip(digests?).collect())
}

pub fn render(sums: &BTreeMap<String, String>) -> String {
    sums.iter().map(|(p, d)| format!("{d}  {p}\n")).collect()
}

pub fn parse(text: &str, path: &Path) -> Result<BTreeMap<String, String>, SumsError> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = || SumsError::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
        };
        let (d, p) = line
            .split_once("  ")
            .or_else(|| line.split_once(" *"))
            .ok_or_else(bad)?;
        if d.len() != 64 || !d.chars().all(|c| c.is_ascii_hexdigit()) || p.is_empty() {
            return Err(bad());
        }
        out.insert(p.to_string(), d.to_ascii_lowercase());
    }
    Ok(out)
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub ok: Vec<String>,
    /// (path, expected, actual)
    pub mismatched: Vec<(String, String, String)>,
    pub missing: Vec<String>,
    /// Files in the directory that the sums do not list.
    pub unlisted: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.mismatched.is_empty() && self.missing.is_empty() && self.unlisted.is_empty()
    }
}

/// Check `out` against `sums` (paths relative to `out`).
pub fn verify(
    out: &Path,
    sums: &BTreeMap<String, String>,
    sums_file_name: Option<&str>,
) -> Result<VerifyReport, SumsError> {
    let mut skip = vec![FILE_NAME];
    if let Some(n) = sums_file_name {
        skip.push(n);
    }
    let present = list_files(out, &skip)?;
    let results: Vec<(String, Result<Option<String>, SumsError>)> = sums
        .par_iter()
        .map(|(p, _)| {
            let full = out.join(p);
            let r = if full.is_file() {
                file_sha256(&full).map(Some)
            } else {
                Ok(None)
            };
            (p.clone(), r)
        })
        .collect();
    let mut rep = VerifyReport::default();
    for (p, r) in results {
        match r? {
            None => rep.missing.push(p),
            Some(actual) if actual == sums[&p] => rep.ok.push(p),
            Some(actual) => rep.mismatched.push((p.clone(), sums[&p].clone(), actual)),
        }
    }
    rep.unlisted = present
        .into_iter()
        .filter(|p| !sums.contains_key(p))
        .collect();
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256sum_accepts_our_format() {
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(d.path().join("a/b")).unwrap();
        fs_err::write(d.path().join("a/b/x"), b"x").unwrap();
        fs_err::write(d.path().join("z"), b"z").unwrap();
        let sums = digest_tree(d.path(), &[FILE_NAME]).unwrap();
        let text = render(&sums);
        assert!(
            text.starts_with(
                "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  a/b/x\n"
            ),
            "{text}"
        );
        fs_err::write(d.path().join(FILE_NAME), &text).unwrap();
        let st = std::process::Command::new("sha256sum")
            .arg("--check")
            .arg("--quiet")
            .arg(FILE_NAME)
            .current_dir(d.path())
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(parse(&text, Path::new("S")).unwrap(), sums);
        fs_err::write(d.path().join("z"), b"changed").unwrap();
        fs_err::write(d.path().join("new"), b"").unwrap();
        let rep = verify(d.path(), &sums, None).unwrap();
        assert_eq!(rep.mismatched.len(), 1);
        assert_eq!(rep.unlisted, ["new"]);
        assert!(!rep.is_ok());
        let e = parse("abc  x\n", Path::new("SUMS"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "SUMS:1: not a `sha256sum` line (expected `<64 hex>  <path>`)"
        );
    }
}
