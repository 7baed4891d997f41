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
//! judged; the worst judgement is the scriptlet's verdict. Lua scriptlets are not read.
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
        _ => (NotHandled, format!("`{}` is not understood", c.text)),
    }
}

const PRESETS: &str =
    "systemd presets applied to the unit files (symlinks under /etc/systemd/system)";
const PRESETS_USER: &str =
    "systemd user presets applied to the user unit files (symlinks under /etc/systemd/user)";

fn classify(pkg: &PkgHeader, s: &Script, installed: &[&str], done: &Handled) -> (Verdict, String) {
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
        let first = s
            .body
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("--"))
            .unwrap_or("");
        return (
            NotHandled,
            format!("Lua scriptlet not interpreted (starts `{first}`)"),
        );
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

/// The report for `pkgs` (in install order), knowing what assembly produced (`done`) and
/// the image-wide lines (`declared`).
pub fn report(pkgs: &[&PkgHeader], done: &Handled, declared: Vec<Declared>) -> Report {
    let installed: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
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
