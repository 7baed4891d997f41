//! Real boot services for the boot tests: a private network namespace with a tap device,
//! and ISC dhcpd, xinetd (spawning in.tftpd) or dnsmasq started inside it on the configs
//! `diskless build` generated. QEMU joins the namespace and boots over the tap.
//!
//! Needs root (a network namespace and a tap device). Everything started here runs in the
//! namespace and is killed, by pid, when the [`Netns`] is dropped.

use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tap device QEMU attaches to, and the server side of the link.
pub const TAP: &str = "tap0";

/// A network namespace held open by a `sleep` process, with `lo` up and a tap device
/// carrying `server_ip/prefix`.
pub struct Netns {
    holder: Child,
    inode: String,
    daemons: Vec<(String, Child)>,
    logs: Vec<(String, PathBuf)>,
}

fn ns_link(pid: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

impl Netns {
    pub fn new(server_ip: &str, prefix: u8) -> Result<Netns> {
        let holder = Command::new("unshare")
            .args(["--net", "--", "sleep", "3600"])
            .stdin(Stdio::null())
            .spawn()
            .context("running `unshare --net` (needs root)")?;
        let pid = holder.id().to_string();
        let ours = ns_link("self").context("reading /proc/self/ns/net")?;
        let start = Instant::now();
        let inode = loop {
            match ns_link(&pid) {
                Some(l) if l != ours => break l,
                _ if start.elapsed() > Duration::from_secs(10) => {
                    bail!("`unshare --net` did not enter a new network namespace")
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let ns = Netns {
            holder,
            inode,
            daemons: Vec::new(),
            logs: Vec::new(),
        };
        ns.run(&["ip", "link", "set", "lo", "up"])?;
        ns.run(&["ip", "tuntap", "add", "dev", TAP, "mode", "tap"])?;
        ns.run(&[
            "ip",
            "addr",
            "add",
            &format!("{server_ip}/{prefix}"),
            "dev",
            TAP,
        ])?;
        ns.run(&["ip", "link", "set", TAP, "up"])?;
        Ok(ns)
    }

    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid().to_string(), "-n", "--"])
            .args(args);
        c
    }

    /// Run a command inside the namespace to completion.
    pub fn run(&self, args: &[&str]) -> Result<()> {
        let out = self
            .command(args)
            .output()
            .with_context(|| format!("running {args:?} in the namespace"))?;
        ensure!(
            out.status.success(),
            "{args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Start a daemon inside the namespace, its stdout and stderr going to `log`. It must
    /// still be running after a moment (a config it rejects makes it exit at once).
    pub fn daemon(&mut self, name: &str, args: &[&str], log: &Path) -> Result<()> {
        let f =
            std::fs::File::create(log).with_context(|| format!("creating `{}`", log.display()))?;
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.daemons.push((name.to_owned(), child));
        self.logs.push((name.to_owned(), log.to_owned()));
        std::thread::sleep(Duration::from_millis(500));
        let (_, child) = self.daemons.last_mut().context("just pushed")?;
        if let Some(status) = child.try_wait()? {
            bail!(
                "{name} exited at start ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// The daemons' logs, for failure messages and for checking what they served.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for (name, path) in &self.logs {
            s.push_str(&format!("--- {name} log ({}) ---\n", path.display()));
            s.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        }
        s
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for (_, c) in &mut self.daemons {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // Processes the daemons spawned (in.tftpd under xinetd lingers for its -t timeout)
        // are still in the namespace: end exactly those.
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                if pid.chars().all(|c| c.is_ascii_digit())
                    && ns_link(&pid) == Some(self.inode.clone())
                {
                    let _ = Command::new("kill").args(["-KILL", &pid]).status();
                }
            }
        }
    }
}

/// ISC dhcpd in the foreground on `conf`, answering on the tap.
pub fn start_dhcpd(ns: &mut Netns, conf: &Path, work: &Path) -> Result<()> {
    let leases = work.join("dhcpd.leases");
    fs_err::write(&leases, "")?;
    let (c, l, p) = (
        conf.display().to_string(),
        leases.display().to_string(),
        work.join("dhcpd.pid").display().to_string(),
    );
    ns.daemon(
        "dhcpd",
        &[
            "dhcpd", "-f", "-d", "-4", "-cf", &c, "-lf", &l, "-pf", &p, TAP,
        ],
        &work.join("dhcpd.log"),
    )
}

/// xinetd in the foreground with a main config that only includes `service_dir` (the
/// generated `config/xinetd.d`), so the generated service file is used as it is.
pub fn start_xinetd(ns: &mut Netns, service_dir: &Path, work: &Path) -> Result<()> {
    let main = work.join("xinetd.conf");
    fs_err::write(
        &main,
        format!("defaults\n{{\n}}\nincludedir {}\n", service_dir.display()),
    )?;
    let (m, l, p) = (
        main.display().to_string(),
        work.join("xinetd.filelog").display().to_string(),
        work.join("xinetd.pid").display().to_string(),
    );
    ns.daemon(
        "xinetd",
        &[
            "xinetd",
            "-dontfork",
            "-filelog",
            &l,
            "-pidfile",
            &p,
            "-f",
            &m,
        ],
        &work.join("xinetd.log"),
    )
}

/// dnsmasq in the foreground on `conf`; the flags only keep it in the foreground and put
/// its pid and log file in the work folder.
pub fn start_dnsmasq(ns: &mut Netns, conf: &Path, work: &Path) -> Result<()> {
    let (c, p, l) = (
        conf.display().to_string(),
        work.join("dnsmasq.pid").display().to_string(),
        work.join("dnsmasq.events").display().to_string(),
    );
    ns.daemon(
        "dnsmasq",
        &[
            "dnsmasq",
            "--keep-in-foreground",
            &format!("--conf-file={c}"),
            &format!("--pid-file={p}"),
            &format!("--log-facility={l}"),
            "--log-dhcp",
        ],
        &work.join("dnsmasq.log"),
    )
}
