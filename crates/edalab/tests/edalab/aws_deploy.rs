//! `edalab aws deploy` on ministack and tansu: seed 000's end-to-end cases through API
//! Gateway → Lambda `submit-transaction` → SQS `transactions` → Lambda
//! `process-transaction` → the broker's `transactions-events`, with the functions running
//! the debug `edalab-lambda` zipped as `bootstrap`:
//! - valid → 202 `PENDING`, then `TransactionProcessed` read back from the broker and the
//!   item `PROCESSED` in DynamoDB;
//! - invalid → 400 naming each field;
//! - poison (a record that fails re-validation, sent to the queue) → handled three times
//!   (three fraud alerts), moved to `transactions-dlq` by SQS's redrive policy, and `FAILED`
//!   with the reason in DynamoDB;
//! - S1 (seed 001's way: JSON sent to `calculatrice-input-queue`): the `calculator`
//!   function's result on `calculatrice-output-queue`; a division by zero moved to
//!   `calculatrice-input-queue-dlq` after three receives;
//! - S2 (seed 002's three files put under `s3://tp-orders/orders/`): `order-validator` on the
//!   bucket's notification, `order-worker` on `tp-orders-queue` → DynamoDB `PROCESSED`,
//!   `REJECTED` (and `tp-orders-dlq`), `DUPLICATE`; CloudWatch counts 1, 1, 1;
//! - S0-08's state machine through its cases (`aws_workflow`);
//! - deploying again creates nothing twice; `aws destroy` removes the functions and the
//!   bucket's notification.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use edalab_aws::testing::MiniStack;
use edalab_bus::kafka::testing::Tansu;
use edalab_bus::kafka::{KafkaBus, KafkaConfig};
use edalab_bus::{Bus, Message, PartitionRead};
use serde_json::{Value, json};

use crate::support::{edalab, json_of};

/// The debug `edalab-lambda` as `bootstrap` (mode 0755) in `dir/bootstrap.zip`, without its
/// line tables (`strip --strip-debug`, binutils): Lambda refuses more than 250 MB unzipped.
fn lambda_zip(dir: &Path) -> PathBuf {
    let stripped = dir.join("bootstrap");
    let status = std::process::Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(&stripped)
        .arg(env!("CARGO_BIN_EXE_edalab-lambda"))
        .status()
        .expect("strip (binutils)");
    assert!(status.success(), "strip: {status}");
    let binary = std::fs::read(&stripped).expect("the stripped edalab-lambda");
    let path = dir.join("bootstrap.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("create zip"));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("zip entry");
    zip.write_all(&binary).expect("zip write");
    zip.finish().expect("zip finish");
    path
}

/// `edalab aws <args>` against the emulator; its standard output (it must succeed).
fn aws_command(dir: &Path, endpoint: &str, brokers: &str, args: &[&str]) -> String {
    let output = edalab(dir)
        .arg("aws")
        .args(args)
        .args(["--aws-endpoint", endpoint, "--brokers", brokers])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("edalab aws");
    assert!(
        output.status.success(),
        "edalab aws {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The value after `label` on its line of `text`.
fn field<'t>(text: &'t str, label: &str) -> Vec<&'t str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(label).map(str::trim))
        .collect()
}

/// Every message of `topic` so far (3 partitions at most).
async fn messages(bus: &KafkaBus, topic: &str) -> Vec<Message> {
    let mut all = Vec::new();
    for partition in 0..3 {
        let read = PartitionRead {
            topic: topic.to_owned(),
            partition,
            from: 0,
            max: 1_000,
            wait: Duration::from_secs(1),
        };
        match bus.read_partition(&read).await {
            Ok((batch, _)) => all.extend(batch),
            Err(e) => eprintln!("reading {topic}/{partition}: {e}"),
        }
    }
    all
}

/// Polls `topic` until `count` messages keyed `key` are there (90 s): their values.
pub(crate) async fn keyed(bus: &KafkaBus, topic: &str, key: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let found: Vec<Value> = messages(bus, topic)
            .await
            .iter()
            .filter(|m| m.key.as_deref() == Some(key.as_bytes()))
            .map(|m| serde_json::from_slice(&m.value).expect("JSON value"))
            .collect();
        if found.len() >= count || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls DynamoDB until the transaction's `status` is `want` (90 s): the item.
pub(crate) async fn item_until(
    dynamodb: &aws_sdk_dynamodb::Client,
    id: &str,
    want: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    status_until(dynamodb, ("edalab-transactions", "id"), id, want).await
}

/// Polls `table` until the item keyed `id` has `status` `want` (90 s): the item.
async fn status_until(
    dynamodb: &aws_sdk_dynamodb::Client,
    (table, key): (&str, &str),
    id: &str,
    want: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let item = dynamodb
            .get_item()
            .table_name(table)
            .key(key, AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
            .unwrap_or_default();
        let status = item.get("status").and_then(|s| s.as_s().ok()).cloned();
        if status.as_deref() == Some(want) || Instant::now() > deadline {
            return item;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The reasons recorded in `edalab-dead-letters` for messages of `queue`.
async fn reasons_of(dynamodb: &aws_sdk_dynamodb::Client, queue: &str) -> Vec<String> {
    let page = dynamodb
        .scan()
        .table_name("edalab-dead-letters")
        .send()
        .await
        .expect("Scan edalab-dead-letters");
    page.items()
        .iter()
        .filter(|item| {
            item.get("queue")
                .and_then(|q| q.as_s().ok())
                .is_some_and(|q| q == queue)
        })
        .filter_map(|item| item.get("reason").and_then(|r| r.as_s().ok()).cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_through_api_gateway_lambda_sqs_lambda_and_kafka() {
    let Some(ministack) = MiniStack::start_or_skip("aws deploy: seed 000") else {
        return;
    };
    let Some(broker) = Tansu::start_or_skip("aws deploy: seed 000") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (endpoint, brokers) = (ministack.endpoint_url(), broker.brokers().to_owned());
    let zip = lambda_zip(dir.path());
    let zip_arg = ["aws", "deploy", "--zip", zip.to_str().expect("UTF-8 path")];
    let deployed = aws_command(dir.path(), &endpoint, &brokers, &zip_arg[1..]);
    let api = field(&deployed, "api")[0].to_owned();
    assert_eq!(
        field(&deployed, "function"),
        [
            "edalab-submit-transaction-local",
            "edalab-process-transaction-local",
            "edalab-calculator-local",
            "edalab-order-validator-local",
            "edalab-order-worker-local",
            "edalab-workflow-validate-local",
            "edalab-workflow-fraud-check-local",
            "edalab-workflow-process-local",
            "edalab-workflow-notify-local",
            "edalab-workflow-alert-local",
        ]
    );
    let workflow = field(&deployed, "workflow")[0].to_owned();
    assert!(
        workflow.ends_with(":stateMachine:edalab-transaction-workflow-local"),
        "{deployed}"
    );
    assert_eq!(field(&deployed, "mappings"), ["3 created"]);
    let again = aws_command(dir.path(), &endpoint, &brokers, &zip_arg[1..]);
    assert_eq!(field(&again, "mappings"), ["0 created"], "{again}");
    assert_eq!(field(&again, "api"), [api.as_str()], "the same API");
    assert_eq!(
        field(&again, "workflow"),
        [workflow.as_str()],
        "the same machine"
    );

    let http = reqwest::Client::new();
    let bus = KafkaBus::new(KafkaConfig::new(&brokers)).expect("Kafka client");
    let sdk = ministack.sdk_config();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);

    // Valid: 202 PENDING, then processed by the second function onto the broker.
    let valid =
        json!({"amount": 100.5, "currency": "CAD", "accountFrom": "ACC-1", "accountTo": "ACC-2"});
    let (status, body) = json_of(http.post(&api).json(&valid).send().await.expect("POST")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "PENDING");
    let id = body["transactionId"]
        .as_str()
        .expect("transactionId")
        .to_owned();
    let events = keyed(&bus, "transactions-events", &id, 1).await;
    assert_eq!(events.len(), 1, "one event for {id}");
    assert_eq!(events[0]["status"], "PROCESSED");
    assert_eq!(events[0]["amount"], json!(100.5));
    let item = item_until(&dynamodb, &id, "PROCESSED").await;
    assert!(item.contains_key("processedAt"), "{item:?}");

    // Invalid: 400 naming each field, nothing queued.
    let invalid = json!({"amount": -5, "currency": "CADX"});
    let (status, body) = json_of(http.post(&api).json(&invalid).send().await.expect("POST")).await;
    assert_eq!(status, 400, "{body}");
    let named: Vec<&str> = body["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    for name in ["amount", "currency", "accountFrom", "accountTo"] {
        assert!(named.contains(&name), "{name} in {body}");
    }

    // Poison: fails re-validation on each of its 3 receives, then SQS moves it.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let poison = json!({"transactionId": "txn-poison", "amount": -1, "currency": "CAD",
        "accountFrom": "ACC-1", "accountTo": "ACC-2", "timestamp": "2026-12-06T03:00:00.000Z",
        "status": "PENDING"});
    sqs.send_message()
        .queue_url(queue_url(&sqs, "transactions").await)
        .message_body(poison.to_string())
        .send()
        .await
        .expect("send the poison");
    let failed = item_until(&dynamodb, "txn-poison", "FAILED").await;
    let reason = failed.get("error").and_then(|e| e.as_s().ok()).cloned();
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("amount")),
        "{failed:?}"
    );
    let alerts = keyed(&bus, "fraud-alerts", "txn-poison", 3).await;
    assert_eq!(alerts.len(), 3, "one alert per receive: {alerts:?}");
    let moved = bodies_until(&sqs, "transactions-dlq").await;
    assert_eq!(moved.len(), 1, "the poison is in the DLQ");
    assert!(moved[0].contains("txn-poison"));
    let recorded = reasons_of(&dynamodb, "transactions").await;
    assert!(
        recorded.iter().any(|r| r.contains("amount")),
        "the function recorded why: {recorded:?}"
    );

    s1_by_the_calculator_function(&sqs).await;
    s2_by_the_order_functions(&sdk).await;
    crate::aws_workflow::s0_workflow(&sdk, &workflow, &bus).await;

    let destroyed = aws_command(dir.path(), &endpoint, &brokers, &["destroy"]);
    assert_eq!(field(&destroyed, "removed").len(), 16, "{destroyed}");
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let functions = lambda.list_functions().send().await.expect("ListFunctions");
    assert!(functions.functions().is_empty(), "{functions:?}");
}

/// Seed 001's cases through the deployed `calculator` function.
async fn s1_by_the_calculator_function(sqs: &aws_sdk_sqs::Client) {
    let input = queue_url(sqs, "calculatrice-input-queue").await;
    for body in [
        json!({"operation": "add", "a": 5, "b": 3}),
        json!({"operation": "divide", "a": 1, "b": 0}),
    ] {
        sqs.send_message()
            .queue_url(&input)
            .message_body(body.to_string())
            .send()
            .await
            .expect("send to the input queue");
    }
    let results = bodies_until(sqs, "calculatrice-output-queue").await;
    assert_eq!(results.len(), 1, "{results:?}");
    let result: Value = serde_json::from_str(&results[0]).expect("a JSON result");
    assert_eq!(
        (result["operation"].clone(), result["result"].clone()),
        (json!("add"), json!(8))
    );
    let dead = bodies_until(sqs, "calculatrice-input-queue-dlq").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].contains("divide"), "{dead:?}");
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    let found = sqs.get_queue_url().queue_name(name).send().await;
    found.expect("the queue").queue_url.expect("its URL")
}

/// The bodies of the first messages received from `queue` (60 s), left in flight.
async fn bodies_until(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<String> {
    let url = queue_url(sqs, queue).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .send()
            .await
            .expect("receive");
        let bodies: Vec<String> = received
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect();
        if !bodies.is_empty() || Instant::now() > deadline {
            return bodies;
        }
    }
}

/// Seed 002's three files through the deployed `order-validator` and `order-worker`.
async fn s2_by_the_order_functions(sdk: &edalab_aws::client::SdkConfig) {
    use crate::aws_profile::{metric_sum_until, put_order, seed_invalid_order, seed_valid_order};
    let s3 = edalab_aws::backends::s3_client(sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let orders = ("tp-orders", "order_id");
    put_order(&s3, "orders/valid.json", &seed_valid_order()).await;
    let valid = status_until(&dynamodb, orders, "ORD-2026-001", "PROCESSED").await;
    assert_eq!(
        valid["status"].as_s().ok().map(String::as_str),
        Some("PROCESSED"),
        "{valid:?}"
    );
    put_order(&s3, "orders/invalid.json", &seed_invalid_order()).await;
    put_order(&s3, "orders/again valid.json", &seed_valid_order()).await;
    let rejected = status_until(&dynamodb, orders, "ORD-2026-002", "REJECTED").await;
    assert_eq!(
        rejected["status"].as_s().ok().map(String::as_str),
        Some("REJECTED")
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let duplicates = loop {
        let found = dynamodb
            .query()
            .table_name("tp-orders-duplicates")
            .key_condition_expression("order_id = :id")
            .expression_attribute_values(":id", AttributeValue::S("ORD-2026-001".to_owned()))
            .send()
            .await
            .expect("Query");
        if found.count() > 0 || Instant::now() > deadline {
            break found.items().to_vec();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(duplicates.len(), 1, "{duplicates:?}");
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dead = bodies_until(&sqs, "tp-orders-dlq").await;
    assert!(
        dead.len() == 1 && dead[0].contains("ORD-2026-002"),
        "{dead:?}"
    );
    let cloudwatch = aws_sdk_cloudwatch::Client::new(sdk);
    for name in ["OrdersProcessed", "OrdersRejected", "OrdersDuplicate"] {
        assert_eq!(
            metric_sum_until(&cloudwatch, name, 1.0).await,
            1.0,
            "{name}"
        );
    }
}
