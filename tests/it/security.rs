//! What a profile, a repository and a package cannot make diskless do (docs/security.md
//! points at these tests):
//! - read host files outside the profile's folder (`[[file]] source`, `root.password_file`,
//!   `repo_files`; after symlinks and `..`) unless the command line allows them, and then
//!   the manifest records each one with its digest, never its contents;
//! - echo the contents of a file it names for TLS or keys in an error;
//! - point a package or a metadata file of a repository at a host file;
//! - make a build replace the file system root, the home, the current folder, the profile's
//!   folder or the cache through `--out` (even with `--force`).

use crate::support::repo::make_repo;
use crate::support::{error_chain, http::Server};
use diskless::lock::{LOCK_VERSION, LockedPackage, LockedRepo, Lockfile};
use diskless::net::{Remote, RetryPolicy};
use diskless::package::Checksum;
use diskless::profile::{self, ProfileError};
use std::path::PathBuf;

/// A secret on the "build host": the tests check it never shows up.
const SECRET: &str = "TOP-SECRET-4711 root:$6$notahash:19000:0:99999:7:::";

const MIN: &str = "[image]\nname = \"t\"\narch = \"x86_64\"\nreleasever = \"9\"\n\n\
                   [[repo]]\nid = \"r\"\nbaseurl = \"./repo/\"\ngpgcheck = false\n\n\
                   [packages]\ninstall = [\"bash\"]\n";

struct Host {
    _tmp: tempfile::TempDir,
    /// The profile's folder.
    dir: PathBuf,
    /// A folder elsewhere on the host, holding `secret.txt`.
    elsewhere: PathBuf,
}

impl Host {
    fn new() -> Host {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("profile");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("secret.txt"), SECRET).unwrap();
        std::fs::write(dir.join("inside.txt"), "fine\n").unwrap();
        Host {
            _tmp: tmp,
            dir,
            elsewhere,
        }
    }
    fn secret(&self) -> PathBuf {
        self.elsewhere.join("secret.txt")
    }
    fn profile(&self, extra: &str) -> PathBuf {
        let p = self.dir.join("p.toml");
        std::fs::write(&p, format!("{extra}{MIN}")).unwrap();
        p
    }
}

fn refused(r: Result<profile::Profile, ProfileError>, field: &str) -> (String, String) {
    let e = match r {
        Ok(_) => panic!("`{field}` outside the profile's folder was accepted"),
        Err(e) => e,
    };
    let text = error_chain(&e, "\n");
    let hint = e.hint().unwrap_or_default().to_string();
    assert!(text.contains(field), "the field is not named:\n{text}");
    assert!(text.contains("outside the profile's folder"), "{text}");
    assert!(hint.contains("--allow-host-path "), "{hint}");
    assert!(
        !text.contains("TOP-SECRET"),
        "the error shows the file:\n{text}"
    );
    (text, hint)
}

#[test]
fn host_files_outside_the_profile_folder_are_refused_unless_allowed() {
    let h = Host::new();
    let secret = h.secret();
    let s = secret.display();

    // Each field that reads a host file, with an absolute path, with `..`, and through a
    // symlink inside the profile's folder.
    std::os::unix::fs::symlink(&secret, h.dir.join("link.txt")).unwrap();
    let cases = [
        (
            format!("[[file]]\npath = \"/etc/x\"\nsource = \"{s}\"\n"),
            "file[0].source",
        ),
        (
            "[[file]]\npath = \"/etc/x\"\nsource = \"../elsewhere/secret.txt\"\n".to_string(),
            "file[0].source",
        ),
        (
            "[[file]]\npath = \"/etc/x\"\nsource = \"link.txt\"\n".to_string(),
            "file[0].source",
        ),
        (
            format!("[root]\npassword_file = \"{s}\"\n"),
            "root.password_file",
        ),
    ];
    for (table, field) in &cases {
        // Tables go after the minimal profile; `repo_files` (a top-level key) before it.
        let p = h.dir.join("p.toml");
        std::fs::write(&p, format!("{MIN}\n{table}")).unwrap();
        let (_, hint) = refused(profile::load(&p), field);
        assert!(
            hint.contains(&secret.display().to_string())
                || hint.contains("link.txt")
                || hint.contains(".."),
            "{hint}"
        );
        // Allowed by the file or by its folder: loaded, and recorded.
        for allow in [secret.clone(), h.elsewhere.clone()] {
            let prof = profile::load_allowing(&p, std::slice::from_ref(&allow))
                .unwrap_or_else(|e| panic!("{field} allowed by {}: {e}", allow.display()));
            assert_eq!(prof.host_files.len(), 1, "{field}");
            assert_eq!(prof.host_files[0].field, *field);
        }
        // Allowing something else does not help.
        let other = h.dir.parent().unwrap().join("other");
        std::fs::create_dir_all(&other).unwrap();
        refused(profile::load_allowing(&p, &[other]), field);
    }

    // A `.repo` file outside: refused before it is read, so a parse error cannot quote it.
    let p = h.profile(&format!("repo_files = [\"{s}\"]\n"));
    refused(profile::load(&p), "repo_files");

    // Files inside the folder need nothing, and nothing is recorded.
    let p = h.dir.join("p.toml");
    std::fs::write(
        &p,
        format!("{MIN}\n[[file]]\npath = \"/etc/x\"\nsource = \"inside.txt\"\n"),
    )
    .unwrap();
    assert!(profile::load(&p).unwrap().host_files.is_empty());
}

#[test]
fn cli_names_the_field_and_the_flag_and_the_flag_lets_it_through() {
    let h = Host::new();
    let p = h.profile("");
    let s = h.secret();
    std::fs::write(
        &p,
        format!(
            "{MIN}\n[[file]]\npath = \"/etc/x\"\nsource = \"{}\"\n",
            s.display()
        ),
    )
    .unwrap();
    let out = assert_cmd::cargo::cargo_bin_cmd!("diskless")
        .args(["profile", "check"])
        .arg(&p)
        .env_remove("DISKLESS_ALLOW_HOST_PATH")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`file[0].source`"), "{err}");
    assert!(
        err.contains("hint: copy the file next to the profile"),
        "{err}"
    );
    assert!(
        err.contains(&format!("--allow-host-path {}", s.display())),
        "{err}"
    );
    for args in [
        vec!["--allow-host-path".to_string(), s.display().to_string()],
        vec![format!("--allow-host-path={}", h.elsewhere.display())],
    ] {
        let ok = assert_cmd::cargo::cargo_bin_cmd!("diskless")
            .args(["profile", "check", "--json"])
            .arg(&p)
            .args(&args)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{ok:?}");
        let json: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
        assert_eq!(json["host_files"][0]["field"], "file[0].source");
        assert!(!String::from_utf8_lossy(&ok.stdout).contains("TOP-SECRET"));
    }
}

#[test]
fn tls_and_key_files_are_read_but_their_contents_never_shown() {
    let h = Host::new();
    let secret = h.secret();
    // A CA bundle that is not PEM holds no certificate (nothing to show); a client
    // certificate that is not PEM is an error naming the file, not quoting it.
    let proxy = diskless::net::Proxy::Environment;
    let ca = diskless::net::TlsConfig {
        ca_cert: Some(secret.clone()),
        ..Default::default()
    };
    if let Err(e) = diskless::net::Transport::new(&ca, &proxy, Default::default()) {
        let text = error_chain(&e, "\n");
        assert!(!text.contains("TOP-SECRET"), "{text}");
    }
    let client = diskless::net::TlsConfig {
        client_cert: Some(secret.clone()),
        client_key: Some(secret.clone()),
        ..Default::default()
    };
    let e = diskless::net::Transport::new(&client, &proxy, Default::default()).unwrap_err();
    let text = error_chain(&e, "\n");
    assert!(text.contains(&*secret.to_string_lossy()), "{text}");
    assert!(!text.contains("TOP-SECRET"), "{text}");
    // A `gpgkey` that is not a key.
    let remote = Remote {
        gpgcheck: true,
        gpgkeys: vec![format!("file://{}", secret.display())],
        ..Remote::new("r", "file:///nowhere/")
    };
    let e = diskless::net::load_keyring(&remote, None, &RetryPolicy::default(), None).unwrap_err();
    let text = error_chain(&e, "\n");
    assert!(text.contains("secret.txt"), "{text}");
    assert!(!text.contains("TOP-SECRET"), "{text}");
}

fn lock_with_location(base: &str, location: &str) -> Lockfile {
    Lockfile {
        version: LOCK_VERSION,
        profile_digest: "t".into(),
        repos: vec![LockedRepo {
            id: "r".into(),
            baseurl: base.into(),
            revision: None,
            repomd_sha256: "0".repeat(64),
        }],
        packages: vec![LockedPackage {
            name: "p".into(),
            epoch: 0,
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            repo: "r".into(),
            location: location.into(),
            checksum: Checksum {
                kind: "sha256".into(),
                value: "ab".repeat(32),
            },
            size: SECRET.len() as u64,
            build_time: 1,
        }],
        boot_packages: Vec::new(),
    }
}

#[test]
fn a_repository_cannot_point_a_package_or_metadata_at_a_host_file() {
    let h = Host::new();
    let cache = h.dir.join("cache");
    let secret = h.secret();
    let server = Server::start();
    let repo_dir = h.dir.join("repo");
    std::fs::create_dir_all(&repo_dir).unwrap();
    let file_base = format!("file://{}/", repo_dir.display());
    for (base, location) in [
        // An http repository naming a local file.
        (server.base(), format!("file://{}", secret.display())),
        // A local repository climbing out of its folder, plain and percent-encoded.
        (file_base.clone(), "../elsewhere/secret.txt".to_string()),
        (
            file_base.clone(),
            "Packages%2F..%2F..%2F..%2Felsewhere%2Fsecret.txt".to_string(),
        ),
    ] {
        let lock = lock_with_location(&base, &location);
        let repos = [Remote::new("r", base.clone())];
        let mut opts = diskless::fetch::FetchOptions::new(&cache);
        opts.retry.attempts = 1;
        let e =
            diskless::plan::fetch_lock(&lock, &repos, &opts, &diskless::fetch::Silent).unwrap_err();
        let text = error_chain(&e, "\n");
        assert!(
            text.contains("leaves its repository"),
            "{location}:\n{text}"
        );
    }
    assert_eq!(server.requests(), 0);

    // repomd.xml of a local repository naming primary metadata outside it (with the right
    // checksum, so only the location can refuse it).
    make_repo(&repo_dir, "gz");
    let repomd = repo_dir.join("repodata/repomd.xml");
    let text = std::fs::read_to_string(&repomd).unwrap();
    let md = diskless::repo::Repomd::parse(text.as_bytes()).unwrap();
    let href = md.record("primary").unwrap().href.clone();
    let moved = h.elsewhere.join("primary.xml.gz");
    std::fs::rename(repo_dir.join(&href), &moved).unwrap();
    std::fs::write(&repomd, text.replace(&href, "../elsewhere/primary.xml.gz")).unwrap();
    let e = diskless::repo::load(
        &Remote::new("r", file_base),
        &crate::support::repo::options(&cache),
    )
    .unwrap_err();
    let text = error_chain(&e, "\n");
    assert!(
        text.contains("names a file outside the repository"),
        "{text}"
    );
}

#[test]
fn out_never_replaces_the_root_home_cwd_profile_folder_or_cache() {
    use diskless::plan::{BuildOptions, Plan, PlanError, Stage, build};
    let h = Host::new();
    let p = h.profile("");
    let plan = Plan::new(profile::load(&p).unwrap());
    let cache = h.dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("keep"), "x").unwrap();
    let cwd = std::env::current_dir().unwrap();
    for (out, what) in [
        (PathBuf::from("/"), "the file system root"),
        (h.dir.clone(), "the profile's folder"),
        (
            h.dir.parent().unwrap().to_path_buf(),
            "the profile's folder",
        ),
        (cache.clone(), "the cache"),
        (cwd.clone(), "the current folder"),
    ] {
        let opts = BuildOptions {
            out: out.clone(),
            stage: Stage::Fetch,
            force: true,
            rebuild: true,
            cache_dir: cache.clone(),
            offline: true,
            jobs: 1,
        };
        match build::run(&plan, &opts, &NoEvents) {
            Err(PlanError::UnsafeOut { what: w, .. }) => assert_eq!(w, what, "{}", out.display()),
            other => panic!("--out {} was not refused: {other:?}", out.display()),
        }
    }
    assert!(cache.join("keep").is_file() && p.is_file() && cwd.is_dir());
}

struct NoEvents;
impl diskless::plan::Reporter for NoEvents {}

/// A "billion laughs" primary.xml: only XML's predefined entities are resolved, so the
/// nested ones are an error naming the entity, not gigabytes of memory.
#[test]
fn an_xml_entity_bomb_in_primary_is_refused() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE metadata [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str(
        "]>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" packages=\"1\">\
         <package type=\"rpm\"><name>&lol9;</name></package></metadata>\n",
    );
    let start = std::time::Instant::now();
    let r = diskless::repo::primary::parse(doc.as_bytes(), "bomb");
    assert!(r.is_err(), "the entity bomb parsed");
    let e = format!("{:?}", r.err().unwrap());
    assert!(start.elapsed() < std::time::Duration::from_secs(2), "{e}");
}
