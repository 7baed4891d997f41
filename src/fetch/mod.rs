//! Fetch: download the RPMs a lock pins, in parallel, into a content-addressed cache,
//! verifying checksums and signatures.
