//! Download throughput of `plan::fetch_lock` with 1 vs N parallel jobs, from a local HTTP
//! server on 127.0.0.1 serving RPMs built here.
//!
//! Two server profiles:
//! - `local`: as fast as the loopback goes (measures our own overhead: hashing, verifying,
//!   fsync, rename).
//! - `mirror`: each request waits `--latency-ms` before the first byte and each connection
//!   is limited to `--conn-mbps` MiB/s, like a distant public mirror; this is what parallel
//!   jobs are for.
//!
//! Run: `bench/fetch.sh` (or `cargo bench --bench fetch -- --pkgs 64 --size-kib 512`).
//! Every run uses a fresh cache, so every package is downloaded and verified.

use diskless::fetch::{FetchOptions, Silent};
use diskless::lock::{LOCK_VERSION, LockedPackage, LockedRepo, Lockfile};
use diskless::net::Remote;
use diskless::package::Checksum;
use diskless::plan::fetch_lock;
use sha2::Digest;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    pkgs: usize,
    size_kib: usize,
    jobs: Vec<usize>,
    latency_ms: u64,
    conn_mbps: f64,
}

fn parse_args() -> Args {
    let mut a = Args {
        pkgs: 64,
        size_kib: 512,
        jobs: vec![1, 2, 4, 8, 16],
        latency_ms: 50,
        conn_mbps: 4.0,
    };
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|s| s != "--bench")
        .collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let v = it.next().cloned().unwrap_or_default();
        match k.as_str() {
            "--pkgs" => a.pkgs = v.parse().expect("--pkgs N"),
            "--size-kib" => a.size_kib = v.parse().expect("--size-kib N"),
            "--jobs" => {
                a.jobs = v
                    .split(',')
                    .map(|j| j.parse().expect("--jobs 1,4,8"))
                    .collect()
            }
            "--latency-ms" => a.latency_ms = v.parse().expect("--latency-ms N"),
            "--conn-mbps" => a.conn_mbps = v.parse().expect("--conn-mbps X"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

#[derive(Clone, Copy)]
struct Shape {
    latency: Duration,
    /// Bytes per second per connection; 0 = unlimited.
    rate: u64,
}

fn serve(files: Arc<BTreeMap<String, Vec<u8>>>, shape: Shape) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let files = files.clone();
            std::thread::spawn(move || {
                let _ = handle(c, &files, shape);
            });
        }
    });
    port
}

fn handle(c: TcpStream, files: &BTreeMap<String, Vec<u8>>, shape: Shape) -> std::io::Result<()> {
    let mut r = BufReader::new(c.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
    }
    let mut c = c;
    std::thread::sleep(shape.latency);
    let Some(body) = files.get(&path) else {
        return write!(
            c,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    write!(
        c,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let start = Instant::now();
    let mut sent = 0u64;
    for chunk in body.chunks(32 * 1024) {
        c.write_all(chunk)?;
        sent += chunk.len() as u64;
        if shape.rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / shape.rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    Ok(())
}

fn noise(seed: usize, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e3779b97f4a7c15 ^ seed as u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn main() {
    let a = parse_args();
    eprintln!("building {} RPMs of {} KiB ...", a.pkgs, a.size_kib);
    let mut files = BTreeMap::new();
    let mut locked = Vec::new();
    for i in 0..a.pkgs {
        let name = format!("bench{i:04}");
        let mut b = rpm::PackageBuilder::new(&name, "1.0", "MIT", "noarch", "bench package");
        b.release("1").using_config(
            rpm::BuildConfig::v4()
                .source_date(1_700_000_000u32)
                .compression(rpm::CompressionType::None),
        );
        b.with_file_contents(
            noise(i, a.size_kib * 1024),
            rpm::FileOptions::new(format!("/usr/share/{name}")),
        )
        .expect("file");
        let mut bytes = Vec::new();
        b.build().expect("build").write(&mut bytes).expect("write");
        let location = format!("Packages/{name}-1.0-1.noarch.rpm");
        locked.push(LockedPackage {
            name,
            epoch: 0,
            version: "1.0".into(),
            release: "1".into(),
            arch: "noarch".into(),
            repo: "bench".into(),
            location: location.clone(),
            checksum: Checksum {
                kind: "sha256".into(),
                value: hex::encode(sha2::Sha256::digest(&bytes)),
            },
            size: bytes.len() as u64,
            build_time: 1_700_000_000,
        });
        files.insert(format!("/repo/{location}"), bytes);
    }
    let total: u64 = locked.iter().map(|p| p.size).sum();
    let files = Arc::new(files);
    let shapes = [
        (
            "local",
            Shape {
                latency: Duration::ZERO,
                rate: 0,
            },
        ),
        (
            "mirror",
            Shape {
                latency: Duration::from_millis(a.latency_ms),
                rate: (a.conn_mbps * 1024.0 * 1024.0) as u64,
            },
        ),
    ];
    println!(
        "{} packages, {:.1} MiB in total; mirror = {} ms first-byte latency, {} MiB/s per connection",
        a.pkgs,
        total as f64 / 1048576.0,
        a.latency_ms,
        a.conn_mbps
    );
    println!(
        "{:<8} {:>5} {:>9} {:>10} {:>8}",
        "server", "jobs", "seconds", "MiB/s", "speedup"
    );
    for (label, shape) in shapes {
        let port = serve(files.clone(), shape);
        let base = format!("http://127.0.0.1:{port}/repo/");
        let lock = Lockfile {
            version: LOCK_VERSION,
            profile_digest: "bench".into(),
            repos: vec![LockedRepo {
                id: "bench".into(),
                baseurl: base.clone(),
                revision: None,
                repomd_sha256: "0".repeat(64),
            }],
            packages: locked.clone(),
            boot_packages: Vec::new(),
        };
        let repo = Remote::new("bench", &base);
        let mut first = None;
        for &jobs in &a.jobs {
            let cache = tempfile::tempdir().expect("tempdir");
            let mut opts = FetchOptions::new(cache.path());
            opts.jobs = jobs;
            let t = Instant::now();
            let got =
                fetch_lock(&lock, std::slice::from_ref(&repo), &opts, &Silent).expect("fetch");
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(got.len(), a.pkgs);
            let base_secs = *first.get_or_insert(secs);
            println!(
                "{label:<8} {jobs:>5} {secs:>9.2} {:>10.1} {:>7.1}x",
                total as f64 / 1048576.0 / secs,
                base_secs / secs
            );
        }
    }
}
