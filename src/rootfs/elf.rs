//! A little assembler for the static programs diskless puts into images: no libc, no
//! loader, one PT_LOAD segment of code followed by read-only data, for x86_64 and aarch64.
//! Hand-written on purpose: the programs are a few syscalls long, must run on any kernel
//! the image boots, and must be byte-reproducible without a cross toolchain on the build
//! host. Users: the file-capabilities boot step ([`super::xattrs`]) and the squashfs
//! root's initrd init ([`Syscalls`]).

pub const BASE: u64 = 0x40_0000;
pub const CODE_AT: usize = 64 + 56;

/// A little assembler: code bytes, data bytes, and code places that refer to data.
#[derive(Default)]
pub struct Asm {
    pub code: Vec<u8>,
    pub data: Vec<u8>,
    /// (code offset, data offset, how to patch)
    pub fixups: Vec<(usize, usize, Fix)>,
}

#[derive(Clone, Copy)]
pub enum Fix {
    /// x86-64 rip-relative disp32 at the offset; the instruction ends 4 bytes later.
    Rip32,
    /// aarch64 ADR at the offset (register in the low bits already).
    Adr,
}

impl Asm {
    pub fn data(&mut self, bytes: &[u8]) -> usize {
        let at = self.data.len();
        self.data.extend_from_slice(bytes);
        at
    }

    pub fn link(mut self, machine: u16, align: u64) -> Vec<u8> {
        // Data after the code, 8-byte aligned.
        let data_at = (CODE_AT + self.code.len()).div_ceil(8) * 8;
        for (at, d, fix) in self.fixups.clone() {
            let pc = (CODE_AT + at) as i64;
            let target = (data_at + d) as i64;
            match fix {
                Fix::Rip32 => {
                    let disp = (target - (pc + 4)) as i32;
                    self.code[at..at + 4].copy_from_slice(&disp.to_le_bytes());
                }
                Fix::Adr => {
                    let off = target - pc;
                    let mut w =
                        u32::from_le_bytes(self.code[at..at + 4].try_into().unwrap_or_default());
                    w |= ((off as u32) & 3) << 29;
                    w |= (((off >> 2) as u32) & 0x7_ffff) << 5;
                    self.code[at..at + 4].copy_from_slice(&w.to_le_bytes());
                }
            }
        }
        let total = data_at + self.data.len();
        let mut out = vec![0u8; 64];
        out[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
        out[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out[18..20].copy_from_slice(&machine.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&(BASE + CODE_AT as u64).to_le_bytes());
        out[32..40].copy_from_slice(&64u64.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&1u16.to_le_bytes());
        let mut ph = vec![0u8; 56];
        ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R|X
        ph[16..24].copy_from_slice(&BASE.to_le_bytes());
        ph[24..32].copy_from_slice(&BASE.to_le_bytes());
        ph[32..40].copy_from_slice(&(total as u64).to_le_bytes());
        ph[40..48].copy_from_slice(&(total as u64).to_le_bytes());
        ph[48..56].copy_from_slice(&align.to_le_bytes());
        out.extend(ph);
        out.extend(&self.code);
        out.resize(data_at, 0);
        out.extend(&self.data);
        out
    }
}

/// An argument of a system call in a [`Syscalls`] program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Imm(u64),
    /// The address of these bytes, placed in the program's data (a NUL-terminated path).
    Data(Vec<u8>),
    /// What an earlier call saved in this slot (0..5).
    Slot(u8),
    /// The program's own argument vector and environment (for `execve`).
    Argv,
    Envp,
}

impl Arg {
    /// A NUL-terminated string.
    pub fn str(s: &str) -> Arg {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        Arg::Data(b)
    }
}

/// One system call of a [`Syscalls`] program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub nr: u32,
    pub args: Vec<Arg>,
    /// Keep the result (a file descriptor) in this slot.
    pub save: Option<u8>,
    /// Results that are not failures although negative (`-EEXIST` as 17).
    pub ok_errnos: Vec<u8>,
    /// The one result that is a success (a byte count that must be whole); any other,
    /// negative or not, is a failure.
    pub expect: Option<u64>,
    /// On failure: this line on stderr, then (when `fatal`) exit with status 1.
    pub fail: Option<(String, bool)>,
}

impl Call {
    pub fn new(nr: u32, args: Vec<Arg>) -> Call {
        Call {
            nr,
            args,
            save: None,
            ok_errnos: Vec::new(),
            expect: None,
            fail: None,
        }
    }
    pub fn save(mut self, slot: u8) -> Call {
        self.save = Some(slot);
        self
    }
    /// Only `value` is a success (see [`Call::expect`]).
    pub fn expect(mut self, value: u64) -> Call {
        self.expect = Some(value);
        self
    }
    pub fn ok(mut self, errno: u8) -> Call {
        self.ok_errnos.push(errno);
        self
    }
    /// Report `msg` and stop when the call fails.
    pub fn fatal(mut self, msg: impl Into<String>) -> Call {
        self.fail = Some((msg.into(), true));
        self
    }
    /// Report `msg` and go on when the call fails.
    pub fn warn(mut self, msg: impl Into<String>) -> Call {
        self.fail = Some((msg.into(), false));
        self
    }
}

/// x86_64 registers by number (`rax` 0 … `r15` 15).
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R12: u8 = 12;
/// The System V syscall argument registers, in order.
const ARG_REGS: [u8; 6] = [RDI, RSI, RDX, 10, 8, 9];
/// Callee-saved registers that keep the slots across calls (`rbx`, `rbp`, `r13`-`r15`).
const SLOT_REGS: [u8; 5] = [3, 5, 13, 14, 15];

/// A straight-line x86_64 program of system calls, each result checked, ending with
/// `exit(127)` if control gets past the last call (an `execve` that failed).
pub struct Syscalls;

impl Syscalls {
    pub fn x86_64(calls: &[Call]) -> Vec<u8> {
        let mut a = Asm::default();
        let rex = |w: bool, r: u8, b: u8| 0x40 | (u8::from(w) << 3) | ((r >> 3) << 2) | (b >> 3);
        // mov r12, rsp: argc, argv and envp stay reachable.
        a.code
            .extend([rex(true, 4, R12), 0x89, 0xc0 | (4 << 3) | (R12 & 7)]);
        let mut patch_to_here: Vec<usize> = Vec::new();
        for call in calls {
            let mut uses_rcx = false;
            for (arg, &reg) in call.args.iter().zip(ARG_REGS.iter()) {
                match arg {
                    Arg::Imm(v) => {
                        // mov reg, imm64
                        a.code.extend([rex(true, 0, reg), 0xb8 + (reg & 7)]);
                        a.code.extend(v.to_le_bytes());
                    }
                    Arg::Data(bytes) => {
                        let d = a.data(bytes);
                        // lea reg, [rip + disp32]
                        a.code
                            .extend([rex(true, reg, 0), 0x8d, 0x05 | ((reg & 7) << 3)]);
                        let at = a.code.len();
                        a.code.extend([0; 4]);
                        a.fixups.push((at, d, Fix::Rip32));
                    }
                    Arg::Slot(s) => {
                        let src = SLOT_REGS[usize::from(*s)];
                        // mov reg, src
                        a.code.extend([
                            rex(true, src, reg),
                            0x89,
                            0xc0 | ((src & 7) << 3) | (reg & 7),
                        ]);
                    }
                    Arg::Argv => {
                        // lea reg, [r12 + 8]
                        a.code.extend([
                            rex(true, reg, R12),
                            0x8d,
                            0x44 | ((reg & 7) << 3),
                            0x24,
                            8,
                        ]);
                    }
                    Arg::Envp => {
                        uses_rcx = true;
                        // mov rcx, [r12]; lea reg, [r12 + rcx*8 + 16]
                        a.code.extend([rex(true, RCX, R12), 0x8b, 0x0c, 0x24]);
                        a.code.extend([
                            rex(true, reg, R12),
                            0x8d,
                            0x44 | ((reg & 7) << 3),
                            0xcc,
                            16,
                        ]);
                    }
                }
            }
            debug_assert!(!uses_rcx || call.args.len() <= 3);
            // mov eax, nr; syscall
            a.code.push(0xb8);
            a.code.extend(call.nr.to_le_bytes());
            a.code.extend([0x0f, 0x05]);
            if let Some(s) = call.save {
                let dst = SLOT_REGS[usize::from(s)];
                a.code.extend([rex(true, RAX, dst), 0x89, 0xc0 | (dst & 7)]);
            }
            let Some((msg, fatal)) = &call.fail else {
                continue;
            };
            if let Some(v) = call.expect {
                // mov rcx, imm64; cmp rax, rcx; je ok
                a.code.extend([0x48, 0xb9]);
                a.code.extend(v.to_le_bytes());
                a.code.extend([0x48, 0x39, 0xc8, 0x0f, 0x84]);
            } else {
                // test rax, rax; jns ok
                a.code.extend([0x48, 0x85, 0xc0, 0x0f, 0x89]);
            }
            patch_to_here.push(a.code.len());
            a.code.extend([0; 4]);
            for e in &call.ok_errnos {
                // cmp rax, -errno; je ok
                a.code
                    .extend([0x48, 0x83, 0xf8, (-(i16::from(*e))) as u8, 0x0f, 0x84]);
                patch_to_here.push(a.code.len());
                a.code.extend([0; 4]);
            }
            // write(2, msg, len)
            let line = format!("{msg}\n");
            let d = a.data(line.as_bytes());
            a.code.push(0xb8);
            a.code.extend(1u32.to_le_bytes());
            a.code.push(0xbf);
            a.code.extend(2u32.to_le_bytes());
            a.code.extend([0x48, 0x8d, 0x35]);
            let at = a.code.len();
            a.code.extend([0; 4]);
            a.fixups.push((at, d, Fix::Rip32));
            a.code.push(0xba);
            a.code.extend((line.len() as u32).to_le_bytes());
            a.code.extend([0x0f, 0x05]);
            if *fatal {
                // exit(1)
                a.code.push(0xbf);
                a.code.extend(1u32.to_le_bytes());
                a.code.push(0xb8);
                a.code.extend(60u32.to_le_bytes());
                a.code.extend([0x0f, 0x05]);
            }
            let here = a.code.len();
            for at in patch_to_here.drain(..) {
                let rel = (here - (at + 4)) as i32;
                a.code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
            }
        }
        // exit(127)
        a.code.push(0xbf);
        a.code.extend(127u32.to_le_bytes());
        a.code.push(0xb8);
        a.code.extend(60u32.to_le_bytes());
        a.code.extend([0x0f, 0x05]);
        a.link(62, 0x1000)
    }
}

/// Run a generated program on the host, for tests. Another test thread forking while the
/// file was open for writing makes exec fail with ETXTBSY for a moment: retry.
#[cfg(test)]
pub fn run_for_test(cmd: &mut std::process::Command) -> std::process::Output {
    for _ in 0..50 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            r => return r.unwrap(),
        }
    }
    panic!("ETXTBSY for a second")
}

#[cfg(test)]
mod tests {
    use super::*;
    use run_for_test as run;

    /// Run a generated program on this (x86_64) host: it writes, fails, reports and
    /// execs `/bin/echo` with its own argv.
    #[test]
    fn a_syscall_program_runs() {
        if !cfg!(target_arch = "x86_64") {
            return;
        }
        let prog = Syscalls::x86_64(&[
            Call::new(1, vec![Arg::Imm(1), Arg::str("hello"), Arg::Imm(5)]),
            Call::new(
                2,
                vec![Arg::str("/nonexistent/x"), Arg::Imm(0), Arg::Imm(0)],
            )
            .warn("open failed, going on"),
            Call::new(83, vec![Arg::str("/"), Arg::Imm(0o755)])
                .ok(17)
                .fatal("mkdir / failed"),
            Call::new(2, vec![Arg::str("/dev/null"), Arg::Imm(0), Arg::Imm(0)])
                .save(2)
                .fatal("cannot open /dev/null"),
            Call::new(3, vec![Arg::Slot(2)]).fatal("close failed"),
            Call::new(59, vec![Arg::str("/bin/echo"), Arg::Argv, Arg::Envp])
                .fatal("cannot execute /bin/echo"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("prog");
        std::fs::write(&p, prog).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = run(std::process::Command::new(&p)
            .args(["a", "b"])
            .env("X", "1"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "helloa b\n");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "open failed, going on\n"
        );
        assert!(out.status.success());

        // A fatal failure: the line, then status 1.
        let prog =
            Syscalls::x86_64(
                &[Call::new(80, vec![Arg::str("/nonexistent")]).fatal("cannot chdir")],
            );
        std::fs::write(&p, prog).unwrap();
        let out = run(&mut std::process::Command::new(&p));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "cannot chdir\n");
        assert_eq!(out.status.code(), Some(1));

        // An expected result: 5 bytes written passes, a short count fails.
        let write = |n: u64, expect: u64| {
            Call::new(1, vec![Arg::Imm(1), Arg::str("hello"), Arg::Imm(n)])
                .expect(expect)
                .fatal(format!("wrote other than {expect}"))
        };
        let prog = Syscalls::x86_64(&[write(5, 5), write(3, 5)]);
        std::fs::write(&p, prog).unwrap();
        let out = run(&mut std::process::Command::new(&p));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hellohel");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "wrote other than 5\n");
        assert_eq!(out.status.code(), Some(1));
    }
}
