//! The simulator's REST API (S3-07) over a real embedded bus on a temporary directory,
//! driven through the router with `tower::ServiceExt::oneshot`. Timing checks poll with
//! deadlines and generous tolerances: the machine running them may be loaded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::{Admin, Bus, TopicConfig};
use edalab_services::simulator::api::router;
use edalab_services::simulator::{ControlOptions, SimulationControl};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const BANKING_TOPICS: [&str; 7] = [
    "bancaire.compte.ouvert",
    "bancaire.compte.ferme",
    "bancaire.depot.effectue",
    "bancaire.retrait.effectue",
    "bancaire.virement.emis",
    "bancaire.virement.recu",
    "bancaire.paiement-prime.effectue",
];

struct App {
    router: Router,
    bus: EmbeddedBus,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).unwrap();
    for topic in BANKING_TOPICS {
        bus.create_topic(topic, TopicConfig::with_partitions(3))
            .await
            .unwrap();
    }
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let control = SimulationControl::new(
        shared,
        ControlOptions {
            scenarios_dir: None,
            ..ControlOptions::default()
        },
    )
    .unwrap();
    App {
        router: router(Arc::new(control)),
        bus,
        _dir: dir,
    }
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_raw(router, method, path, body.map(|b| b.to_string())).await
}

async fn call_raw(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<String>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

async fn status(router: &Router) -> Value {
    let (code, body) = call(router, "GET", "/api/v1/simulation/status", None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}

/// Polls the status until `done` holds, or fails after `deadline`.
async fn wait_for(
    router: &Router,
    deadline: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let until = Instant::now() + deadline;
    loop {
        let body = status(router).await;
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages_on(bus: &EmbeddedBus, topic: &str) -> u64 {
    let description = bus.describe_topic(topic).await.unwrap();
    description
        .partitions
        .iter()
        .map(|p| p.high_watermark - p.log_start_offset)
        .sum()
}

async fn messages_on_banking(bus: &EmbeddedBus) -> u64 {
    let mut total = 0;
    for topic in BANKING_TOPICS {
        total += messages_on(bus, topic).await;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_status_stop_and_409s() {
    let app = app().await;
    let r = &app.router;

    let before = status(r).await;
    assert_eq!(before["status"], "stopped");
    assert_eq!(before["simulation_id"], Value::Null);

    let (code, started) = call(
        r,
        "POST",
        "/api/v1/simulation/start",
        Some(json!({"scenario": "default", "rate": 200, "duration": 0, "seed": 7})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{started}");
    assert_eq!(started["status"], "running");
    let id = started["simulation_id"].as_str().unwrap().to_owned();

    let (code, again) = call(
        r,
        "POST",
        "/api/v1/simulation/start",
        Some(json!({"scenario": "default", "rate": 10, "duration": 0})),
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["code"], "simulation_running");
    assert!(again["error"].as_str().unwrap().contains("already running"));
    assert_eq!(again["details"][0]["field"], "simulation_id", "{again}");
    let detail = again["details"][0]["message"].as_str().unwrap_or_default();
    assert!(detail.contains(id.as_str()), "{again}");

    let first = wait_for(r, Duration::from_secs(20), "events", |s| {
        s["events_produced"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(first["status"], "running");
    assert_eq!(first["simulation_id"], id.as_str());
    assert_eq!(first["seed"], 7);
    assert!(first["started_at"].as_str().unwrap().ends_with('Z'));
    let n1 = first["events_produced"].as_u64().unwrap();
    let second = wait_for(r, Duration::from_secs(20), "counts to grow", |s| {
        s["events_produced"].as_u64().unwrap_or(0) > n1
    })
    .await;
    assert!(second["rate_actual"].as_f64().unwrap() >= 0.0);

    let (code, stopped) = call(r, "POST", "/api/v1/simulation/stop", None).await;
    assert_eq!(code, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    let produced = stopped["events_produced"].as_u64().unwrap();
    assert!(produced > n1, "{stopped}");
    // Every counted event is on the bus: the stop waits for the last batch.
    assert_eq!(messages_on_banking(&app.bus).await, produced);

    let after = status(r).await;
    assert_eq!(after["status"], "stopped");
    assert_eq!(after["events_produced"].as_u64().unwrap(), produced);
    assert_eq!(after["simulation_id"], id.as_str());

    let (code, again) = call(r, "POST", "/api/v1/simulation/stop", None).await;
    assert_eq!(code, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["code"], "simulation_not_running");
    assert!(again["error"].as_str().unwrap().contains("no simulation"));

    // A new start after a stop is fine.
    let (code, restarted) = call(
        r,
        "POST",
        "/api/v1/simulation/start",
        Some(json!({"scenario": "default", "rate": 10, "duration": 0})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{restarted}");
    assert_ne!(restarted["simulation_id"], id.as_str());
    let (code, _) = call(r, "POST", "/api/v1/simulation/stop", None).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_by_itself_after_duration() {
    let app = app().await;
    let r = &app.router;
    let (code, started) = call(
        r,
        "POST",
        "/api/v1/simulation/start",
        Some(json!({"scenario": "default", "rate": 50, "duration": 1})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{started}");
    let done = wait_for(r, Duration::from_secs(30), "the auto-stop", |s| {
        s["status"] == "stopped"
    })
    .await;
    // The last tick drains what is due: exactly the integral of 50/s over 1 s, unless the
    // box was so loaded that the pacer's backlog limit kicked in (it is 100 000).
    let produced = done["events_produced"].as_u64().unwrap();
    assert!((45..=55).contains(&produced), "{done}");
    assert_eq!(done["error"], Value::Null, "{done}");
    assert_eq!(messages_on_banking(&app.bus).await, produced);
    let (code, body) = call(r, "POST", "/api/v1/simulation/stop", None).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_five_accounts() {
    let app = app().await;
    let (code, body) = call(
        &app.router,
        "POST",
        "/api/v1/events/produce",
        Some(json!({"event_type": "CompteOuvert", "count": 5})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["events_produced"], 5);
    let ids = body["event_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 5);
    for id in ids {
        uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap();
    }
    assert_eq!(messages_on(&app.bus, "bancaire.compte.ouvert").await, 5);
    assert_eq!(messages_on_banking(&app.bus).await, 5);

    // A deposit reuses the accounts opened above: one message more.
    let (code, body) = call(
        &app.router,
        "POST",
        "/api/v1/events/produce",
        Some(json!({"event_type": "DepotEffectue", "count": 1})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["events_produced"], 1);
    assert_eq!(messages_on(&app.bus, "bancaire.depot.effectue").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_while_running_does_not_disturb_the_run() {
    let app = app().await;
    let r = &app.router;
    let (code, _) = call(
        r,
        "POST",
        "/api/v1/simulation/start",
        Some(json!({"scenario": "default", "rate": 100, "duration": 0})),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = call(
        r,
        "POST",
        "/api/v1/events/produce",
        Some(json!({"event_type": "VirementEmis", "count": 3})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    // Two accounts are opened first for the transfers.
    assert_eq!(body["events_produced"], 5, "{body}");
    let (code, stopped) = call(r, "POST", "/api/v1/simulation/stop", None).await;
    assert_eq!(code, StatusCode::OK);
    let run = stopped["events_produced"].as_u64().unwrap();
    assert_eq!(messages_on_banking(&app.bus).await, run + 5);
}

/// Asserts a 400 whose `details` names `field`.
async fn assert_bad(router: &Router, path: &str, body: &str, field: &str) {
    let (code, answer) = call_raw(router, "POST", path, Some(body.to_owned())).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body} → {answer}");
    let details = answer["details"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(
        details
            .iter()
            .any(|d| d["field"] == field && d["message"].is_string()),
        "{body}: expected `{field}` in {answer}"
    );
    assert!(
        answer["error"].as_str().unwrap().contains(field),
        "{answer}"
    );
    assert!(answer["code"].is_string(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_name_their_field() {
    let app = app().await;
    let r = &app.router;
    let start = "/api/v1/simulation/start";
    let produce = "/api/v1/events/produce";

    assert_bad(
        r,
        start,
        r#"{"scenario": "nope", "rate": 10, "duration": 0}"#,
        "scenario",
    )
    .await;
    assert_bad(r, start, r#"{"rate": 10, "duration": 0}"#, "scenario").await;
    assert_bad(
        r,
        start,
        r#"{"scenario": 3, "rate": 10, "duration": 0}"#,
        "scenario",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": 0, "duration": 0}"#,
        "rate",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": -5, "duration": 0}"#,
        "rate",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": 50001, "duration": 0}"#,
        "rate",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": "fast", "duration": 0}"#,
        "rate",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": 10, "duration": -1}"#,
        "duration",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": 10, "duration": 0, "pattern": "zigzag"}"#,
        "pattern",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": 10, "duration": 0, "seed": -1}"#,
        "seed",
    )
    .await;
    assert_bad(
        r,
        start,
        r#"{"scenario": "default", "rate": 10, "duration": 0, "speed": 3}"#,
        "speed",
    )
    .await;
    assert_bad(r, start, r#"{"scenario": "default", "rate": 10,"#, "body").await;
    assert_bad(r, start, r#"[1, 2]"#, "body").await;

    assert_bad(
        r,
        produce,
        r#"{"event_type": "CompteInconnu", "count": 1}"#,
        "event_type",
    )
    .await;
    assert_bad(r, produce, r#"{"count": 1}"#, "event_type").await;
    assert_bad(
        r,
        produce,
        r#"{"event_type": "CompteOuvert", "count": 0}"#,
        "count",
    )
    .await;
    assert_bad(
        r,
        produce,
        r#"{"event_type": "CompteOuvert", "count": 10001}"#,
        "count",
    )
    .await;
    assert_bad(
        r,
        produce,
        r#"{"event_type": "CompteOuvert", "count": -3}"#,
        "count",
    )
    .await;
    assert_bad(
        r,
        produce,
        r#"{"event_type": "CompteOuvert", "count": 1.5}"#,
        "count",
    )
    .await;
    assert_bad(r, produce, r#"{"event_type": "CompteOuvert"}"#, "count").await;
    assert_bad(r, produce, r#"not json"#, "body").await;

    // Several bad fields are all named at once.
    let (code, answer) = call(
        r,
        "POST",
        start,
        Some(json!({"scenario": "nope", "rate": 0, "duration": -1, "pattern": "x"})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = answer["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["scenario", "rate", "duration", "pattern"],
        "{answer}"
    );

    // Nothing ran, nothing was produced.
    assert_eq!(status(r).await["status"], "stopped");
    assert_eq!(messages_on_banking(&app.bus).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patterns_and_optional_fields_are_accepted() {
    let app = app().await;
    let r = &app.router;
    for pattern in ["constant", "ramp", "burst", "sine"] {
        let (code, body) = call(
            r,
            "POST",
            "/api/v1/simulation/start",
            Some(json!({"scenario": "banking-day", "rate": 100, "duration": 0, "pattern": pattern, "seed": 1})),
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{pattern}: {body}");
        assert_eq!(status(r).await["pattern"], pattern);
        let (code, _) = call(r, "POST", "/api/v1/simulation/stop", None).await;
        assert_eq!(code, StatusCode::OK);
    }
    // Rate and duration default to the scenario's.
    let (code, body) = call(
        r,
        "POST",
        "/api/v1/simulation/start",
        Some(json!({"scenario": "default"})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let s = status(r).await;
    assert_eq!(s["rate"], 10.0, "{s}");
    let (code, _) = call(r, "POST", "/api/v1/simulation/stop", None).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_error_stops_the_run_and_shows_in_status() {
    let app = app().await;
    let r = &app.router;
    let (code, _) = call(
        r,
        "POST",
        "/api/v1/simulation/start",
        Some(json!({"scenario": "default", "rate": 500, "duration": 0})),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    wait_for(r, Duration::from_secs(20), "events", |s| {
        s["events_produced"].as_u64().unwrap_or(0) > 0
    })
    .await;
    app.bus.close().await.unwrap();
    let done = wait_for(r, Duration::from_secs(20), "the error stop", |s| {
        s["status"] == "stopped"
    })
    .await;
    assert!(done["error"].as_str().unwrap().contains("bus"), "{done}");
    let (code, _) = call(r, "POST", "/api/v1/simulation/stop", None).await;
    assert_eq!(code, StatusCode::CONFLICT);
}

#[test]
fn the_openapi_document_lists_the_four_operations() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).unwrap();
    let control = SimulationControl::new(Arc::new(bus), ControlOptions::default()).unwrap();
    let (_, doc) =
        edalab_services::simulator::api::openapi_router(Arc::new(control)).split_for_parts();
    let mut paths: Vec<&String> = doc.paths.paths.keys().collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/v1/events/produce",
            "/api/v1/simulation/start",
            "/api/v1/simulation/status",
            "/api/v1/simulation/stop"
        ]
    );
}
