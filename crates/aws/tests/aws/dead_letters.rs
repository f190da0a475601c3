//! An SQS DLQ listed and redriven: listing leaves the messages in the DLQ, visible at once;
//! a redrive sends each back to the queue it failed on (with its attributes and its origin
//! id), deletes it from the DLQ, and the handler then takes it once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use edalab_aws::dynamo::DeadLetterReasons;
use edalab_aws::testing::MiniStack;
use edalab_bus::runtime::Outcome;
use edalab_bus::{Queues, Record};
use tokio::sync::watch;

use crate::common::{DLQ, QUEUE, consumer, depth, queues, spec, text, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_listed_then_redriven_and_handled_once() {
    let Some(ministack) = MiniStack::start_or_skip("SQS DLQ list and redrive") else {
        return;
    };
    let client = ministack.sqs();
    let reasons = DeadLetterReasons::open(aws_sdk_dynamodb::Client::new(&ministack.sdk_config()))
        .await
        .unwrap();
    let queues = queues(&ministack).with_reasons(reasons.clone());
    queues.ensure(&spec()).await.unwrap();
    let record = Record::new(Some(b"k-1".to_vec()), b"flaky".to_vec()).with_header("trace", "t-1");
    let sent = queues.send(QUEUE, vec![record]).await.unwrap();

    // Rejected until `fixed`: SQS moves it to the DLQ after its third receive.
    let fixed = Arc::new(AtomicBool::new(false));
    let flag = fixed.clone();
    let (consumer, seen, _) = consumer(
        move |_| match flag.load(Ordering::SeqCst) {
            true => Outcome::Done,
            false => Outcome::reject("not yet"),
        },
        Duration::ZERO,
    );
    let (stop, shutdown) = watch::channel(false);
    let (task, _) = queues.consume(&spec(), consumer, shutdown).await.unwrap();
    let dlq_url = queues.url(DLQ).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while depth(&client, &dlq_url).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing reached the DLQ"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let handled_before = seen.lock().unwrap().len();
    assert_eq!(handled_before, 3, "three receives before the move");

    let listed = queues.list_dead_letters(DLQ, 10).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let letter = &listed[0];
    assert_eq!(letter.body, "flaky");
    assert_eq!(letter.origin_message_id, sent[0]);
    assert_eq!(letter.source_queue.as_deref(), Some(QUEUE));
    assert_eq!(
        letter.attributes.get("trace").map(String::as_str),
        Some("t-1")
    );
    // The worker recorded why, under the MessageId SQS kept in the DLQ.
    let recorded = reasons
        .reasons(std::slice::from_ref(&letter.message_id))
        .await
        .unwrap();
    let reason = recorded.get(&letter.message_id).expect("a reason");
    assert_eq!(reason.reason, "not yet");
    assert_eq!(reason.queue, QUEUE);
    assert_eq!(reason.attempts, 3);
    // A look, not a take: listed again at once.
    assert_eq!(queues.list_dead_letters(DLQ, 10).await.unwrap().len(), 1);

    fixed.store(true, Ordering::SeqCst);
    // The emulator has no StartMessageMoveTask: the redrive copies.
    let report = queues.redrive(DLQ, 50).await.unwrap();
    assert_eq!(report.moved, 1, "{report:?}");
    assert_eq!(report.moved_to.get(QUEUE), Some(&1));
    wait_until("the redriven message is handled", || {
        seen.lock().unwrap().len() == handled_before + 1
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    let (again, _) = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(text(&again), "flaky");
    assert_eq!(again.key.as_deref(), Some(b"k-1".as_slice()));
    assert_eq!(again.header("trace"), Some(b"t-1".as_slice()));
    // Its event id is still the first MessageId: a handler sees a redelivery.
    assert_eq!(again.header("event_id"), Some(sent[0].as_bytes()));
    assert_eq!(depth(&client, &dlq_url).await, 0, "the DLQ is empty");
    let queue_url = queues.url(QUEUE).await.unwrap();
    assert_eq!(depth(&client, &queue_url).await, 0, "deleted once handled");
}
