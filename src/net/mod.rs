//! The network base under `repo` (metadata) and `fetch` (packages): one HTTP(S)/`file://`
//! client per repository ([`Transport`]), when to retry ([`retry`]), and mirrorlist and
//! metalink parsing ([`mirrors`]).
//!
//! Nothing here knows about package records, the profile or the lock: `repo` and `fetch`
//! bring the meaning (which file, which checksum), this module moves the bytes.

pub mod mirrors;
pub mod retry;
pub mod transport;

pub use mirrors::{Metalink, MirrorError, parse_mirrorlist};
pub use retry::RetryPolicy;
pub use transport::{Timeouts, TlsConfig, Transport, TransportError};
