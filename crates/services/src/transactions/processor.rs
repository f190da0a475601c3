//! The S0-03 processor: re-validates a queued transaction, publishes `TransactionProcessed`
//! to `transactions-events` keyed by `transactionId`; on failure publishes a `FraudAlert`
//! to `fraud-alerts` and answers `Retry`, so the message follows the seed's path: 3
//! receives (S0-02), then `transactions-dlq` with the reason. As in the seed's Lambda, an
//! alert is published on every failed receive.

use async_trait::async_trait;
use edalab_bus::runtime::{Handler, Outcome};
use edalab_bus::{Message, Record};
use edalab_domain::events::topics;
use edalab_domain::events::transactions::{FraudAlert, QueuedTransaction, TransactionProcessed};
use edalab_domain::transaction::revalidate;
use edalab_telemetry::store_span;
use tracing::Instrument;

use super::{Counters, PROCESSOR_ID, SERVICE, TransactionsState};
use crate::pipeline::key_text;

pub(super) struct Processor {
    state: TransactionsState,
}

impl Processor {
    pub(super) fn new(state: TransactionsState) -> Self {
        Self { state }
    }

    async fn alert(&self, message: &Message, error: String) -> Outcome {
        let transaction_id = transaction_id(&message.value, message.key.as_deref())
            .unwrap_or_else(|| format!("unknown@{}:{}", message.partition, message.offset));
        let alert = FraudAlert {
            transaction_id: transaction_id.clone(),
            error: error.clone(),
            timestamp: self.state.clock.now(),
        };
        match serde_json::to_vec(&alert) {
            Ok(body) => {
                let record = Record::new(Some(transaction_id.into_bytes()), body)
                    .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
                match self
                    .state
                    .bus
                    .produce(topics::FRAUD_ALERTS, vec![record])
                    .await
                {
                    Ok(_) => Counters::inc(&self.state.counters.fraud_alerts_total),
                    Err(e) => tracing::warn!(error = %e, "could not publish a fraud alert"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not encode a fraud alert"),
        }
        Outcome::Retry(error)
    }
}

/// The `TransactionProcessed` record for `transactions-events`: keyed and identified by the
/// `transactionId` (the S0-03 processor and the S0-08 workflow publish the same).
pub(super) fn processed_record(processed: &TransactionProcessed) -> Result<Record, String> {
    let body =
        serde_json::to_vec(processed).map_err(|e| format!("cannot encode the event: {e}"))?;
    Ok(
        Record::new(Some(processed.transaction_id.clone().into_bytes()), body)
            .with_header(
                edalab_bus::port::headers::EVENT_ID,
                processed.transaction_id.as_bytes(),
            )
            .with_header(
                edalab_bus::port::headers::EVENT_TYPE,
                "TransactionProcessed",
            )
            .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json"),
    )
}

/// The `transactionId` of a queued record (its JSON field, else the message key).
pub(super) fn transaction_id(value: &[u8], key: Option<&[u8]>) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(value)
        .ok()
        .and_then(|v| v.get("transactionId")?.as_str().map(str::to_owned))
        .or_else(|| key.and_then(|k| std::str::from_utf8(k).ok().map(str::to_owned)))
}

#[async_trait]
impl Handler for Processor {
    async fn handle(&self, message: &Message) -> Outcome {
        let value: serde_json::Value = match serde_json::from_slice(&message.value) {
            Ok(value) => value,
            Err(e) => return self.alert(message, format!("invalid JSON: {e}")).await,
        };
        if let Err(failure) = revalidate(&value) {
            return self.alert(message, failure.to_string()).await;
        }
        let queued: QueuedTransaction = match serde_json::from_value(value) {
            Ok(queued) => queued,
            Err(e) => {
                return self
                    .alert(message, format!("invalid transaction record: {e}"))
                    .await;
            }
        };
        let processed = queued.processed(self.state.clock.now(), PROCESSOR_ID);
        let record = match processed_record(&processed) {
            Ok(record) => record,
            Err(e) => return Outcome::reject(e),
        };
        if let Err(e) = self
            .state
            .bus
            .produce(topics::TRANSACTIONS_EVENTS, vec![record])
            .await
        {
            return Outcome::retry(format!("publishing to transactions-events: {e}"));
        }
        if let Err(e) = self
            .state
            .store
            .mark_processed(&processed.transaction_id, processed.processed_at)
            .instrument(store_span(SERVICE, "mark_processed"))
            .await
        {
            return Outcome::retry(e.to_string());
        }
        Counters::inc(&self.state.counters.processed_total);
        tracing::debug!(id = %processed.transaction_id, key = ?key_text(message), "transaction processed");
        Outcome::Done
    }
}
