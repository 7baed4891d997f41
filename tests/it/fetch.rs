//! Fetch against a real HTTP server on 127.0.0.1 that serves RPMs built (and signed) here or
//! taken from the shared fixtures, and injects faults: server errors, resets mid-body,
//! truncated bodies, wrong bytes, stalls, 404 on one mirror. Every case must end in the right
//! file or a clear error, and no wrong file may ever land in the cache.

use crate::support::http::{Fault, Server};
use crate::support::keys::{TestKey, detached_sign, gen_key, gen_secret_key};
use crate::support::rpm::{Entry, Rpm};
use crate::support::tls::{have_openssl, make_pki, mtls_server};
use crate::support::{error_chain, files_under, noise, regex_escape};
use diskless::fetch::{FetchError, FetchOptions, FetchedPackage, Reporter, Silent};
use diskless::lock::{LOCK_VERSION, LockedPackage, LockedRepo, Lockfile};
use diskless::net::{Remote, RetryPolicy, Timeouts};
use diskless::package::Checksum;
use diskless::plan::fetch_lock;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Packages, locks, options.

/// A package the tests serve, and pin in locks.
#[derive(Clone)]
struct TestPkg {
    name: String,
    version: String,
    bytes: Vec<u8>,
}

impl TestPkg {
    /// A noarch RPM `name-1.0-1` with one file of `payload` pseudo-random bytes, uncompressed,
    /// signed with `key` if given.
    fn new(name: &str, payload: usize, key: Option<&TestKey>) -> TestPkg {
        let rpm = Rpm::new(name, "1.0")
            .summary(format!("The {name} test package"))
            .compression(rpm::CompressionType::None)
            .entry(Entry::file(
                format!("/usr/share/{name}/data"),
                noise(name, payload),
            ));
        let bytes = match key {
            Some(k) => rpm.signed_bytes(&k.signer),
            None => rpm.bytes(),
        };
        TestPkg {
            name: name.into(),
            version: "1.0".into(),
            bytes: bytes.unwrap(),
        }
    }
    fn file(&self) -> String {
        format!("{}-{}-1.noarch.rpm", self.name, self.version)
    }
    /// The server path under a mirror prefix.
    fn path(&self, prefix: &str) -> String {
        format!("/{prefix}/Packages/{}", self.file())
    }
    fn sha256(&self) -> String {
        hex::encode(sha2::Sha256::digest(&self.bytes))
    }
    fn locked(&self, repo: &str) -> LockedPackage {
        LockedPackage {
            name: self.name.clone(),
            epoch: 0,
            version: self.version.clone(),
            release: "1".into(),
            arch: "noarch".into(),
            repo: repo.into(),
            location: format!("Packages/{}", self.file()),
            checksum: Checksum {
                kind: "sha256".into(),
                value: self.sha256(),
            },
            size: self.bytes.len() as u64,
            build_time: 1_700_000_000,
        }
    }
}

fn lock_of(repo: &str, baseurl: &str, pkgs: &[TestPkg]) -> Lockfile {
    Lockfile {
        version: LOCK_VERSION,
        profile_digest: "test".into(),
        repos: vec![LockedRepo {
            id: repo.into(),
            baseurl: baseurl.into(),
            revision: None,
            repomd_sha256: "0".repeat(64),
        }],
        packages: pkgs.iter().map(|p| p.locked(repo)).collect(),
        boot_packages: Vec::new(),
    }
}

/// Fast retries and short timeouts, so fault tests take milliseconds.
fn quick_opts(cache: &Path, jobs: usize) -> FetchOptions {
    let mut o = FetchOptions::new(cache);
    o.jobs = jobs;
    o.retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    };
    o.timeouts = Some(Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_millis(1500),
        ..Timeouts::default()
    });
    o
}

fn signed_repo(id: &str, baseurls: &[String], key_file: &Path) -> Remote {
    Remote {
        gpgcheck: true,
        gpgkeys: vec![key_file.display().to_string()],
        baseurls: baseurls.to_vec(),
        ..Remote::new(id, "")
    }
}

/// The cache holds exactly `pkgs`, each once under its sha256 with the right bytes, and
/// nothing else (no temp file, no wrong file).
fn assert_cache_holds(cache: &Path, pkgs: &[&TestPkg]) {
    let mut expect: Vec<PathBuf> = pkgs
        .iter()
        .map(|p| {
            let s = p.sha256();
            cache.join("packages/sha256").join(&s[..2]).join(&s[2..])
        })
        .collect();
    expect.sort();
    expect.dedup();
    assert_eq!(files_under(cache), expect);
    for p in pkgs {
        let s = p.sha256();
        assert_eq!(
            std::fs::read(cache.join("packages/sha256").join(&s[..2]).join(&s[2..])).unwrap(),
            p.bytes
        );
    }
}

fn check_fetched(got: &[FetchedPackage], pkgs: &[&TestPkg]) {
    assert_eq!(got.len(), pkgs.len());
    for (g, p) in got.iter().zip(pkgs) {
        assert_eq!(g.name, p.name);
        assert_eq!(std::fs::read(&g.path).unwrap(), p.bytes, "{}", g.nevra);
    }
}

/// The whole error chain on one line.
fn chain(e: &FetchError) -> String {
    error_chain(e, " | ")
}

struct Env {
    tmp: tempfile::TempDir,
    server: Server,
    key: TestKey,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let key = gen_key(1, "diskless test <test@example.org>");
        std::fs::write(tmp.path().join("RPM-GPG-KEY-test"), &key.public_asc).unwrap();
        Env {
            tmp,
            server: Server::start(),
            key,
        }
    }
    fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }
    fn key_file(&self) -> PathBuf {
        self.tmp.path().join("RPM-GPG-KEY-test")
    }
    /// Serve `pkgs` under `prefix`.
    fn serve(&self, prefix: &str, pkgs: &[TestPkg]) {
        for p in pkgs {
            self.server.put(&p.path(prefix), &p.bytes);
        }
    }
    fn repo(&self, prefixes: &[&str]) -> Remote {
        let urls: Vec<String> = prefixes.iter().map(|p| self.server.url(p)).collect();
        signed_repo("test", &urls, &self.key_file())
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn fetch_downloads_verifies_and_second_fetch_makes_no_requests() {
    let env = Env::new();
    let pkgs: Vec<TestPkg> = (0..6)
        .map(|i| TestPkg::new(&format!("pkg{i}"), 20_000 + i * 7000, Some(&env.key)))
        .collect();
    env.serve("m1", &pkgs);
    let lock = lock_of("test", &env.server.url("m1"), &pkgs);
    let repo = env.repo(&["m1"]);

    let got = fetch_lock(
        &lock,
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 4),
        &Silent,
    )
    .unwrap();
    let refs: Vec<&TestPkg> = pkgs.iter().collect();
    check_fetched(&got, &refs);
    assert!(
        got.iter()
            .all(|g| !g.from_cache && g.signature == diskless::fetch::SignatureCheck::Verified)
    );
    assert_eq!(env.server.rpm_hits(), 6);
    assert_cache_holds(&env.cache(), &refs);

    let again = fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 4), &Silent).unwrap();
    check_fetched(&again, &refs);
    assert!(again.iter().all(|g| g.from_cache));
    assert_eq!(
        env.server.rpm_hits(),
        6,
        "a second fetch of the same lock makes zero package requests"
    );
}

#[test]
fn transient_faults_are_retried_until_the_right_file_arrives() {
    let env = Env::new();
    let faults: &[(&str, &[Fault])] = &[
        ("e500", &[Fault::Status(500)]),
        ("e503x2", &[Fault::Status(503), Fault::Status(503)]),
        ("e429", &[Fault::Status(429)]),
        ("reset", &[Fault::Reset]),
        ("trunc", &[Fault::Truncate]),
        ("short", &[Fault::ShortNoLength]),
        ("stall", &[Fault::Stall]),
    ];
    let pkgs: Vec<TestPkg> = faults
        .iter()
        .map(|(n, _)| TestPkg::new(n, 64 * 1024, Some(&env.key)))
        .collect();
    env.serve("m1", &pkgs);
    for (p, (_, f)) in pkgs.iter().zip(faults) {
        env.server.faults(&p.path("m1"), f);
    }
    let lock = lock_of("test", &env.server.url("m1"), &pkgs);
    let got = fetch_lock(
        &lock,
        &[env.repo(&["m1"])],
        &quick_opts(&env.cache(), 3),
        &Silent,
    )
    .unwrap();
    let refs: Vec<&TestPkg> = pkgs.iter().collect();
    check_fetched(&got, &refs);
    for (p, (_, f)) in pkgs.iter().zip(faults) {
        assert_eq!(env.server.hits(&p.path("m1")), f.len() + 1, "{}", p.name);
    }
    assert_cache_holds(&env.cache(), &refs);
}

#[test]
fn a_404_or_wrong_bytes_on_one_mirror_fail_over_to_the_next() {
    let env = Env::new();
    let a = TestPkg::new("only-on-m2", 30_000, Some(&env.key));
    let b = TestPkg::new("wrong-on-m1", 30_000, Some(&env.key));
    let c = TestPkg::new("down-m1", 30_000, Some(&env.key));
    env.serve("m1", std::slice::from_ref(&b));
    env.serve("m1", std::slice::from_ref(&c));
    env.serve("m2", &[a.clone(), b.clone(), c.clone()]);
    env.server.always(&b.path("m1"), Fault::Wrong);
    env.server.always(&c.path("m1"), Fault::Status(502));
    let pkgs = [a.clone(), b.clone(), c.clone()];
    let lock = lock_of("test", &env.server.url("m1"), &pkgs);
    let got = fetch_lock(
        &lock,
        &[env.repo(&["m1", "m2"])],
        &quick_opts(&env.cache(), 2),
        &Silent,
    )
    .unwrap();
    check_fetched(&got, &[&a, &b, &c]);
    // A 404 is final for that mirror; wrong bytes too (asking again gives the same bytes);
    // a 502 is retried (3 attempts) before moving on.
    assert_eq!(env.server.hits(&a.path("m1")), 1);
    assert_eq!(env.server.hits(&b.path("m1")), 1);
    assert_eq!(env.server.hits(&c.path("m1")), 3);
    for p in [&a, &b, &c] {
        assert_eq!(env.server.hits(&p.path("m2")), 1, "{}", p.name);
    }
    assert_cache_holds(&env.cache(), &[&a, &b, &c]);
}

#[test]
fn persistent_faults_end_in_clear_errors_and_an_empty_cache() {
    let env = Env::new();
    let cases: &[(&str, Fault, &str)] = &[
        ("always500", Fault::Status(500), "answered HTTP 500"),
        ("always404", Fault::Status(404), "answered HTTP 404"),
        (
            "alwayswrong",
            Fault::Wrong,
            "Checksum mismatch for `alwayswrong-1.0-1.noarch` from `http://127.0.0.1:",
        ),
        (
            "alwaystrunc",
            Fault::ShortNoLength,
            "ended after 18208 of 36417 bytes",
        ),
        ("alwaysreset", Fault::Reset, "Reading the body of"),
        ("alwaysstall", Fault::Stall, "Timed out waiting for"),
    ];
    for (name, fault, expect) in cases {
        let p = TestPkg::new(name, 30_000, Some(&env.key));
        env.serve("m1", std::slice::from_ref(&p));
        env.server.always(&p.path("m1"), *fault);
        let lock = lock_of("test", &env.server.url("m1"), std::slice::from_ref(&p));
        let err = fetch_lock(
            &lock,
            &[env.repo(&["m1"])],
            &quick_opts(&env.cache(), 1),
            &Silent,
        )
        .unwrap_err();
        let msg = chain(&err);
        assert!(
            msg.starts_with(&format!(
                "Cannot fetch `{name}-1.0-1.noarch` | Every source failed:"
            )),
            "{msg}"
        );
        assert!(msg.contains(expect), "{name}: {msg}");
        assert_eq!(
            files_under(&env.cache()),
            Vec::<PathBuf>::new(),
            "{name}: nothing may land in the cache"
        );
    }
}

#[test]
fn tampered_payload_tampered_header_and_foreign_keys_are_rejected() {
    let env = Env::new();
    let good = TestPkg::new("good", 40_000, Some(&env.key));

    // Payload: change the last byte (inside the uncompressed payload).
    let mut payload = TestPkg::new("tampered-payload", 40_000, Some(&env.key));
    let n = payload.bytes.len();
    payload.bytes[n - 10] ^= 1;

    // Header: change one letter of the summary.
    let mut header = TestPkg::new("tampered-header", 40_000, Some(&env.key));
    let at = find(&header.bytes, b"The tampered-header test package").unwrap();
    header.bytes[at] = b'X';

    let other = gen_key(2, "someone else <else@example.org>");
    let foreign = TestPkg::new("foreign", 40_000, Some(&other));
    let unsigned = TestPkg::new("unsigned", 40_000, None);

    let cases: Vec<(&TestPkg, String)> = vec![
        (
            &payload,
            "Payload digest mismatch in `tampered-payload-1.0-1.noarch`: the payload was altered"
                .into(),
        ),
        (
            &header,
            "Header digest mismatch in `tampered-header-1.0-1.noarch`: the header was altered"
                .into(),
        ),
        (
            &foreign,
            format!(
                "`foreign-1.0-1.noarch` is signed with key {}, which is not among the keys of repository `test` (known: {}",
                other.key_id, env.key.key_id
            ),
        ),
        (
            &unsigned,
            "`unsigned-1.0-1.noarch` is not signed, but repository `test` has gpgcheck on".into(),
        ),
    ];
    for (p, expect) in &cases {
        // The lock pins the bad file's own checksum (a hostile repository's metadata): only the
        // RPM-level checks stand between it and the cache.
        env.serve("m1", &[(*p).clone(), good.clone()]);
        let lock = lock_of("test", &env.server.url("m1"), &[good.clone(), (*p).clone()]);
        let err = fetch_lock(
            &lock,
            &[env.repo(&["m1"])],
            &quick_opts(&env.cache(), 1),
            &Silent,
        )
        .unwrap_err();
        let msg = chain(&err);
        assert!(
            msg.contains(expect.as_str()),
            "expected {expect:?} in {msg}"
        );
        assert_cache_holds(&env.cache(), &[&good]);
        assert_eq!(
            env.server.hits(&p.path("m1")),
            1,
            "a bad package is not downloaded again: {msg}"
        );
    }

    // `gpgcheck = false` accepts the foreign and the unsigned package, and says so.
    let mut repo = env.repo(&["m1"]);
    repo.gpgcheck = false;
    let lock = lock_of(
        "test",
        &env.server.url("m1"),
        &[foreign.clone(), unsigned.clone()],
    );
    let got = fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 1), &Silent).unwrap();
    assert!(
        got.iter()
            .all(|g| g.signature == diskless::fetch::SignatureCheck::Disabled)
    );
    // Digests are still checked with gpgcheck off.
    let mut repo = env.repo(&["m1"]);
    repo.gpgcheck = false;
    let lock = lock_of(
        "test",
        &env.server.url("m1"),
        std::slice::from_ref(&payload),
    );
    let err = fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 1), &Silent).unwrap_err();
    assert!(
        chain(&err).contains("Payload digest mismatch"),
        "{}",
        chain(&err)
    );
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_cached_package_is_checked_against_the_current_keys() {
    let env = Env::new();
    let p = TestPkg::new("cached", 20_000, Some(&env.key));
    env.serve("m1", std::slice::from_ref(&p));
    let lock = lock_of("test", &env.server.url("m1"), std::slice::from_ref(&p));
    fetch_lock(
        &lock,
        &[env.repo(&["m1"])],
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    // The profile now trusts another key only.
    let other = gen_key(3, "new key <new@example.org>");
    let kf = env.tmp.path().join("other.asc");
    std::fs::write(&kf, &other.public_asc).unwrap();
    let repo = signed_repo("test", &[env.server.url("m1")], &kf);
    let err = fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 1), &Silent).unwrap_err();
    assert!(
        chain(&err).contains(&format!("is signed with key {}", env.key.key_id)),
        "{}",
        chain(&err)
    );
    assert_eq!(env.server.rpm_hits(), 1);
}

#[test]
fn corrupt_cache_entries_are_detected_and_fetched_again() {
    let env = Env::new();
    let p = TestPkg::new("corrupt", 20_000, Some(&env.key));
    env.serve("m1", std::slice::from_ref(&p));
    let lock = lock_of("test", &env.server.url("m1"), std::slice::from_ref(&p));
    let repo = env.repo(&["m1"]);
    let got = fetch_lock(
        &lock,
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    let entry = got[0].path.clone();

    // Truncated entry: the size check on every use catches it.
    std::fs::write(&entry, &p.bytes[..100]).unwrap();
    let got = fetch_lock(
        &lock,
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    assert!(!got[0].from_cache);
    assert_eq!(env.server.rpm_hits(), 2);
    assert_cache_holds(&env.cache(), &[&p]);

    // Same size, one letter of the header changed: the header digest, checked on every use,
    // catches it.
    let mut bad = p.bytes.clone();
    let at = find(&bad, b"The corrupt test package").unwrap();
    bad[at] = b'X';
    std::fs::write(&entry, &bad).unwrap();
    let got = fetch_lock(
        &lock,
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    assert!(!got[0].from_cache);
    assert_eq!(env.server.rpm_hits(), 3);
    assert_cache_holds(&env.cache(), &[&p]);

    // Same size, one payload bit flipped: only `--verify-cache` (re-hash) catches it.
    let mut bad = p.bytes.clone();
    bad[5000] ^= 1;
    std::fs::write(&entry, &bad).unwrap();
    let mut opts = quick_opts(&env.cache(), 1);
    opts.verify_cache = true;
    let got = fetch_lock(&lock, &[repo], &opts, &Silent).unwrap();
    assert!(!got[0].from_cache);
    assert_eq!(env.server.rpm_hits(), 4);
    assert_cache_holds(&env.cache(), &[&p]);
}

#[test]
fn offline_names_every_missing_package() {
    let env = Env::new();
    let pkgs: Vec<TestPkg> = ["have", "miss-a", "miss-b"]
        .iter()
        .map(|n| TestPkg::new(n, 10_000, Some(&env.key)))
        .collect();
    env.serve("m1", &pkgs[..1]);
    let repo = env.repo(&["m1"]);
    fetch_lock(
        &lock_of("test", &env.server.url("m1"), &pkgs[..1]),
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    let lock = lock_of("test", &env.server.url("m1"), &pkgs);
    let mut opts = quick_opts(&env.cache(), 2);
    opts.offline = true;
    let err = fetch_lock(&lock, std::slice::from_ref(&repo), &opts, &Silent).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Offline, and 2 locked packages are not in the cache: `miss-a-1.0-1.noarch`, `miss-b-1.0-1.noarch`"
    );
    assert_eq!(env.server.rpm_hits(), 1);
    // Offline with everything cached works (and still checks signatures).
    let got = fetch_lock(
        &lock_of("test", &env.server.url("m1"), &pkgs[..1]),
        &[repo],
        &opts,
        &Silent,
    )
    .unwrap();
    assert!(got[0].from_cache);
}

#[test]
fn two_fetches_racing_on_one_cache_both_succeed() {
    let env = Env::new();
    let pkgs: Vec<TestPkg> = (0..8)
        .map(|i| TestPkg::new(&format!("race{i}"), 200_000, Some(&env.key)))
        .collect();
    env.serve("m1", &pkgs);
    // Slow enough that the two runs overlap on every file.
    env.server.throttle(Duration::from_millis(2));
    let lock = lock_of("test", &env.server.url("m1"), &pkgs);
    let repo = env.repo(&["m1"]);
    let results: Vec<Vec<FetchedPackage>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    fetch_lock(
                        &lock,
                        std::slice::from_ref(&repo),
                        &quick_opts(&env.cache(), 4),
                        &Silent,
                    )
                    .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let refs: Vec<&TestPkg> = pkgs.iter().collect();
    for r in &results {
        check_fetched(r, &refs);
    }
    assert_cache_holds(&env.cache(), &refs);
}

#[test]
fn duplicate_files_and_non_sha256_locks() {
    let env = Env::new();
    let p = TestPkg::new("dup", 10_000, Some(&env.key));
    let q = TestPkg::new("sha1pinned", 10_000, Some(&env.key));
    env.serve("m1", &[p.clone(), q.clone()]);
    let mut lock = lock_of("test", &env.server.url("m1"), &[p.clone(), q.clone()]);
    // The same file pinned as an image and a boot package is downloaded once.
    lock.boot_packages.push(p.locked("test"));
    // Old repositories publish sha1 checksums: the cache finds the entry through an alias.
    lock.packages[1].checksum = Checksum {
        kind: "sha1".into(),
        value: hex::encode(sha1::Sha1::digest(&q.bytes)),
    };
    let repo = env.repo(&["m1"]);
    let got = fetch_lock(
        &lock,
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 3),
        &Silent,
    )
    .unwrap();
    check_fetched(&got, &[&p, &q, &p]);
    assert_eq!(env.server.hits(&p.path("m1")), 1);
    let again = fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 3), &Silent).unwrap();
    assert!(again.iter().all(|g| g.from_cache));
    assert_eq!(env.server.rpm_hits(), 2);
}

/// Counts what a reporter is told.
#[derive(Default)]
struct Counting {
    start: Mutex<Option<(usize, u64)>>,
    bytes: AtomicU64,
    discarded: AtomicU64,
    done: AtomicU64,
    cached: AtomicU64,
}

impl Reporter for Counting {
    fn on_start(&self, n: usize, b: u64) {
        *self.start.lock().unwrap() = Some((n, b));
    }
    fn on_progress(&self, b: u64) {
        self.bytes.fetch_add(b, Ordering::SeqCst);
    }
    fn on_discard(&self, b: u64) {
        self.discarded.fetch_add(b, Ordering::SeqCst);
    }
    fn on_done(&self, _: &str, _: u64) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }
    fn on_cached(&self, _: &str, _: u64) {
        self.cached.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn the_reporter_sees_counts_and_bytes() {
    let env = Env::new();
    let pkgs: Vec<TestPkg> = (0..3)
        .map(|i| TestPkg::new(&format!("rep{i}"), 50_000, Some(&env.key)))
        .collect();
    env.serve("m1", &pkgs);
    env.server.faults(&pkgs[0].path("m1"), &[Fault::Truncate]);
    let lock = lock_of("test", &env.server.url("m1"), &pkgs);
    let r = Counting::default();
    fetch_lock(
        &lock,
        &[env.repo(&["m1"])],
        &quick_opts(&env.cache(), 2),
        &r,
    )
    .unwrap();
    let total: u64 = pkgs.iter().map(|p| p.bytes.len() as u64).sum();
    assert_eq!(*r.start.lock().unwrap(), Some((3, total)));
    assert_eq!(
        r.bytes.load(Ordering::SeqCst) - r.discarded.load(Ordering::SeqCst),
        total
    );
    assert!(r.discarded.load(Ordering::SeqCst) > 0);
    assert_eq!(r.done.load(Ordering::SeqCst), 3);
    let r2 = Counting::default();
    fetch_lock(
        &lock,
        &[env.repo(&["m1"])],
        &quick_opts(&env.cache(), 2),
        &r2,
    )
    .unwrap();
    assert_eq!(r2.cached.load(Ordering::SeqCst), 3);
}

/// Signed RPMs from other projects (rpm-rs test assets, CentOS, Fedora, RHEL, openSUSE)
/// served over HTTP verify against their distribution keys; the wrong key is refused with
/// the key id rpmkeys reports (derived/sigcheck-rpmkeys-4.18.tsv).
#[test]
fn fixture_packages_verify_with_their_distribution_keys() {
    let Some(fx) = crate::fixtures_or_skip!() else {
        return;
    };
    let env = Env::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "rpm-rs/tests/assets/RPMS/v4/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm",
            "rpm-rs/tests/assets/signing_keys/v4/rpm-testkey-v4-ed25519.asc",
            "27933839",
        ),
        (
            "rpm-rs/tests/assets/RPMS/v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm",
            "rpm-rs/tests/assets/signing_keys/v4/rpm-testkey-v4-rsa4096.asc",
            "30d073b5",
        ),
        (
            "cavaliergopher-rpm/testdata/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
            "distribution-gpg-keys/keys/centos/RPM-GPG-KEY-CentOS-7",
            "f4a80eb5",
        ),
        (
            "rpm-rs-history/test_assets/rpm-sign-4.15.1-1.fc31.x86_64.rpm",
            "distribution-gpg-keys/keys/fedora/RPM-GPG-KEY-fedora-31-primary",
            "3c3359c4",
        ),
        (
            "go-rpmutils-history/testdata/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
            "distribution-gpg-keys/keys/redhat/RPM-GPG-KEY-redhat8-release",
            "fd431d51",
        ),
        (
            "rpmlint/test/binary/mc-4.8.21-2.1.x86_64.rpm",
            "distribution-gpg-keys/keys/opensuse/RPM-GPG-KEY-openSUSE",
            "3dbdc284",
        ),
    ];
    let mut pkgs = Vec::new();
    for (i, (rpm_path, _, _)) in cases.iter().enumerate() {
        let bytes = std::fs::read(fx.join(rpm_path)).unwrap();
        let p = TestPkg {
            name: format!("fx{i}"),
            version: "1".into(),
            bytes,
        };
        env.serve("m1", std::slice::from_ref(&p));
        pkgs.push(p);
    }
    for ((_, key, key_id), p) in cases.iter().zip(&pkgs) {
        let lock = lock_of("dist", &env.server.url("m1"), std::slice::from_ref(p));
        let repo = signed_repo("dist", &[env.server.url("m1")], &fx.join(key));
        let got = fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 1), &Silent)
            .unwrap_or_else(|e| panic!("{key}: {}", chain(&e)));
        assert_eq!(std::fs::read(&got[0].path).unwrap(), p.bytes);

        // The same package against the test key only: refused, naming its key id.
        let lock = lock_of("dist", &env.server.url("m1"), std::slice::from_ref(p));
        let repo = signed_repo("dist", &[env.server.url("m1")], &env.key_file());
        let msg =
            chain(&fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 1), &Silent).unwrap_err());
        assert!(
            msg.contains("is signed with key") && msg.contains(key_id),
            "{key_id}: {msg}"
        );
    }
}

#[test]
fn file_urls_and_missing_keys() {
    let env = Env::new();
    let p = TestPkg::new("local", 10_000, Some(&env.key));
    let repo_dir = env.tmp.path().join("repo");
    std::fs::create_dir_all(repo_dir.join("Packages")).unwrap();
    std::fs::write(repo_dir.join("Packages").join(p.file()), &p.bytes).unwrap();
    let base = url::Url::from_directory_path(&repo_dir)
        .unwrap()
        .to_string();
    let lock = lock_of("test", &base, std::slice::from_ref(&p));
    let key_url = url::Url::from_file_path(env.key_file())
        .unwrap()
        .to_string();
    let repo = Remote {
        gpgcheck: true,
        gpgkeys: vec![key_url],
        ..Remote::new("test", &base)
    };
    let got = fetch_lock(
        &lock,
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    check_fetched(&got, &[&p]);

    let no_keys = Remote {
        gpgkeys: vec![],
        ..repo.clone()
    };
    let err = fetch_lock(&lock, &[no_keys], &quick_opts(&env.cache(), 1), &Silent).unwrap_err();
    assert_eq!(
        chain(&err),
        "Cannot set up repository `test` | Repository `test` has gpgcheck on but names no gpgkey"
    );
    let bad_key = Remote {
        gpgkeys: vec!["/nonexistent/RPM-GPG-KEY".into()],
        ..repo
    };
    let err = fetch_lock(&lock, &[bad_key], &quick_opts(&env.cache(), 1), &Silent).unwrap_err();
    assert!(
        chain(&err).contains("Cannot use the GPG key `/nonexistent/RPM-GPG-KEY`"),
        "{}",
        chain(&err)
    );
}

/// A profile naming the test server as its repository, with `<profile>.lock` pinning `pkgs`.
fn write_profile(env: &Env, name: &str, pkgs: &[TestPkg], gpgcheck: bool) -> PathBuf {
    let profile = env.tmp.path().join(format!("{name}.toml"));
    std::fs::write(
        &profile,
        format!(
            "[image]\nname = \"{name}\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n\
             [[repo]]\nid = \"test\"\nbaseurl = \"{}\"\ngpgkey = \"{}\"\ngpgcheck = {gpgcheck}\n\n\
             [packages]\ninstall = [\"bash\"]\n",
            env.server.url("m1"),
            url::Url::from_file_path(env.key_file()).unwrap()
        ),
    )
    .unwrap();
    let p = diskless::profile::load(&profile).unwrap();
    let mut lock = lock_of("test", &env.server.url("m1"), pkgs);
    lock.profile_digest = p.resolution_digest();
    lock.write(&diskless::lock::path_for_profile(&profile))
        .unwrap();
    profile
}

fn diskless_cmd(env: &Env) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("diskless").unwrap();
    c.arg("--cache-dir")
        .arg(env.cache())
        .env_remove("DISKLESS_CACHE_DIR")
        .env("NO_PROXY", "127.0.0.1");
    c
}

#[test]
fn cli_fetch_then_fetch_again_offline_then_gc() {
    let env = Env::new();
    let pkgs: Vec<TestPkg> = (0..4)
        .map(|i| TestPkg::new(&format!("cli{i}"), 30_000, Some(&env.key)))
        .collect();
    env.serve("m1", &pkgs);
    let profile = write_profile(&env, "cli", &pkgs, true);

    let out = diskless_cmd(&env)
        .args(["fetch", "--jobs", "3"])
        .arg(&profile)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("Fetching 4 packages (142.1 KiB)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("4 of 4 packages ready (4 downloaded, 0 cached)"),
        "{stderr}"
    );
    assert!(
        out.get_output().stdout.is_empty(),
        "stdout carries data only"
    );
    assert_eq!(env.server.rpm_hits(), 4);

    // Again, and offline: zero package requests.
    let out = diskless_cmd(&env)
        .args(["--offline", "fetch"])
        .arg(&profile)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("4 of 4 packages ready (all from the cache)"),
        "{stderr}"
    );
    diskless_cmd(&env)
        .args(["-q", "fetch"])
        .arg(&profile)
        .assert()
        .success()
        .stderr("");
    assert_eq!(env.server.rpm_hits(), 4);

    // gc with a lock that keeps two of the four.
    let small = write_profile(&env, "small", &pkgs[..2], true);
    diskless_cmd(&env)
        .args(["cache", "gc"])
        .arg(diskless::lock::path_for_profile(&small))
        .assert()
        .success();
    assert_cache_holds(&env.cache(), &[&pkgs[0], &pkgs[1]]);

    // Offline with packages missing: one error naming both, and a hint.
    let out = diskless_cmd(&env)
        .args(["--offline", "fetch"])
        .arg(&profile)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("error: Offline, and 2 locked packages are not in the cache: `cli2-1.0-1.noarch`, `cli3-1.0-1.noarch`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: run once without `--offline`"),
        "{stderr}"
    );
    snapshot("cli_offline_missing", &env, &stderr);
}

/// Snapshot CLI output with the temp dir and the server port filtered out.
fn snapshot(name: &str, env: &Env, text: &str) {
    let tmp = regex_escape(&env.tmp.path().display().to_string());
    insta::with_settings!({filters => vec![
        (tmp.as_str(), "[TMP]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"in \d+\.\d s \([^)]*\)", "in [TIME] ([RATE])"),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn cli_fetch_refuses_a_foreign_signature_and_a_stale_lock() {
    let env = Env::new();
    let other = gen_key(4, "intruder <x@example.org>");
    let pkgs = vec![TestPkg::new("intruder", 20_000, Some(&other))];
    env.serve("m1", &pkgs);
    let profile = write_profile(&env, "foreign", &pkgs, true);
    let out = diskless_cmd(&env)
        .args(["fetch"])
        .arg(&profile)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("error: Cannot fetch `intruder-1.0-1.noarch`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "Caused by: `intruder-1.0-1.noarch` is signed with key {}",
            other.key_id
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: add the repository's signing key"),
        "{stderr}"
    );
    assert_eq!(files_under(&env.cache()), Vec::<PathBuf>::new());
    snapshot("cli_foreign_signature", &env, &stderr);

    // The profile changes (gpgcheck off is a resolution input? either way the lock is
    // checked): a lock made for other inputs is refused with a hint.
    let mut lock =
        diskless::lock::Lockfile::read(&diskless::lock::path_for_profile(&profile)).unwrap();
    lock.profile_digest = "0".repeat(64);
    lock.write(&diskless::lock::path_for_profile(&profile))
        .unwrap();
    let out = diskless_cmd(&env)
        .args(["fetch"])
        .arg(&profile)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("hint: run `diskless lock"), "{stderr}");
}

#[test]
fn mirrorlist_and_metalink_mirrors_are_tried_after_the_locked_base() {
    let env = Env::new();
    let p = TestPkg::new("mirrored", 20_000, Some(&env.key));
    let q = TestPkg::new("metalinked", 20_000, Some(&env.key));
    // m1 (the locked base URL) has nothing; m2 has both; m3 is listed first by the metalink
    // but lacks the files.
    env.serve("m2", &[p.clone(), q.clone()]);
    env.server.put(
        "/mirrorlist",
        format!(
            "# mirrors\n{}\n{}\n",
            env.server.url("m1"),
            env.server.url("m2")
        )
        .as_bytes(),
    );
    let metalink = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/"><files><file name="repomd.xml">
<size>5</size><verification><hash type="sha256">{}</hash></verification>
<resources>
<url protocol="http" preference="50">{}repodata/repomd.xml</url>
<url protocol="http" preference="100">{}repodata/repomd.xml</url>
</resources></file></files></metalink>"#,
        hex::encode(sha2::Sha256::digest(b"hello")),
        env.server.url("m2"),
        env.server.url("m3")
    );
    env.server.put("/metalink", metalink.as_bytes());

    let with_mirrorlist = Remote {
        baseurls: vec![],
        mirrorlist: Some(format!(
            "{}/mirrorlist",
            env.server.url("").trim_end_matches('/')
        )),
        ..env.repo(&[])
    };
    let lock = lock_of("test", &env.server.url("m1"), std::slice::from_ref(&p));
    let got = fetch_lock(
        &lock,
        &[with_mirrorlist],
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    check_fetched(&got, &[&p]);
    assert_eq!(
        (
            env.server.hits(&p.path("m1")),
            env.server.hits(&p.path("m2"))
        ),
        (1, 1)
    );
    assert_eq!(env.server.hits("/mirrorlist"), 1);

    let with_metalink = Remote {
        baseurls: vec![],
        metalink: Some(format!(
            "{}/metalink",
            env.server.url("").trim_end_matches('/')
        )),
        ..env.repo(&[])
    };
    let lock = lock_of("test", &env.server.url("m1"), std::slice::from_ref(&q));
    let got = fetch_lock(
        &lock,
        &[with_metalink],
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    check_fetched(&got, &[&q]);
    assert_eq!(
        [q.path("m1"), q.path("m3"), q.path("m2")].map(|x| env.server.hits(&x)),
        [1, 1, 1],
        "locked base, then the metalink's mirrors by preference"
    );
    // A cached package never asks for the mirror list.
    let lock = lock_of("test", &env.server.url("m1"), std::slice::from_ref(&q));
    let repo = Remote {
        metalink: Some(format!(
            "{}/metalink",
            env.server.url("").trim_end_matches('/')
        )),
        ..env.repo(&[])
    };
    fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 1), &Silent).unwrap();
    assert_eq!(env.server.hits("/metalink"), 1);
}

#[test]
fn repomd_detached_signatures_check_against_the_repository_keys() {
    use pgp::composed::{Deserializable, DetachedSignature};
    let env = Env::new();
    // The same key as `env.key`: same seed and uid.
    let sk = gen_secret_key(1, "diskless test <test@example.org>");
    let repomd = b"<repomd>...</repomd>\n";
    let asc = detached_sign(&sk, repomd);
    assert!(DetachedSignature::from_string(&asc).is_ok());

    let repo = env.repo(&["m1"]);
    let ring = diskless::net::load_keyring(&repo, None, &RetryPolicy::default(), None).unwrap();
    ring.verify_detached(repomd, asc.as_bytes(), "repomd.xml.asc")
        .unwrap();
    let err = ring
        .verify_detached(
            b"<repomd>changed</repomd>\n",
            asc.as_bytes(),
            "repomd.xml.asc",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("signed by key {}", env.key.key_id)),
        "{err}"
    );

    let other = gen_key(5, "other <o@example.org>");
    let kf = env.tmp.path().join("other.asc");
    std::fs::write(&kf, &other.public_asc).unwrap();
    let ring = diskless::net::load_keyring(
        &signed_repo("x", &[], &kf),
        None,
        &RetryPolicy::default(),
        None,
    )
    .unwrap();
    let err = ring
        .verify_detached(repomd, asc.as_bytes(), "repomd.xml.asc")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("known keys: {}", other.key_id)),
        "{err}"
    );
}

#[test]
fn two_processes_racing_on_one_cache_both_succeed() {
    let env = Env::new();
    let pkgs: Vec<TestPkg> = (0..6)
        .map(|i| TestPkg::new(&format!("proc{i}"), 150_000, Some(&env.key)))
        .collect();
    env.serve("m1", &pkgs);
    env.server.throttle(Duration::from_millis(2));
    let profile = write_profile(&env, "race", &pkgs, true);
    let bin = assert_cmd::cargo::cargo_bin("diskless");
    let spawn = || {
        std::process::Command::new(&bin)
            .arg("--cache-dir")
            .arg(env.cache())
            .args(["-q", "fetch", "--jobs", "3"])
            .arg(&profile)
            .env("NO_PROXY", "127.0.0.1")
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let refs: Vec<&TestPkg> = pkgs.iter().collect();
    assert_cache_holds(&env.cache(), &refs);
    assert!(env.server.rpm_hits() >= 6);
}

/// The Red Hat CDN case: an https repository that demands a client certificate, trusted
/// through the repository's own CA (`sslcacert`, `sslclientcert`, `sslclientkey`). The server
/// is `openssl s_server -WWW` (HTTP/1.0 without Content-Length: the lock's size is the check).
#[test]
fn https_with_client_certificate_and_private_ca() {
    if !have_openssl() {
        return;
    }
    let env = Env::new();
    let pki = env.tmp.path().join("pki");
    let www = env.tmp.path().join("www");
    std::fs::create_dir_all(&pki).unwrap();
    std::fs::create_dir_all(www.join("repo/Packages")).unwrap();
    make_pki(&pki);
    let p = TestPkg::new("cdn", 30_000, Some(&env.key));
    std::fs::write(www.join("repo/Packages").join(p.file()), &p.bytes).unwrap();

    let (_guard, port) = mtls_server(&pki, &www);

    let base = format!("https://127.0.0.1:{port}/repo/");
    let lock = lock_of("cdn", &base, std::slice::from_ref(&p));
    let full = Remote {
        tls: diskless::net::TlsConfig {
            ca_cert: Some(pki.join("ca.pem")),
            client_cert: Some(pki.join("client.pem")),
            client_key: Some(pki.join("client.key")),
            verify: true,
        },
        ..signed_repo("cdn", std::slice::from_ref(&base), &env.key_file())
    };
    let got = fetch_lock(
        &lock,
        std::slice::from_ref(&full),
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap_or_else(|e| panic!("{}", chain(&e)));
    check_fetched(&got, &[&p]);

    // Without the client certificate the server refuses the handshake; without the CA the
    // server is not trusted. Either way: a clear error and nothing in the cache.
    let fresh = env.tmp.path().join("cache2");
    for (tls, cause) in [
        (
            diskless::net::TlsConfig {
                client_cert: None,
                client_key: None,
                ..full.tls.clone()
            },
            "CertificateRequired",
        ),
        (
            diskless::net::TlsConfig {
                ca_cert: None,
                ..full.tls.clone()
            },
            "UnknownIssuer",
        ),
    ] {
        let repo = Remote {
            tls,
            ..full.clone()
        };
        let err = fetch_lock(&lock, &[repo], &quick_opts(&fresh, 1), &Silent).unwrap_err();
        let msg = chain(&err);
        assert!(
            msg.contains(&format!("{base}Packages/{}", p.file())),
            "{msg}"
        );
        assert!(msg.contains(cause), "{msg}");
        assert_eq!(files_under(&fresh), Vec::<PathBuf>::new(), "{msg}");
    }
}

/// `http_proxy` from the environment is used: the repository host does not even resolve,
/// only the proxy (the test server, answering absolute-form requests) knows it.
#[test]
fn http_proxy_from_the_environment() {
    let env = Env::new();
    let p = TestPkg::new("proxied", 20_000, Some(&env.key));
    let base = "http://repo.diskless.invalid/m1/";
    env.server
        .put(&format!("{base}Packages/{}", p.file()), &p.bytes);
    let profile = env.tmp.path().join("proxy.toml");
    std::fs::write(
        &profile,
        format!(
            "[image]\nname = \"proxy\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n\
             [[repo]]\nid = \"test\"\nbaseurl = \"{base}\"\ngpgkey = \"{}\"\n\n\
             [packages]\ninstall = [\"bash\"]\n",
            url::Url::from_file_path(env.key_file()).unwrap()
        ),
    )
    .unwrap();
    let prof = diskless::profile::load(&profile).unwrap();
    let mut lock = lock_of("test", base, std::slice::from_ref(&p));
    lock.profile_digest = prof.resolution_digest();
    lock.write(&diskless::lock::path_for_profile(&profile))
        .unwrap();

    let proxy = env.server.url("").trim_end_matches('/').to_string();
    let mut cmd = assert_cmd::Command::cargo_bin("diskless").unwrap();
    cmd.arg("--cache-dir")
        .arg(env.cache())
        .args(["-q", "fetch"])
        .arg(&profile);
    for v in [
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("http_proxy", &proxy)
        .env("HTTP_PROXY", &proxy)
        .assert()
        .success();
    assert_eq!(env.server.hits(&format!("{base}Packages/{}", p.file())), 1);
    assert_cache_holds(&env.cache(), &[&p]);
}

/// A key named by an https/http URL is downloaded once and kept, so `--offline` can still
/// check signatures.
#[test]
fn keys_from_urls_are_kept_for_offline_use() {
    let env = Env::new();
    let p = TestPkg::new("keyed", 10_000, Some(&env.key));
    env.serve("m1", std::slice::from_ref(&p));
    env.server
        .put("/keys/RPM-GPG-KEY-test", env.key.public_asc.as_bytes());
    let repo = Remote {
        gpgkeys: vec![format!(
            "{}/keys/RPM-GPG-KEY-test",
            env.server.url("").trim_end_matches('/')
        )],
        ..env.repo(&["m1"])
    };
    let lock = lock_of("test", &env.server.url("m1"), std::slice::from_ref(&p));
    fetch_lock(
        &lock,
        std::slice::from_ref(&repo),
        &quick_opts(&env.cache(), 1),
        &Silent,
    )
    .unwrap();
    assert_eq!(env.server.hits("/keys/RPM-GPG-KEY-test"), 1);
    let mut opts = quick_opts(&env.cache(), 1);
    opts.offline = true;
    let got = fetch_lock(&lock, std::slice::from_ref(&repo), &opts, &Silent).unwrap();
    assert!(got[0].from_cache && got[0].signature == diskless::fetch::SignatureCheck::Verified);
    assert_eq!(env.server.hits("/keys/RPM-GPG-KEY-test"), 1);
    // A key never downloaded: offline is a clear error.
    let other = Remote {
        gpgkeys: vec!["https://keys.diskless.invalid/KEY".into()],
        ..repo
    };
    let err = fetch_lock(&lock, &[other], &opts, &Silent).unwrap_err();
    assert!(
        chain(&err).contains("offline, and no copy of it was kept"),
        "{}",
        chain(&err)
    );
}
