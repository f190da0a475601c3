//! Consuming on SQS: per-item settlement of a batch, the DLQ move by SQS's redrive policy
//! after `maxReceiveCount` receives, `Retry`'s delay, and shutdown.

use std::time::Duration;

use edalab_aws::WorkerSettings;
use edalab_aws::testing::MiniStack;
use edalab_bus::port::headers;
use edalab_bus::runtime::Outcome;
use edalab_bus::{Queues, Record};
use tokio::sync::watch;

use crate::common::{
    DLQ, QUEUE, consumer, depth, queues, receive_raw, spec, test_settings, text, wait_until,
};

fn records(values: &[&str]) -> Vec<Record> {
    values
        .iter()
        .map(|v| Record::new(Some(v.as_bytes().to_vec()), v.as_bytes().to_vec()))
        .collect()
}

#[tokio::test]
async fn a_rejected_item_reaches_the_dlq_after_three_receives_and_the_rest_are_deleted() {
    let Some(ministack) = MiniStack::start_or_skip("a_rejected_item_reaches_the_dlq") else {
        return;
    };
    let client = ministack.sqs();
    let queues = queues(&ministack);
    queues.ensure(&spec()).await.unwrap();
    let ids = queues
        .send(QUEUE, records(&["a", "b", "poison", "c", "d"]))
        .await
        .unwrap();
    let poison_id = ids[2].clone();

    let (consumer, seen, dead) = consumer(
        |m| match text(m).as_str() {
            "poison" => Outcome::reject("cannot parse `poison`"),
            _ => Outcome::Done,
        },
        Duration::ZERO,
    );
    let (stop, shutdown) = watch::channel(false);
    let (task, stats) = queues.consume(&spec(), consumer, shutdown).await.unwrap();
    let dlq_url = queues.url(DLQ).await.unwrap();
    let mut in_dlq = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while in_dlq.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing reached the DLQ"
        );
        in_dlq = receive_raw(&client, &dlq_url, 1).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    // The same message, moved by SQS after 3 receives (the 4th receive moved it).
    assert_eq!(in_dlq.len(), 1, "{in_dlq:?}");
    let (id, receive_count, body) = &in_dlq[0];
    assert_eq!((id, body.as_str()), (&poison_id, "poison"));
    assert!(
        *receive_count >= 4,
        "receive count in the DLQ: {receive_count}"
    );

    let seen = seen.lock().unwrap().clone();
    let attempts: Vec<String> = seen
        .iter()
        .filter(|(m, _)| text(m) == "poison")
        .map(|(m, _)| String::from_utf8_lossy(m.header(headers::ATTEMPT).unwrap()).into_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    let mut others: Vec<String> = seen
        .iter()
        .map(|(m, _)| text(m))
        .filter(|v| v != "poison")
        .collect();
    others.sort();
    assert_eq!(others, ["a", "b", "c", "d"], "each other item handled once");

    let dead = dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 1, "on_dead_letter called once: {dead:?}");
    assert_eq!(dead[0].queue, QUEUE);
    assert_eq!(dead[0].reason, "cannot parse `poison`");
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].message_id.as_deref(), Some(poison_id.as_str()));
    assert_eq!(dead[0].key.as_deref(), Some(&b"poison"[..]));

    let url = queues.url(QUEUE).await.unwrap();
    assert_eq!(
        depth(&client, &url).await,
        0,
        "the others deleted, the poison moved"
    );
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.messages_done_total, 4);
    assert_eq!(snapshot.messages_rejected_total, 3);
    assert_eq!(snapshot.messages_dead_lettered_total, 1);
}

#[tokio::test]
async fn retry_delays_the_redelivery() {
    let Some(ministack) = MiniStack::start_or_skip("retry_delays_the_redelivery") else {
        return;
    };
    let queues = queues(&ministack);
    queues.ensure(&spec()).await.unwrap();
    queues
        .send(QUEUE, records(&["flaky", "rejected"]))
        .await
        .unwrap();

    // `flaky` asks for a retry once (test settings: 1 s); `rejected` is rejected once, which
    // makes it visible again at once.
    let (consumer, seen, _dead) = consumer(
        |m| match m.header(headers::ATTEMPT) {
            Some(b"1") if text(m) == "flaky" => Outcome::retry("dependency down"),
            Some(b"1") => Outcome::reject("try again at once"),
            _ => Outcome::Done,
        },
        Duration::ZERO,
    );
    let (stop, shutdown) = watch::channel(false);
    let (task, stats) = queues.consume(&spec(), consumer, shutdown).await.unwrap();
    wait_until("both are handled twice", || seen.lock().unwrap().len() == 4).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    let seen = seen.lock().unwrap();
    let gap = |value: &str| {
        let times: Vec<_> = seen
            .iter()
            .filter(|(m, _)| text(m) == value)
            .map(|(_, t)| *t)
            .collect();
        times[1] - times[0]
    };
    assert!(
        gap("flaky") >= Duration::from_millis(950),
        "retried after {:?}",
        gap("flaky")
    );
    assert!(
        gap("flaky") < Duration::from_secs(10),
        "retried after {:?}",
        gap("flaky")
    );
    assert!(
        gap("rejected") < gap("flaky"),
        "reject {:?}, retry {:?}",
        gap("rejected"),
        gap("flaky")
    );
    assert_eq!(stats.snapshot().retries_total, 1);
}

#[tokio::test]
async fn shutdown_finishes_the_message_in_hand_and_releases_the_unstarted() {
    let Some(ministack) = MiniStack::start_or_skip("shutdown_releases_unstarted") else {
        return;
    };
    let client = ministack.sqs();
    let queues = queues(&ministack).with_worker_settings(WorkerSettings {
        batches_in_flight_max: 1,
        ..test_settings()
    });
    queues.ensure(&spec()).await.unwrap();
    queues
        .send(QUEUE, records(&["1", "2", "3", "4", "5"]))
        .await
        .unwrap();

    let (consumer, seen, _dead) = consumer(|_| Outcome::Done, Duration::from_millis(500));
    let (stop, shutdown) = watch::channel(false);
    let (task, _stats) = queues.consume(&spec(), consumer, shutdown).await.unwrap();
    wait_until("the first message is in hand", || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    stop.send(true).unwrap();
    let started = tokio::time::Instant::now();
    task.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drained in {:?}",
        started.elapsed()
    );

    let handled: Vec<String> = seen.lock().unwrap().iter().map(|(m, _)| text(m)).collect();
    let url = queues.url(QUEUE).await.unwrap();
    // Visible at once although the visibility timeout is 60 s: released, not abandoned.
    let mut released = Vec::new();
    for _ in 0..3 {
        released.extend(receive_raw(&client, &url, 1).await);
    }
    let mut bodies: Vec<String> = released.iter().map(|(_, _, body)| body.clone()).collect();
    bodies.extend(handled.iter().cloned());
    bodies.sort();
    assert_eq!(
        bodies,
        ["1", "2", "3", "4", "5"],
        "handled {handled:?}, released {released:?}"
    );
    assert!(!released.is_empty(), "handled {handled:?}");
    assert!(
        released.iter().all(|(_, count, _)| *count == 2),
        "{released:?}"
    );
    // The handled ones were deleted.
    assert_eq!(depth(&client, &url).await, released.len() as u64);
}

#[tokio::test]
async fn batches_run_concurrently_up_to_the_limit() {
    let Some(ministack) = MiniStack::start_or_skip("batches_run_concurrently") else {
        return;
    };
    let queues = queues(&ministack).with_worker_settings(WorkerSettings {
        batch_size_max: 1,
        batches_in_flight_max: 4,
        ..test_settings()
    });
    queues.ensure(&spec()).await.unwrap();
    let values: Vec<String> = (0..12).map(|i| i.to_string()).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    queues.send(QUEUE, records(&values)).await.unwrap();

    let (consumer, seen, _dead) = consumer(|_| Outcome::Done, Duration::from_millis(400));
    let (stop, shutdown) = watch::channel(false);
    let (task, stats) = queues.consume(&spec(), consumer, shutdown).await.unwrap();
    let mut in_flight_max = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stats.snapshot().messages_done_total < 12 {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        in_flight_max = in_flight_max.max(stats.snapshot().messages_in_flight);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(seen.lock().unwrap().len(), 12);
    assert!(
        (2..=4).contains(&in_flight_max),
        "in flight at most {in_flight_max}"
    );
}

#[tokio::test]
async fn a_deleted_queue_stops_the_worker_with_an_error_naming_it() {
    let Some(ministack) = MiniStack::start_or_skip("a_deleted_queue_stops_the_worker") else {
        return;
    };
    let queues = queues(&ministack);
    queues.ensure(&spec()).await.unwrap();
    let (consumer, _seen, _dead) = consumer(|_| Outcome::Done, Duration::ZERO);
    let (_stop, shutdown) = watch::channel(false);
    let (task, _stats) = queues.consume(&spec(), consumer, shutdown).await.unwrap();
    let url = queues.url(QUEUE).await.unwrap();
    ministack
        .sqs()
        .delete_queue()
        .queue_url(url)
        .send()
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(30), task).await;
    let error = ended
        .expect("the worker stops")
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(error.contains("receive from `transactions`"), "{error}");
}
