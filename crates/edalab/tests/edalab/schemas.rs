//! `edalab schemas list | register | check | diff` against a running platform's registry
//! (`--registry-url …/registry`) and the data directory's built-in one: a schema change the
//! registry would refuse is found by `check` (non-zero exit), named by subject and field,
//! and shown by `diff`; `register` is idempotent, as Confluent's is.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Process, edalab};

/// `edalab schemas <args>` in `dir`: exit success, standard output, standard error.
fn schemas(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = edalab(dir)
        .arg("--data-dir")
        .arg("data")
        .arg("schemas")
        .args(args)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run edalab schemas");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const SUBJECT: &str = "bancaire.compte.ouvert-value";

/// CompteOuvert's schema without its field `field` (a version the current schema, which
/// has the field without a default, cannot read).
fn without_field(field: &str) -> String {
    let source = edalab_schema::EventSchema::AccountOpened.source();
    let mut schema: Value = serde_json::from_str(source).expect("JSON");
    let fields = schema["fields"].as_array_mut().expect("fields");
    let before = fields.len();
    fields.retain(|f| f["name"] != field);
    assert_eq!(fields.len(), before - 1, "no field {field}");
    schema.to_string()
}

async fn send(http: &reqwest::Client, method: reqwest::Method, url: String, body: Value) -> Value {
    let response = http
        .request(method, &url)
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let value: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{url}: {status} {value}");
    value
}

#[tokio::test]
async fn check_diff_and_register_name_an_incompatible_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"]);
    // Level changes are refused by default (issue 21, part 7); this test needs one.
    command.env("EDALAB__REGISTRY__ALLOW_LEVEL_CHANGES", "true");
    let up = Process::start(command);
    let registry = up.url("/registry");

    // Every platform schema is in the registry and compatible with it.
    let (ok, listed, err) = schemas(dir.path(), &["list", "--registry-url", &registry]);
    assert!(ok, "{err}");
    assert!(
        listed.contains(SUBJECT) && listed.contains("global level BACKWARD"),
        "{listed}"
    );
    let (ok, checked, err) = schemas(dir.path(), &["check", "--registry-url", &registry]);
    assert!(ok, "{checked}{err}");
    assert_eq!(checked.matches("  compatible").count(), 12, "{checked}");
    let (ok, registered, err) = schemas(dir.path(), &["register", "--registry-url", &registry]);
    assert!(ok, "{registered}{err}");
    assert_eq!(registered.matches("  id ").count(), 12, "{registered}");
    let first_id = registered
        .lines()
        .find(|l| l.starts_with(SUBJECT))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{registered}"));

    // Someone registers a version 2 without `client_id` (with the guard off, then on again).
    let http = reqwest::Client::new();
    let config = format!("{registry}/config/{SUBJECT}");
    send(
        &http,
        reqwest::Method::PUT,
        config.clone(),
        json!({"compatibility": "NONE"}),
    )
    .await;
    let versions = format!("{registry}/subjects/{SUBJECT}/versions");
    let body = json!({ "schema": without_field("client_id") });
    send(&http, reqwest::Method::POST, versions, body).await;
    send(
        &http,
        reqwest::Method::PUT,
        config,
        json!({"compatibility": "BACKWARD"}),
    )
    .await;

    // The platform's schema can no longer be registered: each command says so and why.
    let (ok, checked, err) = schemas(dir.path(), &["check", "--registry-url", &registry]);
    assert!(!ok, "check passed: {checked}");
    let line = checked
        .lines()
        .find(|l| l.starts_with(SUBJECT))
        .unwrap_or_else(|| panic!("{checked}"));
    assert!(
        line.contains("INCOMPATIBLE") && line.contains("client_id"),
        "{line}"
    );
    assert!(line.contains("version 2"), "{line}");
    assert!(err.contains(SUBJECT), "{err}");
    let (ok, diff, err) = schemas(dir.path(), &["diff", SUBJECT, "--registry-url", &registry]);
    assert!(ok, "{err}");
    assert!(
        diff.contains("against version 2") && diff.contains("+ client_id"),
        "{diff}"
    );
    // Registering a schema the subject already holds (version 1) answers its id again,
    // whatever came after: Confluent's idempotent registration.
    let (ok, registered, err) = schemas(dir.path(), &["register", "--registry-url", &registry]);
    assert!(ok, "{registered}{err}");
    assert!(registered.contains(&first_id), "{first_id}: {registered}");

    // The data directory's built-in registry, read next to the running platform.
    let (ok, listed, err) = schemas(dir.path(), &["list"]);
    assert!(ok, "{err}");
    assert!(
        listed.contains(&format!("{SUBJECT}  versions 1,2")),
        "{listed}"
    );

    let (ok, _, err) = schemas(dir.path(), &["diff", "no-such-value"]);
    assert!(!ok && err.contains("no-such-value"), "{err}");
    let (ok, _, err) = schemas(dir.path(), &["list", "--registry-url", "registry:8081"]);
    assert!(!ok && err.contains("--registry-url"), "{err}");
    up.stop();
}
