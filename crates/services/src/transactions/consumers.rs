//! The S0-05 consumers of `transactions-events` (group `transaction-processors`), one
//! handler doing the seed's three jobs per event, in an order that makes redelivery safe:
//! 1. archive: append the event to `<data>/archive/transactions-YYYY-MM-DD.jsonl` (dated
//!    by `processedAt`; the S3 archive role) — at least once;
//! 2. notification to `notifications` (the debit side, `TRANSACTION_PROCESSED`) — at least
//!    once;
//! 3. analytics: the running total of its currency, applied once per `transactionId`
//!    (an applied-ids table in the same SQLite transaction as the total).

use async_trait::async_trait;
use chrono::Utc;
use edalab_bus::runtime::{Handler, Outcome};
use edalab_bus::{Message, Record};
use edalab_domain::events::topics;
use edalab_domain::events::transactions::{
    NotificationKind, TransactionNotification, TransactionProcessed,
};
use tokio::io::AsyncWriteExt;

use super::{Counters, TransactionsState};

pub(super) struct EventConsumers {
    state: TransactionsState,
}

impl EventConsumers {
    pub(super) fn new(state: TransactionsState) -> Self {
        Self { state }
    }

    async fn archive(&self, event: &TransactionProcessed, line: &[u8]) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.state.archive_dir).await?;
        let path = self.state.archive_dir.join(format!(
            "transactions-{}.jsonl",
            event.processed_at.format("%Y-%m-%d")
        ));
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await?;
        let mut text = line.to_vec();
        text.push(b'\n');
        file.write_all(&text).await?;
        file.sync_data().await
    }
}

#[async_trait]
impl Handler for EventConsumers {
    async fn handle(&self, message: &Message) -> Outcome {
        let event: TransactionProcessed = match serde_json::from_slice(&message.value) {
            Ok(event) => event,
            Err(e) => return Outcome::reject(format!("not a TransactionProcessed: {e}")),
        };
        if let Err(e) = self.archive(&event, &message.value).await {
            return Outcome::retry(format!("archiving: {e}"));
        }
        Counters::inc(&self.state.counters.archived_total);

        let notification = TransactionNotification {
            notification_id: uuid::Uuid::new_v4(),
            kind: NotificationKind::TransactionProcessed,
            transaction_id: event.transaction_id.clone(),
            account_id: event.account_from.clone(),
            amount: event.amount,
            currency: event.currency.clone(),
            message: format!(
                "Transaction {} of {} {} to {} processed",
                event.transaction_id, event.amount, event.currency, event.account_to
            ),
            timestamp: Utc::now(),
        };
        let body = match serde_json::to_vec(&notification) {
            Ok(body) => body,
            Err(e) => return Outcome::reject(format!("cannot encode the notification: {e}")),
        };
        let record = Record::new(Some(event.account_from.clone().into_bytes()), body)
            .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
        if let Err(e) = self
            .state
            .bus
            .produce(topics::NOTIFICATIONS, vec![record])
            .await
        {
            return Outcome::retry(format!("publishing the notification: {e}"));
        }
        Counters::inc(&self.state.counters.notifications_total);

        match self.state.store.apply_to_totals(&event) {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::retry(e.to_string()),
        }
    }
}
