//! Fetch against a real HTTP server on 127.0.0.1 that serves RPMs built (and signed) here or
//! taken from the shared fixtures, and injects faults: server errors, resets mid-body,
//! truncated bodies, wrong bytes, stalls, 404 on one mirror. Every case must end in the right
//! file or a clear error, and no wrong file may ever land in the cache.

use diskless::fetch::{
    FetchError, FetchOptions, FetchRepo, FetchedPackage, Reporter, RetryPolicy, Silent,
    Timeouts, fetch_lock,
};
use diskless::lock::{LOCK_VERSION, LockedPackage, LockedRepo, Lockfile};
use diskless::package::Checksum;
use sha2::Digest;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// A small HTTP/1.1 server with fault injection.

/// How the server misbehaves for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and no body.
    Status(u16),
    /// Announce the full length, send half, then reset the connection (RST).
    Reset,
    /// Announce the full length, send half, then close normally (FIN).
    Truncate,
    /// The right length, but one byte changed.
    Wrong,
    /// Send half, then stall longer than any read timeout of the tests.
    Stall,
    /// No Content-Length, half the body, close: only the lock's size can tell.
    ShortNoLength,
}

#[derive(Default)]
struct Route {
    body: Vec<u8>,
    /// Consumed one per request; then the route behaves.
    faults: VecDeque<Fault>,
    /// Applied to every request once `faults` is empty.
    always: Option<Fault>,
}

#[derive(Default)]
struct State {
    routes: Mutex<BTreeMap<String, Route>>,
    hits: Mutex<BTreeMap<String, usize>>,
    /// Pause between 16 KiB chunks (to make parallel downloads overlap).
    throttle_us: AtomicU64,
}

pub struct Server {
    port: u16,
    state: Arc<State>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &st);
                });
            }
        });
        Server { port, state }
    }

    /// `http://127.0.0.1:PORT/{prefix}/`.
    pub fn url(&self, prefix: &str) -> String {
        format!("http://127.0.0.1:{}/{prefix}/", self.port)
    }

    pub fn put(&self, path: &str, body: &[u8]) {
        let mut r = self.state.routes.lock().unwrap();
        r.entry(path.to_string()).or_default().body = body.to_vec();
    }

    pub fn faults(&self, path: &str, faults: &[Fault]) {
        let mut r = self.state.routes.lock().unwrap();
        r.entry(path.to_string()).or_default().faults = faults.iter().copied().collect();
    }

    pub fn always(&self, path: &str, fault: Fault) {
        let mut r = self.state.routes.lock().unwrap();
        r.entry(path.to_string()).or_default().always = Some(fault);
    }

    pub fn throttle(&self, per_chunk: Duration) {
        self.state.throttle_us.store(per_chunk.as_micros() as u64, Ordering::SeqCst);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests for `.rpm` files, all paths together.
    pub fn rpm_hits(&self) -> usize {
        self.state.hits.lock().unwrap().iter().filter(|(p, _)| p.ends_with(".rpm")).map(|(_, n)| n).sum()
    }
}

fn handle(conn: TcpStream, st: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    *st.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let (body, fault) = {
        let mut routes = st.routes.lock().unwrap();
        match routes.get_mut(&path) {
            None => (Vec::new(), Some(Fault::Status(404))),
            Some(r) => {
                let f = r.faults.pop_front().or(r.always);
                (r.body.clone(), f)
            }
        }
    };
    let mut conn = conn;
    let head = |len: Option<usize>| match len {
        Some(n) => format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nContent-Type: application/x-rpm\r\nConnection: close\r\n\r\n"),
        None => "HTTP/1.1 200 OK\r\nContent-Type: application/x-rpm\r\nConnection: close\r\n\r\n".to_string(),
    };
    let half = body.len() / 2;
    match fault {
        Some(Fault::Status(code)) => {
            write!(conn, "HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        }
        Some(Fault::Reset) => {
            conn.write_all(head(Some(body.len())).as_bytes())?;
            conn.write_all(&body[..half])?;
            conn.flush()?;
            std::thread::sleep(Duration::from_millis(20));
            socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO))?;
            drop(conn);
        }
        Some(Fault::Truncate) => {
            conn.write_all(head(Some(body.len())).as_bytes())?;
            conn.write_all(&body[..half])?;
        }
        Some(Fault::Wrong) => {
            let mut b = body.clone();
            b[half] ^= 0x55;
            conn.write_all(head(Some(b.len())).as_bytes())?;
            conn.write_all(&b)?;
        }
        Some(Fault::Stall) => {
            conn.write_all(head(Some(body.len())).as_bytes())?;
            conn.write_all(&body[..half])?;
            conn.flush()?;
            std::thread::sleep(Duration::from_secs(3));
            conn.write_all(&body[half..])?;
        }
        Some(Fault::ShortNoLength) => {
            conn.write_all(head(None).as_bytes())?;
            conn.write_all(&body[..half])?;
        }
        None => {
            conn.write_all(head(Some(body.len())).as_bytes())?;
            let pause = st.throttle_us.load(Ordering::SeqCst);
            for chunk in body.chunks(16 * 1024) {
                conn.write_all(chunk)?;
                if pause > 0 {
                    std::thread::sleep(Duration::from_micros(pause));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Keys, RPMs, locks.

pub struct TestKey {
    pub signer: rpm::signature::pgp::Signer,
    pub public_asc: String,
    /// 16 lowercase hex digits.
    pub key_id: String,
}

/// An Ed25519 signing key, the same for the same seed (fixed RNG and creation time).
pub fn gen_key(seed: u64, uid: &str) -> TestKey {
    use pgp::composed::{KeyType, SecretKeyParamsBuilder};
    use pgp::types::KeyDetails;
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let params = SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(uid.into())
        .created_at(pgp::types::Timestamp::from_secs(1_700_000_000))
        .build()
        .unwrap();
    let sk = params.generate(&mut rng).unwrap();
    let secret = sk.to_armored_string(None.into()).unwrap();
    let public_asc = sk.to_public_key().to_armored_string(None.into()).unwrap();
    TestKey {
        signer: rpm::signature::pgp::Signer::from_asc(&secret).unwrap(),
        public_asc,
        key_id: hex::encode(sk.legacy_key_id().as_ref()),
    }
}

/// Deterministic incompressible bytes.
pub fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = seed.bytes().fold(0x9e3779b97f4a7c15, |a, b| (a ^ b as u64).wrapping_mul(0x100000001b3));
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A noarch RPM `name-version-1` with one file of `payload` pseudo-random bytes.
pub fn build_rpm(name: &str, version: &str, payload: usize, key: Option<&TestKey>) -> Vec<u8> {
    let mut b = rpm::PackageBuilder::new(name, version, "MIT", "noarch", &format!("The {name} test package"));
    b.release("1").using_config(
        rpm::BuildConfig::v4().source_date(1_700_000_000u32).compression(rpm::CompressionType::None),
    );
    b.with_file_contents(noise(name, payload), rpm::FileOptions::new(format!("/usr/share/{name}/data")))
        .unwrap();
    let pkg = match key {
        Some(k) => b.build_and_sign(&k.signer).unwrap(),
        None => b.build().unwrap(),
    };
    let mut out = Vec::new();
    pkg.write(&mut out).unwrap();
    out
}

#[derive(Clone)]
pub struct TestPkg {
    pub name: String,
    pub version: String,
    pub bytes: Vec<u8>,
}

impl TestPkg {
    pub fn new(name: &str, payload: usize, key: Option<&TestKey>) -> TestPkg {
        TestPkg { name: name.into(), version: "1.0".into(), bytes: build_rpm(name, "1.0", payload, key) }
    }
    pub fn file(&self) -> String {
        format!("{}-{}-1.noarch.rpm", self.name, self.version)
    }
    /// The server path under a mirror prefix.
    pub fn path(&self, prefix: &str) -> String {
        format!("/{prefix}/Packages/{}", self.file())
    }
    pub fn sha256(&self) -> String {
        hex::encode(sha2::Sha256::digest(&self.bytes))
    }
    pub fn locked(&self, repo: &str) -> LockedPackage {
        LockedPackage {
            name: self.name.clone(),
            epoch: 0,
            version: self.version.clone(),
            release: "1".into(),
            arch: "noarch".into(),
            repo: repo.into(),
            location: format!("Packages/{}", self.file()),
            checksum: Checksum { kind: "sha256".into(), value: self.sha256() },
            size: self.bytes.len() as u64,
            build_time: 1_700_000_000,
        }
    }
}

pub fn lock_of(repo: &str, baseurl: &str, pkgs: &[TestPkg]) -> Lockfile {
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
pub fn quick_opts(cache: &Path, jobs: usize) -> FetchOptions {
    let mut o = FetchOptions::new(cache);
    o.jobs = jobs;
    o.retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    };
    o.timeouts = Timeouts { connect: Duration::from_secs(2), read: Duration::from_millis(700) };
    o
}

pub fn signed_repo(id: &str, baseurls: &[String], key_file: &Path) -> FetchRepo {
    FetchRepo {
        gpgcheck: true,
        gpgkeys: vec![key_file.display().to_string()],
        baseurls: baseurls.to_vec(),
        ..FetchRepo::unsigned(id, "")
    }
}

/// Every regular file under `dir` (cache entries, aliases, left-over temp files).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
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
        assert_eq!(std::fs::read(cache.join("packages/sha256").join(&s[..2]).join(&s[2..])).unwrap(), p.bytes);
    }
}

fn check_fetched(got: &[FetchedPackage], pkgs: &[&TestPkg]) {
    assert_eq!(got.len(), pkgs.len());
    for (g, p) in got.iter().zip(pkgs) {
        assert_eq!(g.name, p.name);
        assert_eq!(std::fs::read(&g.path).unwrap(), p.bytes, "{}", g.nevra);
    }
}

/// The whole error chain on one line, as the CLI prints it.
fn chain(e: &FetchError) -> String {
    let mut s = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        s.push_str(" | ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
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
        Env { tmp, server: Server::start(), key }
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
    fn repo(&self, prefixes: &[&str]) -> FetchRepo {
        let urls: Vec<String> = prefixes.iter().map(|p| self.server.url(p)).collect();
        signed_repo("test", &urls, &self.key_file())
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn fetch_downloads_verifies_and_second_fetch_makes_no_requests() {
    let env = Env::new();
    let pkgs: Vec<TestPkg> = (0..6).map(|i| TestPkg::new(&format!("pkg{i}"), 20_000 + i * 7000, Some(&env.key))).collect();
    env.serve("m1", &pkgs);
    let lock = lock_of("test", &env.server.url("m1"), &pkgs);
    let repo = env.repo(&["m1"]);

    let got = fetch_lock(&lock, &[repo.clone()], &quick_opts(&env.cache(), 4), &Silent).unwrap();
    let refs: Vec<&TestPkg> = pkgs.iter().collect();
    check_fetched(&got, &refs);
    assert!(got.iter().all(|g| !g.from_cache && g.signature == diskless::fetch::SignatureCheck::Verified));
    assert_eq!(env.server.rpm_hits(), 6);
    assert_cache_holds(&env.cache(), &refs);

    let again = fetch_lock(&lock, &[repo], &quick_opts(&env.cache(), 4), &Silent).unwrap();
    check_fetched(&again, &refs);
    assert!(again.iter().all(|g| g.from_cache));
    assert_eq!(env.server.rpm_hits(), 6, "a second fetch of the same lock makes zero package requests");
}
