//! Per-host overlays (issue 17) on the offline fixture profile: each `[[host]]` gets a
//! small archive with its hostname, its fixed address in the image's network style, the
//! profile's templates and its own files filled in; its menus load it after the image.
//! Adding or changing a host changes that host's files only: the image's bytes and its OCI
//! layer stay as they were. GNU cpio reads the overlays (the boot tests boot them).

use crate::incremental::{build_with, fixture};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const PROFILE: &str = include_str!("../../examples/fixture.toml");

/// The fixture with a `[network]` interface, a template, and node1 given a host file.
fn with_hosts(extra: &str) -> String {
    let p = PROFILE.replace(
        "[system]\n",
        "[[file]]\npath = \"/etc/boot-fixture/node\"\ncontent = \"{{ name }} {{ hostname }} {{ ip }} {{ mac }}\\n\"\ntemplate = true\n\n\
         [[network.interface]]\nname = \"eth0\"\ndhcp = true\nmtu = 9000\n\n[system]\n",
    );
    assert_ne!(p, PROFILE);
    format!(
        "{p}\n[[host.file]]\npath = \"/etc/motd\"\ncontent = \"welcome to {{{{ hostname }}}}\\n\"\ntemplate = true\n\n\
         [[host.file]]\npath = \"/var/lib/node/id\"\ncontent = \"1\\n\"\nmode = \"0600\"\nowner = \"daemon\"\n\n\
         [[host]]\nname = \"node2\"\nhostname = \"node2.cluster.test\"\nmac = \"52:54:00:12:34:57\"\nip = \"192.168.77.102\"\n{extra}"
    )
}

fn sums(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(h, p)| (p.to_string(), h.to_string()))
        .collect()
}

/// `path` (e.g. `etc/hostname`) out of a gzip overlay, read by GNU cpio.
fn cpio_file(overlay: &Path, path: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc '{}' | cpio -i --quiet --to-stdout '{path}'",
            overlay.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `cpio -tv` of a gzip archive, one line per entry.
fn cpio_list(archive: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc '{}' | cpio -t -v --quiet --numeric-uid-gid",
            archive.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn entry<'a>(listing: &'a str, path: &str) -> Option<&'a str> {
    listing.lines().find(|l| l.ends_with(&format!(" {path}")))
}

#[test]
fn each_host_gets_its_overlay_and_adding_one_changes_only_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let cache = dir.join("cache");
    let two = sums(&build_with(dir, "fixture", &with_hosts(""), &cache, "two"));
    let out = dir.join("two");
    let tftp = out.join("tftpboot/pxelinux");
    let n1 = tftp.join("images/fixture/hosts/node1.img");
    let n2 = tftp.join("images/fixture/hosts/node2.img");

    // node1: hostname (its name), the template, its fixed address on eth0 (a keyfile:
    // releasever 9), its own files with their owner and mode.
    assert_eq!(cpio_file(&n1, "etc/hostname"), "node1\n");
    assert_eq!(
        cpio_file(&n1, "etc/boot-fixture/node"),
        "node1 node1 192.168.77.101 52:54:00:12:34:56\n"
    );
    assert_eq!(cpio_file(&n1, "etc/motd"), "welcome to node1\n");
    let keyfile = cpio_file(
        &n1,
        "etc/NetworkManager/system-connections/eth0.nmconnection",
    );
    assert!(
        keyfile.contains("[ipv4]\nmethod=manual\naddress1=192.168.77.101/24\n"),
        "{keyfile}"
    );
    assert!(keyfile.contains("mtu=9000"), "{keyfile}");
    let l1 = cpio_list(&n1);
    let id = entry(&l1, "var/lib/node/id").unwrap_or_else(|| panic!("{l1}"));
    assert!(id.starts_with("-rw-------   1 2        0 "), "{id}");
    // node2: its own values, none of node1's files.
    assert_eq!(cpio_file(&n2, "etc/hostname"), "node2.cluster.test\n");
    assert_eq!(
        cpio_file(&n2, "etc/boot-fixture/node"),
        "node2 node2.cluster.test 192.168.77.102 52:54:00:12:34:57\n"
    );
    let l2 = cpio_list(&n2);
    assert!(entry(&l2, "etc/motd").is_none(), "{l2}");

    // The folders above an overlay's files are the image's, mode and owner: the kernel
    // applies a directory entry's mode to the folder that exists.
    let base = cpio_list(&tftp.join("images/fixture/initramfs.img"));
    for d in ["etc", "etc/NetworkManager/system-connections", "var/lib"] {
        let mode = |l: &str| entry(l, d).map(|e| e[..10].to_string());
        assert_eq!(mode(&l1), mode(&base), "{d}");
        assert!(mode(&l1).is_some(), "{d} not in the overlay:\n{l1}");
    }
    // The template is not in the image; the image keeps DHCP on eth0. (Every segment:
    // GNU cpio stops at the first trailer.)
    let img = fs_err::File::open(tftp.join("images/fixture/initramfs.img")).unwrap();
    let names: Vec<String> =
        diskless::emit::cpio::read_entries(flate2::read::MultiGzDecoder::new(img))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
    assert!(!names.iter().any(|n| n == "etc/boot-fixture/node"));
    assert!(
        names
            .iter()
            .any(|n| n == "etc/NetworkManager/system-connections/eth0.nmconnection")
    );

    // Menus: the host's load the image, then its overlay; the default one the image alone.
    let m1 = fs_err::read_to_string(tftp.join("pxelinux.cfg/01-52-54-00-12-34-56")).unwrap();
    assert!(
        m1.contains("APPEND initrd=images/fixture/initramfs.img,images/fixture/hosts/node1.img "),
        "{m1}"
    );
    let g2 =
        fs_err::read_to_string(out.join("tftpboot/efi/grub.cfg-01-52-54-00-12-34-57")).unwrap();
    assert!(
        g2.contains("  initrd /pxelinux/images/fixture/initramfs.img /pxelinux/images/fixture/hosts/node2.img\n"),
        "{g2}"
    );
    let d = fs_err::read_to_string(tftp.join("pxelinux.cfg/default")).unwrap();
    assert!(
        d.contains("APPEND initrd=images/fixture/initramfs.img "),
        "{d}"
    );
    assert!(!d.contains("hosts/"), "{d}");

    // A third host, and node2 renamed: the image, its OCI layer and node1's files stay.
    let three = with_hosts(
        "\n[[host]]\nname = \"node3\"\nmac = \"52:54:00:12:34:58\"\nip = \"192.168.77.103\"\n",
    )
    .replace("node2.cluster.test", "node2.example.test");
    let three = sums(&build_with(dir, "fixture", &three, &cache, "three"));
    let changed: Vec<&String> = three
        .iter()
        .filter(|(p, h)| two.get(*p) != Some(h))
        .map(|(p, _)| p)
        .collect();
    for p in &changed {
        let allowed = p.contains("node2")
            || p.contains("node3")
            || p.contains("12-34-57")
            || p.contains("12-34-58")
            || p.starts_with("config/")
            || p.starts_with("oci/")
            || p.starts_with("sbom.")
            || ["image.oci.tar", "manifest.json"].contains(&p.as_str());
        assert!(
            allowed,
            "adding node3 changed `{p}`; all changed: {changed:?}"
        );
    }
    for same in [
        "tftpboot/pxelinux/images/fixture/initramfs.img",
        "tftpboot/pxelinux/images/fixture/vmlinuz",
        "tftpboot/pxelinux/images/fixture/hosts/node1.img",
        "tftpboot/pxelinux/pxelinux.cfg/01-52-54-00-12-34-56",
        "tftpboot/pxelinux/pxelinux.cfg/default",
    ] {
        assert_eq!(two.get(same), three.get(same), "{same}");
        assert!(two.contains_key(same), "{same}");
    }
    assert!(three.contains_key("tftpboot/pxelinux/images/fixture/hosts/node3.img"));
    assert_ne!(
        two["tftpboot/pxelinux/images/fixture/hosts/node2.img"],
        three["tftpboot/pxelinux/images/fixture/hosts/node2.img"]
    );
    // The OCI layers: boot loaders and the image the same blobs; hosts and configs new.
    let layers = |o: &str| -> Vec<String> {
        let m: serde_json::Value =
            serde_json::from_slice(&fs_err::read(dir.join(o).join("manifest.json")).unwrap())
                .unwrap();
        m["oci"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap_or(&l.to_string()).to_string())
            .collect()
    };
    let (a, b) = (layers("two"), layers("three"));
    assert_eq!(a.len(), 4, "boot loaders, image, hosts, configs: {a:?}");
    assert_eq!(a[..2], b[..2], "the boot loader and image layers changed");
    assert_ne!(a[2], b[2]);
}

#[test]
fn host_overlays_can_be_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    if fixture(dir).is_none() {
        return;
    }
    let p = with_hosts("").replace(
        "local_boot = true\n",
        "local_boot = true\nhost_overlays = false\n",
    );
    let s = sums(&build_with(dir, "fixture", &p, &dir.join("cache"), "off"));
    assert!(!s.keys().any(|k| k.contains("/hosts/")), "{s:?}");
    // No per-host menus either (`per_host` is off in the fixture).
    assert!(!s.keys().any(|k| k.contains("01-52-54")), "{s:?}");
}
