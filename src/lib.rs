//! diskless: build rootless, bit-reproducible boot images for diskless (PXE-booted)
//! RHEL-family clusters.
//!
//! The pipeline, one module per stage:
//! `profile` (what the admin asked for) -> `repo` (what the repositories offer) ->
//! `solve` (which packages, pure) -> `lock` (pinned on disk) -> `fetch` (RPMs, verified) ->
//! `rootfs` (the image tree, in memory, contents on disk) -> `emit` (initramfs, tftp tree,
//! configs, OCI image, manifest).
//!
//! `package` holds the package record that flows from `repo` through `solve` into `lock`.
//! `plan` sits above the stages: it maps the profile and the lock onto each stage's plain
//! input and runs the build; the stages import neither `profile` nor `lock`.
//! `boottest` reads a build's output and PXE-boots it in QEMU (`diskless boot-test`).
//! `docs/architecture.md` has the layering and the test that keeps it.

pub mod boottest;
pub mod codec;
pub mod cpio;
pub mod emit;
pub mod fetch;
pub mod fsx;
pub mod lock;
pub mod net;
pub mod package;
pub mod plan;
pub mod profile;
pub mod repo;
pub mod rootfs;
pub mod solve;

/// The tool's version, recorded in manifests and lockfiles.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
