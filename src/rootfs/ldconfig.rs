//! `ldconfig` done declaratively: the dynamic linker's cache `/etc/ld.so.cache` and the
//! soname symlinks, computed from the libraries in the tree instead of by running the
//! image's `/sbin/ldconfig` from the packages' scriptlets.
//!
//! [`assemble`](super::assemble) calls [`run`] once the packages are extracted and the
//! profile's customisations applied. It follows glibc 2.34's ldconfig (EL9's; elf/ldconfig.c,
//! elf/cache.c, elf/readlib.c, elf/readelflib.c, elf/stringtable.c), as the image's ldconfig
//! would run in the image root:
//! - the directories: `/etc/ld.so.conf` with its `include` globs (matches sorted bytewise,
//!   relative patterns taken from the including file's directory), `dir=libc6` types,
//!   `hwcap` lines ignored; then the trusted directories `/lib64` and `/usr/lib64`.
//!   Directories are the same when they resolve to the same directory through the tree's
//!   symlinks (EL9's `/lib64 -> usr/lib64`): the first name wins, so EL9's cache says
//!   `/lib64/libc.so.6`. Each one's `glibc-hwcaps/<name>/` subdirectories and legacy hwcap
//!   subdirectories (`tls`, `x86_64`, `haswell`, ...) are scanned too.
//! - the libraries: files and symlinks named like DSOs (`lib*.so*`, `ld-*.so*`, ...), read
//!   as ELF shared objects: `DT_SONAME` (else the file name), the flags from class and
//!   machine (`libc6,x86-64` is `FLAG_ELF_LIBC6|FLAG_X8664_LIB64`), the `NT_GNU_ABI_TAG`
//!   OS version and the x86 ISA level. Of several files with one soname in a directory, a
//!   file beats a symlink, then the newer name (`_dl_cache_libcmp`). A symlink that is not
//!   the soname (or its `.so` development link) counts as a file.
//! - the links: in each directory the soname symlink is created, or repointed, to the
//!   chosen file (`libfoo.so.1 -> libfoo.so.1.2.3`), unless a regular file holds the name;
//!   dangling `*.so.*` symlinks there are removed, as ldconfig removes them.
//! - the cache: glibc's new format `glibc-ld.so.cache1.1` only (what EL9's ldconfig writes
//!   by default): the header, the entries sorted as `cache.c`'s `compare` sorts them
//!   (sonames in descending `_dl_cache_libcmp` order), the tail-merged string table, and the
//!   extension directory with the generator string and the `glibc-hwcaps` section. The
//!   generator string is read from the image's own ldconfig binary, so the bytes are those
//!   the image's ldconfig would write. No auxiliary cache (`/var/cache/ldconfig/aux-cache`) is
//!   written: it keys libraries by inode and ctime, which mean nothing in a new image.
//!
//! Where ldconfig depends on the host, diskless is stable instead: directory entries are
//! read in bytewise order (ldconfig reads them in directory order, which only matters for
//! two sonames `_dl_cache_libcmp` calls equal, like `libx.so.01` and `libx.so.1`), and
//! `all` capability-style masks such as `LD_HWCAP_MASK` from the environment are not read.
//! An image without `/usr/sbin/ldconfig` (no glibc) gets no cache; an architecture other
//! than x86_64 or aarch64 gets none either, with a note.
//!
//! The same reading of ELF files and of `ld.so.conf` serves the initrd that copies a few of
//! the image's programs with their libraries ([`crate::emit::userland`]):
//! [`elf_dependencies`] and [`conf_dirs`].

use super::extract::Image;
use super::paths;
use super::store::Store;
use super::tree::{Entry, EntryKind, Tree};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum LdconfigError {
    #[error("Cannot read `{path}` of `{package}` for the linker cache")]
    Read {
        path: String,
        package: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Library `{path}` needs ISA level {level}, more than ld.so.cache can record (1023)")]
    IsaLevel { path: String, level: u32 },
}

/// Where the image's ldconfig lives (EL9: /usr/sbin, reached through /sbin too).
pub const LDCONFIG: &[&str] = &["/usr/sbin/ldconfig", "/sbin/ldconfig"];
pub const CACHE: &str = "/etc/ld.so.cache";
const CONF: &str = "/etc/ld.so.conf";
/// glibc's SLIBDIR and LIBDIR as EL builds them for 64-bit targets.
const TRUSTED: [&str; 2] = ["/lib64", "/usr/lib64"];
/// Nested `include` depth at which diskless stops (glibc recurses without a limit).
const MAX_INCLUDE_DEPTH: usize = 16;

const FLAG_ANY: i32 = -1;
const FLAG_LIBC4: i32 = 0x0000;
const FLAG_ELF: i32 = 0x0001;
const FLAG_ELF_LIBC5: i32 = 0x0002;
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_X8664_LIB64: i32 = 0x0300;
const FLAG_X8664_LIBX32: i32 = 0x0800;
const FLAG_ARM_LIBHF: i32 = 0x0900;
const FLAG_AARCH64_LIB64: i32 = 0x0a00;
const FLAG_ARM_LIBSF: i32 = 0x0b00;

const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const HEADER_SIZE: usize = 48;
const ENTRY_SIZE: usize = 24;
/// `cache_extension_magic`, (uint32_t) -358342284.
const EXTENSION_MAGIC: u32 = 3_936_625_012;
const HWCAP_EXTENSION: u64 = 1 << 62;
const TLS_HWCAP_BIT: u32 = 63;

/// The machines ldconfig is modelled for: the dynamic loader names and hwcap names differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
}

impl Machine {
    /// From an ELF `e_machine`.
    pub fn from_elf(e_machine: u16) -> Option<Machine> {
        match e_machine {
            62 => Some(Machine::X86_64),
            183 => Some(Machine::Aarch64),
            _ => None,
        }
    }

    /// The machine of a 64-bit ELF file, `None` for other files and other machines.
    pub fn of_elf64(b: &[u8]) -> Option<Machine> {
        (b.len() >= 20 && b.starts_with(b"\x7fELF") && b[4] == 2)
            .then(|| u16le(b, 18).and_then(Machine::from_elf))
            .flatten()
    }

    fn interpreters(self) -> &'static [&'static str] {
        match self {
            Machine::X86_64 => &[
                "/lib/ld-linux-x86-64.so.2",
                "/lib/ld-linux.so.2",
                "/libx32/ld-linux-x32.so.2",
                "/lib64/ld-linux-x86-64.so.2",
            ],
            Machine::Aarch64 => &[
                "/lib/ld-linux-aarch64.so.1",
                "/lib/ld-linux-aarch64.so.1",
                "/lib/ld-linux-aarch64_be.so.1",
                "/lib/ld-linux-aarch64_ilp32.so.1",
                "/lib/ld-linux-aarch64_be_ilp32.so.1",
                "/lib/ld-linux.so.3",
                "/lib/ld-linux-armhf.so.3",
            ],
        }
    }

    /// `_dl_string_hwcap`: the hwcap bit a directory name stands for.
    fn hwcap_bit(self, name: &str) -> Option<u32> {
        let names: &[&str] = match self {
            Machine::X86_64 => &["sse2", "x86_64", "avx512_1"],
            Machine::Aarch64 => AARCH64_HWCAPS,
        };
        names.iter().position(|n| *n == name).map(|i| i as u32)
    }

    /// `_dl_string_platform`: the platform bit of a directory name (x86 only).
    fn platform_bit(self, name: &str) -> Option<u32> {
        match self {
            Machine::X86_64 => ["i586", "i686", "haswell", "xeon_phi"]
                .iter()
                .position(|n| *n == name)
                .map(|i| 48 + i as u32),
            Machine::Aarch64 => None,
        }
    }

    /// `HWCAP_IMPORTANT` of ldconfig's build: the hwcaps whose directories are scanned.
    fn important(self, bit: u32) -> bool {
        match self {
            Machine::X86_64 => bit < 3,
            Machine::Aarch64 => bit == 8, // atomics
        }
    }

    /// Whether the C compiler's `char` is signed (it shows in `_dl_cache_libcmp`).
    fn char_signed(self) -> bool {
        self == Machine::X86_64
    }
}

const AARCH64_HWCAPS: &[&str] = &[
    "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp",
    "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4",
    "asimddp", "sha512", "sve", "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb",
    "paca", "pacg",
];

/// What [`run`] did to the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The bytes of `/etc/ld.so.cache`.
    pub cache: Vec<u8>,
    /// Entries in the cache.
    pub entries: usize,
    /// Symlinks created or repointed (path, target), in the order made.
    pub linked: Vec<(String, String)>,
    /// Dangling `*.so.*` symlinks removed.
    pub removed: Vec<String>,
    /// What ldconfig would have printed as errors (a soname held by a regular file, ...).
    pub warnings: Vec<String>,
}

/// What ldconfig reads from one shared object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lib {
    pub flag: i32,
    pub soname: Option<String>,
    pub osversion: u32,
    pub isa_level: u32,
}

#[derive(Debug, Clone)]
struct Dir {
    /// As written in the configuration (with subdirectory names appended).
    path: String,
    /// Resolved through the tree's symlinks: the directory's identity.
    real: String,
    flag: i32,
    hwcaps: Option<usize>,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    lib: String,
    path: String,
    flags: i32,
    osversion: u32,
    isa_level: u32,
    hwcap: u64,
    hwcaps: Option<usize>,
}

struct Dlib {
    name: String,
    soname: String,
    flag: i32,
    is_link: bool,
    osversion: u32,
    isa_level: u32,
}

/// The image's ldconfig: its path, machine and generator string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub path: String,
    pub machine: Option<Machine>,
    pub generator: Option<String>,
}

/// Find the image's ldconfig and read what the cache records of it.
pub fn find_tool(tree: &Tree, store: &Store) -> Result<Option<Tool>, LdconfigError> {
    for p in LDCONFIG {
        let Ok(real) = paths::resolve(tree, p, true) else {
            continue;
        };
        let Some(e) = tree.get(&real) else { continue };
        let EntryKind::File { digest, .. } = &e.kind else {
            continue;
        };
        let bytes = store
            .read(digest)
            .map_err(|source| read_err(&real, e, source))?;
        let machine = Machine::of_elf64(&bytes);
        return Ok(Some(Tool {
            path: real,
            machine,
            generator: generator_string(&bytes),
        }));
    }
    Ok(None)
}

/// The string ldconfig puts in the cache's generator section, as compiled into it:
/// `ldconfig (GNU libc) stable release version 2.34`.
pub fn generator_string(binary: &[u8]) -> Option<String> {
    let needle = b" release version ";
    let mut from = 0;
    while let Some(i) = find(&binary[from..], needle).map(|i| i + from) {
        let start = binary[..i]
            .iter()
            .rposition(|&b| b == 0)
            .map_or(0, |p| p + 1);
        let end = binary[i..]
            .iter()
            .position(|&b| b == 0)
            .map_or(binary.len(), |p| i + p);
        let s = &binary[start..end];
        if s.starts_with(b"ldconfig ") {
            return std::str::from_utf8(s).ok().map(str::to_owned);
        }
        from = i + 1;
    }
    None
}

/// The glibc version at the end of a generator string (`... release version 2.34`).
pub fn glibc_version(generator: &str) -> Option<(u32, u32)> {
    let v = generator.rsplit(' ').next()?;
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_err(path: &str, e: &Entry, source: std::io::Error) -> LdconfigError {
    LdconfigError::Read {
        path: path.to_string(),
        package: e
            .owner_package
            .clone()
            .unwrap_or_else(|| "(generated)".into()),
        source,
    }
}

/// What [`run`] found instead of a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// No `/usr/sbin/ldconfig` in the image.
    NoLdconfig,
    /// The image's ldconfig is for a machine diskless does not model.
    Machine(String),
}

/// Run ldconfig over the image: create and remove symlinks in the tree and return the
/// cache bytes (the caller writes them to [`CACHE`]).
pub fn run(image: &mut Image<'_>) -> Result<Result<Outcome, Skip>, LdconfigError> {
    let Some(tool) = find_tool(&image.tree, image.store)? else {
        return Ok(Err(Skip::NoLdconfig));
    };
    let Some(machine) = tool.machine else {
        return Ok(Err(Skip::Machine(tool.path)));
    };
    // glibc 2.36 stopped recording the ABI tag's OS version (upstream commit "elf: Remove
    // ldconfig kernel version check"); EL9's 2.34 records it.
    let osversion = tool
        .generator
        .as_deref()
        .and_then(glibc_version)
        .is_none_or(|v| v < (2, 36));
    let generator = tool
        .generator
        .unwrap_or_else(|| format!("diskless {}", crate::VERSION));
    let mut l = Ldconfig {
        image,
        machine,
        osversion,
        dirs: Vec::new(),
        strings: BTreeSet::new(),
        hwcaps: Vec::new(),
        entries: Vec::new(),
        parsed: HashMap::new(),
        out: Outcome::default(),
    };
    l.parse_conf(CONF, 0);
    for d in TRUSTED {
        l.add_dir(d);
    }
    l.preparse();
    let mut i = 0;
    while i < l.dirs.len() {
        let d = l.dirs[i].clone();
        l.search_dir(&d)?;
        i += 1;
    }
    let mut out = std::mem::take(&mut l.out);
    out.entries = l.entries.len();
    out.cache = l.cache_bytes(&generator)?;
    Ok(Ok(out))
}

struct Ldconfig<'i, 's> {
    image: &'i mut Image<'s>,
    machine: Machine,
    /// Whether entries carry the libraries' OS version (glibc before 2.36).
    osversion: bool,
    dirs: Vec<Dir>,
    strings: BTreeSet<String>,
    /// glibc-hwcaps subdirectory names, in discovery order, with "used".
    hwcaps: Vec<(String, bool)>,
    entries: Vec<CacheEntry>,
    /// Parsed libraries by resolved path (`None`: not a library ldconfig takes).
    parsed: HashMap<String, Option<Lib>>,
    out: Outcome,
}

impl Ldconfig<'_, '_> {
    fn tree(&self) -> &Tree {
        &self.image.tree
    }

    /// `stat`: the resolved path of an existing entry.
    fn stat(&self, path: &str) -> Option<String> {
        stat(self.tree(), path)
    }

    /// `parse_conf`: read one configuration file (missing files are skipped, as ldconfig
    /// skips them).
    fn parse_conf(&mut self, file: &str, depth: usize) {
        let mut lines = Vec::new();
        read_conf(self.tree(), self.image.store, file, depth, &mut lines);
        for line in lines {
            match line {
                ConfLine::Dir(l) => self.add_dir_line(&l),
                ConfLine::Warning(w) => self.out.warnings.push(w),
            }
        }
    }

    /// `add_dir_1` for a configuration line: `dir` or `dir=type`.
    fn add_dir_line(&mut self, line: &str) {
        let (path, flag) = dir_line(line);
        let flag = flag.unwrap_or_else(|t| {
            self.out
                .warnings
                .push(format!("{t} is not a known library type"));
            FLAG_ANY
        });
        if path.is_empty() {
            return;
        }
        self.add_dir_flag(path, flag);
    }

    fn add_dir(&mut self, path: &str) {
        self.add_dir_flag(path, FLAG_ANY);
    }

    fn add_dir_flag(&mut self, path: &str, flag: i32) {
        let Some(real) = self.stat(&absolute(path)) else {
            return;
        };
        let d = Dir {
            path: path.to_string(),
            real: real.clone(),
            flag,
            hwcaps: None,
        };
        if self.add_single_dir(d) {
            self.add_glibc_hwcaps(path, &real, flag);
        }
    }

    /// Add a directory unless one with the same identity is listed (then that one takes the
    /// new flag, as ldconfig "uses the newer information").
    fn add_single_dir(&mut self, d: Dir) -> bool {
        if let Some(old) = self.dirs.iter_mut().find(|o| o.real == d.real) {
            old.flag = d.flag;
            return false;
        }
        self.dirs.push(d);
        true
    }

    fn add_glibc_hwcaps(&mut self, path: &str, real: &str, flag: i32) {
        let base = format!("{}/glibc-hwcaps", real.trim_end_matches('/'));
        let Some(base_real) = self.stat(&base) else {
            return;
        };
        let kids: Vec<(String, EntryKind)> = self
            .tree()
            .children(&base_real)
            .into_iter()
            .map(|(n, e)| (n.to_string(), e.kind.clone()))
            .collect();
        for (name, kind) in kids {
            if name.starts_with('.') || matches!(kind, EntryKind::File { .. }) || name.contains(':')
            {
                continue;
            }
            let Some(sub) = self.stat(&format!("{base_real}/{name}")) else {
                continue;
            };
            if self.tree().get(&sub).map(|e| &e.kind) != Some(&EntryKind::Dir) {
                continue;
            }
            let idx = self.hwcaps_index(&name);
            self.add_single_dir(Dir {
                path: format!("{path}/glibc-hwcaps/{name}"),
                real: sub,
                flag,
                hwcaps: Some(idx),
            });
        }
    }

    /// `new_glibc_hwcaps_subdirectory`: the name is interned even if nothing uses it.
    fn hwcaps_index(&mut self, name: &str) -> usize {
        self.strings.insert(name.to_string());
        if let Some(i) = self.hwcaps.iter().position(|(n, _)| n == name) {
            return i;
        }
        self.hwcaps.push((name.to_string(), false));
        self.hwcaps.len() - 1
    }

    fn is_hwcap_platform(&self, name: &str) -> bool {
        let m = self.machine;
        m.hwcap_bit(name).is_some_and(|b| m.important(b))
            || m.platform_bit(name).is_some()
            || name == "tls"
    }

    /// `path_hwcap`: hwcap bits of the trailing hwcap components of a directory path.
    fn path_hwcap(&self, path: &str) -> u64 {
        let mut hwcap = 0u64;
        let mut rest = path;
        while let Some(i) = rest.rfind('/') {
            let name = &rest[i + 1..];
            let bit = self
                .machine
                .hwcap_bit(name)
                .or_else(|| self.machine.platform_bit(name))
                .or_else(|| (name == "tls").then_some(TLS_HWCAP_BIT));
            let Some(bit) = bit else { break };
            hwcap = hwcap.wrapping_add(1u64 << bit);
            rest = &rest[..i];
        }
        hwcap
    }

    /// Read and parse, in parallel, every file the scan will look at in the directories
    /// known now, so the sequential scan below finds them parsed.
    fn preparse(&mut self) {
        let mut todo: BTreeMap<String, (super::tree::Digest, Option<String>)> = BTreeMap::new();
        for d in &self.dirs {
            for (name, _) in self.tree().children(&d.real) {
                if !is_dso(name) {
                    continue;
                }
                let Some(real) = self.stat(&format!("{}/{name}", d.real)) else {
                    continue;
                };
                if let Some(e) = self.tree().get(&real) {
                    if let EntryKind::File { digest, .. } = &e.kind {
                        todo.insert(real, (*digest, e.owner_package.clone()));
                    }
                }
            }
        }
        let store = self.image.store;
        let machine = self.machine;
        let done: Vec<(String, Option<Option<Lib>>)> = todo
            .into_par_iter()
            .map(|(real, (digest, _))| {
                let name = real.rsplit('/').next().unwrap_or(&real).to_string();
                // A read failure is reported by the sequential pass, with its path.
                let lib = store
                    .read(&digest)
                    .ok()
                    .map(|b| parse_library(&b, &name, machine));
                (real, lib)
            })
            .collect();
        for (real, lib) in done {
            if let Some(lib) = lib {
                self.parsed.insert(real, lib);
            }
        }
    }

    fn library(&mut self, real: &str, name: &str) -> Result<Option<Lib>, LdconfigError> {
        if let Some(l) = self.parsed.get(real) {
            return Ok(l.clone());
        }
        let lib = match self.tree().get(real) {
            Some(e) => match &e.kind {
                EntryKind::File { digest, .. } => {
                    let bytes = self
                        .image
                        .store
                        .read(digest)
                        .map_err(|source| read_err(real, e, source))?;
                    parse_library(&bytes, name, self.machine)
                }
                _ => None,
            },
            None => None,
        };
        self.parsed.insert(real.to_string(), lib.clone());
        Ok(lib)
    }

    /// `search_dir`: one directory's libraries into the cache, its links into the tree.
    fn search_dir(&mut self, d: &Dir) -> Result<(), LdconfigError> {
        let hwcap = if d.hwcaps.is_none() {
            self.path_hwcap(&d.path)
        } else {
            0
        };
        let Some(real_dir) = self.stat(&d.real) else {
            return Ok(());
        };
        if self.tree().get(&real_dir).map(|e| &e.kind) != Some(&EntryKind::Dir) {
            return Ok(());
        }
        let kids: Vec<(String, EntryKind)> = self
            .tree()
            .children(&real_dir)
            .into_iter()
            .map(|(n, e)| (n.to_string(), e.kind.clone()))
            .collect();
        let mut dlibs: Vec<Dlib> = Vec::new();
        for (name, kind) in kids {
            let (is_reg, is_lnk) = match kind {
                EntryKind::File { .. } => (true, false),
                EntryKind::Symlink { .. } => (false, true),
                EntryKind::Dir => (false, false),
                _ => continue,
            };
            if !is_dso(&name) && (is_reg || (d.hwcaps.is_none() && !self.is_hwcap_platform(&name)))
            {
                continue;
            }
            if name.ends_with(".#prelink#") || prelink_tmp(&name) {
                continue;
            }
            let child = format!("{real_dir}/{name}");
            let file_name = format!("{}/{name}", d.path);
            let target = if is_lnk {
                match self.stat(&child) {
                    Some(t) => t,
                    None => {
                        if name.contains(".so.") {
                            self.image.tree.remove(&child);
                            self.image.owners.remove(&child);
                            self.out.removed.push(child);
                        }
                        continue;
                    }
                }
            } else {
                child.clone()
            };
            let target_is_dir = self.tree().get(&target).map(|e| &e.kind) == Some(&EntryKind::Dir);
            if d.hwcaps.is_none() && target_is_dir && self.is_hwcap_platform(&name) {
                self.add_single_dir(Dir {
                    path: file_name,
                    real: target,
                    flag: d.flag,
                    hwcaps: None,
                });
                continue;
            } else if !is_reg && !is_lnk {
                continue;
            }
            let Some(lib) = self.library(&target, &name)? else {
                continue;
            };
            let mut soname = lib
                .soname
                .clone()
                .unwrap_or_else(|| implicit_soname(&name, lib.flag));
            let mut is_link = is_lnk;
            if is_link
                && name != soname
                && !(name.ends_with(".so") && soname.starts_with(name.as_str()))
            {
                is_link = false;
            }
            if is_link {
                soname = name.clone();
            }
            let mut flag = lib.flag;
            if flag == FLAG_ELF && (d.flag == FLAG_ELF_LIBC5 || d.flag == FLAG_ELF_LIBC6) {
                flag = d.flag;
            }
            let signed = self.machine.char_signed();
            if let Some(dl) = dlibs.iter_mut().find(|dl| dl.soname == soname) {
                if (!is_link && dl.is_link)
                    || (is_link == dl.is_link && libcmp(&dl.name, &name, signed) < 0)
                {
                    if dl.flag != flag {
                        let libc = |f: i32| f == FLAG_ELF_LIBC5 || f == FLAG_ELF_LIBC6;
                        if (dl.flag == FLAG_ELF && libc(flag))
                            || (libc(dl.flag) && flag == FLAG_ELF)
                        {
                            dl.flag = flag;
                        } else {
                            self.out.warnings.push(format!(
                                "libraries {} and {name} in directory {} have same soname but different type",
                                dl.name, d.path
                            ));
                        }
                    }
                    dl.name = name.clone();
                    dl.is_link = is_link;
                    dl.osversion = if self.osversion { lib.osversion } else { 0 };
                    dl.isa_level = lib.isa_level;
                }
                continue;
            }
            dlibs.push(Dlib {
                name,
                soname,
                flag,
                is_link,
                osversion: if self.osversion { lib.osversion } else { 0 },
                isa_level: lib.isa_level,
            });
        }
        // ldconfig keeps the list newest-first and walks it from the head.
        for dl in dlibs.into_iter().rev() {
            let filename = if d.hwcaps.is_none() {
                if !dl.is_link {
                    self.create_links(&real_dir, &d.path, &dl.name, &dl.soname);
                }
                dl.soname.clone()
            } else {
                dl.name.clone()
            };
            let path = format!("{}/{filename}", d.path);
            self.strings.insert(path.clone());
            self.strings.insert(dl.soname.clone());
            if let Some(h) = d.hwcaps {
                self.hwcaps[h].1 = true;
            }
            self.entries.push(CacheEntry {
                lib: dl.soname,
                path,
                flags: dl.flag,
                osversion: dl.osversion,
                isa_level: dl.isa_level,
                hwcap,
                hwcaps: d.hwcaps,
            });
        }
        Ok(())
    }

    /// `create_links`: `soname -> libname` in the directory, unless it already leads to the
    /// library or a regular file holds the name.
    fn create_links(&mut self, real_dir: &str, path: &str, libname: &str, soname: &str) {
        let so_path = format!("{real_dir}/{soname}");
        let lib_path = format!("{real_dir}/{libname}");
        let so_is_link = matches!(
            self.tree().get(&so_path).map(|e| &e.kind),
            Some(EntryKind::Symlink { .. })
        );
        if let Some(so_real) = self.stat(&so_path) {
            let Some(lib_real) = self.stat(&lib_path) else {
                self.out
                    .warnings
                    .push(format!("Can't stat {path}/{libname}"));
                return;
            };
            if self.same_file(&so_real, &lib_real) {
                return;
            }
            if !so_is_link {
                self.out
                    .warnings
                    .push(format!("{path}/{soname} is not a symbolic link"));
                return;
            }
        }
        let entry = Entry {
            kind: EntryKind::Symlink {
                target: libname.to_string(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
            mtime: self.image.implied_mtime,
            owner_package: None,
            caps: None,
        };
        self.image.tree.insert(so_path.clone(), entry);
        self.image
            .owners
            .insert(so_path.clone(), super::extract::Owner::root());
        self.out.linked.push((so_path, libname.to_string()));
    }

    /// Same inode: the same entry, or two names of one hardlink group.
    fn same_file(&self, a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }
        let group = |p: &str| match self.tree().get(p).map(|e| &e.kind) {
            Some(EntryKind::File {
                link_group: Some(g),
                digest,
                ..
            }) => Some((*g, *digest)),
            _ => None,
        };
        group(a).is_some_and(|g| Some(g) == group(b))
    }

    /// `save_cache` in the new format.
    fn cache_bytes(&mut self, generator: &str) -> Result<Vec<u8>, LdconfigError> {
        let signed = self.machine.char_signed();
        let names: Vec<String> = self.hwcaps.iter().map(|(n, _)| n.clone()).collect();
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_by(|a, b| compare(a, b, &names, signed));
        // Used glibc-hwcaps names, sorted, give the section indices.
        let mut used: Vec<usize> = (0..self.hwcaps.len())
            .filter(|&i| self.hwcaps[i].1)
            .collect();
        used.sort_by(|&a, &b| self.hwcaps[a].0.cmp(&self.hwcaps[b].0));
        let section_index = |h: usize| used.iter().position(|&u| u == h).unwrap_or(0) as u64;

        let (table, offsets) = string_table(&self.strings);
        let n = entries.len();
        let str_offset = HEADER_SIZE + n * ENTRY_SIZE;
        let off = |s: &str| (str_offset + offsets.get(s).copied().unwrap_or(0)) as u32;
        let ext_offset = (str_offset + table.len()).div_ceil(4) * 4;

        let mut out = Vec::with_capacity(ext_offset + 256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&(table.len() as u32).to_le_bytes());
        out.push(2); // cache_file_new_flags_endian_little
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&(ext_offset as u32).to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        for e in &entries {
            let hwcap = match e.hwcaps {
                None => e.hwcap,
                Some(h) => {
                    if e.isa_level > 1023 {
                        return Err(LdconfigError::IsaLevel {
                            path: e.path.clone(),
                            level: e.isa_level,
                        });
                    }
                    HWCAP_EXTENSION | (u64::from(e.isa_level) << 32) | section_index(h)
                }
            };
            out.extend_from_slice(&e.flags.to_le_bytes());
            out.extend_from_slice(&off(&e.lib).to_le_bytes());
            out.extend_from_slice(&off(&e.path).to_le_bytes());
            out.extend_from_slice(&e.osversion.to_le_bytes());
            out.extend_from_slice(&hwcap.to_le_bytes());
        }
        out.extend_from_slice(&table);
        out.resize(ext_offset, 0);

        // The extension directory: the generator, then the hwcaps names if any are used.
        // ldconfig places the data as if both sections were listed.
        let hwcaps_offset = ext_offset + 8 + 2 * 16;
        let hwcaps_size = used.len() * 4;
        let generator_offset = if used.is_empty() {
            hwcaps_offset - 16
        } else {
            hwcaps_offset + hwcaps_size
        };
        out.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
        out.extend_from_slice(&(1 + u32::from(!used.is_empty())).to_le_bytes());
        for v in [0, 0, generator_offset as u32, generator.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        if !used.is_empty() {
            for v in [1, 0, hwcaps_offset as u32, hwcaps_size as u32] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for &h in &used {
                out.extend_from_slice(&off(&self.hwcaps[h].0).to_le_bytes());
            }
        }
        out.extend_from_slice(generator.as_bytes());
        Ok(out)
    }
}

/// `stat` in the image: the resolved path of an existing entry.
fn stat(tree: &Tree, path: &str) -> Option<String> {
    let real = paths::resolve(tree, path, true).ok()?;
    tree.get(&real).map(|_| real)
}

fn is_dir(tree: &Tree, path: &str) -> bool {
    stat(tree, path)
        .and_then(|r| tree.get(&r))
        .is_some_and(|e| e.kind == EntryKind::Dir)
}

fn read_text(tree: &Tree, store: &Store, path: &str) -> Result<Option<String>, LdconfigError> {
    let Some(real) = stat(tree, path) else {
        return Ok(None);
    };
    let Some(e) = tree.get(&real) else {
        return Ok(None);
    };
    let EntryKind::File { digest, .. } = &e.kind else {
        return Ok(None);
    };
    let bytes = store
        .read(digest)
        .map_err(|source| read_err(&real, e, source))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// What a configuration line asks of ldconfig, in the order read.
enum ConfLine {
    /// A directory line, `dir` or `dir=type` (see [`dir_line`]).
    Dir(String),
    /// What ldconfig would print about a line it ignores.
    Warning(String),
}

/// `parse_conf` without the ldconfig run around it: the lines of one configuration file and,
/// in place, those of the files it includes (missing or unreadable files are skipped, as
/// ldconfig skips them). Shared by the cache ([`Ldconfig::parse_conf`]) and [`conf_dirs`].
fn read_conf(tree: &Tree, store: &Store, file: &str, depth: usize, out: &mut Vec<ConfLine>) {
    let Ok(Some(text)) = read_text(tree, store, file) else {
        return;
    };
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.split('#').next().unwrap_or("");
        let cp = line.trim_start_matches(is_c_space);
        if cp.is_empty() {
            continue;
        }
        let b = cp.as_bytes();
        if cp.starts_with("include") && b.get(7).is_some_and(|c| *c == b' ' || *c == b'\t') {
            for pattern in cp[8..].split([' ', '\t']).filter(|p| !p.is_empty()) {
                if depth >= MAX_INCLUDE_DEPTH {
                    out.push(ConfLine::Warning(format!(
                        "{file}:{}: includes nested too deeply, `{pattern}` not read",
                        n + 1
                    )));
                    continue;
                }
                let pattern = if pattern.starts_with('/') {
                    pattern.to_string()
                } else {
                    let dir = paths::parent(file).unwrap_or("/");
                    format!("{}/{pattern}", dir.trim_end_matches('/'))
                };
                for f in glob(tree, &pattern) {
                    read_conf(tree, store, &f, depth + 1, out);
                }
            }
        } else if b.len() > 5
            && b[..5].eq_ignore_ascii_case(b"hwcap")
            && matches!(b[5], b' ' | b'\t')
        {
            out.push(ConfLine::Warning(format!(
                "{file}:{}: hwcap directive ignored",
                n + 1
            )));
        } else {
            out.push(ConfLine::Dir(cp.to_string()));
        }
    }
}

/// glob(3) over the tree, without flags: `*`, `?` and `[...]` within one component, no
/// match for a leading dot unless written, results sorted bytewise.
fn glob(tree: &Tree, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    let parts: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let magic = part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &found {
            if !magic {
                let p = format!("{base}/{part}");
                let exists = if last {
                    let parent = paths::resolve(tree, &p, false).ok();
                    parent.is_some_and(|r| tree.get(&r).is_some())
                } else {
                    is_dir(tree, &p)
                };
                if exists {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.is_empty() { "/" } else { base.as_str() };
            let Some(real) = stat(tree, dir) else {
                continue;
            };
            for (name, _) in tree.children(&real) {
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if !super::glob::matches(part, name) {
                    continue;
                }
                let p = format!("{base}/{name}");
                if last || is_dir(tree, &p) {
                    next.push(p);
                }
            }
        }
        found = next;
    }
    found.retain(|p| !p.is_empty());
    found.sort();
    found
}

/// A directory line of the configuration, `dir` or `dir=type`: the directory as written
/// (trailing blanks and slashes cut; empty for none) and its library type's flag, or the
/// type when ldconfig does not know it.
fn dir_line(line: &str) -> (&str, Result<i32, &str>) {
    let (path, flag) = match line.split_once('=') {
        Some((p, t)) => {
            let flag = match t {
                "libc4" => Ok(FLAG_LIBC4),
                "libc5" => Ok(FLAG_ELF_LIBC5),
                "libc6" | "glibc2" => Ok(FLAG_ELF_LIBC6),
                _ => Err(t),
            };
            (p, flag)
        }
        None => (line, Ok(FLAG_ANY)),
    };
    (
        path.trim_end_matches(is_c_space).trim_end_matches('/'),
        flag,
    )
}

/// A path as an absolute one, for a process whose working directory is `/` (ldconfig runs
/// chrooted so; the initrd's programs run so too).
pub(crate) fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The directories the image's `/etc/ld.so.conf` names (its `include`s read in place), as
/// absolute paths, in order, each once, whether or not it exists. The dynamic linker finds
/// libraries there through the cache ldconfig makes of them, before its default
/// directories; the trusted `/lib64` and `/usr/lib64` that ldconfig adds are not listed.
pub fn conf_dirs(tree: &Tree, store: &Store) -> Vec<String> {
    let mut lines = Vec::new();
    read_conf(tree, store, CONF, 0, &mut lines);
    let mut dirs: Vec<String> = Vec::new();
    for line in lines {
        let ConfLine::Dir(l) = line else { continue };
        let (path, _) = dir_line(&l);
        if path.is_empty() {
            continue;
        }
        let path = absolute(path);
        if !dirs.contains(&path) {
            dirs.push(path);
        }
    }
    dirs
}

fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `_dl_is_dso`: `lib*.so*`, `ld-*.so*`, `ld.so.*`, `ld64.so.*`.
pub fn is_dso(name: &str) -> bool {
    ((name.starts_with("lib") || name.starts_with("ld-")) && name.contains(".so"))
        || name.starts_with("ld.so.")
        || name.starts_with("ld64.so.")
}

/// prelink's temporary files: `*.#prelink#.XXXXXX`.
fn prelink_tmp(name: &str) -> bool {
    let tail = ".#prelink#.XXXXXX".len();
    name.len() >= tail && name[name.len() - tail..].starts_with(".#prelink#.")
}

/// `implicit_soname`: the file name, cut after the major number for libc4 (a.out) libraries.
fn implicit_soname(name: &str, flag: i32) -> String {
    if flag & 0xff != FLAG_LIBC4 {
        return name.to_string();
    }
    match name.find(".so.") {
        Some(i) => match name[i + 4..].find('.') {
            Some(j) => name[..i + 4 + j].to_string(),
            None => name.to_string(),
        },
        None => name.to_string(),
    }
}

/// glibc's `_dl_cache_libcmp`: digit runs compare numerically, other bytes as `char`.
pub fn libcmp(a: &str, b: &str, char_signed: bool) -> i32 {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let ch = |s: &[u8], i: usize| -> i32 {
        let c = s.get(i).copied().unwrap_or(0);
        if char_signed {
            i32::from(c as i8)
        } else {
            i32::from(c)
        }
    };
    let digit = |s: &[u8], i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let (mut i, mut j) = (0, 0);
    while i < a.len() {
        if digit(a, i) {
            if digit(b, j) {
                let mut v1: i32 = 0;
                let mut v2: i32 = 0;
                while digit(a, i) {
                    v1 = v1.wrapping_mul(10).wrapping_add(i32::from(a[i] - b'0'));
                    i += 1;
                }
                while digit(b, j) {
                    v2 = v2.wrapping_mul(10).wrapping_add(i32::from(b[j] - b'0'));
                    j += 1;
                }
                if v1 != v2 {
                    return v1.wrapping_sub(v2);
                }
            } else {
                return 1;
            }
        } else if digit(b, j) {
            return -1;
        } else if a[i] != b.get(j).copied().unwrap_or(0) {
            return ch(a, i) - ch(b, j);
        } else {
            i += 1;
            j += 1;
        }
    }
    ch(a, i) - ch(b, j)
}

/// `cache.c`'s `compare`: sonames descending, then flags descending, glibc-hwcaps entries
/// first (by name), the most specific legacy hwcap first, the newest OS version first.
fn compare(e1: &CacheEntry, e2: &CacheEntry, names: &[String], signed: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let res = libcmp(&e2.lib, &e1.lib, signed);
    if res != 0 {
        return res.cmp(&0);
    }
    if e1.flags != e2.flags {
        return e2.flags.cmp(&e1.flags);
    }
    match (e1.hwcaps, e2.hwcaps) {
        (Some(_), None) => return Less,
        (None, Some(_)) => return Greater,
        (Some(a), Some(b)) => {
            let o = names[a].as_bytes().cmp(names[b].as_bytes());
            if o != Equal {
                return o;
            }
        }
        (None, None) => {}
    }
    let bits = |h: u64| h.count_ones();
    bits(e2.hwcap)
        .cmp(&bits(e1.hwcap))
        .then(e2.hwcap.cmp(&e1.hwcap))
        .then(e2.osversion.cmp(&e1.osversion))
}

/// `stringtable_finalize`: strings sorted by their reversed bytes, descending, each one
/// sharing the tail of the one before it when it is a suffix of it. Returns the table and
/// each string's offset.
pub fn string_table(strings: &BTreeSet<String>) -> (Vec<u8>, HashMap<String, usize>) {
    let mut list: Vec<&str> = strings.iter().map(String::as_str).collect();
    list.sort_by(|l, r| {
        let (l, r) = (l.as_bytes(), r.as_bytes());
        for k in 1..=l.len().min(r.len()) {
            let (a, b) = (l[l.len() - k], r[r.len() - k]);
            if a != b {
                return b.cmp(&a);
            }
        }
        r.len().cmp(&l.len())
    });
    let mut offsets = HashMap::new();
    let mut table: Vec<u8> = Vec::new();
    let mut prev: Option<(&str, usize)> = None;
    for s in list {
        let off = match prev {
            Some((p, po)) if p.len() >= s.len() && p.ends_with(s) => po + p.len() - s.len(),
            _ => {
                let o = table.len();
                table.extend_from_slice(s.as_bytes());
                table.push(0);
                o
            }
        };
        // glibc compares with the previous string whether or not that one was merged.
        prev = Some((s, off));
        offsets.insert(s.to_string(), off);
    }
    (table, offsets)
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn cstr(b: &[u8], at: usize) -> Option<&[u8]> {
    let s = b.get(at..)?;
    Some(&s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())])
}

/// `process_file` + the machine's `process_elf_file`: what ldconfig takes from the file
/// `name` with contents `b`, or `None` when it is not a library it caches.
pub fn parse_library(b: &[u8], name: &str, machine: Machine) -> Option<Lib> {
    // Smaller than struct exec or Elf64_Ehdr (ldconfig itself is a 64-bit program).
    if b.len() < 64 {
        return None;
    }
    let aout = u32le(b, 0)? & 0xffff;
    if aout == 0o413 || aout == 0o314 {
        return Some(Lib {
            flag: FLAG_LIBC4,
            soname: Some(implicit_soname(name, FLAG_LIBC4)),
            osversion: 0,
            isa_level: 0,
        });
    }
    if !b.starts_with(b"\x7fELF") || u16le(b, 16)? != 3 {
        return None;
    }
    let class = b[4];
    match machine {
        Machine::X86_64 => {
            let file_flag = match (u16le(b, 18)?, class) {
                (62, 2) => FLAG_X8664_LIB64 | FLAG_ELF_LIBC6,
                (62, _) => FLAG_X8664_LIBX32 | FLAG_ELF_LIBC6,
                (3, 1) => 0,
                _ => return None,
            };
            let mut lib = parse_elf(b, class, machine)?;
            if file_flag != 0 {
                lib.flag = file_flag;
            }
            Some(lib)
        }
        Machine::Aarch64 => {
            let mut lib = parse_elf(b, class, machine)?;
            if class == 1 {
                let e_flags = u32le(b, 36)?;
                if e_flags & 0xff00_0000 == 0x0500_0000 {
                    lib.flag = if e_flags & 0x400 != 0 {
                        FLAG_ARM_LIBHF | FLAG_ELF_LIBC6
                    } else if e_flags & 0x200 != 0 {
                        FLAG_ARM_LIBSF | FLAG_ELF_LIBC6
                    } else {
                        FLAG_ELF_LIBC6
                    };
                }
            } else {
                lib.flag = FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6;
            }
            Some(lib)
        }
    }
}

/// `PT_*` program header types and `DT_*` dynamic tags read here.
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const PT_GNU_PROPERTY: u32 = 0x6474_e553;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// A program header's fields: (type, offset, vaddr, filesz, align).
type Phdr = (u32, u64, u64, u64, u64);

/// The program headers and the dynamic section of an ELF file of either class, read in
/// place: the walk both ldconfig ([`parse_elf`]) and the dynamic linker
/// ([`elf_dependencies`]) make. Every read is bounds-checked (`None` past the end).
struct ElfView<'a> {
    b: &'a [u8],
    is64: bool,
    phoff: u64,
    phnum: u16,
}

impl<'a> ElfView<'a> {
    /// `class`: `EI_CLASS`, 1 for 32-bit, 2 for 64-bit (little-endian either way).
    fn new(b: &'a [u8], class: u8) -> Option<ElfView<'a>> {
        let is64 = match class {
            1 => false,
            2 => true,
            _ => return None,
        };
        let (phoff, phnum) = if is64 {
            (u64le(b, 32)?, u16le(b, 56)?)
        } else {
            (u64::from(u32le(b, 28)?), u16le(b, 44)?)
        };
        Some(ElfView {
            b,
            is64,
            phoff,
            phnum,
        })
    }

    fn word(&self, at: usize) -> Option<u64> {
        if self.is64 {
            u64le(self.b, at)
        } else {
            u32le(self.b, at).map(u64::from)
        }
    }

    /// The program headers in order; an item is `None` where one runs past the file.
    fn phdrs(&self) -> impl Iterator<Item = Option<Phdr>> + '_ {
        (0..usize::from(self.phnum)).map(|i| self.phdr(i))
    }

    fn phdr(&self, i: usize) -> Option<Phdr> {
        let (b, size) = (self.b, if self.is64 { 56 } else { 32 });
        let at = usize::try_from(self.phoff).ok()?.checked_add(i * size)?;
        if self.is64 {
            Some((
                u32le(b, at)?,
                u64le(b, at + 8)?,
                u64le(b, at + 16)?,
                u64le(b, at + 32)?,
                u64le(b, at + 48)?,
            ))
        } else {
            Some((
                u32le(b, at)?,
                u64::from(u32le(b, at + 4)?),
                u64::from(u32le(b, at + 8)?),
                u64::from(u32le(b, at + 16)?),
                u64::from(u32le(b, at + 28)?),
            ))
        }
    }

    /// The dynamic section at file offset `at` as (tag, value), up to `DT_NULL`, read
    /// lazily (a caller that stops early reads no further, as ldconfig does); an item is
    /// `None` where an entry runs past the file, and the walk ends there.
    fn dynamic(&self, at: u64) -> impl Iterator<Item = Option<(u64, u64)>> + '_ {
        let size = if self.is64 { 16 } else { 8 };
        let mut k = 0usize;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let entry = (|| {
                let at = usize::try_from(at).ok()?.checked_add(k * size)?;
                let tag = if self.is64 {
                    u64le(self.b, at)?
                } else {
                    u64::from(u32le(self.b, at)?)
                };
                Some((tag, self.word(at + size / 2)?))
            })();
            k += 1;
            match entry {
                None => {
                    done = true;
                    Some(None)
                }
                Some((DT_NULL, _)) => None,
                Some(e) => Some(Some(e)),
            }
        })
    }

    /// `DT_STRTAB` of the dynamic section at `dyn_off`, as a file offset through the
    /// PT_LOAD segment that maps it.
    fn strtab(&self, dyn_off: u64) -> Option<usize> {
        let mut strtab = None;
        for entry in self.dynamic(dyn_off) {
            let (tag, val) = entry?;
            if tag == DT_STRTAB {
                strtab = Some(val);
                break;
            }
        }
        let val = strtab?;
        let mut loadoff = 0u64;
        for ph in self.phdrs() {
            let (ptype, offset, vaddr, filesz, _) = ph?;
            if ptype == PT_LOAD && val >= vaddr && val - vaddr < filesz {
                loadoff = vaddr.wrapping_sub(offset);
                break;
            }
        }
        let at = val.wrapping_sub(loadoff);
        if at > self.b.len() as u64 {
            return None;
        }
        Some(at as usize)
    }

    /// The string at offset `val` of the string table at `strtab` (`None` past the file).
    fn string(&self, strtab: usize, val: u64) -> Option<&'a [u8]> {
        let at = strtab.checked_add(usize::try_from(val).ok()?)?;
        if at > self.b.len() {
            return None;
        }
        Some(cstr(self.b, at).unwrap_or(&[]))
    }
}

/// The generic `process_elf_file` for one ELF class.
fn parse_elf(b: &[u8], class: u8, machine: Machine) -> Option<Lib> {
    let elf = ElfView::new(b, class)?;
    let addr_size: u64 = if elf.is64 { 8 } else { 4 };
    let mut flag = FLAG_ELF;
    let mut osversion = 0u32;
    let mut isa_level = 0u32;
    let mut dynamic: Option<(u64, u64)> = None;
    let mut dynamic_size = 0u64;
    for ph in elf.phdrs() {
        let (ptype, offset, _, filesz, align) = ph?;
        match ptype {
            PT_DYNAMIC => {
                // ldconfig keeps the offset in an unsigned int.
                dynamic = Some((offset & 0xffff_ffff, filesz));
                dynamic_size = filesz;
            }
            PT_INTERP => {
                let interp = cstr(b, usize::try_from(offset).ok()?)?;
                if machine
                    .interpreters()
                    .iter()
                    .any(|n| n.as_bytes() == interp)
                {
                    flag = FLAG_ELF_LIBC6;
                }
            }
            PT_NOTE if osversion == 0 && filesz >= 32 && align >= 4 => {
                if align != 4 && align != 8 {
                    continue;
                }
                if let Some(v) = abi_tag(b, offset, filesz, align) {
                    osversion = v;
                }
            }
            PT_GNU_PROPERTY if machine == Machine::X86_64 && align == addr_size => {
                if let Some(level) = isa_needed(b, offset, filesz, align, addr_size) {
                    isa_level = level;
                }
            }
            _ => {}
        }
    }
    let (dyn_off, _) = dynamic?;
    if dynamic_size == 0 {
        return None;
    }
    let strtab = elf.strtab(dyn_off)?;
    let mut soname = None;
    for entry in elf.dynamic(dyn_off) {
        let (tag, val) = entry?;
        if tag == DT_NEEDED || tag == DT_SONAME {
            let s = elf.string(strtab, val)?;
            if tag == DT_NEEDED {
                if flag == FLAG_ELF && (s == b"libc.so.6" || s == b"libm.so.6") {
                    flag = FLAG_ELF_LIBC6;
                }
            } else {
                soname = Some(String::from_utf8_lossy(s).into_owned());
            }
            if soname.is_some() && flag != FLAG_ELF {
                break;
            }
        }
    }
    Some(Lib {
        flag,
        soname,
        osversion,
        isa_level,
    })
}

/// What the kernel and the dynamic linker need to run an ELF program or load a library.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfDeps {
    /// `PT_INTERP`: the program interpreter (`/lib64/ld-linux-x86-64.so.2`), `None` for a
    /// static program or a library.
    pub interp: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` split on `:`, else `DT_RPATH` (the dynamic linker ignores `DT_RPATH`
    /// when `DT_RUNPATH` is there); `$ORIGIN` and other tokens left as written.
    pub runpath: Vec<String>,
}

/// The dependencies of a 64-bit little-endian ELF executable (static, dynamic or PIE) or
/// shared object: `None` for anything else (not ELF, 32-bit, big-endian, a relocatable or
/// core file, or headers that run past the end of `b`).
pub fn elf_dependencies(b: &[u8]) -> Option<ElfDeps> {
    // ELFCLASS64, ELFDATA2LSB; ET_EXEC or ET_DYN.
    if !b.starts_with(b"\x7fELF") || b.get(4..6) != Some(&[2, 1]) {
        return None;
    }
    if !matches!(u16le(b, 16)?, 2 | 3) {
        return None;
    }
    let elf = ElfView::new(b, 2)?;
    let mut deps = ElfDeps::default();
    let mut dynamic = None;
    for ph in elf.phdrs() {
        let (ptype, offset, _, filesz, _) = ph?;
        match ptype {
            PT_INTERP => {
                let s = cstr(b, usize::try_from(offset).ok()?)?;
                deps.interp = Some(String::from_utf8_lossy(s).into_owned());
            }
            PT_DYNAMIC if filesz > 0 => dynamic = Some(offset),
            _ => {}
        }
    }
    let Some(dyn_off) = dynamic else {
        return Some(deps);
    };
    let strtab = elf.strtab(dyn_off)?;
    let (mut runpath, mut rpath) = (None, None);
    for entry in elf.dynamic(dyn_off) {
        let (tag, val) = entry?;
        let string = || {
            elf.string(strtab, val)
                .map(|s| String::from_utf8_lossy(s).into_owned())
        };
        match tag {
            DT_NEEDED => deps.needed.push(string()?),
            DT_RPATH => rpath = Some(string()?),
            DT_RUNPATH => runpath = Some(string()?),
            _ => {}
        }
    }
    if let Some(path) = runpath.or(rpath) {
        deps.runpath = path
            .split(':')
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect();
    }
    Some(deps)
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

/// The `NT_GNU_ABI_TAG` note of a PT_NOTE segment: (os << 24) | major.minor.sub.
fn abi_tag(b: &[u8], offset: u64, filesz: u64, align: u64) -> Option<u32> {
    let mut at = usize::try_from(offset).ok()?;
    let mut size = filesz;
    loop {
        let w = |k: usize| u32le(b, at + 4 * k);
        if w(0)? == 4 && w(1)? == 16 && w(2)? == 1 && b.get(at + 12..at + 16)? == b"GNU\0" {
            return Some(
                (w(4)? << 24) | ((w(5)? & 0xff) << 16) | ((w(6)? & 0xff) << 8) | (w(7)? & 0xff),
            );
        }
        let note = align_up(
            align_up(12 + u64::from(w(0)?), align) + u64::from(w(1)?),
            align,
        );
        if size - 32 < note || note == 0 {
            return None;
        }
        size -= note;
        at = at.checked_add(usize::try_from(note).ok()?)?;
    }
}

/// `GNU_PROPERTY_X86_ISA_1_NEEDED` of a PT_GNU_PROPERTY segment: its highest bit.
fn isa_needed(b: &[u8], offset: u64, filesz: u64, align: u64, addr: u64) -> Option<u32> {
    let start = usize::try_from(offset).ok()?;
    let size = usize::try_from(filesz).ok()?;
    let mut note = start;
    while note + 12 - start < size {
        let (namesz, descsz, ntype) = (u32le(b, note)?, u32le(b, note + 4)?, u32le(b, note + 8)?);
        if namesz == 4 && ntype == 5 && b.get(note + 12..note + 16)? == b"GNU\0" {
            if descsz < 8 || u64::from(descsz) % addr != 0 {
                return None;
            }
            let mut ptr = note + 16;
            let end = ptr + descsz as usize;
            let mut last = 0u32;
            loop {
                let (ptype, datasz) = (u32le(b, ptr)?, u32le(b, ptr + 4)?);
                if ptype < last {
                    return None;
                }
                ptr += 8;
                if ptr + datasz as usize > end {
                    return None;
                }
                last = ptype;
                if ptype > 0xc000_8002 {
                    return None;
                }
                if ptype == 0xc000_8002 {
                    let v = u32le(b, ptr)?;
                    return (datasz == 4 && v != 0).then(|| 31 - v.leading_zeros());
                }
                ptr += align_up(u64::from(datasz), addr) as usize;
                if end < ptr + 8 {
                    return None;
                }
            }
        }
        note += align_up(
            align_up(12 + u64::from(namesz), align) + u64::from(descsz),
            align,
        ) as usize;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libcmp_orders_numbers_numerically() {
        assert!(libcmp("libfoo.so.10", "libfoo.so.9", true) > 0);
        assert!(libcmp("libfoo.so.1.2", "libfoo.so.1", true) > 0);
        assert_eq!(libcmp("libx.so.01", "libx.so.1", true), 0);
        assert!(libcmp("liba.so", "libb.so", true) < 0);
        // A digit sorts after a letter.
        assert!(libcmp("lib2", "liba", true) > 0);
        assert!(libcmp("liba", "lib2", true) < 0);
    }

    #[test]
    fn dso_names() {
        for n in [
            "libc.so.6",
            "ld-linux-x86-64.so.2",
            "ld.so.1",
            "ld64.so.2",
            "libfoo.so",
        ] {
            assert!(is_dso(n), "{n}");
        }
        for n in ["foo.so", "libfoo.a", "ldconfig", "ld-2.34"] {
            assert!(!is_dso(n), "{n}");
        }
        assert!(prelink_tmp("libc.so.6.#prelink#.Ab12Cd"));
        assert_eq!(
            implicit_soname("libfoo.so.4.1.2", FLAG_LIBC4),
            "libfoo.so.4"
        );
        assert_eq!(
            implicit_soname("libfoo.so.4.1.2", FLAG_ELF),
            "libfoo.so.4.1.2"
        );
    }

    #[test]
    fn string_table_shares_tails() {
        let s: BTreeSet<String> = ["/lib64/libc.so.6", "libc.so.6", "libm.so.6", "x86-64-v3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (table, off) = string_table(&s);
        // Sorted by reversed strings, descending ('6' before '3', 'm' before 'c'), the
        // longer of two first, so libc.so.6 is the tail of /lib64/libc.so.6.
        assert_eq!(
            table,
            b"libm.so.6\0/lib64/libc.so.6\0x86-64-v3\0".to_vec(),
            "{}",
            String::from_utf8_lossy(&table)
        );
        assert_eq!(off["libm.so.6"], 0);
        assert_eq!(off["/lib64/libc.so.6"], 10);
        assert_eq!(off["libc.so.6"], 17);
        assert_eq!(off["x86-64-v3"], 27);
    }

    #[test]
    fn generator_is_read_from_the_binary() {
        let bin = b"\x7fELF...\0junk release version x\0ldconfig (GNU libc) stable release version 2.34\0more";
        assert_eq!(
            generator_string(bin).as_deref(),
            Some("ldconfig (GNU libc) stable release version 2.34")
        );
        assert_eq!(generator_string(b"no such thing"), None);
        assert_eq!(
            glibc_version("ldconfig (GNU libc) stable release version 2.34"),
            Some((2, 34))
        );
    }

    fn entry(lib: &str, flags: i32, hwcaps: Option<usize>, hwcap: u64) -> CacheEntry {
        CacheEntry {
            lib: lib.into(),
            path: format!("/lib64/{lib}"),
            flags,
            osversion: 0,
            isa_level: 0,
            hwcap,
            hwcaps,
        }
    }

    #[test]
    fn cache_order_is_glibcs() {
        let names = vec!["x86-64-v3".to_string(), "x86-64-v2".to_string()];
        let mut v = vec![
            entry("libz.so.1", 0x303, None, 0),
            entry("libc.so.6", 0x303, None, 0),
            entry("libc.so.6", 0x303, Some(0), 0),
            entry("libc.so.6", 0x303, Some(1), 0),
            entry("libc.so.6", 0x303, None, 1 << 63),
            entry("libc.so.6", 0x003, None, 0),
            entry("libc.so.10", 0x303, None, 0),
        ];
        v.sort_by(|a, b| compare(a, b, &names, true));
        let got: Vec<(String, i32, Option<usize>, u64)> = v
            .into_iter()
            .map(|e| (e.lib, e.flags, e.hwcaps, e.hwcap))
            .collect();
        assert_eq!(
            got,
            vec![
                ("libz.so.1".into(), 0x303, None, 0),
                ("libc.so.10".into(), 0x303, None, 0),
                ("libc.so.6".into(), 0x303, Some(1), 0),
                ("libc.so.6".into(), 0x303, Some(0), 0),
                ("libc.so.6".into(), 0x303, None, 1 << 63),
                ("libc.so.6".into(), 0x303, None, 0),
                ("libc.so.6".into(), 0x003, None, 0),
            ]
        );
    }

    /// A minimal ELF64 x86-64 shared object: one PT_LOAD covering the file, a PT_DYNAMIC
    /// with DT_STRTAB, DT_NEEDED libc.so.6 and DT_SONAME, and an ABI tag note.
    pub(crate) fn tiny_so(soname: &str, machine: u16) -> Vec<u8> {
        let mut strtab = b"\0libc.so.6\0".to_vec();
        let so_at = strtab.len() as u64;
        strtab.extend_from_slice(soname.as_bytes());
        strtab.push(0);
        let phoff = 64u64;
        let phnum = 3u64;
        let note_off = phoff + 56 * phnum;
        let mut note = Vec::new();
        for w in [4u32, 16, 1] {
            note.extend_from_slice(&w.to_le_bytes());
        }
        note.extend_from_slice(b"GNU\0");
        for w in [0u32, 3, 2, 0] {
            note.extend_from_slice(&w.to_le_bytes());
        }
        let dyn_off = note_off + note.len() as u64;
        let str_off = dyn_off + 16 * 4;
        let mut dynamic = Vec::new();
        for (t, v) in [(5u64, str_off), (1, 1), (14, so_at), (0, 0)] {
            dynamic.extend_from_slice(&t.to_le_bytes());
            dynamic.extend_from_slice(&v.to_le_bytes());
        }
        let total = str_off + strtab.len() as u64;
        let mut b = vec![0u8; 64];
        b[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        b[16..18].copy_from_slice(&3u16.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&phoff.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        let ph = |t: u32, off: u64, size: u64, align: u64| {
            let mut p = vec![0u8; 56];
            p[..4].copy_from_slice(&t.to_le_bytes());
            p[8..16].copy_from_slice(&off.to_le_bytes());
            p[16..24].copy_from_slice(&off.to_le_bytes());
            p[32..40].copy_from_slice(&size.to_le_bytes());
            p[40..48].copy_from_slice(&size.to_le_bytes());
            p[48..56].copy_from_slice(&align.to_le_bytes());
            p
        };
        b.extend(ph(1, 0, total, 0x1000));
        b.extend(ph(2, dyn_off, 64, 8));
        b.extend(ph(4, note_off, note.len() as u64, 4));
        b.extend(note);
        b.extend(dynamic);
        b.extend(strtab);
        b
    }

    #[test]
    fn reads_soname_flags_and_abi_tag() {
        let lib = parse_library(
            &tiny_so("libfoo.so.1", 62),
            "libfoo.so.1.2",
            Machine::X86_64,
        )
        .unwrap();
        assert_eq!(
            lib,
            Lib {
                flag: 0x303,
                soname: Some("libfoo.so.1".into()),
                osversion: 0x0003_0200,
                isa_level: 0
            }
        );
        // An aarch64 library in an x86_64 image is for an unknown machine.
        assert_eq!(
            parse_library(&tiny_so("libfoo.so.1", 183), "libfoo.so.1", Machine::X86_64),
            None
        );
        let a = parse_library(
            &tiny_so("libfoo.so.1", 183),
            "libfoo.so.1",
            Machine::Aarch64,
        )
        .unwrap();
        assert_eq!(a.flag, 0xa03);
        assert_eq!(
            parse_library(b"GROUP ( /lib64/libc.so.6 )", "libc.so", Machine::X86_64),
            None
        );
        let mut exe = tiny_so("libfoo.so.1", 62);
        exe[16] = 2;
        assert_eq!(parse_library(&exe, "libfoo.so.1", Machine::X86_64), None);
    }

    /// binutils' view of a file: `readelf -l` for the interpreter, `readelf -d` for
    /// NEEDED and RUNPATH (else RPATH). `None` when readelf is not installed.
    fn readelf(path: &str) -> Option<ElfDeps> {
        let run = |flag: &str| -> Option<String> {
            let out = std::process::Command::new("readelf")
                .args([flag, "-W", path])
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let bracketed = |line: &str, key: &str| -> Option<String> {
            let rest = &line[line.find(key)? + key.len()..];
            Some(rest[..rest.find(']')?].to_string())
        };
        let mut deps = ElfDeps::default();
        for line in run("-l")?.lines() {
            if let Some(i) = bracketed(line, "[Requesting program interpreter: ") {
                deps.interp = Some(i);
            }
        }
        let (mut runpath, mut rpath) = (None, None);
        for line in run("-d")?.lines() {
            if let Some(n) = bracketed(line, "Shared library: [") {
                deps.needed.push(n);
            }
            runpath = runpath.or(bracketed(line, "Library runpath: ["));
            rpath = rpath.or(bracketed(line, "Library rpath: ["));
        }
        if let Some(p) = runpath.or(rpath) {
            deps.runpath = p.split(':').map(str::to_owned).collect();
        }
        Some(deps)
    }

    fn deps(interp: Option<&str>, needed: &[&str], runpath: &[&str]) -> ElfDeps {
        ElfDeps {
            interp: interp.map(str::to_owned),
            needed: needed.iter().map(|s| s.to_string()).collect(),
            runpath: runpath.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Real files of this (Debian 12, x86_64) host: a PIE program, a static one, shared
    /// libraries, a program with DT_RUNPATH. The values written here are what `readelf -d`
    /// and `readelf -l` print for them; readelf is asked again for each file when present.
    #[test]
    fn elf_dependencies_of_host_files_are_readelfs() {
        if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            return;
        }
        let ld = Some("/lib64/ld-linux-x86-64.so.2");
        let lib = "/usr/lib/x86_64-linux-gnu";
        let cases: Vec<(String, Option<ElfDeps>)> = vec![
            (
                "/usr/bin/bash".into(),
                Some(deps(ld, &["libtinfo.so.6", "libc.so.6"], &[])),
            ),
            // Static (ET_EXEC, no PT_DYNAMIC).
            ("/usr/bin/busybox".into(), Some(ElfDeps::default())),
            (
                format!("{lib}/libtinfo.so.6"),
                Some(deps(None, &["libc.so.6"], &[])),
            ),
            // glibc's libc.so.6 is also a program, and needs the loader by its soname.
            (
                format!("{lib}/libc.so.6"),
                Some(deps(ld, &["ld-linux-x86-64.so.2"], &[])),
            ),
            (
                format!("{lib}/ld-linux-x86-64.so.2"),
                Some(deps(None, &[], &[])),
            ),
            (
                "/usr/bin/busctl".into(),
                Some(deps(
                    ld,
                    &["libsystemd-shared-252.so", "libc.so.6"],
                    &["/usr/lib/x86_64-linux-gnu/systemd"],
                )),
            ),
            // Only compared with readelf.
            ("/usr/bin/curl".into(), None),
            (format!("{lib}/libcurl.so.4"), None),
            ("/usr/bin/ip".into(), None),
            ("/usr/bin/expr".into(), None),
        ];
        let mut checked = 0;
        for (path, expected) in cases {
            let Ok(bytes) = std::fs::read(&path) else {
                eprintln!("{path} is not on this host, not checked");
                continue;
            };
            let got = elf_dependencies(&bytes);
            assert!(got.is_some(), "{path}");
            if let Some(e) = &expected {
                assert_eq!(got.as_ref(), Some(e), "{path}");
            }
            if let Some(theirs) = readelf(&path) {
                assert_eq!(got, Some(theirs), "{path} (readelf)");
                checked += 1;
            }
        }
        eprintln!("{checked} files checked against readelf");
    }

    #[test]
    fn elf_dependencies_of_other_files_is_none() {
        let so = tiny_so("libfoo.so.1", 62);
        assert_eq!(elf_dependencies(&so), Some(deps(None, &["libc.so.6"], &[])));
        let with = |at: usize, v: u8| {
            let mut b = so.clone();
            b[at] = v;
            b
        };
        assert_eq!(elf_dependencies(&with(16, 1)), None, "ET_REL");
        assert_eq!(elf_dependencies(&with(16, 4)), None, "ET_CORE");
        assert_eq!(elf_dependencies(&with(4, 1)), None, "32-bit");
        assert_eq!(elf_dependencies(&with(5, 2)), None, "big-endian");
        assert_eq!(elf_dependencies(b"#!/bin/sh\necho hi\n"), None);
        assert_eq!(elf_dependencies(b""), None);
        // Headers or strings that run past the end of the bytes.
        assert_eq!(elf_dependencies(&so[..100]), None);
        assert_eq!(elf_dependencies(&so[..so.len() - 25]), None);
    }

    #[test]
    fn runpath_wins_over_rpath_and_is_split() {
        // tiny_so's dynamic section is DT_STRTAB, DT_NEEDED, DT_SONAME, DT_NULL, then the
        // strings: DT_SONAME retagged names the same string as a run path.
        let path = "/a:$ORIGIN/../lib::/b";
        let so = tiny_so(path, 62);
        let strings = b"\0libc.so.6\0".len() + path.len() + 1;
        let soname_tag = so.len() - strings - 16 * 4 + 32;
        assert_eq!(u64le(&so, soname_tag), Some(DT_SONAME));
        let want = deps(None, &["libc.so.6"], &["/a", "$ORIGIN/../lib", "/b"]);
        for tag in [DT_RPATH, DT_RUNPATH] {
            let mut b = so.clone();
            b[soname_tag] = tag as u8;
            assert_eq!(elf_dependencies(&b), Some(want.clone()), "tag {tag}");
        }
        // Both: DT_RUNPATH is read, DT_RPATH ignored (retag DT_NEEDED as DT_RPATH, whose
        // string is "libc.so.6").
        let mut b = so.clone();
        b[soname_tag] = DT_RUNPATH as u8;
        b[soname_tag - 16] = DT_RPATH as u8;
        assert_eq!(
            elf_dependencies(&b),
            Some(deps(None, &[], &["/a", "$ORIGIN/../lib", "/b"]))
        );
    }
}
