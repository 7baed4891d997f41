//! The test HTTP/1.1 server on 127.0.0.1:0: one thread per connection, `Connection: close`,
//! GET and HEAD. It answers from routes the test puts in memory (exact request targets, so
//! absolute-form proxy requests too) and, when started on a folder, from the files under it,
//! read at request time. It can misbehave on purpose ([`Fault`]: status codes, resets,
//! truncated or wrong bodies, stalls) and counts the requests per target.
//!
//! Shared as a source file by the integration tests and the boot tests; it refers to nothing
//! outside this file.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Send half, then stall (6 s) longer than the read timeout of the fetch tests (1.5 s).
    Stall,
    /// No Content-Length, half the body, close: only the lock's size can tell.
    ShortNoLength,
    /// No Content-Length, the body twice: only the expected size (or checksum) can tell.
    LongNoLength,
    /// Read the request, then say nothing for 6 s (a mirror that accepts and never answers).
    Silent,
}

#[derive(Default)]
struct Route {
    /// `None`: the file under the server's folder (a route that only injects faults).
    body: Option<Vec<u8>>,
    /// Consumed one per request; then the route behaves.
    faults: VecDeque<Fault>,
    /// Applied to every request once `faults` is empty.
    always: Option<Fault>,
}

#[derive(Default)]
struct State {
    /// Files not in `routes` are read from here.
    root: Option<PathBuf>,
    routes: Mutex<BTreeMap<String, Route>>,
    hits: Mutex<BTreeMap<String, usize>>,
    /// The header lines of the last request of each target (`name: value`, as sent).
    headers: Mutex<BTreeMap<String, Vec<String>>>,
    /// Pause between 16 KiB chunks (to make parallel downloads overlap).
    throttle_us: AtomicU64,
}

/// A running server; it lives as long as the test process.
pub struct Server {
    port: u16,
    state: Arc<State>,
}

impl Server {
    /// A server with no routes yet ([`Server::put`] adds them).
    pub fn start() -> Server {
        Server::with_state(State::default())
    }

    /// A server for the files under `root` (and any routes put later).
    pub fn serve_dir(root: &Path) -> Server {
        Server::with_state(State {
            root: Some(root.to_owned()),
            ..State::default()
        })
    }

    fn with_state(state: State) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("the bound address").port();
        let state = Arc::new(state);
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

    /// `http://127.0.0.1:PORT/`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// `http://127.0.0.1:PORT/{prefix}/`.
    pub fn url(&self, prefix: &str) -> String {
        format!("http://127.0.0.1:{}/{prefix}/", self.port)
    }

    /// Serve `body` at the request target `path` (`/m1/Packages/x.rpm`, or an absolute URL
    /// for proxy requests).
    pub fn put(&self, path: &str, body: &[u8]) {
        let mut r = self.state.routes.lock().unwrap();
        r.entry(path.to_string()).or_default().body = Some(body.to_vec());
    }

    /// The next requests of `path` get these faults, one each.
    pub fn faults(&self, path: &str, faults: &[Fault]) {
        let mut r = self.state.routes.lock().unwrap();
        r.entry(path.to_string()).or_default().faults = faults.iter().copied().collect();
    }

    /// Every request of `path` gets `fault` (after those of [`Server::faults`]).
    pub fn always(&self, path: &str, fault: Fault) {
        let mut r = self.state.routes.lock().unwrap();
        r.entry(path.to_string()).or_default().always = Some(fault);
    }

    pub fn throttle(&self, per_chunk: Duration) {
        self.state
            .throttle_us
            .store(per_chunk.as_micros() as u64, Ordering::SeqCst);
    }

    /// Requests of the target `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// The value of header `name` (case-insensitive) in the last request of `path`.
    pub fn header(&self, path: &str, name: &str) -> Option<String> {
        let h = self.state.headers.lock().unwrap();
        h.get(path)?.iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// Requests for `.rpm` files, all paths together.
    pub fn rpm_hits(&self) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with(".rpm"))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests of any target.
    pub fn requests(&self) -> usize {
        self.state.hits.lock().unwrap().values().sum()
    }
}

/// The file under `root` a URL path names; `None` for anything climbing out. An
/// absolute-form target (a proxy request, `http://host/x`) names `/x` of any host.
fn local_path(root: &Path, target: &str) -> Option<PathBuf> {
    let target = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let p = root.join(rel);
    p.is_file().then_some(p)
}

fn handle(conn: TcpStream, st: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    // Read the headers; the server answers without them, tests may look at them.
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        headers.push(h.trim_end().to_string());
    }
    st.headers.lock().unwrap().insert(path.clone(), headers);
    *st.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let mut conn = conn;
    if method != "GET" && method != "HEAD" {
        return conn.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let (body, fault) = {
        let mut routes = st.routes.lock().unwrap();
        let (body, fault) = match routes.get_mut(&path) {
            Some(r) => (r.body.clone(), r.faults.pop_front().or(r.always)),
            None => (None, None),
        };
        let file = || {
            st.root
                .as_deref()
                .and_then(|root| local_path(root, &path))
                .and_then(|f| std::fs::read(f).ok())
        };
        match body.or_else(file) {
            Some(body) => (body, fault),
            None => (Vec::new(), Some(fault.unwrap_or(Fault::Status(404)))),
        }
    };
    let head = |len: Option<usize>| match len {
        Some(n) => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
        ),
        None => {
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                .to_string()
        }
    };
    if method == "HEAD" && fault.is_none() {
        conn.write_all(head(Some(body.len())).as_bytes())?;
        return conn.flush();
    }
    let half = body.len() / 2;
    match fault {
        Some(Fault::Status(code)) => {
            let reason = match code {
                404 => "Not Found",
                _ => "Fault",
            };
            write!(
                conn,
                "HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Some(Fault::Reset) => {
            conn.write_all(head(Some(body.len())).as_bytes())?;
            conn.write_all(&body[..half])?;
            conn.flush()?;
            std::thread::sleep(Duration::from_millis(20));
            socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO))?;
            drop(conn);
            return Ok(());
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
            std::thread::sleep(Duration::from_secs(6));
            conn.write_all(&body[half..])?;
        }
        Some(Fault::ShortNoLength) => {
            conn.write_all(head(None).as_bytes())?;
            conn.write_all(&body[..half])?;
        }
        Some(Fault::LongNoLength) => {
            conn.write_all(head(None).as_bytes())?;
            conn.write_all(&body)?;
            conn.write_all(&body)?;
        }
        Some(Fault::Silent) => {
            std::thread::sleep(Duration::from_secs(6));
            return Ok(());
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
    conn.flush()
}
