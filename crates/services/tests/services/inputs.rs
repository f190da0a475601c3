//! Issue 16's input probes against the real routers served on `127.0.0.1:0` (the four
//! pipelines, the simulator and the credit-bureau switch over the real embedded bus), each
//! answered safely (ADR 019): scenarios by name only, reads bounded and never quoted, start
//! limits, the body checked before the state, one rule for unknown fields, ids without
//! control or bidi characters and with a bounded length, `accountFrom ≠ accountTo`, every
//! `limit` within 1..=1000.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pipeline_support::all;
use edalab_bus::Bus;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_services::saga::admin::{self, AdminState};
use edalab_services::simulator::{ControlOptions, SimulationControl, StartLimits, api};
use serde_json::{Value, json};

/// Any one request may take this long on a loaded machine before the test fails.
const WAIT: Duration = Duration::from_secs(30);

struct App {
    base: String,
    http: reqwest::Client,
    bus: EmbeddedBus,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    scenarios: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl App {
    /// Serves the pipelines, the simulator (scenarios folder: a fresh temporary one, with
    /// `limits`) and the credit-bureau switch.
    async fn spawn(limits: StartLimits) -> App {
        let data = tempfile::tempdir().expect("data dir");
        let scenarios = tempfile::tempdir().expect("scenarios dir");
        let bus = EmbeddedBus::open(data.path().join("bus"), LogConfig::default()).expect("bus");
        let shared: Arc<dyn Bus> = Arc::new(bus.clone());
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let pipelines = all::start_all(shared.clone(), data.path(), shutdown).await;
        let control = SimulationControl::new(
            shared,
            ControlOptions {
                scenarios_dir: Some(scenarios.path().to_path_buf()),
                limits,
            },
        )
        .expect("simulator");
        let (bureau, _) = admin::openapi_router(AdminState::of(&pipelines.saga)).split_for_parts();
        let router = pipelines
            .router()
            .merge(api::router(Arc::new(control)))
            .merge(bureau);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut until_stopped = stop.subscribe();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = until_stopped.wait_for(|stopped| *stopped).await;
                })
                .await
        });
        App {
            base,
            http: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("client"),
            bus,
            stop,
            server,
            scenarios,
            _data: data,
        }
    }

    /// Sends `body` (raw text) and answers the status and the body, as JSON and as text.
    async fn send(&self, method: &str, path: &str, body: Option<String>) -> (u16, Value, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("response");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value, text)
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value, String) {
        self.send("POST", path, Some(body.to_string())).await
    }

    async fn stop(self) {
        let _ = self.send("POST", "/api/v1/simulation/stop", None).await;
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(WAIT, self.server).await;
        self.bus.close().await.expect("close the bus");
    }
}

/// The `details` entries naming `field`.
fn messages_for<'a>(body: &'a Value, field: &str) -> Vec<&'a str> {
    body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["field"] == field)
        .filter_map(|d| d["message"].as_str())
        .collect()
}

/// Asserts a 400 whose `details` name `field`; answers the first message about it.
fn assert_400_on(answer: &(u16, Value, String), field: &str, what: &str) -> String {
    let (status, body, _) = answer;
    assert_eq!(*status, 400, "{what}: {body}");
    let messages = messages_for(body, field);
    assert!(
        !messages.is_empty(),
        "{what}: no detail on `{field}`: {body}"
    );
    messages[0].to_owned()
}

/// This process's resident memory, bytes (Linux).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn start_body(scenario: &str) -> Value {
    json!({"scenario": scenario, "rate": 10, "duration": 0, "seed": 1})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_is_a_name_and_no_file_is_read_or_quoted() {
    let app = App::spawn(StartLimits::default()).await;
    // Files in the scenarios folder that a valid name could reach, but that must not be
    // quoted or read without a bound.
    let secret = "root:$6$SECRETHASH$abc:19000:0:99999:7:::";
    std::fs::write(app.scenarios.path().join("leak.toml"), secret).expect("write");
    let big = format!("name = \"big\"\n# {}\n", "x".repeat(2 << 20));
    std::fs::write(app.scenarios.path().join("big.toml"), big).expect("write");
    std::os::unix::fs::symlink("/dev/zero", app.scenarios.path().join("zero.toml"))
        .expect("symlink");
    let rss_before = rss_bytes();
    let started = Instant::now();
    let long = "a".repeat(1 << 20);
    for scenario in [
        "/etc/shadow",
        "/proc/self/environ",
        "/dev/zero",
        "../x",
        "../scenarios/default",
        "default.toml",
        "scenarios/default",
        "a\u{0}b",
        "DEFAULT",
        "-default",
        "",
        long.as_str(),
    ] {
        let answer = app
            .post("/api/v1/simulation/start", &start_body(scenario))
            .await;
        let what = format!("scenario {:?}", scenario.get(..40).unwrap_or(scenario));
        let message = assert_400_on(&answer, "scenario", &what);
        assert!(
            message.contains("by name") && message.contains("banking-day"),
            "{what}: the message lists the names: {message}"
        );
        assert!(!answer.2.contains("root:"), "{what}: {}", answer.2);
        assert!(!answer.2.contains("PATH="), "{what}: {}", answer.2);
        assert!(answer.2.len() < 4096, "{what}: the input is not echoed");
    }
    for (name, expected) in [
        ("leak", "line 1"),
        ("big", "larger than 1048576 bytes"),
        ("zero", "not a regular file"),
        ("nope", "unknown scenario `nope`"),
    ] {
        let answer = app
            .post("/api/v1/simulation/start", &start_body(name))
            .await;
        let message = assert_400_on(&answer, "scenario", name);
        assert!(message.contains(expected), "{name}: {message}");
        assert!(!answer.2.contains("SECRETHASH"), "{name}: {}", answer.2);
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the refusals took {:?}",
        started.elapsed()
    );
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "resident memory grew by {grown} bytes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_from_the_folder_or_the_builtins_still_starts() {
    let app = App::spawn(StartLimits::default()).await;
    let mine =
        "name = \"my-run\"\n[pattern]\nkind = \"constant\"\nrate_per_second = 5\n[calculator]\n";
    std::fs::write(app.scenarios.path().join("my-run.toml"), mine).expect("write");
    for scenario in ["my-run", "default"] {
        let (status, body, _) = app
            .post("/api/v1/simulation/start", &start_body(scenario))
            .await;
        assert_eq!(status, 200, "{scenario}: {body}");
        assert_eq!(body["status"], "running");
        let (status, body, _) = app.send("GET", "/api/v1/simulation/status", None).await;
        assert_eq!(status, 200);
        assert_eq!(body["scenario"], scenario, "{body}");
        let (status, body, _) = app.send("POST", "/api/v1/simulation/stop", None).await;
        assert_eq!(status, 200, "{body}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_and_duration_over_the_configured_limits_are_refused() {
    let app = App::spawn(StartLimits::new(100, 60)).await;
    let over_rate = app
        .post(
            "/api/v1/simulation/start",
            &json!({"scenario": "default", "rate": 101, "duration": 1}),
        )
        .await;
    let message = assert_400_on(&over_rate, "rate", "rate 101");
    assert!(
        message.contains("<= 100") && message.contains("simulator.rate_per_second_max"),
        "{message}"
    );
    let over_duration = app
        .post(
            "/api/v1/simulation/start",
            &json!({"scenario": "default", "rate": 10, "duration": 61}),
        )
        .await;
    let message = assert_400_on(&over_duration, "duration", "duration 61");
    assert!(
        message.contains("0..=60") && message.contains("simulator.duration_s_max"),
        "{message}"
    );
    let (status, body, _) = app
        .post(
            "/api/v1/simulation/start",
            &json!({"scenario": "default", "rate": 100, "duration": 60}),
        )
        .await;
    assert_eq!(status, 200, "at the limits: {body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_body_is_400_even_while_a_simulation_runs() {
    let app = App::spawn(StartLimits::default()).await;
    let (status, body, _) = app
        .post("/api/v1/simulation/start", &start_body("default"))
        .await;
    assert_eq!(status, 200, "{body}");
    for (body, field) in [
        (start_body("/etc/shadow"), "scenario"),
        (json!({"scenario": "default", "rate": -1}), "rate"),
        (
            json!({"scenario": "default", "rate": 10, "extra": 1}),
            "extra",
        ),
        (json!({"rate": 10}), "scenario"),
    ] {
        let answer = app.post("/api/v1/simulation/start", &body).await;
        assert_400_on(&answer, field, &body.to_string());
    }
    let (status, body, _) = app
        .post("/api/v1/simulation/start", &start_body("default"))
        .await;
    assert_eq!(status, 409, "a valid body while running: {body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_field_gets_the_same_answer_on_every_route() {
    let app = App::spawn(StartLimits::default()).await;
    let transaction =
        json!({"amount": 10, "currency": "EUR", "accountFrom": "A-1", "accountTo": "A-2"});
    let order = json!({"userId": "u-1", "amount": 10, "items": ["book"]});
    let calculation = json!({"operation": "add", "a": 1, "b": 2});
    let produce = json!({"event_type": "Calculation", "count": 1});
    let bureau = json!({"failing": false});
    for (method, path, valid) in [
        ("POST", "/api/v1/transactions", transaction),
        ("POST", "/api/v1/orders", order),
        ("POST", "/api/v1/calculator", calculation),
        ("POST", "/api/v1/events/produce", produce),
        ("PUT", "/api/v1/saga/credit-bureau", bureau),
        ("POST", "/api/v1/simulation/start", start_body("default")),
    ] {
        let (status, body, _) = app.send(method, path, Some(valid.to_string())).await;
        assert!(status < 300, "{method} {path} valid: {status} {body}");
        if path.ends_with("/start") {
            app.send("POST", "/api/v1/simulation/stop", None).await;
        }
        let mut with_extra = valid.clone();
        with_extra["priority"] = json!("high");
        let answer = app.send(method, path, Some(with_extra.to_string())).await;
        let message = assert_400_on(&answer, "priority", &format!("{method} {path}"));
        assert!(
            message.starts_with("unknown field"),
            "{method} {path}: {message}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_refuse_control_and_bidi_characters_and_unbounded_lengths() {
    let app = App::spawn(StartLimits::default()).await;
    let long = "A".repeat(1 << 20);
    for bad in ["ACC\u{0}1", "ACC\u{202E}1", "\u{2066}ACC", long.as_str()] {
        let what = format!("{:?}", bad.get(..12).unwrap_or(bad));
        let answer = app
            .post(
                "/api/v1/transactions",
                &json!({"amount": 10, "currency": "EUR", "accountFrom": bad, "accountTo": "A-2"}),
            )
            .await;
        assert_400_on(&answer, "accountFrom", &what);
        assert!(answer.2.len() < 4096, "{what}: the id is not echoed");
        let answer = app
            .post(
                "/api/v1/orders",
                &json!({"userId": bad, "amount": 10, "items": ["book"]}),
            )
            .await;
        assert_400_on(&answer, "userId", &what);
    }
    for (path, parameter) in [
        ("/api/v1/transactions/txn-%00", "id"),
        ("/api/v1/orders/ord-%E2%80%AE/status", "order_id"),
        ("/api/v1/calculator/c-%E2%81%A6", "id"),
        ("/api/v1/intake/orders/o%0A1", "order_id"),
    ] {
        let answer = app.send("GET", path, None).await;
        assert_400_on(&answer, parameter, path);
    }
    let (status, body, _) = app
        .send("GET", "/api/v1/transactions/txn-unknown", None)
        .await;
    assert_eq!(status, 404, "a valid id that names nothing: {body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_between_one_account_and_itself_is_refused() {
    let app = App::spawn(StartLimits::default()).await;
    let answer = app
        .post(
            "/api/v1/transactions",
            &json!({"amount": 10, "currency": "EUR", "accountFrom": "A-1", "accountTo": "A-1"}),
        )
        .await;
    let message = assert_400_on(&answer, "accountTo", "same account");
    assert!(
        message.starts_with("must differ from accountFrom"),
        "{message}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_is_within_one_and_a_thousand() {
    let app = App::spawn(StartLimits::default()).await;
    for bad in ["0", "1001", "2147483648", "-1", "ten"] {
        let answer = app
            .send("GET", &format!("/api/v1/orders?limit={bad}"), None)
            .await;
        let message = assert_400_on(&answer, "limit", bad);
        assert!(message.contains("between 1 and 1000"), "{bad}: {message}");
    }
    for good in ["?limit=1000", "?limit=1", ""] {
        let (status, body, _) = app
            .send("GET", &format!("/api/v1/orders{good}"), None)
            .await;
        assert_eq!(status, 200, "{good}: {body}");
    }
    app.stop().await;
}
