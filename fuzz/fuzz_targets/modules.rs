//! `cargo fuzz run modules`: see ../entries.rs for what it checks.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::modules(data));
