//! `edalab bench sqs`'s two loops over the same queue and messages, so their ratio says what
//! edalab's consumer costs on top of SQS itself:
//! - **raw**: the plain SDK loop a user would write — `ReceiveMessage` (10, long poll) then
//!   `DeleteMessageBatch`, with as many pollers as the worker's batches in flight;
//! - **worker**: [`crate::SqsWorker`] through the [`Queues`] port with a handler that only
//!   counts, as a pipeline consumes (permits, mapping, `settle`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use edalab_bus::runtime::{Handler, Outcome};
use edalab_bus::{Message, QueueConsumer, QueueSpec, Queues, Record, on_dead_letter};

use crate::SqsQueues;

/// Longest wait for one loop to see all its messages.
const LOOP_TIMEOUT: Duration = Duration::from_secs(600);

/// Sends `count` messages of `size` bytes to `queue`, 10 per call, `concurrency` calls at once.
pub async fn fill(
    sqs: &SqsQueues,
    queue: &str,
    count: usize,
    size: usize,
    concurrency: usize,
) -> Result<(), String> {
    let body = "x".repeat(size.max(1));
    let batches: Vec<Vec<Record>> = (0..count)
        .map(|i| {
            Record::new(
                Some(format!("k{i}").into_bytes()),
                body.clone().into_bytes(),
            )
        })
        .collect::<Vec<_>>()
        .chunks(10)
        .map(<[Record]>::to_vec)
        .collect();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for batch in batches {
        let (sqs, queue) = (sqs.clone(), queue.to_owned());
        let permit = semaphore.clone().acquire_owned().await;
        tasks.spawn(async move {
            let _permit = permit;
            sqs.send(&queue, batch).await.map_err(|e| e.to_string())
        });
    }
    while let Some(sent) = tasks.join_next().await {
        sent.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// The raw loop: `pollers` tasks receive and delete until `count` messages are deleted; the
/// time until the delete that reached `count` returned (the pollers' last empty long polls
/// are not counted).
pub async fn raw(
    sqs: &SqsQueues,
    queue: &str,
    count: u64,
    pollers: usize,
) -> Result<Duration, String> {
    let url = sqs.url(queue).await.map_err(|e| e.to_string())?;
    let deleted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..pollers.max(1) {
        let (client, url, deleted) = (sqs.client().clone(), url.clone(), deleted.clone());
        tasks.spawn(async move {
            let mut reached = None;
            while deleted.load(Ordering::Relaxed) < count {
                if started.elapsed() > LOOP_TIMEOUT {
                    return Err(format!("raw loop: not done within {LOOP_TIMEOUT:?}"));
                }
                let n = receive_and_delete(&client, &url).await?;
                if n > 0 && deleted.fetch_add(n, Ordering::Relaxed) + n >= count {
                    reached = Some(started.elapsed());
                }
            }
            Ok::<_, String>(reached)
        });
    }
    let mut reached = None;
    while let Some(done) = tasks.join_next().await {
        reached = reached.or(done.map_err(|e| e.to_string())??);
    }
    reached.ok_or_else(|| "raw loop: ended without reaching the count".to_owned())
}

async fn receive_and_delete(client: &aws_sdk_sqs::Client, url: &str) -> Result<u64, String> {
    let received = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .map_err(|e| format!("ReceiveMessage: {e}"))?;
    let entries: Vec<DeleteMessageBatchRequestEntry> = received
        .messages()
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle()?)
                .build()
                .ok()
        })
        .collect();
    if entries.is_empty() {
        return Ok(0);
    }
    let deleted = client
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| format!("DeleteMessageBatch: {e}"))?;
    Ok(deleted.successful().len() as u64)
}

/// Counts the messages it is given, and says when it has seen `target`.
struct Counting {
    seen: AtomicU64,
    target: u64,
    done: tokio::sync::Notify,
}

#[async_trait]
impl Handler for Counting {
    async fn handle(&self, _: &Message) -> Outcome {
        if self.seen.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.done.notify_one();
        }
        Outcome::Done
    }
}

/// The worker loop: `spec`'s queue consumed until `count` messages were handled, then
/// stopped; the time until it returned, every handled message deleted (its stop drops a long
/// poll at once and settles the batches in hand).
pub async fn worker(sqs: &SqsQueues, spec: &QueueSpec, count: u64) -> Result<Duration, String> {
    let counting = Arc::new(Counting {
        seen: AtomicU64::new(0),
        target: count,
        done: tokio::sync::Notify::new(),
    });
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let consumer = QueueConsumer {
        group: "edalab-bench".to_owned(),
        dead_letter_group: "edalab-bench-dlq".to_owned(),
        handler: counting.clone(),
        on_dead_letter: on_dead_letter(|_| async {}),
    };
    let started = Instant::now();
    let (task, _) = sqs
        .consume(spec, consumer, shutdown)
        .await
        .map_err(|e| e.to_string())?;
    let finished = tokio::time::timeout(LOOP_TIMEOUT, counting.done.notified()).await;
    let _ = stop.send(true);
    task.await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    finished.map_err(|_| format!("worker loop: not done within {LOOP_TIMEOUT:?}"))?;
    Ok(elapsed)
}

/// Deletes the bench's queue and its DLQ.
pub async fn remove(sqs: &SqsQueues, spec: &QueueSpec) {
    let names = std::iter::once(spec.name.as_str())
        .chain(spec.dead_letter.as_ref().map(|d| d.name.as_str()));
    for name in names {
        if let Ok(url) = sqs.url(name).await {
            let _ = sqs.client().delete_queue().queue_url(url).send().await;
        }
    }
}

/// Invoke times of a deployed function: the first after a configuration change (a cold
/// start: Lambda, and the emulator, start a new environment for it), then `warm` more.
/// The function is given an empty SQS batch, which every queue function answers at once.
pub async fn lambda_invokes(
    sdk: &aws_config::SdkConfig,
    function: &str,
    warm: usize,
) -> Result<(Duration, Vec<Duration>), String> {
    let lambda = &aws_sdk_lambda::Client::new(sdk);
    let configuration = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| crate::deploy::failure("GetFunctionConfiguration", function, e))?;
    let mut variables = configuration
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_default();
    variables.insert("EDALAB_BENCH_NONCE".to_owned(), nonce);
    let environment = aws_sdk_lambda::types::Environment::builder()
        .set_variables(Some(variables))
        .build();
    lambda
        .update_function_configuration()
        .function_name(function)
        .environment(environment)
        .send()
        .await
        .map_err(|e| crate::deploy::failure("UpdateFunctionConfiguration", function, e))?;
    let cold = invoke(lambda, function).await?;
    let mut warms = Vec::with_capacity(warm);
    for _ in 0..warm {
        warms.push(invoke(lambda, function).await?);
    }
    Ok((cold, warms))
}

async fn invoke(lambda: &aws_sdk_lambda::Client, function: &str) -> Result<Duration, String> {
    let started = Instant::now();
    let out = lambda
        .invoke()
        .function_name(function)
        .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"Records":[]}"#))
        .send()
        .await
        .map_err(|e| crate::deploy::failure("Invoke", function, e))?;
    let elapsed = started.elapsed();
    if let Some(error) = out.function_error() {
        let payload = out
            .payload()
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .unwrap_or_default();
        return Err(format!("{function} answered {error}: {payload}"));
    }
    Ok(elapsed)
}
