//! The compose deployment's external registry (`registry.url`, issue 21), with the built-in
//! registry of a second `edalab up` standing in for it: the platform waits for a registry
//! that is not up yet, registers its schemas there before producing, frames with that
//! registry's ids, reports it in `/api/v1/health`, and relays `/registry/` to it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Process, edalab, json_of, produce_events, text_at};

async fn get(http: &reqwest::Client, url: &str) -> (reqwest::StatusCode, Value) {
    json_of(http.get(url).send().await.expect("GET")).await
}

/// The `schema-registry` component of a health report.
fn registry_component(report: &Value) -> Value {
    report["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "schema-registry")
        .cloned()
        .unwrap_or_else(|| panic!("no schema-registry component: {report}"))
}

/// `edalab_ledger_events_total{outcome="applied"}` on a `/metrics` page.
fn applied(page: &str) -> u64 {
    page.lines()
        .filter(|l| {
            l.starts_with("edalab_ledger_events_total{") && l.contains(r#"outcome="applied""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_registry_is_waited_for_registered_on_and_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["platform", "registry"] {
        std::fs::create_dir(dir.path().join(name)).expect("mkdir");
    }
    let port = edalab_bus::peer::free_port().expect("a free port");
    let external = format!("http://127.0.0.1:{port}/registry");

    // The platform starts first, pointed at a registry that is not listening yet.
    let mut command = edalab(&dir.path().join("platform"));
    command
        .args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"])
        .env("EDALAB__REGISTRY__URL", &external)
        .env("EDALAB__REGISTRY__TIMEOUT_MS", "1000");
    let starting = std::thread::spawn(move || Process::start(command));
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !starting.is_finished(),
        "the platform started without its registry"
    );

    // The registry comes up; the platform's retries reach it and it starts.
    let mut command = edalab(&dir.path().join("registry"));
    command.args([
        "--data-dir",
        "data",
        "up",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    let registry = Process::start(command);
    let platform = starting.join().expect("the platform started");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // Health names the registry in use; `/registry/` relays to it.
    let (_, report) = get(&http, &platform.url("/api/v1/health")).await;
    let component = registry_component(&report);
    assert_eq!(component["status"], "up", "{component}");
    assert!(
        component["backend"]
            .as_str()
            .unwrap_or("")
            .contains(&external),
        "{component}"
    );
    let (_, relayed) = get(&http, &platform.url("/registry/subjects")).await;
    let (_, direct) = get(&http, &format!("{external}/subjects")).await;
    assert_eq!(relayed, direct);
    assert_eq!(direct.as_array().map(Vec::len), Some(12), "{direct}");

    // What the platform registered is what it frames with: an account it produces is
    // applied by its ledger, which decodes it with the ids it got from the registry.
    let subject = "bancaire.compte.ouvert-value";
    let (_, level) = get(&http, &format!("{external}/config/{subject}")).await;
    assert_eq!(
        level["compatibilityLevel"], "BACKWARD_TRANSITIVE",
        "{level}"
    );
    produce_events(&http, &platform, "CompteOuvert", 5).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = text_at(&http, &platform.url("/metrics")).await;
        if applied(&page) >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the ledger applied {} of 5",
            applied(&page)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A version registered through the platform lands on the external registry.
    let mut v2: Value =
        serde_json::from_str(edalab_schema::EventSchema::DepositMade.source()).expect("JSON");
    v2["fields"]
        .as_array_mut()
        .expect("fields")
        .push(json!({"name": "agence", "type": "string", "default": ""}));
    let deposits = "bancaire.depot.effectue-value";
    let (status, id) = json_of(
        http.post(platform.url(&format!("/registry/subjects/{deposits}/versions")))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .json(&json!({"schema": v2.to_string()}))
            .send()
            .await
            .expect("POST version"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{id}");
    let (_, latest) = get(
        &http,
        &format!("{external}/subjects/{deposits}/versions/latest"),
    )
    .await;
    assert_eq!(
        (latest["version"].clone(), latest["id"].clone()),
        (json!(2), id["id"].clone())
    );

    // The registry goes away: health says so, with the reason.
    registry.stop();
    let (status, report) = get(&http, &platform.url("/api/v1/health")).await;
    let component = registry_component(&report);
    assert_eq!(component["status"], "down", "{component}");
    assert!(component["error"].is_string(), "{component}");
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{report}");
    platform.stop();
}

#[test]
fn a_registry_that_never_answers_fails_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = edalab_bus::peer::free_port().expect("a free port");
    let url = format!("http://127.0.0.1:{port}/registry");
    let output = edalab(dir.path())
        .args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"])
        .env("EDALAB__REGISTRY__URL", &url)
        .env("EDALAB__REGISTRY__REGISTER_TIMEOUT_MS", "1500")
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("registering edalab's schemas") && stderr.contains(&url),
        "{stderr}"
    );
}
