//! `edalab serve <SERVICE>...` as a user runs it, with real processes:
//!
//! - `serve orders` answers the seed's standalone paths and the `/api/v1` ones;
//! - a gateway process (`serve gateway`) in front of a services process (`serve simulator
//!   ledger`): a simulation started through the gateway fills the ledger, read back through
//!   the gateway; once the services process is gone the gateway answers 503 JSON;
//! - with `otlp.enabled`, a trace id sent with an HTTP produce reaches the ledger's
//!   `store.commit` span, received by a real OTLP/HTTP collector in the test.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Process, edalab, json_of};

#[tokio::test]
async fn serve_orders_answers_the_seed_paths_and_the_api_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args([
        "--data-dir",
        "data",
        "serve",
        "orders",
        "--listen",
        "127.0.0.1:0",
    ]);
    let process = Process::start(command);
    let http = reqwest::Client::new();

    let order = json!({"userId": "alice", "amount": 99.99, "items": ["book"]});
    let (status, body) = json_of(
        http.post(process.url("/orders"))
            .json(&order)
            .send()
            .await
            .expect("POST /orders"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let order_id = body["orderId"].as_str().expect("orderId").to_owned();
    // The status view learns of the order from `orders.created`: 404 until the saga's
    // tracking consumer has read it, then 200.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = json_of(
            http.get(process.url(&format!("/orders/{order_id}/status")))
                .send()
                .await
                .expect("GET status"),
        )
        .await;
        if status == reqwest::StatusCode::OK {
            break;
        }
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{body}");
        assert!(
            Instant::now() < deadline,
            "order {order_id} never tracked: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = json_of(http.get(process.url("/orders")).send().await.expect("GET")).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let (status, body) = json_of(
        http.get(process.url(&format!("/api/v1/orders/{order_id}/status")))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    // A bad body is a 400 naming the field, on the seed path too.
    let (status, body) = json_of(
        http.post(process.url("/orders"))
            .json(&json!({"userId": "alice", "amount": -1, "items": ["x"]}))
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("amount"), "{body}");
    // Only what was asked for runs: no ledger, no simulator here.
    let (status, _) = json_of(
        http.get(process.url("/api/v1/simulation/status"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let rest = process.stop();
    assert!(rest.contains("stopped cleanly"), "{rest}");
}

#[test]
fn a_second_writer_of_the_same_data_directory_is_told_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args([
        "--data-dir",
        "data",
        "serve",
        "ledger",
        "--listen",
        "127.0.0.1:0",
    ]);
    let first = Process::start(command);
    let output = edalab(dir.path())
        .args([
            "--data-dir",
            "data",
            "serve",
            "simulator",
            "--listen",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("services that share a bus must run in the same process"),
        "{stderr}"
    );
    first.stop();
}

/// The first account the ledger has stored, once there is one.
fn first_account(sqlite: &Path, deadline: Instant) -> String {
    loop {
        let found = rusqlite::Connection::open_with_flags(
            sqlite,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()
        .and_then(|db| {
            db.query_row("SELECT id FROM comptes LIMIT 1", [], |row| {
                row.get::<_, String>(0)
            })
            .ok()
        });
        if let Some(id) = found {
            return id;
        }
        assert!(Instant::now() < deadline, "the ledger stored no account");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_process_forwards_to_a_services_process_and_answers_503_once_it_is_gone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args([
        "--data-dir",
        "svc",
        "serve",
        "simulator",
        "ledger",
        "orders",
        "--listen",
        "127.0.0.1:0",
    ]);
    let services = Process::start(command);
    let upstream = services.base.clone();

    let mut command = edalab(dir.path());
    command
        .args([
            "--data-dir",
            "svc",
            "serve",
            "gateway",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("EDALAB__GATEWAY__UPSTREAMS__SIMULATION", &upstream)
        .env("EDALAB__GATEWAY__UPSTREAMS__BANCAIRE", &upstream)
        .env("EDALAB__GATEWAY__UPSTREAMS__ORDERS", &upstream)
        .env("EDALAB__GATEWAY__UPSTREAM_TIMEOUT_MS", "5000");
    let gateway = Process::start(command);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let (status, health) = json_of(
        http.get(gateway.url("/api/v1/health"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{health}");
    let names: Vec<&str> = health["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in [
        "upstream:simulation",
        "upstream:bancaire",
        "upstream:orders",
    ] {
        assert!(names.contains(&name), "{health}");
    }
    every_ui_route_answers_through_the_gateway(&http, &gateway).await;

    // Start a simulation through the gateway.
    let (status, body) = json_of(
        http.post(gateway.url("/api/v1/simulation/start"))
            .header("x-request-id", "e2e-1")
            .json(&json!({"scenario": "banking-day", "rate": 200, "duration": 2, "seed": 7}))
            .send()
            .await
            .expect("POST start"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    // Validation errors come back from the service unchanged.
    let (status, body) = json_of(
        http.post(gateway.url("/api/v1/simulation/start"))
            .json(&json!({"scenario": "default", "rate": -5}))
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert!(
        status == reqwest::StatusCode::BAD_REQUEST || status == reqwest::StatusCode::CONFLICT,
        "{status} {body}"
    );

    // The ledger fills; read it back through the gateway.
    let deadline = Instant::now() + Duration::from_secs(60);
    let sqlite = dir.path().join("svc/ledger.sqlite");
    let account = tokio::task::spawn_blocking(move || first_account(&sqlite, deadline))
        .await
        .expect("join");
    let (status, body) = json_of(
        http.get(gateway.url(&format!("/api/v1/bancaire/comptes/{account}")))
            .send()
            .await
            .expect("GET compte"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(body["solde"].is_string(), "{body}");
    let (status, body) = json_of(
        http.get(gateway.url("/api/v1/simulation/status"))
            .send()
            .await
            .expect("GET status"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    // The services process goes away: 503 JSON naming the service and its URL.
    services.stop();
    let (status, body) = json_of(
        http.get(gateway.url(&format!("/api/v1/bancaire/comptes/{account}")))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "service_unavailable", "{body}");
    assert_eq!(body["details"][0]["field"], "service", "{body}");
    let detail = body["details"][0]["message"].as_str().unwrap_or_default();
    assert!(
        detail.contains("bancaire") && detail.contains(upstream.as_str()),
        "{body}"
    );
    let (status, health) = json_of(
        http.get(gateway.url("/api/v1/health"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{health}");
    // The group list still answers from the bus: the ledger's group, observed.
    let (status, body) = json_of(
        http.get(gateway.url("/api/v1/consumers"))
            .send()
            .await
            .expect("GET consumers"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let ledger = group_named(&body, "ledger");
    assert_eq!(ledger["state"], "observed", "{body}");
    assert_eq!(ledger["controllable"], false, "{body}");
    let rest = gateway.stop();
    assert!(rest.contains("stopped cleanly"), "{rest}");
}

/// The routes the UI calls on other processes, through a `serve gateway` (issue 23 part 5):
/// the producer, the fault switch, the saga's order routes, and the ledger group's view and
/// controls, relayed to the process that runs them; every other group is observed from the
/// bus (here the gateway's read-only view of the services' log), without controls.
async fn every_ui_route_answers_through_the_gateway(http: &reqwest::Client, gateway: &Process) {
    let (status, body) = json_of(
        http.post(gateway.url("/api/v1/events/produce"))
            .json(&json!({"event_type": "CompteOuvert", "count": 3}))
            .send()
            .await
            .expect("POST produce"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["events_produced"], 3, "{body}");
    let (status, body) = json_of(
        http.get(gateway.url("/api/v1/saga/credit-bureau"))
            .send()
            .await
            .expect("GET credit bureau"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(body.get("failing").is_some(), "{body}");
    // An order through the gateway: the saga's consumers read it and commit.
    let (status, body) = json_of(
        http.post(gateway.url("/orders"))
            .json(&json!({"userId": "alice", "amount": 12.5, "items": ["book"]}))
            .send()
            .await
            .expect("POST /orders"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let (body, observed) = loop {
        let (status, body) = json_of(
            http.get(gateway.url("/api/v1/consumers"))
                .send()
                .await
                .expect("GET consumers"),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        let observed: Vec<String> = body["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter(|g| g["state"] == "observed" && g["controllable"] == false)
            .map(|g| g["group"].as_str().expect("group").to_owned())
            .collect();
        if !observed.is_empty() {
            break (body, observed);
        }
        assert!(
            Instant::now() < deadline,
            "the saga's groups never observed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ledger = group_named(&body, "ledger");
    assert_eq!(ledger["controllable"], true, "{body}");
    assert_eq!(
        ledger["members"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(
        group_named(&body, &observed[0])["members"],
        json!([]),
        "{body}"
    );
    let (status, error) = json_of(
        http.post(gateway.url(&format!("/api/v1/consumers/{}/pause", observed[0])))
            .send()
            .await
            .expect("POST pause"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CONFLICT, "{error}");
    assert_eq!(error["details"][0]["field"], "group", "{error}");

    for (action, state) in [("pause", "paused"), ("resume", "running")] {
        let (status, body) = json_of(
            http.post(gateway.url(&format!("/api/v1/consumers/ledger/{action}")))
                .send()
                .await
                .expect("POST control"),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{action}: {body}");
        assert_eq!(body["state"], state, "{body}");
    }
}

/// The group called `name` in a `GET /api/v1/consumers` answer.
fn group_named<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["groups"]
        .as_array()
        .and_then(|groups| groups.iter().find(|g| g["group"] == name))
        .unwrap_or_else(|| panic!("no group `{name}` in {body}"))
}

/// A span as the in-test collector received it.
#[derive(Clone, Debug)]
struct Received {
    name: String,
    trace_id: String,
    parent_span_id: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A minimal OTLP/HTTP trace collector on port 0.
async fn spawn_collector() -> (String, Arc<Mutex<Vec<Received>>>) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;

    let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = Arc::clone(&spans);
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut sink = sink.lock().unwrap();
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            sink.push(Received {
                                name: span.name,
                                trace_id: hex(&span.trace_id),
                                parent_span_id: hex(&span.parent_span_id),
                            });
                        }
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}"), spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_id_sent_with_an_http_produce_reaches_the_store_commit_span() {
    let (collector, spans) = spawn_collector().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command
        .args([
            "--data-dir",
            "data",
            "serve",
            "simulator",
            "ledger",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("EDALAB__OTLP__ENABLED", "true")
        .env("EDALAB__OTLP__ENDPOINT", &collector);
    let process = Process::start(command);

    let trace_id = "5b8efff798038103d269b633813fc60c";
    let caller_span = "eee19b7ec3c1b174";
    let (status, body) = json_of(
        reqwest::Client::new()
            .post(process.url("/api/v1/events/produce"))
            .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
            .json(&json!({"event_type": "CompteOuvert", "count": 1}))
            .send()
            .await
            .expect("POST produce"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    // The batch processor exports every few seconds; stopping the process flushes too.
    let deadline = Instant::now() + Duration::from_secs(60);
    let has = |name: &str| {
        spans
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.name == name && s.trace_id == trace_id)
    };
    while !has("store.commit") {
        assert!(
            Instant::now() < deadline,
            "no store.commit span in trace {trace_id}; received: {:?}",
            spans.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let received = spans.lock().unwrap().clone();
    for name in [
        "http.request",
        "produce",
        "consume.batch",
        "ledger.batch",
        "store.commit",
    ] {
        assert!(
            received
                .iter()
                .any(|s| s.name == name && s.trace_id == trace_id),
            "{name} missing from trace {trace_id}: {received:?}"
        );
    }
    let http = received
        .iter()
        .find(|s| s.name == "http.request" && s.trace_id == trace_id)
        .expect("http.request");
    assert_eq!(
        http.parent_span_id, caller_span,
        "the caller's span is the parent"
    );
    let rest = process.stop();
    assert!(rest.contains("stopped cleanly"), "{rest}");
}
