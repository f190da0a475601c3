//! What the pipeline tests share: calling a router in process and reading a topic from the
//! start. Real routers, the real embedded bus; no mocks.

#![allow(dead_code)] // each test binary uses its own subset

pub mod all;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::{Bus, ConsumerConfig, Message};
use edalab_services::pipeline::{Env, StoreChoice};
use serde_json::Value;
use tokio::sync::watch;
use tower::ServiceExt;

/// A scratch folder with an embedded bus in its `bus/` subfolder: the folder (deleted on
/// drop), the bus (to close it), and the same bus as the port the pipelines take.
pub fn scratch_bus() -> (tempfile::TempDir, EmbeddedBus, Arc<dyn Bus>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedBus::open(dir.path().join("bus"), LogConfig::default()).expect("bus");
    let bus: Arc<dyn Bus> = Arc::new(embedded.clone());
    (dir, embedded, bus)
}

/// What a pipeline under test starts from: `bus`, files under `dir`, SQLite stores, the
/// system clock; and the sender that stops it.
pub fn sqlite_env(bus: &Arc<dyn Bus>, dir: &std::path::Path) -> (watch::Sender<bool>, Env) {
    let (stop, shutdown) = watch::channel(false);
    let env = Env::new(Arc::clone(bus), dir, StoreChoice::Sqlite, shutdown);
    (stop, env)
}

/// One request through the router; the body parsed as JSON (`Null` when it is not JSON).
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let (status, bytes) = raw(app, method, uri, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// `POST uri` with `body` as JSON; the answer parsed as with [`call`].
pub async fn post(app: &Router, uri: &str, body: &Value) -> (StatusCode, Value) {
    call(app, "POST", uri, Some(&body.to_string())).await
}

/// Polls `GET uri` until the body's `status` is not `PENDING` (60 s: a loaded 2-core box).
pub async fn settled(app: &Router, uri: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = call(app, "GET", uri, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["status"] != "PENDING" || tokio::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The fields a 400's `details` name, in order.
pub fn fields(body: &Value) -> Vec<&str> {
    body["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect()
}

/// One request through the router: the status and the body's bytes.
pub async fn raw(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, bytes.to_vec())
}

/// Reads `topic` from the start until `want` messages (60 s deadline: a loaded box), in a
/// fresh consumer group that it leaves afterwards.
pub async fn read(bus: &Arc<dyn Bus>, topic: &str, want: usize) -> Vec<Message> {
    let group = format!("test-reader-{topic}-{}", uuid::Uuid::new_v4());
    let mut consumer = bus
        .consumer(ConsumerConfig::new(group, vec![topic.to_owned()]))
        .await
        .expect("consumer");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < want && tokio::time::Instant::now() < deadline {
        out.extend(
            consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll"),
        );
    }
    consumer.close().await.expect("close");
    out
}
