//! The simulator's HTTP- and file-routed items (S0 transactions, S4 orders, S2 order files)
//! delivered end to end in process: a `SimulationControl` on the embedded bus with the
//! real pipelines' sink (`Pipelines::simulator_sink`), the real pipelines consuming. Each
//! run goes through a recorder that passes every item to the real sink and remembers the
//! item and its answer, so the test can follow each one to its final status through the
//! pipelines' own routes.

use crate::pipeline_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::pipeline_support::all::{self, Pipelines};
use async_trait::async_trait;
use axum::Router;
use axum::http::StatusCode;
use edalab_bus::Bus;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_services::simulator::{
    ControlOptions, Delivery, EventKind, Outgoing, Route, RouteSink, SimulationControl,
    StartRequest, Validity, api, items::topics,
};
use pipeline_support::call;
use serde_json::{Value, json};

/// Passes items to the real sink and records what it answered.
struct Recorder {
    inner: Arc<dyn RouteSink>,
    seen: Mutex<Vec<(Outgoing, Delivery)>>,
}

#[async_trait]
impl RouteSink for Recorder {
    fn delivers(&self, route: Route) -> bool {
        self.inner.delivers(route)
    }

    async fn deliver(&self, items: &[Outgoing]) -> Vec<Delivery> {
        let answers = self.inner.deliver(items).await;
        let mut seen = self.seen.lock().expect("lock");
        seen.extend(items.iter().cloned().zip(answers.iter().cloned()));
        answers
    }
}

struct Env {
    _dir: tempfile::TempDir,
    pipelines: Pipelines,
    app: Router,
    control: Arc<SimulationControl>,
    recorder: Arc<Recorder>,
    stop: tokio::sync::watch::Sender<bool>,
}

fn scenarios_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedBus::open(dir.path().join("bus"), LogConfig::default()).expect("bus");
    let bus: Arc<dyn Bus> = Arc::new(embedded);
    // The banking topics `edalab up` seeds, so produce has somewhere to put banking events.
    for topic in topics::BANKING_INPUTS {
        bus.create_topic(topic, edalab_services::pipeline::topic(3, None, "none"))
            .await
            .expect("banking topic");
    }
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let pipelines = all::start_all(bus.clone(), dir.path(), shutdown).await;
    let recorder = Arc::new(Recorder {
        inner: pipelines.simulator_sink(),
        seen: Mutex::new(Vec::new()),
    });
    let control = Arc::new(
        SimulationControl::new(
            bus,
            ControlOptions {
                scenarios_dir: Some(scenarios_dir()),
                ..ControlOptions::default()
            },
        )
        .expect("control")
        .with_sink(recorder.clone()),
    );
    let app = pipelines.router().merge(api::router(Arc::clone(&control)));
    Env {
        _dir: dir,
        pipelines,
        app,
        control,
        recorder,
        stop,
    }
}

impl Env {
    /// Runs `scenario` at `rate` for `duration` seconds to its end.
    async fn run(&self, scenario: &str, rate: f64, duration: f64) {
        self.control
            .start(StartRequest {
                scenario: scenario.into(),
                rate: Some(rate),
                duration: Some(duration),
                pattern: None,
                seed: Some(42),
            })
            .await
            .expect("start");
        self.control.wait().await;
    }

    fn seen(&self) -> Vec<(Outgoing, Delivery)> {
        self.recorder.seen.lock().expect("lock").clone()
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.pipelines.join().await.expect("pipelines stop cleanly");
    }
}

/// Polls `uri` until `check` holds on a 200 body (60 s deadline: a loaded 2-core box).
async fn until(app: &Router, uri: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = call(app, "GET", uri, None).await;
        if (status == StatusCode::OK && check(&body)) || tokio::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Counts of items by what the simulator meant them to be.
fn by_validity(seen: &[(Outgoing, Delivery)]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for (item, _) in seen {
        let name = match item.validity {
            Validity::Valid => "valid",
            Validity::Invalid(_) => "invalid",
            Validity::Poison => "poison",
            Validity::Duplicate => "duplicate",
        };
        *out.entry(name).or_default() += 1;
    }
    out
}

fn reference(delivery: &Delivery) -> Option<&str> {
    match delivery {
        Delivery::Accepted { reference } => reference.as_deref(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_scenario_reaches_processed_or_failed_in_the_s0_store() {
    let env = env().await;
    env.run("transactions", 100.0, 2.0).await;
    let status = env.control.status();
    assert_eq!(status.status, "stopped");
    assert_eq!(status.error, None);
    let seen = env.seen();
    assert_eq!(seen.len() as u64, status.events_expected.expect("expected"));
    assert!(
        status.events_skipped.is_empty(),
        "{:?}",
        status.events_skipped
    );
    assert!(
        status.events_failed.is_empty(),
        "{:?}",
        status.events_failed
    );
    assert_eq!(status.events_produced, seen.len() as u64);
    assert_eq!(
        status.events_by_type.get("Transaction").copied(),
        Some(seen.len() as u64)
    );

    // Valid bodies are accepted; invalid and poison ones refused with a 400, and counted.
    let mut refused = 0;
    for (item, delivery) in &seen {
        assert_eq!(item.kind, EventKind::Transaction);
        match (item.validity, delivery) {
            (Validity::Valid, Delivery::Accepted { reference }) => {
                assert!(reference.as_deref().is_some_and(|r| r.starts_with("txn-")));
            }
            (Validity::Invalid(_) | Validity::Poison, Delivery::Refused { status, reason }) => {
                assert_eq!(*status, 400, "{reason}");
                refused += 1;
            }
            other => panic!("unexpected delivery {other:?}"),
        }
    }
    let counts = by_validity(&seen);
    assert!(
        counts.get("valid").copied().unwrap_or(0) > 100,
        "{counts:?}"
    );
    assert!(
        refused > 0,
        "the scenario asks for refused bodies: {counts:?}"
    );
    assert_eq!(
        status.events_refused.get("Transaction").copied(),
        Some(refused)
    );

    // Every accepted transaction reaches a final status in the S0 store.
    for (_, delivery) in &seen {
        let Some(id) = reference(delivery) else {
            continue;
        };
        let view = until(&env.app, &format!("/api/v1/transactions/{id}"), |b| {
            b["status"] == "PROCESSED" || b["status"] == "FAILED"
        })
        .await;
        assert!(
            view["status"] == "PROCESSED" || view["status"] == "FAILED",
            "{id}: {view}"
        );
    }
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_scenario_creates_orders_visible_in_the_s4_tracking() {
    let env = env().await;
    env.run("orders", 50.0, 2.0).await;
    let status = env.control.status();
    assert_eq!(status.error, None);
    let seen = env.seen();
    assert_eq!(seen.len() as u64, status.events_expected.expect("expected"));
    assert_eq!(status.events_produced, seen.len() as u64);
    assert!(
        status.events_skipped.is_empty(),
        "{:?}",
        status.events_skipped
    );

    let mut accepted = Vec::new();
    let mut refused = 0;
    for (item, delivery) in &seen {
        assert_eq!(item.kind, EventKind::Order);
        match (item.validity, delivery) {
            (Validity::Valid, Delivery::Accepted { reference }) => {
                accepted.push(reference.clone().expect("orderId"));
            }
            (Validity::Invalid(_) | Validity::Poison, Delivery::Refused { status, .. }) => {
                assert_eq!(*status, 400);
                refused += 1;
            }
            other => panic!("unexpected delivery {other:?}"),
        }
    }
    assert!(accepted.len() > 50, "{}", accepted.len());
    assert_eq!(
        status.events_refused.get("Order").copied().unwrap_or(0),
        refused
    );

    // Each created order is tracked and its payment decided.
    for id in &accepted {
        let view = until(&env.app, &format!("/api/v1/orders/{id}/status"), |b| {
            b["status"] == "PAYMENT_AUTHORIZED" || b["status"] == "PAYMENT_REJECTED"
        })
        .await;
        assert!(
            view["status"] == "PAYMENT_AUTHORIZED" || view["status"] == "PAYMENT_REJECTED",
            "{id}: {view}"
        );
    }
    let (code, list) = call(&env.app, "GET", "/api/v1/orders?limit=1000", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list["count"], json!(accepted.len()), "{list}");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_files_scenario_is_picked_up_by_the_intake() {
    let env = env().await;
    env.run("order-files", 60.0, 2.0).await;
    let status = env.control.status();
    assert_eq!(status.error, None);
    let seen = env.seen();
    assert_eq!(seen.len() as u64, status.events_expected.expect("expected"));
    assert_eq!(status.events_produced, seen.len() as u64);
    assert!(
        status.events_skipped.is_empty(),
        "{:?}",
        status.events_skipped
    );
    assert!(
        status.events_failed.is_empty(),
        "{:?}",
        status.events_failed
    );
    for (item, delivery) in &seen {
        assert_eq!(item.kind, EventKind::OrderFile);
        assert!(
            matches!(delivery, Delivery::Accepted { reference: Some(name) } if name.ends_with(".json")),
            "{delivery:?}"
        );
    }
    let counts = by_validity(&seen);
    let count = |k| counts.get(k).copied().unwrap_or(0) as u64;
    assert!(
        count("valid") > 0 && count("invalid") > 0 && count("duplicate") > 0,
        "seed 42: {counts:?}"
    );

    // The intake records every file: valid → PROCESSED, invalid and poison → REJECTED, a
    // repeated order_id → DUPLICATE.
    let total = seen.len() as u64;
    let stats = until(&env.app, "/api/v1/intake/stats", |b| {
        b["orders_processed_total"].as_u64().unwrap_or(0)
            + b["orders_rejected_total"].as_u64().unwrap_or(0)
            + b["orders_duplicate_total"].as_u64().unwrap_or(0)
            >= total
    })
    .await;
    assert_eq!(stats["files_queued_total"], json!(total), "{stats}");
    assert_eq!(
        stats["orders_processed_total"],
        json!(count("valid")),
        "{stats}"
    );
    assert_eq!(
        stats["orders_rejected_total"],
        json!(count("invalid") + count("poison")),
        "{stats}"
    );
    assert_eq!(
        stats["orders_duplicate_total"],
        json!(count("duplicate")),
        "{stats}"
    );
    for (item, _) in seen.iter().filter(|(i, _)| i.validity != Validity::Poison) {
        let file: Value = serde_json::from_slice(&item.body).expect("order file JSON");
        let order_id = file["order_id"].as_str().expect("order_id");
        let (code, body) = call(
            &env.app,
            "GET",
            &format!("/api/v1/intake/orders/{order_id}"),
            None,
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{order_id}: {body}");
        let want = if matches!(item.validity, Validity::Invalid(_)) {
            "REJECTED"
        } else {
            // The original and its duplicate: whichever was read first is PROCESSED.
            "PROCESSED"
        };
        assert_eq!(body["status"], want, "{order_id}: {body}");
    }
    // Nothing is left in the inbox: every file was moved out by the watcher.
    let inbox = edalab_services::intake::inbox_dir(env._dir.path());
    let left: Vec<_> = std::fs::read_dir(&inbox)
        .expect("inbox")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_produce_delivers_every_type_and_answers_the_real_count() {
    let env = env().await;
    for kind in EventKind::ALL {
        let body = json!({"event_type": kind.wire_name(), "count": 3}).to_string();
        let (code, answer) = call(&env.app, "POST", "/api/v1/events/produce", Some(&body)).await;
        assert_eq!(code, StatusCode::OK, "{kind:?}: {answer}");
        let produced = answer["events_produced"].as_u64().expect("events_produced");
        // A banking type that needs accounts may open two first (2 + 3 = 5), and each
        // closing may need an account opened for it and the withdrawal that empties it
        // (`close_for_produce`: up to 3 items per close, 2 + 3 × 3 = 11); all are counted.
        let most = if kind == EventKind::CompteFerme {
            11
        } else {
            5
        };
        assert!((3..=most).contains(&produced), "{kind:?}: {answer}");
        assert_eq!(
            answer["event_ids"].as_array().map(Vec::len),
            Some(produced as usize),
            "{answer}"
        );
        assert_eq!(answer["events_skipped"], json!({}), "{kind:?}: {answer}");
        assert_eq!(answer["events_refused"], json!(0), "{kind:?}: {answer}");
        let references = answer["references"].as_array().expect("references");
        match kind {
            EventKind::Transaction => {
                assert_eq!(references.len(), 3);
                for id in references {
                    let id = id.as_str().expect("id");
                    let view = until(&env.app, &format!("/api/v1/transactions/{id}"), |b| {
                        b["status"] == "PROCESSED"
                    })
                    .await;
                    assert_eq!(view["status"], "PROCESSED", "{view}");
                }
            }
            EventKind::Order => {
                assert_eq!(references.len(), 3);
                for id in references {
                    let id = id.as_str().expect("id");
                    let view = until(&env.app, &format!("/api/v1/orders/{id}/status"), |b| {
                        b["orderId"] == id
                    })
                    .await;
                    assert_eq!(view["orderId"], id, "{view}");
                }
            }
            EventKind::OrderFile => {
                assert_eq!(references.len(), 3);
                for name in references {
                    let order_id = name
                        .as_str()
                        .and_then(|n| n.strip_suffix(".json"))
                        .expect("file name");
                    let view = until(
                        &env.app,
                        &format!("/api/v1/intake/orders/{order_id}"),
                        |b| b["status"] == "PROCESSED",
                    )
                    .await;
                    assert_eq!(view["status"], "PROCESSED", "{view}");
                }
            }
            _ => assert!(references.is_empty(), "{kind:?}: {answer}"),
        }
    }
    env.shutdown().await;
}

#[tokio::test]
async fn without_a_sink_routed_items_are_answered_as_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedBus::open(dir.path().join("bus"), LogConfig::default()).expect("bus");
    let control =
        SimulationControl::new(Arc::new(embedded), ControlOptions::default()).expect("control");
    let answer = control.produce_now("Order", 4).await.expect("produce");
    assert_eq!(answer.events_produced, 0);
    assert!(answer.event_ids.is_empty());
    assert_eq!(answer.events_skipped.get("/orders").copied(), Some(4));
}

#[test]
fn order_files_are_written_whole_and_never_replace_one_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inbox = dir.path().join("inbox/orders");
    let first = edalab_services::intake::write_order_file(&inbox, "ORD-1.json", b"{\"a\":1}")
        .expect("write");
    let second = edalab_services::intake::write_order_file(&inbox, "ORD-1.json", b"{\"a\":2}")
        .expect("write again");
    assert_eq!(first, inbox.join("ORD-1.json"));
    assert_eq!(second, inbox.join("ORD-1.1.json"));
    assert_eq!(std::fs::read(&first).expect("read"), b"{\"a\":1}");
    assert_eq!(std::fs::read(&second).expect("read"), b"{\"a\":2}");
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&inbox)
        .expect("inbox")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    for bad in ["../x.json", ".hidden.json", "x.txt", ".json"] {
        let error = edalab_services::intake::write_order_file(&inbox, bad, b"{}").unwrap_err();
        assert!(error.to_string().contains(bad), "{error}");
    }
}
