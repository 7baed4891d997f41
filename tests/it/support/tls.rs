//! A private PKI made with openssl (CA, server certificate for 127.0.0.1, client
//! certificate) and `openssl s_server` requiring the client certificate: the Red Hat CDN
//! case of a repository behind mutual TLS.

use super::proc::{ChildGuard, free_port, wait_for_port};
use std::path::Path;
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether openssl can be run (tests needing it skip otherwise).
pub fn have_openssl() -> bool {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no openssl");
        return false;
    }
    true
}

/// `openssl s_server -WWW` serving `www` over HTTPS on 127.0.0.1 with the server
/// certificate of [`make_pki`], requiring a client certificate signed by its CA. Returns
/// the guard that stops it and the port, once it accepts connections. It speaks HTTP/1.0
/// without Content-Length: the reader must find the end of a body by the closed connection.
pub fn mtls_server(pki: &Path, www: &Path) -> (ChildGuard, u16) {
    let port = free_port();
    let server = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-WWW", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(pki.join("server.pem"))
        .arg("-key")
        .arg(pki.join("server.key"))
        .arg("-CAfile")
        .arg(pki.join("ca.pem"))
        .args(["-Verify", "1"])
        .current_dir(www)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = ChildGuard(server);
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "openssl s_server did not start on port {port}"
    );
    (guard, port)
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in
/// `dir`: `ca.pem`, `server.pem` + `server.key`, `client.pem` + `client.key`.
pub fn make_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=diskless test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ];
    ca.extend(ec);
    ca.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let extf = format!("{name}.ext");
        std::fs::write(dir.join(&extf), ext).unwrap();
        let mut req = vec!["req", "-new", "-subj"];
        let subj = format!("/CN={name}");
        req.push(&subj);
        req.extend(["-keyout", &key, "-out", &csr]);
        req.extend(ec);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &extf,
                "-out",
                &pem,
            ],
        );
    }
}
