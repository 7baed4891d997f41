//! Integration tests: one binary, one module per area.

mod fetch;
mod support;
mod workflows;
mod repo;
mod libsolv;
mod bazeldnf;
mod resolve_cs9;
