//! Integration tests: one binary, one module per area.

mod architecture;
mod bazeldnf;
mod depmod;
mod emit;
mod faults;
mod fetch;
mod fuzz;
mod ldconfig;
mod libsolv;
mod lock;
mod plan;
mod presets;
mod profile;
mod repo;
mod repo_mirrors;
mod repoquery;
mod reprotest;
mod resolve_cs9;
mod rootfs;
mod rpmdb;
mod sbom;
mod security;
mod support;
mod uefi;
mod workflows;
mod xattrs;
