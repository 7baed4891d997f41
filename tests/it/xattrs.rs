//! File capabilities: the `security.capability` values against libcap's `setcap`/`getcap`,
//! and the generated boot program run for real (natively on x86_64 as root; the aarch64 one
//! under `qemu-aarch64` when it is installed). Tests that set xattrs need root (CAP_SETFCAP)
//! and skip otherwise.

use crate::support::proc::is_root;
use crate::support::rpm::{Entry, Rpm};
use crate::support::tree::materialise;
use diskless::rootfs::{
    self, AssembleConfig, scriptlets::Verdict, store::Store, tree::EntryKind, xattrs,
};
use std::path::Path;
use std::process::Command;

const GETCAP: &str = "/usr/sbin/getcap";
const SETCAP: &str = "/usr/sbin/setcap";

fn tools() -> bool {
    if !is_root() {
        eprintln!("skipped: setting security.capability needs root");
        return false;
    }
    if !Path::new(GETCAP).exists() || !Path::new(SETCAP).exists() {
        eprintln!("skipped: no libcap tools ({GETCAP})");
        return false;
    }
    true
}

/// qemu-user exits 1 without a word on a file that is not executable.
fn write_exe(p: &Path, bytes: &[u8]) {
    std::fs::write(p, bytes).unwrap();
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn getcap(p: &Path) -> String {
    let out = Command::new(GETCAP).arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `text` set on one file by libcap's setcap and on another by diskless' boot program;
/// getcap reads both back (path left out).
fn set_and_get(dir: &Path, text: &str) -> (String, String) {
    let theirs = dir.join("theirs");
    let ours = dir.join("ours");
    std::fs::write(&theirs, b"x").unwrap();
    std::fs::write(&ours, b"x").unwrap();
    let st = Command::new(SETCAP)
        .arg(text)
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(st.success(), "setcap {text}");
    let value = xattrs::capability_xattr(text).unwrap();
    let prog = xattrs::program(
        xattrs::Arch::X86_64,
        &[(ours.display().to_string(), value)],
        None,
    );
    let bin = dir.join("prog");
    std::fs::write(&bin, prog).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let st = Command::new(&bin).status().unwrap();
    assert!(st.success(), "boot program for {text}: {st}");
    let strip = |s: String, p: &Path| s.replacen(&p.display().to_string(), "", 1);
    (strip(getcap(&theirs), &theirs), strip(getcap(&ours), &ours))
}

#[test]
fn capability_values_match_setcap() {
    if !tools() || std::env::consts::ARCH != "x86_64" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "cap_net_raw=ep",
        "cap_net_raw+p",
        "cap_sys_ptrace,cap_sys_admin=ep",
        "cap_setuid=ep",
        "cap_net_bind_service,cap_net_admin=eip",
        "cap_chown,cap_mac_admin,cap_checkpoint_restore+ei",
        "cap_ipc_lock=i",
    ] {
        let (theirs, ours) = set_and_get(dir.path(), text);
        assert_eq!(ours, theirs, "{text}");
        assert!(!ours.is_empty(), "{text}: no capabilities read back");
    }
}

#[test]
fn boot_program_sets_capabilities_reports_failures_and_execs_init() {
    if !tools() || std::env::consts::ARCH != "x86_64" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, b"a").unwrap();
    let missing = dir.path().join("missing");
    let files = vec![
        (
            missing.display().to_string(),
            xattrs::capability_xattr("cap_chown=p").unwrap(),
        ),
        (
            a.display().to_string(),
            xattrs::capability_xattr("cap_net_raw=ep").unwrap(),
        ),
    ];
    // As /init: apply, then exec the real init with the same argv and environment.
    let prog = dir.path().join("init");
    std::fs::write(
        &prog,
        xattrs::program(xattrs::Arch::X86_64, &files, Some("/bin/sh")),
    )
    .unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(&prog)
        .args([
            "-c",
            "echo \"argv0=$0 one=$1 env=$DISKLESS_T\"",
            "zero",
            "1",
        ])
        .env("DISKLESS_T", "kept")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "argv0=zero one=1 env=kept\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "diskless: cannot set security.capability on {}\n",
            missing.display()
        )
    );
    assert!(getcap(&a).ends_with("cap_net_raw=ep"), "{}", getcap(&a));
    // Without an init to run it exits 1 when anything failed.
    std::fs::write(&prog, xattrs::program(xattrs::Arch::X86_64, &files, None)).unwrap();
    let st = Command::new(&prog).output().unwrap().status;
    assert_eq!(st.code(), Some(1));
    // And the exec failure is reported with status 127.
    std::fs::write(
        &prog,
        xattrs::program(xattrs::Arch::X86_64, &files[1..], Some("/nonexistent/init")),
    )
    .unwrap();
    let out = Command::new(&prog).output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot execute /nonexistent/init"));
}

#[test]
fn aarch64_boot_program_runs_under_qemu_user() {
    let Some(qemu) = ["/usr/bin/qemu-aarch64", "/usr/bin/qemu-aarch64-static"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("skipped: no qemu-aarch64 (qemu-user)");
        return;
    };
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, b"a").unwrap();
    let files = vec![
        (
            a.display().to_string(),
            xattrs::capability_xattr("cap_sys_ptrace,cap_sys_admin=ep").unwrap(),
        ),
        (
            dir.path().join("missing").display().to_string(),
            xattrs::capability_xattr("cap_chown=p").unwrap(),
        ),
    ];
    let prog = dir.path().join("prog");
    write_exe(&prog, &xattrs::program(xattrs::Arch::Aarch64, &files, None));
    let out = Command::new(qemu).arg(&prog).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing"),
        "{out:?}"
    );
    assert!(
        getcap(&a).ends_with("cap_sys_ptrace,cap_sys_admin=ep"),
        "{}",
        getcap(&a)
    );
    // The exec path: argv and envp reach the next program.
    let exec = dir.path().join("exec");
    write_exe(
        &exec,
        &xattrs::program(xattrs::Arch::Aarch64, &files[..1], Some("/nonexistent")),
    );
    let out = Command::new(qemu).arg(&exec).output().unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot execute /nonexistent"));
}

/// A package with file capabilities: the tree keeps them, `/init` runs the generated
/// program, and that program (run chrooted in the materialised tree) sets them.
#[test]
fn packaged_capabilities_reach_the_tree_the_listing_and_the_boot_step() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = Rpm::new("pingish", "1.0")
        .release("1.el9")
        .arch("x86_64")
        .dir("/usr", 0o755)
        .dir("/usr/bin", 0o755)
        .dir("/usr/sbin", 0o755)
        .entry(
            Entry::file("/usr/bin/ping", b"not really ping\n".to_vec())
                .mode(0o755)
                .caps("cap_net_raw=p"),
        )
        .entry(
            Entry::file("/usr/sbin/empty", b"x\n".to_vec())
                .mode(0o755)
                .caps("="),
        )
        .entry(Entry::file("/usr/sbin/init", b"#!/bin/sh\n".to_vec()).mode(0o755))
        .symlink("/sbin", "usr/sbin");
    let rpm = pkg.write_in(dir.path()).unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let a = rootfs::assemble(&[rpm], &AssembleConfig::new(1_700_000_000), &store).unwrap();
    let ping = a.tree.get("/usr/bin/ping").unwrap();
    assert_eq!(ping.caps.as_deref(), Some("cap_net_raw=p"));
    assert_eq!(
        xattrs::xattrs(ping).unwrap(),
        vec![(
            "security.capability".to_string(),
            xattrs::capability_xattr("cap_net_raw=p").unwrap()
        )]
    );
    assert!(rootfs::listing::to_text(&a.tree).contains("/usr/bin/ping\tfile\t0755\t0\t0\t16\t"));
    assert!(rootfs::listing::to_json(&a.tree).contains("\"caps\": \"cap_net_raw=p\""));
    // /init -> the generated program, which runs /sbin/init afterwards.
    match &a.tree.get("/init").unwrap().kind {
        EntryKind::Symlink { target } => assert_eq!(target, "usr/lib/diskless/init"),
        k => panic!("/init is {k:?}"),
    }
    let prog = a.tree.get(xattrs::INIT_PROGRAM).unwrap();
    assert_eq!(prog.mode, 0o755);
    let EntryKind::File { digest, .. } = &prog.kind else {
        panic!("{prog:?}")
    };
    let bytes = store.read(digest).unwrap();
    assert!(bytes.windows(11).any(|w| w == b"/sbin/init\0"));
    let EntryKind::File { digest, .. } = &a.tree.get(xattrs::LIST).unwrap().kind else {
        panic!()
    };
    assert_eq!(
        String::from_utf8(store.read(digest).unwrap()).unwrap(),
        "/usr/bin/ping\tcap_net_raw=p\n/usr/sbin/empty\t=\n"
    );
    let d = a
        .report
        .declared
        .iter()
        .find(|d| d.what == "file capabilities")
        .unwrap();
    assert_eq!(d.verdict, Verdict::Handled);
    assert!(d.detail.starts_with("2 files"), "{}", d.detail);

    if !tools() || std::env::consts::ARCH != "x86_64" {
        return;
    }
    // The same list, run chrooted in the materialised tree (exit instead of exec).
    let root = tempfile::tempdir().unwrap();
    materialise(&a.tree, &store, root.path());
    let files = xattrs::capability_files(&a.tree).unwrap();
    std::fs::write(
        root.path().join("apply"),
        xattrs::program(xattrs::Arch::X86_64, &files, None),
    )
    .unwrap();
    std::fs::set_permissions(
        root.path().join("apply"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let st = Command::new("chroot")
        .arg(root.path())
        .arg("/apply")
        .status()
        .unwrap();
    assert!(st.success());
    assert!(getcap(&root.path().join("usr/bin/ping")).ends_with("cap_net_raw=p"));
}

/// Without a `/init` symlink to wrap the report says which files miss their capabilities.
#[test]
fn capabilities_without_an_init_to_wrap_are_not_handled_with_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = Rpm::new("pingish", "1.0").arch("x86_64").entry(
        Entry::file("/usr/bin/ping", b"x\n".to_vec())
            .mode(0o755)
            .caps("cap_net_raw=p"),
    );
    let rpm = pkg.write_in(dir.path()).unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut cfg = AssembleConfig::new(1_700_000_000);
    cfg.custom.init_symlink = false;
    let a = rootfs::assemble(&[rpm], &cfg, &store).unwrap();
    let d = a
        .report
        .declared
        .iter()
        .find(|d| d.what == "file capabilities")
        .unwrap();
    assert_eq!(d.verdict, Verdict::NotHandled);
    assert!(
        d.detail.contains("/usr/bin/ping cap_net_raw=p"),
        "{}",
        d.detail
    );
    assert!(a.tree.get(xattrs::INIT_PROGRAM).is_none());
    assert!(
        a.report
            .to_text()
            .contains("(image)\tfile capabilities\tNOT HANDLED\t")
    );
}
