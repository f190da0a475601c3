//! What the SQS tests share: the spec of the seeds' `transactions` queue, queues on a
//! ministack with fast test settings, a scripted handler that records what it saw, and a
//! consumer that records its dead letters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use edalab_aws::testing::MiniStack;
use edalab_aws::{SqsQueues, WorkerSettings};
use edalab_bus::runtime::{Handler, Outcome, RetryPolicy};
use edalab_bus::{DeadLetter, Message, QueueConsumer, QueueSpec, on_dead_letter};

pub const QUEUE: &str = "transactions";
pub const DLQ: &str = "transactions-dlq";

pub fn spec() -> QueueSpec {
    QueueSpec::seeded(QUEUE, DLQ)
}

/// Worker settings for tests: 1 s long polls (shutdown does not wait for them anyway),
/// 1 s retry delays, seeded jitter.
pub fn test_settings() -> WorkerSettings {
    WorkerSettings {
        wait_time_seconds: 1,
        retry: RetryPolicy {
            attempts_max: 3,
            retry_delay_ms_base: 1_000,
            retry_delay_ms_max: 1_000,
        },
        jitter_seed: Some(7),
        ..WorkerSettings::default()
    }
}

pub fn queues(ministack: &MiniStack) -> SqsQueues {
    SqsQueues::new(ministack.sqs()).with_worker_settings(test_settings())
}

/// What a [`Scripted`] handler saw: each message with the time it was handled.
pub type Seen = Arc<Mutex<Vec<(Message, tokio::time::Instant)>>>;

/// A handler answering by a script over each message, recording what it saw.
pub struct Scripted {
    pub seen: Seen,
    pub script: Box<dyn Fn(&Message) -> Outcome + Send + Sync>,
    pub pause: Duration,
}

#[async_trait]
impl Handler for Scripted {
    async fn handle(&self, message: &Message) -> Outcome {
        self.seen
            .lock()
            .unwrap()
            .push((message.clone(), tokio::time::Instant::now()));
        tokio::time::sleep(self.pause).await;
        (self.script)(message)
    }
}

/// A consumer running `script` (after `pause` per message); returns it with what it will see
/// and its dead letters.
pub fn consumer(
    script: impl Fn(&Message) -> Outcome + Send + Sync + 'static,
    pause: Duration,
) -> (QueueConsumer, Seen, Arc<Mutex<Vec<DeadLetter>>>) {
    let seen = Seen::default();
    let dead: Arc<Mutex<Vec<DeadLetter>>> = Arc::default();
    let sink = dead.clone();
    let consumer = QueueConsumer {
        group: "test-workers".to_owned(),
        dead_letter_group: "unused-on-sqs".to_owned(),
        handler: Arc::new(Scripted {
            seen: seen.clone(),
            script: Box::new(script),
            pause,
        }),
        on_dead_letter: on_dead_letter(move |letter| {
            let dead = sink.clone();
            async move { dead.lock().unwrap().push(letter) }
        }),
    };
    (consumer, seen, dead)
}

/// The value of a message as text.
pub fn text(message: &Message) -> String {
    String::from_utf8_lossy(&message.value).into_owned()
}

/// Waits (up to 60 s) until `condition` holds.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One attribute of a queue.
pub async fn attribute(
    client: &aws_sdk_sqs::Client,
    url: &str,
    name: QueueAttributeName,
) -> Option<String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap();
    out.attributes().and_then(|a| a.get(&name)).cloned()
}

/// Messages visible plus in flight on a queue.
pub async fn depth(client: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let mut total = 0;
    for name in [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ] {
        total += attribute(client, url, name)
            .await
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// A plain SDK receive (up to 10, waiting `wait_seconds`): `(MessageId, receive count, body)`.
pub async fn receive_raw(
    client: &aws_sdk_sqs::Client,
    url: &str,
    wait_seconds: i32,
) -> Vec<(String, u32, String)> {
    let out = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .map(|m| {
            let count = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (
                m.message_id().unwrap_or_default().to_owned(),
                count,
                m.body().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
