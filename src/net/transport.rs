//! Transport: one blocking HTTP(S) client per repository (its TLS client certificate and CA
//! differ), plus `file://` URLs, with connect and read timeouts, dnf's `minrate`, and
//! proxies from the environment (`http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`) or the
//! repository's `proxy` ([`Proxy`]).
//!
//! Bodies are streamed into a writer with a hard size limit, so a hostile server cannot fill
//! the disk, and a body shorter than announced is reported as truncated (retryable). A
//! server that accepts and then says nothing costs one read timeout per attempt; one that
//! trickles bytes slower than `minrate` is cut off after the same window, as dnf does.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;
use thiserror::Error;
use url::Url;

/// TLS settings of a repository, as `.repo` files spell them (`sslcacert`, `sslclientcert`,
/// `sslclientkey`, `sslverify`). The Red Hat CDN needs the client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM bundle of CA certificates that replaces the system roots for this repository.
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate (entitlement certificate on RHEL).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// `sslverify`: check the server certificate (default true).
    pub verify: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca_cert: None,
            client_cert: None,
            client_key: None,
            verify: true,
        }
    }
}

/// Connect and read timeouts, and the lowest transfer rate accepted. The read timeout bounds
/// each wait for data (and for the response head), not the whole download, so a large
/// package on a slow but live link still completes.
///
/// The defaults: connecting gets 10 s (a live mirror answers a SYN in well under a second
/// even across continents; 10 s still covers three SYN retransmissions, at 1, 3 and 7 s),
/// a silent connection 30 s and the rate floor is 1000 bytes/s over that window (dnf's
/// `timeout` and `minrate` defaults). The old 60 s read timeout made a mirror that accepts
/// and never answers cost a minute per attempt, four attempts per mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Timeouts {
    #[serde(serialize_with = "seconds")]
    pub connect: Duration,
    #[serde(serialize_with = "seconds")]
    pub read: Duration,
    /// dnf's `minrate`: a transfer slower than this (bytes per second, averaged over one
    /// read timeout) is aborted as timed out; 0 turns the check off.
    pub min_rate: u64,
}

impl Timeouts {
    pub const DEFAULT_CONNECT: Duration = Duration::from_secs(10);
    pub const DEFAULT_READ: Duration = Duration::from_secs(30);
    pub const DEFAULT_MIN_RATE: u64 = 1000;
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Timeouts::DEFAULT_CONNECT,
            read: Timeouts::DEFAULT_READ,
            min_rate: Timeouts::DEFAULT_MIN_RATE,
        }
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// How a repository reaches its servers, as dnf's `proxy`, `proxy_username` and
/// `proxy_password` say.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Proxy {
    /// No `proxy` set: the environment's `http_proxy`, `https_proxy`, `all_proxy` and
    /// `no_proxy` decide.
    #[default]
    Environment,
    /// `proxy=_none_`: connect directly, whatever the environment says.
    Direct,
    /// Through this proxy (`http://host:port`, `socks5://…`), with basic credentials when
    /// given.
    Url {
        url: String,
        username: Option<String>,
        password: Option<String>,
    },
}

/// Never prints the proxy password (a `Remote` is logged at debug level).
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Proxy::Environment => f.write_str("Environment"),
            Proxy::Direct => f.write_str("Direct"),
            Proxy::Url {
                url,
                username,
                password,
            } => f
                .debug_struct("Url")
                .field("url", url)
                .field("username", username)
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

#[derive(Debug, Error)]
pub enum TransportError {
    #[error("`{url}` answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("Could not connect to `{url}`")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Timed out waiting for `{url}`")]
    Timeout { url: String },
    #[error(
        "`{url}` sent {got} bytes in {secs} s, slower than the minimum rate of {min_rate} bytes/s"
    )]
    TooSlow {
        url: String,
        got: u64,
        secs: u64,
        min_rate: u64,
    },
    #[error("Reading the body of `{url}` failed after {got} bytes")]
    Body {
        url: String,
        got: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("`{url}` ended after {got} of {expected} bytes")]
    Truncated {
        url: String,
        expected: u64,
        got: u64,
    },
    #[error("`{url}` sent more than the expected {expected} bytes")]
    TooLong { url: String, expected: u64 },
    #[error("Cannot read `{}`", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Cannot write the download of `{url}`")]
    Write {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Unsupported URL `{url}` (only http, https and file URLs are)")]
    Scheme { url: String },
    #[error("Request to `{url}` failed")]
    Client {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Cannot set up TLS: {what}")]
    Tls {
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl TransportError {
    /// The local disk failed (not the server): no other mirror will help.
    pub fn is_local(&self) -> bool {
        matches!(self, TransportError::Write { .. })
    }
}

/// Install rustls' ring provider once per process (reqwest is built without a default one).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another part of the process installed one first: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for one repository.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::blocking::Client,
    timeouts: Timeouts,
}

impl Transport {
    pub fn new(tls: &TlsConfig, proxy: &Proxy, timeouts: Timeouts) -> Result<Self, TransportError> {
        install_crypto_provider();
        let mut b = reqwest::blocking::Client::builder()
            .user_agent(concat!("diskless/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.read)
            .tls_backend_rustls();
        match proxy {
            Proxy::Environment => {}
            Proxy::Direct => b = b.no_proxy(),
            Proxy::Url {
                url,
                username,
                password,
            } => {
                let mut p = reqwest::Proxy::all(url).map_err(|e| TransportError::Tls {
                    what: format!("invalid proxy `{url}`"),
                    source: Some(Box::new(e)),
                })?;
                if let Some(user) = username {
                    p = p.basic_auth(user, password.as_deref().unwrap_or(""));
                }
                b = b.proxy(p);
            }
        }
        if let Some(ca) = &tls.ca_cert {
            let pem = read_pem(ca)?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| TransportError::Tls {
                    what: format!("`{}` is not a PEM certificate bundle", ca.display()),
                    source: Some(Box::new(e)),
                })?;
            b = b.tls_certs_only(certs);
        }
        match (&tls.client_cert, &tls.client_key) {
            (Some(cert), key) => {
                let mut pem = read_pem(cert)?;
                if let Some(key) = key {
                    pem.push(b'\n');
                    pem.extend(read_pem(key)?);
                }
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| TransportError::Tls {
                    what: format!(
                        "`{}` (and its key) is not a PEM client certificate with a private key",
                        cert.display()
                    ),
                    source: Some(Box::new(e)),
                })?;
                b = b.identity(id);
            }
            (None, Some(key)) => {
                return Err(TransportError::Tls {
                    what: format!(
                        "`sslclientkey` `{}` is set without `sslclientcert`",
                        key.display()
                    ),
                    source: None,
                });
            }
            (None, None) => {}
        }
        if !tls.verify {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let client = b.build().map_err(|e| TransportError::Tls {
            what: "the HTTP client could not be built".into(),
            source: Some(Box::new(e)),
        })?;
        Ok(Transport { client, timeouts })
    }

    /// Stream `url` into `out`. `expected` is the exact size when known: more is an error
    /// (and reading stops), less is [`TransportError::Truncated`]. `progress` gets each
    /// chunk's length. Returns the number of bytes written.
    pub fn download(
        &self,
        url: &Url,
        expected: Option<u64>,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, TransportError> {
        let u = url.as_str().to_string();
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| TransportError::Scheme { url: u.clone() })?;
                let mut f = std::fs::File::open(&path).map_err(|source| TransportError::File {
                    path: path.clone(),
                    source,
                })?;
                copy_limited(&mut f, &u, expected, None, out, progress, |source, _| {
                    TransportError::File {
                        path: path.clone(),
                        source,
                    }
                })
            }
            "http" | "https" => {
                let resp = self
                    .client
                    .get(url.clone())
                    .send()
                    .map_err(|e| map_reqwest(&u, e))?;
                let status = resp.status().as_u16();
                if !resp.status().is_success() {
                    return Err(TransportError::Status { url: u, status });
                }
                let mut resp = resp;
                let floor = (self.timeouts.min_rate > 0).then_some(RateFloor {
                    min_rate: self.timeouts.min_rate,
                    window: self.timeouts.read,
                });
                copy_limited(
                    &mut resp,
                    &u,
                    expected,
                    floor,
                    out,
                    progress,
                    |source, got| {
                        if is_timeout(&source) {
                            TransportError::Timeout { url: u.clone() }
                        } else {
                            TransportError::Body {
                                url: u.clone(),
                                got,
                                source,
                            }
                        }
                    },
                )
            }
            _ => Err(TransportError::Scheme { url: u }),
        }
    }

    /// The whole body of a small document (mirrorlist, metalink, key), at most `limit` bytes.
    pub fn get_bytes(&self, url: &Url, limit: u64) -> Result<Vec<u8>, TransportError> {
        let mut buf = Vec::new();
        let mut cap = LimitWriter {
            inner: &mut buf,
            left: limit,
            url: url.as_str(),
        };
        self.download(url, None, &mut cap, &mut |_| {})?;
        Ok(buf)
    }
}

/// Refuses to grow past `left` bytes (for documents of unknown size).
struct LimitWriter<'a> {
    inner: &'a mut Vec<u8>,
    left: u64,
    url: &'a str,
}

impl Write for LimitWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "`{}` is larger than expected",
                self.url
            )));
        }
        self.left -= buf.len() as u64;
        self.inner.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn read_pem(path: &PathBuf) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|source| TransportError::File {
        path: path.clone(),
        source,
    })
}

/// dnf's `minrate`: at least `min_rate` bytes per second over every `window`.
#[derive(Debug, Clone, Copy)]
struct RateFloor {
    min_rate: u64,
    window: Duration,
}

fn copy_limited(
    src: &mut dyn Read,
    url: &str,
    expected: Option<u64>,
    floor: Option<RateFloor>,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
    read_err: impl Fn(std::io::Error, u64) -> TransportError,
) -> Result<u64, TransportError> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut got: u64 = 0;
    // (start of the current window, bytes at its start)
    let mut window = (std::time::Instant::now(), 0u64);
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e, got)),
        };
        got += n as u64;
        if let Some(f) = floor {
            let elapsed = window.0.elapsed();
            if elapsed >= f.window {
                let secs = elapsed.as_secs().max(1);
                let sent = got - window.1;
                if sent < f.min_rate.saturating_mul(secs) {
                    return Err(TransportError::TooSlow {
                        url: url.to_string(),
                        got: sent,
                        secs,
                        min_rate: f.min_rate,
                    });
                }
                window = (std::time::Instant::now(), got);
            }
        }
        if let Some(exp) = expected
            && got > exp
        {
            return Err(TransportError::TooLong {
                url: url.to_string(),
                expected: exp,
            });
        }
        out.write_all(&buf[..n])
            .map_err(|source| TransportError::Write {
                url: url.to_string(),
                source,
            })?;
        progress(n as u64);
    }
    if let Some(exp) = expected
        && got < exp
    {
        return Err(TransportError::Truncated {
            url: url.to_string(),
            expected: exp,
            got,
        });
    }
    Ok(got)
}

fn map_reqwest(url: &str, e: reqwest::Error) -> TransportError {
    if is_tls_failure(&e) {
        // A certificate problem does not go away by asking again.
        TransportError::Tls {
            what: format!("the TLS handshake with `{url}` failed"),
            source: Some(Box::new(e)),
        }
    } else if e.is_timeout() {
        TransportError::Timeout {
            url: url.to_string(),
        }
    } else if e.is_connect() {
        TransportError::Connect {
            url: url.to_string(),
            source: e,
        }
    } else {
        TransportError::Client {
            url: url.to_string(),
            source: e,
        }
    }
}

/// Whether rustls refused the connection (certificate unknown, required, expired, ...).
fn is_tls_failure(e: &reqwest::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether an I/O error from a response body wraps a reqwest timeout.
fn is_timeout(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return true;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(err) = cur {
        if let Some(re) = err.downcast_ref::<reqwest::Error>()
            && re.is_timeout()
        {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_stream_and_check_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, b"hello world").unwrap();
        let t = Transport::new(
            &TlsConfig::default(),
            &Proxy::Environment,
            Timeouts::default(),
        )
        .unwrap();
        let url = Url::from_file_path(&p).unwrap();
        let mut out = Vec::new();
        let mut seen = 0;
        let n = t
            .download(&url, Some(11), &mut out, &mut |b| seen += b)
            .unwrap();
        assert_eq!((n, seen, out.as_slice()), (11, 11, &b"hello world"[..]));

        let mut out = Vec::new();
        let err = t
            .download(&url, Some(20), &mut out, &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(
                err,
                TransportError::Truncated {
                    expected: 20,
                    got: 11,
                    ..
                }
            ),
            "{err}"
        );
        let err = t
            .download(&url, Some(5), &mut Vec::new(), &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(err, TransportError::TooLong { expected: 5, .. }),
            "{err}"
        );

        let missing = Url::from_file_path(dir.path().join("nope")).unwrap();
        let err = t
            .download(&missing, None, &mut Vec::new(), &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TransportError::File { .. }), "{err}");
    }

    #[test]
    fn client_key_without_cert_is_refused() {
        let tls = TlsConfig {
            client_key: Some("/k.pem".into()),
            ..TlsConfig::default()
        };
        let err = Transport::new(&tls, &Proxy::Environment, Timeouts::default()).unwrap_err();
        assert!(err.to_string().contains("without `sslclientcert`"), "{err}");
    }
}
