//! `send` on SQS: key, headers and value arrive; a record SQS could not carry is refused
//! before any call.

use std::time::Duration;

use edalab_aws::SqsQueues;
use edalab_aws::client::sqs_explicit;
use edalab_aws::testing::MiniStack;
use edalab_bus::port::headers;
use edalab_bus::runtime::Outcome;
use edalab_bus::{BusError, Queues, Record};
use tokio::sync::watch;

use crate::common::{QUEUE, consumer, depth, queues, spec, text, wait_until};

#[tokio::test]
async fn send_then_consume_delivers_key_headers_and_value() {
    let Some(ministack) = MiniStack::start_or_skip("send_then_consume_delivers") else {
        return;
    };
    let queues = queues(&ministack);
    queues.ensure(&spec()).await.unwrap();
    let records: Vec<Record> = (0..3)
        .map(|i| {
            Record::new(
                Some(format!("tx-{i}").into_bytes()),
                format!(r#"{{"n":{i}}}"#).into_bytes(),
            )
            .with_header(headers::EVENT_TYPE, "TransactionSubmitted")
            .with_header("traceparent", format!("00-{i:032x}-{i:016x}-01"))
        })
        .collect();
    let ids = queues.send(QUEUE, records).await.unwrap();
    assert_eq!(ids.len(), 3);

    let (consumer, seen, dead) = consumer(|_| Outcome::Done, Duration::ZERO);
    let (stop, shutdown) = watch::channel(false);
    let (task, stats) = queues.consume(&spec(), consumer, shutdown).await.unwrap();
    wait_until("3 messages are handled", || seen.lock().unwrap().len() == 3).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    let mut seen: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(m, _)| m.clone())
        .collect();
    seen.sort_by_key(text);
    for (i, message) in seen.iter().enumerate() {
        assert_eq!(&*message.topic, QUEUE);
        assert_eq!(message.partition, 0);
        assert_eq!(message.key.as_deref(), Some(format!("tx-{i}").as_bytes()));
        assert_eq!(text(message), format!(r#"{{"n":{i}}}"#));
        assert_eq!(
            message.header(headers::EVENT_TYPE),
            Some(&b"TransactionSubmitted"[..])
        );
        let trace = format!("00-{i:032x}-{i:016x}-01");
        assert_eq!(message.header("traceparent"), Some(trace.as_bytes()));
        // The id SQS gave it, as `event_id` (none was set) and hashed as the offset.
        let id = message
            .header(headers::EVENT_ID)
            .map(|v| String::from_utf8_lossy(v).into_owned());
        assert!(
            id.as_ref().is_some_and(|id| ids.contains(id)),
            "{id:?} in {ids:?}"
        );
        assert_eq!(message.offset, edalab_aws::message::offset_of(&id.unwrap()));
        assert_eq!(message.header(headers::ATTEMPT), Some(&b"1"[..]));
    }
    assert!(dead.lock().unwrap().is_empty());
    let snapshot = stats.snapshot();
    assert_eq!(
        (
            snapshot.messages_fetched_total,
            snapshot.messages_done_total
        ),
        (3, 3)
    );
    let url = queues.url(QUEUE).await.unwrap();
    assert_eq!(depth(&ministack.sqs(), &url).await, 0, "all deleted");
}

#[tokio::test]
async fn eleven_attributes_are_refused_before_any_call() {
    // Nothing listens on port 9: a call would fail with a connection error instead.
    let queues = SqsQueues::new(sqs_explicit("http://127.0.0.1:9", "us-east-1", "k", "s"));
    let mut record = Record::new(Some(b"k".to_vec()), b"{}".to_vec());
    for i in 0..10 {
        record = record.with_header(format!("h{i}"), "v");
    }
    let fine = Record::new(None, b"{}".to_vec());
    let error = queues.send(QUEUE, vec![fine, record]).await.unwrap_err();
    assert!(
        matches!(&error, BusError::UnsupportedRecord { queue, index: 1, .. } if queue == QUEUE),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "record 1 for queue `transactions` cannot be sent: it needs 11 message attributes \
         (the key and each distinct header), SQS allows 10"
    );
}
