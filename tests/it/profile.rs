//! Profiles: every shipped profile loads and checks; bad profiles fail with located errors
//! (snapshot-tested, temp paths filtered); `diskless profile check` prints a summary or JSON.

use assert_cmd::cargo::cargo_bin_cmd;
use diskless::profile::{self, Compression, NetworkStyle};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.toml` under profiles/, sorted.
fn shipped_profiles() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&repo_root().join("profiles"), &mut v);
    v.sort();
    v
}

#[test]
fn every_shipped_profile_checks() {
    let all = shipped_profiles();
    for must in [
        "rocky9-diskless.toml",
        "alma9-diskless.toml",
        "rhel9-diskless.toml",
        "rocky8-diskless.toml",
    ] {
        assert!(
            all.iter().any(|p| p.ends_with(must)),
            "profiles/{must} is missing"
        );
    }
    assert!(
        all.iter()
            .filter(|p| p.parent().unwrap().ends_with("examples"))
            .count()
            >= 4
    );
    for p in &all {
        let out = cargo_bin_cmd!("diskless")
            .args(["profile", "check"])
            .arg(p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.contains("repos") && s.contains("digest"), "{s}");
        let out = cargo_bin_cmd!("diskless")
            .args(["profile", "check", "--json"])
            .arg(p)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", p.display());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            !v["repos"].as_array().unwrap().is_empty(),
            "{}: no enabled repos",
            p.display()
        );
    }
}

#[test]
fn examples_together_use_every_section() {
    let mut seen = std::collections::BTreeSet::new();
    for p in shipped_profiles()
        .iter()
        .filter(|p| p.parent().unwrap().ends_with("examples"))
    {
        let v: toml::Table = std::fs::read_to_string(p).unwrap().parse().unwrap();
        seen.extend(v.keys().cloned());
    }
    for key in [
        "image",
        "vars",
        "repo",
        "repo_files",
        "packages",
        "boot",
        "root",
        "group",
        "user",
        "file",
        "dir",
        "symlink",
        "services",
        "system",
        "network",
        "dnf",
        "pxe",
        "dhcp",
        "host",
        "oci",
    ] {
        assert!(
            seen.contains(key),
            "no example under profiles/examples uses `{key}`"
        );
    }
}

#[test]
fn default_profile_is_the_recipe() {
    let p = profile::load(repo_root().join("profiles/rocky9-diskless.toml")).unwrap();
    assert_eq!(p.image.name, "diskless");
    assert_eq!(p.image.compression, Compression::Gzip { level: 9 });
    assert_eq!(p.boot.cmdline, "ip=dhcp lang=en_US keymap=us");
    assert_eq!(
        p.boot.packages,
        ["syslinux-tftpboot", "shim-x64", "grub2-efi-x64"]
    );
    for pkg in [
        "basesystem",
        "filesystem",
        "bash",
        "kernel",
        "passwd",
        "dhcp-client",
        "openssh-server",
        "openssh-clients",
        "nfs-utils",
        "cronie-anacron",
        "vim-minimal",
    ] {
        assert!(p.packages.install.iter().any(|i| i == pkg), "{pkg}");
    }
    assert!(!p.packages.weak_deps);
    assert_eq!(p.pxe.menu_title, "PXE Menu");
    assert_eq!(p.pxe.default, "diskless");
    assert!(p.pxe.local_boot);
    assert_eq!(p.pxe.root, "/var/lib/tftpboot");
    assert_eq!(p.pxe.layout.images_dir, "pxelinux/images");
    let dhcp = p.dhcp.as_ref().unwrap();
    assert_eq!(dhcp.subnet.to_string(), "192.168.0.0/24");
    assert_eq!(dhcp.next_server.to_string(), "192.168.0.10");
    assert_eq!(p.hosts.len(), 2);
    assert_eq!(p.hosts[0].mac.to_string(), "aa:bb:cc:dd:ee:01");
    assert_eq!(p.hosts[1].ip.to_string(), "192.168.0.102");
    assert!(
        p.symlinks
            .iter()
            .any(|s| s.path == "/init" && s.target == "sbin/init")
    );
    assert!(
        p.fstab.iter().any(|l| l.starts_with('#')
            && l.contains(" nfs ")
            && l.contains("/var/lib/puppet/ssl"))
    );
    assert_eq!(
        p.root.password_hash.as_deref(),
        Some("$6$REPLACE$WITH.A.REAL.HASH")
    );
    assert_eq!(p.network.style, NetworkStyle::Keyfile);
    let net = p.network.files();
    assert_eq!(
        net[0].path,
        "/etc/NetworkManager/system-connections/eth0.nmconnection"
    );
    let paths: Vec<&str> = p.files.iter().map(|f| f.path.as_str()).collect();
    for f in [
        "/etc/sysconfig/network",
        "/etc/puppet/puppet.conf",
        "/etc/rc.d/rc.local",
    ] {
        assert!(paths.contains(&f), "{f}");
    }
    assert_eq!(p.dnf["diskspacecheck"], "0");
    assert!(p.empty_machine_id);
    let fstab = p.fstab_entries();
    assert_eq!(fstab.len(), 1, "the NFS line is a comment");
    assert_eq!(
        (fstab[0].file.as_str(), fstab[0].vfstype.as_str()),
        ("/tmp", "tmpfs")
    );
    assert_eq!(
        p.services.enable,
        ["sshd.service", "NetworkManager.service"]
    );
}

#[test]
fn el8_profile_uses_ifcfg_and_modules() {
    let p = profile::load(repo_root().join("profiles/rocky8-diskless.toml")).unwrap();
    assert_eq!(p.network.style, NetworkStyle::Ifcfg);
    assert_eq!(
        p.network.files()[0].path,
        "/etc/sysconfig/network-scripts/ifcfg-eth0"
    );
    assert_eq!(p.packages.modules, ["nodejs:18"]);
    // powertools is defined but disabled
    assert!(p.repos.iter().all(|r| r.id != "powertools"));
}

#[test]
fn rhel_profile_points_at_entitlement_certs() {
    let p = profile::load(repo_root().join("profiles/rhel9-diskless.toml")).unwrap();
    for r in &p.repos {
        let cert = r.sslclientcert.as_ref().unwrap().to_str().unwrap();
        let key = r.sslclientkey.as_ref().unwrap().to_str().unwrap();
        assert!(
            cert.starts_with("/etc/pki/entitlement/")
                && cert.ends_with(".pem")
                && !cert.ends_with("-key.pem")
        );
        assert_eq!(key, cert.replace(".pem", "-key.pem"));
        assert_eq!(
            r.sslcacert.as_deref(),
            Some(Path::new("/etc/rhsm/ca/redhat-uep.pem"))
        );
        assert!(r.baseurl[0].starts_with("https://cdn.redhat.com/content/dist/rhel9/9/x86_64/"));
    }
}

#[test]
fn repo_file_profile_reads_sections() {
    let p = profile::load(repo_root().join("profiles/examples/repo-files.toml")).unwrap();
    let ids: Vec<&str> = p.repos.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["epel", "local-extras", "site-appstream", "site-baseos"]
    );
    let base = &p.repos[3];
    assert_eq!(
        base.baseurl,
        [
            "https://mirror.example.org/rocky/9/BaseOS/x86_64/os/",
            "https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"
        ]
    );
    assert_eq!((base.priority, base.cost), (10, 500));
    assert_eq!(p.repos[2].excludepkgs, ["kernel-rt*", "*-debuginfo"]);
    let local = &p.repos[1];
    let want = url::Url::from_file_path(
        repo_root()
            .join("profiles/examples/local-repo/")
            .canonicalize()
            .unwrap_or(repo_root().join("profiles/examples/local-repo")),
    )
    .unwrap()
    .to_string();
    assert_eq!(
        local.baseurl[0].trim_end_matches('/'),
        want.trim_end_matches('/')
    );
    assert!(local.module_hotfixes);
    assert!(matches!(&local.source, profile::RepoSource::RepoFile { line, .. } if *line == 29));
}

/// A profile folder in a temp dir with a valid base profile; tests break one thing.
struct Scratch {
    dir: tempfile::TempDir,
}

const BASE: &str = r#"[image]
name = "t"
arch = "x86_64"
releasever = "9"

[[repo]]
id = "baseos"
baseurl = "https://dl.example.org/$releasever/BaseOS/$basearch/os/"
gpgkey = "https://dl.example.org/RPM-GPG-KEY"

[packages]
install = ["bash"]

[dhcp]
subnet = "192.168.0.0/24"
next_server = "192.168.0.10"

[[host]]
name = "n1"
mac = "aa:bb:cc:dd:ee:01"
ip = "192.168.0.101"
"#;

impl Scratch {
    fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    /// Run `diskless profile check` on `text`; expect failure and return stderr, temp path
    /// filtered.
    fn check_err(&self, text: &str) -> String {
        let p = self.write("profile.toml", text);
        let out = cargo_bin_cmd!("diskless")
            .args(["profile", "check"])
            .arg(&p)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "expected exit 1; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        let tmp = self.dir.path().to_str().unwrap();
        let canon = self.dir.path().canonicalize().unwrap();
        err.replace(canon.to_str().unwrap(), "[TMP]")
            .replace(tmp, "[TMP]")
    }
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

macro_rules! snap {
    ($name:literal, $text:expr) => {{
        let s = Scratch::new();
        insta::assert_snapshot!($name, s.check_err(&$text));
    }};
    ($name:literal, $scratch:expr, $text:expr) => {{
        insta::assert_snapshot!($name, $scratch.check_err(&$text));
    }};
}

#[test]
fn error_unknown_field() {
    snap!("unknown_field", BASE.replace("baseurl =", "baseurll ="));
}

#[test]
fn error_unknown_top_level_table() {
    snap!("unknown_table", with("\n[pxee]\ntimeout = 5\n"));
}

#[test]
fn error_bad_url() {
    snap!(
        "bad_url",
        BASE.replace(
            "https://dl.example.org/$releasever",
            "htps//dl.example.org/$releasever"
        )
    );
}

#[test]
fn error_unsupported_url_scheme() {
    snap!(
        "bad_url_scheme",
        BASE.replace(
            "https://dl.example.org/$releasever",
            "ftp://dl.example.org/$releasever"
        )
    );
}

#[test]
fn error_missing_file() {
    snap!(
        "missing_file",
        with("\n[[file]]\npath = \"/etc/motd\"\nsource = \"files/motd\"\n")
    );
}

#[test]
fn error_bad_type() {
    snap!("bad_type", with("\n[pxe]\ntimeout = \"fast\"\n"));
}

#[test]
fn error_bad_mode() {
    snap!(
        "bad_mode",
        with("\n[[file]]\npath = \"/etc/motd\"\ncontent = \"hi\"\nmode = \"0x44\"\n")
    );
}

#[test]
fn error_mode_as_integer() {
    snap!(
        "mode_integer",
        with("\n[[file]]\npath = \"/etc/motd\"\ncontent = \"hi\"\nmode = 644\n")
    );
}

#[test]
fn error_bad_mac() {
    snap!(
        "bad_mac",
        BASE.replace("aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee")
    );
}

#[test]
fn error_ip_outside_subnet() {
    snap!(
        "ip_outside_subnet",
        BASE.replace("192.168.0.101", "192.168.1.101")
    );
}

#[test]
fn error_duplicate_host() {
    snap!(
        "duplicate_host",
        with("\n[[host]]\nname = \"n2\"\nmac = \"aa:bb:cc:dd:ee:01\"\nip = \"192.168.0.102\"\n")
    );
}

#[test]
fn error_unknown_arch() {
    snap!("unknown_arch", BASE.replace("\"x86_64\"", "\"x86-64\""));
}

#[test]
fn error_missing_field() {
    snap!("missing_field", BASE.replace("arch = \"x86_64\"\n", ""));
}

#[test]
fn error_toml_syntax() {
    snap!(
        "toml_syntax",
        BASE.replace("install = [\"bash\"]", "install = [\"bash\"")
    );
}

#[test]
fn error_unknown_variable() {
    snap!(
        "unknown_variable",
        BASE.replace("/BaseOS/", "/$contentdir/BaseOS/")
    );
}

#[test]
fn error_repo_files_after_repo_table() {
    snap!(
        "repo_files_misplaced",
        BASE.replace("[packages]", "repo_files = [\"x.repo\"]\n\n[packages]")
    );
}

#[test]
fn error_pxe_default_not_an_entry() {
    snap!("pxe_default", with("\n[pxe]\ndefault = \"diskles\"\n"));
}

#[test]
fn error_pxe_uefi_not_a_choice() {
    snap!("pxe_uefi_value", with("\n[pxe]\nuefi = \"yes\"\n"));
}

#[test]
fn error_pxe_boots_no_client() {
    snap!(
        "pxe_no_client",
        with("\n[pxe]\nbios = false\nuefi = false\n")
    );
}

#[test]
fn error_gpgcheck_without_key() {
    snap!(
        "gpgcheck_without_key",
        BASE.replace("gpgkey = \"https://dl.example.org/RPM-GPG-KEY\"\n", "")
    );
}

#[test]
fn error_repo_file_unknown_key() {
    let s = Scratch::new();
    s.write(
        "repos/site.repo",
        "[site]\nname=Site\nbaseurl=https://x.example/\ngpgcheck=0\nbase_url=https://y.example/\n",
    );
    snap!(
        "repo_file_unknown_key",
        s,
        format!("repo_files = [\"repos/site.repo\"]\n{BASE}")
    );
}

#[test]
fn error_repo_file_bad_bool() {
    let s = Scratch::new();
    s.write(
        "site.repo",
        "# site\n[site]\nbaseurl=https://x.example/\ngpgcheck=maybe\n",
    );
    snap!(
        "repo_file_bad_bool",
        s,
        format!("repo_files = [\"site.repo\"]\n{BASE}")
    );
}

#[test]
fn error_repo_file_missing() {
    snap!(
        "repo_file_missing",
        format!("repo_files = [\"nope.repo\"]\n{BASE}")
    );
}

#[test]
fn error_duplicate_repo_id_across_files() {
    let s = Scratch::new();
    s.write(
        "site.repo",
        "[baseos]\nbaseurl=https://x.example/\ngpgcheck=0\n",
    );
    snap!(
        "duplicate_repo_id",
        s,
        format!("repo_files = [\"site.repo\"]\n{BASE}")
    );
}

#[test]
fn error_missing_profile_file() {
    let out = cargo_bin_cmd!("diskless")
        .args(["profile", "check", "/nonexistent/profile.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("missing_profile", String::from_utf8(out.stderr).unwrap());
}

#[test]
fn json_is_deterministic_and_complete() {
    let p = repo_root().join("profiles/rocky9-diskless.toml");
    let a = cargo_bin_cmd!("diskless")
        .args(["profile", "check", "--json"])
        .arg(&p)
        .output()
        .unwrap();
    let b = cargo_bin_cmd!("diskless")
        .args(["profile", "check", "--json"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["image"]["compression"]["algorithm"], "gzip");
    assert_eq!(v["hosts"][0]["mac"], "aa:bb:cc:dd:ee:01");
    assert_eq!(v["dhcp"]["subnet"], "192.168.0.0/24");
    assert_eq!(v["dirs"][0]["mode"], "0771");
    assert_eq!(v["repos"][0]["id"], "appstream");
}

#[test]
fn summary_snapshot() {
    let out = cargo_bin_cmd!("diskless")
        .args(["profile", "check", "profiles/rocky9-diskless.toml"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("summary_rocky9", String::from_utf8(out.stdout).unwrap());
}

#[test]
fn resolution_digest_survives_moving_the_checkout() {
    let profile = "[image]\nname = \"t\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n[[repo]]\nid = \"local\"\nbaseurl = \"./repo/\"\ngpgcheck = false\n\n[packages]\ninstall = [\"bash\"]\n";
    let a = Scratch::new();
    let b = Scratch::new();
    let pa = profile::load(a.write("p.toml", profile)).unwrap();
    let pb = profile::load(b.write("p.toml", profile)).unwrap();
    assert_ne!(pa.repos[0].baseurl, pb.repos[0].baseurl);
    assert_eq!(pa.resolution_digest(), pb.resolution_digest());
    let pc = profile::load(b.write("p.toml", &profile.replace("\"bash\"", "\"bash\", \"zsh\"")))
        .unwrap();
    assert_ne!(pa.resolution_digest(), pc.resolution_digest());
}

#[test]
fn sketch_keys_keep_working() {
    // The shared sketch, verbatim, next to the file it references.
    let s = Scratch::new();
    s.write("files/eth0.nmconnection", "[connection]\nid=eth0\n");
    let text =
        std::fs::read_to_string(repo_root().join("src/profile/testdata/profile-sketch.toml"))
            .unwrap();
    let p = profile::load(s.write("sketch.toml", &text)).unwrap();
    assert_eq!(p.repos.len(), 2);
    assert_eq!(p.users[0].name, "puppet");
    assert_eq!(p.oci.name.as_deref(), Some("ghcr.io/example/diskless-tftp"));
}

#[test]
fn error_no_repository() {
    snap!(
        "no_repository",
        "[image]\nname = \"t\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n[packages]\ninstall = [\"bash\"]\n"
    );
}

#[test]
fn error_builtin_variable_redefined() {
    snap!("builtin_variable", with("\n[vars]\nreleasever = \"8\"\n"));
}

#[test]
fn error_file_without_content() {
    snap!(
        "file_without_content",
        with("\n[[file]]\npath = \"/etc/motd\"\nmode = \"0644\"\n")
    );
}

#[test]
fn error_file_collides_with_network() {
    snap!(
        "file_collides_with_network",
        with(
            "\n[[file]]\npath = \"/etc/NetworkManager/system-connections/eth0.nmconnection\"\ncontent = \"x\"\n\n[[network.interface]]\nname = \"eth0\"\n"
        )
    );
}

#[test]
fn error_service_in_two_lists() {
    snap!(
        "service_two_lists",
        with("\n[services]\nenable = [\"sshd\"]\nmask = [\"sshd.service\"]\n")
    );
}

/// The JSON shape of a resolved profile with `.repo` files, paths filtered.
#[test]
fn json_snapshot_repo_files() {
    let out = cargo_bin_cmd!("diskless")
        .args([
            "profile",
            "check",
            "--json",
            "profiles/examples/repo-files.toml",
        ])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let root = repo_root().canonicalize().unwrap();
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(root.to_str().unwrap(), "[REPO]");
    insta::assert_snapshot!("json_repo_files", text);
}

#[test]
fn inline_exclude_string_is_split_like_dnf() {
    let s = Scratch::new();
    let p = profile::load(s.write(
        "p.toml",
        &BASE.replace(
            "[packages]",
            "excludepkgs = \"kernel-rt*, *-debuginfo\"\n\n[packages]",
        ),
    ))
    .unwrap();
    assert_eq!(p.repos[0].excludepkgs, ["kernel-rt*", "*-debuginfo"]);
}
