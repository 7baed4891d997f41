//! The scriptlet report: every scriptlet and trigger of every installed package, none of
//! them run, each with a verdict and the reason:
//! - **handled**: its effect is produced declaratively (accounts by [`super::users`],
//!   systemd presets by [`super::presets`], `ldconfig` by [`super::ldconfig`], `depmod` by
//!   [`super::depmod`], the rpm database by [`super::rpmdb`], which adds its own line:
//!   handled, or NOT HANDLED when the image's rpm needs a format diskless does not write);
//! - **harmless**: skipping it changes nothing that matters for a fresh diskless image
//!   (erase-only scriptlets, caches rebuilt at boot, bookkeeping for running services);
//! - **NOT HANDLED**: something the image may miss, with the command that would have done it.
//!
//! Shell scriptlets are split into simple commands ([`super::shell`]) and each command is
//! judged; the worst judgement is the scriptlet's verdict. Lua scriptlets are read for
//! their effects ([`super::lua`]: links, folders, files written, programs run), each judged
//! against the package's own files, so the report names what the image lacks.
//!
//! After the scriptlets, the report lists what assembly declared for the image as a whole
//! ([`Declared`]): the presets applied, `/etc/ld.so.cache`, the file capabilities (rpm sets
//! them itself, not a scriptlet), each with its counts.

use super::header::{PkgHeader, Script};
use super::shell;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Verdict {
    #[serde(rename = "harmless")]
    Harmless,
    #[serde(rename = "handled")]
    Handled,
    #[serde(rename = "NOT HANDLED")]
    NotHandled,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Harmless => "harmless to skip",
            Verdict::Handled => "handled declaratively",
            Verdict::NotHandled => "NOT HANDLED",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub package: String,
    pub scriptlet: String,
    pub interpreter: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_on: Option<String>,
    pub verdict: Verdict,
    pub reason: String,
}

/// Something assembly produced for the whole image in place of what rpm or the
/// scriptlets would have done, with its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declared {
    pub what: String,
    pub verdict: Verdict,
    pub detail: String,
}

/// Which scriptlet effects assembly produced for this image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handled {
    /// `/etc/ld.so.cache` and the soname links ([`super::ldconfig`]).
    pub ldconfig: bool,
    /// System presets ([`super::presets::SYSTEM`]).
    pub presets: bool,
    /// User presets ([`super::presets::GLOBAL`]).
    pub user_presets: bool,
}

/// The whole report, in install order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub entries: Vec<Entry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub declared: Vec<Declared>,
}

impl Report {
    pub fn count(&self, v: Verdict) -> usize {
        self.entries.iter().filter(|e| e.verdict == v).count()
    }

    /// The CLI's one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "{} scriptlets not run: {} handled declaratively, {} harmless to skip, {} NOT HANDLED",
            self.entries.len(),
            self.count(Verdict::Handled),
            self.count(Verdict::Harmless),
            self.count(Verdict::NotHandled)
        )
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for e in &self.entries {
            let on = e
                .trigger_on
                .as_deref()
                .map(|t| format!(" (on {t})"))
                .unwrap_or_default();
            s.push_str(&format!(
                "{}\t{}{}\t{}\t{}\n",
                e.package,
                e.scriptlet,
                on,
                e.verdict.as_str(),
                e.reason
            ));
        }
        for d in &self.declared {
            s.push_str(&format!(
                "(image)\t{}\t{}\t{}\n",
                d.what,
                d.verdict.as_str(),
                d.detail
            ));
        }
        s
    }
}

/// Judge one command.
fn judge(c: &shell::Command, ships_ld_conf: bool, done: &Handled) -> (Verdict, String) {
    use Verdict::*;
    let name = c.name();
    let arg = |s: &str| c.words.iter().any(|w| w == s);
    let h = |r: &str| (Harmless, r.to_string());
    if c.words
        .iter()
        .any(|w| w.contains(".rpmsave") || w.contains(".rpmnew") || w.contains(".rpmorig"))
    {
        return h("migrates files left by an earlier install; a fresh image has none");
    }
    match name {
        ":" | "true" | "false" | "exit" | "test" | "[" | "[[" | "]" | "echo" | "printf" | "getent" | "return"
        | "set" | "export" | "local" | "unset" | "shift" | "break" | "continue" | "command" | "type" | "id"
        | "grep" | "rpm" => (Harmless, String::new()),
        "useradd" | "groupadd" | "adduser" | "addgroup" | "gpasswd" | "usermod" if !c.unresolved => {
            (Handled, "accounts written to /etc/passwd, /etc/group, /etc/shadow, /etc/gshadow".into())
        }
        "systemd-sysusers" => (Handled, "sysusers.d files applied to the account files".into()),
        "systemctl" if (arg("preset") || arg("preset-all")) && arg("--global") && done.user_presets => {
            (Handled, PRESETS_USER.into())
        }
        "systemctl" if (arg("preset") || arg("preset-all")) && !arg("--global") && done.presets => {
            (Handled, PRESETS.into())
        }
        "systemctl" if arg("preset") || arg("preset-all") => {
            (Handled, "systemd presets apply at first boot (/etc/machine-id is empty)".into())
        }
        "systemctl" if arg("enable") || arg("disable") || arg("mask") || arg("unmask") => (
            NotHandled,
            format!("`{}`: declare the unit in the profile's services instead", c.text),
        ),
        "systemctl" => h("acts on a running systemd; none runs at build time"),
        "systemd-update-helper" if arg("install-system-units") && done.presets => {
            (Handled, PRESETS.into())
        }
        "systemd-update-helper" if arg("install-user-units") && done.user_presets => {
            (Handled, PRESETS_USER.into())
        }
        "systemd-update-helper" if arg("install-system-units") || arg("install-user-units") => {
            (Handled, "systemd presets apply at first boot (/etc/machine-id is empty)".into())
        }
        "systemd-update-helper" => h("bookkeeping for restarting services on upgrade"),
        "systemd-tmpfiles" => h("systemd-tmpfiles-setup.service creates these at every boot"),
        "systemd-hwdb" | "udevadm" | "journalctl" | "systemd-machine-id-setup" => {
            h("regenerated by systemd at boot")
        }
        "ldconfig" if done.ldconfig => (
            Handled,
            "/etc/ld.so.cache and the soname links written as ldconfig writes them".into(),
        ),
        "ldconfig" if ships_ld_conf => (
            NotHandled,
            "ld.so.cache not built, and the package adds /etc/ld.so.conf.d directories the linker only finds through it".into(),
        ),
        "ldconfig" => h("the dynamic linker searches the default library directories without ld.so.cache"),
        "install-info" | "gtk-update-icon-cache" | "update-desktop-database" | "update-mime-database"
        | "fc-cache" | "glib-compile-schemas" | "mandb" | "texhash" | "mktexlsr" | "gio-querymodules"
        | "gdk-pixbuf-query-loaders" | "gtk-query-immodules-3.0" | "update-gio-modules" => {
            h("rebuilds an index or cache for desktop or documentation tools")
        }
        "semodule" | "restorecon" | "setsebool" | "fixfiles" | "selinuxenabled" | "load_policy" | "chcon"
        | "matchpathcon" => h("SELinux labels are not applied to an initramfs image"),
        "dracut" | "grub2-mkconfig" | "grubby" | "new-kernel-pkg" | "grub2-set-default" | "efibootmgr" => {
            h("diskless builds its own kernel, initramfs and boot loader files")
        }
        "depmod" => (
            Handled,
            "kernel module indexes (modules.dep, modules.alias, *.bin) generated from the modules in the image".into(),
        ),
        // EL's weak-modules links compatible kmods built for other kernels into weak-updates/
        // and runs depmod. Run by the kernel (`--add-kernel`) in a fresh image its useful
        // effect is the indexes; run by a kmod package for another kernel, the links matter.
        "weak-modules" if arg("--add-kernel") => (
            Handled,
            "kernel module indexes generated; kmods built for another kernel are not linked into weak-updates/".into(),
        ),
        "weak-modules" => (
            NotHandled,
            format!("`{}`: weak-updates links for kmods are not created", c.text),
        ),
        // kernel-install's plugins run depmod (done declaratively) and write boot loader
        // entries and an initramfs (diskless makes its own).
        "kernel-install" if arg("add") || arg("remove") => (
            Handled,
            "kernel module indexes generated; diskless builds its own initramfs and boot loader files".into(),
        ),
        "kernel-install" => (NotHandled, format!("`{}` is not understood", c.text)),
        // The rpm package's own bookkeeping: `rpmdb --initdb` (EL7's rpm-libs) creates a
        // database rpm already has once it installs, and the markers (EL9's
        // `touch /var/lib/rpm/.rebuilddb` when a Berkeley DB `Packages` exists) start
        // rebuild or migration services. The report's `rpm database` line says what
        // diskless wrote instead.
        "rpmdb" => h("rpm creates its database as it installs (see the report's `rpm database` line)"),
        "touch" if c.words.iter().skip(1).any(|w| {
            w.starts_with("/var/lib/rpm/") || w.starts_with("/usr/lib/sysimage/rpm/")
        }) => h("marks rpm's database for a rebuild or migration service; the image's database is written fresh (see the report's `rpm database` line)"),
        "alternatives" | "update-alternatives" => (
            NotHandled,
            format!("`{}`: the alternatives symlinks are not created", c.text),
        ),
        "iconvconfig" => h("gconv-modules.cache not built; glibc reads the gconv-modules files without it"),
        "newaliases" => (
            NotHandled,
            "/etc/aliases.db is not built (the MTA reads mail aliases from it)".into(),
        ),
        _ => (NotHandled, format!("`{}` is not understood", c.text)),
    }
}

/// What the image holds, as far as classifying needs: package names, and every path any
/// package installs (for Lua scriptlets that exec a program only when it is there).
struct Installed<'a> {
    names: Vec<&'a str>,
    paths: std::collections::BTreeSet<&'a str>,
    /// Symlinks among `paths` and their targets (`/sbin` -> `usr/sbin` on EL9).
    links: std::collections::BTreeMap<&'a str, &'a str>,
}

impl Installed<'_> {
    /// Whether some package installs `path`, following symlinked folders (`/sbin/ldconfig`
    /// is `/usr/sbin/ldconfig` once `/sbin` links to `usr/sbin`).
    fn has(&self, path: &str) -> bool {
        let mut p = path.to_string();
        for _ in 0..8 {
            if self.paths.contains(p.as_str()) {
                return true;
            }
            let Some((dir, rest)) = self
                .links
                .iter()
                .filter_map(|(l, t)| {
                    p.strip_prefix(l)
                        .filter(|r| r.starts_with('/'))
                        .map(|r| ((*l, *t), r))
                })
                .next()
                .map(|((l, t), r)| ((l, t), r.to_string()))
            else {
                return false;
            };
            let (link, target) = dir;
            p = if target.starts_with('/') {
                format!("{target}{rest}")
            } else {
                let parent = link.rsplit_once('/').map_or("", |(d, _)| d);
                format!("{parent}/{target}{rest}")
            };
        }
        false
    }
}

const PRESETS: &str =
    "systemd presets applied to the unit files (symlinks under /etc/systemd/system)";
const PRESETS_USER: &str =
    "systemd user presets applied to the user unit files (symlinks under /etc/systemd/user)";

fn classify(
    pkg: &PkgHeader,
    s: &Script,
    image: &Installed<'_>,
    done: &Handled,
) -> (Verdict, String) {
    let installed = image.names.as_slice();
    use Verdict::*;
    if s.kind.erase_only() {
        return (
            Harmless,
            "runs only when a package is erased or upgraded".into(),
        );
    }
    if let Some(cond) = &s.condition {
        if matches!(
            s.kind,
            super::header::ScriptKind::Triggerin | super::header::ScriptKind::Triggerprein
        ) && !cond.split(", ").any(|t| installed.contains(&t))
        {
            return (Harmless, "no package in the image fires it".into());
        }
    }
    let interp = s.prog.first().map(String::as_str).unwrap_or("/bin/sh");
    if interp == "<lua>" {
        if s.body.trim().is_empty() {
            return (Harmless, "empty".into());
        }
        return classify_lua(pkg, &s.body, image, done);
    }
    let ships_ld_conf = pkg
        .files
        .iter()
        .any(|f| f.path.starts_with("/etc/ld.so.conf.d/"));
    let mut cmds = Vec::new();
    let base = interp.rsplit('/').next().unwrap_or(interp);
    if !matches!(base, "sh" | "bash") {
        // `%post -p /sbin/ldconfig`: the interpreter is the command.
        let mut words: Vec<String> = s.prog.clone();
        words.truncate(8);
        cmds.push(shell::Command {
            text: words.join(" "),
            words,
            unresolved: false,
        });
        if !s.body.trim().is_empty() {
            return (NotHandled, format!("`{interp}` script not interpreted"));
        }
    } else {
        cmds = shell::commands(&s.body);
    }
    let mut verdict = Harmless;
    let mut reasons: Vec<String> = Vec::new();
    for c in &cmds {
        let (v, r) = judge(c, ships_ld_conf, done);
        if v > verdict {
            verdict = v;
            reasons.clear();
        }
        if v == verdict && !r.is_empty() && !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    if reasons.is_empty() {
        reasons.push("does nothing on a fresh install".into());
    }
    (verdict, reasons.join("; "))
}

/// A Lua scriptlet, by what it would do: each effect judged, the worst wins, and the
/// reason lists the effects of that verdict ("Lua, not run: writes %ghost `…`; …").
fn classify_lua(
    pkg: &PkgHeader,
    body: &str,
    image: &Installed<'_>,
    done: &Handled,
) -> (Verdict, String) {
    use Verdict::*;
    let installed = image.names.as_slice();
    let file = |p: &str| pkg.files.iter().find(|f| f.path == p);
    let effects = super::lua::effects(body);
    let mut judged: Vec<(Verdict, String)> = Vec::new();
    let mut ships = Vec::new();
    for e in &effects {
        use super::lua::{Arg, Effect};
        let j = match e {
            Effect::Mkdir(Arg::Lit(p)) if file(p).is_some_and(|f| f.is_dir()) => {
                ships.push(p.clone());
                continue;
            }
            Effect::Mkdir(p) => (NotHandled, format!("creates the folder {p}")),
            Effect::Symlink { path: Arg::Lit(p), target } => match file(p) {
                Some(f) if f.file_type() == 0o120000 && !f.is_ghost() => {
                    ships.push(p.clone());
                    continue;
                }
                Some(f) if f.is_ghost() => (
                    NotHandled,
                    format!("creates the %ghost symlink `{p}` -> {target}"),
                ),
                _ => (NotHandled, format!("creates the symlink `{p}` -> {target}")),
            },
            Effect::Symlink { path, target } => {
                // A loop over computed names: the package's %ghost links are what it makes.
                let ghosts: Vec<String> = pkg
                    .files
                    .iter()
                    .filter(|f| f.is_ghost() && f.file_type() == 0o120000)
                    .map(|f| format!("`{}` -> `{}`", f.path, f.linkto))
                    .collect();
                if ghosts.is_empty() {
                    (NotHandled, format!("creates symlinks at {path} -> {target}"))
                } else {
                    let more = match ghosts.len() {
                        n if n > 2 => format!(" and {} more", n - 2),
                        _ => String::new(),
                    };
                    (
                        NotHandled,
                        format!(
                            "creates the package's {} %ghost symlinks ({}{more})",
                            ghosts.len(),
                            ghosts[..ghosts.len().min(2)].join(", ")
                        ),
                    )
                }
            }
            Effect::Remove(Arg::Lit(p))
                if [".rpmnew", ".rpmsave", ".rpmorig"]
                    .iter()
                    .any(|x| p.ends_with(x)) =>
            {
                (
                    Harmless,
                    "removes files left by an earlier install; a fresh image has none".into(),
                )
            }
            Effect::Remove(Arg::Lit(p)) if file(p).is_some_and(|f| !f.is_ghost()) => (
                NotHandled,
                format!("removes `{p}`, which the package's payload installs"),
            ),
            // Removing what a fresh image does not have yet (before re-creating it).
            Effect::Remove(_) => continue,
            Effect::Write {
                path: Arg::Lit(p),
                append: true,
            } if p == "/etc/shells" && installed.contains(&"setup") => (
                Harmless,
                "adds shells to /etc/shells; setup's /etc/shells lists /bin/sh and /bin/bash already"
                    .into(),
            ),
            Effect::Write { path, append } => {
                let verb = if *append { "appends to" } else { "writes" };
                let ghost = if path.lit().and_then(file).is_some_and(|f| f.is_ghost()) {
                    "%ghost "
                } else {
                    ""
                };
                (NotHandled, format!("{verb} {ghost}{path}"))
            }
            Effect::Exec(args)
                if args
                    .first()
                    .and_then(Arg::lit)
                    .is_some_and(|p| p.starts_with('/') && !image.has(p)) =>
            {
                (
                    Harmless,
                    format!(
                        "runs {} only where it exists; no package of the image installs it",
                        args[0]
                    ),
                )
            }
            Effect::Exec(args) => {
                let words: Vec<String> = args
                    .iter()
                    .map(|a| match a {
                        Arg::Lit(s) | Arg::Expr(s) => s.clone(),
                    })
                    .collect();
                let c = shell::Command {
                    text: words.join(" "),
                    unresolved: args.iter().any(|a| a.lit().is_none()),
                    words,
                };
                let ships_ld_conf = pkg
                    .files
                    .iter()
                    .any(|f| f.path.starts_with("/etc/ld.so.conf.d/"));
                let (v, r) = judge(&c, ships_ld_conf, done);
                (v, format!("runs `{}`: {}", c.text, if r.is_empty() { "harmless" } else { &r }))
            }
            Effect::Shell(Arg::Lit(cmd)) => {
                let mut worst = (Harmless, String::new());
                for c in shell::commands(cmd) {
                    let (v, r) = judge(&c, false, done);
                    if v >= worst.0 {
                        worst = (v, format!("runs `{}`: {r}", c.text));
                    }
                }
                worst
            }
            Effect::Shell(cmd) => (NotHandled, format!("runs the shell command {cmd}")),
            Effect::Uname => (
                Harmless,
                "looks at the running kernel (the build host's, not the image's)".into(),
            ),
            Effect::Other { call, args } => (
                NotHandled,
                format!(
                    "calls `{call}({})`",
                    args.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
                ),
            ),
        };
        judged.push(j);
    }
    let worst = judged.iter().map(|(v, _)| *v).max();
    match worst {
        Some(v) if v > Harmless || ships.is_empty() => {
            let mut reasons: Vec<&str> = Vec::new();
            for (jv, r) in &judged {
                if *jv == v && !reasons.contains(&r.as_str()) {
                    reasons.push(r);
                }
            }
            (v, format!("Lua, not run: {}", reasons.join("; ")))
        }
        _ if !ships.is_empty() => (
            Handled,
            format!(
                "Lua, not run: the folders and symlinks it makes are in the package's payload ({})",
                ships
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        _ => (
            Harmless,
            "Lua, not run: it changes no file (it only reads or prints)".into(),
        ),
    }
}

/// The report for `pkgs` (in install order), knowing what assembly produced (`done`) and
/// the image-wide lines (`declared`).
pub fn report(pkgs: &[&PkgHeader], done: &Handled, declared: Vec<Declared>) -> Report {
    let any_lua = pkgs
        .iter()
        .flat_map(|p| &p.scripts)
        .any(|s| s.prog.first().is_some_and(|i| i == "<lua>"));
    let installed = Installed {
        names: pkgs.iter().map(|p| p.name.as_str()).collect(),
        paths: if any_lua {
            pkgs.iter()
                .flat_map(|p| p.files.iter().filter(|f| !f.is_ghost()))
                .map(|f| f.path.as_str())
                .collect()
        } else {
            Default::default()
        },
        links: if any_lua {
            pkgs.iter()
                .flat_map(|p| p.files.iter())
                .filter(|f| !f.is_ghost() && f.file_type() == 0o120000)
                .map(|f| (f.path.as_str(), f.linkto.as_str()))
                .collect()
        } else {
            Default::default()
        },
    };
    let mut entries = Vec::new();
    for p in pkgs {
        for s in &p.scripts {
            let (verdict, reason) = classify(p, s, &installed, done);
            entries.push(Entry {
                package: p.nevra(),
                scriptlet: s.kind.as_str().to_string(),
                interpreter: if s.prog.is_empty() {
                    "/bin/sh".into()
                } else {
                    s.prog.join(" ")
                },
                trigger_on: s.condition.clone(),
                verdict,
                reason,
            });
        }
    }
    Report { entries, declared }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::header::ScriptKind;

    fn pkg(scripts: Vec<Script>) -> PkgHeader {
        PkgHeader {
            name: "p".into(),
            epoch: None,
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            provides: vec![],
            requires: vec![],
            files: vec![],
            scripts,
            digest_algo: 8,
            payload_compressor: "gzip".into(),
            buildtime: 0,
            info: Default::default(),
        }
    }
    fn sh(kind: ScriptKind, body: &str) -> Script {
        Script {
            kind,
            prog: vec!["/bin/sh".into()],
            body: body.into(),
            condition: None,
        }
    }

    #[test]
    fn verdicts() {
        let p = pkg(vec![
            sh(
                ScriptKind::Pre,
                "getent group x >/dev/null || groupadd -r x\nexit 0\n",
            ),
            sh(
                ScriptKind::Post,
                "if [ $1 -eq 1 ]; then systemctl --no-reload preset foo.service >/dev/null 2>&1 || : ; fi",
            ),
            sh(ScriptKind::Postun, "rm -rf /"),
            sh(
                ScriptKind::Post,
                "/usr/sbin/alternatives --install /usr/bin/ld ld /usr/bin/ld.bfd 50",
            ),
            Script {
                kind: ScriptKind::Post,
                prog: vec!["/sbin/ldconfig".into()],
                body: String::new(),
                condition: None,
            },
            Script {
                kind: ScriptKind::Pretrans,
                prog: vec!["<lua>".into()],
                body: "posix.mkdir('/x')".into(),
                condition: None,
            },
            Script {
                kind: ScriptKind::Triggerin,
                prog: vec!["/bin/sh".into()],
                body: "chmod 000 /x".into(),
                condition: Some("notthere".into()),
            },
        ]);
        let r = report(&[&p], &Handled::default(), Vec::new());
        let v: Vec<Verdict> = r.entries.iter().map(|e| e.verdict).collect();
        assert_eq!(
            v,
            vec![
                Verdict::Handled,
                Verdict::Handled,
                Verdict::Harmless,
                Verdict::NotHandled,
                Verdict::Harmless,
                Verdict::NotHandled,
                Verdict::Harmless
            ]
        );
        assert!(
            r.entries[3].reason.contains("alternatives"),
            "{}",
            r.entries[3].reason
        );
        assert_eq!(r.count(Verdict::NotHandled), 2);
        assert!(r.summary().ends_with("2 NOT HANDLED"));
    }

    /// The rpm package's scriptlets (EL9's `%posttrans`, EL7's rpm-libs `%post`) only keep
    /// books on the database diskless writes itself.
    #[test]
    fn rpm_database_bookkeeping_is_harmless() {
        let p = pkg(vec![
            sh(
                ScriptKind::Posttrans,
                "if [ -f /var/lib/rpm/Packages ]; then\n    touch /var/lib/rpm/.rebuilddb\nfi\n",
            ),
            sh(
                ScriptKind::Post,
                "/sbin/ldconfig\ntest -f var/lib/rpm/Packages || rpmdb --initdb\n",
            ),
            sh(ScriptKind::Post, "touch /etc/other"),
        ]);
        let handled = Handled {
            ldconfig: true,
            ..Handled::default()
        };
        let r = report(&[&p], &handled, Vec::new());
        let v: Vec<Verdict> = r.entries.iter().map(|e| e.verdict).collect();
        // The %post is handled as a whole: its ldconfig by rootfs::ldconfig, its
        // `rpmdb --initdb` harmless.
        assert_eq!(
            v,
            vec![Verdict::Harmless, Verdict::Handled, Verdict::NotHandled]
        );
    }

    /// EL9 kernel scriptlets: depmod's effect is produced by `rootfs::depmod`.
    #[test]
    fn kernel_scriptlets_are_handled() {
        let p = pkg(vec![
            sh(
                ScriptKind::Post,
                "/sbin/depmod -a 5.14.0-70.el9.x86_64 || :",
            ),
            sh(
                ScriptKind::Posttrans,
                "if [ -x /sbin/weak-modules ]; then /sbin/weak-modules --add-kernel 5.14.0-70.el9.x86_64 || exit $?; fi\n/bin/kernel-install add 5.14.0-70.el9.x86_64 /lib/modules/5.14.0-70.el9.x86_64/vmlinuz || exit $?",
            ),
            sh(
                ScriptKind::Post,
                "/sbin/weak-modules --add-modules --no-initramfs < /tmp/list",
            ),
        ]);
        let v: Vec<Verdict> = report(&[&p], &Handled::default(), Vec::new())
            .entries
            .iter()
            .map(|e| e.verdict)
            .collect();
        assert_eq!(
            v,
            vec![Verdict::Handled, Verdict::Handled, Verdict::NotHandled]
        );
    }
}

#[cfg(test)]
mod lua_tests {
    //! The Lua scriptlets EL9's base packages carry, as their spec files write them
    //! (shortened where they repeat), judged by what they would do.
    use super::*;
    use crate::rootfs::header::{FileMeta, ScriptKind};

    fn file(path: &str, mode: u16, linkto: &str, ghost: bool) -> FileMeta {
        FileMeta {
            path: path.into(),
            mode,
            user: "root".into(),
            group: "root".into(),
            flags: if ghost {
                crate::rootfs::header::fflags::GHOST
            } else {
                0
            },
            size: 0,
            mtime: 0,
            linkto: linkto.into(),
            lang: String::new(),
            caps: String::new(),
            inode: 0,
            device: 0,
            rdev: 0,
            color: 0,
            digest: String::new(),
        }
    }

    fn pkg(name: &str, files: Vec<FileMeta>, kind: ScriptKind, lua: &str) -> PkgHeader {
        PkgHeader {
            name: name.into(),
            epoch: None,
            version: "1".into(),
            release: "1.el9".into(),
            arch: "x86_64".into(),
            provides: vec![],
            requires: vec![],
            info: Default::default(),
            files,
            scripts: vec![Script {
                kind,
                prog: vec!["<lua>".into()],
                body: lua.into(),
                condition: None,
            }],
            digest_algo: 8,
            payload_compressor: "zstd".into(),
            buildtime: 0,
        }
    }

    const DIR: u16 = 0o040755;
    const LNK: u16 = 0o120777;
    const REG: u16 = 0o100755;

    #[test]
    fn filesystem_pretrans_is_produced_by_its_own_payload() {
        let fs = pkg(
            "filesystem",
            vec![
                file("/usr", DIR, "", false),
                file("/usr/bin", DIR, "", false),
                file("/bin", LNK, "usr/bin", false),
                file("/sbin", LNK, "usr/sbin", false),
            ],
            ScriptKind::Pretrans,
            "--# If we are running in pretrans in a fresh root, there is no /usr and\n\
             posix.mkdir(\"/usr\")\nposix.mkdir(\"/usr/bin\")\n\
             posix.symlink(\"usr/bin\", \"/bin\")\nposix.symlink(\"usr/sbin\", \"/sbin\")\nreturn 0\n",
        );
        let r = report(&[&fs], &Handled::default(), Vec::new());
        assert_eq!(r.entries[0].verdict, Verdict::Handled, "{:?}", r.entries[0]);
        assert!(
            r.entries[0].reason.contains("`/bin`"),
            "{}",
            r.entries[0].reason
        );
    }

    #[test]
    fn glibc_post_runs_ldconfig_and_iconvconfig() {
        let fs = pkg(
            "filesystem",
            vec![file("/sbin", LNK, "usr/sbin", false)],
            ScriptKind::Pretrans,
            "",
        );
        let glibc = pkg(
            "glibc",
            vec![
                file("/usr/sbin/ldconfig", REG, "", false),
                file("/usr/sbin/iconvconfig", REG, "", false),
            ],
            ScriptKind::Post,
            r#"
function post_exec (program, ...)
  local pid = posix.fork ()
  if pid == 0 then
    assert (posix.exec (program, ...))
  elseif pid > 0 then
    posix.wait (pid)
  end
end
if posix.access ("/sbin/ldconfig") then
  post_exec ("/sbin/ldconfig")
end
if posix.access ("/usr/sbin/iconvconfig", "x") then
  post_exec ("/usr/sbin/iconvconfig", "-o", "/usr/lib64/gconv/gconv-modules.cache", "--nostdlib", "/usr/lib64/gconv")
end
"#,
        );
        let r = report(&[&fs, &glibc], &Handled::default(), Vec::new());
        let e = &r.entries[1];
        assert_eq!(e.verdict, Verdict::Harmless, "{e:?}");
        assert!(e.reason.contains("runs `/sbin/ldconfig`"), "{}", e.reason);
        assert!(e.reason.contains("gconv-modules.cache"), "{}", e.reason);
    }

    #[test]
    fn setup_post_runs_newaliases_only_when_an_mta_installs_it() {
        let body = r#"
for i, name in ipairs({"passwd", "shadow", "group", "gshadow"}) do
     os.remove("/etc/"..name..".rpmnew")
end
if posix.access("/usr/bin/newaliases", "x") then
  local pid = posix.fork()
  if pid == 0 then
    posix.exec("/usr/bin/newaliases")
  elseif pid > 0 then
    posix.wait(pid)
  end
end
"#;
        let setup = pkg("setup", vec![], ScriptKind::Post, body);
        let r = report(&[&setup], &Handled::default(), Vec::new());
        assert_eq!(
            r.entries[0].verdict,
            Verdict::Harmless,
            "{:?}",
            r.entries[0]
        );
        assert!(r.entries[0].reason.contains("newaliases"));
        let postfix = pkg(
            "postfix",
            vec![file("/usr/bin/newaliases", REG, "", false)],
            ScriptKind::Post,
            "",
        );
        let r = report(&[&setup, &postfix], &Handled::default(), Vec::new());
        assert_eq!(r.entries[0].verdict, Verdict::NotHandled);
        assert!(
            r.entries[0].reason.contains("/etc/aliases.db"),
            "{}",
            r.entries[0].reason
        );
    }

    #[test]
    fn bash_post_adds_shells_setup_lists_already() {
        let body = "nl = '\\n'\nsh = '/bin/sh'..nl\nbash = '/bin/bash'..nl\n\
                    f = io.open('/etc/shells', 'a+')\nif f then\n  local shells = nl..f:read('*all')..nl\n\
                    if not shells:find(nl..sh) then f:write(sh) end\n  f:close()\nend\n";
        let bash = pkg("bash", vec![], ScriptKind::Post, body);
        let setup = pkg("setup", vec![], ScriptKind::Pre, "");
        let r = report(&[&setup, &bash], &Handled::default(), Vec::new());
        assert_eq!(
            r.entries[1].verdict,
            Verdict::Harmless,
            "{:?}",
            r.entries[1]
        );
        let r = report(&[&bash], &Handled::default(), Vec::new());
        assert_eq!(r.entries[0].verdict, Verdict::NotHandled);
        assert!(
            r.entries[0].reason.contains("appends to `/etc/shells`"),
            "{}",
            r.entries[0].reason
        );
    }
}
