//! Integration tests: one binary, one module per area.

mod fetch;
mod support;
mod profile;
mod workflows;
mod repo;
mod libsolv;
mod bazeldnf;
