//! Forwarding `/api/v1/<service>/*` to another process (S3-11): a real upstream HTTP server
//! on port 0 in the test; the request, its headers and body go through, the answer comes
//! back; an upstream that is down is a 503 JSON naming it, a slow one a 504.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use edalab_gateway::forward::Upstream;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Setup, spawn_app_with};

/// An upstream service: echoes what it received (201, custom content type), `/slow` answers
/// after 5 s, `/api/v1/health` is up.
async fn spawn_upstream() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    async fn echo(request: Request) -> impl IntoResponse {
        let (parts, body) = request.into_parts();
        if parts.uri.path().ends_with("/slow") {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        let header = |headers: &HeaderMap, name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            AxumStatus::CREATED,
            [("content-type", "application/vnd.echo+json")],
            Json(json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "query": parts.uri.query(),
                "traceparent": header(&parts.headers, "traceparent"),
                "x-request-id": header(&parts.headers, "x-request-id"),
                "content-type": header(&parts.headers, "content-type"),
                "body": String::from_utf8_lossy(&body),
            })),
        )
    }
    let app = axum::Router::new()
        .route("/api/v1/health", get(|| async { "ok" }))
        .route("/api/v1/simulation/{*rest}", any(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (addr, server)
}

fn setup(url: &str, timeout: Duration) -> Setup {
    let upstream = Upstream::new("simulation", url, timeout).expect("upstream");
    Setup {
        topics: vec![("alpha", 1)],
        mounts: vec![upstream.mount()],
        health: vec![upstream.health()],
        ..Setup::default()
    }
}

#[tokio::test]
async fn a_request_is_forwarded_with_its_headers_and_body_and_the_answer_comes_back() {
    let (upstream, server) = spawn_upstream().await;
    let url = format!("http://{upstream}");
    let app = spawn_app_with(setup(&url, Duration::from_secs(5))).await;

    let sent_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .http
        .post(app.url("/api/v1/simulation/start?dry=1"))
        .header("content-type", "application/json")
        .header(
            "traceparent",
            format!("00-{sent_trace}-00f067aa0ba902b7-01"),
        )
        .header("x-request-id", "req-42")
        .body(r#"{"scenario":"default"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.echo+json"
    );
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let echo: Value = response.json().await.expect("JSON");
    assert_eq!(echo["method"], "POST", "{echo}");
    assert_eq!(echo["path"], "/api/v1/simulation/start", "{echo}");
    assert_eq!(echo["query"], "dry=1", "{echo}");
    assert_eq!(echo["x-request-id"], "req-42", "{echo}");
    assert_eq!(echo["content-type"], "application/json", "{echo}");
    assert_eq!(echo["body"], r#"{"scenario":"default"}"#, "{echo}");
    // The same trace, continued by the gateway (its own span id).
    let forwarded: edalab_gateway::telemetry::TraceParent = echo["traceparent"]
        .as_str()
        .expect("traceparent forwarded")
        .parse()
        .expect("valid traceparent");
    assert_eq!(forwarded.trace_id_hex(), sent_trace);
    assert_ne!(forwarded.span_id_hex(), "00f067aa0ba902b7");

    // Without a traceparent, the gateway starts a trace and forwards it.
    let echo: Value = app
        .http
        .get(app.url("/api/v1/simulation/status"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(echo["method"], "GET");
    assert!(
        echo["traceparent"]
            .as_str()
            .is_some_and(|t| t.parse::<edalab_gateway::telemetry::TraceParent>().is_ok()),
        "{echo}"
    );

    // The upstream is part of the gateway's health.
    let health: Value = app.get("/api/v1/health").await.json().await.expect("JSON");
    assert_eq!(health["status"], "healthy", "{health}");
    let component = health["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "upstream:simulation")
        .cloned()
        .expect("upstream component");
    assert_eq!(component["status"], "up", "{health}");
    assert_eq!(component["backend"], url.as_str(), "{health}");

    // Documented: the forwarded prefix is in the OpenAPI document.
    let doc: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("JSON");
    let item = &doc["paths"]["/api/v1/simulation/{path}"];
    for method in ["get", "post", "put", "delete", "patch"] {
        assert!(item[method].is_object(), "{method} not documented");
    }
    app.stop().await;
    server.abort();
}

#[tokio::test]
async fn an_upstream_that_is_down_is_a_503_json_naming_it() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(setup(&url, Duration::from_secs(5))).await;

    let response = app
        .http
        .post(app.url("/api/v1/simulation/start"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "service_unavailable", "{body}");
    assert_eq!(body["details"][0]["field"], "service", "{body}");
    let detail = body["details"][0]["message"].as_str().unwrap_or_default();
    assert!(
        detail.contains("simulation") && detail.contains(url.as_str()),
        "{body}"
    );
    assert!(
        body["error"].as_str().unwrap_or("").contains("simulation"),
        "{body}"
    );

    let health = app.get("/api/v1/health").await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = health.json().await.expect("JSON");
    let component = health["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "upstream:simulation")
        .cloned()
        .expect("upstream component");
    assert_eq!(component["status"], "down", "{health}");
    app.stop().await;
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_json() {
    let (upstream, server) = spawn_upstream().await;
    let url = format!("http://{upstream}");
    let app = spawn_app_with(setup(&url, Duration::from_millis(300))).await;
    let response = app.get("/api/v1/simulation/slow").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "gateway_timeout", "{body}");
    assert_eq!(body["details"][0]["field"], "service", "{body}");
    // A fast route of the same upstream still answers.
    let fast = app.get("/api/v1/simulation/status").await;
    assert_eq!(fast.status(), StatusCode::CREATED);
    let _: Bytes = fast.bytes().await.expect("body");
    app.stop().await;
    server.abort();
}
