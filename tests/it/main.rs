//! Integration tests: one binary, one module per area.

mod fetch;
mod support;
mod workflows;
mod repo;
mod repoquery;
mod libsolv;
mod bazeldnf;
