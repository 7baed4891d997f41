//! Integration tests: one binary, one module per area.

mod bazeldnf;
mod fetch;
mod libsolv;
mod repo;
mod repoquery;
mod support;
mod workflows;
