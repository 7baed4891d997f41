//! Emit-stage benchmark helper (driven by bench/emit.sh).
//!
//! `emit import DIR STATE`: read a directory (an extracted root filesystem) into a tree and
//! a content store under STATE, as rootfs would hand them to emit (hardlinks as link
//! groups, devices as device entries).
//! `emit run STATE OUT [gzip|zstd|xz|none]`: write the initramfs from STATE exactly as
//! `diskless build` does (sorted newc + deterministic parallel compression), printing the
//! output size. bench/emit.sh times this step with GNU time against
//! `find . | cpio -o -H newc | gzip -9` on the same directory.

use diskless::emit::{compress, cpio};
use diskless::rootfs::store::Store;
use diskless::rootfs::tree::{Entry, EntryKind, Tree};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn import(dir: &Path, state: &Path) -> anyhow::Result<()> {
    let store = Store::new(state.join("store"))?;
    let mut tree = Tree::default();
    let mut links: BTreeMap<(u64, u64), u32> = BTreeMap::new();
    let mut stack = vec![(dir.to_path_buf(), "/".to_string())];
    while let Some((p, ip)) = stack.pop() {
        let m = fs_err::symlink_metadata(&p)?;
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            for e in fs_err::read_dir(&p)? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                let child = if ip == "/" {
                    format!("/{name}")
                } else {
                    format!("{ip}/{name}")
                };
                stack.push((e.path(), child));
            }
            EntryKind::Dir
        } else if ft.is_symlink() {
            EntryKind::Symlink {
                target: fs_err::read_link(&p)?.to_string_lossy().into_owned(),
            }
        } else if ft.is_file() {
            let (digest, size) = store.put_reader(fs_err::File::open(&p)?)?;
            let link_group = (m.nlink() > 1).then(|| {
                let n = links.len() as u32;
                *links.entry((m.dev(), m.ino())).or_insert(n)
            });
            EntryKind::File {
                digest,
                size,
                link_group,
            }
        } else if ft.is_char_device() || ft.is_block_device() {
            let (major, minor) = (
                ((m.rdev() >> 8) & 0xfff) as u32,
                ((m.rdev() & 0xff) | ((m.rdev() >> 12) & 0xfff00)) as u32,
            );
            if ft.is_char_device() {
                EntryKind::CharDev { major, minor }
            } else {
                EntryKind::BlockDev { major, minor }
            }
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else {
            EntryKind::Socket
        };
        tree.entries.insert(
            ip,
            Entry {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                mtime: m.mtime().max(0) as u64,
                owner_package: None,
                caps: None,
            },
        );
    }
    fs_err::write(state.join("tree.json"), serde_json::to_vec(&tree)?)?;
    eprintln!("imported {} entries", tree.entries.len());
    Ok(())
}

fn run(state: &Path, out: &Path, comp: &str) -> anyhow::Result<()> {
    let tree: Tree = serde_json::from_slice(&fs_err::read(state.join("tree.json"))?)?;
    let store = Store::new(state.join("store"))?;
    let c = compress::Compression::parse(comp)
        .ok_or_else(|| anyhow::anyhow!("unknown compression `{comp}`"))?;
    let f = fs_err::File::create(out)?;
    let mut w = compress::Compressor::new(c, std::io::BufWriter::with_capacity(1 << 20, f))?;
    let stats = cpio::write_tree(&tree, &store, 1_700_000_000, &mut w)?;
    w.finish()?.flush()?;
    println!(
        "entries={} cpio_bytes={} out_bytes={}",
        stats.entries,
        stats.bytes,
        fs_err::metadata(out)?.len()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["import", dir, state] => import(Path::new(dir), Path::new(state)),
        ["run", state, out] => run(Path::new(state), Path::new(out), "gzip"),
        ["run", state, out, comp] => run(Path::new(state), Path::new(out), comp),
        _ => anyhow::bail!("usage: emit import DIR STATE | emit run STATE OUT [gzip|zstd|xz|none]"),
    }
}
