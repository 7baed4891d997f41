//! Repository metadata beyond `baseurl`: mirrorlists and metalinks (with repomd.xml pinned
//! by the metalink's hashes), `repo_gpgcheck` (repomd.xml.asc), and TLS client certificates,
//! on a real createrepo_c repository served over HTTP(S) on 127.0.0.1.

use crate::support::http::Server;
use crate::support::keys::{detached_sign, gen_key};
use crate::support::proc::free_port;
use crate::support::regex_escape;
use crate::support::repo::{file_url, make_repo, options};
use crate::support::tls::{have_openssl, make_pki, mtls_server};
use diskless::net::Remote;
use diskless::repo::{self, LoadOptions, RepoError};
use pgp::composed::SignedSecretKey;
use sha2::Digest;

/// A source with no `baseurl`: everything comes from its mirror list(s).
fn mirrored(id: &str) -> Remote {
    Remote {
        baseurls: Vec::new(),
        ..Remote::new(id, "")
    }
}

/// A URL where nothing listens (a port that was bound, then released).
fn dead_url() -> String {
    format!("http://127.0.0.1:{}/dead/", free_port())
}

/// The repository's Ed25519 signing key (fixed seed and creation time) and its armored
/// public key.
fn signing_key(seed: u64) -> (SignedSecretKey, String) {
    let k = gen_key(seed, "repo signer <repo@example.org>");
    (k.secret, k.public_asc)
}

fn metalink(repomd: &[u8], urls: &[String]) -> String {
    let resources: String = urls
        .iter()
        .enumerate()
        .map(|(i, u)| {
            format!(
                "<url protocol=\"http\" type=\"http\" location=\"XX\" preference=\"{}\">{u}repodata/repomd.xml</url>\n",
                100 - i
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files><file name="repomd.xml">
  <mm0:timestamp>1700000000</mm0:timestamp>
  <size>{}</size>
  <verification><hash type="sha256">{}</hash></verification>
  <resources maxconnections="1">
{resources}  </resources>
 </file></files>
</metalink>"#,
        repomd.len(),
        hex::encode(sha2::Sha256::digest(repomd))
    )
}

#[test]
fn mirrorlist_skips_a_dead_and_an_empty_mirror_and_works_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    make_repo(&www.join("good"), "gz");
    let server = Server::serve_dir(&www);
    let good = format!("{}good/", server.base());
    std::fs::write(
        www.join("mirrorlist"),
        format!(
            "# mirrors, in order\n{}\n{}empty/\n{}\n",
            dead_url(),
            server.base(),
            good.trim_end_matches('/')
        ),
    )
    .unwrap();
    let src = Remote {
        mirrorlist: Some(format!("{}mirrorlist", server.base())),
        ..mirrored("ml")
    };
    let cache = tmp.path().join("cache");
    let data = repo::load(&src, &options(&cache)).unwrap();
    assert_eq!(data.baseurl, good);
    let mut names: Vec<_> = data.packages.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["bar", "foo"]);
    assert_eq!(
        data.package_url(&data.packages[0]).unwrap().as_str(),
        format!("{good}{}", data.packages[0].location)
    );

    // Offline: the kept mirrorlist and the cached repomd.xml and records suffice.
    let before = server.requests();
    let off = repo::load(
        &src,
        &LoadOptions {
            cache_dir: cache.clone(),
            offline: true,
        },
    )
    .unwrap();
    assert_eq!(off.baseurl, good);
    assert_eq!(off.repomd_sha256, data.repomd_sha256);
    assert_eq!(server.requests(), before);

    // A mirrorlist listing only mirrors without the repository: the 404 is reported.
    std::fs::write(www.join("bad-list"), format!("{}empty/\n", server.base())).unwrap();
    let err = repo::load(
        &Remote {
            mirrorlist: Some(format!("{}bad-list", server.base())),
            ..mirrored("bad")
        },
        &options(&cache),
    )
    .unwrap_err();
    assert!(
        matches!(err, RepoError::NotFound { ref url } if url.ends_with("empty/repodata/repomd.xml")),
        "{err}"
    );

    // A mirrorlist that lists nothing usable, and no baseurl: nothing to read from.
    std::fs::write(www.join("rsync-only"), "rsync://mirror.example/repo/\n").unwrap();
    let err = repo::load(
        &Remote {
            mirrorlist: Some(file_url(&www.join("rsync-only"))),
            ..mirrored("none")
        },
        &options(&cache),
    )
    .unwrap_err();
    assert!(matches!(err, RepoError::NoBaseurl { .. }), "{err}");
}

#[test]
fn metalink_hashes_pin_repomd_and_a_mismatch_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    make_repo(&www.join("m1"), "gz");
    let server = Server::serve_dir(&www);
    let good = format!("{}m1/", server.base());
    let repomd = std::fs::read(www.join("m1/repodata/repomd.xml")).unwrap();
    std::fs::write(
        www.join("metalink"),
        metalink(&repomd, &[dead_url(), good.clone()]),
    )
    .unwrap();
    let src = Remote {
        metalink: Some(format!("{}metalink", server.base())),
        ..mirrored("ml")
    };
    let cache = tmp.path().join("cache");
    let data = repo::load(&src, &options(&cache)).unwrap();
    assert_eq!(data.baseurl, good);
    assert_eq!(
        data.repomd_sha256,
        hex::encode(sha2::Sha256::digest(&repomd))
    );

    // The metalink describes another repomd.xml (a stale or altered mirror): refused, also
    // for a `baseurl` of the same repository, and also from the cache offline.
    let mut other = repomd.clone();
    other.extend_from_slice(b"\n");
    std::fs::write(
        www.join("stale"),
        metalink(&other, std::slice::from_ref(&good)),
    )
    .unwrap();
    for (src, offline) in [
        (
            Remote {
                metalink: Some(format!("{}stale", server.base())),
                ..mirrored("stale")
            },
            false,
        ),
        (
            Remote {
                metalink: Some(format!("{}stale", server.base())),
                ..Remote::new("stale-base", good.clone())
            },
            false,
        ),
        (
            Remote {
                metalink: Some(format!("{}stale", server.base())),
                ..Remote::new("ml", good.clone())
            },
            true,
        ),
    ] {
        // The offline case: the repomd.xml cached for `ml` by the first load.
        let cache_dir = if offline {
            cache.clone()
        } else {
            tmp.path().join(format!("cache-{}", src.id))
        };
        if offline {
            // Keep the stale metalink for `ml` as an earlier online run would have.
            let kept = diskless::repo::cache::kept_path(
                &cache_dir,
                "ml",
                src.metalink.as_deref().unwrap(),
                "metalink.xml",
            );
            std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
            std::fs::copy(www.join("stale"), kept).unwrap();
        }
        let err = repo::load(&src, &LoadOptions { cache_dir, offline }).unwrap_err();
        assert!(matches!(err, RepoError::Mirror(_)), "{}: {err}", src.id);
        let msg = err.to_string();
        assert!(
            msg.contains("matches none of the metalink's checksums")
                && msg.contains("m1/repodata/repomd.xml"),
            "{msg}"
        );
        assert!(err.hint().unwrap().contains("metalink"));
    }
}

#[test]
fn repo_gpgcheck_needs_a_good_signature_on_repomd() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    make_repo(&www.join("r"), "gz");
    let server = Server::serve_dir(&www);
    let base = format!("{}r/", server.base());
    let (sk, public) = signing_key(11);
    let key = tmp.path().join("RPM-GPG-KEY-repo");
    std::fs::write(&key, &public).unwrap();
    let repomd_path = www.join("r/repodata/repomd.xml");
    let asc_path = www.join("r/repodata/repomd.xml.asc");
    let repomd = std::fs::read(&repomd_path).unwrap();
    let src = Remote {
        repo_gpgcheck: true,
        gpgkeys: vec![file_url(&key)],
        ..Remote::new("signed", base.clone())
    };
    let opts = |n: &str| options(&tmp.path().join(n));

    // No repomd.xml.asc at all.
    let err = repo::load(&src, &opts("c1")).unwrap_err();
    assert!(
        matches!(err, RepoError::MissingSignature { ref repo, ref url }
            if repo == "signed" && url == &format!("{base}repodata/repomd.xml.asc")),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("repo_gpgcheck = false"));

    // A good signature.
    std::fs::write(&asc_path, detached_sign(&sk, &repomd)).unwrap();
    let data = repo::load(&src, &opts("c2")).unwrap();
    assert_eq!(data.packages.len(), 2);
    // Offline, the kept signature is checked again.
    repo::load(
        &src,
        &LoadOptions {
            cache_dir: tmp.path().join("c2"),
            offline: true,
        },
    )
    .unwrap();

    // A signature over other bytes, and a signature by a key the repository does not name.
    let (other_sk, _) = signing_key(12);
    for asc in [
        detached_sign(&sk, b"<repomd>another</repomd>\n"),
        detached_sign(&other_sk, &repomd),
    ] {
        std::fs::write(&asc_path, asc).unwrap();
        let err = repo::load(&src, &opts("c3")).unwrap_err();
        assert!(
            matches!(err, RepoError::BadSignature { ref repo, .. } if repo == "signed"),
            "{err}"
        );
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert!(
            chain.contains(&format!("{base}repodata/repomd.xml.asc")),
            "{chain}"
        );
    }

    // Not valid OpenPGP at all.
    std::fs::write(&asc_path, "not a signature\n").unwrap();
    let err = repo::load(&src, &opts("c4")).unwrap_err();
    assert!(matches!(err, RepoError::BadSignature { .. }), "{err}");
}

#[test]
fn https_metadata_with_client_certificate_and_private_ca() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let www = tmp.path().join("www");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    make_repo(&www.join("repo"), "gz");
    let (_guard, port) = mtls_server(&pki, &www);
    let base = format!("https://127.0.0.1:{port}/repo/");
    let tls = diskless::net::TlsConfig {
        ca_cert: Some(pki.join("ca.pem")),
        client_cert: Some(pki.join("client.pem")),
        client_key: Some(pki.join("client.key")),
        verify: true,
    };
    let src = Remote {
        tls: tls.clone(),
        ..Remote::new("cdn", base.clone())
    };
    let data = repo::load(&src, &options(&tmp.path().join("cache"))).unwrap();
    assert_eq!(data.packages.len(), 2);
    assert_eq!(data.filelists().unwrap().packages.len(), 2);

    // Without the client certificate the server refuses; without the CA it is not trusted.
    for (i, (tls, cause)) in [
        (
            diskless::net::TlsConfig {
                client_cert: None,
                client_key: None,
                ..tls.clone()
            },
            "CertificateRequired",
        ),
        (
            diskless::net::TlsConfig {
                ca_cert: None,
                ..tls.clone()
            },
            "UnknownIssuer",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let err = repo::load(
            &Remote {
                tls,
                ..Remote::new("cdn", base.clone())
            },
            &options(&tmp.path().join(format!("cache{i}"))),
        )
        .unwrap_err();
        assert!(matches!(err, RepoError::Download { .. }), "{i}: {err}");
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert!(
            chain.contains(cause) && chain.contains(&format!("{base}repodata/repomd.xml")),
            "{i}: {chain}"
        );
    }

    // A missing certificate file is named.
    let err = repo::load(
        &Remote {
            tls: diskless::net::TlsConfig {
                client_cert: Some(pki.join("nope.pem")),
                ..tls
            },
            ..Remote::new("cdn", base)
        },
        &options(&tmp.path().join("cache3")),
    )
    .unwrap_err();
    assert!(matches!(err, RepoError::Setup { .. }), "{err}");
    assert!(
        format!("{:#}", anyhow::Error::new(err)).contains("nope.pem"),
        "names the file"
    );
}

/// `diskless lock` on a profile whose repository has only a mirrorlist (with `$basearch`
/// substituted by the profile): the lock records the mirror that answered, and `fetch`
/// downloads from it.
#[test]
fn cli_lock_with_only_a_mirrorlist() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    make_repo(&www.join("x86_64"), "gz");
    let server = Server::serve_dir(&www);
    std::fs::write(
        www.join("mirrorlist-x86_64"),
        format!("{}\n{}x86_64/\n", dead_url(), server.base()),
    )
    .unwrap();
    let prof = tmp.path().join("p.toml");
    std::fs::write(
        &prof,
        format!(
            "[image]\nname = \"t\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n[[repo]]\nid = \"mirrored\"\nmirrorlist = \"{}mirrorlist-$basearch\"\ngpgcheck = false\n\n[packages]\ninstall = [\"foo\"]\n",
            server.base()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("diskless").unwrap();
        c.env("DISKLESS_CACHE_DIR", tmp.path().join("cache"))
            .env_remove("SOURCE_DATE_EPOCH")
            .args(args)
            .arg(&prof)
            .assert()
            .success()
    };
    run(&["lock"]);
    let lock = diskless::lock::Lockfile::read(&tmp.path().join("p.lock")).unwrap();
    assert_eq!(lock.repos.len(), 1);
    assert_eq!(lock.repos[0].baseurl, format!("{}x86_64/", server.base()));
    let mut nevras: Vec<_> = lock.packages.iter().map(|p| p.nevra()).collect();
    nevras.sort();
    assert_eq!(
        nevras,
        ["bar-1.0-1.noarch", "foo-2:1.2.3-4.el9.x86_64"],
        "{nevras:?}"
    );
    run(&["fetch"]);
    run(&["lock", "--check"]);

    // repoquery reads the same repository through the mirrorlist, and --offline through the
    // kept copy of it.
    for offline in [false, true] {
        let mut c = assert_cmd::Command::cargo_bin("diskless").unwrap();
        c.env("DISKLESS_CACHE_DIR", tmp.path().join("cache"));
        if offline {
            c.arg("--offline");
        }
        let out = c.arg("repoquery").arg(&prof).assert().success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            ["bar-0:1.0-1.noarch", "foo-2:1.2.3-4.el9.x86_64"],
            "offline {offline}"
        );
    }
}

/// Snapshot CLI output with the temp dir and the server port filtered out.
fn snapshot(name: &str, tmp: &std::path::Path, text: &str) {
    // The filters are regexes: escape the path's punctuation.
    let tmp = regex_escape(&tmp.display().to_string());
    insta::with_settings!({filters => vec![
        (tmp.as_str(), "[TMP]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"sha256 [0-9a-f]{64}", "sha256 [SHA256]"),
        (r"got \d+ bytes", "got [N] bytes"),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

fn lock_fails(tmp: &std::path::Path, prof: &std::path::Path) -> String {
    let out = assert_cmd::Command::cargo_bin("diskless")
        .unwrap()
        .env("DISKLESS_CACHE_DIR", tmp.join("cache"))
        .env("NO_COLOR", "1")
        .arg("lock")
        .arg(prof)
        .assert()
        .failure();
    String::from_utf8_lossy(&out.get_output().stderr).to_string()
}

/// The CLI names the repository and the URL, and hints at what to do, when repomd.xml is
/// unsigned, badly signed, or not the one the metalink lists.
#[test]
fn cli_lock_errors_for_refused_repomd() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("r");
    make_repo(&repo_dir, "gz");
    let (sk, public) = signing_key(3);
    let key = tmp.path().join("KEY");
    std::fs::write(&key, public).unwrap();
    let head = "[image]\nname = \"t\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n[packages]\ninstall = [\"foo\"]\n\n";
    let prof = tmp.path().join("p.toml");
    std::fs::write(
        &prof,
        format!(
            "{head}[[repo]]\nid = \"signed\"\nbaseurl = \"{}/\"\ngpgkey = \"{}\"\nrepo_gpgcheck = true\n",
            file_url(&repo_dir),
            file_url(&key)
        ),
    )
    .unwrap();
    let err = lock_fails(tmp.path(), &prof);
    assert!(err.contains("Cannot load repository `signed`"), "{err}");
    assert!(
        err.contains("hint: set `repo_gpgcheck = false` for this repository"),
        "{err}"
    );
    snapshot("cli_missing_signature", tmp.path(), &err);

    std::fs::write(
        repo_dir.join("repodata/repomd.xml.asc"),
        detached_sign(&sk, b"something else"),
    )
    .unwrap();
    let err = lock_fails(tmp.path(), &prof);
    snapshot("cli_bad_signature", tmp.path(), &err);

    let www = tmp.path().join("www");
    make_repo(&www.join("m"), "gz");
    let server = Server::serve_dir(&www);
    std::fs::write(
        www.join("metalink"),
        metalink(b"not this one", &[format!("{}m/", server.base())]),
    )
    .unwrap();
    std::fs::write(
        &prof,
        format!(
            "{head}[[repo]]\nid = \"linked\"\nmetalink = \"{}metalink\"\ngpgcheck = false\n",
            server.base()
        ),
    )
    .unwrap();
    let err = lock_fails(tmp.path(), &prof);
    snapshot("cli_metalink_mismatch", tmp.path(), &err);
}
