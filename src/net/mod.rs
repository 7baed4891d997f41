//! The network base under `repo` (metadata) and `fetch` (packages): one HTTP(S)/`file://`
//! client per repository ([`Transport`]), when to retry ([`retry`]), mirrorlist and metalink
//! parsing and the order mirrors are tried in ([`mirrors`]), repository keys and detached
//! signatures ([`Keyring`]), the repository both stages read from ([`Remote`]), and the MAC
//! and IPv4 address rules of the boot network ([`addr`]: parsing, normal forms, subnet, range
//! and uniqueness checks) that `profile` and `emit` share.
//!
//! Nothing here knows about package records, the profile or the lock: `repo` and `fetch`
//! bring the meaning (which file, which checksum), this module moves the bytes and checks
//! who signed them.

pub mod addr;
pub mod keys;
pub mod mirrors;
pub mod remote;
pub mod retry;
pub mod transport;

pub use keys::{KeyError, Keyring, load_keyring};
pub use mirrors::{Metalink, MirrorError, parse_mirrorlist};
pub use remote::Remote;
pub use retry::RetryPolicy;
pub use transport::{Timeouts, TlsConfig, Transport, TransportError};

/// `err: cause: cause`, one line: for warnings and lists of failed attempts, where the
/// `Caused by:` lines of the CLI are not printed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
