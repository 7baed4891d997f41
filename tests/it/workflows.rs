//! The GitHub Actions workflows and the composite action validate against GitHub's schemas
//! (`check-jsonschema`'s vendored copies: no network).

use std::path::Path;
use std::process::Command;

fn check(schema: &str, files: &[std::path::PathBuf]) {
    let out = Command::new("check-jsonschema")
        .arg("--builtin-schema")
        .arg(schema)
        .args(files)
        .output()
        .expect("run check-jsonschema");
    assert!(
        out.status.success(),
        "{schema} rejected the files:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn workflows_validate_against_github_schema() {
    if Command::new("check-jsonschema")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "check-jsonschema missing in CI"
        );
        eprintln!("skipped: check-jsonschema is not installed (pip install check-jsonschema)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workflows = yaml_files(&root.join(".github/workflows"));
    assert!(
        workflows.len() >= 3,
        "expected the workflows, found {workflows:?}"
    );
    check("vendor.github-workflows", &workflows);
    check(
        "vendor.github-actions",
        &[root.join("ci/github/build/action.yml")],
    );
}

#[test]
fn schema_check_rejects_a_broken_workflow() {
    // Proves the check above can fail: a job without `runs-on` or `uses` is invalid.
    if Command::new("check-jsonschema")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  x:\n    steps:\n      - run: true\n",
    )
    .unwrap();
    let out = Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn pushing_attests_provenance_and_the_sbom_of_the_pushed_digest() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(".github/workflows/diskless-build.yml")).unwrap();
    let wf: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let push = &wf["jobs"]["push"];
    for (k, v) in [
        ("packages", "write"),
        ("id-token", "write"),
        ("attestations", "write"),
    ] {
        assert_eq!(push["permissions"][k].as_str(), Some(v), "permission {k}");
    }
    let steps = push["steps"].as_sequence().unwrap();
    let uses = |action: &str| {
        steps
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
            .unwrap_or_else(|| panic!("no step uses {action}"))
    };
    for action in ["actions/attest-build-provenance@", "actions/attest-sbom@"] {
        let w = &uses(action)["with"];
        assert_eq!(
            w["subject-digest"].as_str(),
            Some("${{ steps.push.outputs.digest }}"),
            "{action}"
        );
        assert_eq!(w["push-to-registry"].as_bool(), Some(true), "{action}");
    }
    assert_eq!(
        uses("actions/attest-sbom@")["with"]["sbom-path"].as_str(),
        Some("out/sbom.spdx.json")
    );
    // The digest attested is the one `diskless push` printed.
    let push_step = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("push"))
        .unwrap();
    assert!(
        push_step["run"]
            .as_str()
            .unwrap()
            .contains("digest=$(\"$HOME/.local/bin/diskless\" push out \"$ref\")")
    );
}
