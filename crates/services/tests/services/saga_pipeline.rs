//! S4 end to end through the real routers and the embedded bus: authorized and rejected
//! flows, duplicate eventId ignored, the circuit breaker opening on an injected failure and
//! recovering, poison to `payments.dlq` / `orders.dlq`, 400s naming the field.

use crate::pipeline_support;

use pipeline_support::{call, post, read};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use edalab_bus::log::EmbeddedBus;
use edalab_bus::runtime::dlq;
use edalab_bus::{Bus, Record};
use edalab_services::pipeline::{self, StoreChoice};
use edalab_services::saga::{self, BreakerConfig, BreakerState, SagaConfig};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Polls the status route until `status` is `want` (60 s deadline).
async fn status_until(app: &Router, uri: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = call(app, "GET", uri, None).await;
        if (status == StatusCode::OK && body["status"] == want)
            || tokio::time::Instant::now() > deadline
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Env {
    _dir: tempfile::TempDir,
    embedded: EmbeddedBus,
    bus: Arc<dyn Bus>,
    stop: tokio::sync::watch::Sender<bool>,
    saga: saga::Saga,
}

async fn env(config: SagaConfig) -> Env {
    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let saga = saga::start_with(
        &pipeline::Env::new(bus.clone(), dir.path(), StoreChoice::Sqlite, shutdown),
        config,
    )
    .await
    .expect("start");
    Env {
        _dir: dir,
        embedded,
        bus,
        stop,
        saga,
    }
}

impl Env {
    async fn finish(self) {
        self.stop.send(true).expect("stop");
        self.saga.handles.join().await.expect("clean shutdown");
        self.embedded.close().await.expect("close");
    }
}

fn config() -> SagaConfig {
    SagaConfig {
        credit_limit_default: Decimal::new(1_000, 0),
        credit_limits: HashMap::from([("poor".to_owned(), Decimal::new(50, 0))]),
        ..SagaConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_and_rejected_flows_with_tracking() {
    let env = env(config()).await;
    let app = saga::api::router(env.saga.state.clone());
    let standalone = saga::api::standalone_router(env.saga.state.clone());

    let order = json!({"userId": "alice", "amount": 99.99, "items": ["book", "pen"]});
    let (status, body) = post(&standalone, "/orders", &order).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "created");
    assert!(
        body["eventId"].is_string() && body["message"].is_string(),
        "{body}"
    );
    let authorized_id = body["orderId"].as_str().expect("orderId").to_owned();

    let order = json!({"userId": "poor", "amount": 100, "items": ["tv"]});
    let (status, body) = post(&app, "/api/v1/orders", &order).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rejected_id = body["orderId"].as_str().expect("orderId").to_owned();

    let view = status_until(
        &app,
        &format!("/api/v1/orders/{authorized_id}/status"),
        "PAYMENT_AUTHORIZED",
    )
    .await;
    assert_eq!(view["status"], "PAYMENT_AUTHORIZED", "{view}");
    assert_eq!(view["details"]["userId"], "alice");
    assert_eq!(view["details"]["paymentStatus"], "AUTHORIZED");
    assert!(
        view["details"]["authorizationCode"]
            .as_str()
            .expect("code")
            .starts_with("AUTH-")
    );
    let types: Vec<&str> = view["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(types.len(), 2, "{view}");
    assert!(types.contains(&"OrderCreated") && types.contains(&"PaymentAuthorized"));

    let view = status_until(
        &standalone,
        &format!("/orders/{rejected_id}/status"),
        "PAYMENT_REJECTED",
    )
    .await;
    assert_eq!(view["status"], "PAYMENT_REJECTED", "{view}");
    assert_eq!(view["details"]["rejectionReason"], "Insufficient funds");

    let rejected = read(&env.bus, "payments.rejected", 1).await;
    let event: Value = serde_json::from_slice(&rejected[0].value).expect("json");
    assert_eq!(event["rejectionReason"], "Insufficient funds");
    assert_eq!(event["status"], "REJECTED");
    assert_eq!(rejected[0].key.as_deref(), Some(rejected_id.as_bytes()));

    // The credit limit counts what was already authorized: alice has 900.01 left.
    let order = json!({"userId": "alice", "amount": 900.02, "items": ["car"]});
    let (_, body) = post(&app, "/api/v1/orders", &order).await;
    let over = body["orderId"].as_str().expect("orderId").to_owned();
    let view = status_until(
        &app,
        &format!("/api/v1/orders/{over}/status"),
        "PAYMENT_REJECTED",
    )
    .await;
    assert_eq!(view["status"], "PAYMENT_REJECTED", "{view}");

    let (status, list) = call(&app, "GET", "/api/v1/orders", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], 3, "{list}");

    // Bad bodies → 400 naming each field; unknown order → 404.
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/orders",
        Some(r#"{"amount": 0, "items": []}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let fields = pipeline_support::fields(&body);
    assert_eq!(fields, ["userId", "amount", "items"], "{body}");
    let (status, body) = call(&standalone, "POST", "/orders", Some("[1,")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "body");
    let (status, body) = call(&app, "GET", "/api/v1/orders?limit=many", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "limit", "{body}");
    let (status, _) = call(&app, "GET", "/api/v1/orders/nope/status", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_event_id_is_ignored_and_poison_goes_to_the_dlqs() {
    let env = env(config()).await;
    let app = saga::api::router(env.saga.state.clone());
    let created = json!({"eventId": "evt-1", "orderId": "ord-1", "userId": "bob", "amount": 10,
        "items": ["x"], "status": "CREATED", "createdAt": "2026-02-06T10:00:00.000Z"});
    let record = || Record::new(Some(b"ord-1".to_vec()), created.to_string().into_bytes());
    env.bus
        .produce("orders.created", vec![record(), record()])
        .await
        .expect("produce");
    env.bus
        .produce(
            "orders.created",
            vec![Record::new(Some(b"ord-x".to_vec()), b"garbage".to_vec())],
        )
        .await
        .expect("produce");

    let view = status_until(&app, "/api/v1/orders/ord-1/status", "PAYMENT_AUTHORIZED").await;
    assert_eq!(view["status"], "PAYMENT_AUTHORIZED", "{view}");

    for dlq_topic in ["payments.dlq", "orders.dlq"] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let entries = loop {
            let entries = dlq::list(env.bus.as_ref(), dlq_topic, 10)
                .await
                .expect("list");
            if !entries.is_empty() || tokio::time::Instant::now() > deadline {
                break entries;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(entries.len(), 1, "{dlq_topic}");
        let entry = entries.into_iter().next().expect("one").expect("entry");
        assert_eq!(entry.value, b"garbage");
        assert!(entry.error.contains("not a"), "{}", entry.error);
    }
    // The duplicate OrderCreated re-published the same decision (same eventId), and the
    // tracking kept each event once.
    let authorized = read(&env.bus, "payments.authorized", 2).await;
    let ids: Vec<String> = authorized
        .iter()
        .map(|m| serde_json::from_slice::<Value>(&m.value).expect("json")["eventId"].to_string())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let view = status_until(&app, "/api/v1/orders/ord-1/status", "PAYMENT_AUTHORIZED").await;
    assert_eq!(
        view["events"].as_array().expect("events").len(),
        2,
        "{view}"
    );
    assert!(
        env.saga
            .state
            .counters
            .duplicates_ignored_total
            .load(Ordering::Relaxed)
            >= 1
    );

    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_opens_on_a_failing_bureau_and_recovers() {
    let mut config = config();
    config.breaker = BreakerConfig {
        failures_to_open: 2,
        open_ms: 300,
        call_timeout_ms: 5_000,
    };
    config.payment_retry.attempts_max = 50;
    config.payment_retry.retry_delay_ms_max = 200;
    let env = env(config).await;
    let app = saga::api::router(env.saga.state.clone());
    env.saga.faults.failing.store(true, Ordering::Relaxed);

    let order = json!({"userId": "carol", "amount": 5, "items": ["tea"]});
    let (_, body) = post(&app, "/api/v1/orders", &order).await;
    let id = body["orderId"].as_str().expect("orderId").to_owned();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while env.saga.breaker.state() == BreakerState::Closed && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(
        env.saga.breaker.state(),
        BreakerState::Closed,
        "breaker opened"
    );
    let (_, view) = call(&app, "GET", &format!("/api/v1/orders/{id}/status"), None).await;
    assert_ne!(
        view["status"], "PAYMENT_AUTHORIZED",
        "no decision while the bureau is down"
    );

    env.saga.faults.failing.store(false, Ordering::Relaxed);
    let view = status_until(
        &app,
        &format!("/api/v1/orders/{id}/status"),
        "PAYMENT_AUTHORIZED",
    )
    .await;
    assert_eq!(view["status"], "PAYMENT_AUTHORIZED", "{view}");
    assert_eq!(env.saga.breaker.state(), BreakerState::Closed);
    assert!(
        env.saga
            .state
            .counters
            .breaker_rejections_total
            .load(Ordering::Relaxed)
            >= 2
    );

    env.finish().await;
}
