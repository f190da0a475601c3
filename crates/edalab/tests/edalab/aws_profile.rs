//! `--profile aws` (ADR 026) on ministack: the work queues of S0 and S1 on SQS, the topics
//! on the embedded log, the handlers in process.
//!
//! - S1: each operation computes through `calculatrice-input-queue` on SQS; a division by
//!   zero is received three times, moved to `calculatrice-input-queue-dlq` by SQS's redrive
//!   policy, and the calculation is `FAILED` with the reason in DynamoDB
//!   `edalab-calculations`; `edalab dlq list` shows it in the DLQ and leaves it there, `edalab
//!   dlq redrive` sends it back (it fails again and returns); no queue became a topic;
//! - S0: a valid transaction goes `PENDING` → `PROCESSED` through the `transactions` queue
//!   on SQS, its event on the `transactions-events` topic of the log; an invalid one is a
//!   400 naming each field;
//! - S2: the seed's three orders put under `s3://tp-orders/orders/` end in DynamoDB
//!   `tp-orders` as `PROCESSED`, `REJECTED` (and in `tp-orders-dlq`) and `DUPLICATE`
//!   (`tp-orders-duplicates`), counted once each in CloudWatch, read back through
//!   `GetMetricStatistics`;
//! - an unreachable endpoint, missing credentials, or a queue made earlier with other settings
//!   stop the start with an error naming the endpoint, how to give credentials, or the queue
//!   and the setting (and then nothing was created).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use edalab_aws::testing::MiniStack;
use serde_json::{Value, json};

use crate::support::{Process, edalab, json_of, text_at};

/// `edalab serve <services> --profile aws` against `endpoint`, with an emulator's
/// credentials in the environment (the AWS chain reads them there).
pub(crate) fn serve_on_aws(dir: &Path, services: &[&str], endpoint: &str) -> Command {
    let mut command = edalab(dir);
    command
        .args(["--data-dir", "data", "serve"])
        .args(services)
        .args(["--listen", "127.0.0.1:0", "--profile", "aws"])
        .args(["--aws-endpoint", endpoint])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    command
}

/// `edalab dlq <args> --profile aws` against `endpoint`.
pub(crate) fn dlq_command(dir: &Path, endpoint: &str, args: &[&str]) -> std::process::Output {
    edalab(dir)
        .args(["--data-dir", "data", "dlq"])
        .args(args)
        .args(["--profile", "aws", "--aws-endpoint", endpoint])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("edalab dlq")
}

/// `edalab dlq list <dlq> --format json` until it lists something (60 s): the messages.
async fn dlq_until_listed(dir: &Path, endpoint: &str, dlq: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = dlq_command(dir, endpoint, &["list", dlq, "--format", "json"]);
        assert!(output.status.success(), "{output:?}");
        let listed: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        if !listed.is_empty() || Instant::now() > deadline {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `command`, which must fail to start; its standard error.
fn failed_start(mut command: Command) -> String {
    let output = command
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run");
    assert!(!output.status.success(), "started: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Polls `GET url` until its `status` is `want` (60 s).
async fn status_until(http: &reqwest::Client, url: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = json_of(http.get(url).send().await.expect("GET")).await;
        if body["status"] == want || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> (reqwest::StatusCode, Value) {
    json_of(http.post(url).json(body).send().await.expect("POST")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_computes_on_sqs_and_the_redrive_policy_dead_letters() {
    let Some(ministack) = MiniStack::start_or_skip("aws profile: S1") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoint = ministack.endpoint_url();
    let process = Process::start(serve_on_aws(dir.path(), &["calculator"], &endpoint));
    let banner: Vec<String> =
        std::iter::from_fn(|| process.lines.recv_timeout(Duration::from_secs(5)).ok())
            .take_while(|line| !line.contains("stop with Ctrl-C"))
            .collect();
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&format!("SQS at {endpoint}"))),
        "the banner names SQS: {banner:?}"
    );
    let http = reqwest::Client::new();
    let submit = process.url("/api/v1/calculator");

    let (status, body) = post(&http, &submit, &json!({"operation": "add", "a": 5, "b": 3})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let done = status_until(
        &http,
        &process.url(&format!("/api/v1/calculator/{id}")),
        "COMPLETED",
    )
    .await;
    assert_eq!(done["result"], json!(8), "{done}");

    let (status, body) = post(
        &http,
        &submit,
        &json!({"operation": "divide", "a": 1, "b": 0}),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let failed = status_until(
        &http,
        &process.url(&format!("/api/v1/calculator/{id}")),
        "FAILED",
    )
    .await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("DIVISION_BY_ZERO")),
        "{failed}"
    );

    // The calculation is DynamoDB's, read without edalab.
    let item = aws_sdk_dynamodb::Client::new(&ministack.sdk_config())
        .get_item()
        .table_name("edalab-calculations")
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id.clone()))
        .send()
        .await
        .expect("GetItem");
    let status = item
        .item()
        .and_then(|i| i.get("status"))
        .and_then(|s| s.as_s().ok());
    assert_eq!(status.map(String::as_str), Some("FAILED"), "{item:?}");

    // SQS moved it after its third receive: `edalab dlq list` shows it there, and leaves it.
    let dlq = "calculatrice-input-queue-dlq";
    let listed = dlq_until_listed(dir.path(), &endpoint, dlq).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("divide")),
        "{listed:?}"
    );
    assert_eq!(
        listed[0]["source_queue"], "calculatrice-input-queue",
        "{listed:?}"
    );
    assert!(
        listed[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("DIVISION_BY_ZERO")),
        "the worker recorded why: {listed:?}"
    );
    assert_eq!(
        dlq_until_listed(dir.path(), &endpoint, dlq).await.len(),
        1,
        "still there"
    );
    dlq_over_rest(&http, &process, dlq, &listed[0]).await;

    // Redriven: back on the input queue, rejected three times again, back in the DLQ; the
    // calculation stays FAILED (finished once).
    let redriven = dlq_command(dir.path(), &endpoint, &["redrive", dlq]);
    assert!(redriven.status.success(), "{redriven:?}");
    assert_eq!(
        String::from_utf8_lossy(&redriven.stdout).trim(),
        "redriven 1"
    );
    let again = dlq_until_listed(dir.path(), &endpoint, dlq).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        again[0]["origin_message_id"], listed[0]["origin_message_id"],
        "{again:?}"
    );
    // And over REST: moved back, failed again, listed again.
    let (status, report) = json_of(
        http.post(process.url(&format!("/api/v1/dlq/{dlq}/redrive")))
            .send()
            .await
            .expect("POST redrive"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{report}");
    assert_eq!(report["redriven"], 1, "{report}");
    let again = dlq_until_listed(dir.path(), &endpoint, dlq).await;
    assert_eq!(again.len(), 1, "{again:?}");
    let (_, after) = json_of(
        http.get(process.url(&format!("/api/v1/calculator/{id}")))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(after["status"], "FAILED", "{after}");

    // The queues are SQS's, not topics of the log.
    let topics = edalab(dir.path())
        .args(["--data-dir", "data", "topics", "list"])
        .output()
        .expect("topics list");
    let topics = String::from_utf8_lossy(&topics.stdout);
    assert!(!topics.contains("calculatrice"), "{topics}");
    process.stop();
}

/// The DLQ routes show SQS DLQ `dlq` (listed by the CLI as `listed`) with its reason, and
/// name bad input.
async fn dlq_over_rest(http: &reqwest::Client, process: &Process, dlq: &str, listed: &Value) {
    let (status, all) = json_of(
        http.get(process.url("/api/v1/dlq"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{all}");
    let ours = all["dlqs"]
        .as_array()
        .and_then(|d| d.iter().find(|q| q["topic"] == dlq))
        .unwrap_or_else(|| panic!("{dlq} listed: {all}"));
    assert_eq!(ours["backend"], "sqs", "{ours}");
    assert_eq!(ours["depth"], 1, "{ours}");
    // The same depth, and the queue's lag, on /metrics (the series the bus's DLQs have).
    let metrics = text_at(http, &process.url("/metrics")).await;
    assert!(
        metrics.contains(&format!("edalab_dlq_depth{{topic=\"{dlq}\"}} 1")),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("edalab_consumer_lag{")
                && l.contains(r#"group="calculator-workers""#)
                && l.contains(r#"topic="calculatrice-input-queue""#)),
        "{metrics}"
    );
    let url = process.url(&format!("/api/v1/dlq/{dlq}/messages"));
    let (status, page) = json_of(http.get(&url).send().await.expect("GET")).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    let message = &page["messages"][0];
    assert_eq!(message["message_id"], listed["message_id"], "{page}");
    assert_eq!(
        message["origin_topic"], "calculatrice-input-queue",
        "{page}"
    );
    assert_eq!(message["attempts"], 3, "{page}");
    assert!(
        message["error"]
            .as_str()
            .is_some_and(|e| e.contains("DIVISION_BY_ZERO")),
        "{page}"
    );
    assert_eq!(message["value"]["operation"], "divide", "{page}");
    let (status, refused) = json_of(
        http.get(format!("{url}?limit=0"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["details"][0]["field"], "limit", "{refused}");
    let unknown = process.url("/api/v1/dlq/no-such-dlq/messages");
    let (status, refused) = json_of(http.get(unknown).send().await.expect("GET")).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{refused}");
}

/// The objects under `archive/transactions/` of bucket `edalab-archive` whose key names
/// `id`, with their bodies, once there is one (30 s).
async fn archived_until(s3: &aws_sdk_s3::Client, id: &str) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = s3
            .list_objects_v2()
            .bucket("edalab-archive")
            .prefix("archive/transactions/")
            .send()
            .await;
        let keys: Vec<String> = listed
            .iter()
            .flat_map(|page| page.contents())
            .filter_map(|object| object.key())
            .filter(|key| key.contains(id))
            .map(str::to_owned)
            .collect();
        if !keys.is_empty() || Instant::now() > deadline {
            let mut found = Vec::new();
            for key in keys {
                let object = s3
                    .get_object()
                    .bucket("edalab-archive")
                    .key(&key)
                    .send()
                    .await
                    .expect("GetObject");
                let body = object.body.collect().await.expect("body").into_bytes();
                found.push((key, String::from_utf8_lossy(&body).into_owned()));
            }
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s0_processes_through_the_transactions_queue_on_sqs() {
    let Some(ministack) = MiniStack::start_or_skip("aws profile: S0") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoint = ministack.endpoint_url();
    let process = Process::start(serve_on_aws(dir.path(), &["transactions"], &endpoint));
    let http = reqwest::Client::new();

    let valid =
        json!({"amount": 100.5, "currency": "CAD", "accountFrom": "ACC-1", "accountTo": "ACC-2"});
    let (status, body) = post(&http, &process.url("/transactions"), &valid).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    let id = body["transactionId"]
        .as_str()
        .expect("transactionId")
        .to_owned();
    let url = process.url(&format!("/api/v1/transactions/{id}"));
    let processed = status_until(&http, &url, "PROCESSED").await;
    assert_eq!(processed["status"], "PROCESSED", "{processed}");
    let s3 = edalab_aws::backends::s3_client(&ministack.sdk_config());
    let archived = archived_until(&s3, &id).await;
    assert_eq!(archived.len(), 1, "archived once: {archived:?}");
    assert!(
        archived[0].0.ends_with(&format!("/{id}.json")),
        "{archived:?}"
    );
    let event: Value = serde_json::from_str(&archived[0].1).expect("JSON");
    assert_eq!(event["transactionId"], id.as_str(), "{event}");

    let invalid = json!({"amount": -5, "currency": "EURO", "accountFrom": ""});
    let (status, body) = post(&http, &process.url("/transactions"), &invalid).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    let fields: Vec<&str> = body["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"amount") && fields.contains(&"currency"),
        "{body}"
    );
    process.stop();

    // The event is on the log's `transactions-events` topic, keyed by the transaction.
    let tail = edalab(dir.path())
        .args([
            "--data-dir",
            "data",
            "tail",
            "transactions-events",
            "--from-beginning",
        ])
        .args(["--format", "json"])
        .output()
        .expect("tail");
    let printed = String::from_utf8_lossy(&tail.stdout);
    assert!(printed.contains(&id), "{printed}");
}

#[test]
fn an_unreachable_endpoint_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let closed = edalab_bus::peer::free_port().expect("a free port");
    let endpoint = format!("http://127.0.0.1:{closed}");
    let stderr = failed_start(serve_on_aws(dir.path(), &["calculator"], &endpoint));
    assert!(
        stderr.contains(&endpoint) && stderr.contains("SQS"),
        "{stderr}"
    );
}

/// The seed's valid order (`002_…`, "Commande valide").
pub(crate) fn seed_valid_order() -> Value {
    json!({
        "order_id": "ORD-2026-001", "customer_id": "CUST-1001",
        "created_at": "2026-01-07T10:00:00Z", "currency": "EUR", "amount": 149.99,
        "items": [
            {"sku": "SKU-1", "qty": 1, "unit_price": 99.99},
            {"sku": "SKU-2", "qty": 1, "unit_price": 50.00}
        ]
    })
}

/// The seed's invalid order ("Commande invalide").
pub(crate) fn seed_invalid_order() -> Value {
    json!({
        "order_id": "ORD-2026-002", "customer_id": "CUST-1002",
        "created_at": "2026-01-07T10:05:00Z", "currency": "EUR", "amount": -10, "items": []
    })
}

pub(crate) async fn put_order(s3: &aws_sdk_s3::Client, key: &str, order: &Value) {
    s3.put_object()
        .bucket("tp-orders")
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(
            order.to_string().into_bytes(),
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

/// The sum of CloudWatch metric `name` in namespace `edalab` over the last ten minutes,
/// polled until it is `want` (30 s): counts are flushed each second.
pub(crate) async fn metric_sum_until(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    name: &str,
    want: f64,
) -> f64 {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::Statistic;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = std::time::SystemTime::now();
        let stats = cloudwatch
            .get_metric_statistics()
            .namespace("edalab")
            .metric_name(name)
            .start_time(DateTime::from(now - Duration::from_secs(600)))
            .end_time(DateTime::from(now + Duration::from_secs(60)))
            .period(60)
            .statistics(Statistic::Sum)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetMetricStatistics {name}: {e:?}"));
        let sum: f64 = stats.datapoints().iter().filter_map(|d| d.sum()).sum();
        if sum == want || Instant::now() > deadline {
            return sum;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_the_seeds_three_orders_from_the_bucket() {
    let Some(ministack) = MiniStack::start_or_skip("aws profile: S2") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoint = ministack.endpoint_url();
    let process = Process::start(serve_on_aws(dir.path(), &["intake"], &endpoint));
    let http = reqwest::Client::new();
    let sdk = ministack.sdk_config();
    let s3 = edalab_aws::backends::s3_client(&sdk);
    let order_url = |id: &str| process.url(&format!("/api/v1/intake/orders/{id}"));

    put_order(&s3, "orders/valid.json", &seed_valid_order()).await;
    let valid = status_until(&http, &order_url("ORD-2026-001"), "PROCESSED").await;
    assert_eq!(valid["status"], "PROCESSED", "{valid}");
    assert_eq!(valid["file_name"], "orders/valid.json", "{valid}");
    put_order(&s3, "orders/invalid.json", &seed_invalid_order()).await;
    put_order(&s3, "orders/again valid.json", &seed_valid_order()).await;
    let rejected = status_until(&http, &order_url("ORD-2026-002"), "REJECTED").await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let with_duplicate = loop {
        let (_, body) = json_of(
            http.get(order_url("ORD-2026-001"))
                .send()
                .await
                .expect("GET"),
        )
        .await;
        if body["duplicates"].as_array().is_some_and(|d| !d.is_empty()) || Instant::now() > deadline
        {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let duplicates = with_duplicate["duplicates"].as_array().expect("duplicates");
    assert_eq!(duplicates.len(), 1, "{with_duplicate}");
    assert_eq!(duplicates[0]["status"], "DUPLICATE", "{with_duplicate}");
    // The key was URL-encoded in the S3 event ("again+valid.json").
    assert_eq!(
        duplicates[0]["file_name"], "orders/again valid.json",
        "{with_duplicate}"
    );

    // The record is DynamoDB's, read without edalab.
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    for (id, status) in [("ORD-2026-001", "PROCESSED"), ("ORD-2026-002", "REJECTED")] {
        let item = dynamodb
            .get_item()
            .table_name("tp-orders")
            .key(
                "order_id",
                aws_sdk_dynamodb::types::AttributeValue::S(id.to_owned()),
            )
            .send()
            .await
            .expect("GetItem");
        let found = item
            .item()
            .and_then(|i| i.get("status"))
            .and_then(|s| s.as_s().ok());
        assert_eq!(found.map(String::as_str), Some(status), "{id}: {item:?}");
    }

    // The rejected order went through SQS's redrive policy to the DLQ.
    let sqs = ministack.sqs();
    let dlq = sqs
        .get_queue_url()
        .queue_name("tp-orders-dlq")
        .send()
        .await
        .expect("the DLQ exists");
    let deadline = Instant::now() + Duration::from_secs(30);
    let dead = loop {
        let received = sqs
            .receive_message()
            .queue_url(dlq.queue_url().expect("url"))
            .wait_time_seconds(2)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive from the DLQ");
        if !received.messages().is_empty() || Instant::now() > deadline {
            break received.messages().to_vec();
        }
    };
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].body().is_some_and(|b| b.contains("ORD-2026-002")),
        "{dead:?}"
    );

    // Counted once each, in CloudWatch.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    for name in ["OrdersProcessed", "OrdersRejected", "OrdersDuplicate"] {
        assert_eq!(
            metric_sum_until(&cloudwatch, name, 1.0).await,
            1.0,
            "{name}"
        );
    }
    process.stop();
}

#[test]
fn missing_credentials_are_named() {
    let Some(ministack) = MiniStack::start_or_skip("aws profile: missing credentials") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("an empty HOME");
    let mut command = serve_on_aws(dir.path(), &["calculator"], &ministack.endpoint_url());
    command
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("HOME", home.path())
        // No instance metadata to ask, as on a laptop.
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let stderr = failed_start(command);
    assert!(
        stderr.contains("no AWS credentials") && stderr.contains("AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_queue_fails_before_any_write() {
    let Some(ministack) = MiniStack::start_or_skip("aws profile: conflicting queue") else {
        return;
    };
    let sqs = ministack.sqs();
    sqs.create_queue()
        .queue_name("transactions")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "30",
        )
        .send()
        .await
        .expect("a queue made earlier");
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr = failed_start(serve_on_aws(
        dir.path(),
        &["transactions"],
        &ministack.endpoint_url(),
    ));
    assert!(
        stderr.contains("`transactions`") && stderr.contains("VisibilityTimeout = 30"),
        "{stderr}"
    );
    let listed = sqs.list_queues().send().await.expect("ListQueues");
    assert_eq!(
        listed.queue_urls().len(),
        1,
        "nothing else created: {listed:?}"
    );
}
