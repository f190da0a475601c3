//! `GET /ws`: one WebSocket connection, between a socket and a [`hub::Client`].
//!
//! Two halves run in one task: the reader parses client frames (`subscribe` /
//! `unsubscribe`) and queues replies on a small control channel; the writer sends control
//! replies first, then events from the client's bounded queue, telling the client how many
//! events were dropped for it before the next one it gets. A slow socket only ever blocks
//! its own writer; the hub drops that client's overflow (see [`crate::hub`]), and a frame the
//! socket does not take within `security.ws_send_timeout_ms` ends the connection, so a client
//! that never reads cannot keep its slot.
//!
//! Who may connect (`Origin`, token) is checked before the upgrade by
//! [`crate::security::guard`]; a browser sends its token as the subprotocol
//! `edalab.token.<token>` beside [`crate::security::WS_PROTOCOL`], which the server selects.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::{ApiError, ErrorCode};
use crate::hub::{self, Client, Hub};
use crate::payload::{self, Action, ClientMessage};
use crate::router::AppState;

/// Replies (status, error) queued for one client; the reader waits when it is full, so
/// a client that floods requests without reading only slows itself.
const CONTROL_MESSAGES_MAX: usize = 32;

/// WebSocket stream of bus events (S3-12).
///
/// After the upgrade, send `{"action":"subscribe","topics":["bancaire.depot.effectue"]}`
/// (`"*"` for every topic, including topics created later) or `{"action":"unsubscribe","topics":[...]}`. The server sends
/// `{type, topic, payload, timestamp}` messages: `event` (payload decoded to JSON),
/// `status` (subscriptions, "lagging, N dropped") and `error` (`{code, error}`).
#[utoipa::path(
    get,
    path = "/ws",
    tag = "events",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; messages are `ServerMessage`s, requests `ClientMessage`s"),
        (status = 400, description = "Not a WebSocket upgrade request", body = crate::error::ErrorBody),
        (status = 401, description = "Tokens are configured and none accepted was sent (header, subprotocol `edalab.token.<token>` or `?access_token=`)", body = crate::error::ErrorBody),
        (status = 403, description = "A browser origin that is not allowed", body = crate::error::ErrorBody),
        (status = 429, description = "Too many connections from this IP address", body = crate::error::ErrorBody),
        (status = 503, description = "Too many clients, or shutting down", body = crate::error::ErrorBody),
    )
)]
pub async fn ws_handler(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let hub = state.hub().clone();
    let ip = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let client = match hub.connect(ip) {
        Ok(client) => client,
        Err(error @ hub::HubError::TooManyFromAddress { .. }) => {
            return ApiError::new(ErrorCode::TooManyRequests, error.to_string()).into_response();
        }
        Err(error) => return ApiError::unavailable(error.to_string()).into_response(),
    };
    let frame_bytes_max = hub.config().client_message_bytes_max;
    upgrade
        .protocols([crate::security::WS_PROTOCOL])
        .max_message_size(frame_bytes_max)
        .max_frame_size(frame_bytes_max)
        .on_upgrade(move |socket| run_connection(hub, client, socket))
}

async fn run_connection(hub: Hub, mut client: Client, socket: WebSocket) {
    let id = client.slot.id();
    tracing::debug!(client = id, "WebSocket client connected");
    let (mut sink, mut stream) = socket.split();
    let (control_tx, mut control_rx) = mpsc::channel::<Utf8Bytes>(CONTROL_MESSAGES_MAX);
    let slot = std::sync::Arc::clone(&client.slot);
    let events = &mut client.events;

    let reader = async {
        while let Some(frame) = stream.next().await {
            let reply = match frame {
                Ok(Message::Text(text)) => handle_request(&hub, &slot, text.as_str()).await,
                Ok(Message::Binary(_)) => payload::error_text(
                    "invalid_message",
                    "binary frames are not understood; send JSON text",
                ),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            };
            if control_tx.send(Utf8Bytes::from(reply)).await.is_err() {
                break;
            }
        }
    };

    let send_timeout = hub.limits().send_timeout;
    let writer = async {
        let close = |code, reason: &'static str| {
            Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            }))
        };
        loop {
            let outgoing = tokio::select! {
                biased;
                () = hub.closed() => {
                    let _ = send_within(&mut sink, close(close_code::AWAY, "server shutting down"), send_timeout).await;
                    break;
                }
                () = slot.kicked() => {
                    let _ = send_within(&mut sink, close(close_code::POLICY, "too slow: events were dropped"), send_timeout).await;
                    break;
                }
                Some(reply) = control_rx.recv() => reply,
                Some(event) = events.recv() => {
                    let dropped = slot.take_dropped_untold();
                    if dropped > 0 {
                        let notice = payload::status_text(json!({
                            "status": "lagging",
                            "dropped": dropped,
                            "dropped_total": slot.dropped_total(),
                            "message": format!("lagging, {dropped} dropped"),
                        }));
                        if send_within(&mut sink, Message::Text(Utf8Bytes::from(notice)), send_timeout).await.is_err() {
                            break;
                        }
                    }
                    event
                }
                else => break,
            };
            if send_within(&mut sink, Message::Text(outgoing), send_timeout)
                .await
                .is_err()
            {
                break;
            }
        }
    };

    tokio::select! {
        () = reader => {}
        () = writer => {}
    }
    tracing::debug!(
        client = id,
        dropped = slot.dropped_total(),
        "WebSocket client gone"
    );
}

/// Sends one frame, giving up after `timeout`: a client that does not read has its
/// connection ended (and its slot freed) rather than blocking its writer for ever.
async fn send_within(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    message: Message,
    timeout: Duration,
) -> Result<(), ()> {
    match tokio::time::timeout(timeout, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(()),
        Err(_) => {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "disconnecting a WebSocket client that does not read"
            );
            crate::telemetry::metrics::ws_disconnected("send_timeout");
            Err(())
        }
    }
}

/// Handles one client request and returns the reply text.
async fn handle_request(hub: &Hub, client: &hub::ClientSlot, text: &str) -> String {
    let request: ClientMessage = match serde_json::from_str(text) {
        Ok(request) => request,
        Err(error) => {
            return payload::error_text(
                "invalid_message",
                &format!(
                    "{error}; expected {{\"action\": \"subscribe\"|\"unsubscribe\", \"topics\": [...]}}"
                ),
            );
        }
    };
    match request.action {
        Action::Subscribe => match hub.subscribe(client, &request.topics).await {
            Ok(topics) => payload::status_text(json!({ "status": "subscribed", "topics": topics })),
            Err(error) => payload::error_text(error.code(), &error.to_string()),
        },
        Action::Unsubscribe => {
            let topics = hub.unsubscribe(client, &request.topics);
            payload::status_text(json!({ "status": "unsubscribed", "topics": topics }))
        }
    }
}
