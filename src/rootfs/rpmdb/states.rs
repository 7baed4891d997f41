//! The file states rpm records for each installed file (`RPMTAG_FILESTATES`), as an
//! install with the same policies would leave them (lib/transaction.c, `skipInstallFiles`
//! and `handleOverlappedFiles`; lib/fsm.c, `setFileState`):
//! - `NOTINSTALLED` for files left out by policy: `--excludepath` (here `exclude_paths`),
//!   `%_install_langs` (`langs`), `--excludedocs` (`nodocs`), except `%license` files, which
//!   rpm always installs; then each directory the package lists whose contents were all
//!   left out;
//! - `WRONGCOLOR` for files of a colour the transaction does not install (a MIPS N32 file
//!   on x86_64) and for the losing side of a multilib pair (same path, different
//!   contents, ELF32 vs ELF64: the preferred colour, ELF64 by default, wins), and for later
//!   identical copies of a file whose first copy lost that way;
//! - `NORMAL` otherwise (ghosts too: rpm's verify skips a missing ghost).
//!
//! `rpm -V` checks only NORMAL files, so a file diskless left out by a filter is not
//! reported missing. Files diskless itself also leaves out where rpm would not (a
//! `%license` file filtered by language or doc flag) are marked NOTINSTALLED too, so the
//! states describe the image.

use super::super::extract::{Filters, lang_kept};
use super::super::glob::matches_or_below;
use super::super::header::{PkgHeader, fflags};
use super::super::paths;
use super::super::tree::Tree;
use super::blob::{RawHeader, tag};
use std::collections::HashMap;

pub const NORMAL: u8 = 0;
pub const NOTINSTALLED: u8 = 2;
pub const WRONGCOLOR: u8 = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Action {
    Unknown,
    SkipNState,
    SkipColor,
}

/// Per-package file states, for `pkgs` (headers in install order, each with its raw
/// header for the directory lists).
pub fn file_states(
    pkgs: &[(&PkgHeader, &RawHeader)],
    filters: &Filters,
    tscolor: u32,
    prefcolor: u32,
    tree: &Tree,
) -> Vec<Vec<u8>> {
    let mut actions: Vec<Vec<Action>> = pkgs
        .iter()
        .map(|(h, raw)| skip_install_files(h, raw, filters, tscolor))
        .collect();

    // Overlapping files of the transaction, in install order (`handleOverlappedFiles`):
    // the previous file at the same place decides colour conflicts. Places are compared
    // with symlinked directories resolved, as rpm's fingerprints do. Only coloured files
    // take part: an uncoloured file never wins or loses on colour, and a copy identical
    // to a coloured file has its colour.
    if tscolor != 0 {
        let mut last: HashMap<String, (usize, usize)> = HashMap::new();
        for (p, (h, _)) in pkgs.iter().enumerate() {
            for (i, f) in h.files.iter().enumerate() {
                if f.color & tscolor == 0 {
                    continue;
                }
                let Ok(norm) = paths::check_package_path(&f.path) else {
                    continue;
                };
                let place = paths::resolve(tree, &norm, false).unwrap_or(norm);
                let prev = last.insert(place, (p, i));
                let Some((op, oi)) = prev else { continue };
                if actions[p][i] != Action::Unknown {
                    continue;
                }
                let o = &pkgs[op].0.files[oi];
                if differ(o, f) {
                    let (fc, oc) = (f.color & tscolor, o.color & tscolor);
                    if fc != 0 && oc != 0 && fc != oc {
                        if fc & prefcolor != 0 {
                            actions[op][oi] = Action::SkipColor;
                        } else if oc & prefcolor != 0 {
                            actions[p][i] = Action::SkipColor;
                        }
                    }
                } else if actions[op][oi] == Action::SkipColor {
                    actions[p][i] = Action::SkipColor;
                }
            }
        }
    }

    pkgs.iter()
        .zip(actions)
        .map(|((h, _), acts)| {
            h.files
                .iter()
                .zip(acts)
                .map(|(f, a)| match a {
                    Action::SkipNState => NOTINSTALLED,
                    Action::SkipColor => WRONGCOLOR,
                    Action::Unknown if diskless_skips(f, filters) => NOTINSTALLED,
                    Action::Unknown => NORMAL,
                })
                .collect()
        })
        .collect()
}

/// `rpmfilesCompare`: do two packages' files at one place differ?
fn differ(a: &super::super::header::FileMeta, b: &super::super::header::FileMeta) -> bool {
    if a.is_ghost() || b.is_ghost() {
        return false;
    }
    let link = 0o120000;
    if !(a.file_type() == link && b.file_type() == link) && a.mode != b.mode {
        return true;
    }
    if (a.file_type() == link || a.is_reg()) && a.size != b.size {
        return true;
    }
    if a.user != b.user || a.group != b.group {
        return true;
    }
    if a.file_type() == link {
        return a.linkto != b.linkto;
    }
    a.is_reg() && a.digest != b.digest
}

/// What diskless's extraction leaves out (extract.rs), whatever rpm would do.
fn diskless_skips(f: &super::super::header::FileMeta, filters: &Filters) -> bool {
    if f.is_ghost() {
        return false;
    }
    if filters.nodocs && f.flags & fflags::DOC != 0 {
        return true;
    }
    if let Some(langs) = &filters.langs {
        if !lang_kept(&f.lang, langs) {
            return true;
        }
    }
    excluded(f, filters)
}

fn excluded(f: &super::super::header::FileMeta, filters: &Filters) -> bool {
    let Ok(norm) = paths::check_package_path(&f.path) else {
        return false;
    };
    filters
        .exclude_paths
        .iter()
        .any(|g| matches_or_below(g, &norm))
}

/// rpm keeps a file when a configured language starts with one of the file's languages.
fn rpm_lang_kept(flangs: &str, langs: &[String]) -> bool {
    flangs.is_empty()
        || langs.iter().any(|l| {
            flangs
                .split('|')
                .any(|fl| !fl.is_empty() && l.as_bytes().starts_with(fl.as_bytes()))
        })
}

/// `skipInstallFiles`: the files an install with these policies leaves out.
fn skip_install_files(
    h: &PkgHeader,
    raw: &RawHeader,
    filters: &Filters,
    tscolor: u32,
) -> Vec<Action> {
    let n = h.files.len();
    let dirnames = raw.strings(tag::DIRNAMES);
    let dirindexes = raw.u32s(tag::DIRINDEXES);
    let dx = |i: usize| {
        dirindexes
            .get(i)
            .map(|&d| d as usize)
            .filter(|&d| d < dirnames.len())
    };
    let mut drc = vec![0i64; dirnames.len()];
    let mut dff = vec![false; dirnames.len()];
    let mut act = vec![Action::Unknown; n];
    // `%_install_langs` containing `all` installs every language.
    let langs = filters
        .langs
        .as_ref()
        .filter(|l| !l.iter().any(|x| x == "all"));
    for (i, f) in h.files.iter().enumerate() {
        let d = dx(i);
        if let Some(d) = d {
            drc[d] += 1;
        }
        let a = if excluded(f, filters) {
            Action::SkipNState
        } else if tscolor != 0 && f.color != 0 && f.color & tscolor == 0 {
            Action::SkipColor
        } else if f.flags & fflags::LICENSE != 0 {
            Action::Unknown
        } else if langs.is_some_and(|langs| !rpm_lang_kept(&f.lang, langs))
            || (filters.nodocs && f.flags & fflags::DOC != 0)
        {
            Action::SkipNState
        } else {
            Action::Unknown
        };
        if a != Action::Unknown {
            act[i] = a;
            if let Some(d) = d {
                drc[d] -= 1;
                dff[d] = true;
            }
        }
    }
    // Directories the package lists whose contents were all left out, innermost first.
    for j in (0..dirnames.len()).rev() {
        if drc[j] != 0 || !dff[j] {
            continue;
        }
        let dn = String::from_utf8_lossy(dirnames[j]);
        let dir = dn.trim_end_matches('/');
        if dir.is_empty() {
            continue;
        }
        if let Some(i) = h
            .files
            .iter()
            .enumerate()
            .position(|(i, f)| act[i] == Action::Unknown && f.is_dir() && f.path == dir)
        {
            act[i] = Action::SkipNState;
            if let Some(d) = dx(i) {
                drc[d] -= 1;
                dff[d] = true;
            }
        }
    }
    act
}
