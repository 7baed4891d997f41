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
//!
//! With `[image] root_http` the boot loader loads no `rootfs.img`: the initrd fetches the
//! image over HTTP ([`Fetch`]). It then also carries the NIC drivers and a few of the
//! image's own programs ([`FETCH_PROGRAMS`], copied with their libraries by
//! [`super::userland`]). `/init` loads the modules, mounts `/proc` and `/sys` and runs the
//! generated script [`FETCH_SCRIPT`], which takes the address the boot loader passed
//! (`ip=`, `BOOTIF=`), configures the interface with that MAC, downloads the image,
//! checks its sha256, takes the address off again and executes [`MOUNT_ROOT`]: the rest
//! of the straight-line program above (loop, overlay, hand-over).

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
    #[error(
        "The image has no `{name}`, which the initrd needs to fetch the root image over HTTP (`[image] root_http`)"
    )]
    MissingProgram {
        name: String,
        packages: &'static str,
    },
    #[error(
        "The image's kernel {kver} has none of the network drivers {tried} (as modules or built in), so the initrd could not reach `root_http`"
    )]
    NoNetDriver { kver: String, tried: String },
    #[error(transparent)]
    Userland(#[from] super::userland::UserlandError),
    #[error(transparent)]
    Cpio(#[from] CpioError),
}

impl InitrdError {
    /// What to do about it, when that can be said.
    pub fn hint(&self) -> Option<String> {
        match self {
            InitrdError::MissingProgram { packages, .. } => Some(format!(
                "add {packages} to [packages] install, or leave `root_http` out to have the boot loader load the root image"
            )),
            InitrdError::NoNetDriver { .. } => Some(
                "name the nodes' NIC drivers in `[image] net_modules`, or install the kernel's modules package (kernel-modules on EL)".into(),
            ),
            InitrdError::MissingModule { .. } => Some(
                "install the kernel's modules package (kernel-modules-core and kernel-modules on EL9), or check the names in `[image] net_modules`".into(),
            ),
            InitrdError::Userland(e) => Some(e.hint()),
            _ => None,
        }
    }
}

/// The network drivers a root fetched over HTTP loads unless `[image] net_modules` names
/// others: the usual server, cloud and virtual NICs whose drivers bring a link up without
/// a firmware file. Those the image's kernel lacks are left out.
pub const DEFAULT_NET_MODULES: [&str; 12] = [
    "virtio_net",
    "e1000",
    "e1000e",
    "igb",
    "igc",
    "ixgbe",
    "i40e",
    "ice",
    "bnxt_en",
    "mlx5_core",
    "vmxnet3",
    "r8169",
];

/// In a root image's URL: the boot server as the node's boot loader saw it, put in at boot
/// (the profile's `[image] root_http` spells it the same, in its own layer).
pub const SERVER: &str = "{server}";
/// How every line the initrd prints starts.
pub const SAYS: &str = "diskless initrd: ";
/// The fetch script's last line before the image is mounted.
pub const FETCHED: &str = "root image fetched and verified";

/// Where the fetch script is in the initrd.
pub const FETCH_SCRIPT: &str = "/diskless/fetch";
/// The second half of the init program when the image is fetched: loop, overlay, hand-over.
pub const MOUNT_ROOT: &str = "/diskless/mount-root";
/// The image's programs the fetch script runs: each one the first found of its
/// alternatives, and the packages that would provide it (for the error).
pub const FETCH_PROGRAMS: [(&[&str], &str); 5] = [
    (&["sh"], "bash (or busybox)"),
    (&["ip"], "iproute (or busybox)"),
    (&["curl", "wget"], "curl (or wget, or busybox)"),
    (&["sha256sum"], "coreutils (or busybox)"),
    (&["sleep"], "coreutils (or busybox)"),
];

/// A root image the initrd fetches over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// Where from; `{server}` is replaced with the boot server's address at boot.
    pub url: String,
    /// The image's sha256 (hex): the script refuses any other bytes.
    pub sha256: String,
    pub size: u64,
}

/// How the initrd gets the root image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// The boot loader loads `rootfs.img`, which holds the image in parts of these sizes.
    Loaded { parts: &'a [u64] },
    /// The initrd fetches it.
    Fetched(&'a Fetch),
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
const UMOUNT2: u32 = 166;
const MNT_DETACH: u64 = 2;
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
/// `dir` (e.g. `/usr/lib/modules/5.14.0-427.el9.x86_64`); built-in ones are skipped. Of
/// `optional`, those the kernel lacks are left out; at least one of them must be there
/// (a module or built in) when any are named.
pub fn modules(
    tree: &Tree,
    store: &Store,
    dir: &str,
    kver: &str,
    wanted: &[&str],
    optional: &[&str],
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
    let mut found = 0;
    for o in optional {
        let o = o.replace('-', "_");
        if builtin.contains(&o) {
            found += 1;
        } else if deps.contains_key(&o) {
            found += 1;
            visit(&o, &deps, &mut out, &mut seen);
        }
    }
    if !optional.is_empty() && found == 0 {
        return Err(InitrdError::NoNetDriver {
            kver: kver.to_string(),
            tried: optional.join(", "),
        });
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

/// The start of every `/init`: devtmpfs on `/dev`, then the modules.
fn start_calls(modules: &[Module]) -> Vec<Call> {
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
    calls
}

/// From [`ROOT_IMAGE`] in the initrd's root to the image's `/init`: loop device, squashfs
/// on `/lower`, the overlay on `/sysroot`, which becomes `/`.
fn mount_root_calls() -> Vec<Call> {
    let s = Arg::str;
    let mkdir = |p: &str| Call::new(MKDIR, vec![s(p), Arg::Imm(0o755)]).ok(EEXIST);
    vec![
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
    ]
}

/// The `/init` program: see the module documentation. `parts` are the sizes of the root
/// image's parts in `rootfs.img` (one part is the image itself: nothing to join).
pub fn init_program(modules: &[Module], parts: &[u64]) -> Vec<u8> {
    let mut calls = start_calls(modules);
    let named: Vec<(String, u64)> = parts
        .iter()
        .enumerate()
        .map(|(i, n)| (part_name(i), *n))
        .collect();
    calls.extend(join_calls(&named, ROOT_IMAGE));
    calls.extend(mount_root_calls());
    Syscalls::x86_64(&calls)
}

/// The `/init` of an initrd that fetches the root image: the modules (file systems and
/// NIC drivers), `/proc` and `/sys` for the script, then the script [`FETCH_SCRIPT`].
pub fn fetch_init_program(modules: &[Module]) -> Vec<u8> {
    let s = Arg::str;
    let mut calls = start_calls(modules);
    for (fs, at) in [("proc", "/proc"), ("sysfs", "/sys")] {
        calls.push(Call::new(MKDIR, vec![s(at), Arg::Imm(0o755)]).ok(EEXIST));
        calls.push(
            Call::new(MOUNT, vec![s(fs), s(at), s(fs), Arg::Imm(0), Arg::Imm(0)])
                .ok(EBUSY)
                .fatal(format!("diskless initrd: cannot mount {fs} on {at}")),
        );
    }
    calls.push(
        Call::new(EXECVE, vec![s(FETCH_SCRIPT), Arg::Argv, Arg::Envp])
            .fatal(format!("diskless initrd: cannot run {FETCH_SCRIPT}")),
    );
    Syscalls::x86_64(&calls)
}

/// [`MOUNT_ROOT`]: `/proc` and `/sys` of the initrd off (the image's init mounts its own),
/// then [`mount_root_calls`].
pub fn mount_root_program() -> Vec<u8> {
    let s = Arg::str;
    let mut calls: Vec<Call> = ["/proc", "/sys"]
        .iter()
        .map(|at| {
            Call::new(UMOUNT2, vec![s(at), Arg::Imm(MNT_DETACH)])
                .warn(format!("diskless initrd: cannot unmount {at}"))
        })
        .collect();
    calls.extend(mount_root_calls());
    Syscalls::x86_64(&calls)
}

/// The fetch script, run by the image's shell `sh` with its `ip`, `fetcher` (curl or
/// wget), `sha256sum` and `sleep`. Portable sh (bash and busybox ash run it): builtins
/// only besides those, no temporary files.
pub fn fetch_script(sh: &str, fetcher: &str, f: &Fetch) -> String {
    let get = if fetcher.ends_with("/curl") {
        // A progress bar on the console: a 10 GiB image takes minutes on a 1 Gb/s link.
        format!("{fetcher} -f --progress-bar --connect-timeout 5 -o {ROOT_IMAGE} \"$url\"")
    } else {
        // One try per round (GNU wget would retry 20 times itself); no `-T`: Debian's static
        // busybox wget has no timeouts and crashes on the option.
        format!("{fetcher} -q -t 1 -O {ROOT_IMAGE} \"$url\"")
    };
    format!(
        r#"#!{sh}
# Generated by diskless ([image] root_http): fetch the root image, then mount it ({MOUNT_ROOT}).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
url={url}
sha256={sha256}
size={size}
say() {{ echo "{SAYS}$*"; }}
# Exiting ends PID 1: the kernel panics and shows this line before it.
fail() {{ say "$*"; exit 1; }}

# What the boot loader passed: pxelinux (IPAPPEND 3) ip=<client>:<server>:<gateway>:<netmask>
# BOOTIF=01-<mac>; GRUB ip=<client>:<server>:: BOOTIF=<mac>. diskless.root_url= overrides.
ip_arg=
bootif=
read -r cmdline </proc/cmdline
for a in $cmdline; do
    case $a in
    ip=*) ip_arg=${{a#ip=}} ;;
    BOOTIF=*) bootif=${{a#BOOTIF=}} ;;
    diskless.root_url=*) url=${{a#diskless.root_url=}} ;;
    esac
done
case $ip_arg in
*:*) ;;
*) fail "no ip=<client>:<server>:... on the kernel command line (pxelinux IPAPPEND 3 or GRUB's net_default_ip pass it): cannot fetch $url" ;;
esac
rest=$ip_arg
client=${{rest%%:*}}; rest=${{rest#*:}}
server=${{rest%%:*}}; rest=${{rest#*:}}
gw=${{rest%%:*}}; rest=${{rest#*:}}
mask=${{rest%%:*}}
[ -n "$client" ] || fail "the boot loader passed no client address (ip=$ip_arg)"
case $url in
*"{SERVER}"*)
    [ -n "$server" ] || fail "the boot loader passed no server address (ip=$ip_arg) for $url"
    url=${{url%%"{SERVER}"*}}$server${{url#*"{SERVER}"}}
    ;;
esac
# 01-aa-bb-cc-dd-ee-ff or aa:bb:cc:dd:ee:ff as sysfs writes it (a function in a subshell:
# its own "$@" and IFS).
mac_of() {{
    IFS=:-
    set -- $1
    [ $# -eq 7 ] && shift
    [ $# -eq 6 ] && echo "$1:$2:$3:$4:$5:$6"
}}
mac=
[ -n "$bootif" ] && mac=$(mac_of "$bootif")

# The interface with that MAC (else the first one), once its driver has found the NIC.
dev=
tries=0
while :; do
    for d in /sys/class/net/*; do
        [ -e "$d/address" ] || continue
        [ "${{d##*/}}" = lo ] && continue
        read -r a <"$d/address"
        if [ -z "$mac" ] || [ "$a" = "$mac" ]; then
            dev=${{d##*/}}
            break
        fi
    done
    [ -n "$dev" ] && break
    tries=$((tries + 1))
    [ $tries -ge 30 ] && fail "no network interface${{mac:+ with MAC $mac}} after 30 s (is its driver in [image] net_modules?)"
    sleep 1
done

prefix=32
[ -n "$mask" ] && [ "$mask" != 0.0.0.0 ] && prefix=$mask
ip link set "$dev" up || fail "cannot bring $dev up"
ip addr add "$client/$prefix" dev "$dev" || fail "cannot give $dev the address $client/$prefix"
# Without a netmask (GRUB passes none) the server is reached on the link.
[ "$prefix" = 32 ] && {{ ip route add "$server" dev "$dev" || fail "cannot route to $server on $dev"; }}
[ -n "$gw" ] && [ "$gw" != 0.0.0.0 ] && ip route add default via "$gw" dev "$dev"
say "$dev ($a) is $client/$prefix; fetching $url ($size bytes)"
read -r t0 rest </proc/uptime
tries=0
until {get}; do
    tries=$((tries + 1))
    [ $tries -ge 15 ] && fail "cannot fetch $url (15 tries): is the tftp tree served over HTTP there?"
    sleep 2
done
got=$(sha256sum {ROOT_IMAGE})
got=${{got%% *}}
[ "$got" = "$sha256" ] || fail "$url is not this build's root image (sha256 $got, expected $sha256): a stale copy on the server?"
read -r t1 rest </proc/uptime
say "{FETCHED} (in $((${{t1%.*}} - ${{t0%.*}})) s)"
# The image configures its own network: leave the interface as the kernel made it.
ip addr flush dev "$dev"
ip link set "$dev" down
exec {MOUNT_ROOT} "$@"
"#,
        url = super::grub::quote(&f.url),
        sha256 = super::grub::quote(&f.sha256),
        size = f.size,
    )
}

/// The initrd's tree (contents put into `store`): `/init`, the modules (decompressed), the
/// folders `/init` mounts on, `/dev/console`; for a fetched root image also the script,
/// [`MOUNT_ROOT`] and the image's programs the script runs.
pub fn tree(
    image: &Tree,
    store: &Store,
    modules_dir: &str,
    modules: &[Module],
    delivery: Delivery<'_>,
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
    match delivery {
        Delivery::Loaded { parts } => {
            t.insert(
                "/init",
                meta(put(&init_program(modules, parts), "/init")?, 0o755),
            );
        }
        Delivery::Fetched(f) => {
            let mut found = Vec::new();
            for (names, packages) in FETCH_PROGRAMS {
                let path = names
                    .iter()
                    .find_map(|n| super::userland::find(image, n))
                    .ok_or_else(|| InitrdError::MissingProgram {
                        name: names.join("` or `"),
                        packages,
                    })?;
                found.push(path);
            }
            super::userland::install(image, store, &found, &mut t, mtime)?;
            for d in ["/proc", "/sys", "/tmp"] {
                t.insert(d, meta(EntryKind::Dir, 0o755));
            }
            let script = fetch_script(&found[0], &found[2], f);
            t.insert(
                FETCH_SCRIPT,
                meta(put(script.as_bytes(), FETCH_SCRIPT)?, 0o755),
            );
            t.insert(
                MOUNT_ROOT,
                meta(put(&mount_root_program(), MOUNT_ROOT)?, 0o755),
            );
            t.insert(
                "/init",
                meta(put(&fetch_init_program(modules), "/init")?, 0o755),
            );
        }
    }
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

    /// The fetch script is valid sh to the shells that run it on nodes (bash on EL, dash on
    /// Debian, busybox ash in the fixture image); its values are quoted.
    #[test]
    fn the_fetch_script_parses_in_bash_and_busybox_ash() {
        let f = Fetch {
            url: "http://{server}:8080/pxelinux/images/it's/root.squashfs".into(),
            sha256: "ab".repeat(32),
            size: 42,
        };
        for (sh, fetcher) in [
            ("/bin/bash", "/usr/bin/curl"),
            ("/bin/dash", "/usr/bin/curl"),
            ("/bin/busybox", "/usr/bin/wget"),
        ] {
            let script = fetch_script("/bin/sh", fetcher, &f);
            assert!(script.starts_with("#!/bin/sh\n"));
            assert!(
                script
                    .contains("url='http://{server}:8080/pxelinux/images/it'\\''s/root.squashfs'")
            );
            if !std::path::Path::new(sh).exists() {
                eprintln!("skipped {sh}: not installed");
                continue;
            }
            let mut cmd = std::process::Command::new(sh);
            if sh.ends_with("busybox") {
                cmd.arg("sh");
            }
            let out = cmd.args(["-n", "-c", &script]).output().unwrap();
            assert!(out.status.success(), "{sh}: {out:?}");
            assert!(script.contains(&format!("until {fetcher} ")), "{script}");
        }
    }

    /// An image without the programs the fetch needs: the error names the first missing
    /// one and the hint the packages; with busybox's applets (the fixture's layout) the
    /// initrd has the script, the second stage and the programs.
    #[test]
    fn a_fetched_root_needs_the_images_programs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store")).unwrap();
        let entry = |kind: EntryKind, mode: u32| Entry {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            owner_package: None,
            caps: None,
        };
        let mut image = Tree::default();
        for d in ["/", "/usr", "/usr/bin", "/usr/sbin"] {
            image.insert(d, entry(EntryKind::Dir, 0o755));
        }
        let f = Fetch {
            url: "http://{server}/r".into(),
            sha256: "00".repeat(32),
            size: 1,
        };
        let e = tree(
            &image,
            &store,
            "/lib/modules/k",
            &[],
            Delivery::Fetched(&f),
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("has no `sh`"), "{e}");
        assert!(e.hint().unwrap().contains("bash (or busybox)"), "{e:?}");

        // A real static ELF: the host's busybox (Debian's busybox-static, in ci/setup.sh).
        let Ok(busybox) = fs_err::read("/bin/busybox") else {
            eprintln!("skipped the rest: no /bin/busybox");
            return;
        };
        let (digest, size) = store.put_bytes(&busybox).unwrap();
        let file = EntryKind::File {
            digest,
            size,
            link_group: None,
        };
        image.insert("/usr/bin/busybox", entry(file, 0o755));
        for (at, target) in [
            ("/usr/bin/sh", "busybox"),
            ("/usr/sbin/ip", "../bin/busybox"),
            ("/usr/bin/sha256sum", "busybox"),
            ("/usr/bin/sleep", "busybox"),
        ] {
            let link = EntryKind::Symlink {
                target: target.into(),
            };
            image.insert(at, entry(link, 0o777));
        }
        let e = tree(
            &image,
            &store,
            "/lib/modules/k",
            &[],
            Delivery::Fetched(&f),
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("has no `curl` or `wget`"), "{e}");
        image.insert(
            "/usr/bin/wget",
            entry(
                EntryKind::Symlink {
                    target: "busybox".into(),
                },
                0o777,
            ),
        );
        let t = tree(
            &image,
            &store,
            "/lib/modules/k",
            &[],
            Delivery::Fetched(&f),
            0,
        )
        .unwrap();
        for p in [
            "/init",
            FETCH_SCRIPT,
            MOUNT_ROOT,
            "/usr/bin/busybox",
            "/usr/bin/wget",
            "/usr/sbin/ip",
            "/proc",
            "/sys",
        ] {
            assert!(t.get(p).is_some(), "{p} missing");
        }
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
