//! `[boot]`: the packages only the boot files come from, and the kernel command line.

use super::Cx;
use crate::profile::error::Diagnostic;
use crate::profile::model::Boot;
use crate::profile::schema::RawBoot;

pub(super) fn boot(cx: &Cx, raw: RawBoot) -> Result<Boot, Diagnostic> {
    let cmdline = match &raw.cmdline {
        Some(c) if c.get_ref().contains('\n') => {
            return Err(cx
                .loc(c.span(), "boot.cmdline")
                .err("The kernel command line must be one line"));
        }
        Some(c) => c.get_ref().trim().to_string(),
        None => String::new(),
    };
    Ok(Boot {
        packages: raw.packages,
        cmdline,
    })
}
