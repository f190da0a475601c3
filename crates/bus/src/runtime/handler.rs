//! The handler contract: what a service gives the runtime, and what it answers per message.
//!
//! A handler never sees retries, the DLQ or positions; it says per message whether the work
//! is [`Outcome::Done`], worth another try later ([`Outcome::Retry`]) or never going to work
//! ([`Outcome::Reject`]). Business refusals (insufficient funds) are domain events the
//! handler emits and then answers `Done`: they are not failures.

use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use futures::FutureExt;

use crate::port::Message;

/// What a handler says about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Handled; its effects are durable. The runtime may move the position past it.
    Done,
    /// A transient failure (a dependency is down, a lock timed out): try again after a
    /// backoff, up to the retry budget, then dead-letter it with this reason.
    Retry(String),
    /// Poison or invalid: retrying cannot help. Dead-letter it at once with this reason.
    Reject(String),
}

impl Outcome {
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry(reason.into())
    }

    pub fn reject(reason: impl Into<String>) -> Self {
        Self::Reject(reason.into())
    }
}

/// A handler of batches. The runtime hands it at most `batch_size_max` messages, never two
/// of the same key in one batch (so per-key order holds whatever it answers), in offset
/// order within each partition.
///
/// It returns exactly one outcome per message, in the same order. A missing outcome is taken
/// as `Retry`. A panic is caught and taken as `Retry` for every message of the batch (so a
/// batch handler should apply a batch atomically, e.g. in one store transaction).
#[async_trait]
pub trait BatchHandler: Send + Sync {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome>;
}

#[async_trait]
impl<T: BatchHandler + ?Sized> BatchHandler for std::sync::Arc<T> {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        (**self).handle(batch).await
    }
}

#[async_trait]
impl<T: BatchHandler + ?Sized> BatchHandler for Box<T> {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        (**self).handle(batch).await
    }
}

/// A handler of one message at a time; wrap it in [`PerMessage`] to run it.
#[async_trait]
pub trait Handler: Send + Sync {
    async fn handle(&self, message: &Message) -> Outcome;
}

#[async_trait]
impl<T: Handler + ?Sized> Handler for std::sync::Arc<T> {
    async fn handle(&self, message: &Message) -> Outcome {
        (**self).handle(message).await
    }
}

/// Runs a per-message [`Handler`] as a [`BatchHandler`]: messages one after the other, a
/// panic caught per message and taken as `Retry` for that message only.
#[derive(Clone, Debug)]
pub struct PerMessage<H>(pub H);

#[async_trait]
impl<H: Handler> BatchHandler for PerMessage<H> {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for message in batch {
            let outcome = AssertUnwindSafe(self.0.handle(message))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Outcome::Retry(panic_reason(panic.as_ref())));
            outcomes.push(outcome);
        }
        outcomes
    }
}

/// Turns a caught panic payload into a reason for the DLQ.
pub(crate) fn panic_reason(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    format!("handler panicked: {text}")
}
