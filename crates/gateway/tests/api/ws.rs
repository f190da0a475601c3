//! `/ws`: subscriptions, many clients, slow clients, bad requests.

use std::time::Duration;

use edalab_bus::port::Record;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{Setup, TestApp, WAIT, spawn_app, spawn_app_with};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Socket {
    let (socket, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(app.ws_url()))
        .await
        .expect("connect in time")
        .expect("connect");
    socket
}

async fn send(socket: &mut Socket, request: Value) {
    socket
        .send(Message::text(request.to_string()))
        .await
        .expect("send");
}

/// The next JSON text message.
async fn next(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn subscribe(socket: &mut Socket, topics: &[&str]) -> Value {
    send(socket, json!({"action": "subscribe", "topics": topics})).await;
    let reply = next(socket).await;
    assert_eq!(reply["type"], "status", "{reply}");
    assert_eq!(reply["payload"]["status"], "subscribed", "{reply}");
    reply
}

/// Events until one whose payload is `{"end": true}`, which is not returned.
async fn events_until_end(socket: &mut Socket) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let message = next(socket).await;
        if message["type"] == "event" && message["payload"]["end"] == true {
            return events;
        }
        events.push(message);
    }
}

async fn produce(app: &TestApp, topic: &str, values: &[Value]) {
    let records = values
        .iter()
        .map(|v| Record::new(Some(b"k".to_vec()), v.to_string().into_bytes()))
        .collect();
    app.bus.produce(topic, records).await.expect("produce");
}

#[tokio::test]
async fn two_clients_get_what_they_subscribed_to_and_nothing_else() {
    let app = spawn_app().await;
    let mut alpha = connect(&app).await;
    let mut beta = connect(&app).await;
    let reply = subscribe(&mut alpha, &["alpha"]).await;
    assert_eq!(reply["payload"]["topics"], json!(["alpha"]));
    subscribe(&mut beta, &["beta"]).await;

    produce(
        &app,
        "alpha",
        &[json!({"n": 1}), json!({"n": 2}), json!({"n": 3})],
    )
    .await;
    produce(&app, "beta", &[json!({"n": 10}), json!({"n": 20})]).await;
    produce(&app, "alpha", &[json!({"end": true})]).await;
    produce(&app, "beta", &[json!({"end": true})]).await;

    let got_alpha = events_until_end(&mut alpha).await;
    let got_beta = events_until_end(&mut beta).await;
    let numbers = |events: &[Value], topic: &str| -> Vec<i64> {
        events
            .iter()
            .map(|e| {
                assert_eq!(e["type"], "event", "{e}");
                assert_eq!(e["topic"], topic, "{e}");
                assert!(
                    e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
                    "{e}"
                );
                e["payload"]["n"].as_i64().expect("n")
            })
            .collect()
    };
    assert_eq!(numbers(&got_alpha, "alpha"), vec![1, 2, 3]);
    assert_eq!(numbers(&got_beta, "beta"), vec![10, 20]);
    app.stop().await;
}

#[tokio::test]
async fn star_subscribes_to_everything_and_unsubscribe_stops_events() {
    let app = spawn_app().await;
    let mut all = connect(&app).await;
    let reply = subscribe(&mut all, &["*"]).await;
    assert_eq!(reply["payload"]["topics"], json!(["alpha", "beta"]));

    produce(&app, "alpha", &[json!({"n": 1})]).await;
    produce(&app, "beta", &[json!({"n": 2})]).await;
    let mut topics = vec![
        next(&mut all).await["topic"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        next(&mut all).await["topic"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    ];
    topics.sort();
    assert_eq!(topics, ["alpha", "beta"]);

    // A topic created later is picked up for "*" clients.
    app.topic("gamma", 1).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !app
        .state
        .hub()
        .tailed_topics()
        .await
        .contains(&"gamma".to_owned())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new topic not tailed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    produce(&app, "gamma", &[json!({"n": 3})]).await;
    assert_eq!(next(&mut all).await["topic"], "gamma");

    send(&mut all, json!({"action": "unsubscribe", "topics": ["*"]})).await;
    let reply = next(&mut all).await;
    assert_eq!(reply["payload"]["status"], "unsubscribed", "{reply}");
    subscribe(&mut all, &["beta"]).await;
    produce(&app, "alpha", &[json!({"n": 3})]).await;
    produce(&app, "beta", &[json!({"end": true})]).await;
    assert!(
        events_until_end(&mut all).await.is_empty(),
        "no alpha event after unsubscribe"
    );
    app.stop().await;
}

#[tokio::test]
async fn payloads_are_rendered_as_json_text_or_base64() {
    let app = spawn_app().await;
    let mut socket = connect(&app).await;
    subscribe(&mut socket, &["alpha"]).await;
    app.bus
        .produce(
            "alpha",
            vec![
                Record::new(None, b"plain text".to_vec()),
                Record::new(None, vec![0xff, 0xfe, 0x01]),
                Record::new(Some(b"key-1".to_vec()), b"{\"end\": false}".to_vec()),
            ],
        )
        .await
        .expect("produce");
    let mut payloads = Vec::new();
    for _ in 0..3 {
        payloads.push(next(&mut socket).await);
    }
    // One partition per key/round robin: sort by what they are, not by arrival.
    let texts: Vec<&Value> = payloads.iter().map(|p| &p["payload"]).collect();
    assert!(texts.contains(&&json!("plain text")), "{payloads:?}");
    assert!(texts.contains(&&json!({"base64": "//4B"})), "{payloads:?}");
    let keyed = payloads
        .iter()
        .find(|p| p["payload"] == json!({"end": false}))
        .expect("JSON payload");
    assert_eq!(keyed["key"], "key-1");
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_get_error_messages_naming_the_problem() {
    let app = spawn_app().await;
    let mut socket = connect(&app).await;
    let cases = [
        ("not json", "invalid_message", "expected"),
        (
            r#"{"action": "dance", "topics": ["alpha"]}"#,
            "invalid_message",
            "dance",
        ),
        (r#"{"action": "subscribe"}"#, "invalid_message", "topics"),
        (
            r#"{"action": "subscribe", "topics": ["nope"]}"#,
            "unknown_topic",
            "nope",
        ),
        (
            r#"{"action": "subscribe", "topics": []}"#,
            "no_topics",
            "no topics",
        ),
    ];
    for (request, code, mentions) in cases {
        socket.send(Message::text(request)).await.expect("send");
        let reply = next(&mut socket).await;
        assert_eq!(reply["type"], "error", "{request}: {reply}");
        assert_eq!(reply["payload"]["code"], code, "{request}: {reply}");
        let error = reply["payload"]["error"].as_str().unwrap_or("");
        assert!(error.contains(mentions), "{request}: {error}");
    }
    // Still usable afterwards.
    subscribe(&mut socket, &["alpha"]).await;
    app.stop().await;
}

#[tokio::test]
async fn a_slow_client_does_not_stall_a_fast_one() {
    const EVENTS: usize = 3_000;
    const CHUNK: usize = 20;
    let app = spawn_app_with(Setup {
        topics: vec![("firehose", 1)],
        config: Some(Box::new(|c| {
            c.ws.client_buffer_messages_max = 64;
            c.ws.poll_records_max = CHUNK;
            c.ws.client_dropped_messages_max = 0; // never disconnect: we want the notice
        })),
        ..Setup::default()
    })
    .await;
    let mut fast = connect(&app).await;
    let mut slow = connect(&app).await;
    subscribe(&mut fast, &["firehose"]).await;
    subscribe(&mut slow, &["firehose"]).await;

    // ~8 KiB per event, ~24 MiB in all: far more than the slow client's socket buffers and
    // queue hold while it reads nothing. The fast client reads each chunk before the next
    // is produced (so its own queue never overflows, however loaded the machine is): if
    // the slow client could stall the tail, the fast one would stop receiving.
    let filler = "x".repeat(8 * 1024);
    let started = tokio::time::Instant::now();
    let mut received = Vec::with_capacity(EVENTS);
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(CHUNK) {
        let records = chunk
            .iter()
            .map(|n| {
                Record::new(
                    None,
                    json!({"n": n, "filler": filler}).to_string().into_bytes(),
                )
            })
            .collect();
        app.bus.produce("firehose", records).await.expect("produce");
        for _ in chunk {
            let event = next(&mut fast).await;
            assert_eq!(
                event["type"], "event",
                "the fast client is never told it lags: {event}"
            );
            received.push(event["payload"]["n"].as_u64().expect("n"));
        }
    }
    assert_eq!(
        received,
        (0..EVENTS as u64).collect::<Vec<_>>(),
        "fast client: every event, in order"
    );
    eprintln!("fast client got {EVENTS} events in {:?}", started.elapsed());
    // The slow client now reads: what its socket and queue held, then a lagging notice
    // with the count dropped.
    let mut lagging = None;
    let mut events = 0usize;
    while lagging.is_none() {
        let message = next(&mut slow).await;
        if message["type"] == "status" && message["payload"]["status"] == "lagging" {
            lagging = Some(message);
        } else {
            events += 1;
        }
    }
    // Caught up, it gets new events again.
    app.bus
        .produce(
            "firehose",
            vec![Record::new(None, b"{\"end\": true}".to_vec())],
        )
        .await
        .expect("produce");
    events += events_until_end(&mut slow).await.len();
    let lagging = lagging.expect("the slow client is told it lags");
    let dropped = lagging["payload"]["dropped"]
        .as_u64()
        .expect("dropped count");
    assert!(dropped > 0, "{lagging}");
    assert!(
        lagging["payload"]["message"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("lagging, {dropped} dropped")),
        "{lagging}"
    );
    assert!(
        events < EVENTS,
        "the slow client lost events ({events} received)"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_never_catches_up_is_disconnected() {
    let app = spawn_app_with(Setup {
        topics: vec![("firehose", 1)],
        config: Some(Box::new(|c| {
            c.ws.client_buffer_messages_max = 4;
            c.ws.poll_records_max = 4;
            c.ws.client_dropped_messages_max = 50;
        })),
        ..Setup::default()
    })
    .await;
    let mut slow = connect(&app).await;
    subscribe(&mut slow, &["firehose"]).await;
    let filler = "y".repeat(8 * 1024);
    for chunk in 0..30 {
        let records = (0..100)
            .map(|n| {
                Record::new(
                    None,
                    json!({"n": chunk * 100 + n, "filler": filler})
                        .to_string()
                        .into_bytes(),
                )
            })
            .collect();
        app.bus.produce("firehose", records).await.expect("produce");
        tokio::task::yield_now().await;
    }
    // Reading now, the client eventually gets a close frame with the policy code.
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("disconnected in time");
    if let Some(frame) = closed {
        assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn many_clients_at_once() {
    const CLIENTS: usize = 50;
    let app = spawn_app().await;
    let mut sockets = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut socket = connect(&app).await;
        subscribe(&mut socket, &["alpha"]).await;
        sockets.push(socket);
    }
    assert_eq!(app.state.hub().client_count(), CLIENTS);
    produce(&app, "alpha", &[json!({"n": 1}), json!({"end": true})]).await;
    for socket in &mut sockets {
        let events = events_until_end(socket).await;
        assert_eq!(events.len(), 1);
    }
    drop(sockets);
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.state.hub().client_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clients not released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn avro_events_are_decoded_to_json() {
    use edalab_domain::events::banking::{BankingEvent, samples};
    use edalab_domain::events::topics;

    let app = spawn_app_with(Setup {
        topics: vec![(topics::DEPOSIT_MADE, 3)],
        ..Setup::default()
    })
    .await;
    let mut socket = connect(&app).await;
    subscribe(&mut socket, &[topics::DEPOSIT_MADE]).await;
    let catalog = edalab_schema::SchemaCatalog::builtin().expect("catalog");
    let deposit = samples::deposit_made();
    let bytes =
        edalab_schema::encode_banking(&catalog, &BankingEvent::DepositMade(deposit.clone()))
            .expect("encode");
    app.bus
        .produce(topics::DEPOSIT_MADE, vec![Record::new(None, bytes)])
        .await
        .expect("produce");
    let event = next(&mut socket).await;
    assert_eq!(event["topic"], topics::DEPOSIT_MADE);
    let payload = &event["payload"];
    assert_eq!(payload["event_id"], deposit.event_id.to_string(), "{event}");
    assert!(
        payload["montant"].is_string(),
        "money as a decimal string: {event}"
    );
    app.stop().await;
}
