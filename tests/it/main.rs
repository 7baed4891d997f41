//! Integration tests: one binary, one module per area.

mod bazeldnf;
mod emit;
mod fetch;
mod libsolv;
mod lock;
mod repo;
mod repoquery;
mod support;
mod rootfs;
mod profile;
mod reprotest;
mod workflows;
mod resolve_cs9;
