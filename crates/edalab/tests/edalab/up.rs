//! `edalab up` as a user runs it: the real binary in a fresh directory, healthy in under
//! 2 s, serving the gateway, its OpenAPI document listing exactly the routes served (the
//! pipelines' among them), the S2-04 counters at `/metrics`, stopped cleanly by SIGTERM; a
//! bad configuration key stops it with a message naming the key; the binary copied alone
//! into an empty directory serves the web UI built into it (ADR 022).

use std::path::Path;
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::support::{KillOnDrop, Process, edalab, program};

/// Starts `command` (an `up` on port 0) and waits for its API URL: the child, what it
/// printed so far, the rest of its lines, and its base URL.
fn start_up(command: Command) -> (KillOnDrop, Vec<String>, Receiver<String>, String) {
    let up = Process::start(command);
    (up.child, up.printed, up.lines, up.base)
}

#[tokio::test]
async fn up_serves_the_gateway_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut command = edalab(dir.path());
    command.args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"]);
    let (mut child, mut printed, lines_rx, base) = start_up(command);
    let health = reqwest::get(format!("{base}/api/v1/health"))
        .await
        .expect("GET health");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let report: serde_json::Value = health.json().await.expect("JSON");
    assert_eq!(report["status"], "healthy", "{report}");
    assert_eq!(report["bus"]["backend"], "embedded", "{report}");
    let elapsed = started.elapsed();
    eprintln!("healthy {elapsed:?} after start");
    assert!(
        elapsed < Duration::from_secs(2),
        "healthy in under 2 s, took {elapsed:?}"
    );

    for path in ["/api/v1/openapi.json", "/metrics", "/"] {
        let response = reqwest::get(format!("{base}{path}")).await.expect("GET");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{path}");
    }
    documented_is_served(&base).await;
    seed_commands_work(&base).await;
    // S2-04: the intake's counters are exported (at 0 until an order arrives).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("text");
        let listed = [
            "edalab_orders_processed_total",
            "edalab_orders_rejected_total",
            "edalab_orders_duplicate_total",
        ]
        .iter()
        .all(|name| metrics.lines().any(|l| l.starts_with(&format!("{name} "))));
        if listed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "S2-04 counters not exported:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(200)) {
        printed.push(line);
    }
    let text = printed.join("\n");
    for what in ["UI", "OpenAPI", "metrics", "ws://"] {
        assert!(text.contains(what), "{what} not printed:\n{text}");
    }
    assert!(dir.path().join("data/bus").is_dir(), "data in --data-dir");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "edalab up did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    stopped_cleanly(&lines_rx);
}

fn stopped_cleanly(lines_rx: &Receiver<String>) {
    let mut rest = String::new();
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(1)) {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(rest.contains("stopped cleanly"), "{rest}");
}

/// The seeds' own requests against `up`: S0-01's `POST /transactions` and S4-01's
/// `POST /orders`, then the order's status at the seed's path.
async fn seed_commands_work(base: &str) {
    let http = reqwest::Client::new();
    let transaction = http
        .post(format!("{base}/transactions"))
        .json(&serde_json::json!({
            "amount": 100.5, "currency": "CAD", "accountFrom": "ACC-1", "accountTo": "ACC-2"
        }))
        .send()
        .await
        .expect("POST /transactions");
    assert_eq!(transaction.status(), reqwest::StatusCode::ACCEPTED);
    let body: serde_json::Value = transaction.json().await.expect("JSON");
    assert_eq!(body["status"], "PENDING", "{body}");
    let order = http
        .post(format!("{base}/orders"))
        .json(&serde_json::json!({"userId": "u-1", "amount": 10.0, "items": ["book"]}))
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(order.status(), reqwest::StatusCode::CREATED);
    let body: serde_json::Value = order.json().await.expect("JSON");
    let id = body["orderId"].as_str().expect("orderId");
    let status = http
        .get(format!("{base}/orders/{id}/status"))
        .send()
        .await
        .expect("GET status");
    // The tracking view learns of the order from `orders.created`: 404 until then.
    assert!(
        [reqwest::StatusCode::OK, reqwest::StatusCode::NOT_FOUND].contains(&status.status()),
        "{}",
        status.status()
    );
}

/// `web/openapi.json`, which the web UI's API types are generated from, is the document the
/// binary serves (`scripts/openapi.sh` rewrites it).
fn the_committed_document_is_this_one(served: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/openapi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/openapi.sh", path.display()));
    let committed: serde_json::Value = serde_json::from_str(&text).expect("web/openapi.json");
    assert!(
        &committed == served,
        "web/openapi.json differs from the served document: run scripts/openapi.sh, then \
         `cd web && npm run gen:api`"
    );
}

/// A path parameter naming a resource by id documents the id rule the handler applies
/// (`edalab_http::path_id`): a length bound and the one id pattern.
fn ids_follow_the_id_rule(operation_name: &str, operation: &serde_json::Value) {
    let Some(parameters) = operation["parameters"].as_array() else {
        return;
    };
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap_or_default();
        if parameter["in"] != "path" || !["id", "order_id", "client_id"].contains(&name) {
            continue;
        }
        let schema = &parameter["schema"];
        assert_eq!(
            schema["pattern"],
            edalab_gateway::error::ID_PATTERN,
            "{operation_name}: `{name}`"
        );
        assert_eq!(schema["minLength"], 1, "{operation_name}: `{name}`");
        assert!(schema["maxLength"].is_u64(), "{operation_name}: `{name}`");
    }
}

/// Every (method, path) of `/api/v1/openapi.json` is routed, every other method on those
/// paths is 405, and the pipelines' routes are in the document. POSTs go without a body, so
/// they are 400s (or 409) with no effect.
async fn documented_is_served(base: &str) {
    use std::collections::BTreeSet;
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    let doc: serde_json::Value = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .expect("GET openapi")
        .json()
        .await
        .expect("JSON");
    the_committed_document_is_this_one(&doc);
    let mut documented = BTreeSet::new();
    let mut operation_ids = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            documented.insert((method.to_uppercase(), path.clone()));
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            if let Some(other) = operation_ids.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId `{id}` of {method} {path} is also {other}'s");
            }
            // The registry's ids are Confluent's numbers, not the platform's id rule.
            if !path.starts_with("/registry/") {
                ids_follow_the_id_rule(&format!("{method} {path}"), operation);
            }
        }
    }
    for (method, path) in [
        ("POST", "/api/v1/transactions"),
        ("GET", "/api/v1/transactions/{id}"),
        ("GET", "/api/v1/transactions/analytics"),
        ("POST", "/api/v1/calculator"),
        ("GET", "/api/v1/calculator/{id}"),
        ("GET", "/api/v1/intake/orders/{order_id}"),
        ("GET", "/api/v1/intake/stats"),
        ("POST", "/api/v1/orders"),
        ("GET", "/api/v1/orders"),
        ("GET", "/api/v1/orders/{order_id}/status"),
        // The seeds' own paths, as their curl commands use them.
        ("POST", "/transactions"),
        ("POST", "/orders"),
        ("GET", "/orders"),
        ("GET", "/orders/{order_id}/status"),
    ] {
        assert!(
            documented.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    let client = reqwest::Client::new();
    let mut served = BTreeSet::new();
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path.replace('{', "x").replace('}', "");
        for method in METHODS {
            let response = client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                    format!("{base}{concrete}"),
                )
                .send()
                .await
                .expect("request");
            let status = response.status();
            if status == reqwest::StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            let code = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("code").cloned());
            assert!(
                !(status == reqwest::StatusCode::NOT_FOUND
                    && code == Some(serde_json::json!("route_not_found"))),
                "{method} {path} is documented but not routed: {body}"
            );
            served.insert((method.to_owned(), path.clone()));
        }
    }
    assert_eq!(served, documented, "served routes differ from the document");
}

#[test]
fn a_bad_configuration_key_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = edalab(dir.path())
        .args(["up"])
        .env("EDALAB__SERVER__LISTEN", "abc")
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run edalab up");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"server.listen: invalid socket address "abc""#),
        "{stderr}"
    );

    std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
    std::fs::write(
        dir.path().join("config/local.yaml"),
        "bus:\n  fsynk: always\n",
    )
    .expect("write");
    let output = edalab(dir.path())
        .args(["up"])
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run edalab up");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bus.fsynk: unknown key"), "{stderr}");
    assert!(stderr.contains("config/local.yaml"), "{stderr}");
}

/// The binary copied alone into an empty directory, run from another empty one: `/` and a
/// client-side route are the UI built into it (the real one when `web/dist` was built
/// before the binary, else the page saying to build it), its assets have their content
/// types, and the API's unknown paths stay JSON 404s.
#[tokio::test]
async fn a_copied_binary_alone_serves_the_ui_built_into_it() {
    let bin = tempfile::tempdir().expect("temp dir");
    let copied = bin.path().join("edalab");
    std::fs::copy(env!("CARGO_BIN_EXE_edalab"), &copied).expect("copy the binary");
    let run = tempfile::tempdir().expect("temp dir");
    let mut command = program(&copied, run.path());
    command.args(["up", "--data-dir", "data", "--listen", "127.0.0.1:0"]);
    let (mut child, _, lines_rx, base) = start_up(command);
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();

    let index = get("/").await.expect("GET /");
    assert_eq!(index.status(), reqwest::StatusCode::OK);
    assert!(
        index.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html")),
        "{:?}",
        index.headers()
    );
    let page = index.text().await.expect("text");
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist/index.html");
    match std::fs::read_to_string(&dist) {
        Ok(built) => {
            assert_eq!(page, built, "the UI built into the binary is web/dist's");
            let script = built
                .split("src=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("index.html loads a script");
            let asset = get(script).await.expect("GET the script");
            assert_eq!(asset.status(), reqwest::StatusCode::OK, "{script}");
            let kind = asset.headers()["content-type"].to_str().expect("type");
            assert!(kind.contains("javascript"), "{script}: {kind}");
        }
        Err(_) => assert!(
            page.contains("The web UI is not built into this binary"),
            "{page}"
        ),
    }
    let route = get("/flows/banking").await.expect("GET a client route");
    assert_eq!(route.text().await.expect("text"), page);

    for path in ["/api/v1/nope", "/registry/nope/nope", "/assets/gone.js"] {
        let response = get(path).await.expect("GET");
        assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = response.json().await.expect("a JSON 404");
        if path.starts_with("/registry/") {
            // Confluent's shape, which its clients read.
            assert_eq!(body["error_code"], 404, "{path}: {body}");
        } else {
            assert_eq!(body["code"], "route_not_found", "{path}: {body}");
        }
    }
    assert!(
        std::fs::read_dir(bin.path()).expect("ls").count() == 1,
        "the binary needs nothing beside it"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    assert!(child.wait().expect("wait").success());
    stopped_cleanly(&lines_rx);
}
