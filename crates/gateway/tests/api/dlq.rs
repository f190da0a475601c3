//! DLQ REST (X-04) through the real router over the embedded log: list with reasons,
//! bounded `limit`, redrive back to the origin topic, depth 0 afterwards, errors as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use edalab_bus::port::{ConsumerConfig, Message, Record, StartFrom, headers};
use edalab_bus::runtime::dlq::{Failure, dead_letter_record};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Setup, TestApp, WAIT, spawn_app_with};

/// The origin topic and its DLQ (names unique to this file: the metrics recorder is
/// shared by every test of the binary).
const ORIGIN: &str = "restapi.orders";
const DLQ: &str = "restapi.dlq";
const PLAIN: &str = "restapi.plain";

async fn app() -> TestApp {
    spawn_app_with(Setup {
        topics: vec![(ORIGIN, 3), (DLQ, 2), (PLAIN, 1)],
        ..Setup::default()
    })
    .await
}

/// `count` dead letters of `ORIGIN` (keys `order-0..`, JSON values) plus one message that is
/// not a dead letter.
async fn fill(app: &TestApp, count: u64) {
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let message = Message {
                topic: Arc::from(ORIGIN),
                partition: 1,
                offset: 10 + i,
                key: Some(format!("order-{i}").into_bytes()),
                value: json!({ "orderId": format!("order-{i}"), "amount": "12.50" })
                    .to_string()
                    .into_bytes(),
                headers: vec![
                    (
                        headers::EVENT_ID.to_owned(),
                        format!("evt-{i}").into_bytes(),
                    ),
                    (headers::ATTEMPT.to_owned(), b"5".to_vec()),
                ],
                timestamp_ms: 1_000,
            };
            let failure = Failure {
                error: format!("credit check: bureau down ({i})"),
                attempts: 5,
                first_failure_ms: 2_000,
                last_failure_ms: 3_000 + i as i64,
            };
            dead_letter_record(&message, "payment-service", &failure)
        })
        .collect();
    app.bus.produce(DLQ, records).await.expect("produce");
    app.bus
        .produce(DLQ, vec![Record::new(None, b"not a dead letter".to_vec())])
        .await
        .expect("produce");
}

async fn json_of(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.expect("JSON body")
}

async fn post(app: &TestApp, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app.http.post(app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("POST")
}

/// Everything on `topic`, read in a fresh group.
async fn read_all(app: &TestApp, topic: &str, expected: usize) -> Vec<Message> {
    let mut config = ConsumerConfig::new("restapi-reader", vec![topic.to_owned()]);
    config.start_from = StartFrom::Earliest;
    let mut consumer = app.bus.consumer(config).await.expect("consumer");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while out.len() < expected && tokio::time::Instant::now() < deadline {
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

#[tokio::test]
async fn lists_dead_letters_with_reasons_and_bounds_the_limit() {
    let app = app().await;
    fill(&app, 3).await;

    let all = json_of(app.get("/api/v1/dlq").await, StatusCode::OK).await;
    let dlqs = all["dlqs"].as_array().expect("dlqs");
    let ours = dlqs
        .iter()
        .find(|d| d["topic"] == DLQ)
        .expect("our DLQ listed");
    assert_eq!(ours["depth"], 4);
    assert_eq!(ours["partitions"], 2);
    assert!(
        dlqs.iter()
            .all(|d| d["topic"] != ORIGIN && d["topic"] != PLAIN),
        "only DLQs: {all}"
    );

    let body = json_of(
        app.get(&format!("/api/v1/dlq/{DLQ}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["topic"], DLQ);
    assert_eq!(body["depth"], 4);
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3, "{body}");
    let invalid = body["invalid"].as_array().expect("invalid");
    assert_eq!(invalid.len(), 1, "{body}");
    assert!(
        invalid[0]["reason"].as_str().unwrap().contains("dlq.error"),
        "{body}"
    );
    let mut by_key: BTreeMap<String, &Value> = BTreeMap::new();
    for m in messages {
        by_key.insert(m["key"].as_str().expect("key").to_owned(), m);
    }
    let first = by_key["order-0"];
    assert_eq!(first["error"], "credit check: bureau down (0)");
    assert_eq!(first["attempts"], 5);
    assert_eq!(first["origin_topic"], ORIGIN);
    assert_eq!(first["origin_partition"], 1);
    assert_eq!(first["origin_offset"], 10);
    assert_eq!(first["group"], "payment-service");
    assert_eq!(first["first_failure_ms"], 2_000);
    assert_eq!(first["last_failure_ms"], 3_000);
    assert_eq!(first["value"]["orderId"], "order-0");
    assert!(first["partition"].as_u64().unwrap() < 2);
    assert!(first["offset"].is_u64());

    let one = json_of(
        app.get(&format!("/api/v1/dlq/{DLQ}/messages?limit=1"))
            .await,
        StatusCode::OK,
    )
    .await;
    let listed =
        one["messages"].as_array().unwrap().len() + one["invalid"].as_array().unwrap().len();
    assert_eq!(listed, 1, "{one}");
    assert_eq!(one["depth"], 4, "depth counts everything pending");

    for bad in ["0", "1001", "2147483648", "ten", "-3"] {
        let body = json_of(
            app.get(&format!("/api/v1/dlq/{DLQ}/messages?limit={bad}"))
                .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(body["code"], "validation_failed", "{bad}: {body}");
        assert_eq!(body["details"][0]["field"], "limit", "{bad}: {body}");
        assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_topics_are_404_and_non_dlqs_400() {
    let app = app().await;
    for path in [
        "/api/v1/dlq/nope.dlq/messages".to_owned(),
        format!("/api/v1/dlq/{PLAIN}/messages"),
    ] {
        let expected = if path.contains("nope") {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        let body = json_of(app.get(&path).await, expected).await;
        assert!(
            body["error"].is_string() && body["code"].is_string(),
            "{body}"
        );
        assert_eq!(body["details"][0]["field"], "topic", "{path}: {body}");
        let redrive = path.replace("/messages", "/redrive");
        let body = json_of(post(&app, &redrive, None).await, expected).await;
        assert_eq!(body["details"][0]["field"], "topic", "{redrive}: {body}");
    }
    let body = json_of(
        app.get("/api/v1/dlq/nope.dlq/messages").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(body["code"], "not_found");
    assert!(
        body["error"].as_str().unwrap().contains("nope.dlq"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn redrive_moves_dead_letters_back_and_empties_the_dlq() {
    let app = app().await;
    fill(&app, 3).await;

    for (body, field) in [
        (json!({ "rate_per_second": 0 }), "rate_per_second"),
        (json!({ "rate_per_second": 100_000 }), "rate_per_second"),
        (json!({ "rate": 5 }), "body"),
    ] {
        let error = json_of(
            post(
                &app,
                &format!("/api/v1/dlq/{DLQ}/redrive"),
                Some(body.clone()),
            )
            .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(error["details"][0]["field"], field, "{body}: {error}");
    }
    // Nothing was moved by the refused requests.
    let before = json_of(
        app.get(&format!("/api/v1/dlq/{DLQ}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(before["depth"], 4);

    let report = json_of(
        post(
            &app,
            &format!("/api/v1/dlq/{DLQ}/redrive"),
            Some(json!({ "rate_per_second": 1000 })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        report,
        json!({ "scanned": 4, "redriven": 3, "skipped": 0, "invalid": 1 })
    );

    // Back on the origin topic, `dlq.*` headers gone, attempts reset, event ids kept.
    let back = read_all(&app, ORIGIN, 3).await;
    assert_eq!(back.len(), 3);
    for message in &back {
        assert!(
            message.headers.iter().all(|(n, _)| !n.starts_with("dlq.")),
            "{message:?}"
        );
        assert!(message.header(headers::ATTEMPT).is_none());
        assert!(message.header(headers::EVENT_ID).is_some());
    }

    // The DLQ is empty for the API, the listing and the gauge.
    let after = json_of(
        app.get(&format!("/api/v1/dlq/{DLQ}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["depth"], 0, "{after}");
    assert!(after["messages"].as_array().unwrap().is_empty(), "{after}");
    let all = json_of(app.get("/api/v1/dlq").await, StatusCode::OK).await;
    let ours = all["dlqs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["topic"] == DLQ)
        .cloned()
        .expect("listed");
    assert_eq!(ours["depth"], 0);
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics.contains(&format!(r#"edalab_dlq_depth{{topic="{DLQ}"}} 0"#)),
        "{metrics}"
    );

    // A second redrive sends nothing again (no body is fine); a new dead letter is
    // pending alone.
    let again = json_of(
        post(&app, &format!("/api/v1/dlq/{DLQ}/redrive"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["redriven"], 0);
    let record = {
        let message = Message {
            topic: Arc::from(ORIGIN),
            partition: 0,
            offset: 99,
            key: Some(b"late".to_vec()),
            value: b"{}".to_vec(),
            headers: vec![],
            timestamp_ms: 1,
        };
        let failure = Failure {
            error: "late failure".to_owned(),
            attempts: 1,
            first_failure_ms: 5,
            last_failure_ms: 5,
        };
        dead_letter_record(&message, "payment-service", &failure)
    };
    app.bus.produce(DLQ, vec![record]).await.expect("produce");
    let pending = json_of(
        app.get(&format!("/api/v1/dlq/{DLQ}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(pending["depth"], 1, "{pending}");
    let messages = pending["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{pending}");
    assert_eq!(messages[0]["error"], "late failure");
    app.stop().await;
}
