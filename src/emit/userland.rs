//! The image's own programs in the squashfs root's initrd: when the initrd fetches the root
//! image over HTTP ([`super::initrd`]), it runs a few of the image's programs (a shell,
//! `ip`, `curl` or `wget`, `sha256sum`, `sleep`), so those are copied from the image tree
//! into the initrd's tree with everything the kernel and the dynamic linker need to run
//! them there: every symlink on the way to each file (EL9's `/lib64 -> usr/lib64`,
//! `/usr/bin/sh -> bash`, busybox's applet links), the program interpreter and the
//! `DT_NEEDED` closure of the libraries.
//!
//! Libraries are looked for as glibc's `ld.so` looks for them (elf/dl-load.c), in the image:
//! the needing object's `DT_RUNPATH` (or `DT_RPATH`), the directories of the image's
//! `/etc/ld.so.conf` (what its `/etc/ld.so.cache` holds), then the default directories.
//! Libraries are loaded breadth-first and a name already loaded for a program is not
//! looked for again (`libc.so.6` needing `ld-linux-x86-64.so.2` gets the interpreter), as
//! the dynamic linker does. The initrd carries no `/etc/ld.so.conf`, so when a library was
//! only found through a configured directory that the dynamic linker does not search by
//! default, the image's `/etc/ld.so.cache` is copied too: the linker finds it there.
//! Not modelled: a `DT_RPATH` that the dynamic linker also applies to the libraries the
//! object loads (a library found only that way is reported missing), `$LIB` and
//! `$PLATFORM` in run paths, and the `glibc-hwcaps` variants the cache may prefer on a
//! newer CPU (the linker falls back to the default directories when those are absent).
//!
//! Contents are not copied: the initrd's entries carry the image's digests, so the store
//! shares them. Nothing here runs anything from the image.

use crate::rootfs::ldconfig::{self, ElfDeps, Machine, absolute};
use crate::rootfs::paths::{self, PathError};
use crate::rootfs::store::Store;
use crate::rootfs::tree::{Digest, Entry, EntryKind, Tree};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Where [`find`] looks for a command, in this order.
pub const PATH: [&str; 4] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// Folders the dynamic linker searches when nothing else names the library: EL's
/// (`/lib64`, `/usr/lib64`), Debian's multiarch ones, then `/lib` and `/usr/lib`.
const LIB_DIRS: [&str; 2] = ["/lib64", "/usr/lib64"];
const LIB_DIRS_LAST: [&str; 2] = ["/lib", "/usr/lib"];

#[derive(Debug, thiserror::Error)]
pub enum UserlandError {
    #[error(
        "`{program}` needs `{library}`{}, which is in none of {} of the image",
        through(.program, .needed_by),
        .searched.join(", ")
    )]
    MissingLibrary {
        program: String,
        /// The object whose `DT_NEEDED` names it (the program or one of its libraries).
        needed_by: String,
        library: String,
        /// The folders looked in, in order.
        searched: Vec<String>,
    },
    #[error(
        "`{link}` is a symlink to `{target}`, which is not in the image{}",
        needed(.program, .link)
    )]
    Dangling {
        program: String,
        link: String,
        target: String,
        /// Where the symlink leads, as an image path.
        leads_to: String,
        /// The package that ships the symlink.
        owner: Option<String>,
    },
    #[error("`{path}` is not in the image{}", needed(.program, .path))]
    Missing { program: String, path: String },
    #[error(
        "`{path}` is a {kind} in the image, not a file{}",
        needed(.program, .path)
    )]
    NotAFile {
        program: String,
        path: String,
        kind: &'static str,
    },
    #[error("Cannot resolve `{path}` in the image{}", needed(.program, .path))]
    Path {
        program: String,
        path: String,
        #[source]
        source: PathError,
    },
    #[error(
        "`{path}` is an ELF file but not a 64-bit little-endian program or library{}",
        needed(.program, .path)
    )]
    UnknownElf { program: String, path: String },
    #[error("Cannot read `{path}` of the image{}", needed(.program, .path))]
    Read {
        program: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// ` (through `/usr/lib64/libfoo.so.1`)` when a library, not the program, needs the
/// missing one.
fn through(program: &str, needed_by: &str) -> String {
    if program == needed_by {
        String::new()
    } else {
        format!(" (through `{needed_by}`)")
    }
}

/// ` (`/usr/bin/curl` needs it)` when the path is not the program's own.
fn needed(program: &str, path: &str) -> String {
    if program == path {
        String::new()
    } else {
        format!(" (`{program}` needs it)")
    }
}

impl UserlandError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            UserlandError::MissingLibrary { library, .. } => format!(
                "add the package that provides `{library}()(64bit)` to `[packages] install` (`dnf provides '{library}()(64bit)'` names it)"
            ),
            UserlandError::Dangling {
                link,
                leads_to,
                owner,
                ..
            } => {
                let from = owner
                    .as_deref()
                    .map(|o| format!(" (`{link}` is from `{o}`)"))
                    .unwrap_or_default();
                format!("add the package that provides `{leads_to}` to `[packages] install`{from}")
            }
            UserlandError::Missing { path, .. } => {
                format!("add the package that provides `{path}` to `[packages] install`")
            }
            UserlandError::NotAFile { path, .. } | UserlandError::Path { path, .. } => format!(
                "check what makes `{path}` in the image (the profile's customisations, or the packages that ship it)"
            ),
            UserlandError::UnknownElf { path, .. } => format!(
                "the initrd runs 64-bit programs of the image's architecture only: check the package that ships `{path}`"
            ),
            UserlandError::Read { .. } => {
                "the build's content store lost a file: run the build again".into()
            }
        }
    }
}

/// The image path of command `name` as a shell finds it: the first of [`PATH`] where it
/// is a file with an execute bit, or a symlink chain that ends at one.
pub fn find(tree: &Tree, name: &str) -> Option<String> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    PATH.iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| file_at(tree, p).is_some_and(|(_, e)| e.mode & 0o111 != 0))
}

/// The resolved path and entry of the regular file `path` leads to, if it leads to one.
fn file_at<'t>(tree: &'t Tree, path: &str) -> Option<(String, &'t Entry)> {
    let real = paths::resolve(tree, path, true).ok()?;
    let e = tree.get(&real)?;
    matches!(e.kind, EntryKind::File { .. }).then_some((real, e))
}

/// Copy `programs` (image paths, as [`find`] gives them) from `image` into `out` with
/// what they need to run with `out` as `/`: the symlinks met on the way to each file, the
/// files (same digests: contents stay in `store`), the program interpreters, the shared
/// libraries, the interpreters of `#!` scripts, and the folders above them all.
///
/// Files and symlinks keep the image's mode and get owner 0:0 and `mtime`; folders take
/// the image's mode (0755 where the image has none) unless `out` has them already.
/// Returns the paths of the files and symlinks added, sorted.
pub fn install(
    image: &Tree,
    store: &Store,
    programs: &[String],
    out: &mut Tree,
    mtime: u64,
) -> Result<Vec<String>, UserlandError> {
    let mut c = Closure {
        image,
        store,
        conf: ldconfig::conf_dirs(image, store),
        kinds: BTreeMap::new(),
        take: BTreeSet::new(),
        need_cache: false,
    };
    // (path, the program it is taken for): a script's interpreter is taken for the script.
    let mut todo: VecDeque<(String, String)> =
        programs.iter().map(|p| (p.clone(), p.clone())).collect();
    let mut done = BTreeSet::new();
    while let Some((path, program)) = todo.pop_front() {
        if !done.insert(path.clone()) {
            continue;
        }
        if let Some(interp) = c.program(&program, &path)? {
            todo.push_back((interp, program));
        }
    }
    if c.need_cache {
        if let Some((real, _)) = file_at(image, ldconfig::CACHE) {
            c.walk(ldconfig::CACHE, ldconfig::CACHE)?;
            c.take.insert(real);
        }
    }
    Ok(c.copy(out, mtime))
}

/// What a file is to the kernel's `execve` and the dynamic linker.
#[derive(Debug, Clone)]
enum Kind {
    Elf(ElfDeps, Option<Machine>),
    /// An ELF file [`ldconfig::elf_dependencies`] does not read (32-bit, another type).
    OtherElf,
    /// A `#!` script and its interpreter.
    Script(String),
    Data,
}

/// An object loaded for a program: the path it was opened by, its resolved path, its
/// dependencies.
struct Object {
    opened: String,
    real: String,
    deps: ElfDeps,
}

struct Closure<'a> {
    image: &'a Tree,
    store: &'a Store,
    /// The image's `/etc/ld.so.conf` folders.
    conf: Vec<String>,
    kinds: BTreeMap<Digest, Kind>,
    /// Image paths to copy (symlinks and files).
    take: BTreeSet<String>,
    /// Whether a library was found only through `/etc/ld.so.conf`.
    need_cache: bool,
}

impl Closure<'_> {
    /// Take the program at `path` (started as `program`, named in errors) and what it
    /// loads; a script's interpreter is returned, to be taken as a program of its own.
    fn program(&mut self, program: &str, path: &str) -> Result<Option<String>, UserlandError> {
        let real = self.walk(path, program)?;
        self.take.insert(real.clone());
        let (deps, machine) = match self.kind(&real, program)? {
            Kind::Elf(deps, machine) => (deps, machine),
            Kind::OtherElf => {
                return Err(UserlandError::UnknownElf {
                    program: program.into(),
                    path: real,
                });
            }
            // The kernel takes the interpreter path up to the first blank; a relative one
            // would be looked up in the working folder, which is `/` in the initrd.
            Kind::Script(interp) => return Ok(Some(absolute(&interp))),
            Kind::Data => return Ok(None),
        };
        // Names loaded for this program: a `DT_NEEDED` naming one is not looked for again.
        let mut loaded: BTreeSet<String> = BTreeSet::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut queue = VecDeque::new();
        if let Some(interp) = &deps.interp {
            let at = self.walk(interp, program)?;
            self.take.insert(at.clone());
            loaded.insert(file_name(interp).to_string());
            seen.insert(at.clone());
            if let Kind::Elf(d, _) = self.kind(&at, program)? {
                queue.push_back(Object {
                    opened: interp.clone(),
                    real: at,
                    deps: d,
                });
            }
        }
        seen.insert(real.clone());
        // The main program's `$ORIGIN` is where it really is (`/proc/self/exe`).
        queue.push_front(Object {
            opened: real.clone(),
            real,
            deps,
        });
        while let Some(obj) = queue.pop_front() {
            for name in &obj.deps.needed {
                if !loaded.insert(name.clone()) {
                    continue;
                }
                let opened = self.library(program, &obj, name, machine)?;
                let at = self.walk(&opened, program)?;
                self.take.insert(at.clone());
                if !seen.insert(at.clone()) {
                    continue;
                }
                if let Kind::Elf(deps, _) = self.kind(&at, program)? {
                    queue.push_back(Object {
                        opened,
                        real: at,
                        deps,
                    });
                }
            }
        }
        Ok(None)
    }

    /// The path the dynamic linker opens for `name`, needed by `obj`.
    fn library(
        &mut self,
        program: &str,
        obj: &Object,
        name: &str,
        machine: Option<Machine>,
    ) -> Result<String, UserlandError> {
        // A name with a slash is a path, not looked for.
        if name.contains('/') {
            return Ok(absolute(name));
        }
        let runpath = run_dirs(&obj.deps.runpath, paths::parent(&obj.opened).unwrap_or("/"));
        let defaults = default_dirs(machine);
        // Where the initrd's linker looks without a cache (the initrd has no ld.so.conf).
        let without_cache: BTreeSet<String> = defaults
            .iter()
            .chain(&runpath)
            .filter_map(|d| paths::resolve(self.image, d, true).ok())
            .collect();
        let mut searched: Vec<String> = Vec::new();
        let mut identities = BTreeSet::new();
        let conf = self.conf.clone();
        for dir in runpath.iter().chain(&conf).chain(&defaults) {
            let identity = paths::resolve(self.image, dir, true).unwrap_or_else(|_| dir.clone());
            if !identities.insert(identity.clone()) {
                continue;
            }
            searched.push(dir.clone());
            let candidate = format!("{}/{name}", dir.trim_end_matches('/'));
            let Some((real, _)) = file_at(self.image, &candidate) else {
                continue;
            };
            // The linker skips files it cannot load (another class or machine) and looks on.
            match self.kind(&real, program)? {
                Kind::Elf(_, m) if m == machine => {}
                _ => continue,
            }
            if !without_cache.contains(&identity) {
                self.need_cache = true;
            }
            return Ok(candidate);
        }
        Err(UserlandError::MissingLibrary {
            program: program.into(),
            needed_by: obj.real.clone(),
            library: name.into(),
            searched,
        })
    }

    /// What the file at the resolved path `real` is (read once per content).
    fn kind(&mut self, real: &str, program: &str) -> Result<Kind, UserlandError> {
        let Some(EntryKind::File { digest, .. }) = self.image.get(real).map(|e| &e.kind) else {
            return Ok(Kind::Data);
        };
        if let Some(k) = self.kinds.get(digest) {
            return Ok(k.clone());
        }
        let bytes = self
            .store
            .read(digest)
            .map_err(|source| UserlandError::Read {
                program: program.into(),
                path: real.into(),
                source,
            })?;
        let kind = if let Some(script) = bytes.strip_prefix(b"#!") {
            let line = script.split(|&b| b == b'\n').next().unwrap_or_default();
            let line = String::from_utf8_lossy(line);
            match line.split([' ', '\t']).find(|w| !w.is_empty()) {
                Some(interp) => Kind::Script(interp.to_string()),
                None => Kind::Data,
            }
        } else if bytes.starts_with(b"\x7fELF") {
            match ldconfig::elf_dependencies(&bytes) {
                Some(deps) => Kind::Elf(deps, Machine::of_elf64(&bytes)),
                None => Kind::OtherElf,
            }
        } else {
            Kind::Data
        };
        self.kinds.insert(*digest, kind.clone());
        Ok(kind)
    }

    /// Resolve `path` to the regular file it leads to, taking every symlink met on the way
    /// (in any component, and in the targets of those).
    fn walk(&mut self, path: &str, program: &str) -> Result<String, UserlandError> {
        let mut met = Vec::new();
        self.links(path, program, &mut met)?;
        let real =
            paths::resolve(self.image, path, true).map_err(|source| UserlandError::Path {
                program: program.into(),
                path: path.into(),
                source,
            })?;
        match self.image.get(&real) {
            Some(Entry {
                kind: EntryKind::File { .. },
                ..
            }) => {
                self.take.extend(met.into_iter().map(|(link, _)| link));
                Ok(real)
            }
            Some(e) => Err(UserlandError::NotAFile {
                program: program.into(),
                path: real,
                kind: e.kind.type_name(),
            }),
            None => {
                // Blame the first symlink that leads nowhere, else the missing path itself.
                let dangling = met.into_iter().find(|(link, _)| {
                    !paths::resolve(self.image, link, true)
                        .is_ok_and(|r| self.image.get(&r).is_some())
                });
                Err(match dangling {
                    Some((link, target)) => UserlandError::Dangling {
                        program: program.into(),
                        owner: self.image.get(&link).and_then(|e| e.owner_package.clone()),
                        leads_to: paths::resolve(self.image, &link, true)
                            .unwrap_or_else(|_| target.clone()),
                        link,
                        target,
                    },
                    None => UserlandError::Missing {
                        program: program.into(),
                        path: real,
                    },
                })
            }
        }
    }

    /// The symlinks met resolving `path` (each at its resolved place, with its target):
    /// [`paths::resolve`] resolves each leading part; a symlink's target is walked the same
    /// way, so links inside targets are met too.
    fn links(
        &self,
        path: &str,
        program: &str,
        met: &mut Vec<(String, String)>,
    ) -> Result<(), UserlandError> {
        let mut prefix = String::new();
        for c in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            prefix.push('/');
            prefix.push_str(c);
            let here = paths::resolve(self.image, &prefix, false).map_err(|source| {
                UserlandError::Path {
                    program: program.into(),
                    path: path.into(),
                    source,
                }
            })?;
            let Some(EntryKind::Symlink { target }) = self.image.get(&here).map(|e| &e.kind) else {
                continue;
            };
            if met.len() >= paths::MAX_SYMLINKS {
                return Err(UserlandError::Path {
                    program: program.into(),
                    path: path.into(),
                    source: PathError::SymlinkLoop {
                        path: path.into(),
                        at: here,
                    },
                });
            }
            met.push((here.clone(), target.clone()));
            let next = if target.starts_with('/') {
                target.clone()
            } else {
                let dir = paths::parent(&here).unwrap_or("/");
                format!("{}/{target}", dir.trim_end_matches('/'))
            };
            self.links(&next, program, met)?;
        }
        Ok(())
    }

    /// Put the taken entries and their folders into `out`; the paths added, sorted.
    fn copy(self, out: &mut Tree, mtime: u64) -> Vec<String> {
        let mut added = Vec::new();
        for path in &self.take {
            let Some(e) = self.image.get(path) else {
                continue;
            };
            let kind = match &e.kind {
                // A hardlink group of the image means nothing in the initrd.
                EntryKind::File { digest, size, .. } => EntryKind::File {
                    digest: *digest,
                    size: *size,
                    link_group: None,
                },
                k => k.clone(),
            };
            out.insert(
                path.clone(),
                meta(kind, e.mode, e.owner_package.clone(), mtime),
            );
            added.push(path.clone());
            let mut dir = paths::parent(path);
            while let Some(d) = dir {
                if out.get(d).is_none() {
                    let mode = match self.image.get(d) {
                        Some(e) if e.kind == EntryKind::Dir => e.mode,
                        _ => 0o755,
                    };
                    out.insert(d, meta(EntryKind::Dir, mode, None, mtime));
                }
                dir = paths::parent(d);
            }
        }
        added
    }
}

fn meta(kind: EntryKind, mode: u32, owner_package: Option<String>, mtime: u64) -> Entry {
    Entry {
        kind,
        mode,
        uid: 0,
        gid: 0,
        mtime,
        owner_package,
        caps: None,
    }
}

/// The dynamic linker's default folders for a machine, with the Debian multiarch ones.
fn default_dirs(machine: Option<Machine>) -> Vec<String> {
    let triplet = match machine {
        Some(Machine::X86_64) => Some("x86_64-linux-gnu"),
        Some(Machine::Aarch64) => Some("aarch64-linux-gnu"),
        None => None,
    };
    let mut dirs: Vec<String> = LIB_DIRS.iter().map(|d| d.to_string()).collect();
    if let Some(t) = triplet {
        dirs.extend(LIB_DIRS_LAST.iter().map(|d| format!("{d}/{t}")));
    }
    dirs.extend(LIB_DIRS_LAST.iter().map(|d| d.to_string()));
    dirs
}

/// An object's run path as folders of the image: `$ORIGIN` is the folder of the object.
fn run_dirs(runpath: &[String], origin: &str) -> Vec<String> {
    runpath
        .iter()
        .map(|d| absolute(&d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)))
        .collect()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const MTIME: u64 = 1_700_000_000;

    /// An image tree made of this host's files (contents in a store of its own).
    struct Host {
        dir: tempfile::TempDir,
        store: Store,
        tree: Tree,
    }

    fn entry(kind: EntryKind, mode: u32) -> Entry {
        Entry {
            kind,
            mode,
            uid: 1000,
            gid: 1000,
            mtime: 42,
            owner_package: Some("host".into()),
            caps: None,
        }
    }

    impl Host {
        fn new() -> Host {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::new(dir.path().join("store")).unwrap();
            let mut tree = Tree::default();
            tree.insert("/", entry(EntryKind::Dir, 0o755));
            Host { dir, store, tree }
        }

        /// The host's `path` as the image has it: each symlink on the way (and in its
        /// targets), the folders, the file, all where the host really has them.
        fn add(&mut self, path: &str) -> &mut Host {
            let mut prefix = PathBuf::from("/");
            for c in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
                let parent = std::fs::canonicalize(&prefix).unwrap();
                prefix.push(c);
                if c == ".." {
                    continue;
                }
                let here = parent.join(c);
                let key = here.to_str().unwrap().to_string();
                if self.tree.get(&key).is_some() {
                    continue;
                }
                let m = std::fs::symlink_metadata(&here).unwrap();
                let mode = m.mode() & 0o7777;
                if m.file_type().is_symlink() {
                    let target = std::fs::read_link(&here).unwrap();
                    let target = target.to_str().unwrap().to_string();
                    self.tree.insert(
                        key,
                        entry(
                            EntryKind::Symlink {
                                target: target.clone(),
                            },
                            mode,
                        ),
                    );
                    self.add(parent.join(&target).to_str().unwrap());
                } else if m.is_dir() {
                    self.tree.insert(key, entry(EntryKind::Dir, mode));
                } else {
                    self.file(&key, &std::fs::read(&here).unwrap(), mode);
                }
            }
            self
        }

        /// A program and the libraries the host's ldd lists for it.
        fn program(&mut self, path: &str) -> &mut Host {
            self.add(path);
            for lib in ldd(path) {
                self.add(&lib);
            }
            self
        }

        fn file(&mut self, path: &str, bytes: &[u8], mode: u32) -> &mut Host {
            let (digest, size) = self.store.put_bytes(bytes).unwrap();
            let kind = EntryKind::File {
                digest,
                size,
                link_group: None,
            };
            self.tree.insert(path, entry(kind, mode));
            self
        }

        fn link(&mut self, path: &str, target: &str) -> &mut Host {
            let kind = EntryKind::Symlink {
                target: target.into(),
            };
            self.tree.insert(path, entry(kind, 0o777));
            self
        }

        fn digest(&self, path: &str) -> Digest {
            match self.tree.get(path).map(|e| &e.kind) {
                Some(EntryKind::File { digest, .. }) => *digest,
                other => panic!("{path}: {other:?}"),
            }
        }

        fn install(&self, programs: &[&str]) -> Result<(Tree, Vec<String>), UserlandError> {
            // As the initrd has it before the programs come.
            let mut out = Tree::default();
            out.insert("/", meta(EntryKind::Dir, 0o755, None, 42));
            let programs: Vec<String> = programs.iter().map(|p| p.to_string()).collect();
            let added = install(&self.tree, &self.store, &programs, &mut out, MTIME)?;
            Ok((out, added))
        }

        /// `out` written as a folder: files, symlinks, folders.
        fn materialise(&self, out: &Tree) -> tempfile::TempDir {
            let root = tempfile::tempdir_in(self.dir.path()).unwrap();
            let at = |p: &str| root.path().join(p.trim_start_matches('/'));
            for (path, e) in &out.entries {
                match &e.kind {
                    EntryKind::Dir => std::fs::create_dir_all(at(path)).unwrap(),
                    EntryKind::File { digest, .. } => {
                        std::fs::copy(self.store.path(digest), at(path)).unwrap();
                        let perm = std::fs::Permissions::from_mode(e.mode);
                        std::fs::set_permissions(at(path), perm).unwrap();
                    }
                    EntryKind::Symlink { target } => {
                        std::os::unix::fs::symlink(target, at(path)).unwrap()
                    }
                    other => panic!("{path}: {other:?}"),
                }
            }
            root
        }
    }

    /// The libraries the host's dynamic linker loads for `program` (its interpreter too).
    fn ldd(program: &str) -> Vec<String> {
        let out = Command::new("ldd").arg(program).output().unwrap();
        assert!(out.status.success(), "ldd {program}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let l = l.split_once("=>").map_or(l, |(_, r)| r).trim();
                l.starts_with('/')
                    .then(|| l.split(' ').next().unwrap_or(l).to_string())
            })
            .collect()
    }

    /// tests/it/support/proc.rs's `is_root` (integration test code is out of the library's
    /// reach): chroot needs root.
    fn is_root() -> bool {
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }

    /// `sh -c script` inside `root` with a clean environment.
    fn chroot(root: &Path, sh: &str, script: &str) -> std::process::Output {
        Command::new("chroot")
            .arg(root)
            .args([sh, "-c", script])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap()
    }

    fn host_ok(paths: &[&str]) -> bool {
        if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            return false;
        }
        let missing: Vec<&&str> = paths.iter().filter(|p| !Path::new(p).exists()).collect();
        if !missing.is_empty() {
            eprintln!("not on this host: {missing:?}; test skipped");
        }
        missing.is_empty()
    }

    fn sha256_hex(b: &[u8]) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(b))
    }

    const BASH: &str = "/usr/bin/bash";
    const IP: &str = "/usr/sbin/ip";
    const CURL: &str = "/usr/bin/curl";
    const BUSCTL: &str = "/usr/bin/busctl";
    const LIBDIR: &str = "/usr/lib/x86_64-linux-gnu";
    const UNUSED: &str = "/usr/lib/x86_64-linux-gnu/libBrokenLocale.so.1";

    /// EL9's shape on this Debian host: /bin, /sbin, /lib, /lib64 are symlinks into /usr,
    /// `/usr/sbin/ip -> /bin/ip`, the loader at `/lib64/...` is an absolute symlink into
    /// the multiarch folder, and the image's `sh` is bash. The real programs of the fetch
    /// script, plus busctl (its library is found through DT_RUNPATH only), plus a library
    /// nothing installed needs.
    fn el9_like() -> Option<Host> {
        let programs = [
            BASH,
            IP,
            "/usr/bin/sleep",
            "/usr/bin/sha256sum",
            CURL,
            BUSCTL,
        ];
        let more = ["/etc/ld.so.conf", "/etc/ld.so.cache", UNUSED];
        if !host_ok(&programs) || !host_ok(&more) {
            return None;
        }
        let mut h = Host::new();
        for p in programs {
            h.program(p);
        }
        for p in more {
            h.add(p);
        }
        for conf in std::fs::read_dir("/etc/ld.so.conf.d").unwrap() {
            h.add(conf.unwrap().path().to_str().unwrap());
        }
        h.link("/usr/bin/sh", "bash");
        Some(h)
    }

    #[test]
    fn programs_are_copied_with_their_links_loader_and_libraries() {
        let Some(h) = el9_like() else { return };
        let found: Vec<String> = ["sh", "ip", "curl", "sha256sum", "sleep", "busctl"]
            .iter()
            .map(|n| find(&h.tree, n).unwrap())
            .collect();
        assert_eq!(
            found,
            [
                "/usr/bin/sh",
                IP,
                CURL,
                "/usr/bin/sha256sum",
                "/usr/bin/sleep",
                BUSCTL
            ]
        );
        let programs: Vec<&str> = found.iter().map(String::as_str).collect();
        let (out, added) = h.install(&programs).unwrap();

        // What was added: every non-folder entry, sorted; folders above each.
        let listed: Vec<String> = out
            .entries
            .iter()
            .filter(|(_, e)| e.kind != EntryKind::Dir)
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(added, listed);
        for (path, e) in &out.entries {
            if let Some(parent) = paths::parent(path) {
                assert_eq!(
                    out.get(parent).map(|e| &e.kind),
                    Some(&EntryKind::Dir),
                    "{path}"
                );
            }
            assert_eq!((e.uid, e.gid, e.caps.as_deref()), (0, 0, None), "{path}");
            if path != "/" {
                assert_eq!(e.mtime, MTIME, "{path}");
                assert_eq!(
                    e.mode,
                    h.tree.get(path).unwrap().mode,
                    "{path}: the image's mode"
                );
            }
            if let EntryKind::File { digest, .. } = &e.kind {
                assert_eq!(*digest, h.digest(path), "{path}: the image's contents");
            }
        }
        // The folder the caller made is left as it was.
        assert_eq!(out.get("/").unwrap().mtime, 42);

        let link = |p: &str| match out.get(p).map(|e| &e.kind) {
            Some(EntryKind::Symlink { target }) => target.clone(),
            other => panic!("{p}: {other:?}"),
        };
        let is_file = |p: &str| matches!(out.get(p).map(|e| &e.kind), Some(EntryKind::File { .. }));
        assert_eq!(link("/usr/bin/sh"), "bash");
        assert!(is_file(BASH));
        assert_eq!(link(IP), "/bin/ip");
        assert_eq!(link("/bin"), "usr/bin");
        assert!(is_file("/usr/bin/ip"));
        assert_eq!(link("/lib64"), "usr/lib64");
        assert_eq!(link("/lib"), "usr/lib");
        assert!(matches!(
            out.get("/usr/lib64/ld-linux-x86-64.so.2").map(|e| &e.kind),
            Some(EntryKind::Symlink { .. })
        ));
        assert!(is_file(&format!("{LIBDIR}/ld-linux-x86-64.so.2")));
        assert!(is_file(&format!("{LIBDIR}/libc.so.6")));
        // libtinfo.so.6 -> libtinfo.so.6.x: the soname link and the file.
        let tinfo = format!("{LIBDIR}/libtinfo.so.6");
        assert!(is_file(&format!("{LIBDIR}/{}", link(&tinfo))));
        // Transitive: curl -> libcurl -> libnghttp2.
        assert!(
            added.iter().any(|p| p.contains("/libnghttp2.so.14")),
            "{added:#?}"
        );
        // DT_RUNPATH.
        let busctl = ldconfig::elf_dependencies(&std::fs::read(BUSCTL).unwrap()).unwrap();
        let shared = busctl
            .needed
            .iter()
            .find(|n| n.starts_with("libsystemd-shared"))
            .unwrap();
        assert!(is_file(&format!("{LIBDIR}/systemd/{shared}")), "{added:#?}");
        // Nothing else.
        // Exactly the files the host's dynamic linker loads (ldd), and the programs (the
        // image's sh is bash, the host's is not).
        let mut expected = BTreeSet::new();
        for p in [
            BASH,
            IP,
            "/usr/bin/sleep",
            "/usr/bin/sha256sum",
            CURL,
            BUSCTL,
        ] {
            for f in ldd(p).iter().chain([&p.to_string()]) {
                expected.insert(
                    std::fs::canonicalize(f)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
        let files: BTreeSet<String> = out
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.kind, EntryKind::File { .. }))
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(files, expected);
        for p in [
            UNUSED,
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/usr/bin/dash",
        ] {
            assert!(out.get(p).is_none(), "{p}");
        }

        // The oracle: the programs run with nothing but `out` as the root.
        if !is_root() {
            eprintln!("not root: the chroot check is skipped");
            return;
        }
        let root = h.materialise(&out);
        let script =
            "ip -V && sleep 0 && echo ok | sha256sum && curl --version && busctl --version";
        let run = chroot(root.path(), "/bin/sh", script);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(stdout.contains("ip utility"), "{stdout}");
        assert!(stdout.contains(&sha256_hex(b"ok\n")), "{stdout}");
        assert!(stdout.contains("curl "), "{stdout}");
        assert!(stdout.contains("systemd "), "{stdout}");
        // And the oracle can fail: without a library, bash does not start.
        std::fs::remove_file(root.path().join(tinfo.trim_start_matches('/'))).unwrap();
        assert!(!chroot(root.path(), "/bin/sh", "true").status.success());
    }

    #[test]
    fn a_missing_library_names_the_program_and_the_library() {
        if !host_ok(&[BASH, CURL]) {
            return;
        }
        let mut h = Host::new();
        h.add(BASH);
        for lib in ldd(BASH).iter().filter(|l| !l.contains("libtinfo")) {
            h.add(lib);
        }
        let err = h.install(&[BASH]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`/usr/bin/bash` needs `libtinfo.so.6`, which is in none of /lib64, /lib/x86_64-linux-gnu, /lib of the image"
        );
        assert!(matches!(
            &err,
            UserlandError::MissingLibrary { program, needed_by, library, .. }
                if program == BASH && needed_by == BASH && library == "libtinfo.so.6"
        ));
        assert_eq!(
            err.hint(),
            "add the package that provides `libtinfo.so.6()(64bit)` to `[packages] install` (`dnf provides 'libtinfo.so.6()(64bit)'` names it)"
        );

        // A library's library: the one that needs it is named too.
        let mut h = Host::new();
        h.add(CURL);
        for lib in ldd(CURL).iter().filter(|l| !l.contains("libnghttp2")) {
            h.add(lib);
        }
        let libcurl = paths::resolve(&h.tree, &format!("{LIBDIR}/libcurl.so.4"), true).unwrap();
        let err = h.install(&[CURL]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "`/usr/bin/curl` needs `libnghttp2.so.14` (through `{libcurl}`), which is in none of"
            )),
            "{err}"
        );
    }

    #[test]
    fn dangling_and_missing_paths_are_errors() {
        let mut h = Host::new();
        h.link("/bin", "usr/bin").link("/usr/bin/sh", "bash");
        h.tree.insert("/usr", entry(EntryKind::Dir, 0o755));
        h.tree.insert("/usr/bin", entry(EntryKind::Dir, 0o555));
        let err = h.install(&["/bin/sh"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`/usr/bin/sh` is a symlink to `bash`, which is not in the image (`/bin/sh` needs it)"
        );
        assert_eq!(
            err.hint(),
            "add the package that provides `/usr/bin/bash` to `[packages] install` (`/usr/bin/sh` is from `host`)"
        );
        let err = h.install(&["/bin/nope"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`/usr/bin/nope` is not in the image (`/bin/nope` needs it)"
        );
        let err = h.install(&["/usr/bin"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`/usr/bin` is a dir in the image, not a file"
        );
        h.link("/usr/bin/loop", "loop");
        let err = h.install(&["/usr/bin/loop"]).unwrap_err();
        assert!(matches!(err, UserlandError::Path { .. }), "{err}");
    }

    /// The boot fixture's shape: a static busybox with applet links (`/usr/bin/ip ->
    /// busybox`, `/usr/sbin/ip -> ../bin/busybox`), and a `#!` script run through them.
    #[test]
    fn busybox_applets_are_found_and_copied() {
        if !host_ok(&["/usr/bin/busybox"]) {
            return;
        }
        let mut h = Host::new();
        for d in ["/usr", "/usr/bin", "/usr/sbin"] {
            h.tree.insert(d, entry(EntryKind::Dir, 0o755));
        }
        let busybox = std::fs::read("/usr/bin/busybox").unwrap();
        h.file("/usr/bin/busybox", &busybox, 0o755)
            .link("/bin", "usr/bin")
            .link("/sbin", "usr/sbin")
            .link("/usr/bin/ip", "busybox")
            .link("/usr/sbin/ip", "../bin/busybox")
            .link("/usr/bin/sh", "busybox")
            .link("/usr/bin/sleep", "busybox")
            .link("/usr/bin/sha256sum", "busybox")
            .link("/usr/bin/wget", "busybox")
            .link("/usr/bin/broken", "nothere")
            .file("/usr/bin/readme", b"not a program\n", 0o644)
            .file("/usr/bin/hello", b"#!/bin/sh -e\necho hello\n", 0o755);
        assert_eq!(find(&h.tree, "ip").as_deref(), Some("/usr/sbin/ip"));
        assert_eq!(find(&h.tree, "sh").as_deref(), Some("/usr/bin/sh"));
        assert_eq!(find(&h.tree, "wget").as_deref(), Some("/usr/bin/wget"));
        assert_eq!(find(&h.tree, "curl"), None);
        assert_eq!(find(&h.tree, "broken"), None, "a dangling link");
        assert_eq!(find(&h.tree, "readme"), None, "not executable");
        assert_eq!(find(&h.tree, "bin"), None, "a folder");
        assert_eq!(find(&h.tree, "/usr/bin/sh"), None, "a path, not a name");

        let programs = [
            "/usr/sbin/ip",
            "/usr/bin/sleep",
            "/usr/bin/sha256sum",
            "/usr/bin/hello",
        ];
        let (out, added) = h.install(&programs).unwrap();
        assert_eq!(
            added,
            [
                "/bin",
                "/usr/bin/busybox",
                "/usr/bin/hello",
                "/usr/bin/sh",
                "/usr/bin/sha256sum",
                "/usr/bin/sleep",
                "/usr/sbin/ip"
            ]
        );
        assert_eq!(out.get("/usr/sbin").unwrap().mode, 0o755);
        if !is_root() {
            eprintln!("not root: the chroot check is skipped");
            return;
        }
        let root = h.materialise(&out);
        let run = chroot(
            root.path(),
            "/usr/bin/sh",
            "/usr/bin/hello && sleep 0 && echo ok | sha256sum",
        );
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(stdout.starts_with("hello\n"), "{stdout}");
        assert!(stdout.contains(&sha256_hex(b"ok\n")), "{stdout}");
    }

    /// A library only a configured folder holds: the configured folders are searched in
    /// order, a file there that is not a loadable library is passed over (as the linker
    /// does), and the image's `/etc/ld.so.cache` comes along, since the initrd's linker
    /// only finds the library through it.
    #[test]
    fn a_library_in_a_configured_folder_brings_the_cache() {
        if !host_ok(&[BASH]) {
            return;
        }
        let mut h = Host::new();
        h.add(BASH);
        let mut tinfo = Vec::new();
        for lib in ldd(BASH) {
            if lib.contains("libtinfo") {
                tinfo = std::fs::read(&lib).unwrap();
            } else {
                h.add(&lib);
            }
        }
        h.file(
            "/opt/a/libtinfo.so.6",
            b"INPUT ( libtinfo.so.6.4 )\n",
            0o644,
        )
        .file("/opt/b/libtinfo.so.6", &tinfo, 0o644)
        .file("/etc/ld.so.conf", b"include ld.so.conf.d/*.conf\n", 0o644)
        .file("/etc/ld.so.conf.d/opt.conf", b"/opt/a\n/opt/b/\n", 0o644)
        .file("/etc/ld.so.cache", b"glibc-ld.so.cache1.1", 0o644);
        h.tree.insert("/opt", entry(EntryKind::Dir, 0o711));
        h.tree.insert("/etc", entry(EntryKind::Dir, 0o755));
        h.tree
            .insert("/etc/ld.so.conf.d", entry(EntryKind::Dir, 0o755));
        let (out, added) = h.install(&[BASH]).unwrap();
        assert!(
            added.contains(&"/opt/b/libtinfo.so.6".to_string()),
            "{added:#?}"
        );
        assert!(
            !added.contains(&"/opt/a/libtinfo.so.6".to_string()),
            "{added:#?}"
        );
        assert!(added.contains(&ldconfig::CACHE.to_string()), "{added:#?}");
        assert_eq!(out.get("/opt").unwrap().mode, 0o711);
        assert_eq!(out.get("/opt/b").unwrap().mode, 0o755, "not in the image");
        assert!(out.get("/etc/ld.so.conf").is_none());
    }

    #[test]
    fn origin_in_a_run_path_is_the_objects_folder() {
        let rp: Vec<String> = ["$ORIGIN/../lib", "${ORIGIN}", "/opt/x", "rel"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            run_dirs(&rp, "/usr/bin"),
            ["/usr/bin/../lib", "/usr/bin", "/opt/x", "/rel"]
        );
    }
}
