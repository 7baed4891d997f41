//! SOURCE_DATE_EPOCH, decided once per build: every timestamp rootfs and emit write is this
//! value, and the manifest records it with where it came from.
//!
//! The order follows reproducible-builds.org: the `SOURCE_DATE_EPOCH` environment variable
//! wins when set; otherwise the profile's `[image] source_date_epoch` pin; otherwise the
//! newest build time among the locked packages (an input, never the clock).

use crate::lock::Lockfile;
use std::fmt;

/// Where the build's SOURCE_DATE_EPOCH came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochSource {
    /// The `SOURCE_DATE_EPOCH` environment variable.
    Env,
    /// The profile's `[image] source_date_epoch`.
    Profile,
    /// The newest build time among the locked packages.
    Lock,
}

impl EpochSource {
    /// The name the manifest records: `env`, `profile` or `lock`.
    pub fn as_str(self) -> &'static str {
        match self {
            EpochSource::Env => "env",
            EpochSource::Profile => "profile",
            EpochSource::Lock => "lock",
        }
    }
}

impl fmt::Display for EpochSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The build's SOURCE_DATE_EPOCH (seconds since 1970-01-01 UTC) and its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDateEpoch {
    pub value: u64,
    pub from: EpochSource,
}

/// The environment variable's value was set but is not a number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`SOURCE_DATE_EPOCH` is `{value}`, not a whole number of seconds since 1970-01-01 UTC")]
pub struct MalformedEpoch {
    pub value: String,
}

/// Decide: `env` is the environment variable as set (`None` or blank: unset), `pinned` the
/// profile's pin. A malformed variable is an error, as the specification asks, rather than
/// a silent fallback to another date.
pub fn decide(
    env: Option<&str>,
    pinned: Option<u64>,
    lock: &Lockfile,
) -> Result<SourceDateEpoch, MalformedEpoch> {
    if let Some(v) = env.map(str::trim).filter(|v| !v.is_empty()) {
        let value = v.parse::<u64>().map_err(|_| MalformedEpoch {
            value: v.to_owned(),
        })?;
        return Ok(SourceDateEpoch {
            value,
            from: EpochSource::Env,
        });
    }
    if let Some(value) = pinned {
        return Ok(SourceDateEpoch {
            value,
            from: EpochSource::Profile,
        });
    }
    let newest = lock.all_packages().map(|p| p.build_time).max().unwrap_or(0);
    Ok(SourceDateEpoch {
        value: newest,
        from: EpochSource::Lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{LOCK_VERSION, LockedPackage};
    use crate::package::Checksum;

    fn lock(build_times: &[u64], boot: u64) -> Lockfile {
        let pkg = |i: usize, t: u64| LockedPackage {
            name: format!("p{i}"),
            epoch: 0,
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            repo: "r".into(),
            location: format!("p{i}.rpm"),
            checksum: Checksum {
                kind: "sha256".into(),
                value: "00".repeat(32),
            },
            size: 1,
            build_time: t,
        };
        Lockfile {
            version: LOCK_VERSION,
            profile_digest: "d".into(),
            repos: Vec::new(),
            packages: build_times
                .iter()
                .enumerate()
                .map(|(i, &t)| pkg(i, t))
                .collect(),
            boot_packages: vec![pkg(99, boot)],
        }
    }

    fn sde(value: u64, from: EpochSource) -> SourceDateEpoch {
        SourceDateEpoch { value, from }
    }

    #[test]
    fn env_then_profile_then_newest_locked_build_time() {
        let l = lock(&[1_600_000_000, 1_650_000_000], 1_640_000_000);
        let cases: &[(Option<&str>, Option<u64>, SourceDateEpoch)] = &[
            (Some("1234"), Some(5), sde(1234, EpochSource::Env)),
            (Some(" 1234\n"), None, sde(1234, EpochSource::Env)),
            (None, Some(5), sde(5, EpochSource::Profile)),
            (Some(""), Some(5), sde(5, EpochSource::Profile)),
            (None, None, sde(1_650_000_000, EpochSource::Lock)),
        ];
        for (env, pin, want) in cases {
            assert_eq!(decide(*env, *pin, &l).unwrap(), *want, "{env:?} {pin:?}");
        }
        // The boot packages count too.
        let l = lock(&[1], 2_000_000_000);
        assert_eq!(decide(None, None, &l).unwrap().value, 2_000_000_000);
    }

    #[test]
    fn malformed_env_is_an_error_not_a_fallback() {
        let l = lock(&[1], 1);
        for bad in ["abc", "-1", "1.5", "1e9"] {
            let e = decide(Some(bad), Some(5), &l).unwrap_err();
            assert_eq!(e.value, bad);
        }
    }
}
