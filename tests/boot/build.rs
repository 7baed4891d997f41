//! Run `diskless lock` and `diskless build` on the boot profile (tests/boot/fixture/boot.toml)
//! as an unprivileged user: as root the tests switch to uid/gid 65534 with `setpriv`, with a
//! temporary HOME, cache and output folder that user owns; as any other user they run as
//! that user.

use anyhow::{Context, Result, ensure};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The unprivileged user (and group) the build runs as when the tests run as root.
pub const BUILD_UID: u32 = 65534;

/// How to vary the boot profile.
#[derive(Debug, Clone)]
pub struct Options {
    pub compression: &'static str,
    /// `false` drops the `/init -> sbin/init` symlink: a broken image.
    pub init_symlink: bool,
    /// Written to /etc/boot-fixture/marker by the profile; the init prints it.
    pub marker: String,
    /// `[image] root`: `initramfs` or `squashfs`.
    pub root: &'static str,
    /// A squashfs root fetched by the initrd from `http://{server}:<port>` (boot-test serves
    /// it there on 127.0.0.1); else it travels in `rootfs.img`, in 1 MiB parts.
    pub root_http_port: Option<u16>,
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    /// The output folder (`--out`).
    pub out: PathBuf,
    /// The tftp root inside it.
    pub tftp: PathBuf,
    /// The generated boot-service configs.
    pub config: PathBuf,
    /// Wall time of lock + build.
    pub elapsed: Duration,
}

impl Built {
    /// The build's manifest.json.
    pub fn manifest(&self) -> serde_json::Value {
        serde_json::from_slice(&fs_err::read(self.out.join("manifest.json")).unwrap()).unwrap()
    }
}

/// The profile template with its placeholders filled in.
pub fn render_profile(base_url: &str, tftp_root: &Path, o: &Options) -> String {
    let template = include_str!("fixture/boot.toml");
    template
        .replace("@COMPRESSION@", o.compression)
        .replace(
            "@INIT_SYMLINK@",
            if o.init_symlink { "true" } else { "false" },
        )
        .replace("@ROOT@", o.root)
        .replace(
            "@ROOT_DELIVERY@",
            &match o.root_http_port {
                // The tftp tree over HTTP from the boot server: boot-test serves it there.
                Some(port) => format!("root_http = \"http://{{server}}:{port}\""),
                // A squashfs root travels in 1 MiB parts: the initrd joins them.
                None => "root_chunk_mib = 1".to_string(),
            },
        )
        .replace("@BASEURL@", base_url)
        .replace("@MARKER@", &o.marker)
        .replace("@TFTP_ROOT@", &tftp_root.display().to_string())
}

fn chown_to_builder(path: &Path) -> Result<()> {
    if crate::is_root() {
        std::os::unix::fs::chown(path, Some(BUILD_UID), Some(BUILD_UID))
            .with_context(|| format!("chown `{}`", path.display()))?;
    }
    Ok(())
}

/// A copy of the diskless binary the builder can run: it may not be able to reach target/
/// (a clone under /root). Made once, by [`crate::env`] while no other test runs: a copy
/// written while another thread forks QEMU or a build can fail to exec with ETXTBSY (the
/// child inherits the open file until its own exec).
pub fn install_binary(work: &Path) -> Result<PathBuf> {
    let bin = work.join("diskless");
    fs_err::copy(env!("CARGO_BIN_EXE_diskless"), &bin)?;
    fs_err::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    Ok(bin)
}

/// Run diskless (`bin`) as the unprivileged builder with a clean environment.
fn diskless(bin: &Path, dir: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = if crate::is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={BUILD_UID}"),
            &format!("--regid={BUILD_UID}"),
            "--clear-groups",
            "--",
        ])
        .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir.join("home"))
        .env("DISKLESS_CACHE_DIR", dir.join("cache"))
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("LANG", "C.UTF-8");
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let text = format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success(),
        "`diskless {}` failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    Ok(text)
}

/// Lock and build the boot profile into `<dir>/out`, unprivileged.
pub fn build(bin: &Path, dir: &Path, base_url: &str, o: &Options) -> Result<Built> {
    fs_err::create_dir_all(dir)?;
    // Readable by the builder, and by dnsmasq's and in.tftpd's unprivileged users later.
    fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    chown_to_builder(dir)?;
    for sub in ["home", "cache"] {
        let p = dir.join(sub);
        fs_err::create_dir_all(&p)?;
        chown_to_builder(&p)?;
    }
    let out = dir.join("out");
    let tftp = out.join("tftpboot");
    let profile = dir.join("boot.toml");
    fs_err::write(&profile, render_profile(base_url, &tftp, o))?;
    chown_to_builder(&profile)?;

    let start = Instant::now();
    let p = profile.display().to_string();
    diskless(bin, dir, &["lock", &p])?;
    diskless(
        bin,
        dir,
        &["build", &p, "--out", &out.display().to_string()],
    )?;
    let elapsed = start.elapsed();
    ensure!(tftp.is_dir(), "the build wrote no `{}`", tftp.display());
    Ok(Built {
        config: out.join("config"),
        out: out.clone(),
        tftp,
        elapsed,
    })
}
