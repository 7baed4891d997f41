//! Integration tests: one binary, one module per area.

mod bazeldnf;
mod depmod;
mod emit;
mod fetch;
mod libsolv;
mod lock;
mod profile;
mod repo;
mod repo_mirrors;
mod repoquery;
mod reprotest;
mod resolve_cs9;
mod rootfs;
mod rpmdb;
mod support;
mod workflows;
