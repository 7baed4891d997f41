//! The network base, below both `profile` and `emit`: [`addr`] holds the MAC and IPv4
//! address rules of the boot network (parsing, normal forms, subnet, range and uniqueness
//! checks).

pub mod addr;
