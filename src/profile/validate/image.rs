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
    let squashfs = ri.root.as_ref().map(|r| *r.get_ref()) == Some(ImageRoot::Squashfs);
    let root_http = match &ri.root_http {
        None => None,
        Some(u) => {
            let at = || cx.loc(u.span(), "image.root_http");
            if !squashfs {
                return Err(at()
                    .err("`root_http` fetches a squashfs root image, but this image's root is the initramfs")
                    .with_hint("add `root = \"squashfs\"` to [image], or leave `root_http` out"));
            }
            if ri.root_chunk_mib.is_some() {
                return Err(at()
                    .err("`root_http` and `root_chunk_mib` do not go together: a root image fetched over HTTP is one file, never carried in parts")
                    .with_hint("leave `root_chunk_mib` out"));
            }
            Some(check_root_http(u.get_ref()).map_err(|m| {
                at().err(m).with_hint(
                    "write the web server that serves the output's tftp tree, e.g. `root_http = \"http://{server}:8080\"` (`{server}`: the boot server the node booted from)",
                )
            })?)
        }
    };
    let net_modules = match &ri.net_modules {
        None => None,
        Some(list) => {
            if ri.root_http.is_none() {
                return Err(cx
                    .loc(list.span(), "image.net_modules")
                    .err("`net_modules` are the network drivers of an initrd that fetches the root image, but `root_http` is not set")
                    .with_hint("set `root_http`, or leave `net_modules` out"));
            }
            let mut out = Vec::new();
            for m in list.get_ref() {
                let name = m.get_ref();
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(cx
                        .loc(m.span(), "image.net_modules")
                        .err(format!("`{name}` is not a kernel module name"))
                        .with_hint("write module names as `modprobe` takes them, e.g. \"e1000e\" or \"mlx5_core\""));
                }
                out.push(name.clone());
            }
            if out.is_empty() {
                return Err(cx
                    .loc(list.span(), "image.net_modules")
                    .err("`net_modules` is empty: the initrd could not reach the network to fetch the root image")
                    .with_hint("name the nodes' NIC drivers, or leave `net_modules` out for the usual ones"));
            }
            Some(out)
        }
    };
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
        root_http,
        net_modules,
    };
    Ok(ImageTable {
        image,
        span: img_span,
        init_symlink: ri.init_symlink.unwrap_or(true),
    })
}

/// `[image] root_http`, checked: an `http://` URL whose host is `{server}` or an IPv4
/// address (the initrd has no name resolver), without query, fragment or user; returned
/// without a trailing `/`.
fn check_root_http(u: &str) -> Result<String, String> {
    // `{server}` is not a valid host to a URL parser: check the URL with an address there.
    let probe = u.replace(crate::profile::model::ROOT_HTTP_SERVER, "192.0.2.1");
    let parsed = url::Url::parse(&probe).map_err(|e| format!("`{u}` is not a URL: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "`{u}`: the initrd fetches over plain `http://` (the image's sha256 is checked after the download), not `{}://`",
            parsed.scheme()
        ));
    }
    if !matches!(parsed.host(), Some(url::Host::Ipv4(_))) {
        return Err(format!(
            "`{u}`: the host must be `{{server}}` or an IPv4 address: the initrd resolves no names"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(format!(
            "`{u}` must be a plain base URL (no user, query or fragment): the image's path in the tftp tree is appended to it"
        ));
    }
    if u.matches(crate::profile::model::ROOT_HTTP_SERVER).count() > 1
        || u.contains(char::is_whitespace)
        || u.contains('\'')
    {
        return Err(format!(
            "`{u}` must name `{{server}}` at most once, with no spaces or quotes"
        ));
    }
    Ok(u.trim_end_matches('/').to_string())
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
