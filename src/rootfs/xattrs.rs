//! Extended attributes from the RPM headers: `security.capability` from `%caps`
//! (`RPMTAG_FILECAPS`), and the early boot step that puts them on the initramfs root.
//!
//! The tree keeps a file's capabilities as rpm's text (`cap_net_raw=ep`, [`Entry::caps`]);
//! [`capability_xattr`] turns it into the `vfs_cap_data` the kernel stores, as rpm does at
//! install time (lib/fsm.c: `cap_from_text`, then libcap's `cap_set_file`): revision 2
//! (20 bytes, little-endian: magic with the effective flag, then permitted and inheritable
//! for capabilities 0-31 and 32-63). libcap 2.48's text rules apply: clauses of
//! `names` + operator (`=`, `+`, `-`) + flags (`e`, `i`, `p`), `all` or an empty list for
//! every capability the kernel knows (41 on EL9's 5.14: `cap_chown`..
//! `cap_checkpoint_restore`), numbers for capabilities by value, an effective set that must
//! cover the permitted and inheritable ones or be empty. [`xattrs`] lists a tree entry's
//! extended attributes as (name, value) for formats that carry them (a squashfs root).
//!
//! The initramfs is a newc cpio, which has no extended attributes, so [`boot_step`] makes
//! the kernel's first program apply them: `/init` becomes a symlink to
//! `/usr/lib/diskless/init`, a static program diskless writes for the image's architecture
//! (x86_64 or aarch64) that calls `lsetxattr(path, "security.capability", value)` for
//! every file with capabilities, prints a line for each one that fails, and then
//! `execve`s what `/init` pointed to before, with the same arguments and environment. It
//! needs nothing from the image: no shell, no libcap, no systemd. The list is also written
//! as text to `/usr/lib/diskless/file-capabilities` for admins. When `/init` is not a
//! symlink diskless can wrap, or the architecture is another one, nothing is generated and
//! the report names the files that lack their capabilities.

use super::RootfsError;
#[cfg(test)]
use super::elf::CODE_AT;
use super::elf::{Asm, Fix};
use super::extract::Image;
use super::scriptlets::{Declared, Verdict};
use super::tree::{Entry, EntryKind, Tree};

/// The kernel's `CAP_LAST_CAP` + 1 on EL9 (5.14): what `all` covers.
pub const KNOWN_CAPS: u32 = 41;
pub const XATTR_CAPS: &str = "security.capability";
/// Where the generated program and list go.
pub const INIT_PROGRAM: &str = "/usr/lib/diskless/init";
pub const LIST: &str = "/usr/lib/diskless/file-capabilities";
pub const INIT: &str = "/init";

/// libcap's capability names, by number.
const NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// The three capability sets of a file, one bit per capability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `cap_from_text`: parse rpm's `%caps` text.
pub fn parse_caps(text: &str) -> Result<Caps, String> {
    let bad = || format!("`{text}` is not a capability text libcap reads");
    let all: u64 = (1u64 << KNOWN_CAPS) - 1;
    let mut caps = Caps::default();
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(caps);
        }
        let mut list = 0u64;
        let mut listed = false;
        if b[i].is_ascii_alphanumeric() || b[i] == b'_' {
            loop {
                let start = i;
                if b[i].is_ascii_digit() {
                    while i < b.len() && b[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    let n = parse_number(&text[start..i]).ok_or_else(bad)?;
                    if n >= 64 {
                        return Err(bad());
                    }
                    list |= 1 << n;
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    let word = text[start..i].to_ascii_lowercase();
                    if word == "all" {
                        list = all;
                    } else {
                        let n = NAMES.iter().position(|n| *n == word).ok_or_else(|| {
                            format!("`{}` in `{text}` is not a capability name", &text[start..i])
                        })?;
                        list |= 1 << n;
                    }
                }
                if b.get(i) != Some(&b',') {
                    break;
                }
                i += 1;
                if !b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    return Err(bad());
                }
            }
            listed = true;
        } else if b[i] == b'+' || b[i] == b'-' {
            return Err(bad());
        } else {
            list = all;
        }
        let Some(&first) = b.get(i) else {
            return Err(bad());
        };
        i += 1;
        let mut op = first;
        if op == b'=' && matches!(b.get(i), Some(b'+' | b'-')) {
            if !listed {
                return Err(bad());
            }
            op = if b[i] == b'+' { b'P' } else { b'M' };
            i += 1;
        } else if !matches!(op, b'+' | b'-' | b'=') {
            return Err(bad());
        }
        let mut flags = 0u8;
        loop {
            if i < b.len() && !b[i].is_ascii_whitespace() {
                flags |= match b[i] {
                    b'e' => 1,
                    b'i' => 2,
                    b'p' => 4,
                    _ => return Err(bad()),
                };
                i += 1;
            } else if op != b'=' {
                return Err(bad());
            }
            let set = |caps: &mut Caps, on: bool| {
                for (bit, field) in [
                    (1, &mut caps.effective),
                    (2, &mut caps.inheritable),
                    (4, &mut caps.permitted),
                ] {
                    if flags & bit != 0 {
                        if on {
                            *field |= list;
                        } else {
                            *field &= !list;
                        }
                    }
                }
            };
            match op {
                b'=' | b'P' | b'M' => {
                    caps.effective &= !list;
                    caps.permitted &= !list;
                    caps.inheritable &= !list;
                    set(&mut caps, op != b'M');
                }
                b'+' => set(&mut caps, true),
                _ => set(&mut caps, false),
            }
            if matches!(b.get(i), Some(b'+' | b'-')) {
                if !listed {
                    return Err(bad());
                }
                flags = 0;
                op = b[i];
                i += 1;
                if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    return Err(bad());
                }
            }
            if i >= b.len() || b[i].is_ascii_whitespace() {
                break;
            }
        }
    }
}

/// `strtoul(s, .., 0)` over the whole word.
fn parse_number(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// libcap's `_fcaps_save`: the `security.capability` value (`vfs_cap_data` revision 2).
pub fn vfs_cap_data(c: &Caps) -> Result<Vec<u8>, String> {
    if c.effective != 0 && (c.permitted | c.inheritable) & !c.effective != 0 {
        return Err(
            "the effective set must be empty or hold every permitted and inheritable capability"
                .into(),
        );
    }
    let magic: u32 = 0x0200_0000 | u32::from(c.effective != 0);
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&magic.to_le_bytes());
    for half in [0, 32] {
        out.extend_from_slice(&((c.permitted >> half) as u32).to_le_bytes());
        out.extend_from_slice(&((c.inheritable >> half) as u32).to_le_bytes());
    }
    Ok(out)
}

/// `security.capability` for rpm's `%caps` text.
pub fn capability_xattr(text: &str) -> Result<Vec<u8>, String> {
    vfs_cap_data(&parse_caps(text)?)
}

/// A tree entry's extended attributes (name, value), in name order: what a format that
/// carries them (a squashfs root) writes for it. rpm sets capabilities on regular files only.
pub fn xattrs(e: &Entry) -> Result<Vec<(String, Vec<u8>)>, String> {
    match (&e.kind, &e.caps) {
        (EntryKind::File { .. }, Some(text)) if !text.is_empty() => {
            Ok(vec![(XATTR_CAPS.to_string(), capability_xattr(text)?)])
        }
        _ => Ok(Vec::new()),
    }
}

/// A path with an extended attribute value.
pub type PathValue = (String, Vec<u8>);

/// Files of the tree with capabilities, with their xattr value, in path order; an error
/// names the path and what is wrong with its text.
pub fn capability_files(tree: &Tree) -> Result<Vec<PathValue>, (String, String)> {
    let mut out = Vec::new();
    for (path, e) in &tree.entries {
        for (_, v) in xattrs(e).map_err(|r| (path.clone(), r))? {
            out.push((path.clone(), v));
        }
    }
    Ok(out)
}

/// Put the tree's file capabilities on the initramfs root at boot (see the module
/// documentation): the generated program behind `/init` and the list. With `carried` (the
/// image's format stores extended attributes: a squashfs root) nothing is generated: the
/// capabilities are only checked. Returns the report's line about them, or `None` when no
/// file has capabilities.
pub fn boot_step(
    image: &mut Image<'_>,
    arch: Option<Arch>,
    carried: bool,
) -> Result<Option<Declared>, RootfsError> {
    let files = capability_files(&image.tree).map_err(|(path, reason)| {
        let e = image.tree.get(&path);
        RootfsError::Caps {
            package: e
                .and_then(|e| e.owner_package.clone())
                .unwrap_or_else(|| "(generated)".into()),
            caps: e.and_then(|e| e.caps.clone()).unwrap_or_default(),
            path,
            reason,
        }
    })?;
    if files.is_empty() {
        return Ok(None);
    }
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|(p, _)| {
            let caps = image
                .tree
                .get(p)
                .and_then(|e| e.caps.clone())
                .unwrap_or_default();
            (p.clone(), caps)
        })
        .collect();
    let list = |t: &[(String, String)]| {
        t.iter()
            .map(|(p, c)| format!("{p} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if carried {
        return Ok(Some(Declared {
            what: "file capabilities".into(),
            verdict: Verdict::Handled,
            detail: format!(
                "{} files ({}) carry security.capability in the squashfs root image",
                files.len(),
                list(&texts)
            ),
        }));
    }
    let init = match image.tree.get(INIT).map(|e| &e.kind) {
        Some(EntryKind::Symlink { target }) if !target.contains("diskless/") => {
            Some(target.clone())
        }
        _ => None,
    };
    let (Some(arch), Some(init)) = (arch, init) else {
        let why = if arch.is_none() {
            "no boot program for this architecture"
        } else {
            "/init is not a symlink to wrap"
        };
        return Ok(Some(Declared {
            what: "file capabilities".into(),
            verdict: Verdict::NotHandled,
            detail: format!(
                "{} files keep them only in the tree metadata ({why}); missing on the booted initramfs: {}",
                files.len(),
                list(&texts)
            ),
        }));
    };
    // The kernel resolves /init's target from the root.
    let exec = if init.starts_with('/') {
        init.clone()
    } else {
        format!("/{init}")
    };
    let bytes = program(arch, &files, Some(&exec));
    super::put_generated_bytes(image, INIT_PROGRAM, &bytes, 0o755)?;
    let text: String = texts.iter().map(|(p, c)| format!("{p}\t{c}\n")).collect();
    super::put_generated_bytes(image, LIST, text.as_bytes(), 0o644)?;
    if let Some(e) = image.tree.entries.get_mut(INIT) {
        e.kind = EntryKind::Symlink {
            target: INIT_PROGRAM.trim_start_matches('/').to_string(),
        };
    }
    Ok(Some(Declared {
        what: "file capabilities".into(),
        verdict: Verdict::Handled,
        detail: format!(
            "{} files ({}) get security.capability at boot from {INIT_PROGRAM} (generated by diskless, no tool from the image), which then runs {exec}",
            files.len(),
            list(&texts)
        ),
    }))
}

/// The architectures the boot program is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub fn from_rpm(arch: &str) -> Option<Arch> {
        match arch {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }
}

/// The boot program: set `security.capability` on each (path, value), report failures on
/// stderr, then exec `exec` with the program's own argv and envp, or (without `exec`) exit
/// with status 1 if anything failed.
pub fn program(arch: Arch, files: &[(String, Vec<u8>)], exec: Option<&str>) -> Vec<u8> {
    let mut a = Asm::default();
    let name = a.data(b"security.capability\0");
    let mut items = Vec::new();
    for (path, value) in files {
        let p = a.data(format!("{path}\0").as_bytes());
        let v = a.data(value);
        let msg = format!("diskless: cannot set security.capability on {path}\n");
        let m = a.data(msg.as_bytes());
        items.push((p, v, value.len() as u32, m, msg.len() as u32));
    }
    let exec_msg = exec.map(|e| {
        let msg = format!("diskless: cannot execute {e}\n");
        let p = a.data(format!("{e}\0").as_bytes());
        let m = a.data(msg.as_bytes());
        (p, m, msg.len() as u32)
    });
    match arch {
        Arch::X86_64 => x86_64(&mut a, name, &items, exec_msg),
        Arch::Aarch64 => aarch64(&mut a, name, &items, exec_msg),
    }
    match arch {
        Arch::X86_64 => a.link(62, 0x1000),
        Arch::Aarch64 => a.link(183, 0x1_0000),
    }
}

type Item = (usize, usize, u32, usize, u32);

fn x86_64(a: &mut Asm, name: usize, items: &[Item], exec: Option<(usize, usize, u32)>) {
    let c = |a: &mut Asm, b: &[u8]| a.code.extend_from_slice(b);
    let imm = |a: &mut Asm, op: &[u8], v: u32| {
        a.code.extend_from_slice(op);
        a.code.extend_from_slice(&v.to_le_bytes());
    };
    // lea reg, [rip + data]
    let lea = |a: &mut Asm, op: &[u8], d: usize| {
        a.code.extend_from_slice(op);
        let at = a.code.len();
        a.code.extend_from_slice(&[0; 4]);
        a.fixups.push((at, d, Fix::Rip32));
    };
    c(a, &[0x49, 0x89, 0xe4]); // mov r12, rsp
    c(a, &[0x45, 0x31, 0xed]); // xor r13d, r13d
    for &(path, value, len, msg, msg_len) in items {
        imm(a, &[0xb8], 189); // mov eax, SYS_lsetxattr
        lea(a, &[0x48, 0x8d, 0x3d], path); // lea rdi, path
        lea(a, &[0x48, 0x8d, 0x35], name); // lea rsi, name
        lea(a, &[0x48, 0x8d, 0x15], value); // lea rdx, value
        imm(a, &[0x41, 0xba], len); // mov r10d, len
        c(a, &[0x45, 0x31, 0xc0]); // xor r8d, r8d
        c(a, &[0x0f, 0x05]); // syscall
        c(a, &[0x48, 0x85, 0xc0]); // test rax, rax
        // jns over the report: 5 + 5 + 7 + 5 + 2 + 3 bytes
        c(a, &[0x79, 27]);
        imm(a, &[0xb8], 1); // mov eax, SYS_write
        imm(a, &[0xbf], 2); // mov edi, 2
        lea(a, &[0x48, 0x8d, 0x35], msg); // lea rsi, msg
        imm(a, &[0xba], msg_len); // mov edx, len
        c(a, &[0x0f, 0x05]); // syscall
        c(a, &[0x41, 0xff, 0xc5]); // inc r13d
    }
    match exec {
        Some((path, msg, msg_len)) => {
            imm(a, &[0xb8], 59); // mov eax, SYS_execve
            lea(a, &[0x48, 0x8d, 0x3d], path); // lea rdi, path
            c(a, &[0x49, 0x8d, 0x74, 0x24, 0x08]); // lea rsi, [r12 + 8]      argv
            c(a, &[0x49, 0x8b, 0x0c, 0x24]); // mov rcx, [r12]              argc
            c(a, &[0x49, 0x8d, 0x54, 0xcc, 0x10]); // lea rdx, [r12 + rcx*8 + 16] envp
            c(a, &[0x0f, 0x05]); // syscall
            imm(a, &[0xb8], 1); // mov eax, SYS_write
            imm(a, &[0xbf], 2); // mov edi, 2
            lea(a, &[0x48, 0x8d, 0x35], msg);
            imm(a, &[0xba], msg_len);
            c(a, &[0x0f, 0x05]);
            imm(a, &[0xbf], 127); // mov edi, 127
        }
        None => {
            c(a, &[0x31, 0xff]); // xor edi, edi
            c(a, &[0x45, 0x85, 0xed]); // test r13d, r13d
            c(a, &[0x40, 0x0f, 0x95, 0xc7]); // setnz dil
        }
    }
    imm(a, &[0xb8], 60); // mov eax, SYS_exit
    c(a, &[0x0f, 0x05]);
}

fn aarch64(a: &mut Asm, name: usize, items: &[Item], exec: Option<(usize, usize, u32)>) {
    let w = |a: &mut Asm, v: u32| a.code.extend_from_slice(&v.to_le_bytes());
    let movz = |a: &mut Asm, rd: u32, v: u32| {
        a.code
            .extend_from_slice(&(0xd280_0000 | ((v & 0xffff) << 5) | rd).to_le_bytes())
    };
    // A value above 16 bits: movz + movk (lsl 16).
    let mov = |a: &mut Asm, rd: u32, v: u32| {
        movz(a, rd, v & 0xffff);
        if v > 0xffff {
            a.code
                .extend_from_slice(&(0xf2a0_0000 | ((v >> 16) << 5) | rd).to_le_bytes());
        }
    };
    let adr = |a: &mut Asm, rd: u32, d: usize| {
        let at = a.code.len();
        a.code.extend_from_slice(&(0x1000_0000 | rd).to_le_bytes());
        a.fixups.push((at, d, Fix::Adr));
    };
    w(a, 0x9100_03f3); // mov x19, sp
    movz(a, 20, 0); // x20 = failures
    for &(path, value, len, msg, msg_len) in items {
        adr(a, 0, path);
        adr(a, 1, name);
        adr(a, 2, value);
        mov(a, 3, len);
        movz(a, 4, 0);
        movz(a, 8, 6); // SYS_lsetxattr
        w(a, 0xd400_0001); // svc #0
        // tbz x0, #63, over the report (the instructions below)
        let report = 5 + u32::from(msg_len > 0xffff) + 1;
        w(a, 0xb6f8_0000 | ((report + 1) << 5));
        movz(a, 0, 2);
        adr(a, 1, msg);
        mov(a, 2, msg_len);
        movz(a, 8, 64); // SYS_write
        w(a, 0xd400_0001);
        w(a, 0x9100_0694); // add x20, x20, #1
    }
    match exec {
        Some((path, msg, msg_len)) => {
            adr(a, 0, path);
            w(a, 0x9100_2261); // add x1, x19, #8          argv
            w(a, 0xf940_0262); // ldr x2, [x19]            argc
            w(a, 0x8b02_0e62); // add x2, x19, x2, lsl #3
            w(a, 0x9100_4042); // add x2, x2, #16          envp
            movz(a, 8, 221); // SYS_execve
            w(a, 0xd400_0001);
            movz(a, 0, 2);
            adr(a, 1, msg);
            mov(a, 2, msg_len);
            movz(a, 8, 64);
            w(a, 0xd400_0001);
            movz(a, 0, 127);
        }
        None => {
            w(a, 0xf100_029f); // cmp x20, #0
            w(a, 0x9a9f_07e0); // cset x0, ne
        }
    }
    movz(a, 8, 93); // SYS_exit
    w(a, 0xd400_0001);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn capability_texts_as_libcap_reads_them() {
        // cap_net_raw = 13: permitted bit 13, effective flag.
        assert_eq!(
            hex(&capability_xattr("cap_net_raw=ep").unwrap()),
            "0100000200200000000000000000000000000000"
        );
        assert_eq!(
            hex(&capability_xattr("cap_net_raw+p").unwrap()),
            "0000000200200000000000000000000000000000"
        );
        // Two clauses; CAP_SETFCAP (31) and CAP_MAC_ADMIN (33) straddle the words.
        let c = parse_caps("cap_setfcap,cap_mac_admin=p cap_chown+ie").unwrap();
        assert_eq!(c.permitted, (1 << 31) | (1 << 33));
        assert_eq!(c.inheritable, 1);
        assert_eq!(c.effective, 1);
        assert!(vfs_cap_data(&c).is_err(), "effective must cover p and i");
        // rpm's empty capabilities: an xattr with nothing set.
        assert_eq!(
            hex(&capability_xattr("=").unwrap()),
            "0000000200000000000000000000000000000000"
        );
        let all = parse_caps("=ep").unwrap();
        assert_eq!(all.permitted, (1 << 41) - 1);
        assert_eq!(
            parse_caps("all=ep cap_net_raw-ep").unwrap().permitted,
            ((1 << 41) - 1) & !(1 << 13)
        );
        assert_eq!(
            parse_caps("CAP_NET_RAW,12=p").unwrap().permitted,
            (1 << 13) | (1 << 12)
        );
        assert_eq!(
            parse_caps("cap_sys_ptrace,cap_sys_admin=ep")
                .unwrap()
                .effective,
            (1 << 19) | (1 << 21)
        );
        for bad in [
            "cap_nope=p",
            "+p",
            "cap_chown",
            "cap_chown=x",
            "cap_chown=p+",
            "99=p",
        ] {
            assert!(parse_caps(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn programs_have_their_data_where_the_code_points() {
        let files = vec![(
            "/usr/bin/ping".to_string(),
            capability_xattr("cap_net_raw=p").unwrap(),
        )];
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let p = program(arch, &files, Some("/sbin/init"));
            assert!(p.starts_with(b"\x7fELF\x02\x01"));
            let find = |n: &[u8]| p.windows(n.len()).position(|w| w == n).unwrap();
            assert!(find(b"security.capability\0") > CODE_AT);
            assert!(find(b"/usr/bin/ping\0") > CODE_AT);
            assert!(find(b"/sbin/init\0") > CODE_AT);
            // Same input, same bytes.
            assert_eq!(p, program(arch, &files, Some("/sbin/init")));
        }
    }
}
