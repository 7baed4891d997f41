//! What assembly needs from an RPM header: identity, dependencies, the file list with its
//! per-file metadata, and the scriptlets and triggers (which are reported, never run).
//!
//! Tags are read directly (rather than through `rpm::FileEntry`) so that older headers
//! (string-typed scriptlet programs, 32-bit sizes, packages without some arrays) parse too.

use rpm::IndexTag as T;

/// RPMFILE_* flags used here (rpm's `rpmfileAttrs`).
pub mod fflags {
    pub const CONFIG: u32 = 1 << 0;
    pub const DOC: u32 = 1 << 1;
    pub const GHOST: u32 = 1 << 6;
    pub const LICENSE: u32 = 1 << 7;
}

/// RPMSENSE_* bits used here.
pub mod sense {
    pub const LESS: u32 = 1 << 1;
    pub const GREATER: u32 = 1 << 2;
    pub const EQUAL: u32 = 1 << 3;
    pub const PREREQ: u32 = 1 << 6;
    pub const INTERP: u32 = 1 << 8;
    pub const SCRIPT_PRE: u32 = 1 << 9;
    pub const SCRIPT_POST: u32 = 1 << 10;
    pub const TRIGGERIN: u32 = 1 << 16;
    pub const TRIGGERUN: u32 = 1 << 17;
    pub const TRIGGERPOSTUN: u32 = 1 << 18;
    pub const RPMLIB: u32 = 1 << 24;
    pub const TRIGGERPREIN: u32 = 1 << 25;
}

#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("Cannot read the RPM header of `{path}`")]
    Read {
        path: String,
        #[source]
        source: rpm::Error,
    },
    #[error("Malformed RPM header in `{path}`: {reason}")]
    Malformed { path: String, reason: String },
}

/// One dependency as the header stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub flags: u32,
    pub version: String,
}

impl Dep {
    /// Requires(pre), Requires(post) or a legacy PreReq: must be installed first.
    pub fn is_prereq(&self) -> bool {
        self.flags & (sense::PREREQ | sense::SCRIPT_PRE | sense::SCRIPT_POST | sense::INTERP) != 0
    }
}

/// One file of the package, in header order.
#[derive(Debug, Clone)]
pub struct FileMeta {
    /// The path as the header has it (`dirname` + `basename`).
    pub path: String,
    /// st_mode: type and permission bits.
    pub mode: u16,
    pub user: String,
    pub group: String,
    pub flags: u32,
    pub size: u64,
    pub mtime: u32,
    pub linkto: String,
    pub lang: String,
    pub caps: String,
    pub inode: u32,
    pub device: u32,
    pub rdev: u32,
    pub color: u32,
    /// Hex file digest as the header carries it (algorithm in [`PkgHeader::digest_algo`]).
    pub digest: String,
}

impl FileMeta {
    pub fn file_type(&self) -> u16 {
        self.mode & 0o170000
    }
    pub fn is_reg(&self) -> bool {
        self.file_type() == 0o100000
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == 0o040000
    }
    pub fn is_ghost(&self) -> bool {
        self.flags & fflags::GHOST != 0
    }
}

/// Which scriptlet or trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptKind {
    Pretrans,
    Pre,
    Post,
    Posttrans,
    Preun,
    Postun,
    Preuntrans,
    Postuntrans,
    Verify,
    Triggerprein,
    Triggerin,
    Triggerun,
    Triggerpostun,
    Filetrigger,
    Transfiletrigger,
}

impl ScriptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptKind::Pretrans => "%pretrans",
            ScriptKind::Pre => "%pre",
            ScriptKind::Post => "%post",
            ScriptKind::Posttrans => "%posttrans",
            ScriptKind::Preun => "%preun",
            ScriptKind::Postun => "%postun",
            ScriptKind::Preuntrans => "%preuntrans",
            ScriptKind::Postuntrans => "%postuntrans",
            ScriptKind::Verify => "%verifyscript",
            ScriptKind::Triggerprein => "%triggerprein",
            ScriptKind::Triggerin => "%triggerin",
            ScriptKind::Triggerun => "%triggerun",
            ScriptKind::Triggerpostun => "%triggerpostun",
            ScriptKind::Filetrigger => "%filetrigger",
            ScriptKind::Transfiletrigger => "%transfiletrigger",
        }
    }

    /// Runs only when a package is erased or upgraded, never on a fresh install.
    pub fn erase_only(self) -> bool {
        matches!(
            self,
            ScriptKind::Preun
                | ScriptKind::Postun
                | ScriptKind::Preuntrans
                | ScriptKind::Postuntrans
                | ScriptKind::Triggerun
                | ScriptKind::Triggerpostun
        )
    }
}

/// A scriptlet or trigger body with its interpreter.
#[derive(Debug, Clone)]
pub struct Script {
    pub kind: ScriptKind,
    /// Interpreter and arguments (`/bin/sh`, `<lua>`, `/sbin/ldconfig`).
    pub prog: Vec<String>,
    pub body: String,
    /// For triggers: what fires them (`bash`, `/usr/lib/systemd/system`).
    pub condition: Option<String>,
}

/// Everything assembly reads from one RPM header.
#[derive(Debug, Clone)]
pub struct PkgHeader {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub provides: Vec<Dep>,
    pub requires: Vec<Dep>,
    pub files: Vec<FileMeta>,
    pub scripts: Vec<Script>,
    /// RPMTAG_FILEDIGESTALGO (1 = md5, 8 = sha256, ...).
    pub digest_algo: u32,
    pub payload_compressor: String,
    /// RPMTAG_BUILDTIME (seconds since the epoch).
    pub buildtime: u64,
    /// What the header says about the package for people and SBOMs.
    pub info: PkgInfo,
}

/// The descriptive tags of a header (empty when absent; `(none)` counts as absent), for
/// the SBOM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgInfo {
    pub license: String,
    /// The source RPM's file name (`bash-5.1.8-9.el9.src.rpm`).
    pub sourcerpm: String,
    pub vendor: String,
    pub packager: String,
    pub url: String,
    pub summary: String,
}

impl PkgHeader {
    /// `name-[epoch:]version-release.arch`, as rpm prints it.
    pub fn nevra(&self) -> String {
        match self.epoch {
            Some(e) if e != 0 => format!(
                "{}-{e}:{}-{}.{}",
                self.name, self.version, self.release, self.arch
            ),
            _ => format!(
                "{}-{}-{}.{}",
                self.name, self.version, self.release, self.arch
            ),
        }
    }

    pub fn from_metadata(m: &rpm::PackageMetadata, path: &str) -> Result<PkgHeader, HeaderError> {
        let h = &m.header;
        let malformed = |reason: String| HeaderError::Malformed {
            path: path.to_string(),
            reason,
        };
        let s = |tag: T| -> Option<String> {
            h.get_entry_data_as_string(tag)
                .ok()
                .map(str::to_string)
                .or_else(|| {
                    h.get_entry_data_as_string_array(tag)
                        .ok()
                        .and_then(|v| v.first().map(|s| s.to_string()))
                })
        };
        let sa = |tag: T| -> Vec<String> {
            h.get_entry_data_as_string_array(tag)
                .map(|v| v.into_iter().map(str::to_string).collect())
                .or_else(|_| h.get_entry_data_as_string(tag).map(|s| vec![s.to_string()]))
                .unwrap_or_default()
        };
        // rpmbuild writes `(none)` for an unset SOURCERPM in some packages.
        let text = |tag: T| -> String {
            s(tag)
                .filter(|v| v != "(none)")
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let u32a = |tag: T| -> Vec<u32> { h.get_entry_data_as_u32_array(tag).unwrap_or_default() };
        let u16a = |tag: T| -> Vec<u16> { h.get_entry_data_as_u16_array(tag).unwrap_or_default() };

        let name = s(T::RPMTAG_NAME).ok_or_else(|| malformed("no name".into()))?;
        let deps = |n: T, f: T, v: T| -> Vec<Dep> {
            let names = sa(n);
            let flags = u32a(f);
            let vers = sa(v);
            names
                .into_iter()
                .enumerate()
                .map(|(i, name)| Dep {
                    name,
                    flags: flags.get(i).copied().unwrap_or(0),
                    version: vers.get(i).cloned().unwrap_or_default(),
                })
                .collect()
        };

        // File paths: compressed (dirnames + basenames) or legacy full names.
        let basenames = sa(T::RPMTAG_BASENAMES);
        let paths: Vec<String> = if !basenames.is_empty() {
            let dirs = sa(T::RPMTAG_DIRNAMES);
            let idx = u32a(T::RPMTAG_DIRINDEXES);
            if idx.len() != basenames.len() {
                return Err(malformed(
                    "dirindexes and basenames differ in length".into(),
                ));
            }
            basenames
                .iter()
                .zip(&idx)
                .map(|(b, &i)| {
                    dirs.get(i as usize)
                        .map(|d| format!("{d}{b}"))
                        .ok_or_else(|| malformed(format!("dir index {i} out of range")))
                })
                .collect::<Result<_, _>>()?
        } else {
            sa(T::RPMTAG_OLDFILENAMES)
        };
        let n = paths.len();
        let modes = u16a(T::RPMTAG_FILEMODES);
        let users = sa(T::RPMTAG_FILEUSERNAME);
        let groups = sa(T::RPMTAG_FILEGROUPNAME);
        let flags = u32a(T::RPMTAG_FILEFLAGS);
        let sizes: Vec<u64> = h
            .get_entry_data_as_u64_array(T::RPMTAG_LONGFILESIZES)
            .unwrap_or_else(|_| {
                u32a(T::RPMTAG_FILESIZES)
                    .into_iter()
                    .map(u64::from)
                    .collect()
            });
        let mtimes = u32a(T::RPMTAG_FILEMTIMES);
        let links = sa(T::RPMTAG_FILELINKTOS);
        let langs = sa(T::RPMTAG_FILELANGS);
        let caps = sa(T::RPMTAG_FILECAPS);
        let inodes = u32a(T::RPMTAG_FILEINODES);
        let devices = u32a(T::RPMTAG_FILEDEVICES);
        let rdevs = u16a(T::RPMTAG_FILERDEVS);
        let colors = u32a(T::RPMTAG_FILECOLORS);
        let digests = sa(T::RPMTAG_FILEDIGESTS);
        if modes.len() != n || users.len() != n || groups.len() != n {
            return Err(malformed(format!(
                "{n} file names but {} modes, {} users, {} groups",
                modes.len(),
                users.len(),
                groups.len()
            )));
        }
        let get = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        let files = (0..n)
            .map(|i| FileMeta {
                path: paths[i].clone(),
                mode: modes[i],
                user: users[i].clone(),
                group: groups[i].clone(),
                flags: flags.get(i).copied().unwrap_or(0),
                size: sizes.get(i).copied().unwrap_or(0),
                mtime: mtimes.get(i).copied().unwrap_or(0),
                linkto: get(&links, i),
                lang: get(&langs, i),
                caps: get(&caps, i),
                // Without FILEINODES every file is its own inode (no hardlinks).
                inode: inodes.get(i).copied().unwrap_or(i as u32 + 1),
                device: devices.get(i).copied().unwrap_or(1),
                rdev: u32::from(rdevs.get(i).copied().unwrap_or(0)),
                color: colors.get(i).copied().unwrap_or(0),
                digest: get(&digests, i),
            })
            .collect();

        let mut scripts = Vec::new();
        let plain = [
            (
                ScriptKind::Pretrans,
                T::RPMTAG_PRETRANS,
                T::RPMTAG_PRETRANSPROG,
            ),
            (ScriptKind::Pre, T::RPMTAG_PREIN, T::RPMTAG_PREINPROG),
            (ScriptKind::Post, T::RPMTAG_POSTIN, T::RPMTAG_POSTINPROG),
            (
                ScriptKind::Posttrans,
                T::RPMTAG_POSTTRANS,
                T::RPMTAG_POSTTRANSPROG,
            ),
            (ScriptKind::Preun, T::RPMTAG_PREUN, T::RPMTAG_PREUNPROG),
            (ScriptKind::Postun, T::RPMTAG_POSTUN, T::RPMTAG_POSTUNPROG),
            (
                ScriptKind::Preuntrans,
                T::RPMTAG_PREUNTRANS,
                T::RPMTAG_PREUNTRANSPROG,
            ),
            (
                ScriptKind::Postuntrans,
                T::RPMTAG_POSTUNTRANS,
                T::RPMTAG_POSTUNTRANSPROG,
            ),
            (
                ScriptKind::Verify,
                T::RPMTAG_VERIFYSCRIPT,
                T::RPMTAG_VERIFYSCRIPTPROG,
            ),
        ];
        for (kind, body_tag, prog_tag) in plain {
            let body = s(body_tag);
            let prog = sa(prog_tag);
            if body.is_none() && prog.is_empty() {
                continue;
            }
            scripts.push(Script {
                kind,
                prog,
                body: body.unwrap_or_default(),
                condition: None,
            });
        }
        // Package triggers: one script per index, conditions point at it.
        let tscripts = sa(T::RPMTAG_TRIGGERSCRIPTS);
        let tprogs = sa(T::RPMTAG_TRIGGERSCRIPTPROG);
        let tnames = sa(T::RPMTAG_TRIGGERNAME);
        let tflags = u32a(T::RPMTAG_TRIGGERFLAGS);
        let tindex = u32a(T::RPMTAG_TRIGGERINDEX);
        for (i, body) in tscripts.iter().enumerate() {
            let mut kind = ScriptKind::Triggerin;
            let mut conds = Vec::new();
            for (j, name) in tnames.iter().enumerate() {
                if tindex.get(j).copied() == Some(i as u32) {
                    let f = tflags.get(j).copied().unwrap_or(0);
                    kind = if f & sense::TRIGGERPREIN != 0 {
                        ScriptKind::Triggerprein
                    } else if f & sense::TRIGGERUN != 0 {
                        ScriptKind::Triggerun
                    } else if f & sense::TRIGGERPOSTUN != 0 {
                        ScriptKind::Triggerpostun
                    } else {
                        ScriptKind::Triggerin
                    };
                    conds.push(name.clone());
                }
            }
            scripts.push(Script {
                kind,
                prog: tprogs.get(i).map(|p| vec![p.clone()]).unwrap_or_default(),
                body: body.clone(),
                condition: Some(conds.join(", ")),
            });
        }
        for (kind, st, pt, nt, it) in [
            (
                ScriptKind::Filetrigger,
                T::RPMTAG_FILETRIGGERSCRIPTS,
                T::RPMTAG_FILETRIGGERSCRIPTPROG,
                T::RPMTAG_FILETRIGGERNAME,
                T::RPMTAG_FILETRIGGERINDEX,
            ),
            (
                ScriptKind::Transfiletrigger,
                T::RPMTAG_TRANSFILETRIGGERSCRIPTS,
                T::RPMTAG_TRANSFILETRIGGERSCRIPTPROG,
                T::RPMTAG_TRANSFILETRIGGERNAME,
                T::RPMTAG_TRANSFILETRIGGERINDEX,
            ),
        ] {
            let bodies = sa(st);
            let progs = sa(pt);
            let names = sa(nt);
            let index = u32a(it);
            for (i, body) in bodies.iter().enumerate() {
                let conds: Vec<String> = names
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| index.get(*j).copied() == Some(i as u32))
                    .map(|(_, n)| n.clone())
                    .collect();
                scripts.push(Script {
                    kind,
                    prog: progs.get(i).map(|p| vec![p.clone()]).unwrap_or_default(),
                    body: body.clone(),
                    condition: Some(conds.join(", ")),
                });
            }
        }

        Ok(PkgHeader {
            epoch: h.get_entry_data_as_u32(T::RPMTAG_EPOCH).ok(),
            version: s(T::RPMTAG_VERSION).unwrap_or_default(),
            release: s(T::RPMTAG_RELEASE).unwrap_or_default(),
            arch: s(T::RPMTAG_ARCH).unwrap_or_else(|| "noarch".into()),
            provides: deps(
                T::RPMTAG_PROVIDENAME,
                T::RPMTAG_PROVIDEFLAGS,
                T::RPMTAG_PROVIDEVERSION,
            ),
            requires: deps(
                T::RPMTAG_REQUIRENAME,
                T::RPMTAG_REQUIREFLAGS,
                T::RPMTAG_REQUIREVERSION,
            ),
            files,
            scripts,
            digest_algo: h
                .get_entry_data_as_u32(T::RPMTAG_FILEDIGESTALGO)
                .unwrap_or(1),
            payload_compressor: s(T::RPMTAG_PAYLOADCOMPRESSOR).unwrap_or_else(|| "gzip".into()),
            buildtime: h
                .get_entry_data_as_u32(T::RPMTAG_BUILDTIME)
                .map(u64::from)
                .unwrap_or(0),
            info: PkgInfo {
                license: text(T::RPMTAG_LICENSE),
                sourcerpm: text(T::RPMTAG_SOURCERPM),
                vendor: text(T::RPMTAG_VENDOR),
                packager: text(T::RPMTAG_PACKAGER),
                url: text(T::RPMTAG_URL),
                summary: text(T::RPMTAG_SUMMARY),
            },
            name,
        })
    }
}
