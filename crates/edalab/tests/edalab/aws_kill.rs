//! The in-process SQS worker killed mid-batch (`kill -9`) loses nothing and finishes nothing
//! twice: calculations are submitted to `edalab serve calculator --profile aws` while its
//! worker runs; the process is killed once some are done and others still pending; a new
//! process on the same queues finishes every accepted calculation (the messages the dead
//! one had received come back after their 60 s visibility timeout), each `COMPLETED` with
//! its own result in DynamoDB, and every id has a result on `calculatrice-output-queue`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edalab_aws::testing::MiniStack;
use edalab_bus::Queues;
use serde_json::json;

use crate::aws_profile::serve_on_aws;
use crate::support::{Process, edalab, json_of};

/// Calculations submitted at most (the posters stop at the kill).
const SUBMITTED_MAX: u64 = 400;

/// `id → (status, result)` of every calculation in DynamoDB.
async fn calculations(dynamodb: &aws_sdk_dynamodb::Client) -> BTreeMap<String, (String, String)> {
    let mut found = BTreeMap::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name("edalab-calculations")
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Scan");
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            if let (Some(id), Some(status)) = (text("id"), text("status")) {
                found.insert(id, (status, text("result").unwrap_or_default()));
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return found;
        }
    }
}

/// Posts `a + 1000` for a = 0, 1, … from 8 tasks until the server stops answering; the
/// accepted ids with their `a`.
fn post_until_gone(url: String) -> (Arc<Mutex<BTreeMap<String, u64>>>, tokio::task::JoinSet<()>) {
    let accepted = Arc::new(Mutex::new(BTreeMap::new()));
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut posters = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (url, accepted, next) = (url.clone(), accepted.clone(), next.clone());
        posters.spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let a = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if a >= SUBMITTED_MAX {
                    return;
                }
                let body = json!({"operation": "add", "a": a, "b": 1000});
                let Ok(response) = http.post(&url).json(&body).send().await else {
                    return;
                };
                let (status, body) = json_of(response).await;
                if status != reqwest::StatusCode::ACCEPTED {
                    return;
                }
                let id = body["id"].as_str().expect("id").to_owned();
                accepted.lock().expect("lock").insert(id, a);
            }
        });
    }
    (accepted, posters)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_worker_killed_mid_batch_loses_nothing() {
    let Some(ministack) = MiniStack::start_or_skip("aws profile: kill -9 mid-batch") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoint = ministack.endpoint_url();
    let dynamodb = aws_sdk_dynamodb::Client::new(&ministack.sdk_config());
    let first = Process::start(serve_on_aws(dir.path(), &["calculator"], &endpoint));
    let (accepted, mut posters) = post_until_gone(first.url("/api/v1/calculator"));

    // Kill once 50 are done, while the rest are queued or in the worker's hands.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = calculations(&dynamodb)
            .await
            .values()
            .filter(|(status, _)| status == "COMPLETED")
            .count();
        if done >= 50 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    while posters.join_next().await.is_some() {}
    let accepted = accepted.lock().expect("lock").clone();
    let at_kill = calculations(&dynamodb).await;
    let pending = accepted
        .keys()
        .filter(|id| at_kill.get(*id).is_some_and(|(s, _)| s == "PENDING"))
        .count();
    assert!(
        accepted.len() >= 50 && pending > 0,
        "the kill must come mid-way: {} accepted, {pending} pending",
        accepted.len()
    );

    eprintln!(
        "killed with {} accepted, {pending} of them pending",
        accepted.len()
    );
    let second = Process::start(serve_on_aws(dir.path(), &["calculator"], &endpoint));
    let deadline = Instant::now() + Duration::from_secs(150);
    let finished = loop {
        let now = calculations(&dynamodb).await;
        let all_done = accepted
            .keys()
            .all(|id| now.get(id).is_some_and(|(s, _)| s == "COMPLETED"));
        if all_done || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for (id, a) in &accepted {
        let (status, result) = finished.get(id).cloned().unwrap_or_default();
        assert_eq!(
            status, "COMPLETED",
            "{id} (a = {a}), {pending} pending at the kill"
        );
        assert_eq!(result, (a + 1000).to_string(), "{id}'s own result");
    }
    let results = output_ids(&ministack, &accepted.keys().collect()).await;
    let missing: Vec<&String> = accepted
        .keys()
        .filter(|id| !results.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "ids without a result on the output queue: {missing:?}"
    );
    second.stop();
}

/// The calculation ids of the results on `calculatrice-output-queue`, read (and deleted)
/// until every id of `want` was seen or 60 s passed. Results of posts whose answer the kill
/// cut off are there too, and redelivered inputs are computed again (at least once).
async fn output_ids(ministack: &MiniStack, want: &BTreeSet<&String>) -> BTreeSet<String> {
    let sqs = ministack.sqs();
    let url = sqs
        .get_queue_url()
        .queue_name("calculatrice-output-queue")
        .send()
        .await
        .expect("the output queue")
        .queue_url
        .expect("url");
    let mut ids = BTreeSet::new();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !want.iter().all(|id| ids.contains(*id)) && Instant::now() < deadline {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for message in received.messages() {
            read += 1;
            if let Some(id) = message
                .message_attributes()
                .and_then(|a| a.get("calculation_id"))
                .and_then(|v| v.string_value())
            {
                ids.insert(id.to_owned());
            } else {
                eprintln!("a result without calculation_id: {message:?}");
            }
            if let Some(handle) = message.receipt_handle() {
                let _ = sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
    }
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await;
    eprintln!(
        "read {read} results, {} ids; the queue now: {attributes:?}",
        ids.len()
    );
    ids
}

/// Dead letters redriven by `edalab dlq redrive` (no `StartMessageMoveTask` on the
/// emulator: receive → send → delete) put in the DLQ at once.
const REDRIVEN: usize = 30;

/// Takes every message of the queue at `url` (received, then deleted, until none is left):
/// body and origin id of each copy.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    loop {
        let page = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .expect("ReceiveMessage");
        if page.messages().is_empty() {
            return found;
        }
        for message in page.messages() {
            let origin = message
                .message_attributes()
                .and_then(|a| a.get("edalab-origin-message-id"))
                .and_then(|v| v.string_value())
                .map(str::to_owned);
            found.push((message.body().unwrap_or_default().to_owned(), origin));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
}

/// A redrive killed (`kill -9`) mid-way loses nothing: what it had received comes back to
/// the DLQ after its visibility timeout, a re-run moves the rest, and each dead letter is
/// on its source queue — twice at most for the one a kill caught between send and delete,
/// both copies with the same origin id (a redelivery to the handlers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_killed_midway_loses_nothing() {
    let Some(ministack) = MiniStack::start_or_skip("aws profile: redrive killed") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoint = ministack.endpoint_url();
    let queues = edalab_aws::SqsQueues::new(ministack.sqs());
    queues
        .ensure(&edalab_bus::QueueSpec::seeded(
            "transactions",
            "transactions-dlq",
        ))
        .await
        .expect("ensure");
    let sqs = ministack.sqs();
    let dlq_url = queues.url("transactions-dlq").await.expect("url");
    let mut origins = BTreeMap::new();
    for i in 0..REDRIVEN {
        let sent = sqs
            .send_message()
            .queue_url(&dlq_url)
            .message_body(format!("dead-{i}"))
            .send()
            .await
            .expect("SendMessage");
        origins.insert(
            format!("dead-{i}"),
            sent.message_id().expect("id").to_owned(),
        );
    }

    // At 5 a second, killed after ~2 s: some moved, a batch of ten received and hidden.
    let mut first = edalab(dir.path())
        .args(["--data-dir", "data", "dlq", "redrive", "transactions-dlq"])
        .args([
            "--rate",
            "5",
            "--profile",
            "aws",
            "--aws-endpoint",
            &endpoint,
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .spawn()
        .expect("edalab dlq redrive");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let source_url = queues.url("transactions").await.expect("url");
    let moved_before = drain(&sqs, &source_url).await;
    assert!(
        !moved_before.is_empty() && moved_before.len() < REDRIVEN,
        "the kill must come mid-way: {} moved",
        moved_before.len()
    );

    // Re-runs until the DLQ is empty (what the dead run held comes back after 60 s).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut moved = moved_before;
    loop {
        let rerun = crate::aws_profile::dlq_command(
            dir.path(),
            &endpoint,
            &["redrive", "transactions-dlq", "--rate", "100"],
        );
        assert!(rerun.status.success(), "{rerun:?}");
        moved.extend(drain(&sqs, &source_url).await);
        let left = queues
            .dead_letter_depth("transactions-dlq")
            .await
            .expect("depth");
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} still in the DLQ");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let mut copies: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for (body, origin) in moved {
        copies.entry(body).or_default().push(origin);
    }
    assert_eq!(
        copies.keys().collect::<BTreeSet<_>>(),
        origins.keys().collect::<BTreeSet<_>>(),
        "every dead letter is back on its queue"
    );
    let extra: usize = copies.values().map(|c| c.len() - 1).sum();
    assert!(extra <= 1, "one kill, one duplicate at most: {copies:?}");
    for (body, seen) in &copies {
        for origin in seen {
            assert_eq!(origin.as_ref(), Some(&origins[body]), "{body}: {seen:?}");
        }
    }
}
