//! dnf's choice among the providers of one capability, for an empty install root.
//!
//! Within one package name the candidates are ordered by [`super::index::Index::rank`]
//! (highest EVR, then target arch before noarch, then cheaper repository). Across names
//! this module decides which provider name is tried first:
//! 1. a package whose name equals the capability (dnf installs `foo` for `Requires: foo`
//!    even when others provide `foo` too);
//! 2. the best repository priority (libsolv prunes to the highest priority first);
//! 3. a name that is not obsoleted by another candidate;
//! 4. the shorter name, then the name in byte order: a deterministic stand-in for
//!    libsolv's final tie-break (which depends on the order repositories were loaded).

use super::PkgId;
use super::provider::Provider;
use resolvo::{DenseIndex, NameId};

/// The resolvo names of `providers` (sorted by rank), best first by the policy above.
pub fn order_provider_names(
    p: &Provider<'_>,
    cap: Option<&str>,
    providers: &[PkgId],
) -> Vec<NameId> {
    // (name id, best provider of that name)
    let mut groups: Vec<(NameId, PkgId)> = Vec::new();
    for &id in providers {
        let Some(n) = p.pkg_name[id] else { continue };
        if !groups.iter().any(|(g, _)| *g == n) {
            groups.push((n, id));
        }
    }
    let ix = p.ix;
    groups.sort_by(|&(na, a), &(nb, b)| {
        let (pa, pb) = (&ix.pkgs[a], &ix.pkgs[b]);
        let named = |x: &str| cap.is_some_and(|c| c == x);
        named(&pb.name)
            .cmp(&named(&pa.name))
            .then_with(|| ix.priority[a].cmp(&ix.priority[b]))
            .then_with(|| ix.arch_class[a].cmp(&ix.arch_class[b]))
            .then_with(|| pa.name.len().cmp(&pb.name.len()))
            .then_with(|| pa.name.cmp(&pb.name))
            .then_with(|| na.to_index().cmp(&nb.to_index()))
    });
    groups.into_iter().map(|(n, _)| n).collect()
}
