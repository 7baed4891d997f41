//! `diskless boot-test`: prove a build's tftp tree boots. It reads a build's output (the
//! manifest says which boot file each firmware gets and which hosts exist), stages its own
//! tftp tree from it ([`stage`]: links, and menus that talk on the serial port), and
//! PXE-boots one QEMU machine per firmware over QEMU's user network (no root; KVM when it
//! can run a stock kernel here, TCG otherwise). Each machine's serial console streams into a
//! log file; a boot passes when every expected text appeared (by default the kernel's
//! `Run /init as init process`: the kernel booted and handed over to the image's init) and
//! fails, as soon as the console shows it, on a kernel panic, no DHCP offer, a boot loader
//! that was not found or could not load the kernel or initrd, or at the timeout.
//!
//! A squashfs root the initrd fetches over HTTP (`[image] root_http`, a `url` in the
//! manifest's `root_image`) is served from the staged tree by boot-test's own [`http`]
//! server on the host's 127.0.0.1 at the URL's port, where QEMU's user network takes the
//! guest's connections to the boot server 10.0.2.2, for as long as the boots run; each
//! boot's report says how much of the image it sent.
//!
//! It sits beside the build, above `emit`, whose output layout and manifest it reads; it
//! imports nothing else but the base modules.

pub mod console;
pub mod host;
pub mod http;
pub mod machine;
pub mod stage;

pub use console::{Expect, Failure, FailureKind, Phase};
pub use host::Accel;
pub use machine::{Firmware, Machine, Network, Outcome};

use crate::emit::initrd::SERVER;
use crate::emit::manifest::{self, Boot, HostRecord, Summary};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The boot server on QEMU's user network (its DHCP and tftp server; the host's 127.0.0.1).
pub const USER_NET_SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

#[derive(Debug, thiserror::Error)]
pub enum BootTestError {
    #[error("`{}` is not a diskless build output (it has no `{}`)", out.display(), manifest::FILE_NAME)]
    NotAnOutput { out: PathBuf },
    #[error("Cannot read `{}`", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("The build in `{}` serves no {} clients (manifest.json has no {} boot file)", out.display(), firmware.name().to_uppercase(), firmware.name())]
    NotServed { out: PathBuf, firmware: Firmware },
    #[error("No host `{name}` in this build (its hosts: {known})")]
    UnknownHost { name: String, known: String },
    #[error(transparent)]
    Missing(#[from] host::Missing),
    #[error(transparent)]
    Stage(#[from] stage::StageError),
    #[error("Cannot use the work folder `{}`", path.display())]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "Cannot serve the root image at `{url}`: boot-test stands in for the boot server (`{{server}}`, 10.0.2.2 in QEMU), not for `{host}`"
    )]
    RootHttpHost { url: String, host: String },
    #[error("Cannot serve the root image at `{url}`: {reason}")]
    RootHttpUrl { url: String, reason: String },
    #[error(
        "The images fetch their root images from different servers (`{first}`, `{second}`); boot-test serves one"
    )]
    RootHttpServers { first: String, second: String },
    #[error(
        "Serving the root image over HTTP is not supported with --network tap (`{ifname}`): boot-test does not know the tap device's host address"
    )]
    RootHttpTap { ifname: String },
    #[error("The root image `{path}` of image `{image}` is not in the tftp tree `{}`", tftp.display())]
    RootImageMissing {
        image: String,
        path: String,
        tftp: PathBuf,
    },
    #[error(transparent)]
    Http(#[from] http::HttpError),
}

impl BootTestError {
    /// What to do about it, when that can be said.
    pub fn hint(&self) -> Option<String> {
        match self {
            BootTestError::RootHttpHost { .. } => Some(
                "use `{server}` in `[image] root_http` (e.g. `root_http = \"http://{server}:8080\"`): the node then fetches from the server it booted from, which boot-test serves"
                    .into(),
            ),
            BootTestError::RootHttpTap { .. } => Some(
                "boot on QEMU's user network, or serve the tftp tree over HTTP on the tap device's host address yourself"
                    .into(),
            ),
            BootTestError::RootImageMissing { .. } => {
                Some("`diskless verify OUT` checks the build's files; rebuild if it is gone".into())
            }
            BootTestError::Http(e) => e.hint(),
            _ => None,
        }
    }
}

/// What to boot and what to wait for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The firmwares to boot (at once); `None`: every one the build serves.
    pub firmwares: Option<Vec<Firmware>>,
    /// Texts every boot must show; empty: [`Expect::InitHandover`].
    pub expect: Vec<Expect>,
    pub timeout: Duration,
    /// Boot with this host's MAC (its per-host menus); `None`: a MAC no host has.
    pub host: Option<String>,
    /// Guest memory; `None`: enough for the largest initramfs (at least 1 GiB).
    pub memory_mb: Option<u32>,
    /// Logs, the staged tree and the firmware's variable store go here.
    pub work_dir: PathBuf,
    pub accel: Accel,
    /// Serve the built tree unchanged (no serial console added to the menus).
    pub as_built: bool,
}

/// What a boot test reports as it goes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The tftp tree QEMU serves.
    Staged { tftp: &'a Path },
    /// boot-test's HTTP server serves the root image (from the staged tree) at `addr`.
    ServingHttp { addr: SocketAddr },
    /// A machine starts.
    Starting {
        firmware: Firmware,
        accel: &'static str,
        memory_mb: u32,
        mac: &'a str,
        log: &'a Path,
    },
    /// A machine reached a phase, `at` after it started.
    Phase {
        firmware: Firmware,
        phase: Phase,
        at: Duration,
    },
    /// A machine is done.
    Finished { run: &'a Run },
}

/// Hears of a boot test's progress (the binary prints it). Called from one thread per
/// machine.
pub trait Reporter: Sync {
    fn on_event(&self, _event: &Event<'_>) {}
}

/// Reports nothing.
pub struct Silent;
impl Reporter for Silent {}

/// One firmware's boot.
#[derive(Debug, Clone)]
pub struct Run {
    pub firmware: Firmware,
    pub accel: &'static str,
    pub memory_mb: u32,
    /// The serial console as text.
    pub log: PathBuf,
    pub expects: Vec<Expect>,
    pub outcome: Outcome,
    /// What the HTTP server sent of each root image fetched over HTTP (empty: none is).
    pub root_http: Vec<RootHttpServed>,
}

/// What boot-test's HTTP server sent of a root image, by the end of a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootHttpServed {
    pub image: String,
    /// As the manifest has it (`{server}` and all).
    pub url: String,
    /// Where the server listened.
    pub addr: SocketAddr,
    /// The path it counted (`/pxelinux/images/<name>/root.squashfs`).
    pub url_path: String,
    /// The image's size.
    pub size: u64,
    /// Since the server started: one server serves the boots that run at once.
    pub hits: http::Hits,
    /// How many boots that is, this one included.
    pub boots: usize,
}

/// `HTTP sent 300 of 300 bytes of the root image (1 request)`; that no request came.
fn root_http_text(served: &[RootHttpServed]) -> Option<String> {
    let first = served.first()?;
    let asked: Vec<&RootHttpServed> = served.iter().filter(|s| s.hits.requests > 0).collect();
    if asked.is_empty() {
        return Some(format!(
            "no request for the root image reached the HTTP server on {}",
            first.addr
        ));
    }
    let texts: Vec<String> = asked
        .iter()
        .map(|s| {
            let what = match served.len() {
                1 => "the root image".to_string(),
                _ => format!("the root image of `{}`", s.image),
            };
            let n = s.hits.requests;
            let requests = format!("{n} request{}", if n == 1 { "" } else { "s" });
            match s.boots {
                1 => format!(
                    "HTTP sent {} of {} bytes of {what} ({requests})",
                    s.hits.bytes, s.size
                ),
                b => format!(
                    "HTTP sent {} bytes of {what} ({} bytes each) in {requests} to the {b} boots",
                    s.hits.bytes, s.size
                ),
            }
        })
        .collect();
    Some(texts.join("; "))
}

impl Run {
    pub fn passed(&self) -> bool {
        self.outcome.failure.is_none()
    }

    /// `the uefi boot failed: kernel panic: ... (serial log: PATH)`, or that it passed; then
    /// what the HTTP server sent of a root image fetched over HTTP.
    pub fn summary(&self) -> String {
        let verdict = self.verdict();
        match root_http_text(&self.root_http) {
            Some(http) => format!("{verdict}; {http}"),
            None => verdict,
        }
    }

    fn verdict(&self) -> String {
        match &self.outcome.failure {
            None => format!(
                "the {} boot passed in {} (serial log: {})",
                self.firmware.name(),
                console::secs(self.outcome.total),
                self.log.display()
            ),
            Some(f) => format!(
                "the {} boot failed after {}: {} (serial log: {})",
                self.firmware.name(),
                console::secs(self.outcome.total),
                f.reason(),
                self.log.display()
            ),
        }
    }

    /// The timings and the verdict, for `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        let s = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
        let o = &self.outcome;
        let mut v = serde_json::json!({
            "firmware": self.firmware,
            "passed": self.passed(),
            "failure": o.failure.as_ref().map(|f| serde_json::json!({
                "kind": f.kind,
                "reason": f.reason(),
            })),
            "accel": self.accel,
            "memory_mb": self.memory_mb,
            "log": self.log,
            "expected": self.expects.iter().map(Expect::describe).collect::<Vec<_>>(),
            "seconds": {
                "dhcp": s(o.phase(Phase::Dhcp)),
                "loader": s(o.phase(Phase::Loader)),
                "kernel": s(o.phase(Phase::Kernel)),
                "init": s(o.phase(Phase::Init)),
                "total": s(Some(o.total)),
                "qemu_cpu": s(o.cpu),
            },
        });
        if !self.root_http.is_empty() {
            v["root_http"] = self
                .root_http
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "image": r.image,
                        "url": r.url,
                        "server": r.addr.to_string(),
                        "path": r.url_path,
                        "size": r.size,
                        "requests": r.hits.requests,
                        "bytes_sent": r.hits.bytes,
                        "complete": r.hits.complete,
                        "boots": r.boots,
                    })
                })
                .collect();
        }
        v
    }
}

/// Every boot of a test.
#[derive(Debug, Clone)]
pub struct Report {
    pub runs: Vec<Run>,
    /// The staged tree the machines booted from.
    pub tftp: PathBuf,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.runs.iter().all(Run::passed)
    }
}

/// What boot-test needs from a build's output: its manifest's summary, or for builds that
/// predate it the default layout.
fn read_summary(out: &Path) -> Result<Summary, BootTestError> {
    let path = out.join(manifest::FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|_| BootTestError::NotAnOutput {
        out: out.to_path_buf(),
    })?;
    let mut s: Summary = serde_json::from_slice(&bytes)
        .map_err(|source| BootTestError::Manifest { path, source })?;
    if s.boot.is_none() {
        let tftp = out.join(crate::emit::TFTP_DIR);
        let layout = crate::emit::settings::Layout::default();
        let exists = |rel: String| tftp.join(&rel).is_file().then_some(rel);
        s.boot = Some(Boot {
            bios_boot_file: exists(layout.bios_boot_file()),
            uefi_boot_file: exists(layout.efi_boot_file()),
            ..Boot::default()
        });
    }
    Ok(s)
}

/// A MAC no host of the build has, so the machine gets the default menus.
fn anonymous_mac(hosts: &[HostRecord]) -> String {
    (1u8..=255)
        .map(|i| format!("52:54:00:d1:5c:{i:02x}"))
        .find(|m| !hosts.iter().any(|h| h.mac.eq_ignore_ascii_case(m)))
        .unwrap_or_else(|| "52:54:00:d1:5d:00".to_string())
}

/// Enough memory for the kernel to unpack the largest initramfs next to its compressed
/// copy (or to hold a squashfs root's files), and room to run: 1.25 x both + 512 MiB, at least 1 GiB, in 256 MiB steps.
fn default_memory_mb(s: &Summary) -> u32 {
    let need = s.images.iter().map(|i| i.ram_bytes()).max().unwrap_or(0);
    let mb = need / (1 << 20) * 5 / 4 + 512;
    u32::try_from(mb.next_multiple_of(256).max(1024)).unwrap_or(u32::MAX)
}

/// A root image the initrd fetches over HTTP, as boot-test serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fetched {
    image: String,
    url: String,
    /// In the tftp tree.
    path: String,
    port: u16,
    /// The URL's path before `/{path}`: `""`, or `/base` for a `root_http` with a path.
    prefix: String,
}

impl Fetched {
    /// What the node asks for (decoded).
    fn url_path(&self) -> String {
        format!("{}/{}", self.prefix, self.path)
    }
}

/// Read a manifest's root image `url` (and `path`, the file in the tftp tree): only a URL
/// on the boot server can be served here, at any port and under any base path.
fn fetched(image: &str, url: &str, path: Option<&str>) -> Result<Fetched, BootTestError> {
    let bad = |reason: String| BootTestError::RootHttpUrl {
        url: url.to_string(),
        reason,
    };
    // `{server}` is no host to a URL parser; the address it stands for in QEMU is.
    let probe = url.replace(SERVER, &USER_NET_SERVER.to_string());
    let u = url::Url::parse(&probe).map_err(|e| bad(format!("it is not a URL ({e})")))?;
    if u.scheme() != "http" {
        return Err(bad(format!(
            "boot-test serves `http://`, not `{}://`",
            u.scheme()
        )));
    }
    if u.host() != Some(url::Host::Ipv4(USER_NET_SERVER)) {
        return Err(BootTestError::RootHttpHost {
            url: url.to_string(),
            host: u.host_str().unwrap_or_default().to_string(),
        });
    }
    let url_path = http::percent_decode(u.path())
        .ok_or_else(|| bad("its path is not UTF-8 once decoded".into()))?;
    // The URL's path is the file's path in the tftp tree, after a base path, if any.
    let path = path.unwrap_or_else(|| url_path.trim_start_matches('/'));
    let clean = !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !clean {
        return Err(bad(format!(
            "its file `{path}` is not a path inside the tftp tree"
        )));
    }
    let prefix = url_path
        .strip_suffix(path)
        .and_then(|p| p.strip_suffix('/'))
        .ok_or_else(|| bad(format!("it does not end in the image's path `{path}`")))?;
    Ok(Fetched {
        image: image.to_string(),
        url: url.to_string(),
        path: path.to_string(),
        port: u.port_or_known_default().unwrap_or(80),
        prefix: prefix.to_string(),
    })
}

/// The root images the build's initrds fetch over HTTP, all from one server.
fn fetched_images(s: &Summary) -> Result<Vec<Fetched>, BootTestError> {
    let mut all: Vec<Fetched> = Vec::new();
    for i in &s.images {
        let Some(r) = &i.root_image else { continue };
        let Some(url) = &r.url else { continue };
        let f = fetched(&i.name, url, r.path.as_deref())?;
        if let Some(first) = all.first()
            && (first.port, &first.prefix) != (f.port, &f.prefix)
        {
            return Err(BootTestError::RootHttpServers {
                first: first.url.clone(),
                second: f.url,
            });
        }
        all.push(f);
    }
    Ok(all)
}

/// Where boot-test's HTTP server binds for machines on `network` to reach it at their boot
/// server's address, port `port`.
fn http_bind(network: &Network, port: u16) -> Result<SocketAddr, BootTestError> {
    network
        .boot_server_bind(port)
        .ok_or_else(|| BootTestError::RootHttpTap {
            ifname: match network {
                Network::Tap { ifname } => ifname.clone(),
                Network::User { .. } => String::new(),
            },
        })
}

/// Boot the build in `out` as `opts` says. A failed boot is part of the report, not an
/// error; errors are what keeps the test from running (not a build, QEMU or OVMF missing).
pub fn run(out: &Path, opts: &Options, reporter: &dyn Reporter) -> Result<Report, BootTestError> {
    let summary = read_summary(out)?;
    let fetched = fetched_images(&summary)?;
    let boot = summary.boot.clone().unwrap_or_default();
    let served = |f: Firmware| match f {
        Firmware::Bios => boot.bios_boot_file.clone(),
        Firmware::Uefi => boot.uefi_boot_file.clone(),
    };
    let firmwares: Vec<Firmware> = match &opts.firmwares {
        Some(f) => f.clone(),
        None => [Firmware::Bios, Firmware::Uefi]
            .into_iter()
            .filter(|f| served(*f).is_some())
            .collect(),
    };
    let mut bootfiles = Vec::new();
    for f in &firmwares {
        let file = served(*f).ok_or(BootTestError::NotServed {
            out: out.to_path_buf(),
            firmware: *f,
        })?;
        bootfiles.push((*f, file));
    }
    let mac = match &opts.host {
        Some(name) => summary
            .hosts
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.mac.clone())
            .ok_or_else(|| BootTestError::UnknownHost {
                name: name.clone(),
                known: match summary.hosts.as_slice() {
                    [] => "none".to_string(),
                    h => h
                        .iter()
                        .map(|h| format!("`{}`", h.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            })?,
        None => anonymous_mac(&summary.hosts),
    };
    let qemu = host::qemu()?;
    let ovmf = match firmwares.contains(&Firmware::Uefi) {
        true => Some(host::ovmf()?),
        false => None,
    };
    let accel = opts.accel.resolve();
    let memory_mb = opts
        .memory_mb
        .unwrap_or_else(|| default_memory_mb(&summary));
    let expects = match opts.expect.as_slice() {
        [] => vec![Expect::InitHandover],
        e => e.to_vec(),
    };

    let work = &opts.work_dir;
    let wd = |source| BootTestError::WorkDir {
        path: work.clone(),
        source,
    };
    std::fs::create_dir_all(work).map_err(wd)?;
    let tftp = work.join("tftp");
    if tftp.is_dir() {
        // A previous run's staging: links and rewritten menus only.
        std::fs::remove_dir_all(&tftp).map_err(wd)?;
    }
    let built = out.join(crate::emit::TFTP_DIR);
    stage::stage(&built, &tftp, !opts.as_built)?;
    reporter.on_event(&Event::Staged { tftp: &tftp });
    // Staging links every file of the built tree, a fetched root image too.
    let mut sizes = Vec::new();
    for f in &fetched {
        let size = std::fs::metadata(tftp.join(&f.path))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .ok_or_else(|| BootTestError::RootImageMissing {
                image: f.image.clone(),
                path: f.path.clone(),
                tftp: built.clone(),
            })?;
        sizes.push(size);
    }

    let machines: Vec<Machine> = bootfiles
        .iter()
        .map(|(firmware, bootfile)| Machine {
            qemu: qemu.clone(),
            launcher: Vec::new(),
            accel,
            firmware: *firmware,
            ovmf: ovmf.clone(),
            network: Network::User {
                tftp: tftp.clone(),
                bootfile: format!("/{}", bootfile.trim_start_matches('/')),
            },
            mac: mac.clone(),
            memory_mb,
            log: work.join(format!("{}.serial.log", firmware.name())),
            vars: work.join(format!("{}.vars.fd", firmware.name())),
        })
        .collect();

    // One server for every machine, for as long as they boot: the staged tree, whose
    // links lead into the built one.
    let server = match (fetched.first(), machines.first()) {
        (Some(f), Some(m)) => {
            let addr = http_bind(&m.network, f.port)?;
            for other in &machines[1..] {
                http_bind(&other.network, f.port)?;
            }
            let site = http::Site::new(&tftp).at(&f.prefix).links_into(&built);
            let server = http::Server::start(addr, site)?;
            reporter.on_event(&Event::ServingHttp {
                addr: server.local_addr(),
            });
            Some(server)
        }
        _ => None,
    };
    let boots = machines.len();
    let sent = |server: &http::Server| -> Vec<RootHttpServed> {
        fetched
            .iter()
            .zip(&sizes)
            .map(|(f, size)| RootHttpServed {
                image: f.image.clone(),
                url: f.url.clone(),
                addr: server.local_addr(),
                url_path: f.url_path(),
                size: *size,
                hits: server.hits(&f.url_path()),
                boots,
            })
            .collect()
    };

    let runs = std::thread::scope(|scope| {
        let handles: Vec<_> = machines
            .into_iter()
            .map(|machine| {
                let expects = expects.clone();
                let (server, sent) = (server.as_ref(), &sent);
                scope.spawn(move || {
                    reporter.on_event(&Event::Starting {
                        firmware: machine.firmware,
                        accel,
                        memory_mb,
                        mac: &machine.mac,
                        log: &machine.log,
                    });
                    let firmware = machine.firmware;
                    let outcome =
                        machine::boot(&machine, &expects, opts.timeout, &mut |phase, at| {
                            reporter.on_event(&Event::Phase {
                                firmware,
                                phase,
                                at,
                            });
                        });
                    let run = Run {
                        firmware,
                        accel,
                        memory_mb,
                        log: machine.log.clone(),
                        expects,
                        outcome,
                        root_http: server.map(sent).unwrap_or_default(),
                    };
                    reporter.on_event(&Event::Finished { run: &run });
                    run
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Vec<Run>>()
    });
    // Every machine is gone: the server stops.
    drop(server);
    Ok(Report { runs, tftp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anonymous_mac_is_no_hosts() {
        let h = |mac: &str| HostRecord {
            name: "n".into(),
            mac: mac.into(),
            overlay: None,
        };
        assert_eq!(anonymous_mac(&[]), "52:54:00:d1:5c:01");
        assert_eq!(
            anonymous_mac(&[h("52:54:00:D1:5C:01")]),
            "52:54:00:d1:5c:02"
        );
    }

    #[test]
    fn memory_follows_the_initramfs() {
        let s = |u: u64, b: u64| Summary {
            images: vec![manifest::ImageSummary {
                initramfs: manifest::InitramfsSummary {
                    bytes: b,
                    uncompressed_bytes: u,
                },
                ..manifest::ImageSummary::default()
            }],
            ..Summary::default()
        };
        assert_eq!(default_memory_mb(&Summary::default()), 1024);
        assert_eq!(default_memory_mb(&s(30 << 20, 10 << 20)), 1024);
        // 1.25 x 1.5 GiB + 512 MiB = 2432 MiB -> 2560.
        assert_eq!(default_memory_mb(&s(1200 << 20, 336 << 20)), 2560);
    }

    #[test]
    fn manifest_summaries_with_and_without_a_root_url_parse() {
        let with = r#"{"images": [{"name": "compute", "initrd": {"bytes": 10, "modules": []},
            "root_image": {"path": "pxelinux/images/compute/root.squashfs", "bytes": 300,
                "url": "http://{server}:8080/pxelinux/images/compute/root.squashfs",
                "sha256": "ab", "entries": 3}}], "tool": {"name": "diskless"}}"#;
        let s: Summary = serde_json::from_str(with).unwrap();
        let r = s.images[0].root_image.as_ref().unwrap();
        assert_eq!(s.images[0].name, "compute");
        assert_eq!(r.bytes, 300);
        assert_eq!(
            r.path.as_deref(),
            Some("pxelinux/images/compute/root.squashfs")
        );
        assert_eq!(
            r.url.as_deref(),
            Some("http://{server}:8080/pxelinux/images/compute/root.squashfs")
        );
        assert_eq!(s.images[0].ram_bytes(), 310);
        let f = fetched_images(&s).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].port, f[0].url_path().as_str()),
            (8080, "/pxelinux/images/compute/root.squashfs")
        );

        // Loaded by the boot loader (no url), and older manifests (no path, no name).
        for old in [
            r#"{"images": [{"name": "c", "root_image": {"path": "pxelinux/images/c/rootfs.img", "bytes": 5}}]}"#,
            r#"{"images": [{"root_image": {"bytes": 5}}]}"#,
            r#"{"images": [{"initramfs": {"bytes": 1, "uncompressed_bytes": 2}}]}"#,
        ] {
            let s: Summary = serde_json::from_str(old).unwrap();
            assert!(
                s.images[0]
                    .root_image
                    .as_ref()
                    .is_none_or(|r| r.url.is_none())
            );
            assert_eq!(fetched_images(&s).unwrap(), Vec::new(), "{old}");
        }
    }

    #[test]
    fn root_urls_on_the_boot_server_are_served_at_any_port_and_base() {
        let p = "pxelinux/images/c/root.squashfs";
        let f = fetched("c", &format!("http://{{server}}/{p}"), Some(p)).unwrap();
        assert_eq!((f.port, f.prefix.as_str()), (80, ""));
        let f = fetched("c", &format!("http://10.0.2.2:8081/boot/{p}"), Some(p)).unwrap();
        assert_eq!((f.port, f.prefix.as_str()), (8081, "/boot"));
        assert_eq!(f.url_path(), format!("/boot/{p}"));
        // No path recorded: the URL's path is the file's.
        let f = fetched("c", &format!("http://{{server}}:9000/{p}"), None).unwrap();
        assert_eq!((f.path.as_str(), f.prefix.as_str()), (p, ""));
    }

    #[test]
    fn root_urls_elsewhere_are_refused_with_a_hint() {
        let p = "pxelinux/images/c/root.squashfs";
        let e = fetched("c", &format!("http://192.168.1.5:8080/{p}"), Some(p)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "Cannot serve the root image at `http://192.168.1.5:8080/{p}`: boot-test stands in for the boot server (`{{server}}`, 10.0.2.2 in QEMU), not for `192.168.1.5`"
            )
        );
        assert!(
            e.hint()
                .unwrap()
                .contains("`{server}` in `[image] root_http`")
        );
        for (url, path) in [
            (format!("https://{{server}}/{p}"), p),
            (format!("http://{{server}}/other/{p}x"), p),
            (format!("http://{{server}}/{p}"), "../x"),
            ("http://{server}/".to_string(), ""),
        ] {
            let e = fetched("c", &url, Some(path)).unwrap_err();
            assert!(
                matches!(e, BootTestError::RootHttpUrl { .. }),
                "{url} {path}: {e}"
            );
        }
    }

    #[test]
    fn root_images_from_two_servers_are_refused() {
        let img = |name: &str, port: u16| manifest::ImageSummary {
            name: name.into(),
            root_image: Some(manifest::RootImageSummary {
                bytes: 1,
                path: Some(format!("i/{name}/root.squashfs")),
                url: Some(format!("http://{{server}}:{port}/i/{name}/root.squashfs")),
            }),
            ..manifest::ImageSummary::default()
        };
        let s = |images| Summary {
            images,
            ..Summary::default()
        };
        assert_eq!(
            fetched_images(&s(vec![img("a", 80), img("b", 80)]))
                .unwrap()
                .len(),
            2
        );
        assert!(matches!(
            fetched_images(&s(vec![img("a", 80), img("b", 81)])),
            Err(BootTestError::RootHttpServers { .. })
        ));
    }

    #[test]
    fn the_server_binds_loopback_for_the_user_network_and_refuses_a_tap() {
        let user = Network::User {
            tftp: "/t".into(),
            bootfile: "/b".into(),
        };
        assert_eq!(
            http_bind(&user, 8080).unwrap(),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        let e = http_bind(
            &Network::Tap {
                ifname: "tap0".into(),
            },
            8080,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("not supported with --network tap (`tap0`)"),
            "{e}"
        );
    }

    #[test]
    fn a_boots_summary_says_what_http_sent() {
        let served = |requests, bytes, boots| RootHttpServed {
            image: "c".into(),
            url: "http://{server}:8080/i/c/root.squashfs".into(),
            addr: "127.0.0.1:8080".parse().unwrap(),
            url_path: "/i/c/root.squashfs".into(),
            size: 300,
            hits: http::Hits {
                requests,
                bytes,
                complete: bytes / 300,
            },
            boots,
        };
        let run = |root_http| Run {
            firmware: Firmware::Bios,
            accel: "tcg",
            memory_mb: 1024,
            log: "/w/bios.serial.log".into(),
            expects: Vec::new(),
            outcome: Outcome {
                failure: None,
                phases: Vec::new(),
                total: Duration::from_secs(3),
                cpu: None,
                console: String::new(),
            },
            root_http,
        };
        let passed = run(Vec::new()).summary();
        assert!(
            passed.ends_with("(serial log: /w/bios.serial.log)"),
            "{passed}"
        );
        assert_eq!(
            run(vec![served(1, 300, 1)]).summary(),
            format!("{passed}; HTTP sent 300 of 300 bytes of the root image (1 request)")
        );
        assert_eq!(
            run(vec![served(0, 0, 1)]).summary(),
            format!(
                "{passed}; no request for the root image reached the HTTP server on 127.0.0.1:8080"
            )
        );
        assert_eq!(
            run(vec![served(3, 450, 2)]).summary(),
            format!(
                "{passed}; HTTP sent 450 bytes of the root image (300 bytes each) in 3 requests to the 2 boots"
            )
        );
        let j = run(vec![served(1, 300, 1)]).to_json();
        assert_eq!(j["root_http"][0]["bytes_sent"], 300);
        assert!(run(Vec::new()).to_json().get("root_http").is_none());
    }
}
