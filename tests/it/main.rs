//! Integration tests: one binary, one module per area.

mod bazeldnf;
mod fetch;
mod libsolv;
mod repo;
mod repoquery;
mod emit;
mod fetch;
mod libsolv;
mod repo;
mod support;
mod workflows;
