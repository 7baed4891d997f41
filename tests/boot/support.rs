//! The integration tests' helpers the boot tests need, compiled from their files in
//! tests/it/support/ so each is written once: the RPM builder, createrepo_c, the HTTP server,
//! processes. examples/fixture_repo.rs includes this file too (for the fixture builder).
// Each binary uses a part of them.
#![allow(dead_code)]

#[path = "../it/support/http.rs"]
pub mod http;
#[path = "../it/support/proc.rs"]
pub mod proc;
#[path = "../it/support/repo.rs"]
pub mod repo;
#[path = "../it/support/rpm.rs"]
pub mod rpm;
