//! S0-08's orchestrated workflow, one step per function: validate → fraud check → process →
//! notify, and the alert of the failure branch. The state machine
//! (`deploy/stepfunctions/transaction-workflow.asl.json`) chains them, retries a
//! [`StepError::Transient`] with exponential backoff and catches the others; each step here
//! takes the state's JSON and answers the next state's JSON or a typed error, whose
//! [`StepError::error_type`] the `Retry`/`Catch` rules match.
//!
//! | step | input | output | errors |
//! |---|---|---|---|
//! | [`validate`] | the S0-01 body (+ `simulate`) | the queued record, `PENDING` in the store | `ValidationError` (each field) |
//! | [`fraud_check`] | the queued record | the same | `FraudDetected` ([`fraud_suspicion`]) |
//! | [`process`] | `{transaction, attempt}` | `TransactionProcessed` on `transactions-events` (+ `attempts`) | `TransientError` |
//! | [`notify`] | `TransactionProcessed` | the notification on `notifications` | `TransientError` |
//! | [`alert`] | the failed state with `error {Error, Cause}` | the `FraudAlert` on `fraud-alerts`, `FAILED` in the store | `TransientError` |
//!
//! **`simulate.transientFailures`** (0 to [`SIMULATED_FAILURES_MAX`]) makes `process` fail
//! that many first attempts with a `TransientError`, so a learner sees `Retry` at work
//! without breaking a broker; the attempt number is the state machine's
//! `$$.State.RetryCount`. Effects are at least once per attempt and idempotent by
//! `transactionId`: the event is keyed by it, the notification id derives from it.

use edalab_bus::Record;
use edalab_domain::events::topics;
use edalab_domain::events::transactions::{FraudAlert, QueuedTransaction, TransactionProcessed};
use edalab_domain::transaction::{SubmittedTransaction, fraud_suspicion, revalidate};
use serde_json::{Value, json};

use super::{Counters, TransactionsState};

/// The `processorId` of the events the workflow publishes.
pub const WORKFLOW_PROCESSOR_ID: &str = "edalab-transaction-workflow";

/// The most first attempts `simulate.transientFailures` may fail (the state machine retries
/// a step 3 times).
pub const SIMULATED_FAILURES_MAX: u64 = 3;

/// Why a step failed; [`error_type`](Self::error_type) is what `Retry` and `Catch` match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The body is not a transaction: the fields' errors, as the API's 400 names them.
    #[error("{0}")]
    Validation(String),
    /// The fraud check stopped it.
    #[error("{0}")]
    Fraud(String),
    /// Worth another attempt: a broker or store that did not answer, a simulated failure.
    #[error("{0}")]
    Transient(String),
}

impl StepError {
    pub fn error_type(&self) -> &'static str {
        match self {
            StepError::Validation(_) => "ValidationError",
            StepError::Fraud(_) => "FraudDetected",
            StepError::Transient(_) => "TransientError",
        }
    }
}

type StepResult = Result<Value, StepError>;

fn encoded<T: serde::Serialize>(value: &T) -> StepResult {
    serde_json::to_value(value).map_err(|e| StepError::Validation(format!("cannot encode: {e}")))
}

fn decoded<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, StepError> {
    serde_json::from_value(value.clone())
        .map_err(|e| StepError::Validation(format!("not {what}: {e}")))
}

/// How many first attempts of `process` should fail, from the input's `simulate`.
fn simulated_failures(input: &Value) -> Result<u64, StepError> {
    let Some(simulate) = input.get("simulate") else {
        return Ok(0);
    };
    match simulate.get("transientFailures").map(Value::as_u64) {
        None => Ok(0),
        Some(Some(n)) if n <= SIMULATED_FAILURES_MAX => Ok(n),
        Some(_) => Err(StepError::Validation(format!(
            "simulate.transientFailures: an integer from 0 to {SIMULATED_FAILURES_MAX}"
        ))),
    }
}

/// Validates the body as `POST /transactions` does, records it `PENDING` and answers the
/// queued record (with the input's `simulate`, which the next steps read).
pub async fn validate(state: &TransactionsState, input: &Value) -> StepResult {
    let failures = simulated_failures(input)?;
    let mut body = input.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("simulate");
    }
    let submitted =
        SubmittedTransaction::parse(&body).map_err(|e| StepError::Validation(e.to_string()))?;
    let queued = super::api::queued(&submitted, state.clock.now());
    state
        .store
        .insert_pending(&queued)
        .await
        .map_err(|e| StepError::Transient(e.to_string()))?;
    Counters::inc(&state.counters.submitted_total);
    let mut output = encoded(&queued)?;
    if failures > 0 {
        output["simulate"] = json!({ "transientFailures": failures });
    }
    Ok(output)
}

/// Passes the queued record on, or stops it with `FraudDetected`.
pub async fn fraud_check(input: &Value) -> StepResult {
    let queued: QueuedTransaction = decoded(input, "a queued transaction")?;
    match fraud_suspicion(queued.amount, &queued.currency) {
        Some(suspicion) => Err(StepError::Fraud(suspicion.to_string())),
        None => Ok(input.clone()),
    }
}

/// Publishes `TransactionProcessed` and marks the transaction `PROCESSED`; answers the event
/// with `attempts` (how many it took).
pub async fn process(state: &TransactionsState, input: &Value) -> StepResult {
    let transaction = input.get("transaction").unwrap_or(&Value::Null);
    let attempt = input.get("attempt").and_then(Value::as_u64).unwrap_or(0);
    let failures = simulated_failures(transaction)?;
    if attempt < failures {
        return Err(StepError::Transient(format!(
            "simulated transient failure {} of {failures}",
            attempt + 1
        )));
    }
    revalidate(transaction).map_err(|e| StepError::Validation(e.to_string()))?;
    let queued: QueuedTransaction = decoded(transaction, "a queued transaction")?;
    let processed = queued.processed(state.clock.now(), WORKFLOW_PROCESSOR_ID);
    let record = super::processor::processed_record(&processed).map_err(StepError::Validation)?;
    publish(state, topics::TRANSACTIONS_EVENTS, record).await?;
    state
        .store
        .mark_processed(&processed.transaction_id, processed.processed_at)
        .await
        .map_err(|e| StepError::Transient(e.to_string()))?;
    Counters::inc(&state.counters.processed_total);
    let mut output = encoded(&processed)?;
    output["attempts"] = json!(attempt + 1);
    Ok(output)
}

/// Publishes the account holder's notification of a processed transaction.
pub async fn notify(state: &TransactionsState, input: &Value) -> StepResult {
    let event: TransactionProcessed = decoded(input, "a TransactionProcessed event")?;
    let record = super::consumers::notification_record(&event, state.clock.now())
        .map_err(StepError::Validation)?;
    publish(state, topics::NOTIFICATIONS, record).await?;
    Counters::inc(&state.counters.notifications_total);
    Ok(json!({
        "transactionId": event.transaction_id,
        "status": "PROCESSED",
        "notificationId": super::consumers::notification_id(&event.transaction_id),
        "attempts": input.get("attempts").cloned().unwrap_or(json!(1)),
    }))
}

/// The failure branch: publishes a `FraudAlert` with the caught error's message and, when
/// the transaction was recorded, marks it `FAILED` with it.
pub async fn alert(state: &TransactionsState, input: &Value) -> StepResult {
    let reason = caught_reason(input.get("error").unwrap_or(&Value::Null));
    let recorded = input.get("transactionId").and_then(Value::as_str);
    let transaction_id = recorded.unwrap_or("unvalidated").to_owned();
    let alert = FraudAlert {
        transaction_id: transaction_id.clone(),
        error: reason.clone(),
        timestamp: state.clock.now(),
    };
    let body = serde_json::to_vec(&alert)
        .map_err(|e| StepError::Validation(format!("cannot encode the alert: {e}")))?;
    let record = Record::new(Some(transaction_id.clone().into_bytes()), body)
        .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
    publish(state, topics::FRAUD_ALERTS, record).await?;
    Counters::inc(&state.counters.fraud_alerts_total);
    if let Some(id) = recorded {
        state
            .store
            .mark_failed(id, &reason)
            .await
            .map_err(|e| StepError::Transient(e.to_string()))?;
    }
    Ok(json!({ "transactionId": transaction_id, "error": reason }))
}

/// The message of a caught error `{Error, Cause}`: Step Functions puts the function's
/// `{errorType, errorMessage}` as JSON text in `Cause`.
fn caught_reason(error: &Value) -> String {
    let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
    let message = serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|c| c.get("errorMessage")?.as_str().map(str::to_owned));
    let kind = error
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or("Error");
    format!("{kind}: {}", message.unwrap_or_else(|| cause.to_owned()))
}

async fn publish(state: &TransactionsState, topic: &str, record: Record) -> Result<(), StepError> {
    state
        .bus
        .produce(topic, vec![record])
        .await
        .map(|_| ())
        .map_err(|e| StepError::Transient(format!("publishing to {topic}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_failures_are_bounded() {
        assert_eq!(simulated_failures(&json!({})), Ok(0));
        let one = json!({"simulate": {"transientFailures": 1}});
        assert_eq!(simulated_failures(&one), Ok(1));
        let many = json!({"simulate": {"transientFailures": 4}});
        assert_eq!(
            simulated_failures(&many).unwrap_err().error_type(),
            "ValidationError"
        );
    }

    #[test]
    fn caught_reason_reads_the_functions_message() {
        let cause = json!({"errorType": "FraudDetected", "errorMessage": "Same account"});
        let error = json!({"Error": "FraudDetected", "Cause": cause.to_string()});
        assert_eq!(caught_reason(&error), "FraudDetected: Same account");
        let plain = json!({"Error": "States.Timeout", "Cause": "took too long"});
        assert_eq!(caught_reason(&plain), "States.Timeout: took too long");
    }

    #[tokio::test]
    async fn fraud_check_answers_its_input_or_fraud_detected() {
        let queued = json!({"transactionId": "txn-1-a", "amount": 20, "currency": "CAD",
            "accountFrom": "ACC-1", "accountTo": "ACC-2",
            "timestamp": "2026-12-06T03:00:00.000Z", "status": "PENDING"});
        assert_eq!(fraud_check(&queued).await, Ok(queued.clone()));
        let mut large = queued.clone();
        large["amount"] = json!(10000.5);
        let error = fraud_check(&large).await.unwrap_err();
        assert_eq!(error.error_type(), "FraudDetected");
        assert!(error.to_string().contains("10000.5 CAD"), "{error}");
    }
}
