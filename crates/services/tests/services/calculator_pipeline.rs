//! S1 end to end through the real router and the embedded bus: each operation computes,
//! division by zero and overflow reach the DLQ with the reason, bad bodies are 400s
//! naming the field.

use crate::pipeline_support;

use pipeline_support::{call, post, settled};
use std::time::Duration;

use axum::http::StatusCode;
use edalab_bus::Record;
use edalab_bus::runtime::dlq;
use edalab_services::calculator::{self, CALCULATOR_DLQ};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_compute_and_bad_ones_reach_the_dlq_with_the_reason() {
    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    let (stop, env) = pipeline_support::sqlite_env(&bus, dir.path());
    let calc = calculator::start(&env).await.expect("start");
    let app = calculator::api::router(calc.state.clone());

    let cases = [
        (json!({"operation": "add", "a": 5, "b": 3}), json!(8)),
        (json!({"operation": "subtract", "a": 5, "b": 8}), json!(-3)),
        (
            json!({"operation": "multiply", "a": 1.5, "b": 4}),
            json!(6.0),
        ),
        (json!({"operation": "divide", "a": 7, "b": 2}), json!(3.5)),
    ];
    let mut ids = Vec::new();
    for (request, _) in &cases {
        let (status, body) = post(&app, "/api/v1/calculator", request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "PENDING");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    for ((request, expected), id) in cases.iter().zip(&ids) {
        let body = settled(&app, &format!("/api/v1/calculator/{id}")).await;
        assert_eq!(body["status"], "COMPLETED", "{body}");
        assert_eq!(body["result"], *expected, "{request} → {body}");
        assert_eq!(body["operation"], request["operation"]);
        assert_eq!(body["a"], request["a"]);
        assert_eq!(body["id"], id.as_str());
    }

    // Division by zero and overflow pass the API (valid operations) and fail in the worker.
    let mut failing = Vec::new();
    for (request, reason) in [
        (
            json!({"operation": "divide", "a": 1, "b": 0}),
            "division by zero",
        ),
        (
            json!({"operation": "multiply", "a": i64::MAX, "b": 2}),
            "overflow",
        ),
    ] {
        let (status, body) = post(&app, "/api/v1/calculator", &request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        failing.push((body["id"].as_str().expect("id").to_owned(), reason));
    }
    for (id, reason) in &failing {
        let body = settled(&app, &format!("/api/v1/calculator/{id}")).await;
        assert_eq!(body["status"], "FAILED", "{body}");
        let error = body["error"].as_str().expect("error");
        assert!(error.contains(reason), "{error}");
        assert!(body.get("result").is_none(), "{body}");
    }

    // A poison message queued by another producer (unknown operator) goes to the DLQ too.
    bus.produce(
        "calculatrice-input-queue",
        vec![Record::new(
            None,
            br#"{"operation": "modulo", "a": 5, "b": 3}"#.to_vec(),
        )],
    )
    .await
    .expect("produce");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let entries = loop {
        let entries = dlq::list(bus.as_ref(), CALCULATOR_DLQ, 100)
            .await
            .expect("list");
        if entries.len() >= 3 || tokio::time::Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reasons: Vec<String> = entries
        .into_iter()
        .map(|e| e.expect("entry").error)
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("DIVISION_BY_ZERO")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("modulo")), "{reasons:?}");

    // The results are on the output queue.
    let out = bus
        .describe_topic("calculatrice-output-queue")
        .await
        .expect("describe");
    assert_eq!(
        out.partitions.iter().map(|p| p.high_watermark).sum::<u64>(),
        4
    );

    stop.send(true).expect("stop");
    calc.handles.join().await.expect("clean shutdown");
    embedded.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_400s_naming_each_field() {
    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    let (stop, env) = pipeline_support::sqlite_env(&bus, dir.path());
    let calc = calculator::start(&env).await.expect("start");
    let app = calculator::api::router(calc.state.clone());

    let (status, body) = call(&app, "POST", "/api/v1/calculator", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "body", "{body}");
    let (status, body) = call(&app, "POST", "/api/v1/calculator", Some("{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_json");
    assert_eq!(body["details"][0]["field"], "body", "{body}");
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/calculator",
        Some(r#"{"operation": "modulo", "a": "cinq"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields = pipeline_support::fields(&body);
    assert_eq!(fields, ["operation", "a", "b"], "{body}");
    let (status, body) = call(&app, "GET", "/api/v1/calculator/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    stop.send(true).expect("stop");
    calc.handles.join().await.expect("clean shutdown");
    embedded.close().await.expect("close");
}

/// The four pipelines start together on one bus (twice: topic creation is idempotent and
/// agrees with itself), and their routers merge without a path conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_pipelines_start_together_and_their_routes_merge() {
    use crate::pipeline_support::all;
    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let pipelines = all::start_all(bus.clone(), dir.path(), shutdown.clone()).await;
    edalab_services::pipeline::ensure_topics(bus.as_ref(), &all::topics())
        .await
        .expect("topics again");
    let app = pipelines.router();
    let (status, _) = call(&app, "GET", "/api/v1/transactions/analytics", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "GET", "/api/v1/orders", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "GET", "/api/v1/intake/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "GET", "/api/v1/calculator/x", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    stop.send(true).expect("stop");
    pipelines.join().await.expect("clean shutdown");
    embedded.close().await.expect("close");
}
