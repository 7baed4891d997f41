//! modules.yaml: the module streams of an EL8/EL9 AppStream repository (multi-document
//! YAML: `modulemd` v2 streams and `modulemd-defaults` v1), and dnf's modular filtering,
//! which hides packages that belong to streams that are not enabled or default.
//!
//! The filter follows libdnf's rule: packages listed as artifacts of an active stream stay
//! (and hide same-named packages outside the stream); packages listed only by inactive
//! streams are hidden; everything else is untouched.

use crate::package::Package;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;

/// The parsed modules.yaml of a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Modules {
    pub streams: Vec<ModuleStream>,
    pub defaults: Vec<ModuleDefaults>,
}

/// One `modulemd` document: a build (version, context) of a module stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleStream {
    pub name: String,
    pub stream: String,
    pub version: u64,
    pub context: String,
    pub arch: String,
    /// RPM artifacts as `name-epoch:version-release.arch`.
    pub artifacts: Vec<String>,
    /// Alternative run-time requirement sets: module name -> streams (empty: any stream;
    /// `-s`: any but `s`).
    pub requires: Vec<BTreeMap<String, Vec<String>>>,
    /// Install profiles: profile name -> package names.
    pub profiles: BTreeMap<String, Vec<String>>,
}

/// One `modulemd-defaults` document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleDefaults {
    pub module: String,
    /// The default stream, if the module has one (EL9 modules mostly don't).
    pub stream: Option<String>,
    /// Default profiles per stream.
    pub profiles: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Header {
    document: String,
    #[serde(default)]
    version: u64,
}

#[derive(Deserialize)]
struct Doc<T> {
    data: T,
}

#[derive(Deserialize)]
struct StreamData {
    name: String,
    stream: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    context: String,
    #[serde(default)]
    arch: String,
    #[serde(default)]
    dependencies: Vec<DepsData>,
    #[serde(default)]
    artifacts: Option<ArtifactsData>,
    #[serde(default)]
    profiles: BTreeMap<String, ProfileData>,
}

#[derive(Deserialize)]
struct DepsData {
    #[serde(default)]
    requires: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct ArtifactsData {
    #[serde(default)]
    rpms: Vec<String>,
}

#[derive(Deserialize)]
struct ProfileData {
    #[serde(default)]
    rpms: Vec<String>,
}

#[derive(Deserialize)]
struct DefaultsData {
    module: String,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Vec<String>>,
}

/// Parse modules.yaml (already decompressed). Documents of other kinds (translations,
/// obsoletes, packager) are skipped. Stream names are read as written (`3.10` stays
/// `3.10`, not the number 3.1).
pub fn parse<R: Read>(mut input: R) -> Result<Modules, String> {
    let mut text = String::new();
    input.read_to_string(&mut text).map_err(|e| e.to_string())?;
    parse_str(&text)
}

pub fn parse_str(text: &str) -> Result<Modules, String> {
    let mut out = Modules::default();
    // Two passes in lockstep: the header says which type the document is, then the same
    // document is read again as that type (serde can't look ahead without losing how
    // scalars were written).
    let headers = serde_yaml_ng::Deserializer::from_str(text);
    let bodies = serde_yaml_ng::Deserializer::from_str(text);
    for (i, (h, body)) in headers.zip(bodies).enumerate() {
        let header = Header::deserialize(h).map_err(|e| format!("document {}: {e}", i + 1))?;
        match (header.document.as_str(), header.version) {
            ("modulemd", 2) => {
                let d = Doc::<StreamData>::deserialize(body)
                    .map_err(|e| format!("document {}: {e}", i + 1))?;
                let d = d.data;
                out.streams.push(ModuleStream {
                    name: d.name,
                    stream: d.stream,
                    version: d.version,
                    context: d.context,
                    arch: d.arch,
                    artifacts: d.artifacts.map(|a| a.rpms).unwrap_or_default(),
                    requires: d.dependencies.into_iter().map(|x| x.requires).collect(),
                    profiles: d.profiles.into_iter().map(|(k, v)| (k, v.rpms)).collect(),
                });
            }
            ("modulemd-defaults", 1) => {
                let d = Doc::<DefaultsData>::deserialize(body)
                    .map_err(|e| format!("document {}: {e}", i + 1))?;
                let d = d.data;
                out.defaults.push(ModuleDefaults {
                    module: d.module,
                    stream: d.stream,
                    profiles: d.profiles,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Which module streams are active, beyond the repositories' defaults.
#[derive(Debug, Clone, Default)]
pub struct ModuleSelection {
    /// `(module, stream)` pairs the profile enables; they replace the module's default.
    pub enabled: Vec<(String, String)>,
    /// The platform stream (`el9`) for picking contexts; `None` accepts every context.
    pub platform: Option<String>,
}

/// The default stream of each module, from every repository's defaults (first one wins).
pub fn default_streams<'a>(all: impl IntoIterator<Item = &'a Modules>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in all {
        for d in &m.defaults {
            if let Some(s) = &d.stream {
                out.entry(d.module.clone()).or_insert_with(|| s.clone());
            }
        }
    }
    out
}

/// For each package, whether dnf's modular filtering hides it.
pub fn hidden<'a>(
    packages: &[Package],
    all: impl IntoIterator<Item = &'a Modules> + Clone,
    selection: &ModuleSelection,
) -> Vec<bool> {
    let mut active = default_streams(all.clone());
    for (m, s) in &selection.enabled {
        active.insert(m.clone(), s.clone());
    }
    let mut include: HashSet<&str> = HashSet::new();
    let mut include_names: BTreeSet<&str> = BTreeSet::new();
    let mut exclude: HashSet<&str> = HashSet::new();
    for m in all {
        for s in &m.streams {
            let is_active = active.get(&s.name) == Some(&s.stream)
                && platform_ok(&s.requires, selection.platform.as_deref());
            for a in &s.artifacts {
                if is_active {
                    include.insert(a);
                    if let Some((name, arch)) = artifact_name_arch(a) {
                        if arch != "src" && arch != "nosrc" {
                            include_names.insert(name);
                        }
                    }
                } else {
                    exclude.insert(a);
                }
            }
        }
    }
    packages
        .iter()
        .map(|p| {
            if include.is_empty() && exclude.is_empty() {
                return false;
            }
            let nevra = p.nevra_full_epoch();
            if include.contains(nevra.as_str()) {
                return false;
            }
            exclude.contains(nevra.as_str()) || include_names.contains(p.name.as_str())
        })
        .collect()
}

/// Whether one of the alternative requirement sets accepts the platform.
fn platform_ok(requires: &[BTreeMap<String, Vec<String>>], platform: Option<&str>) -> bool {
    let Some(platform) = platform else {
        return true;
    };
    if requires.is_empty() {
        return true;
    }
    requires.iter().any(|r| match r.get("platform") {
        None => true,
        Some(streams) => stream_matches(streams, platform),
    })
}

/// modulemd's stream list: empty = any; `-x` entries exclude; plain entries include.
fn stream_matches(streams: &[String], s: &str) -> bool {
    if streams.iter().any(|x| x.strip_prefix('-') == Some(s)) {
        return false;
    }
    let positives: Vec<&String> = streams.iter().filter(|x| !x.starts_with('-')).collect();
    positives.is_empty() || positives.iter().any(|x| x.as_str() == s)
}

/// `name-epoch:version-release.arch` -> (`name`, `arch`).
pub fn artifact_name_arch(a: &str) -> Option<(&str, &str)> {
    let (nevr, arch) = a.rsplit_once('.')?;
    let (nev, _rel) = nevr.rsplit_once('-')?;
    let (name, _ev) = nev.rsplit_once('-')?;
    Some((name, arch))
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"---
document: modulemd-defaults
version: 1
data:
  module: python
  stream: 3.10
  profiles:
    3.10: [common]
...
---
document: modulemd
version: 2
data:
  name: python
  stream: 3.10
  version: 9050020241107143519
  context: 9
  arch: x86_64
  summary: x
  description: x
  license: {module: [MIT]}
  dependencies:
  - buildrequires: {platform: [el9]}
    requires: {platform: [el9]}
  profiles:
    common: {rpms: [python3]}
  artifacts:
    rpms:
    - python3-0:3.10.1-1.module_el9.x86_64
    - python3-0:3.10.1-1.module_el9.src
...
---
document: modulemd
version: 2
data:
  name: python
  stream: "3.12"
  version: 1
  context: abc
  arch: x86_64
  artifacts:
    rpms: [python3-0:3.12.0-1.module_el9.x86_64]
...
---
document: modulemd-translations
version: 1
data: {module: python, stream: "3.10", modified: 1, translations: {}}
...
"#;

    #[test]
    fn streams_keep_their_written_form() {
        let m = parse_str(YAML).unwrap();
        assert_eq!(m.defaults.len(), 1);
        assert_eq!(m.defaults[0].stream.as_deref(), Some("3.10"));
        assert_eq!(m.defaults[0].profiles["3.10"], ["common"]);
        assert_eq!(m.streams.len(), 2);
        assert_eq!(m.streams[0].stream, "3.10");
        assert_eq!(m.streams[0].context, "9");
        assert_eq!(m.streams[0].version, 9050020241107143519);
        assert_eq!(m.streams[0].profiles["common"], ["python3"]);
        assert_eq!(m.streams[0].requires[0]["platform"], ["el9"]);
        assert_eq!(
            artifact_name_arch("python3-0:3.10.1-1.module_el9.x86_64"),
            Some(("python3", "x86_64"))
        );
    }

    fn pkg(name: &str, ver: &str, rel: &str) -> Package {
        let mut p = crate::repo::primary::tests_support::package(name, ver, rel);
        p.arch = "x86_64".into();
        p
    }

    #[test]
    fn default_and_enabled_streams_filter_like_dnf() {
        let m = parse_str(YAML).unwrap();
        let pkgs = [
            pkg("python3", "3.10.1", "1.module_el9"),
            pkg("python3", "3.12.0", "1.module_el9"),
            pkg("python3", "3.9.0", "1.el9"),
            pkg("bash", "5.1", "1.el9"),
        ];
        // Default 3.10: its artifact stays, 3.12's is hidden, and so is the non-modular
        // python3 sharing the active stream's package name.
        let h = hidden(&pkgs, [&m], &ModuleSelection::default());
        assert_eq!(h, [false, true, true, false]);
        let sel = ModuleSelection {
            enabled: vec![("python".into(), "3.12".into())],
            platform: None,
        };
        assert_eq!(hidden(&pkgs, [&m], &sel), [true, false, true, false]);
        // A platform the 3.10 build doesn't run on makes it inactive.
        let sel = ModuleSelection {
            enabled: vec![],
            platform: Some("el8".into()),
        };
        assert_eq!(hidden(&pkgs, [&m], &sel), [true, true, false, false]);
    }
}
