//! `diskless sbom OUT`: what is in a build, from its SBOM: one line per package (name,
//! epoch:version-release, arch, license, image or boot), or `--json`.

use super::GlobalArgs;
use super::hint::HintExt;
use anyhow::Context;
use clap::Args;
use diskless::emit::sbom::read::{self, Listed};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The build output directory (or its OCI layout, or an sbom.cdx.json file)
    pub out: PathBuf,
    /// Print the packages as a JSON array
    #[arg(long)]
    pub json: bool,
}

/// The table: columns padded to their widest cell, sorted by role (image first), then name.
fn table(packages: &[Listed]) -> String {
    let header = ["NAME", "EPOCH:VERSION-RELEASE", "ARCH", "LICENSE", "ROLE"];
    let rows: Vec<[String; 5]> = packages
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.full_evr(),
                p.arch.clone(),
                if p.license.is_empty() {
                    "-".to_string()
                } else {
                    p.license.clone()
                },
                p.role.as_str().to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out
}

pub fn run(args: SbomArgs, _g: &GlobalArgs) -> anyhow::Result<()> {
    let mut packages = read::read(&args.out)
        .with_context(|| format!("Cannot read the packages of `{}`", args.out.display()))
        .hint("pass a build's output directory: `diskless build PROFILE --out DIR`, then `diskless sbom DIR`")?;
    packages.sort_by(|a, b| {
        (a.role, &a.name, &a.arch, a.full_evr()).cmp(&(b.role, &b.name, &b.arch, b.full_evr()))
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&packages)?);
    } else {
        print!("{}", table(&packages));
        let boot = packages
            .iter()
            .filter(|p| p.role == diskless::emit::sbom::Role::Boot)
            .count();
        eprintln!(
            "{} packages: {} in the image, {boot} boot",
            packages.len(),
            packages.len() - boot
        );
    }
    Ok(())
}
