//! Is `--out` already this build? The no-change rebuild, answered like make or ninja
//! answer it: from what went in and what the output folder looks like, without building.
//!
//! A finished build leaves a stamp in the cache (`builds/`, keyed by the output folder's
//! absolute path): a digest of every input that decides the output's bytes (this binary,
//! the whole loaded profile, the bytes of every file it names, the lock's bytes,
//! SOURCE_DATE_EPOCH), and a stat record (size, mtime, ctime, inode, mode) of every entry
//! of the output as it was renamed into place. A later build with the same inputs whose
//! output still matches every record leaves it alone.
//!
//! Why stat records and not digests: hashing the output (the image, its OCI copies) costs
//! about as much as the segment reuse the build does anyway; a changed, replaced, added or
//! removed output file changes a record (rename and copy give a new inode, writes a new
//! mtime and ctime, chmod a new ctime). Checking the bytes is `diskless verify`, and
//! `--rebuild` builds regardless. A missing or damaged stamp only means a full build.

use super::Plan;
use crate::cas;
use crate::profile::FileData;
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const STAMP_KIND: [u8; 4] = *b"outs";
const STAMP_VERSION: u32 = 1;

/// What was published into an output folder, and from what.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    inputs: [u8; 32],
    entries: OutputStat,
}

/// The stat records of an output folder's entries, sorted by path ([`stat_tree`]).
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputStat(Vec<EntryStat>);

/// One entry of the output folder (the folder itself excluded: publishing renames it).
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct EntryStat {
    /// Relative to the output folder, as bytes (paths are whatever the file system holds).
    path: Vec<u8>,
    mode: u32,
    size: u64,
    ino: u64,
    dev: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// The digest of everything that decides the output's bytes. `None` when this binary or a
/// file the profile names cannot be read (then the build runs, and reports the latter).
pub fn inputs_digest(plan: &Plan, lock_bytes: &[u8], source_date_epoch: u64) -> Option<[u8; 32]> {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"diskless output inputs v1");
    field(env!("CARGO_PKG_VERSION").as_bytes());
    // The binary itself, by identity: a rebuilt diskless (same version, new code) is a new
    // input. Hashing it would cost more than the whole check.
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    for n in [exe.dev(), exe.ino(), exe.size()] {
        field(&n.to_le_bytes());
    }
    field(&exe.mtime().to_le_bytes());
    field(&exe.mtime_nsec().to_le_bytes());
    let p = &plan.profile;
    field(&serde_json::to_vec(p).ok()?);
    // The files the profile names: their bytes now, not their paths; each once (a host file
    // is also a `[[file]]` source).
    let sources: std::collections::BTreeSet<&Path> = p
        .files
        .iter()
        .chain(p.hosts.iter().flat_map(|h| h.files.iter()))
        .filter_map(|f| match &f.data {
            FileData::Source(s) => Some(s.as_path()),
            FileData::Content(_) => None,
        })
        .chain(p.root.password_file.as_deref())
        .chain(p.host_files.iter().map(|h| h.path.as_path()))
        .collect();
    for s in sources {
        field(&std::fs::read(s).ok()?);
    }
    field(lock_bytes);
    field(&source_date_epoch.to_le_bytes());
    Some(h.finalize().into())
}

/// The stat records of `dir`'s entries, sorted by path.
pub fn stat_tree(dir: &Path) -> std::io::Result<OutputStat> {
    let mut entries = Vec::new();
    walk(dir, Path::new(""), &mut entries)?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(OutputStat(entries))
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<EntryStat>) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    for e in std::fs::read_dir(root.join(rel))? {
        let e = e?;
        let path = rel.join(e.file_name());
        let m = std::fs::symlink_metadata(root.join(&path))?;
        out.push(EntryStat {
            path: path.as_os_str().as_bytes().to_vec(),
            mode: m.mode(),
            size: m.size(),
            ino: m.ino(),
            dev: m.dev(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        });
        if m.is_dir() {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}

/// The stamp's key: the output folder's absolute path.
fn key(out: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::path::absolute(out).ok()?;
    let mut h = Sha256::new();
    h.update(b"output folder\0");
    h.update(abs.as_os_str().as_bytes());
    Some(hex::encode(h.finalize()))
}

fn stamps(cache_dir: &Path) -> cas::Dir {
    cas::Dir::new(cache_dir.join(super::cache::BUILDS_DIR))
}

/// Whether `out` holds the build of `inputs`, untouched since it was published.
pub fn is_up_to_date(cache_dir: &Path, out: &Path, inputs: &[u8; 32]) -> bool {
    let Some(k) = key(out) else { return false };
    let dir = stamps(cache_dir);
    let Some(body) = dir.get_sealed(&k, STAMP_KIND, STAMP_VERSION) else {
        return false;
    };
    let Ok(stamp) = postcard::from_bytes::<Stamp>(&body) else {
        return false;
    };
    if &stamp.inputs != inputs {
        return false;
    }
    let same = stat_tree(out).is_ok_and(|now| now == stamp.entries);
    if same {
        // Used now: `gc --max-age` keeps it.
        dir.touch(&k);
    }
    same
}

/// Record that `out` now holds the build of `inputs` whose entries were `entries`
/// ([`stat_tree`] of the work folder, taken before the rename: a build publishing into
/// the same folder at the same moment then leaves a stamp that matches nothing). Failures
/// are logged only: the next build is then a full one.
pub fn record(cache_dir: &Path, out: &Path, inputs: &[u8; 32], entries: OutputStat) {
    let Some(k) = key(out) else { return };
    let stamp = Stamp {
        inputs: *inputs,
        entries,
    };
    let written = postcard::to_allocvec(&stamp)
        .map_err(std::io::Error::other)
        .and_then(|body| stamps(cache_dir).put_sealed(&k, STAMP_KIND, STAMP_VERSION, &body));
    if let Err(e) = written {
        tracing::warn!("cannot record the build of `{}`: {e}", out.display());
    }
}

/// Forget `out`'s stamp: it is about to be replaced.
pub fn forget(cache_dir: &Path, out: &Path) {
    if let Some(p) = key(out).and_then(|k| stamps(cache_dir).path(&k).ok()) {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touched_added_or_removed_entry_is_not_up_to_date() {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, out) = (tmp.path().join("cache"), tmp.path().join("out"));
        fs_err::create_dir_all(out.join("sub")).unwrap();
        fs_err::write(out.join("sub/a"), b"a").unwrap();
        fs_err::write(out.join("b"), b"b").unwrap();
        let inputs = [7; 32];
        assert!(!is_up_to_date(&cache, &out, &inputs), "no stamp yet");
        record(&cache, &out, &inputs, stat_tree(&out).unwrap());
        assert!(is_up_to_date(&cache, &out, &inputs));
        assert!(!is_up_to_date(&cache, &out, &[8; 32]), "other inputs");

        // Same size, same content: a new inode (editors and cp write a new file).
        fs_err::write(out.join("sub/a.new"), b"a").unwrap();
        fs_err::rename(out.join("sub/a.new"), out.join("sub/a")).unwrap();
        assert!(!is_up_to_date(&cache, &out, &inputs));
        record(&cache, &out, &inputs, stat_tree(&out).unwrap());
        assert!(is_up_to_date(&cache, &out, &inputs));

        // A mode change (ctime), an added file, a removed one.
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(out.join("b"), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!is_up_to_date(&cache, &out, &inputs));
        record(&cache, &out, &inputs, stat_tree(&out).unwrap());
        fs_err::write(out.join("sub/extra"), b"").unwrap();
        assert!(!is_up_to_date(&cache, &out, &inputs));
        fs_err::remove_file(out.join("sub/extra")).unwrap();
        record(&cache, &out, &inputs, stat_tree(&out).unwrap());
        fs_err::remove_file(out.join("b")).unwrap();
        assert!(!is_up_to_date(&cache, &out, &inputs));

        forget(&cache, &out);
        record(&cache, &out, &inputs, stat_tree(&out).unwrap());
        forget(&cache, &out);
        assert!(!is_up_to_date(&cache, &out, &inputs), "forgotten");
    }
}
