//! The squashfs root's small initrd, made from the image itself: no dracut run, no chroot,
//! no shell. It holds a generated static `/init` ([`crate::rootfs::elf::Syscalls`]), the
//! kernel modules it loads (squashfs, loop, overlay and what they depend on, from the
//! image's kernel, found through the image's `modules.dep`; decompressed here, so no kernel
//! needs module decompression), `/dev/console` and the folders it mounts on.
//!
//! At boot the boot loader loads the initrd and then `rootfs.img` (a cpio holding
//! `/diskless/root.squashfs` as one file, or in parts: [`super::squashfs`]); the kernel
//! unpacks both into its rootfs. `/init` then mounts devtmpfs, loads the modules, joins
//! the parts ([`join_calls`]), attaches the root image to
//! `/dev/loop0` read-only, mounts it on `/lower`, a tmpfs on `/rw`, the overlay of the two
//! (and of [`HOST_LAYER`], where a host's overlay archive puts its files) on `/sysroot`, moves `/dev` there, makes `/sysroot` the root and executes the image's
//! `/init` (which applies file capabilities and hands over to systemd, as with an
//! initramfs root). A failed step prints a line naming it and exits, which the kernel
//! reports as a panic (`diskless boot-test` shows both).

use super::cpio::CpioError;
use crate::rootfs::elf::{Arg, Call, Syscalls};
use crate::rootfs::store::Store;
use crate::rootfs::tree::{Entry, EntryKind, Tree};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// Where the root image is in the unpacked initrds.
pub const ROOT_IMAGE: &str = "/diskless/root.squashfs";
/// Where a host's overlay archive puts its files with a squashfs root (an empty folder in
/// the initrd for nodes without one): the overlay's top lower layer.
pub const HOST_LAYER: &str = "/diskless/host";
/// The modules a squashfs root needs, by module name.
pub const MODULES: [&str; 3] = ["loop", "squashfs", "overlay"];

#[derive(Debug, thiserror::Error)]
pub enum InitrdError {
    #[error(
        "The image's kernel {kver} has no module `{module}` (neither in `{dir}/modules.dep` nor built in), which a squashfs root needs"
    )]
    MissingModule {
        kver: String,
        module: String,
        dir: String,
    },
    #[error("Cannot read `{path}` from the image")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Cpio(#[from] CpioError),
}

// x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
const OPEN: u32 = 2;
const CLOSE: u32 = 3;
const LSEEK: u32 = 8;
const IOCTL: u32 = 16;
const SENDFILE: u32 = 40;
const RENAME: u32 = 82;
const UNLINK: u32 = 87;
const EXECVE: u32 = 59;
const CHDIR: u32 = 80;
const MKDIR: u32 = 83;
const CHROOT: u32 = 161;
const MOUNT: u32 = 165;
const FINIT_MODULE: u32 = 313;
const O_RDONLY: u64 = 0;
const O_WRONLY: u64 = 1;
const O_RDWR: u64 = 2;
const SEEK_END: u64 = 2;
const O_CLOEXEC: u64 = 0o2000000;
const MS_RDONLY: u64 = 1;
const MS_MOVE: u64 = 8192;
// include/uapi/linux/loop.h
const LOOP_SET_FD: u64 = 0x4C00;
const LOOP_CTL_ADD: u64 = 0x4C80;
const EEXIST: u8 = 17;
const EBUSY: u8 = 16;

/// A module file of the image's kernel, relative to its modules folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// As `modules.dep` names it (`kernel/fs/squashfs/squashfs.ko.xz`).
    pub rel: String,
}

/// `kernel/fs/squashfs/squashfs.ko.xz` -> `squashfs` (`-` and `_` are one to kmod).
fn module_name(rel: &str) -> String {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

fn text(tree: &Tree, store: &Store, path: &str) -> Result<Option<String>, InitrdError> {
    match tree.get(path).map(|e| &e.kind) {
        Some(EntryKind::File { digest, .. }) => store
            .read(digest)
            .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
            .map_err(|source| InitrdError::Read {
                path: path.to_string(),
                source,
            }),
        _ => Ok(None),
    }
}

/// The kernel `kver`'s modules folder in the tree: where its `modules.dep` is (EL keeps
/// the kernel itself there, Debian in /boot, so the kernel's own folder is not it), else
/// `/usr/lib/modules/<kver>` (the error then names that).
pub fn modules_dir(tree: &Tree, kver: &str) -> String {
    crate::rootfs::depmod::MODULE_BASES
        .iter()
        .map(|base| format!("{base}/{kver}"))
        .find(|dir| {
            matches!(
                tree.get(&format!("{dir}/modules.dep")).map(|e| &e.kind),
                Some(EntryKind::File { .. })
            )
        })
        .unwrap_or_else(|| format!("/usr/lib/modules/{kver}"))
}

/// The modules to load for `wanted`, dependencies first, from the kernel's modules folder
/// `dir` (e.g. `/usr/lib/modules/5.14.0-427.el9.x86_64`); built-in ones are skipped.
pub fn modules(
    tree: &Tree,
    store: &Store,
    dir: &str,
    kver: &str,
    wanted: &[&str],
) -> Result<Vec<Module>, InitrdError> {
    let dep = text(tree, store, &format!("{dir}/modules.dep"))?.unwrap_or_default();
    let builtin: BTreeSet<String> = text(tree, store, &format!("{dir}/modules.builtin"))?
        .unwrap_or_default()
        .lines()
        .map(module_name)
        .collect();
    let mut deps: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for line in dep.lines() {
        let Some((m, rest)) = line.split_once(':') else {
            continue;
        };
        deps.insert(
            module_name(m),
            (
                m.to_string(),
                rest.split_whitespace().map(String::from).collect(),
            ),
        );
    }
    let mut out: Vec<Module> = Vec::new();
    // modprobe loads a module's dependencies from the end of its list to the start.
    fn visit(
        name: &str,
        deps: &BTreeMap<String, (String, Vec<String>)>,
        out: &mut Vec<Module>,
        seen: &mut BTreeSet<String>,
    ) {
        if !seen.insert(name.to_string()) {
            return;
        }
        let Some((rel, ds)) = deps.get(name) else {
            return;
        };
        for d in ds.iter().rev() {
            visit(&module_name(d), deps, out, seen);
        }
        out.push(Module {
            name: name.to_string(),
            rel: rel.clone(),
        });
    }
    let mut seen = BTreeSet::new();
    for w in wanted {
        let w = w.replace('-', "_");
        if builtin.contains(&w) {
            continue;
        }
        if !deps.contains_key(&w) {
            return Err(InitrdError::MissingModule {
                kver: kver.to_string(),
                module: w,
                dir: dir.to_string(),
            });
        }
        visit(&w, &deps, &mut out, &mut seen);
    }
    Ok(out)
}

/// The name of part `i` of a root image carried in parts ([`super::squashfs::wrap`]).
pub fn part_name(i: usize) -> String {
    format!("{ROOT_IMAGE}.{i:03}")
}

/// The calls that join the files `parts` (path, size) into the first and rename it to
/// `target`: each later part is appended (`sendfile`, whole or it is a failure) and
/// removed at once, so the RAM they hold grows by one part at most, not twice the image.
/// Nothing when the image came in one file.
pub fn join_calls(parts: &[(String, u64)], target: &str) -> Vec<Call> {
    let s = Arg::str;
    let Some(((first, first_size), rest)) = parts.split_first() else {
        return Vec::new();
    };
    if rest.is_empty() {
        return Vec::new();
    }
    let mut calls =
        vec![
        Call::new(
            OPEN,
            vec![s(first), Arg::Imm(O_WRONLY | O_CLOEXEC), Arg::Imm(0)],
        )
        .save(4)
        .fatal(format!(
            "diskless initrd: no {first}: the boot loader must load rootfs.img after this initrd"
        )),
        // sendfile writes at the file position (it refuses O_APPEND).
        Call::new(LSEEK, vec![Arg::Slot(4), Arg::Imm(0), Arg::Imm(SEEK_END)])
            .expect(*first_size)
            .fatal(format!("diskless initrd: {first} is not {first_size} bytes")),
    ];
    for (part, size) in rest {
        calls.extend([
            Call::new(
                OPEN,
                vec![s(part), Arg::Imm(O_RDONLY | O_CLOEXEC), Arg::Imm(0)],
            )
            .save(0)
            .fatal(format!(
                "diskless initrd: no {part} (rootfs.img is cut short?)"
            )),
            Call::new(
                SENDFILE,
                vec![Arg::Slot(4), Arg::Slot(0), Arg::Imm(0), Arg::Imm(*size)],
            )
            .expect(*size)
            .fatal(format!(
                "diskless initrd: cannot append {part} ({size} bytes) to {first} (out of memory?)"
            )),
            Call::new(CLOSE, vec![Arg::Slot(0)]),
            Call::new(UNLINK, vec![s(part)])
                .fatal(format!("diskless initrd: cannot remove {part}")),
        ]);
    }
    calls.extend([
        Call::new(CLOSE, vec![Arg::Slot(4)]),
        Call::new(RENAME, vec![s(first), s(target)]).fatal(format!(
            "diskless initrd: cannot rename {first} to {target}"
        )),
    ]);
    calls
}

/// The `/init` program: see the module documentation. `parts` are the sizes of the root
/// image's parts in `rootfs.img` (one part is the image itself: nothing to join).
pub fn init_program(modules: &[Module], parts: &[u64]) -> Vec<u8> {
    let s = Arg::str;
    let mut calls = vec![
        Call::new(MKDIR, vec![s("/dev"), Arg::Imm(0o755)]).ok(EEXIST),
        Call::new(
            MOUNT,
            vec![
                s("devtmpfs"),
                s("/dev"),
                s("devtmpfs"),
                Arg::Imm(0),
                Arg::Imm(0),
            ],
        )
        .ok(EBUSY)
        .fatal("diskless initrd: cannot mount devtmpfs on /dev"),
    ];
    for m in modules {
        let path = format!("/modules/{}.ko", m.name);
        calls.push(
            Call::new(
                OPEN,
                vec![s(&path), Arg::Imm(O_RDONLY | O_CLOEXEC), Arg::Imm(0)],
            )
            .save(0)
            .fatal(format!("diskless initrd: cannot open {path}")),
        );
        calls.push(
            Call::new(FINIT_MODULE, vec![Arg::Slot(0), s(""), Arg::Imm(0)])
                .ok(EEXIST)
                .fatal(format!(
                    "diskless initrd: the kernel refused module {} (from {})",
                    m.name, m.rel
                )),
        );
        calls.push(Call::new(CLOSE, vec![Arg::Slot(0)]));
    }
    let named: Vec<(String, u64)> = parts
        .iter()
        .enumerate()
        .map(|(i, n)| (part_name(i), *n))
        .collect();
    calls.extend(join_calls(&named, ROOT_IMAGE));
    let mkdir = |p: &str| Call::new(MKDIR, vec![s(p), Arg::Imm(0o755)]).ok(EEXIST);
    calls.extend([
        Call::new(OPEN, vec![s("/dev/loop-control"), Arg::Imm(O_RDWR | O_CLOEXEC), Arg::Imm(0)])
            .save(1)
            .fatal("diskless initrd: cannot open /dev/loop-control (no loop driver?)"),
        // loop0 exists already when the kernel made loop devices at start (max_loop).
        Call::new(IOCTL, vec![Arg::Slot(1), Arg::Imm(LOOP_CTL_ADD), Arg::Imm(0)]),
        Call::new(OPEN, vec![s(ROOT_IMAGE), Arg::Imm(O_RDONLY | O_CLOEXEC), Arg::Imm(0)])
            .save(2)
            .fatal(format!(
                "diskless initrd: no {ROOT_IMAGE}: the boot loader must load rootfs.img after this initrd"
            )),
        Call::new(OPEN, vec![s("/dev/loop0"), Arg::Imm(O_RDWR | O_CLOEXEC), Arg::Imm(0)])
            .save(3)
            .fatal("diskless initrd: cannot open /dev/loop0"),
        // The backing file is open read-only, so the loop device is read-only.
        Call::new(IOCTL, vec![Arg::Slot(3), Arg::Imm(LOOP_SET_FD), Arg::Slot(2)])
            .fatal(format!("diskless initrd: cannot attach {ROOT_IMAGE} to /dev/loop0")),
        Call::new(CLOSE, vec![Arg::Slot(3)]),
        Call::new(CLOSE, vec![Arg::Slot(2)]),
        Call::new(CLOSE, vec![Arg::Slot(1)]),
        mkdir("/lower"),
        Call::new(
            MOUNT,
            vec![s("/dev/loop0"), s("/lower"), s("squashfs"), Arg::Imm(MS_RDONLY), Arg::Imm(0)],
        )
        .fatal("diskless initrd: cannot mount the root image (squashfs) on /lower"),
        mkdir("/rw"),
        Call::new(
            MOUNT,
            vec![s("tmpfs"), s("/rw"), s("tmpfs"), Arg::Imm(0), s("mode=0755")],
        )
        .fatal("diskless initrd: cannot mount a tmpfs on /rw"),
        mkdir("/rw/upper"),
        mkdir("/rw/work"),
        mkdir("/sysroot"),
        Call::new(
            MOUNT,
            vec![
                s("overlay"),
                s("/sysroot"),
                s("overlay"),
                Arg::Imm(0),
                // The host's overlay archive, if the menu loaded one, unpacked under
                // HOST_LAYER: a layer above the image.
                s(&format!("lowerdir={HOST_LAYER}:/lower,upperdir=/rw/upper,workdir=/rw/work")),
            ],
        )
        .fatal("diskless initrd: cannot mount the overlay on /sysroot"),
        Call::new(
            MOUNT,
            vec![s("/dev"), s("/sysroot/dev"), Arg::Imm(0), Arg::Imm(MS_MOVE), Arg::Imm(0)],
        )
        .warn("diskless initrd: cannot move /dev into the root (no /dev in the image?)"),
        Call::new(CHDIR, vec![s("/sysroot")]).fatal("diskless initrd: cannot enter /sysroot"),
        Call::new(
            MOUNT,
            vec![s("."), s("/"), Arg::Imm(0), Arg::Imm(MS_MOVE), Arg::Imm(0)],
        )
        .fatal("diskless initrd: cannot move /sysroot to /"),
        Call::new(CHROOT, vec![s(".")]).fatal("diskless initrd: cannot chroot into the root"),
        Call::new(CHDIR, vec![s("/")]),
        Call::new(EXECVE, vec![s("/init"), Arg::Argv, Arg::Envp])
            .fatal("diskless initrd: cannot execute /init of the root image"),
    ]);
    Syscalls::x86_64(&calls)
}

/// The initrd's tree (contents put into `store`): `/init`, the modules (decompressed), the
/// folders `/init` mounts on, `/dev/console`. `parts`: as for [`init_program`].
pub fn tree(
    image: &Tree,
    store: &Store,
    modules_dir: &str,
    modules: &[Module],
    parts: &[u64],
    mtime: u64,
) -> Result<Tree, InitrdError> {
    let meta = |kind: EntryKind, mode: u32| Entry {
        kind,
        mode,
        uid: 0,
        gid: 0,
        mtime,
        owner_package: None,
        caps: None,
    };
    let put = |bytes: &[u8], path: &str| -> Result<EntryKind, InitrdError> {
        let (digest, size) = store.put_bytes(bytes).map_err(|source| InitrdError::Read {
            path: path.to_string(),
            source,
        })?;
        Ok(EntryKind::File {
            digest,
            size,
            link_group: None,
        })
    };
    let mut t = Tree::default();
    for d in [
        "/",
        "/dev",
        "/diskless",
        HOST_LAYER,
        "/lower",
        "/modules",
        "/rw",
        "/sysroot",
    ] {
        t.insert(d, meta(EntryKind::Dir, 0o755));
    }
    t.insert(
        "/dev/console",
        meta(EntryKind::CharDev { major: 5, minor: 1 }, 0o600),
    );
    t.insert(
        "/init",
        meta(put(&init_program(modules, parts), "/init")?, 0o755),
    );
    for m in modules {
        let path = format!("{modules_dir}/{}", m.rel);
        let Some(EntryKind::File { digest, .. }) = image.get(&path).map(|e| &e.kind) else {
            return Err(InitrdError::Read {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a file in the image",
                ),
            });
        };
        let read_err = |source| InitrdError::Read {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(store.path(digest)).map_err(read_err)?;
        let mut bytes = Vec::new();
        crate::codec::open_sniffed(std::io::BufReader::new(file))
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(read_err)?;
        let at = format!("/modules/{}.ko", m.name);
        t.insert(at.clone(), meta(put(&bytes, &at)?, 0o644));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The join the init does for a root image in parts, run on this (x86_64) host: the
    /// parts become one file with the bytes in order, and the parts are gone.
    #[test]
    fn parts_are_joined_in_order_and_removed() {
        if !cfg!(target_arch = "x86_64") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = |n: &str| dir.path().join(n).display().to_string();
        let sizes = [4096u64, 4096, 1000];
        let mut whole = Vec::new();
        let mut parts = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..*n).map(|b| (b as u8) ^ (i as u8 * 37)).collect();
            fs_err::write(path(&format!("p.{i:03}")), &bytes).unwrap();
            whole.extend(bytes);
            parts.push((path(&format!("p.{i:03}")), *n));
        }
        let mut calls = join_calls(&parts, &path("joined"));
        calls.push(Call::new(60, vec![Arg::Imm(0)]));
        let prog = dir.path().join("join");
        fs_err::write(&prog, Syscalls::x86_64(&calls)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = crate::rootfs::elf::run_for_test(&mut std::process::Command::new(&prog));
        assert!(out.status.success(), "{out:?}");
        assert_eq!(fs_err::read(path("joined")).unwrap(), whole);
        for i in 0..3 {
            assert!(!dir.path().join(format!("p.{i:03}")).exists());
        }

        // A part shorter than the program expects: the step is named, and it stops.
        fs_err::write(path("q.000"), [1u8; 10]).unwrap();
        fs_err::write(path("q.001"), [2u8; 5]).unwrap();
        let parts = [(path("q.000"), 10), (path("q.001"), 6)];
        let mut calls = join_calls(&parts, &path("q"));
        calls.push(Call::new(60, vec![Arg::Imm(0)]));
        fs_err::write(&prog, Syscalls::x86_64(&calls)).unwrap();
        let out = crate::rootfs::elf::run_for_test(&mut std::process::Command::new(&prog));
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot append"),
            "{out:?}"
        );
        assert!(
            join_calls(&parts[..1], "/x").is_empty(),
            "one part: nothing to join"
        );
    }

    #[test]
    fn module_names_as_kmod_reads_them() {
        assert_eq!(module_name("kernel/fs/squashfs/squashfs.ko.xz"), "squashfs");
        assert_eq!(module_name("kernel/drivers/block/loop.ko"), "loop");
        assert_eq!(module_name("extra/foo-bar.ko.zst"), "foo_bar");
    }

    #[test]
    fn the_modules_folder_is_where_modules_dep_is_not_where_the_kernel_is() {
        let file = || crate::rootfs::tree::Entry {
            kind: EntryKind::File {
                digest: crate::rootfs::tree::Digest([0; 32]),
                size: 0,
                link_group: None,
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            owner_package: None,
            caps: None,
        };
        // Debian: the kernel in /boot, its modules under /lib/modules (the corpus found it).
        let mut debian = Tree::default();
        debian.insert("/boot/vmlinuz-6.1.0-57-amd64", file());
        debian.insert("/lib/modules/6.1.0-57-amd64/modules.dep", file());
        assert_eq!(
            modules_dir(&debian, "6.1.0-57-amd64"),
            "/lib/modules/6.1.0-57-amd64"
        );
        // EL9: both in the modules folder.
        let mut el9 = Tree::default();
        el9.insert("/usr/lib/modules/5.14.0/vmlinuz", file());
        el9.insert("/usr/lib/modules/5.14.0/modules.dep", file());
        assert_eq!(modules_dir(&el9, "5.14.0"), "/usr/lib/modules/5.14.0");
        // No index at all: the error will name EL9's place.
        assert_eq!(
            modules_dir(&Tree::default(), "5.14.0"),
            "/usr/lib/modules/5.14.0"
        );
    }
}
