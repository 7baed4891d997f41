//! Every stage's input from the profile (and the lock): the one place that reads them.
//!
//! One function per target type: the repositories to load and fetch from ([`remote`]), the module
//! selection ([`module_selection`]), the solver request ([`solve_request`]), the fetcher's
//! wanted packages ([`fetch_wants`]), rootfs's
//! [`AssembleConfig`] ([`assemble_config`]), emit's settings ([`emit_settings`]), images
//! ([`image_input`]) and manifest facts ([`provenance`]). Stages below the plan never see a
//! `Profile` or a `Lockfile`: they take these plain values, so a feature that needs a new
//! profile field in a stage adds it here and to the stage's input type, nowhere else.

use crate::emit::compress::Compression;
use crate::emit::settings::{
    Dhcp, EmitSettings, ExtraEntry, Host, Layout, Menu, Oci, RootKind, Uefi,
};
use crate::emit::{HostFileRecord, ImageInput, PackageRecord, Provenance};
use crate::fetch::{self, Cache, CacheError, FetchError, Want};
use crate::lock::{LockedPackage, Lockfile};
use crate::net::{Proxy, Remote, TlsConfig};
use crate::profile::{self, FileData, NetworkStyle, Profile, RepoConfig, template};
use crate::repo::modules::ModuleSelection;
use crate::rootfs::header::PkgHeader;
use crate::rootfs::rpmdb::{RpmdbConfig, RpmdbMode};
use crate::rootfs::tree::Tree;
use crate::rootfs::{AssembleConfig, RootPassword, RootfsError, custom, extract::Filters, users};
use crate::solve::Request;
use sha2::Digest as _;
use std::collections::BTreeSet;

/// dnf's default `installonlypkgs` that are plain names (the provide-based entries, such as
/// `installonlypkg(kernel)`, are matched by name here: EL kernels provide both).
pub const INSTALL_ONLY: &[&str] = &[
    "kernel",
    "kernel-core",
    "kernel-modules",
    "kernel-modules-core",
    "kernel-modules-extra",
    "kernel-devel",
    "kernel-debug",
    "kernel-debug-core",
    "kernel-debug-modules",
    "kernel-rt",
    "kernel-rt-core",
    "kernel-rt-modules",
    "kernel-uki-virt",
];

/// The remote (base URLs, mirrorlist or metalink, TLS, keys, priority, cost, filters) of
/// one profile repository, for both `repo` and `fetch`: the one place the profile's
/// `[[repo]]` becomes a [`Remote`] (`$releasever` and `$basearch` were substituted by the
/// profile layer). The lock records the base URL that answered (a mirror for a repository
/// without `baseurl`); the fetcher tries it first, then the repository's other mirrors.
///
/// `proxy` (with `proxy_username`/`proxy_password`; `_none_` = direct) applies to metadata
/// and packages alike; without it the environment's proxy variables do.
pub fn remote(r: &RepoConfig) -> Remote {
    Remote {
        id: r.id.clone(),
        baseurls: r.baseurl.clone(),
        mirrorlist: r.mirrorlist.clone(),
        metalink: r.metalink.clone(),
        tls: TlsConfig {
            ca_cert: r.sslcacert.clone(),
            client_cert: r.sslclientcert.clone(),
            client_key: r.sslclientkey.clone(),
            verify: r.sslverify,
        },
        proxy: match r.proxy.as_deref() {
            None | Some("") => Proxy::Environment,
            Some("_none_") => Proxy::Direct,
            Some(url) => Proxy::Url {
                url: url.to_owned(),
                username: r.proxy_username.clone(),
                password: r.proxy_password.clone(),
            },
        },
        timeouts: r.timeouts,
        gpgcheck: r.gpgcheck,
        repo_gpgcheck: r.repo_gpgcheck,
        gpgkeys: r.gpgkey.clone(),
        priority: i32::try_from(r.priority).unwrap_or(i32::MAX),
        cost: i32::try_from(r.cost).unwrap_or(i32::MAX),
        excludepkgs: r.excludepkgs.clone(),
        includepkgs: r.includepkgs.clone(),
        module_hotfixes: r.module_hotfixes,
        skip_if_unavailable: r.skip_if_unavailable,
    }
}

/// Every enabled repository of the profile, in profile order, as `repo` loads them and
/// `fetch` downloads from them.
pub fn remotes(p: &Profile) -> Vec<Remote> {
    p.repos.iter().map(remote).collect()
}

/// The profile's `packages.modules` (`name:stream[/profile]`) enabled, on the platform of
/// its release (`el9` for releasever 9.x), as dnf's `module_platform_id` says.
pub fn module_selection(p: &Profile) -> ModuleSelection {
    let enabled = p
        .packages
        .modules
        .iter()
        .filter_map(|m| {
            let spec = m.split('/').next().unwrap_or(m);
            let (name, stream) = spec.split_once(':')?;
            Some((name.to_string(), stream.to_string()))
        })
        .collect();
    ModuleSelection {
        enabled,
        platform: p.image.release_major().map(|m| format!("el{m}")),
    }
}

/// The solver's request for one package set of the profile: `install` are the specs with
/// `@group`s already expanded; `weak` turns on Recommends/Supplements.
pub fn solve_request(p: &Profile, install: Vec<String>, weak: bool) -> Request {
    // Per-repository excludepkgs/includepkgs are applied by the pool (net::Remote).
    Request {
        install,
        exclude: p.packages.exclude.clone(),
        arch: p.image.arch.as_str().to_owned(),
        extra_arches: Vec::new(),
        weak_deps: weak,
        install_only: INSTALL_ONLY.iter().map(|s| s.to_string()).collect(),
        install_only_limit: p.packages.install_only_limit.unwrap_or(1),
        repo_priority: p
            .repos
            .iter()
            .map(|r| (r.id.clone(), r.priority as i32))
            .collect(),
        repo_cost: p
            .repos
            .iter()
            .map(|r| (r.id.clone(), r.cost as i32))
            .collect(),
    }
}

/// The packages fetch downloads for `lock`: every locked package (image, then boot), each
/// with the base URL the lock recorded for its repository. Checks, package by package,
/// that the checksum is one fetch can verify, that `repos` (the profile's) define the
/// repository and that the lock recorded it.
pub fn fetch_wants(lock: &Lockfile, repos: &[Remote]) -> Result<Vec<Want>, FetchError> {
    let mut wants = Vec::new();
    for p in lock.all_packages() {
        fetch::cache::check_checksum(&p.checksum)?;
        if !repos.iter().any(|r| r.id == p.repo) {
            return Err(FetchError::UnknownRepo {
                nevra: p.nevra(),
                repo: p.repo.clone(),
            });
        }
        let locked =
            lock.repos
                .iter()
                .find(|r| r.id == p.repo)
                .ok_or_else(|| FetchError::UnlockedRepo {
                    nevra: p.nevra(),
                    repo: p.repo.clone(),
                })?;
        wants.push(want(p, &locked.baseurl));
    }
    Ok(wants)
}

fn want(p: &LockedPackage, baseurl: &str) -> Want {
    Want {
        name: p.name.clone(),
        arch: p.arch.clone(),
        nevra: p.nevra(),
        checksum: p.checksum.clone(),
        size: p.size,
        location: p.location.clone(),
        repo: p.repo.clone(),
        baseurl: baseurl.to_owned(),
    }
}

/// The cache entries (sha256 hex) `lock` pins that `cache` holds: what `cache gc` keeps.
pub fn cache_keep(cache: &Cache, lock: &Lockfile) -> Result<BTreeSet<String>, CacheError> {
    let mut keep = BTreeSet::new();
    for p in lock.all_packages() {
        if let Some(sha) = cache.sha256_of(&p.checksum)? {
            keep.insert(sha);
        }
    }
    Ok(keep)
}

/// What assembly needs from a loaded profile, with the build's SOURCE_DATE_EPOCH (decided
/// once by the plan: [`super::Plan::source_date_epoch`]). Reads `source` files and nothing
/// else.
/// A profile file as rootfs applies it: its bytes read, a template filled in with `host`'s
/// values (a template without a host is written as it is).
fn file_spec(
    f: &profile::FileSpec,
    host: Option<&template::HostValues>,
) -> Result<custom::FileSpec, RootfsError> {
    let what = format!("file {}", f.path);
    let custom_err = |reason: String| RootfsError::Custom {
        what: what.clone(),
        reason,
    };
    let contents = match &f.data {
        FileData::Content(s) => s.clone().into_bytes(),
        FileData::Source(path) => fs_err::read(path).map_err(|e| custom_err(e.to_string()))?,
    };
    let contents = match host {
        Some(h) if f.template => {
            let text = String::from_utf8(contents)
                .map_err(|_| custom_err("a template must be UTF-8 text".into()))?;
            template::render(&text, h)
                .map_err(|e| custom_err(format!("{e} ({})", template::HINT)))?
                .into_bytes()
        }
        _ => contents,
    };
    Ok(custom::FileSpec {
        path: f.path.clone(),
        contents,
        mode: f.mode,
        user: f.owner.clone(),
        group: f.group.clone(),
        append: f.append,
    })
}

/// What host `h`'s overlay writes, in order (a later file replaces an earlier one):
/// `/etc/hostname`, its fixed address on its `[network]` interface, the profile's
/// templates filled in, its own `[[host.file]]`s.
pub fn host_overlay_files(
    p: &Profile,
    h: &profile::Host,
) -> Result<Vec<custom::FileSpec>, RootfsError> {
    let values = template::HostValues {
        name: h.name.clone(),
        hostname: h.hostname.clone(),
        ip: h.ip.to_string(),
        mac: h.mac.to_string(),
    };
    let mut files = vec![custom::FileSpec {
        path: "/etc/hostname".into(),
        contents: format!("{}\n", h.hostname).into_bytes(),
        mode: 0o644,
        user: "root".into(),
        group: "root".into(),
        append: false,
    }];
    if let Some(f) = p.network.host_file(h, p.dhcp.as_ref()) {
        files.push(file_spec(&f, None)?);
    }
    for f in p.files.iter().filter(|f| f.template) {
        files.push(file_spec(f, Some(&values))?);
    }
    for f in &h.files {
        files.push(file_spec(f, Some(&values))?);
    }
    Ok(files)
}

pub fn assemble_config(p: &Profile, source_date_epoch: u64) -> Result<AssembleConfig, RootfsError> {
    let unit = |u: &String| {
        if u.contains('.') {
            u.clone()
        } else {
            format!("{u}.service")
        }
    };
    // Templates are filled in per host: they go into the host overlays only.
    let files = p
        .files
        .iter()
        .chain(p.network.files().iter())
        .filter(|f| !f.template)
        .map(|f| file_spec(f, None))
        .collect::<Result<Vec<_>, _>>()?;
    let mut groups: Vec<(String, Option<u32>)> =
        p.groups.iter().map(|g| (g.name.clone(), g.gid)).collect();
    let mut members = Vec::new();
    for g in &p.groups {
        for m in &g.members {
            members.push((g.name.clone(), m.clone()));
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    groups.dedup_by(|a, b| a.0 == b.0);
    let users = p
        .users
        .iter()
        .map(|u| users::NewUser {
            name: u.name.clone(),
            uid: u.uid,
            group: u.gid.map(|g| g.to_string()),
            groups: u.groups.clone(),
            gecos: u.gecos.clone().unwrap_or_default(),
            home: u.home.clone(),
            shell: u.shell.clone(),
            system: u.system,
            no_user_group: false,
        })
        .collect();
    let passwords = p
        .users
        .iter()
        .filter_map(|u| u.password_hash.clone().map(|h| (u.name.clone(), h)))
        .collect();
    Ok(AssembleConfig {
        xattrs_carried: p.image.root == profile::ImageRoot::Squashfs,
        filters: Filters {
            nodocs: p.packages.nodocs,
            langs: (!p.packages.langs.is_empty()).then(|| p.packages.langs.clone()),
            exclude_paths: p.packages.exclude_paths.clone(),
        },
        groups,
        members,
        users,
        passwords,
        root_password: match (&p.root.password_hash, &p.root.password_file) {
            (Some(h), _) => Some(RootPassword::Hash(h.clone())),
            (None, Some(f)) => Some(RootPassword::File(f.clone())),
            (None, None) => None,
        },
        password_seed: p.image.name.clone(),
        custom: custom::Customisations {
            remove: p.remove.clone(),
            dirs: p
                .dirs
                .iter()
                .map(|d| custom::DirSpec {
                    path: d.path.clone(),
                    mode: d.mode,
                    user: d.owner.clone(),
                    group: d.group.clone(),
                })
                .collect(),
            files,
            symlinks: p
                .symlinks
                .iter()
                .map(|s| (s.path.clone(), s.target.clone()))
                .collect(),
            enable: p.services.enable.iter().map(unit).collect(),
            disable: p.services.disable.iter().map(unit).collect(),
            mask: p.services.mask.iter().map(unit).collect(),
            default_target: p.services.default_target.clone(),
            hostname: p.hostname.clone(),
            empty_machine_id: p.empty_machine_id,
            fstab: p.fstab.clone(),
            sysconfig_networking: p.network.style == NetworkStyle::Ifcfg
                && !p.network.interfaces.is_empty(),
            dnf_main: p.dnf.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            // The profile lists /init among its symlinks already (image.init_symlink).
            init_symlink: false,
        },
        source_date_epoch,
        rpmdb: RpmdbConfig {
            mode: if p.image.rpmdb {
                RpmdbMode::Auto
            } else {
                RpmdbMode::Off
            },
            arch: Some(p.image.arch.as_str().to_string()),
        },
    })
}

/// OCI's name for an rpm architecture.
pub fn oci_arch(a: profile::Arch) -> &'static str {
    match a {
        profile::Arch::X86_64 => "amd64",
        profile::Arch::Aarch64 => "arm64",
        profile::Arch::Ppc64le => "ppc64le",
        profile::Arch::S390x => "s390x",
    }
}

/// The initramfs compression of `[image] compression`.
pub fn compression(c: profile::Compression) -> Compression {
    match c {
        profile::Compression::Gzip { level } => Compression::Gzip { level },
        profile::Compression::Zstd { level } => Compression::Zstd { level },
        profile::Compression::Xz { level } => Compression::Xz { preset: level },
        profile::Compression::None => Compression::None,
    }
}

/// Emit's settings: `[image]` compression, `[pxe]` (root, menu, layout, BIOS/UEFI, extra
/// entries, per-host files), `[dhcp]`, `[[host]]` and `[oci]`.
pub fn emit_settings(p: &Profile) -> EmitSettings {
    let defaults = EmitSettings::default();
    let layout = Layout {
        tftp_root: p.pxe.root.clone(),
        pxelinux_dir: p.pxe.layout.pxelinux_dir.clone(),
        images_dir: p.pxe.layout.images_dir.clone(),
        efi_dir: p.pxe.layout.efi_dir.clone(),
        ..Layout::default()
    };
    let menu = Menu {
        title: p.pxe.menu_title.clone(),
        timeout_tenths: p.pxe.timeout,
        default: Some(p.pxe.default.clone()),
        local_boot: p.pxe.local_boot,
        per_host_files: p.pxe.per_host,
        bios: p.pxe.bios,
        // `auto` stays `auto`: emit decides, once it has read the boot packages' loaders.
        uefi: match p.pxe.uefi {
            profile::AutoBool::Auto => Uefi::Auto,
            profile::AutoBool::On => Uefi::On,
            profile::AutoBool::Off => Uefi::Off,
        },
        extra_entries: p
            .pxe
            .entries
            .iter()
            .map(|e| ExtraEntry {
                id: e.name.clone(),
                label: e.label.clone(),
                image: None,
                cmdline: e.cmdline.clone(),
            })
            .collect(),
    };
    let dhcp = p.dhcp.as_ref().map(|d| Dhcp {
        subnet: d.subnet.network(),
        netmask: d.subnet.netmask(),
        next_server: d.next_server,
        range: d.range,
        routers: d.router,
        dns_servers: d.dns.clone(),
        domain_name: d.domain_name.clone(),
        interface: None,
        lease_secs: d.lease_time.unwrap_or(43200),
    });
    let hosts = p
        .hosts
        .iter()
        .map(|h| Host {
            name: h.name.clone(),
            hostname: Some(h.hostname.clone()).filter(|n| !n.is_empty()),
            mac: h.mac.to_string(),
            ip: h.ip,
            image: None,
            cmdline: h.cmdline.clone(),
        })
        .collect();
    let a = &p.oci.annotations;
    let get = |k: &str| a.get(&format!("org.opencontainers.image.{k}")).cloned();
    let oci = Oci {
        root: p.pxe.root.clone(),
        source: get("source"),
        revision: get("revision"),
        version: get("version"),
        title: get("title").or_else(|| Some(p.image.name.clone())),
        architecture: oci_arch(p.image.arch).to_string(),
        annotations: a.clone(),
        name: p.oci.name.clone(),
        ..Oci::default()
    };
    EmitSettings {
        compression: compression(p.image.compression),
        layout,
        menu,
        dhcp,
        hosts,
        oci,
        root: match p.image.root {
            profile::ImageRoot::Initramfs => RootKind::Initramfs,
            profile::ImageRoot::Squashfs => RootKind::Squashfs,
        },
        root_chunk_bytes: p
            .image
            .root_chunk_mib
            .map_or(defaults.root_chunk_bytes, |m| u64::from(m) << 20),
        root_http: p.image.root_http.clone(),
        net_modules: p.image.net_modules.clone(),
        ..defaults
    }
}

/// The profile's one image, over the tree rootfs assembled from `packages`.
pub fn image_input<'a>(p: &Profile, tree: &'a Tree, packages: &'a [PkgHeader]) -> ImageInput<'a> {
    ImageInput {
        name: p.image.name.clone(),
        label: Some(p.pxe.label.clone()).filter(|l| !l.is_empty()),
        cmdline: p.boot.cmdline.clone(),
        kernel_version: None,
        tree,
        packages,
    }
}

/// The manifest's record of locked packages.
pub fn package_records(packages: &[LockedPackage]) -> Vec<PackageRecord> {
    packages
        .iter()
        .map(|p| PackageRecord {
            nevra: p.nevra(),
            checksum: p.checksum.to_string(),
            name: p.name.clone(),
            epoch: p.epoch,
            version: p.version.clone(),
            release: p.release.clone(),
            arch: p.arch.clone(),
            repo: p.repo.clone(),
            sha256: (p.checksum.kind == "sha256").then(|| p.checksum.value.clone()),
        })
        .collect()
}

/// What went into the build, for the manifest: the profile's name and digest, the digest of
/// the lockfile's bytes (`lock_bytes`) and the packages it pins.
pub fn provenance(p: &Profile, lock: &Lockfile, lock_bytes: &[u8]) -> Provenance {
    Provenance {
        profile_name: p.image.name.clone(),
        profile_digest: p.resolution_digest(),
        lock_digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(lock_bytes))),
        lock_profile_digest: lock.profile_digest.clone(),
        packages: package_records(&lock.packages),
        boot_packages: package_records(&lock.boot_packages),
        host_files: Vec::new(),
    }
}

/// The host files outside the profile's folder that the command line allowed, each with the
/// sha256 of its bytes now (the manifest's `host_files`; contents are never recorded).
pub fn host_files(p: &Profile) -> Result<Vec<HostFileRecord>, std::io::Error> {
    p.host_files
        .iter()
        .map(|h| {
            Ok(HostFileRecord {
                field: h.field.clone(),
                path: h.path.display().to_string(),
                sha256: hex::encode(sha2::Sha256::digest(fs_err::read(&h.path)?)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn example_profile_maps_onto_settings() {
        let text = r#"
[image]
name = "compute"
releasever = "9"
arch = "x86_64"
compression = "zstd"

[[repo]]
id = "baseos"
baseurl = "https://example.invalid/9/BaseOS/x86_64/os/"
gpgcheck = false

[packages]
install = ["bash"]

[boot]
packages = ["syslinux-tftpboot"]
cmdline = "console=ttyS0"

[dhcp]
subnet = "10.1.0.0/24"
next_server = "10.1.0.1"

[[host]]
name = "node01"
mac = "52:54:00:12:34:01"
ip = "10.1.0.11"
"#;
        let p = match crate::profile::from_str(Path::new("p.toml"), Path::new("/tmp"), text) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let s = emit_settings(&p);
        assert_eq!(s.compression, Compression::Zstd { level: 19 });
        assert_eq!(
            s.dhcp.as_ref().unwrap().netmask.to_string(),
            "255.255.255.0"
        );
        assert_eq!(s.hosts[0].mac, "52:54:00:12:34:01");
        assert_eq!(s.layout.tftp_root, s.oci.root);
        assert_eq!(s.menu.default.as_deref(), Some("compute"));
        let tree = Tree::default();
        assert_eq!(image_input(&p, &tree, &[]).cmdline, "console=ttyS0");
    }

    #[test]
    fn shipped_profiles_give_valid_networks() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles");
        let mut n = 0;
        for e in fs_err::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let prof =
                    crate::profile::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let s = emit_settings(&prof);
                crate::emit::network::validate(s.dhcp.as_ref(), &s.hosts)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n > 0);
    }

    #[test]
    fn fetch_wants_carry_the_locked_base_url_and_check_repositories_in_lock_order() {
        use crate::lock::{LOCK_VERSION, LockedRepo};
        use crate::package::Checksum;
        let pkg = |name: &str, repo: &str| LockedPackage {
            name: name.into(),
            epoch: if name == "b" { 2 } else { 0 },
            version: "1".into(),
            release: "1.el9".into(),
            arch: "noarch".into(),
            repo: repo.into(),
            location: format!("Packages/{name}.rpm"),
            checksum: Checksum {
                kind: "sha256".into(),
                value: "ab".repeat(32),
            },
            size: 7,
            build_time: 1,
        };
        let mut lock = Lockfile {
            version: LOCK_VERSION,
            profile_digest: "d".into(),
            repos: vec![LockedRepo {
                id: "base".into(),
                baseurl: "https://mirror.example/base/".into(),
                revision: None,
                repomd_sha256: "cd".repeat(32),
            }],
            packages: vec![pkg("a", "base")],
            boot_packages: vec![pkg("b", "base")],
        };
        let repos = [Remote::new("base", "https://origin.example/base/")];
        let wants = fetch_wants(&lock, &repos).unwrap();
        assert_eq!(
            wants.iter().map(|w| w.nevra.as_str()).collect::<Vec<_>>(),
            ["a-1-1.el9.noarch", "b-2:1-1.el9.noarch"]
        );
        assert!(
            wants
                .iter()
                .all(|w| w.baseurl == "https://mirror.example/base/")
        );
        assert_eq!(wants[0].location, "Packages/a.rpm");

        // The first package in lock order names the problem.
        lock.packages.push(pkg("c", "gone"));
        lock.boot_packages.push(pkg("d", "other"));
        let repos = [
            Remote::new("base", "https://origin.example/base/"),
            Remote::new("other", "https://origin.example/other/"),
        ];
        let e = fetch_wants(&lock, &repos).unwrap_err();
        assert!(
            matches!(&e, FetchError::UnknownRepo { nevra, repo } if nevra == "c-1-1.el9.noarch" && repo == "gone"),
            "{e}"
        );
        lock.packages.pop();
        let e = fetch_wants(&lock, &repos).unwrap_err();
        assert!(
            matches!(&e, FetchError::UnlockedRepo { repo, .. } if repo == "other"),
            "{e}"
        );
    }
}
