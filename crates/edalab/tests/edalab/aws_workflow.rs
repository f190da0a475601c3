//! S0-08's state machine, deployed by `edalab aws deploy` (called from the seed 000 test,
//! which deploys once): validate → fraud check → process → notify, each step the
//! `edalab-lambda` function that ministack runs, with the broker's topics read back:
//! - a valid transaction → `SUCCEEDED`, its event on `transactions-events` and its
//!   notification on `notifications`, `PROCESSED` in DynamoDB;
//! - an amount above the fraud limit → `FraudDetected` caught: the alert on `fraud-alerts`,
//!   `FAILED` in DynamoDB, the execution `FAILED` with `TransactionRejected`;
//! - two simulated transient failures of `process` → retried with backoff, then
//!   `SUCCEEDED` on its third attempt;
//! - an invalid body → `ValidationError` caught, alerted, `FAILED`.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use edalab_bus::kafka::KafkaBus;
use serde_json::{Value, json};

use crate::aws_deploy::{item_until, keyed};

/// An execution's end: its status, output (JSON) and error.
struct Ended {
    status: ExecutionStatus,
    output: Value,
    error: Option<String>,
}

/// Starts an execution of `input` and waits for its end (90 s).
async fn execute(sfn: &aws_sdk_sfn::Client, machine: &str, input: Value) -> Ended {
    let started = sfn
        .start_execution()
        .state_machine_arn(machine)
        .input(input.to_string())
        .send()
        .await
        .expect("StartExecution");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .expect("DescribeExecution");
        if described.status() != &ExecutionStatus::Running || Instant::now() > deadline {
            return Ended {
                status: described.status().clone(),
                output: described
                    .output()
                    .map(|o| serde_json::from_str(o).expect("JSON output"))
                    .unwrap_or(Value::Null),
                error: described.error().map(str::to_owned),
            };
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A transfer body of `amount` EUR.
fn transfer(amount: u32, from: &str, to: &str) -> Value {
    json!({"amount": amount, "currency": "EUR",
        "accountFrom": from, "accountTo": to})
}

pub(crate) async fn s0_workflow(
    sdk: &edalab_aws::client::SdkConfig,
    machine: &str,
    bus: &KafkaBus,
) {
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);

    let happy = execute(&sfn, machine, transfer(250, "ACC-W1", "ACC-W2")).await;
    assert_eq!(
        happy.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        happy.error
    );
    assert_eq!(
        (&happy.output["status"], &happy.output["attempts"]),
        (&json!("PROCESSED"), &json!(1))
    );
    let id = happy.output["transactionId"]
        .as_str()
        .expect("transactionId")
        .to_owned();
    let events = keyed(bus, "transactions-events", &id, 1).await;
    assert_eq!(events.len(), 1, "one event for {id}");
    assert_eq!(events[0]["processorId"], "edalab-transaction-workflow");
    let notified = keyed(bus, "notifications", "ACC-W1", 1).await;
    assert!(
        notified.iter().any(|n| n["transactionId"] == id.as_str()),
        "{notified:?}"
    );
    item_until(&dynamodb, &id, "PROCESSED").await;

    let fraud = execute(&sfn, machine, transfer(15_000, "ACC-W3", "ACC-W6")).await;
    assert_eq!(fraud.status, ExecutionStatus::Failed);
    assert_eq!(fraud.error.as_deref(), Some("TransactionRejected"));
    let failed = failed_with(
        &dynamodb,
        "FraudDetected: Amount 15000 EUR above the fraud limit of 10000",
    )
    .await;
    let alerted = keyed(bus, "fraud-alerts", &failed, 1).await;
    assert_eq!(alerted.len(), 1, "{alerted:?}");

    let mut flaky = transfer(250, "ACC-W4", "ACC-W5");
    flaky["simulate"] = json!({"transientFailures": 2});
    let retried = execute(&sfn, machine, flaky).await;
    assert_eq!(
        retried.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        retried.error
    );
    assert_eq!(
        retried.output["attempts"], 3,
        "two failures retried: {}",
        retried.output
    );

    let invalid = execute(&sfn, machine, json!({"amount": -5, "currency": "CADX"})).await;
    assert_eq!(invalid.status, ExecutionStatus::Failed);
    let alerted = keyed(bus, "fraud-alerts", "unvalidated", 1).await;
    let errors: Vec<&str> = alerted.iter().filter_map(|a| a["error"].as_str()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("ValidationError:") && e.contains("currency")),
        "{errors:?}"
    );
}

/// The id of the transaction `FAILED` in DynamoDB with an error starting `prefix` (60 s).
async fn failed_with(dynamodb: &aws_sdk_dynamodb::Client, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scanned = dynamodb
            .scan()
            .table_name("edalab-transactions")
            .send()
            .await
            .expect("Scan edalab-transactions");
        let found = scanned.items().iter().find(|item| {
            item.get("error")
                .and_then(|e| e.as_s().ok())
                .is_some_and(|e| e.starts_with(prefix))
        });
        if let Some(item) = found {
            return item["id"].as_s().expect("id").clone();
        }
        let errors: Vec<&str> = scanned
            .items()
            .iter()
            .filter_map(|item| item.get("error").and_then(|e| e.as_s().ok()))
            .map(String::as_str)
            .collect();
        assert!(
            Instant::now() < deadline,
            "no transaction FAILED with {prefix}: {errors:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
