//! ADR 018 on the real router over real sockets: cross-site bodies (415), foreign origins
//! (403), foreign hosts (421), bearer tokens on writes and `/ws` (401), the refusal to start
//! off loopback without a token, stalled WebSocket clients that must not lock others out,
//! the per-IP cap, the header-read timeout, and the panic layer.

use std::time::Duration;

use edalab_bus::port::Record;
use edalab_gateway::security::TokenHash;
use edalab_gateway::{ErrorBody, Gateway, GatewaySettings as Config};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::{Setup, TestApp, WAIT, spawn_app_with, test_service};

const TOKEN: &str = "test-token-0123456789abcdef";

fn with_test_service(change: impl FnOnce(&mut Config) + 'static) -> Setup {
    Setup {
        topics: vec![("alpha", 1)],
        config: Some(Box::new(change)),
        mounts: vec![test_service::mount()],
        ..Setup::default()
    }
}

fn with_token(config: &mut Config) {
    config.security.token = Some(TokenHash::of_plain(TOKEN).expect("a valid token"));
}

async fn refused(response: reqwest::Response, status: StatusCode, code: &str) -> ErrorBody {
    assert_eq!(response.status(), status);
    let body: ErrorBody = response.json().await.expect("a JSON error");
    assert_eq!(body.code, code, "{}", body.error);
    body
}

/// A WebSocket upgrade request for `app`'s `/ws` with extra headers.
fn ws_request(
    app: &TestApp,
    query: &str,
    headers: &[(&'static str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("{}{query}", app.ws_url())
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).expect("header"));
    }
    request
}

/// The HTTP status a refused WebSocket upgrade got.
async fn ws_refusal(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> StatusCode {
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("an answer in time")
    {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            StatusCode::from_u16(response.status().as_u16()).expect("status")
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

#[tokio::test]
async fn cross_site_bodies_are_refused_with_415() {
    let app = spawn_app_with(with_test_service(|_| {})).await;
    let echo = app.url("/api/v1/test/echo");
    let body = r#"{"name":"a","count":1}"#;
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ] {
        let mut request = app.http.post(&echo).body(body);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("POST");
        refused(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
    let response = app
        .http
        .post(&echo)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn foreign_origins_are_refused_on_writes_and_on_ws() {
    let app = spawn_app_with(with_test_service(|_| {})).await;
    let echo = app.url("/api/v1/test/echo");
    let post = |origin: String| {
        app.http
            .post(&echo)
            .header("origin", origin)
            .json(&json!({"name": "a", "count": 1}))
            .send()
    };
    let body = refused(
        post("http://evil.example".to_owned()).await.expect("POST"),
        StatusCode::FORBIDDEN,
        "forbidden_origin",
    )
    .await;
    assert!(body.error.contains("evil.example"), "{}", body.error);
    // The server's own origin and a configured one are fine.
    let own = post(format!("http://{}", app.addr)).await.expect("POST");
    assert_eq!(own.status(), StatusCode::OK);
    let listed = post("http://localhost:5173".to_owned())
        .await
        .expect("POST");
    assert_eq!(listed.status(), StatusCode::OK);
    // Reads are not cross-site writes.
    let read = app
        .http
        .get(app.url("/api/v1/health"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(read.status(), StatusCode::OK);

    let status = ws_refusal(ws_request(&app, "", &[("origin", "http://evil.example")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let own_origin = format!("http://{}", app.addr);
    let (socket, _) =
        tokio_tungstenite::connect_async(ws_request(&app, "", &[("origin", own_origin.as_str())]))
            .await
            .expect("the page's own origin connects");
    drop(socket);
    app.stop().await;
}

#[tokio::test]
async fn foreign_hosts_are_refused() {
    let app = spawn_app_with(with_test_service(|_| {})).await;
    let port = app.addr.port();
    for host in ["evil.example", "evil.example:80", "rebound.attacker.test"] {
        let response = app
            .http
            .get(app.url("/api/v1/health"))
            .header("host", host)
            .send()
            .await
            .expect("GET");
        refused(
            response,
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
        )
        .await;
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let response = app
            .http
            .get(app.url("/api/v1/health"))
            .header("host", host.as_str())
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
    app.stop().await;
}

#[tokio::test]
async fn writes_need_the_token_when_one_is_configured() {
    let app = spawn_app_with(with_test_service(with_token)).await;
    let echo = app.url("/api/v1/test/echo");
    let body = json!({"name": "a", "count": 1});
    let none = app.http.post(&echo).json(&body).send().await.expect("POST");
    assert_eq!(
        none.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    refused(none, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong = app
        .http
        .post(&echo)
        .bearer_auth("test-token-0123456789abcdeX")
        .json(&body)
        .send()
        .await
        .expect("POST");
    refused(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let right = app
        .http
        .post(&echo)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(right.status(), StatusCode::OK);
    // Reads stay open; the session route says what is asked.
    assert_eq!(app.get("/api/v1/health").await.status(), StatusCode::OK);
    let session: serde_json::Value = app
        .get("/api/v1/auth/session")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        session,
        json!({"auth_required": true, "authenticated": false})
    );
    let session: serde_json::Value = app
        .http
        .get(app.url("/api/v1/auth/session"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        session,
        json!({"auth_required": true, "authenticated": true})
    );
    app.stop().await;
}

#[tokio::test]
async fn ws_needs_the_token_in_a_header_a_subprotocol_or_the_query() {
    let app = spawn_app_with(with_test_service(with_token)).await;
    assert_eq!(
        ws_refusal(ws_request(&app, "", &[])).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ws_refusal(ws_request(
            &app,
            "?access_token=wrong-token-0123456789",
            &[]
        ))
        .await,
        StatusCode::UNAUTHORIZED
    );
    let protocols = format!("edalab.v1, edalab.token.{TOKEN}");
    let bearer = format!("Bearer {TOKEN}");
    let query = format!("?access_token={TOKEN}");
    for (query, headers) in [
        ("", vec![("sec-websocket-protocol", protocols.as_str())]),
        ("", vec![("authorization", bearer.as_str())]),
        (query.as_str(), vec![]),
    ] {
        let (mut socket, response) =
            tokio_tungstenite::connect_async(ws_request(&app, query, &headers))
                .await
                .expect("connects with the token");
        if !protocols.is_empty() && headers.iter().any(|(n, _)| *n == "sec-websocket-protocol") {
            // The server picks `edalab.v1`, never echoes the token.
            assert_eq!(
                response
                    .headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok()),
                Some("edalab.v1")
            );
        }
        socket
            .send(Message::text(
                json!({"action": "subscribe", "topics": ["alpha"]}).to_string(),
            ))
            .await
            .expect("send");
        let reply = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a reply in time")
            .expect("open")
            .expect("a frame");
        assert!(
            reply.to_text().expect("text").contains("subscribed"),
            "{reply:?}"
        );
    }
    app.stop().await;
}

/// A WebSocket client that subscribes to `topic` and then never reads again, with a tiny
/// receive buffer so the server's writes back up fast.
async fn stalled_client(app: &TestApp, topic: &str) -> Option<impl Sized> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(app.addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(app.ws_url(), stream)
        .await
        .ok()?;
    ws.send(Message::text(
        json!({"action": "subscribe", "topics": [topic]}).to_string(),
    ))
    .await
    .expect("send");
    let reply = tokio::time::timeout(WAIT, ws.next()).await.ok()??.ok()?;
    assert!(reply.to_text().unwrap_or("").contains("subscribed"));
    Some(ws)
}

#[tokio::test]
async fn stalled_ws_clients_do_not_lock_out_a_new_client() {
    const CLIENTS_MAX: usize = 4;
    let app = spawn_app_with(Setup {
        topics: vec![("firehose", 1)],
        config: Some(Box::new(|c: &mut Config| {
            c.ws.clients_max = CLIENTS_MAX;
            // Never kicked for dropping events: only the write timeout may free a slot.
            c.ws.client_dropped_messages_max = 0;
            c.security.ws_send_timeout_ms = 500;
        })),
        ..Setup::default()
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..CLIENTS_MAX {
        stalled.push(stalled_client(&app, "firehose").await.expect("a slot"));
    }
    assert_eq!(app.state.hub().client_count(), CLIENTS_MAX);
    // Full: a new client is refused while the stalled ones hold every slot.
    assert_eq!(
        ws_refusal(ws_request(&app, "", &[])).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let filler = "z".repeat(16 * 1024);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while app.state.hub().client_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stalled clients still hold {} slots",
            app.state.hub().client_count()
        );
        let records = (0..64)
            .map(|n| {
                Record::new(
                    None,
                    json!({"n": n, "filler": filler}).to_string().into_bytes(),
                )
            })
            .collect();
        app.bus.produce("firehose", records).await.expect("produce");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut fresh, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .expect("a new client gets a slot");
    fresh
        .send(Message::text(
            json!({"action": "subscribe", "topics": ["firehose"]}).to_string(),
        ))
        .await
        .expect("send");
    drop(stalled);
    app.stop().await;
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_ws_slots() {
    let app = spawn_app_with(Setup {
        topics: vec![("alpha", 1)],
        config: Some(Box::new(|c: &mut Config| {
            c.security.ws_clients_per_ip_max = 2
        })),
        ..Setup::default()
    })
    .await;
    let first = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .expect("1st");
    let second = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .expect("2nd");
    assert_eq!(
        ws_refusal(ws_request(&app, "", &[])).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    drop((first, second));
    app.stop().await;
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_read_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.security.header_read_timeout_ms = 300;
    let bus = edalab_bus::log::EmbeddedBus::open(
        dir.path().join("data"),
        edalab_bus::log::LogConfig::default(),
    )
    .expect("bus");
    let state = edalab_gateway::AppState::builder(&config, std::sync::Arc::new(bus.clone()))
        .build()
        .expect("state");
    let gateway = Gateway::start(&config, state).await.expect("start");
    let mut stream = tokio::net::TcpStream::connect(gateway.addr())
        .await
        .expect("connect");
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("write half a request");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection in time")
        .expect("read");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "the half request was served"
    );
    gateway.shutdown().await.expect("shutdown");
    bus.close().await.expect("close");
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_json_and_counted() {
    let app = spawn_app_with(with_test_service(|_| {})).await;
    let response = app.get("/api/v1/test/panic").await;
    let body = refused(response, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    assert!(
        !body.error.contains("a handler bug"),
        "the panic message leaked"
    );
    // The server is still up, and the panic is counted.
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("edalab_http_panics_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok());
    assert!(counted.is_some_and(|n| n >= 1.0), "{metrics}");
    app.stop().await;
}
