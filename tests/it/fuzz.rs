//! Bounded fuzzing in CI, on the stable toolchain: the same entry points as the `cargo fuzz`
//! targets (fuzz/entries.rs, included below), fed with the seed corpus from
//! `$DISKLESS_FIXTURES` (real repodata, comps, modules, RPMs, cpio archives) and the
//! profiles of this repository, each seed mutated by a small deterministic mutator (bit
//! flips, interesting bytes, deletions, duplications, truncations, splices of two seeds).
//! cargo-fuzz needs a nightly toolchain, which CI cannot fetch; its coverage-guided runs
//! are `fuzz/run.sh` (see fuzz/README.md), this is the bounded run that keeps every target
//! exercised on each push.
//!
//! A panic is a bug: the input is kept as `target/fuzz-crashes/<target>-<n>.bin` and the
//! test fails naming it. A crash found here or by cargo-fuzz becomes a file under
//! `fuzz/regressions/<target>/`, which every run replays first.
//!
//! `DISKLESS_FUZZ_SECS` (default 3) bounds each target's time; `DISKLESS_FUZZ_SEED` picks
//! another mutation sequence (default: fixed, so a failure repeats).

#[path = "../../fuzz/entries.rs"]
mod entries;

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Entry = fn(&[u8]);

/// xorshift64*: small, exact and reproducible from the seed (a fuzzer's dice need no more).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = b"\x00\xff\x7f\x80<>\"&;=/.0179aZ \n";

/// One to four mutations of `seed`, sometimes spliced with `other`.
fn mutate(d: &mut Dice, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=d.below(4) {
        let len = v.len();
        match d.below(7) {
            0 if len > 0 => {
                let i = d.below(len);
                v[i] ^= 1 << d.below(8);
            }
            1 if len > 0 => {
                let i = d.below(len);
                v[i] = INTERESTING[d.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let a = d.below(len);
                let b = (a + 1 + d.below(64)).min(len);
                v.drain(a..b);
            }
            3 if len > 0 => {
                let a = d.below(len);
                let b = (a + 1 + d.below(64)).min(len);
                let piece = v[a..b].to_vec();
                let at = d.below(v.len() + 1);
                v.splice(at..at, piece);
            }
            4 => v.truncate(d.below(len + 1)),
            5 if !other.is_empty() => {
                let cut = d.below(len + 1);
                let from = d.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                let at = d.below(len + 1);
                let n = 1 + d.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| d.next() as u8).collect();
                v.splice(at..at, bytes);
            }
        }
    }
    v
}

/// Files under `root` whose names end with one of `suffixes`, smallest first, at most
/// `max` of them and each under `limit` bytes (decompressed when the name says so).
fn seeds(root: &Path, suffixes: &[&str], max: usize, limit: u64) -> Vec<Vec<u8>> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let name = e.file_name().to_string_lossy().into_owned();
                let size = e.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
                if size <= limit && suffixes.iter().any(|s| name.ends_with(s)) {
                    found.push((size, p));
                }
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .take(max)
        .filter_map(|(_, p)| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let f = std::io::BufReader::new(std::fs::File::open(&p).ok()?);
            let (_, mut r) = diskless::codec::open_named(f, &name).ok()?;
            let mut v = Vec::new();
            r.read_to_end(&mut v).ok()?;
            (v.len() as u64 <= 4 * limit).then_some(v)
        })
        .collect()
}

fn budget() -> Duration {
    let s = std::env::var("DISKLESS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(s)
}

/// Replay the kept regressions, then run the seeds unchanged, then mutants until the
/// budget is spent. Returns the executions run.
fn run(target: &str, entry: Entry, seeds: &[Vec<u8>]) -> u64 {
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut kept: Vec<Vec<u8>> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&regressions) {
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        kept.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    let mut execs = 0u64;
    let check = |input: &[u8], execs: &mut u64| {
        *execs += 1;
        if catch_unwind(AssertUnwindSafe(|| entry(input))).is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{target}-{execs}.bin"));
            let _ = std::fs::write(&path, input);
            panic!(
                "fuzz target `{target}` panicked on {} bytes, kept as {} \
                 (replay: copy it to fuzz/regressions/{target}/ and fix the library)",
                input.len(),
                path.display()
            );
        }
    };
    for k in kept.iter().chain(seeds) {
        check(k, &mut execs);
    }
    let seed = std::env::var("DISKLESS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_d15c_1e55_u64);
    let mut dice = Dice(seed | 1);
    let pool: Vec<&Vec<u8>> = seeds.iter().chain(&kept).collect();
    let start = Instant::now();
    let limit = budget();
    while !pool.is_empty() && start.elapsed() < limit {
        let a = pool[dice.below(pool.len())];
        let b = pool[dice.below(pool.len())];
        let input = mutate(&mut dice, a, b);
        check(&input, &mut execs);
    }
    eprintln!(
        "fuzz `{target}`: {} seeds, {execs} executions in {:.1} s",
        seeds.len(),
        start.elapsed().as_secs_f64()
    );
    execs
}

/// Every target with no seeds would pass without testing anything: fail instead.
fn must(target: &str, seeds: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    assert!(!seeds.is_empty(), "no seeds for the `{target}` fuzz target");
    seeds
}

#[test]
fn fuzz_profile() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut s = seeds(&repo.join("profiles"), &[".toml"], 40, 64 << 10);
    s.extend(seeds(&repo.join("examples"), &[".toml"], 40, 64 << 10));
    let s = must("profile", s);
    run("profile", entries::profile, &s);
}

#[test]
fn fuzz_repomd() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let s = must("repomd", seeds(&fx, &["repomd.xml"], 24, 64 << 10));
    run("repomd", entries::repomd, &s);
}

#[test]
fn fuzz_primary() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let s = seeds(
        &fx,
        &["primary.xml", "primary.xml.gz", "primary.xml.zst"],
        12,
        256 << 10,
    );
    run("primary", entries::primary, &must("primary", s));
}

#[test]
fn fuzz_filelists() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let s = seeds(&fx, &["filelists.xml", "filelists.xml.gz"], 12, 256 << 10);
    run("filelists", entries::filelists, &must("filelists", s));
}

#[test]
fn fuzz_comps() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let s = seeds(
        &fx,
        &["comps-f19.xml", "comps.xml", "comps.xml.gz"],
        6,
        1 << 20,
    );
    run("comps", entries::comps, &must("comps", s));
}

#[test]
fn fuzz_modules() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let s = seeds(&fx, &["modules.yaml", "modules.yaml.xz"], 4, 1 << 20);
    run("modules", entries::modules, &must("modules", s));
}

#[test]
fn fuzz_rpm() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let s = seeds(&fx, &[".rpm"], 12, 32 << 10);
    run("rpm", entries::rpm, &must("rpm", s));
}

#[test]
fn fuzz_cpio() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let mut s = seeds(&fx, &[".cpio"], 8, 1 << 20);
    // A newc archive of our own: a folder, a file, a hardlink pair, the trailer.
    let mut newc = Vec::new();
    for (ino, mode, nlink, name, data) in [
        (1u32, 0o040755u32, 2u32, "d", &b""[..]),
        (2, 0o100644, 2, "d/a", b"hello\n"),
        (2, 0o100644, 2, "d/b", b"hello\n"),
        (0, 0, 1, "TRAILER!!!", b""),
    ] {
        let head = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0,
            0,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        newc.extend_from_slice(head.as_bytes());
        newc.extend_from_slice(name.as_bytes());
        newc.push(0);
        while newc.len() % 4 != 0 {
            newc.push(0);
        }
        newc.extend_from_slice(data);
        while newc.len() % 4 != 0 {
            newc.push(0);
        }
    }
    s.push(newc);
    run("cpio", entries::cpio, &s);
}
