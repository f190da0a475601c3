//! The in-process SQS consumer (`docs/adr/026-aws-profile.md` §3), polling as a Lambda event
//! source mapping would: one long poll at a time, each poll's messages one batch, at most
//! `batches_in_flight_max` batches running, each within `batch_timeout` (a Lambda
//! invocation's limit; what is not finished by then counts as `Retry`), settled by
//! [`crate::settle`] item by item (a partial batch response, never the whole batch failed).
//!
//! Shutdown: stop polling (a poll under way is dropped), let each running batch finish the
//! message in hand, release the messages it has not started (visible again at once, for
//! another consumer), settle, and return once every batch is settled.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use edalab_bus::queue::{Shutdown, signalled};
use edalab_bus::runtime::{Outcome, RetryPolicy, RuntimeError, RuntimeStats};
use edalab_bus::{BusError, DeadLetter, DeadLetterSpec, QueueConsumer};
use futures::FutureExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::dynamo::DeadLetterReasons;
use crate::message::{Received, received};
use crate::settle::{self, Action};

/// How the worker polls and runs batches. The defaults are the seeds' (S0-02).
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Long-poll wait, 0 to 20 seconds (SQS's maximum, the default).
    pub wait_time_seconds: u8,
    /// Messages per receive, hence per batch: 1 to 10.
    pub batch_size_max: u8,
    /// Batches handled at once (an event source mapping's maximum concurrency).
    pub batches_in_flight_max: usize,
    /// Time a batch has, as a Lambda invocation's timeout: half the seeds' 60 s visibility.
    pub batch_timeout: Duration,
    /// Delays of `Retry` (the receive budget is the queue's `maxReceiveCount`).
    pub retry: RetryPolicy,
    /// Seed of the retry jitter (`None`: from the OS), so a test replays exactly.
    pub jitter_seed: Option<u64>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            wait_time_seconds: 20,
            batch_size_max: 10,
            batches_in_flight_max: 10,
            batch_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            jitter_seed: None,
        }
    }
}

/// Longest pause after failed receives (doubling from 1 s).
const RECEIVE_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// What every batch of one worker shares.
struct Shared {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    queue: Arc<str>,
    dead_letter: DeadLetterSpec,
    consumer: QueueConsumer,
    /// Where the reasons of dead letters are recorded, if anywhere.
    reasons: Option<DeadLetterReasons>,
    settings: WorkerSettings,
    stats: Arc<RuntimeStats>,
    rng: Mutex<StdRng>,
    in_flight: AtomicU64,
}

/// The consumer of one SQS queue. Build it, then [`SqsWorker::run`].
pub struct SqsWorker {
    shared: Arc<Shared>,
}

impl SqsWorker {
    /// A worker of the queue at `queue_url`, named `queue`, whose redrive policy is
    /// `dead_letter`; each dead letter's reason goes to `reasons` if given.
    pub fn new(
        client: aws_sdk_sqs::Client,
        queue_url: String,
        queue: &str,
        dead_letter: DeadLetterSpec,
        consumer: QueueConsumer,
        reasons: Option<DeadLetterReasons>,
        settings: WorkerSettings,
    ) -> Self {
        let rng = match settings.jitter_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Self {
            shared: Arc::new(Shared {
                client,
                queue_url,
                queue: Arc::from(queue),
                dead_letter,
                consumer,
                reasons,
                settings,
                stats: Arc::new(RuntimeStats::default()),
                rng: Mutex::new(rng),
                in_flight: AtomicU64::new(0),
            }),
        }
    }

    /// Counters, readable while the worker runs.
    pub fn stats(&self) -> Arc<RuntimeStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Polls until `shutdown`, then drains (see the module's doc). Fails only when the queue
    /// is gone; other receive errors are logged and retried after a backoff.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), RuntimeError> {
        let permits = Arc::new(Semaphore::new(
            self.shared.settings.batches_in_flight_max.max(1),
        ));
        let mut batches = JoinSet::new();
        let stop = signalled(shutdown.clone());
        tokio::pin!(stop);
        let mut backoff = Duration::from_secs(1);
        let result = loop {
            while let Some(joined) = batches.try_join_next() {
                log_join(joined);
            }
            let permit = tokio::select! {
                biased;
                () = &mut stop => break Ok(()),
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break Ok(()),
                },
            };
            let polled = tokio::select! {
                biased;
                () = &mut stop => break Ok(()),
                polled = self.receive() => polled,
            };
            match polled {
                Ok(messages) => {
                    backoff = Duration::from_secs(1);
                    if !messages.is_empty() {
                        let shared = Arc::clone(&self.shared);
                        batches.spawn(run_batch(shared, messages, permit, shutdown.clone()));
                    }
                }
                Err(Fatal(error)) => break Err(error),
                Err(Transient(error)) => {
                    tracing::warn!(queue = %self.shared.queue, %error, ?backoff, "SQS receive failed; polling again after a pause");
                    tokio::select! {
                        () = &mut stop => break Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(RECEIVE_BACKOFF_MAX);
                }
            }
        };
        while let Some(joined) = batches.join_next().await {
            log_join(joined);
        }
        result
    }

    /// One long poll.
    async fn receive(&self) -> Result<Vec<Received>, PollError> {
        let shared = &self.shared;
        let out = shared
            .client
            .receive_message()
            .queue_url(&shared.queue_url)
            .max_number_of_messages(i32::from(shared.settings.batch_size_max.clamp(1, 10)))
            .wait_time_seconds(i32::from(shared.settings.wait_time_seconds.min(20)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|error| {
                let fatal = error.code() == Some("AWS.SimpleQueueService.NonExistentQueue")
                    || error.code() == Some("QueueDoesNotExist");
                let text = format!(
                    "receive from `{}`: {}",
                    shared.queue,
                    DisplayErrorContext(error)
                );
                if fatal {
                    Fatal(RuntimeError::Bus(BusError::Backend(text)))
                } else {
                    Transient(text)
                }
            })?;
        let messages: Vec<Received> = out
            .messages()
            .iter()
            .filter_map(|m| received(&shared.queue, m))
            .collect();
        shared.stats.add_fetched(messages.len() as u64);
        Ok(messages)
    }
}

/// Why a poll failed.
enum PollError {
    /// The queue is gone: the worker stops with this error.
    Fatal(RuntimeError),
    /// Anything else (network, throttling): poll again after a pause.
    Transient(String),
}
use PollError::{Fatal, Transient};

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        tracing::error!(%error, "an SQS batch task failed; its messages come back after their visibility timeout");
    }
}

/// Handles one batch, message after message, then settles it.
async fn run_batch(
    shared: Arc<Shared>,
    batch: Vec<Received>,
    _permit: OwnedSemaphorePermit,
    shutdown: Shutdown,
) {
    let count = batch.len() as u64;
    let in_flight = shared.in_flight.fetch_add(count, Ordering::Relaxed) + count;
    shared.stats.set_gauges(in_flight, 0);
    let deadline = Instant::now() + shared.settings.batch_timeout;
    let mut handled = Vec::with_capacity(batch.len());
    let mut released = Vec::new();
    for message in batch {
        if *shutdown.borrow() {
            released.push(message);
            continue;
        }
        let outcome = handle_one(&shared, &message, deadline).await;
        handled.push((message, outcome));
    }
    settle_batch(&shared, handled, released).await;
    let in_flight = shared
        .in_flight
        .fetch_sub(count, Ordering::Relaxed)
        .saturating_sub(count);
    shared.stats.set_gauges(in_flight, 0);
}

/// Runs the handler on `message` until `deadline`; a panic or the deadline is a `Retry`.
async fn handle_one(shared: &Shared, message: &Received, deadline: Instant) -> Outcome {
    let handling = caught(shared.consumer.handler.as_ref(), &message.message);
    match tokio::time::timeout_at(deadline, handling).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(reason)) => {
            shared.stats.add_panic();
            Outcome::Retry(reason)
        }
        Err(_) => Outcome::retry(format!(
            "not finished within the batch timeout of {:?}",
            shared.settings.batch_timeout
        )),
    }
}

/// The handler's outcome, or the reason of its panic.
pub(crate) async fn caught(
    handler: &dyn edalab_bus::runtime::Handler,
    message: &edalab_bus::Message,
) -> Result<Outcome, String> {
    AssertUnwindSafe(handler.handle(message))
        .catch_unwind()
        .await
        .map_err(|panic| panic_reason(panic.as_ref()))
}

fn panic_reason(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    format!("handler panicked: {text}")
}

/// Decides each message's fate, calls `on_dead_letter` for last failures, then deletes and
/// changes visibility in one call each (see [`crate::settle`]).
async fn settle_batch(shared: &Shared, handled: Vec<(Received, Outcome)>, released: Vec<Received>) {
    let receive_count_max = shared.dead_letter.receive_count_max;
    let mut actions = Vec::with_capacity(handled.len() + released.len());
    let mut done = 0;
    for (message, outcome) in handled {
        let decision = {
            let mut rng = shared.rng.lock().unwrap_or_else(PoisonError::into_inner);
            let retry = &shared.settings.retry;
            settle::plan(
                &outcome,
                message.receive_count,
                receive_count_max,
                retry,
                &mut *rng,
            )
        };
        count(&shared.stats, &outcome, decision.last_failure.is_some());
        done += u64::from(outcome == Outcome::Done);
        if let Some(reason) = decision.last_failure {
            let letter = dead_letter(&message, reason);
            record_reason(shared.reasons.as_ref(), &letter).await;
            (shared.consumer.on_dead_letter)(letter).await;
        }
        actions.push((message.receipt_handle, decision.action));
    }
    shared.stats.add_done(done);
    let release = released.len();
    actions.extend(
        released
            .into_iter()
            .map(|m| (m.receipt_handle, Action::Visible { seconds: 0 })),
    );
    let applied = settle::apply(&shared.client, &shared.queue_url, &actions).await;
    if applied.deleted > 0 {
        shared.stats.add_commit();
    }
    if release > 0 {
        tracing::info!(queue = %shared.queue, released = release, "shutdown: unstarted messages released");
    }
    for failure in applied.failures {
        tracing::warn!(queue = %shared.queue, %failure, "settling refused; the message comes back after its visibility timeout");
    }
}

/// Records why `letter` is dead-lettered, in `reasons` if there are some; logs a failure
/// (the DLQ listing then says no reason was kept).
pub(crate) async fn record_reason(reasons: Option<&DeadLetterReasons>, letter: &DeadLetter) {
    let Some(reasons) = reasons else {
        return;
    };
    if let Err(error) = reasons.record(letter).await {
        tracing::warn!(queue = %letter.queue, message_id = ?letter.message_id, %error, "the dead letter's reason was not recorded");
    }
}

fn count(stats: &RuntimeStats, outcome: &Outcome, last_failure: bool) {
    match outcome {
        Outcome::Done => {}
        Outcome::Retry(_) if !last_failure => stats.add_retry(),
        Outcome::Retry(_) => {}
        Outcome::Reject(_) => stats.add_rejected(),
    }
    if last_failure {
        stats.add_dead_lettered(1);
    }
}

pub(crate) fn dead_letter(message: &Received, reason: String) -> DeadLetter {
    DeadLetter {
        queue: message.message.topic.to_string(),
        key: message.message.key.clone(),
        value: message.message.value.clone(),
        headers: message.message.headers.clone(),
        reason,
        attempts: message.receive_count,
        message_id: Some(message.message_id.clone()),
    }
}
