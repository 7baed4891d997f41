//! The profile: what the admin asked for, read from TOML and validated.
