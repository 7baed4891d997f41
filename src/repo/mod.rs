//! Repository metadata: `.repo` files, repomd.xml, primary/filelists (gz, xz, zst, bz2),
//! comps groups and modules.yaml, each checked against repomd.xml's checksums.
