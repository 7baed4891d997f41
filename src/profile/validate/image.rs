//! `[image]` and `[vars]`: the image's name, architecture, release and compression, and the
//! dnf variables (the built-in ones derive from `[image]`).

use super::{Cx, check_name};
use crate::profile::error::Diagnostic;
use crate::profile::model::{Arch, Image, ImageRoot};
use crate::profile::schema::RawImage;
use crate::profile::values::{Compression, CompressionName};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// `[image]`, checked, plus what later tables need from it.
pub(super) struct ImageTable {
    pub image: Image,
    /// Where `[image]` is written: errors about the profile as a whole point there.
    pub span: Range<usize>,
    /// Whether to add `/init -> sbin/init` (default true).
    pub init_symlink: bool,
}

pub(super) fn image(cx: &Cx, raw: Spanned<RawImage>) -> Result<ImageTable, Diagnostic> {
    let img_span = raw.span();
    let ri = raw.into_inner();
    check_name(&ri.name, "image.name", cx)?;
    let compression = Compression::new(
        ri.compression.unwrap_or(CompressionName::Gzip),
        ri.compression_level.as_ref().map(|l| *l.get_ref()),
    )
    .map_err(|m| match &ri.compression_level {
        Some(l) => cx.loc(l.span(), "image.compression_level").err(m),
        None => cx.loc(img_span.clone(), "image.compression").err(m),
    })?;
    let image = Image {
        name: ri.name.get_ref().clone(),
        arch: ri.arch,
        releasever: ri.releasever.0,
        compression,
        source_date_epoch: ri.source_date_epoch,
        rpmdb: ri.rpmdb.unwrap_or(true),
        root: match &ri.root {
            None => ImageRoot::Initramfs,
            Some(r) if *r.get_ref() == ImageRoot::Squashfs && ri.arch != Arch::X86_64 => {
                return Err(cx
                    .loc(r.span(), "image.root")
                    .err(format!(
                        "`root = \"squashfs\"` is built for x86_64 images only (the initrd's init is generated for x86_64), not {}",
                        ri.arch
                    ))
                    .with_hint("use `root = \"initramfs\"` for this architecture"));
            }
            Some(r) => *r.get_ref(),
        },
        root_chunk_mib: match &ri.root_chunk_mib {
            None => None,
            Some(c) => match u32::try_from(*c.get_ref()) {
                Ok(v @ 1..=2047) => Some(v),
                _ => {
                    return Err(cx
                        .loc(c.span(), "image.root_chunk_mib")
                        .err(format!(
                            "`root_chunk_mib = {}` is out of range: a part of the root image is 1 to 2047 MiB (one file of rootfs.img, joined by the initrd with one sendfile each)",
                            c.get_ref()
                        ))
                        .with_hint("leave it out for the default, 1024"));
                }
            },
        },
    };
    Ok(ImageTable {
        image,
        span: img_span,
        init_symlink: ri.init_symlink.unwrap_or(true),
    })
}

/// `[vars]`: dnf variables. The built-in ones come from `[image]` and cannot be overridden,
/// or the repos and the resolver would disagree about the release.
pub(super) fn vars(
    cx: &Cx,
    raw: &BTreeMap<String, Spanned<String>>,
    image: &Image,
) -> Result<BTreeMap<String, String>, Diagnostic> {
    let mut vars = BTreeMap::new();
    for (k, v) in raw {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(cx.loc(v.span(), format!("vars.{k}")).err_plain(format!(
                "Variable name `{k}` must be letters, digits and `_`"
            )));
        }
        if [
            "releasever",
            "basearch",
            "arch",
            "releasever_major",
            "releasever_minor",
        ]
        .contains(&k.as_str())
        {
            return Err(cx
                .loc(v.span(), format!("vars.{k}"))
                .err_plain(format!(
                    "`{k}` is set by `[image]` and cannot be redefined in `[vars]`"
                ))
                .with_hint("set `image.releasever` / `image.arch` instead"));
        }
        vars.insert(k.clone(), v.get_ref().clone());
    }
    let (major, minor) = match image.releasever.split_once('.') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (image.releasever.clone(), String::new()),
    };
    vars.insert("releasever".into(), image.releasever.clone());
    vars.insert("releasever_major".into(), major);
    vars.insert("releasever_minor".into(), minor);
    vars.insert("basearch".into(), image.arch.basearch().into());
    vars.insert("arch".into(), image.arch.as_str().into());
    Ok(vars)
}
