//! `depmod -a <kver>` done declaratively: the module index files modprobe and udev read,
//! computed from the kernel modules in the tree instead of by running the kernel package's
//! scriptlet.
//!
//! [`assemble`](super::assemble) calls [`run`] once the packages are extracted and the
//! profile's customisations applied, for every `/usr/lib/modules/<kver>` (or
//! `/lib/modules/<kver>`) holding modules. Each module (`.ko`, `.ko.xz`, `.ko.zst`,
//! `.ko.gz`) is read from the content store, decompressed and its ELF64 little-endian
//! sections read: `.modinfo` (aliases, softdeps, devnames) and `.symtab`: the
//! `__ksymtab_<name>` symbols are the exports (`__ksymtab_strings` also holds symbol
//! namespaces, so it is only a fallback), the undefined symbols decide the dependencies, as
//! depmod decides them (`depends=` is only what modpost saw).
//!
//! The output follows kmod's depmod (version 30, checked byte for byte against it in
//! `tests/it/depmod.rs`): the text files `modules.dep`, `modules.alias`, `modules.softdep`,
//! `modules.symbols`, `modules.devname`, and kmod's binary indexes `modules.dep.bin`,
//! `modules.alias.bin`, `modules.symbols.bin`, `modules.builtin.bin` and
//! `modules.builtin.alias.bin` (a trie: magic 0xB007F457, version 2.1, big-endian words;
//! see [`Index`]). `modules.order`, `modules.builtin` and `modules.builtin.modinfo` stay as
//! shipped and only feed the order and the builtin indexes. Two of depmod's own orders are
//! replayed because they show in the bytes: the module order (modules.order, then the
//! rest) and kmod's symbol hash table order in `modules.symbols`. Modules of the same name
//! in several directories are chosen by the image's depmod.d `search` lines.
//!
//! Where depmod depends on the host, diskless is stable instead: modules missing from
//! modules.order (kmods in `extra/`, `updates/`) and same-priority duplicates are taken in
//! path order, where depmod takes them in directory-reading order. Symlinked modules (EL's
//! `weak-modules` links in `weak-updates/`) are not followed, and depmod.d `override` and
//! `external` lines are not read.
//!
//! A module file that is not a valid module (not ELF64 little-endian, no `.modinfo`, bad
//! compression) is left out with a note naming it and its package, as depmod leaves it
//! out with a warning: the package was built and signed that way, so failing the build
//! would only stop images that depmod itself would have produced. A directory without
//! any valid module gets no index files. A store read failure or a dependency loop is an
//! error.

use super::store::Store;
use super::tree::{EntryKind, Tree};
use crate::codec::{self, Compression};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;

#[derive(Debug, thiserror::Error)]
pub enum DepmodError {
    #[error("Cannot read kernel module `{path}` of `{package}`")]
    Read {
        path: String,
        package: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Kernel module `{path}` of `{package}` is not a valid module: {reason}")]
    Corrupt {
        path: String,
        package: String,
        reason: String,
    },
    #[error("Kernel modules in `{dir}` depend on each other in a loop: {modules}")]
    Cycle { dir: String, modules: String },
}

/// The index files depmod writes (text and binary), in the order written.
pub const GENERATED: &[&str] = &[
    "modules.dep",
    "modules.dep.bin",
    "modules.alias",
    "modules.alias.bin",
    "modules.softdep",
    "modules.symbols",
    "modules.symbols.bin",
    "modules.builtin.alias.bin",
    "modules.builtin.bin",
    "modules.devname",
];

const EXTENSIONS: &[&str] = &[".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

/// What depmod needs from one module file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleInfo {
    /// `.modinfo` as (key, value), in section order.
    pub info: Vec<(String, String)>,
    /// Exported symbols, in section order.
    pub exports: Vec<String>,
    /// Undefined symbols (the module needs them), in symbol table order.
    pub undefined: Vec<String>,
}

/// One module file: its path relative to the modules directory and what it holds.
#[derive(Debug, Clone)]
pub struct Module {
    pub relpath: String,
    pub info: ModuleInfo,
}

/// Where kernels keep their modules folders (`<base>/<kver>`), merged-/usr first.
pub const MODULE_BASES: [&str; 2] = ["/usr/lib/modules", "/lib/modules"];

/// The `/usr/lib/modules/<kver>` (or `/lib/modules/<kver>`) directories of `tree` that
/// hold at least one module file, sorted.
pub fn module_dirs(tree: &Tree) -> Vec<String> {
    let mut dirs = BTreeSet::new();
    for base in MODULE_BASES.map(|b| format!("{b}/")) {
        for (path, e) in tree.entries.range(base.clone()..) {
            let Some(rest) = path.strip_prefix(base.as_str()) else {
                break;
            };
            if let (Some((kver, rel)), EntryKind::File { .. }) = (rest.split_once('/'), &e.kind) {
                if is_module_path(rel) {
                    dirs.insert(format!("{base}{kver}"));
                }
            }
        }
    }
    dirs.into_iter().collect()
}

/// Whether depmod looks at `rel` (relative to the modules directory): a module file not
/// under a `build` or `source` directory (links to the kernel sources).
fn is_module_path(rel: &str) -> bool {
    EXTENSIONS.iter().any(|x| rel.ends_with(x))
        && !rel
            .split('/')
            .any(|c| c == "build" || c == "source" || c.is_empty())
}

/// What [`run`] made of one modules directory.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The index files (file name, bytes) in [`GENERATED`] order; none when no module
    /// could be read.
    pub files: Vec<(String, Vec<u8>)>,
    /// Module files that are not valid modules ([`DepmodError::Corrupt`]), left out of
    /// the indexes as depmod leaves them out (with a warning).
    pub skipped: Vec<DepmodError>,
}

/// Module facts kept beside a cached store (`<cache>/depmod/`), by the digest of the
/// module set.
pub const MEMO_DIR: &str = "depmod";
const MEMO_KIND: [u8; 4] = *b"kmod";
const INDEX_KIND: [u8; 4] = *b"kidx";
/// Bumped whenever [`parse_module`] would read other facts from the same bytes, or
/// [`generate`] write other indexes from the same facts.
const MEMO_VERSION: u32 = 1;

/// What each module file holds (or why it is not a valid module), in `files` order: read
/// from the store and parsed in parallel, or, when the same set of modules (paths and
/// contents) was read before, taken from the store's memo ([`Store::memo`]).
fn module_facts(
    files: &[(String, crate::rootfs::tree::Digest, Option<String>)],
    store: &Store,
    prefix: &str,
) -> Result<(String, Vec<Result<ModuleInfo, String>>), DepmodError> {
    let memo = store.memo(MEMO_DIR);
    let key = {
        let mut k = crate::cas::KeyHasher::new("diskless depmod module facts");
        for (rel, digest, _) in files {
            k.part(rel.as_bytes()).part(&digest.0);
        }
        k.finish()
    };
    let kept = memo
        .as_ref()
        .and_then(|m| m.get_sealed(&key, MEMO_KIND, MEMO_VERSION))
        .and_then(|b| postcard::from_bytes::<Vec<Result<ModuleInfo, String>>>(&b).ok())
        .filter(|v| v.len() == files.len());
    if let Some(v) = kept {
        if let Some(m) = &memo {
            m.touch(&key);
        }
        return Ok((key, v));
    }
    let package = |p: &Option<String>| p.clone().unwrap_or_else(|| "(generated)".into());
    // Outer error: the store failed; inner: the module is not a valid module.
    let facts = files
        .par_iter()
        .map(|(rel, digest, owner)| {
            let raw = store.read(digest).map_err(|source| DepmodError::Read {
                path: format!("{prefix}{rel}"),
                package: package(owner),
                source,
            })?;
            Ok(decompress(rel, &raw).and_then(|b| parse_module(&b)))
        })
        .collect::<Result<Vec<_>, DepmodError>>()?;
    if let Some(m) = &memo {
        let written = postcard::to_allocvec(&facts)
            .map_err(std::io::Error::other)
            .and_then(|b| m.put_sealed(&key, MEMO_KIND, MEMO_VERSION, &b));
        if let Err(e) = written {
            tracing::debug!("cannot keep the kernel module facts: {e}");
        }
    }
    Ok((key, facts))
}

/// Compute the index files for the modules directory `dir` of `tree`.
pub fn run(tree: &Tree, store: &Store, dir: &str) -> Result<Outcome, DepmodError> {
    let prefix = format!("{dir}/");
    let mut files = Vec::new();
    for (path, e) in tree.descendants(dir) {
        let (EntryKind::File { digest, .. }, Some(rel)) = (&e.kind, path.strip_prefix(&prefix))
        else {
            continue;
        };
        if is_module_path(rel) {
            files.push((rel.to_string(), *digest, e.owner_package.clone()));
        }
    }
    let package = |p: &Option<String>| p.clone().unwrap_or_else(|| "(generated)".into());
    let (facts_key, facts) = module_facts(&files, store, &prefix)?;
    let parsed = files.iter().zip(facts).map(|((rel, _, owner), fact)| {
        fact.map(|info| Module {
            relpath: rel.clone(),
            info,
        })
        .map_err(|reason| DepmodError::Corrupt {
            path: format!("{prefix}{rel}"),
            package: package(owner),
            reason,
        })
    });
    let mut modules = Vec::new();
    let mut skipped = Vec::new();
    for r in parsed {
        match r {
            Ok(m) => modules.push(m),
            Err(e) => skipped.push(e),
        }
    }
    if modules.is_empty() {
        return Ok(Outcome {
            files: Vec::new(),
            skipped,
        });
    }
    let shipped =
        |name: &str| -> Result<Option<Vec<u8>>, DepmodError> {
            let path = format!("{prefix}{name}");
            match tree.get(&path).map(|e| (&e.kind, &e.owner_package)) {
                Some((EntryKind::File { digest, .. }, owner)) => store
                    .read(digest)
                    .map(Some)
                    .map_err(|source| DepmodError::Read {
                        path,
                        package: package(owner),
                        source,
                    }),
                _ => Ok(None),
            }
        };
    let order = shipped("modules.order")?;
    let builtin = shipped("modules.builtin")?;
    let builtin_modinfo = shipped("modules.builtin.modinfo")?;
    let search = tree_search(tree, store)?;
    // The index files are a function of the module facts and of these inputs: kept too.
    let memo = store.memo(MEMO_DIR);
    let key = {
        let mut k = crate::cas::KeyHasher::new("diskless depmod indexes");
        k.part(facts_key.as_bytes()).part(dir.as_bytes());
        for shipped in [&order, &builtin, &builtin_modinfo] {
            match shipped {
                Some(b) => k.part(b"some").part(b),
                None => k.part(b"none"),
            };
        }
        k.part(format!("{search:?}").as_bytes());
        k.finish()
    };
    let kept = memo
        .as_ref()
        .and_then(|m| m.get_sealed(&key, INDEX_KIND, MEMO_VERSION))
        .and_then(|b| postcard::from_bytes::<Vec<(String, Vec<u8>)>>(&b).ok());
    if let Some(files) = kept {
        if let Some(m) = &memo {
            m.touch(&key);
        }
        return Ok(Outcome { files, skipped });
    }
    let files = generate(
        dir,
        modules,
        order.as_deref(),
        builtin.as_deref(),
        builtin_modinfo.as_deref(),
        &search,
    )?;
    if let Some(m) = &memo {
        let written = postcard::to_allocvec(&files)
            .map_err(std::io::Error::other)
            .and_then(|b| m.put_sealed(&key, INDEX_KIND, MEMO_VERSION, &b));
        if let Err(e) = written {
            tracing::debug!("cannot keep the module indexes: {e}");
        }
    }
    Ok(Outcome { files, skipped })
}

/// Run depmod on a directory of the host (`<root>/lib/modules/<kver>` laid out as on
/// disk) with the depmod.d `search` order `search` (see [`parse_search`]): the same
/// computation as [`run`], for tests and benchmarks against kmod's depmod.
pub fn run_dir(
    dir: &std::path::Path,
    search: &[Search],
) -> Result<Vec<(String, Vec<u8>)>, DepmodError> {
    fn walk(base: &std::path::Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
        for e in fs_err::read_dir(base.join(rel))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            // Follow symlinks, as depmod does (tests link the host's modules in).
            let ft = fs_err::metadata(e.path())?.file_type();
            if ft.is_dir() && !matches!(e.file_name().to_str(), Some("build" | "source")) {
                walk(base, &r, out)?;
            } else if ft.is_file() && is_module_path(&r) {
                out.push(r);
            }
        }
        Ok(())
    }
    let host = |path: String, source| DepmodError::Read {
        path,
        package: "(host)".into(),
        source,
    };
    let mut rels = Vec::new();
    walk(dir, "", &mut rels).map_err(|e| host(dir.display().to_string(), e))?;
    rels.sort();
    let modules = rels
        .par_iter()
        .map(|rel| {
            let path = dir.join(rel).display().to_string();
            let raw = fs_err::read(dir.join(rel)).map_err(|e| host(path.clone(), e))?;
            let info = decompress(rel, &raw)
                .and_then(|b| parse_module(&b))
                .map_err(|reason| DepmodError::Corrupt {
                    path,
                    package: "(host)".into(),
                    reason,
                })?;
            Ok(Module {
                relpath: rel.clone(),
                info,
            })
        })
        .collect::<Result<Vec<_>, DepmodError>>()?;
    let read = |name: &str| fs_err::read(dir.join(name)).ok();
    generate(
        &dir.display().to_string(),
        modules,
        read("modules.order").as_deref(),
        read("modules.builtin").as_deref(),
        read("modules.builtin.modinfo").as_deref(),
        search,
    )
}

/// The module file's bytes, decompressed according to its name (`.ko.xz`, `.ko.zst`,
/// `.ko.gz`), as kmod picks the decompressor.
pub fn decompress(name: &str, raw: &[u8]) -> Result<Vec<u8>, String> {
    let format = Compression::from_name(name);
    if format == Compression::None {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    codec::decoder(format, raw)
        .and_then(|mut r| r.read_to_end(&mut out))
        .map_err(|e| format!("cannot decompress it ({e})"))?;
    Ok(out)
}

/// kmod's module name for a path: the file name up to its first `.`, `-` read as `_`.
pub fn modname(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.split('.').next().unwrap_or("").replace('-', "_")
}

// ---- ELF -------------------------------------------------------------------------------

struct Section<'a> {
    name: &'a [u8],
    kind: u32,
    data: &'a [u8],
    link: u32,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

const SHT_NOBITS: u32 = 8;

fn sections(elf: &[u8]) -> Result<Vec<Section<'_>>, String> {
    if elf.get(..4) != Some(b"\x7fELF") {
        return Err("no ELF magic".into());
    }
    if elf.get(4..6) != Some(&[2, 1]) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let bad = |what: &str| format!("truncated or malformed ELF {what}");
    let shoff = le64(elf, 0x28).ok_or_else(|| bad("header"))? as usize;
    let shentsize = le16(elf, 0x3a).ok_or_else(|| bad("header"))? as usize;
    let shnum = le16(elf, 0x3c).ok_or_else(|| bad("header"))? as usize;
    let shstrndx = le16(elf, 0x3e).ok_or_else(|| bad("header"))? as usize;
    if shentsize < 64 {
        return Err(bad("section header size"));
    }
    let mut raw = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let at = shoff
            .checked_add(i * shentsize)
            .ok_or_else(|| bad("section table"))?;
        let f = || -> Option<(u32, u32, u64, u64, u32)> {
            Some((
                le32(elf, at)?,
                le32(elf, at + 4)?,
                le64(elf, at + 24)?,
                le64(elf, at + 32)?,
                le32(elf, at + 40)?,
            ))
        };
        let (name, kind, off, size, link) = f().ok_or_else(|| bad("section table"))?;
        let data: &[u8] = if kind == SHT_NOBITS {
            &[]
        } else {
            usize::try_from(off)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(o, s)| elf.get(o..o.checked_add(s)?))
                .ok_or_else(|| bad(&format!("section {i}")))?
        };
        raw.push((name, kind, data, link));
    }
    let strtab = raw
        .get(shstrndx)
        .map(|s| s.2)
        .ok_or_else(|| bad("section name table"))?;
    raw.into_iter()
        .map(|(name, kind, data, link)| {
            let name = cstr(strtab, name as usize).ok_or_else(|| bad("section name"))?;
            Ok(Section {
                name,
                kind,
                data,
                link,
            })
        })
        .collect()
}

/// The NUL-terminated string at `at` (without the NUL; to the end if unterminated).
fn cstr(b: &[u8], at: usize) -> Option<&[u8]> {
    let rest = b.get(at..)?;
    Some(&rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())])
}

/// The non-empty NUL-separated strings of a section, as kmod splits them.
fn strings(data: &[u8]) -> impl Iterator<Item = String> + '_ {
    data.split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

const SHT_SYMTAB: u32 = 2;

/// Read what depmod needs from an uncompressed module.
pub fn parse_module(elf: &[u8]) -> Result<ModuleInfo, String> {
    let secs = sections(elf)?;
    let find = |n: &[u8]| secs.iter().find(|s| s.name == n);
    let modinfo = find(b".modinfo").ok_or("no .modinfo section")?;
    let info = strings(modinfo.data)
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s.clone(), String::new()),
        })
        .collect();
    let mut symbols = Vec::new();
    if let Some(symtab) = secs.iter().find(|s| s.kind == SHT_SYMTAB) {
        let strtab = secs
            .get(symtab.link as usize)
            .ok_or("the symbol table links to no string table")?;
        for sym in symtab.data.chunks_exact(24).skip(1) {
            let name = le32(sym, 0).unwrap_or(0) as usize;
            let shndx = le16(sym, 6).unwrap_or(0);
            let name = cstr(strtab.data, name).ok_or("symbol name out of range")?;
            if !name.is_empty() {
                symbols.push((String::from_utf8_lossy(name).into_owned(), shndx));
            }
        }
    }
    // The `__ksymtab_<name>` symbols name the exports; `__ksymtab_strings` also holds
    // the symbol namespaces (since Linux 5.4), so it is only the fallback.
    let mut exports: Vec<String> = symbols
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("__ksymtab_"))
        .map(str::to_string)
        .collect();
    if exports.is_empty() {
        if let Some(s) = find(b"__ksymtab_strings") {
            exports = strings(s.data).collect();
        }
    }
    let undefined = symbols
        .into_iter()
        .filter(|(_, shndx)| *shndx == 0)
        .map(|(n, _)| n)
        .collect();
    Ok(ModuleInfo {
        info,
        exports,
        undefined,
    })
}

// ---- depmod ------------------------------------------------------------------------------

struct Mod {
    relpath: String,
    name: String,
    info: ModuleInfo,
    /// Direct dependencies (indexes into the sorted modules), in first-use order.
    deps: Vec<usize>,
    users: usize,
    dep_sort: usize,
}

/// depmod's computation over parsed modules; `order`, `builtin` and `builtin_modinfo` are
/// the shipped `modules.order`, `modules.builtin` and `modules.builtin.modinfo`.
pub fn generate(
    dir: &str,
    modules: Vec<Module>,
    order: Option<&[u8]>,
    builtin: Option<&[u8]>,
    builtin_modinfo: Option<&[u8]>,
    search: &[Search],
) -> Result<Vec<(String, Vec<u8>)>, DepmodError> {
    let mods = sorted_modules(dedup_names(modules, search), order);
    let mut mods: Vec<Mod> = mods
        .into_iter()
        .map(|m| Mod {
            name: modname(&m.relpath),
            relpath: m.relpath,
            info: m.info,
            deps: Vec::new(),
            users: 0,
            dep_sort: usize::MAX,
        })
        .collect();

    // Symbol owners: a later module in the order wins a symbol exported twice, as kmod's
    // hash table replaces the value.
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in mods.iter().enumerate() {
        for s in &m.info.exports {
            owner.insert(s.clone(), i);
        }
    }
    let mut deps = Vec::with_capacity(mods.len());
    for (i, m) in mods.iter().enumerate() {
        let mut d: Vec<usize> = Vec::new();
        for s in &m.info.undefined {
            if let Some(&o) = owner.get(s.as_str()) {
                if o != i && !d.contains(&o) {
                    d.push(o);
                }
            }
        }
        deps.push(d);
    }
    for (i, d) in deps.into_iter().enumerate() {
        for &o in &d {
            mods[o].users += 1;
        }
        mods[i].deps = d;
    }

    // Kahn's algorithm with a stack, modules without users first: the order modules.dep
    // lists dependencies in (a module before what it needs).
    let mut users: Vec<usize> = mods.iter().map(|m| m.users).collect();
    let mut roots: Vec<usize> = (0..mods.len()).filter(|&i| users[i] == 0).collect();
    let mut n_sorted = 0;
    while let Some(src) = roots.pop() {
        mods[src].dep_sort = n_sorted;
        n_sorted += 1;
        for k in 0..mods[src].deps.len() {
            let dst = mods[src].deps[k];
            users[dst] -= 1;
            if users[dst] == 0 {
                roots.push(dst);
            }
        }
    }
    if n_sorted < mods.len() {
        let looped: Vec<&str> = mods
            .iter()
            .filter(|m| m.dep_sort == usize::MAX)
            .map(|m| m.name.as_str())
            .collect();
        return Err(DepmodError::Cycle {
            dir: dir.to_string(),
            modules: looped.join(", "),
        });
    }

    let all_deps = |i: usize| -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut stack = vec![(i, 0usize)];
        // Depth-first, first visit wins; the result is then sorted by dep_sort.
        while let Some((m, k)) = stack.pop() {
            if let Some(&d) = mods[m].deps.get(k) {
                stack.push((m, k + 1));
                if !out.contains(&d) {
                    out.push(d);
                    stack.push((d, 0));
                }
            }
        }
        out.sort_by_key(|&d| mods[d].dep_sort);
        out
    };

    let mut dep = String::new();
    let mut dep_idx = Index::default();
    for (i, m) in mods.iter().enumerate() {
        let mut line = format!("{}:", m.relpath);
        for d in all_deps(i) {
            line.push(' ');
            line.push_str(&mods[d].relpath);
        }
        dep_idx.insert(&m.name, &line, i as u32);
        dep.push_str(&line);
        dep.push('\n');
    }

    let mut alias = String::from("# Aliases extracted from modules themselves.\n");
    let mut alias_idx = Index::default();
    let mut softdep = String::from("# Soft dependencies extracted from modules themselves.\n");
    for (i, m) in mods.iter().enumerate() {
        for (k, v) in &m.info.info {
            if k == "alias" {
                alias.push_str(&format!("alias {v} {}\n", m.name));
                if let Some(a) = normalize_alias(v) {
                    alias_idx.insert(&a, &m.name, i as u32);
                }
            } else if k == "softdep" {
                softdep.push_str(&format!("softdep {} {v}\n", m.name));
            }
        }
    }

    let mut symbols = String::from("# Aliases for symbols, used by symbol_request().\n");
    let mut symbols_idx = Index::default();
    for (sym, &o) in kmod_hash_order(owner.iter().map(|(s, o)| (s.as_str(), o))) {
        symbols.push_str(&format!("alias symbol:{sym} {}\n", mods[o].name));
        symbols_idx.insert(&format!("symbol:{sym}"), &mods[o].name, o as u32);
    }

    let mut devname = String::new();
    for m in &mods {
        if let Some(line) = devname_line(m) {
            if devname.is_empty() {
                devname.push_str("# Device nodes to trigger on-demand module loading.\n");
            }
            devname.push_str(&line);
        }
    }

    let mut builtin_idx = Index::default();
    for line in builtin.unwrap_or_default().split(|&c| c == b'\n') {
        if line.first().is_some_and(u8::is_ascii_alphabetic) {
            let name = modname(&String::from_utf8_lossy(line));
            builtin_idx.insert(&name, "", 0);
        }
    }

    let mut builtin_alias_idx = Index::default();
    let builtins = builtin_modules(builtin_modinfo.unwrap_or_default());
    for (name, info) in &builtins {
        for (k, v) in info {
            if k == "alias" {
                if let Some(a) = normalize_alias(v) {
                    builtin_alias_idx.insert(&a, name, 0);
                }
            }
        }
    }

    let out = [
        ("modules.dep", dep.into_bytes()),
        ("modules.dep.bin", dep_idx.to_bytes()),
        ("modules.alias", alias.into_bytes()),
        ("modules.alias.bin", alias_idx.to_bytes()),
        ("modules.softdep", softdep.into_bytes()),
        ("modules.symbols", symbols.into_bytes()),
        ("modules.symbols.bin", symbols_idx.to_bytes()),
        // depmod leaves these two empty (not an empty index) without their inputs.
        (
            "modules.builtin.alias.bin",
            if builtins.is_empty() {
                Vec::new()
            } else {
                builtin_alias_idx.to_bytes()
            },
        ),
        (
            "modules.builtin.bin",
            if builtin.is_none() {
                Vec::new()
            } else {
                builtin_idx.to_bytes()
            },
        ),
        ("modules.devname", devname.into_bytes()),
    ];
    Ok(out.into_iter().map(|(n, b)| (n.to_string(), b)).collect())
}

/// One `search` word of depmod.d: a subdirectory of the modules directory, or `built-in`
/// (every directory no other entry names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    BuiltIn,
    Dir(String),
}

/// kmod's default search order when no configuration has a `search` line.
pub fn default_search() -> Vec<Search> {
    vec![Search::Dir("updates".into()), Search::BuiltIn]
}

/// The `search` lines of depmod.d files (`texts` in the order kmod reads them: sorted by
/// file name); kmod's default when there is none. `override` and `external` lines are not
/// read.
pub fn parse_search(texts: &[String]) -> Vec<Search> {
    let mut out = Vec::new();
    for t in texts {
        for line in t.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("search") {
                continue;
            }
            for w in words {
                out.push(if w == "built-in" {
                    Search::BuiltIn
                } else {
                    Search::Dir(w.trim_end_matches('/').to_string())
                });
            }
        }
    }
    if out.is_empty() {
        default_search()
    } else {
        out
    }
}

/// depmod.d directories kmod reads, first ones winning for a file name (`/lib/depmod.d`
/// is `/usr/lib/depmod.d` in a merged-/usr tree).
const CONFIG_DIRS: &[&str] = &[
    "/etc/depmod.d",
    "/run/depmod.d",
    "/usr/local/lib/depmod.d",
    "/usr/lib/depmod.d",
    "/lib/depmod.d",
];

/// The depmod.d configuration of the image.
fn tree_search(tree: &Tree, store: &Store) -> Result<Vec<Search>, DepmodError> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for dir in CONFIG_DIRS {
        for (path, e) in tree.descendants(dir) {
            let Some(name) = path.strip_prefix(&format!("{dir}/")) else {
                continue;
            };
            if name.contains('/') || !name.ends_with(".conf") || files.contains_key(name) {
                continue;
            }
            if matches!(e.kind, EntryKind::File { .. }) {
                files.insert(name.to_string(), path.clone());
            }
        }
    }
    let mut texts = Vec::new();
    for path in files.values() {
        if let Some(EntryKind::File { digest, .. }) = tree.get(path).map(|e| &e.kind) {
            let bytes = store.read(digest).map_err(|source| DepmodError::Read {
                path: path.clone(),
                package: tree
                    .get(path)
                    .and_then(|e| e.owner_package.clone())
                    .unwrap_or_else(|| "(generated)".into()),
                source,
            })?;
            texts.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(parse_search(&texts))
}

/// Keep one module per name, as depmod does: the one whose directory comes first in the
/// search order, `built-in` standing for all others. On a tie the later found wins, as in
/// depmod; depmod finds them in directory-reading order, here in path order.
fn dedup_names(modules: Vec<Module>, search: &[Search]) -> Vec<Module> {
    let rank = |rel: &str| -> Option<usize> {
        search.iter().position(|s| match s {
            Search::Dir(d) => {
                rel.len() > d.len()
                    && rel.starts_with(d.as_str())
                    && rel.as_bytes()[d.len()] == b'/'
            }
            Search::BuiltIn => false,
        })
    };
    let builtin = search.iter().position(|s| *s == Search::BuiltIn);
    let mut sorted = modules;
    sorted.sort_by(|a, b| a.relpath.cmp(&b.relpath));
    let mut kept: Vec<Option<Module>> = Vec::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for m in sorted {
        let name = modname(&m.relpath);
        match by_name.get(&name) {
            Some(&i) => {
                let old = kept[i].as_ref().map(|o| o.relpath.as_str()).unwrap_or("");
                // depmod checks a search entry against the new path first and only
                // otherwise against the old one; unmatched paths rank as built-in.
                let (mut new_p, mut old_p) = (None, None);
                for (k, s) in search.iter().enumerate() {
                    if let Search::Dir(_) = s {
                        if new_p.is_none() && rank(&m.relpath) == Some(k) {
                            new_p = Some(k);
                        } else if old_p.is_none() && rank(old) == Some(k) {
                            old_p = Some(k);
                        }
                    }
                }
                let p = |x: Option<usize>| x.or(builtin).map(|v| v as i64).unwrap_or(-1);
                if p(new_p) <= p(old_p) {
                    kept[i] = Some(m);
                }
            }
            None => {
                by_name.insert(name, kept.len());
                kept.push(Some(m));
            }
        }
    }
    kept.into_iter().flatten().collect()
}

/// depmod's module order: the modules listed in modules.order in its order, then the
/// others (depmod takes those in directory-reading order; here by path, to be stable).
fn sorted_modules(mut modules: Vec<Module>, order: Option<&[u8]>) -> Vec<Module> {
    modules.sort_by(|a, b| a.relpath.cmp(&b.relpath));
    let mut rank: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in order.unwrap_or_default().split(|&c| c == b'\n').enumerate() {
        // A path listed twice takes its last place, as in depmod.
        rank.insert(String::from_utf8_lossy(line).into_owned(), i);
    }
    let key = |m: &Module| {
        let unc = EXTENSIONS[1..]
            .iter()
            .find_map(|x| m.relpath.strip_suffix(x).map(|stem| format!("{stem}.ko")))
            .unwrap_or_else(|| m.relpath.clone());
        rank.get(&unc).copied().unwrap_or(usize::MAX)
    };
    modules.sort_by_key(key);
    modules
}

/// kmod's alias normalisation: `-` read as `_` outside `[...]`; `None` for an unmatched bracket.
fn normalize_alias(a: &str) -> Option<String> {
    let mut out = String::with_capacity(a.len());
    let mut chars = a.chars();
    while let Some(c) = chars.next() {
        match c {
            '-' => out.push('_'),
            ']' => return None,
            '[' => {
                out.push('[');
                loop {
                    match chars.next() {
                        Some(']') => {
                            out.push(']');
                            break;
                        }
                        Some(c) => out.push(c),
                        None => return None,
                    }
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// The modules.devname line of a module: a `devname:` alias with a char- or block-major one.
fn devname_line(m: &Mod) -> Option<String> {
    let mut devname = None;
    let mut dev = None;
    for (k, v) in &m.info.info {
        if k != "alias" {
            continue;
        }
        if let Some(d) = v.strip_prefix("devname:") {
            devname = Some(d);
        } else if let Some(n) = v.strip_prefix("char-major-").and_then(major_minor) {
            dev = Some(('c', n));
        } else if let Some(n) = v.strip_prefix("block-major-").and_then(major_minor) {
            dev = Some(('b', n));
        }
        if devname.is_some() && dev.is_some() {
            break;
        }
    }
    let (t, (major, minor)) = dev?;
    Some(format!("{} {} {t}{major}:{minor}\n", m.name, devname?))
}

/// `<major>-<minor>` (anything may follow, as with sscanf).
fn major_minor(s: &str) -> Option<(u32, u32)> {
    let (a, rest) = s.split_once('-')?;
    let b: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The builtin modules of modules.builtin.modinfo (`name.key=value` strings), in the order
/// they first appear, each with its (key, value) pairs.
fn builtin_modules(data: &[u8]) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    for s in strings(data) {
        let Some((name, kv)) = s.split_once('.') else {
            continue;
        };
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let i = *at.entry(name.to_string()).or_insert_with(|| {
            out.push((name.to_string(), Vec::new()));
            out.len() - 1
        });
        out[i].1.push((k.to_string(), v.to_string()));
    }
    out
}

/// Paul Hsieh's SuperFastHash, which kmod's hash table uses to place keys in buckets.
fn superfast_hash(key: &[u8]) -> u32 {
    let mut hash = key.len() as u32;
    let get16 = |b: &[u8]| u32::from(u16::from_le_bytes([b[0], b[1]]));
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        hash = hash.wrapping_add(get16(c));
        let tmp = (get16(&c[2..]) << 11) ^ hash;
        hash = (hash << 16) ^ tmp;
        hash = hash.wrapping_add(hash >> 11);
    }
    let rem = chunks.remainder();
    // The tail bytes are C `char`, signed on x86.
    let signed = |b: u8| b as i8 as i32 as u32;
    match rem.len() {
        3 => {
            hash = hash.wrapping_add(get16(rem));
            hash ^= hash << 16;
            hash ^= signed(rem[2]) << 18;
            hash = hash.wrapping_add(hash >> 11);
        }
        2 => {
            hash = hash.wrapping_add(get16(rem));
            hash ^= hash << 11;
            hash = hash.wrapping_add(hash >> 17);
        }
        1 => {
            hash = hash.wrapping_add(signed(rem[0]));
            hash ^= hash << 10;
            hash = hash.wrapping_add(hash >> 1);
        }
        _ => {}
    }
    hash ^= hash << 3;
    hash = hash.wrapping_add(hash >> 5);
    hash ^= hash << 4;
    hash = hash.wrapping_add(hash >> 17);
    hash ^= hash << 25;
    hash = hash.wrapping_add(hash >> 6);
    hash
}

/// depmod's symbol table has 2048 buckets, each sorted by key; modules.symbols is written
/// bucket by bucket.
fn kmod_hash_order<'a, V>(items: impl Iterator<Item = (&'a str, V)>) -> Vec<(&'a str, V)> {
    let mut v: Vec<(u32, &'a str, V)> = items
        .map(|(k, val)| (superfast_hash(k.as_bytes()) & 2047, k, val))
        .collect();
    v.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    v.into_iter().map(|(_, k, val)| (k, val)).collect()
}

// ---- kmod index ------------------------------------------------------------------------------

/// kmod's index file (`*.bin`): a trie of keys, each with a list of (priority, value).
///
/// Layout (libkmod-index): three big-endian words, the magic `0xB007F457`, the version
/// `0x00020001` and the offset of the root node; then the nodes, children before parents.
/// A node offset carries flags in its top bits: `0x80000000` the node has a prefix
/// (NUL-terminated string), `0x20000000` children (first and last child byte, then one
/// offset per byte in between, 0 for none), `0x40000000` values (a count, then per value a
/// priority word and a NUL-terminated string). The root's prefix is empty; any other node's
/// prefix is what all keys below it share after the child byte.
#[derive(Debug, Default)]
pub struct Index {
    keys: BTreeMap<Vec<u8>, Vec<(u32, String)>>,
}

const INDEX_MAGIC: u32 = 0xB007_F457;
const INDEX_VERSION: u32 = 0x0002_0001;
const NODE_PREFIX: u32 = 0x8000_0000;
const NODE_VALUES: u32 = 0x4000_0000;
const NODE_CHILDS: u32 = 0x2000_0000;

impl Index {
    /// Add a value to `key`, placed as depmod places it: before the values of the same or
    /// a higher priority already there.
    pub fn insert(&mut self, key: &str, value: &str, priority: u32) {
        let vals = self.keys.entry(key.as_bytes().to_vec()).or_default();
        let at = vals
            .iter()
            .position(|(p, _)| *p >= priority)
            .unwrap_or(vals.len());
        vals.insert(at, (priority, value.to_string()));
    }

    /// The index file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&INDEX_MAGIC.to_be_bytes());
        out.extend_from_slice(&INDEX_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        let keys: Vec<KeyValues<'_>> = self.keys.iter().map(|(k, v)| (k.as_slice(), v)).collect();
        let root = write_node(&mut out, &keys, true);
        out[8..12].copy_from_slice(&root.to_be_bytes());
        out
    }
}

/// A key (the part below the node being written) and its values.
type KeyValues<'a> = (&'a [u8], &'a Vec<(u32, String)>);

/// Write the node for `keys` (the suffixes below it, sorted) and return its flagged offset.
fn write_node(out: &mut Vec<u8>, keys: &[KeyValues<'_>], root: bool) -> u32 {
    let prefix_len = if root || keys.is_empty() {
        0
    } else {
        let first = keys[0].0;
        let last = keys[keys.len() - 1].0;
        // Sorted keys: the first and last share what all share.
        first.iter().zip(last).take_while(|(a, b)| a == b).count()
    };
    let prefix = keys.first().map(|k| &k.0[..prefix_len]).unwrap_or(&[]);
    let mut values = None;
    let mut children: Vec<(u8, u32)> = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let rest = &keys[i].0[prefix_len..];
        let Some(&ch) = rest.first() else {
            values = Some(keys[i].1);
            i += 1;
            continue;
        };
        let j = i + keys[i..]
            .iter()
            .take_while(|k| k.0.get(prefix_len) == Some(&ch))
            .count();
        let sub: Vec<KeyValues<'_>> = keys[i..j]
            .iter()
            .map(|(k, v)| (&k[prefix_len + 1..], *v))
            .collect();
        children.push((ch, write_node(out, &sub, false)));
        i = j;
    }
    let mut offset = out.len() as u32;
    if !prefix.is_empty() {
        out.extend_from_slice(prefix);
        out.push(0);
        offset |= NODE_PREFIX;
    }
    if let (Some(&(first, _)), Some(&(last, _))) = (children.first(), children.last()) {
        out.push(first);
        out.push(last);
        for c in first..=last {
            let off = children
                .iter()
                .find(|(ch, _)| *ch == c)
                .map(|(_, o)| *o)
                .unwrap_or(0);
            out.extend_from_slice(&off.to_be_bytes());
        }
        offset |= NODE_CHILDS;
    }
    if let Some(vals) = values {
        out.extend_from_slice(&(vals.len() as u32).to_be_bytes());
        for (p, v) in vals {
            out.extend_from_slice(&p.to_be_bytes());
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        }
        offset |= NODE_VALUES;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 little-endian relocatable file with the given sections (name, type,
    /// data); section 0 (null) and .shstrtab are added.
    fn elf(sections: &[(&str, u32, Vec<u8>, u32)]) -> Vec<u8> {
        let mut shstrtab = vec![0u8];
        let mut names = Vec::new();
        for (n, ..) in sections.iter().chain([&(".shstrtab", 3, Vec::new(), 0)]) {
            names.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(n.as_bytes());
            shstrtab.push(0);
        }
        let mut out = vec![0u8; 64];
        out[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let mut heads = vec![[0u8; 64]];
        let all: Vec<(u32, &[u8], u32)> = sections
            .iter()
            .map(|(_, t, d, l)| (*t, d.as_slice(), *l))
            .chain([(3, shstrtab.as_slice(), 0)])
            .collect();
        for (i, (t, d, l)) in all.iter().enumerate() {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&names[i].to_le_bytes());
            h[4..8].copy_from_slice(&t.to_le_bytes());
            h[24..32].copy_from_slice(&(out.len() as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(d.len() as u64).to_le_bytes());
            h[40..44].copy_from_slice(&l.to_le_bytes());
            out.extend_from_slice(d);
            heads.push(h);
        }
        let shoff = out.len() as u64;
        for h in &heads {
            out.extend_from_slice(h);
        }
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&(heads.len() as u16).to_le_bytes());
        out[0x3e..0x40].copy_from_slice(&((heads.len() - 1) as u16).to_le_bytes());
        out
    }

    /// .symtab and .strtab for (name, section index) symbols.
    fn symtab(syms: &[(&str, u16)]) -> (Vec<u8>, Vec<u8>) {
        let mut strtab = vec![0u8];
        let mut tab = vec![0u8; 24];
        for (n, shndx) in syms {
            let mut s = [0u8; 24];
            s[..4].copy_from_slice(&(strtab.len() as u32).to_le_bytes());
            s[6..8].copy_from_slice(&shndx.to_le_bytes());
            strtab.extend_from_slice(n.as_bytes());
            strtab.push(0);
            tab.extend_from_slice(&s);
        }
        (tab, strtab)
    }

    #[test]
    fn parses_modinfo_exports_and_undefined_symbols() {
        let (tab, strtab) = symtab(&[
            ("__ksymtab_foo_export", 4),
            ("needed_a", 0),
            ("local_fn", 1),
            ("needed_b", 0),
        ]);
        let m = elf(&[
            (
                ".modinfo",
                1,
                b"alias=fs-foo\0\0\0softdep=pre: bar\0nodash\0".to_vec(),
                0,
            ),
            (".symtab", SHT_SYMTAB, tab, 3),
            (".strtab", 3, strtab, 0),
            // Namespaces live here too: not exports while __ksymtab_ symbols exist.
            ("__ksymtab_strings", 1, b"foo_export\0FOO_NS\0".to_vec(), 0),
        ]);
        let info = parse_module(&m).unwrap();
        assert_eq!(
            info.info,
            vec![
                ("alias".into(), "fs-foo".into()),
                ("softdep".into(), "pre: bar".into()),
                ("nodash".into(), String::new())
            ]
        );
        assert_eq!(info.exports, vec!["foo_export"]);
        assert_eq!(info.undefined, vec!["needed_a", "needed_b"]);
    }

    #[test]
    fn exports_fall_back_to_ksymtab_strings() {
        let m = elf(&[
            (".modinfo", 1, b"license=GPL\0".to_vec(), 0),
            ("__ksymtab_strings", 1, b"\0one\0\0two\0".to_vec(), 0),
        ]);
        assert_eq!(parse_module(&m).unwrap().exports, vec!["one", "two"]);
    }

    #[test]
    fn malformed_modules_are_errors() {
        assert_eq!(parse_module(b"hello").unwrap_err(), "no ELF magic");
        let mut m = elf(&[(".modinfo", 1, b"a=b\0".to_vec(), 0)]);
        m[4] = 1;
        assert_eq!(
            parse_module(&m).unwrap_err(),
            "not a 64-bit little-endian ELF file"
        );
        let m = elf(&[(".text", 1, vec![0x90], 0)]);
        assert_eq!(parse_module(&m).unwrap_err(), "no .modinfo section");
        let m = elf(&[(".modinfo", 1, b"a=b\0".to_vec(), 0)]);
        let cut = &m[..m.len() - 30];
        assert!(parse_module(cut).unwrap_err().contains("section table"));
        assert!(decompress("x.ko.xz", b"not xz").is_err());
    }

    #[test]
    fn index_bytes_follow_the_kmod_format() {
        // One key "a" with one value: the child node (values only) first, then the root
        // (children only); offsets carry the flags.
        let mut i = Index::default();
        i.insert("a", "x", 1);
        let want: Vec<u8> = [
            &0xB007_F457u32.to_be_bytes()[..],
            &0x0002_0001u32.to_be_bytes(),
            &(22 | NODE_CHILDS).to_be_bytes(),
            &1u32.to_be_bytes(),
            &1u32.to_be_bytes(),
            b"x\0",
            b"aa",
            &(12 | NODE_VALUES).to_be_bytes(),
        ]
        .concat();
        assert_eq!(i.to_bytes(), want);
        assert_eq!(Index::default().to_bytes().len(), 12);
    }

    /// Look a key up the way libkmod does, to read back what the writer wrote.
    fn lookup(b: &[u8], key: &[u8]) -> Option<Vec<(u32, String)>> {
        let be = |at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
        let mut off = be(8);
        let mut key = key;
        loop {
            let mut at = (off & 0x0FFF_FFFF) as usize;
            if off & NODE_PREFIX != 0 {
                let p = cstr(b, at).unwrap();
                key = key.strip_prefix(p)?;
                at += p.len() + 1;
            }
            let mut child = None;
            if off & NODE_CHILDS != 0 {
                let (first, last) = (b[at], b[at + 1]);
                if let Some(&c) = key.first() {
                    if (first..=last).contains(&c) {
                        child = Some(be(at + 2 + 4 * usize::from(c - first)));
                    }
                }
                at += 2 + 4 * usize::from(last - first + 1);
            }
            if key.is_empty() {
                if off & NODE_VALUES == 0 {
                    return None;
                }
                let n = be(at) as usize;
                at += 4;
                let mut vals = Vec::new();
                for _ in 0..n {
                    let p = be(at);
                    let v = cstr(b, at + 4).unwrap();
                    at += 4 + v.len() + 1;
                    vals.push((p, String::from_utf8(v.to_vec()).unwrap()));
                }
                return Some(vals);
            }
            off = child.filter(|&c| c != 0)?;
            key = &key[1..];
        }
    }

    #[test]
    fn index_round_trips_with_prefixes_and_value_order() {
        let mut i = Index::default();
        for (k, v, p) in [
            ("pci:v00008086d*", "e1000e", 3),
            ("pci:v00008086d*", "igb", 1),
            ("pci:v00008086d*", "ixgbe", 3),
            ("pci:v000010ECd*", "r8169", 0),
            ("pci", "short", 0),
            ("symbol:foo", "m", 2),
        ] {
            i.insert(k, v, p);
        }
        let b = i.to_bytes();
        // Same priority: the later insert first, as depmod's list insert puts it.
        assert_eq!(
            lookup(&b, b"pci:v00008086d*").unwrap(),
            vec![(1, "igb".into()), (3, "ixgbe".into()), (3, "e1000e".into())]
        );
        assert_eq!(
            lookup(&b, b"pci:v000010ECd*").unwrap(),
            vec![(0, "r8169".into())]
        );
        assert_eq!(lookup(&b, b"pci").unwrap(), vec![(0, "short".into())]);
        assert_eq!(lookup(&b, b"symbol:foo").unwrap(), vec![(2, "m".into())]);
        assert_eq!(lookup(&b, b"pci:"), None);
        assert_eq!(lookup(&b, b"symbol:fo"), None);
        assert_eq!(lookup(&b, b"zzz"), None);
    }

    #[test]
    fn names_aliases_and_devnames_read_as_kmod_reads_them() {
        assert_eq!(modname("kernel/fs/ext4/ext4.ko.xz"), "ext4");
        assert_eq!(
            modname("kernel/arch/x86/events/intel/intel-uncore.ko"),
            "intel_uncore"
        );
        assert_eq!(normalize_alias("fs-ext4").as_deref(), Some("fs_ext4"));
        assert_eq!(
            normalize_alias("of:N*T*Cfoo,bar-baz[-_]x-y").as_deref(),
            Some("of:N*T*Cfoo,bar_baz[-_]x_y")
        );
        assert_eq!(normalize_alias("a]b"), None);
        assert_eq!(normalize_alias("a[b"), None);
        let m = |info: &[(&str, &str)]| Mod {
            relpath: "kernel/fs/fuse/fuse.ko".into(),
            name: "fuse".into(),
            info: ModuleInfo {
                info: info
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            },
            deps: vec![],
            users: 0,
            dep_sort: 0,
        };
        assert_eq!(
            devname_line(&m(&[
                ("alias", "fs-fuse"),
                ("alias", "devname:fuse"),
                ("alias", "char-major-10-229"),
            ]))
            .as_deref(),
            Some("fuse fuse c10:229\n")
        );
        assert_eq!(devname_line(&m(&[("alias", "devname:fuse")])), None);
        assert_eq!(
            devname_line(&m(&[("alias", "block-major-8-*"), ("alias", "devname:sd")])),
            None
        );
    }

    fn module(rel: &str, exports: &[&str], undefined: &[&str]) -> Module {
        Module {
            relpath: rel.into(),
            info: ModuleInfo {
                info: vec![("alias".into(), format!("test-{}", modname(rel)))],
                exports: exports.iter().map(|s| s.to_string()).collect(),
                undefined: undefined.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

    fn text(out: &[(String, Vec<u8>)], name: &str) -> String {
        let (_, b) = out.iter().find(|(n, _)| n == name).unwrap();
        String::from_utf8(b.clone()).unwrap()
    }

    #[test]
    fn dependencies_come_from_symbols_in_load_order() {
        let mods = vec![
            module("kernel/c.ko", &["c_fn"], &["printk"]),
            module("kernel/a.ko", &[], &["b_fn", "c_fn", "b_fn"]),
            module("kernel/b.ko.xz", &["b_fn"], &["c_fn"]),
            module("extra/z.ko", &[], &["a_missing"]),
        ];
        let order = b"kernel/a.ko\nkernel/b.ko\nkernel/c.ko\n";
        let out = generate("/m", mods, Some(order), None, None, &default_search()).unwrap();
        assert_eq!(
            text(&out, "modules.dep"),
            "kernel/a.ko: kernel/b.ko.xz kernel/c.ko\nkernel/b.ko.xz: kernel/c.ko\nkernel/c.ko:\nextra/z.ko:\n"
        );
        assert!(text(&out, "modules.symbols").contains("alias symbol:b_fn b\n"));
        assert_eq!(
            text(&out, "modules.alias"),
            "# Aliases extracted from modules themselves.\nalias test-a a\nalias test-b b\nalias test-c c\nalias test-z z\n"
        );
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, GENERATED);
        // No modules.builtin: an empty file, as depmod leaves it.
        assert!(
            out.iter()
                .any(|(n, b)| n == "modules.builtin.bin" && b.is_empty())
        );
    }

    #[test]
    fn a_dependency_loop_is_an_error() {
        let mods = vec![
            module("kernel/a.ko", &["a_fn"], &["b_fn"]),
            module("kernel/b.ko", &["b_fn"], &["a_fn"]),
            module("kernel/c.ko", &[], &["a_fn"]),
        ];
        let err = generate("/m", mods, None, None, None, &default_search()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Kernel modules in `/m` depend on each other in a loop: a, b"
        );
    }

    #[test]
    fn same_name_modules_follow_the_search_order() {
        let mods = || {
            vec![
                module("kernel/fs/x.ko", &[], &[]),
                module("extra/x.ko.xz", &[], &[]),
                module("updates/x.ko", &[], &[]),
                module("weak-updates/x.ko", &[], &[]),
            ]
        };
        let kept = |search: &[Search]| -> Vec<String> {
            dedup_names(mods(), search)
                .into_iter()
                .map(|m| m.relpath)
                .collect()
        };
        assert_eq!(kept(&default_search()), vec!["updates/x.ko"]);
        let el9 = parse_search(&["search updates extra built-in weak-updates\n".into()]);
        assert_eq!(kept(&el9[1..]), vec!["extra/x.ko.xz"]);
        // Everything but weak-updates/ ranks as built-in: a tie, the last in path order wins.
        assert_eq!(kept(&el9[2..]), vec!["updates/x.ko"]);
        assert_eq!(parse_search(&["# nothing\n".into()]), default_search());
    }

    #[test]
    fn finds_module_directories() {
        let mut t = Tree::default();
        let e = |kind| crate::rootfs::tree::Entry {
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            owner_package: None,
            caps: None,
        };
        let f = || {
            e(EntryKind::File {
                digest: crate::rootfs::tree::Digest([0; 32]),
                size: 0,
                link_group: None,
            })
        };
        t.insert("/usr/lib/modules/6.1/kernel/a.ko.xz", f());
        t.insert("/usr/lib/modules/6.1/vmlinuz", f());
        t.insert("/usr/lib/modules/6.2/vmlinuz", f());
        t.insert("/usr/lib/modules/6.3/build/x.ko", f());
        t.insert("/lib/modules/5.0/extra/b.ko", f());
        assert_eq!(
            module_dirs(&t),
            vec!["/lib/modules/5.0", "/usr/lib/modules/6.1"]
        );
    }
}
