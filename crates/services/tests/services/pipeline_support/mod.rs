//! What the pipeline tests share: calling a router in process and reading a topic from the
//! start. Real routers, the real embedded bus; no mocks.

#![allow(dead_code)] // each test binary uses its own subset

pub mod all;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use edalab_bus::{Bus, ConsumerConfig, Message};
use serde_json::Value;
use tower::ServiceExt;

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
