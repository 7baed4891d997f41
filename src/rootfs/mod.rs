//! The root filesystem of the image, assembled from RPM headers and payloads without
//! root, chroot or scriptlets.
//!
//! The tree lives in memory as metadata ([`tree::Tree`]); file contents live in a
//! content-addressed store on disk ([`store::Store`]) so that a 2 GB image does not need
//! 2 GB of RAM. `emit` reads both.

pub mod store;
pub mod tree;
