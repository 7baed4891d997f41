//! Integration tests: one binary, one module per area.

mod architecture;
mod bazeldnf;
mod depmod;
mod emit;
mod faults;
mod fetch;
mod libsolv;
mod lock;
mod plan;
mod profile;
mod repo;
mod repo_mirrors;
mod repoquery;
mod reprotest;
mod resolve_cs9;
mod rootfs;
mod security;
mod support;
mod workflows;
