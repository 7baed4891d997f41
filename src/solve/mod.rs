//! Dependency resolution with rpm's semantics: version comparison, range matching,
//! rich dependencies, and a SAT solver (resolvo). Pure: no network, no disk.
