//! The topic browser's routes against a real `edalab up` (issue 23, part 1): the topics list
//! counts what was produced; a topic's messages come back decoded from Avro through the
//! registry, newest first, with their trace id; filters by key, by text (a trace id) and a
//! start offset work; bad parameters are 400s naming them, an unknown topic a 404.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Process, edalab, json_of, produce_events};

const TOPIC: &str = "bancaire.compte.ouvert";

async fn get(http: &reqwest::Client, up: &Process, path: &str) -> (reqwest::StatusCode, Value) {
    json_of(http.get(up.url(path)).send().await.expect("GET")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_their_messages_are_browsed_decoded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"]);
    let up = Process::start(command);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let produced = produce_events(&http, &up, "CompteOuvert", 6).await;
    let ids: Vec<&str> = produced["event_ids"]
        .as_array()
        .expect("event_ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();

    let (status, topics) = get(&http, &up, "/api/v1/topics").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{topics}");
    let listed = topics["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .find(|t| t["name"] == TOPIC)
        .unwrap_or_else(|| panic!("{TOPIC} listed: {topics}"))
        .clone();
    assert_eq!(listed["partitions"], 3, "{listed}");
    assert_eq!(listed["messages"], 6, "{listed}");
    assert_eq!(
        listed["retention_ms"],
        Value::Null,
        "kept forever: {listed}"
    );
    assert!(
        topics["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["dlq"] == true)
    );

    let (status, page) = get(
        &http,
        &up,
        &format!("/api/v1/topics/{TOPIC}/messages?limit=4"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    let messages = page["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 4, "{page}");
    let stamps: Vec<i64> = messages
        .iter()
        .map(|m| m["timestamp"].as_i64().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {stamps:?}"
    );
    let first = &messages[0];
    assert!(
        first["value"]["compte_id"].is_string(),
        "decoded Avro: {first}"
    );
    assert!(first["value_schema_id"].is_u64(), "{first}");
    assert!(
        ids.contains(&first["headers"]["event_id"].as_str().unwrap_or_default()),
        "{first}"
    );
    let trace = first["trace_id"].as_str().expect("trace id").to_owned();
    let key = first["key"].as_str().expect("key").to_owned();

    let (_, by_key) = get(
        &http,
        &up,
        &format!("/api/v1/topics/{TOPIC}/messages?key={key}"),
    )
    .await;
    let keyed = by_key["messages"].as_array().expect("messages");
    assert!(
        !keyed.is_empty() && keyed.iter().all(|m| m["key"] == key.as_str()),
        "{by_key}"
    );
    let (_, by_trace) = get(
        &http,
        &up,
        &format!("/api/v1/topics/{TOPIC}/messages?q={trace}"),
    )
    .await;
    let traced = by_trace["messages"].as_array().expect("messages");
    assert!(
        !traced.is_empty() && traced.iter().all(|m| m["trace_id"] == trace.as_str()),
        "{by_trace}"
    );
    assert_eq!(by_trace["scanned"], 6, "{by_trace}");

    let partition = first["partition"].as_u64().unwrap();
    let (_, from) = get(
        &http,
        &up,
        &format!("/api/v1/topics/{TOPIC}/messages?partition={partition}&offset=0"),
    )
    .await;
    let offsets: Vec<u64> = from["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            assert_eq!(m["partition"], partition, "{m}");
            m["offset"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(offsets.first(), Some(&0), "{from}");
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {offsets:?}"
    );

    for (query, field) in [("limit=0", "limit"), ("offset=x", "offset")] {
        let (status, body) = get(
            &http,
            &up,
            &format!("/api/v1/topics/{TOPIC}/messages?{query}"),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["details"][0]["field"], field, "{query}: {body}");
    }
    let (status, body) = get(
        &http,
        &up,
        &format!("/api/v1/topics/{TOPIC}/messages?partition=3"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["details"][0]["field"], "partition", "{body}");
    let (status, body) = get(&http, &up, "/api/v1/topics/nope/messages").await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("`nope`"),
        "{body}"
    );
    up.stop();
}
