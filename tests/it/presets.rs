//! systemd presets against systemctl itself (Debian's systemd 252, EL9's version).
//!
//! Packages ship unit files and preset files covering each rule and `[Install]` directive
//! (WantedBy, RequiredBy, Alias, Also, DefaultInstance, templates with preset instances,
//! drop-ins, masks, aliases shipped as symlinks, enablement links shipped for a unit the
//! presets disable, preset files hiding others by name, user units). Two oracles:
//! `systemctl --root=DIR preset-all` (and `--global`) on the extracted tree must make the
//! same links diskless makes (Debian's split-usr build links to /lib/systemd/system where
//! EL9's links to /usr/lib/systemd/system: the same files through the usrmerge symlink), and
//! run again on diskless' tree it must change nothing.

use crate::support::rpm::{Entry, Rpm};
use crate::support::tree::{host_links, materialise, tree_links};
use diskless::rootfs::{self, extract, presets, store::Store};
use std::path::{Path, PathBuf};
use std::process::Command;

const SYSTEMCTL: &str = "/usr/bin/systemctl";
const SDE: u64 = 1_700_000_000;

fn unit(desc: &str, install: &str) -> String {
    format!(
        "[Unit]\nDescription={desc}\n\n[Service]\nExecStart=/bin/true\n\n[Install]\n{install}\n"
    )
}

fn target(desc: &str) -> String {
    format!("[Unit]\nDescription={desc}\n")
}

fn packages(dir: &Path) -> Vec<PathBuf> {
    let u = |name: &str, text: &str| {
        Entry::file(format!("/usr/lib/systemd/system/{name}"), text.to_string()).mode(0o644)
    };
    let fs = Rpm::new("filesystem", "3.16")
        .release("2.el9")
        .arch("x86_64")
        .entries(
            [
                "/etc",
                "/usr",
                "/usr/lib",
                "/usr/bin",
                "/run",
                "/etc/systemd",
                "/etc/systemd/system",
            ]
            .map(|d| Entry::dir(d).mode(0o755)),
        )
        .entries([("/lib", "usr/lib"), ("/bin", "usr/bin")].map(|(l, t)| Entry::symlink(l, t)));
    let systemd = Rpm::new("systemd", "252")
        .release("14.el9")
        .arch("x86_64")
        .entry(Entry::file("/usr/lib/systemd/systemd", "manager\n").mode(0o755))
        .entry(Entry::file(
            "/usr/lib/systemd/system-preset/90-systemd.preset",
            "# EL9-like\nenable getty@.service\nenable remote-fs.target\nenable serial-getty@.service ttyS0 ttyS1\n\ndisable debug-shell.service\n",
        ))
        .entry(Entry::file(
            "/usr/lib/systemd/system-preset/99-default-disable.preset",
            "disable *\n",
        ))
        // Hidden by the file of the same name in /etc.
        .entry(Entry::file(
            "/usr/lib/systemd/system-preset/50-local.preset",
            "enable hidden.service\n",
        ))
        .entry(u("multi-user.target", &target("Multi-User")))
        .entry(u("graphical.target", &target("Graphical")))
        .entry(u("getty.target", &target("Gettys")))
        .entry(u("remote-fs.target", &target("Remote").replace("[Unit]", "[Install]\nWantedBy=multi-user.target\n[Unit]")))
        .entry(u("getty@.service", &unit("Getty", "WantedBy=getty.target\nDefaultInstance=tty1")))
        .entry(u("serial-getty@.service", &unit("Serial getty", "WantedBy=getty.target")))
        .entry(Entry::symlink("/usr/lib/systemd/system/autovt@.service", "getty@.service"))
        .entry(u("debug-shell.service", &unit("Debug shell", "WantedBy=sysinit.target")))
        .entry(u("hidden.service", &unit("Hidden", "WantedBy=multi-user.target")))
        .entry(u("static.service", "[Unit]\nDescription=static\n[Service]\nExecStart=/bin/true\n"))
        .entry(Entry::file("/usr/lib/systemd/user/pipewire.socket", "[Socket]\nListenStream=x\n[Install]\nWantedBy=sockets.target\n"))
        .entry(Entry::file("/usr/lib/systemd/user/other.service", unit("Other", "WantedBy=default.target")))
        .entry(Entry::file("/usr/lib/systemd/user-preset/90-default.preset", "enable pipewire.*\ndisable *\n"));
    let app = Rpm::new("app", "1.0")
        .release("1.el9")
        .arch("x86_64")
        .entry(Entry::file(
            "/etc/systemd/system-preset/50-local.preset",
            "enable sshd.service\nenable NetworkManager.service\nenable fancy.service\nenable chrony*\n",
        ))
        .entry(u("sshd.service", &unit("OpenSSH", "WantedBy=multi-user.target\nAlias=ssh.service")))
        .entry(u(
            "NetworkManager.service",
            &unit(
                "NM",
                "WantedBy=multi-user.target\nAlias=dbus-org.freedesktop.NetworkManager.service\nAlso=NetworkManager-dispatcher.service NetworkManager-wait-online.service",
            ),
        ))
        // Disabled by "disable *" but enabled through NetworkManager's Also=.
        .entry(u("NetworkManager-dispatcher.service", &unit("NM dispatcher", "WantedBy=multi-user.target")))
        .entry(u("NetworkManager-wait-online.service", &unit("NM wait", "RequiredBy=network-online.target")))
        .entry(u("network-online.target", &target("Network online")))
        .entry(u("chronyd.service", &unit("NTP", "WantedBy=multi-user.target")))
        // A drop-in adds an install rule.
        .entry(u("fancy.service", &unit("Fancy", "")))
        .entry(Entry::file(
            "/usr/lib/systemd/system/fancy.service.d/50-install.conf",
            "[Install]\nWantedBy=graphical.target\n",
        ))
        // Shipped enablement of a unit the presets disable: removed, with its directory.
        .entry(u("kdump.service", &unit("kdump", "WantedBy=basic.target")))
        .entry(Entry::symlink(
            "/etc/systemd/system/basic.target.wants/kdump.service",
            "/usr/lib/systemd/system/kdump.service",
        ))
        // Masked by the package: stays masked.
        .entry(u("masked.service", &unit("Masked", "WantedBy=multi-user.target")))
        .entry(Entry::symlink("/etc/systemd/system/masked.service", "/dev/null"));
    [fs, systemd, app]
        .iter()
        .map(|p| p.write_in(dir).unwrap())
        .collect()
}

fn extracted<'s>(rpms: &[PathBuf], store: &'s Store) -> extract::Image<'s> {
    let headers = rootfs::read_headers(rpms).unwrap();
    let mut image = extract::Image::new(store, SDE);
    for i in rootfs::order::install_order(&headers) {
        image
            .extract(&rpms[i], &headers[i], &extract::Filters::default())
            .unwrap();
    }
    image
}

fn systemctl(root: &Path, global: bool) {
    let mut c = Command::new(SYSTEMCTL);
    c.arg(format!("--root={}", root.display()));
    if global {
        c.arg("--global");
    }
    let out = c.arg("preset-all").output().unwrap();
    // systemctl reports the alias held by another unit and exits non-zero; the links are
    // made all the same. Any other failure is a test failure.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            || err
                .lines()
                .all(|l| l.is_empty() || l.contains("already exists")),
        "systemctl preset-all: {err}"
    );
}

fn available() -> bool {
    if !Path::new(SYSTEMCTL).exists() {
        eprintln!("skipped: no {SYSTEMCTL}");
        return false;
    }
    true
}

#[test]
fn preset_links_match_systemctl_preset_all() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rpms = packages(dir.path());
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut image = extracted(&rpms, &store);
    let root = dir.path().join("root");
    materialise(&image.tree, &store, &root);
    systemctl(&root, false);
    systemctl(&root, true);

    let sys = presets::apply(&mut image, presets::SYSTEM).unwrap();
    let user = presets::apply(&mut image, presets::GLOBAL).unwrap();
    assert!(sys.warnings.is_empty(), "{:?}", sys.warnings);
    // Debian builds systemd with split-usr, so its systemctl finds the units through /lib
    // first; EL9's is not, and links to /usr/lib. Same files either way.
    for d in ["/etc/systemd/system", "/etc/systemd/user"] {
        let theirs: std::collections::BTreeMap<String, String> = host_links(&root, d)
            .into_iter()
            .map(|(p, t)| {
                (
                    p,
                    t.replace("/lib/systemd/", "/usr/lib/systemd/")
                        .replace("/usr/usr/", "/usr/"),
                )
            })
            .collect();
        assert_eq!(tree_links(&image.tree, d), theirs, "{d}");
    }
    // Directories systemctl removed or made are the tree's too.
    let dirs = |t: &rootfs::tree::Tree| -> Vec<String> {
        t.descendants("/etc/systemd")
            .filter(|(_, e)| e.kind == rootfs::tree::EntryKind::Dir)
            .map(|(p, _)| p.clone())
            .collect()
    };
    let mut host_dirs = Vec::new();
    for e in walkdirs(&root.join("etc/systemd")) {
        host_dirs.push(format!("/{}", e.strip_prefix(&root).unwrap().display()));
    }
    host_dirs.sort();
    assert_eq!(dirs(&image.tree), host_dirs);

    let links = tree_links(&image.tree, "/etc/systemd/system");
    let u = "/usr/lib/systemd/system";
    let l = |p: &str| links.get(&format!("/etc/systemd/system/{p}")).cloned();
    assert_eq!(
        l("multi-user.target.wants/sshd.service"),
        Some(format!("{u}/sshd.service"))
    );
    assert_eq!(l("ssh.service"), Some(format!("{u}/sshd.service")));
    assert_eq!(
        l("getty.target.wants/getty@tty1.service"),
        Some(format!("{u}/getty@.service"))
    );
    assert_eq!(
        l("getty.target.wants/serial-getty@ttyS1.service"),
        Some(format!("{u}/serial-getty@.service"))
    );
    assert_eq!(
        l("multi-user.target.wants/NetworkManager-dispatcher.service"),
        Some(format!("{u}/NetworkManager-dispatcher.service"))
    );
    assert_eq!(
        l("network-online.target.requires/NetworkManager-wait-online.service"),
        Some(format!("{u}/NetworkManager-wait-online.service"))
    );
    assert_eq!(
        l("graphical.target.wants/fancy.service"),
        Some(format!("{u}/fancy.service"))
    );
    assert_eq!(l("masked.service"), Some("/dev/null".into()));
    assert_eq!(l("basic.target.wants/kdump.service"), None);
    assert!(l("multi-user.target.wants/hidden.service").is_none());
    assert!(
        sys.disabled.contains(&"kdump.service".to_string()),
        "{sys:?}"
    );
    assert_eq!(
        tree_links(&image.tree, "/etc/systemd/user"),
        [(
            "/etc/systemd/user/sockets.target.wants/pipewire.socket".to_string(),
            "/usr/lib/systemd/user/pipewire.socket".to_string()
        )]
        .into()
    );
    assert_eq!(user.enabled, vec!["pipewire.socket"]);
}

fn walkdirs(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                out.push(e.path());
                out.extend(walkdirs(&e.path()));
            }
        }
    }
    out
}

/// On the assembled image (presets, then the profile's services, which enable nothing
/// extra here) systemctl's preset-all finds nothing to do.
#[test]
fn systemctl_preset_all_changes_nothing_on_the_assembled_tree() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = packages(dir.path());
    let post = Rpm::new("withpost", "1.0")
        .arch("x86_64")
        .post_install(
            "if [ $1 -eq 1 ] && [ -x \"/usr/lib/systemd/systemd-update-helper\" ]; then\n    /usr/lib/systemd/systemd-update-helper install-system-units sshd.service || :\nfi\n",
        );
    rpms.push(post.write_in(dir.path()).unwrap());
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut cfg = rootfs::AssembleConfig::new(SDE);
    cfg.custom.empty_machine_id = false;
    cfg.custom.init_symlink = false;
    let a = rootfs::assemble(&rpms, &cfg, &store).unwrap();
    let root = dir.path().join("root");
    materialise(&a.tree, &store, &root);
    let before = host_links(&root, "/etc/systemd");
    systemctl(&root, false);
    systemctl(&root, true);
    assert_eq!(host_links(&root, "/etc/systemd"), before);
    assert!(before.len() >= 10, "{before:?}");
    let e = a
        .report
        .entries
        .iter()
        .find(|e| e.package.starts_with("withpost"))
        .unwrap();
    assert_eq!(e.verdict, rootfs::scriptlets::Verdict::Handled);
    assert!(e.reason.contains("presets applied"), "{e:?}");
    assert!(
        a.report
            .to_text()
            .contains("(image)\tsystem presets\thandled declaratively\t"),
        "{}",
        a.report.to_text()
    );
}

/// The profile's services go on top of the presets.
#[test]
fn profile_services_override_presets() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = packages(dir.path());
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut cfg = rootfs::AssembleConfig::new(SDE);
    cfg.custom.enable = vec!["kdump.service".into()];
    cfg.custom.disable = vec!["sshd.service".into()];
    let a = rootfs::assemble(&rpms, &cfg, &store).unwrap();
    let links = tree_links(&a.tree, "/etc/systemd/system");
    assert!(links.contains_key("/etc/systemd/system/basic.target.wants/kdump.service"));
    assert!(!links.contains_key("/etc/systemd/system/multi-user.target.wants/sshd.service"));
    assert!(!links.contains_key("/etc/systemd/system/ssh.service"));
}

/// The host's own unit and preset files (systemd 252, a few hundred units, with the
/// presets' default of enabling every unit no rule names) in an EL-shaped tree, against
/// systemctl on the same files; prints the time taken.
#[test]
fn host_units_match_systemctl_and_time() {
    if !available() || !Path::new("/usr/lib/systemd/system").is_dir() {
        eprintln!("skipped: no host units");
        return;
    }
    use rootfs::tree::{Entry as TEntry, EntryKind as K};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("store")).unwrap();
    let mut image = extract::Image::new(&store, SDE);
    let mut add = |image: &mut extract::Image, path: &str, kind| {
        image.tree.insert(
            path.to_string(),
            TEntry {
                kind,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: SDE,
                owner_package: None,
                caps: None,
            },
        );
    };
    for d in [
        "/etc",
        "/etc/systemd",
        "/etc/systemd/system",
        "/usr",
        "/usr/lib",
        "/usr/lib/systemd",
    ] {
        add(&mut image, d, K::Dir);
    }
    add(
        &mut image,
        "/lib",
        K::Symlink {
            target: "usr/lib".into(),
        },
    );
    let (d, n) = store.put_bytes(b"manager\n").unwrap();
    add(
        &mut image,
        "/usr/lib/systemd/systemd",
        K::File {
            digest: d,
            size: n,
            link_group: None,
        },
    );
    fn walk(
        image: &mut extract::Image,
        store: &Store,
        host: &Path,
        path: &str,
        add: &mut dyn FnMut(&mut extract::Image, &str, K),
    ) {
        for e in std::fs::read_dir(host).unwrap() {
            let e = e.unwrap();
            let p = format!("{path}/{}", e.file_name().to_string_lossy());
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap();
                add(
                    image,
                    &p,
                    K::Symlink {
                        target: t.to_string_lossy().into_owned(),
                    },
                );
            } else if ft.is_dir() {
                add(image, &p, K::Dir);
                walk(image, store, &e.path(), &p, add);
            } else if ft.is_file() {
                let (d, n) = store.put_bytes(&std::fs::read(e.path()).unwrap()).unwrap();
                add(
                    image,
                    &p,
                    K::File {
                        digest: d,
                        size: n,
                        link_group: None,
                    },
                );
            }
        }
    }
    for sub in ["system", "system-preset", "user", "user-preset"] {
        let host = Path::new("/usr/lib/systemd").join(sub);
        if host.is_dir() {
            let p = format!("/usr/lib/systemd/{sub}");
            add(&mut image, &p, K::Dir);
            walk(&mut image, &store, &host, &p, &mut add);
        }
    }
    let units = image.tree.descendants("/usr/lib/systemd/system").count();
    let root = dir.path().join("root");
    materialise(&image.tree, &store, &root);
    systemctl(&root, false);
    systemctl(&root, true);
    let t = std::time::Instant::now();
    let sys = presets::apply(&mut image, presets::SYSTEM).unwrap();
    let user = presets::apply(&mut image, presets::GLOBAL).unwrap();
    eprintln!(
        "{units} entries under /usr/lib/systemd/system: {} + {} units enabled, {} + {} links, in {:?}",
        sys.enabled.len(),
        user.enabled.len(),
        sys.linked.len(),
        user.linked.len(),
        t.elapsed()
    );
    for d in ["/etc/systemd/system", "/etc/systemd/user"] {
        let theirs: std::collections::BTreeMap<String, String> = host_links(&root, d)
            .into_iter()
            .map(|(p, t)| {
                (
                    p,
                    t.replace("/lib/systemd/", "/usr/lib/systemd/")
                        .replace("/usr/usr/", "/usr/"),
                )
            })
            .collect();
        assert_eq!(tree_links(&image.tree, d), theirs, "{d}");
    }
    assert!(sys.linked.len() > 20, "{sys:?}");
}
