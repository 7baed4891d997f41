//! boot-test's HTTP server for a root image the node's initrd fetches (`[image] root_http`):
//! the files under the staged tftp tree ([`super::stage`]), GET and HEAD, HTTP/1.1 with
//! `Connection: close`, one thread per connection, bodies streamed from the file. It follows
//! the staged tree's links only into the folders it is told of (the staged tree itself and
//! the build's tftp tree it links to), never lists a folder, and counts the requests and
//! the body bytes sent per path, so a boot's report can say how much of the image went out.
//! Dropping the [`Server`] stops it: no thread of it outlives it.

// Hand-rolled: one static GET on loopback for a test boot; a server crate would add an
// async stack to the binary.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// The request line and headers, at most.
const MAX_HEAD: u64 = 16 * 1024;
/// A client that sends no complete request in this time is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that takes no body bytes in this time is dropped (an emulated guest under
/// load still reads within seconds).
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);
/// Body bytes per `io::copy` call: the counts move while a large image streams.
const CHUNK: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("Cannot serve HTTP on `{addr}`: {}", bind_reason(*addr, error))]
    Bind { addr: SocketAddr, error: io::Error },
    #[error("Cannot serve the folder `{}` over HTTP", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("Cannot start the HTTP server's thread")]
    Thread(#[source] io::Error),
}

fn bind_reason(addr: SocketAddr, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => format!("port {} is in use", addr.port()),
        io::ErrorKind::PermissionDenied => {
            format!("binding port {} needs privileges", addr.port())
        }
        io::ErrorKind::AddrNotAvailable => format!("{} is not an address of this host", addr.ip()),
        _ => e.to_string(),
    }
}

impl HttpError {
    /// What to do about it, when that can be said.
    pub fn hint(&self) -> Option<String> {
        let HttpError::Bind { addr, error } = self else {
            return None;
        };
        let port = addr.port();
        match error.kind() {
            io::ErrorKind::AddrInUse => Some(format!(
                "stop what listens on port {port} (`ss -ltnp 'sport = :{port}'` shows it), or build with another port in `[image] root_http`"
            )),
            io::ErrorKind::PermissionDenied => Some(
                "ports below 1024 need root or CAP_NET_BIND_SERVICE: build with a port above 1023 in `[image] root_http` (e.g. `http://{server}:8080`), or run as root"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// What a [`Server`] serves: the files under `root`, at URL paths under a prefix.
#[derive(Debug, Clone)]
pub struct Site {
    root: PathBuf,
    prefix: String,
    link_roots: Vec<PathBuf>,
}

impl Site {
    /// The files under `root`, `root/a/b` at `/a/b`; links followed only within `root`.
    pub fn new(root: impl Into<PathBuf>) -> Site {
        Site {
            root: root.into(),
            prefix: String::new(),
            link_roots: Vec::new(),
        }
    }

    /// Serve `root/a/b` at `{prefix}/a/b` instead (`/boot`: `/boot/a/b`; `""` or `/`: the
    /// root).
    pub fn at(mut self, prefix: &str) -> Site {
        self.prefix = prefix.trim_end_matches('/').to_string();
        self
    }

    /// Follow links under `root` into `dir` too (the tree a staged tree links to).
    pub fn links_into(mut self, dir: impl Into<PathBuf>) -> Site {
        self.link_roots.push(dir.into());
        self
    }
}

/// What one path was asked for and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    /// Requests of any method and outcome.
    pub requests: u64,
    /// Body bytes written to clients, counted per 1 MiB chunk (of a transfer cut off, the
    /// last chunk's bytes are not counted).
    pub bytes: u64,
    /// Bodies sent whole.
    pub complete: u64,
}

#[derive(Default)]
struct Conns {
    next: u64,
    /// A handle on each open connection, to shut it down when the server stops.
    open: BTreeMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

struct State {
    /// Canonical.
    root: PathBuf,
    prefix: String,
    /// Canonical: `root`, then the link roots.
    allowed: Vec<PathBuf>,
    stop: AtomicBool,
    hits: Mutex<BTreeMap<String, Hits>>,
    conns: Mutex<Conns>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    fn count(&self, path: &str, f: impl FnOnce(&mut Hits)) {
        f(lock(&self.hits).entry(path.to_string()).or_default());
    }
}

/// A running server; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Bind `addr` (port 0: any free port) and serve `site` until dropped.
    pub fn start(addr: SocketAddr, site: Site) -> Result<Server, HttpError> {
        let canon = |p: &Path| {
            std::fs::canonicalize(p).map_err(|source| HttpError::Root {
                path: p.to_path_buf(),
                source,
            })
        };
        let root = canon(&site.root)?;
        let mut allowed = vec![root.clone()];
        for d in &site.link_roots {
            allowed.push(canon(d)?);
        }
        let bind = |error| HttpError::Bind { addr, error };
        let listener = TcpListener::bind(addr).map_err(bind)?;
        let bound = listener.local_addr().map_err(bind)?;
        let state = Arc::new(State {
            root,
            prefix: site.prefix,
            allowed,
            stop: AtomicBool::new(false),
            hits: Mutex::default(),
            conns: Mutex::default(),
        });
        let st = Arc::clone(&state);
        let accept = std::thread::Builder::new()
            .name("boot-test-http".into())
            .spawn(move || accept_loop(&listener, &st))
            .map_err(HttpError::Thread)?;
        Ok(Server {
            addr: bound,
            state,
            accept: Some(accept),
        })
    }

    /// Where it listens (the port chosen, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counts for the URL path `path` (`/a/b`, with the prefix, decoded), so far.
    pub fn hits(&self, path: &str) -> Hits {
        lock(&self.state.hits)
            .get(path)
            .copied()
            .unwrap_or_default()
    }

    /// The counts of every path asked for, so far.
    pub fn all_hits(&self) -> BTreeMap<String, Hits> {
        lock(&self.state.hits).clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // accept() blocks: a connection of our own wakes it to see the flag.
        let wake = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, self.addr.port()).into(),
            IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, self.addr.port()).into(),
            _ => self.addr,
        };
        let woke = TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok();
        if let Some(t) = self.accept.take()
            && woke
        {
            let _ = t.join();
        }
        // Unfinished transfers end now (the machines are gone); their threads then return.
        let threads = {
            let mut c = lock(&self.state.conns);
            for s in c.open.values() {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            std::mem::take(&mut c.threads)
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, st: &Arc<State>) {
    for conn in listener.incoming() {
        if st.stop.load(Ordering::SeqCst) {
            return;
        }
        let conn = match conn {
            Ok(c) => c,
            Err(_) => {
                // Out of file descriptors, say: wait instead of retrying at once.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let mut c = lock(&st.conns);
        c.threads.retain(|t| !t.is_finished());
        let id = c.next;
        c.next += 1;
        if let Ok(peer) = conn.try_clone() {
            c.open.insert(id, peer);
        }
        let st2 = Arc::clone(st);
        let spawned = std::thread::Builder::new()
            .name("boot-test-http-conn".into())
            .spawn(move || {
                let _ = handle(&conn, &st2);
                lock(&st2.conns).open.remove(&id);
            });
        match spawned {
            Ok(t) => c.threads.push(t),
            Err(_) => {
                c.open.remove(&id);
            }
        }
    }
}

/// `%XX` decoded; `None` for a bad escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

enum Target {
    /// A regular file inside the allowed folders.
    File(PathBuf),
    /// 400: not an origin-form path, or one with `.`, `..` or empty segments.
    Bad,
    /// 404: nothing (servable) there.
    Missing,
}

/// What the decoded URL path `path` names.
fn resolve(st: &State, path: &str) -> Target {
    if !path.starts_with('/') || path.contains('\0') {
        return Target::Bad;
    }
    let Some(rest) = path
        .strip_prefix(st.prefix.as_str())
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Target::Missing;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| matches!(*s, "" | "." | "..")) {
        return Target::Bad;
    }
    let file = segments.iter().fold(st.root.clone(), |p, s| p.join(s));
    // Links are followed, as far as they stay in the folders the site names.
    let Ok(real) = std::fs::canonicalize(&file) else {
        return Target::Missing;
    };
    if !st.allowed.iter().any(|a| real.starts_with(a)) {
        return Target::Missing;
    }
    match std::fs::metadata(&real) {
        Ok(m) if m.is_file() => Target::File(real),
        _ => Target::Missing,
    }
}

fn status(mut w: &TcpStream, code: u16, reason: &str, head_only: bool) -> io::Result<()> {
    let body = format!("{code} {reason}\n");
    write!(
        w,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
        body.len(),
        if code == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        },
    )?;
    if !head_only {
        w.write_all(body.as_bytes())?;
    }
    w.flush()
}

fn handle(conn: &TcpStream, st: &State) -> io::Result<()> {
    conn.set_read_timeout(Some(READ_TIMEOUT))?;
    conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut reader = BufReader::new(conn.take(MAX_HEAD));
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    // The headers: nothing in them changes the answer, but they are read to their end.
    loop {
        let mut h = String::new();
        let n = reader.read_line(&mut h)?;
        if n == 0 || !h.ends_with('\n') {
            return status(conn, 400, "Bad Request", false);
        }
        if h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let (Some(method), Some(target), Some(version)) = (method, target, version) else {
        return status(conn, 400, "Bad Request", false);
    };
    let head_only = method == "HEAD";
    let raw = target.split(['?', '#']).next().unwrap_or_default();
    let path = percent_decode(raw);
    st.count(path.as_deref().unwrap_or(raw), |h| h.requests += 1);
    if !version.starts_with("HTTP/1.") {
        return status(conn, 400, "Bad Request", head_only);
    }
    if method != "GET" && method != "HEAD" {
        return status(conn, 405, "Method Not Allowed", false);
    }
    let Some(path) = path else {
        return status(conn, 400, "Bad Request", head_only);
    };
    let file = match resolve(st, &path) {
        Target::File(f) => f,
        Target::Bad => return status(conn, 400, "Bad Request", head_only),
        Target::Missing => return status(conn, 404, "Not Found", head_only),
    };
    let Ok(f) = std::fs::File::open(&file) else {
        return status(conn, 404, "Not Found", head_only);
    };
    let len = f.metadata()?.len();
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )?;
    if head_only {
        return w.flush();
    }
    let mut sent = 0;
    while sent < len {
        let n = io::copy(&mut (&f).take(CHUNK.min(len - sent)), &mut w)?;
        if n == 0 {
            // The file shrank under us: the client sees a short body.
            break;
        }
        sent += n;
        st.count(&path, |h| h.bytes += n);
    }
    if sent == len {
        st.count(&path, |h| h.complete += 1);
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request on a fresh connection; the whole answer.
    fn ask(addr: SocketAddr, request: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        ask(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
    }

    fn code(answer: &str) -> u16 {
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    fn body(answer: &str) -> &str {
        answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    fn local() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    /// `root/` with `images/a/root.squashfs` and a folder `empty/`.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("images/a")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("images/a/root.squashfs"), b"squashfs bytes").unwrap();
        (d, root)
    }

    #[test]
    fn get_sends_the_file_and_head_its_length() {
        let (_d, root) = tree();
        // More than one chunk, and not a multiple of it.
        let big: Vec<u8> = (0..CHUNK * 2 + 7).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("big"), &big).unwrap();
        let s = Server::start(local(), Site::new(&root)).unwrap();
        let a = get(s.local_addr(), "/images/a/root.squashfs");
        assert_eq!(code(&a), 200, "{a}");
        assert!(a.contains("\r\nContent-Length: 14\r\n"), "{a}");
        assert!(a.contains("\r\nConnection: close\r\n"), "{a}");
        assert_eq!(body(&a), "squashfs bytes");

        let mut c = TcpStream::connect(s.local_addr()).unwrap();
        c.write_all(b"GET /big HTTP/1.0\r\n\r\n").unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).unwrap();
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(out[..at].starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(out[at..] == big[..], "the body differs");

        let h = ask(
            s.local_addr(),
            "HEAD /images/a/root.squashfs HTTP/1.1\r\n\r\n",
        );
        assert_eq!(code(&h), 200, "{h}");
        assert!(h.contains("\r\nContent-Length: 14\r\n"), "{h}");
        assert_eq!(body(&h), "");
    }

    #[test]
    fn missing_files_and_folders_are_not_found() {
        let (_d, root) = tree();
        let s = Server::start(local(), Site::new(&root)).unwrap();
        for p in ["/nothing", "/images/a/", "/images", "/empty", "/"] {
            let a = get(s.local_addr(), p);
            assert_eq!(
                code(&a),
                if p.ends_with('/') { 400 } else { 404 },
                "{p}: {a}"
            );
            assert!(!a.contains("root.squashfs"), "a listing for {p}: {a}");
        }
        let a = ask(
            s.local_addr(),
            "POST /images/a/root.squashfs HTTP/1.1\r\n\r\n",
        );
        assert_eq!(code(&a), 405, "{a}");
    }

    #[test]
    fn paths_climbing_out_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(d.path().join("secret"), b"secret").unwrap();
        std::fs::write(root.join("sub/ok"), b"ok").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), root.join("out")).unwrap();
        std::os::unix::fs::symlink("../secret", root.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("sub/ok", root.join("in")).unwrap();
        let s = Server::start(local(), Site::new(&root)).unwrap();
        for p in [
            "/../secret",
            "/sub/../../secret",
            "/sub/%2e%2e/%2E%2E/secret",
            "/sub%2f..%2f..%2fsecret",
            "/./sub/ok",
            "//sub/ok",
            "sub/ok",
            "http://x/sub/ok",
            "/out",
            "/sub/up",
        ] {
            let a = get(s.local_addr(), p);
            assert!(matches!(code(&a), 400 | 404), "{p}: {a}");
            assert!(
                !a.contains("secret\n") && !body(&a).starts_with("secret"),
                "{p}: {a}"
            );
        }
        // A link that stays inside is followed.
        assert_eq!(body(&get(s.local_addr(), "/in")), "ok");
    }

    #[test]
    fn links_into_a_named_folder_are_followed() {
        // What stage.rs makes: a tree of absolute links into the build's tftp tree.
        let (d, built) = tree();
        let staged = d.path().join("staged");
        std::fs::create_dir_all(staged.join("images/a")).unwrap();
        std::os::unix::fs::symlink(
            built.join("images/a/root.squashfs"),
            staged.join("images/a/root.squashfs"),
        )
        .unwrap();
        let alone = Server::start(local(), Site::new(&staged)).unwrap();
        assert_eq!(
            code(&get(alone.local_addr(), "/images/a/root.squashfs")),
            404
        );
        let s = Server::start(local(), Site::new(&staged).links_into(&built).at("/boot/")).unwrap();
        let a = get(s.local_addr(), "/boot/images/a/root.squashfs");
        assert_eq!(body(&a), "squashfs bytes", "{a}");
        assert_eq!(code(&get(s.local_addr(), "/images/a/root.squashfs")), 404);
    }

    #[test]
    fn requests_and_bytes_are_counted_per_path() {
        let (_d, root) = tree();
        let s = Server::start(local(), Site::new(&root)).unwrap();
        let p = "/images/a/root.squashfs";
        get(s.local_addr(), p);
        get(s.local_addr(), "/images/a/root%2Esquashfs");
        ask(s.local_addr(), &format!("HEAD {p} HTTP/1.1\r\n\r\n"));
        get(s.local_addr(), "/nothing");
        assert_eq!(
            s.hits(p),
            Hits {
                requests: 3,
                bytes: 28,
                complete: 2
            }
        );
        assert_eq!(
            s.hits("/nothing"),
            Hits {
                requests: 1,
                bytes: 0,
                complete: 0
            }
        );
        assert_eq!(s.hits("/never"), Hits::default());
        assert_eq!(s.all_hits().len(), 2);
    }

    #[test]
    fn a_dropped_server_stops_listening() {
        let (_d, root) = tree();
        let s = Server::start(local(), Site::new(&root)).unwrap();
        let addr = s.local_addr();
        // A client that never finishes its request must not hold the drop up.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /images/a/root.squashfs HTTP/1.1\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let t = std::time::Instant::now();
        drop(s);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let mut rest = Vec::new();
        let _ = idle.read_to_end(&mut rest);
        assert!(
            TcpStream::connect(addr).is_err(),
            "still listening on {addr}"
        );
    }

    #[test]
    fn a_port_in_use_is_named() {
        let (_d, root) = tree();
        let s = Server::start(local(), Site::new(&root)).unwrap();
        let e = Server::start(s.local_addr(), Site::new(&root))
            .err()
            .expect("a second server on the same port");
        let port = s.local_addr().port();
        assert_eq!(
            e.to_string(),
            format!("Cannot serve HTTP on `127.0.0.1:{port}`: port {port} is in use")
        );
        assert!(e.hint().unwrap().contains("`[image] root_http`"));
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("/a%2Fb%20c").as_deref(), Some("/a/b c"));
        assert_eq!(percent_decode("/a%2").as_deref(), None);
        assert_eq!(percent_decode("/a%zz").as_deref(), None);
        assert_eq!(percent_decode("/%ff").as_deref(), None);
    }
}
