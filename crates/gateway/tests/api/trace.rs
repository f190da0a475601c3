//! A trace id crosses produce → bus (the embedded log) → consume; log lines carry the
//! service and trace id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::port::{ConsumerConfig, Message, Producer, Record, headers::TRACEPARENT};
use edalab_bus::runtime::{
    ConsumerRuntime, DlqRouting, Handler, Outcome, PerMessage, RuntimeConfig,
};
use edalab_gateway::telemetry::logging::JsonLine;
use edalab_gateway::telemetry::{InstrumentedBus, Measured, TraceParent, trace};

use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::port::{Admin, TopicConfig};

use crate::WAIT;

/// Remembers the trace context each message was handled in.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Option<TraceParent>>>>);

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, _message: &Message) -> Outcome {
        self.0.lock().unwrap().push(trace::current());
        Outcome::Done
    }
}

#[tokio::test]
async fn a_trace_id_crosses_produce_and_consume() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open the log");
    for (topic, partitions) in [("orders", 2), ("orders.dlq", 1)] {
        fake.create_topic(topic, TopicConfig::with_partitions(partitions))
            .await
            .expect("create topic");
    }
    let bus = InstrumentedBus::new(Arc::new(fake.clone()), "producer-svc");

    // Produced inside a request's trace.
    let root = TraceParent::new_root();
    trace::scope(root, async {
        bus.produce(
            "orders",
            vec![Record::new(Some(b"k1".to_vec()), b"{}".to_vec())],
        )
        .await
        .expect("produce");
    })
    .await;
    // Produced outside any trace: a new root is started.
    bus.produce(
        "orders",
        vec![Record::new(Some(b"k1".to_vec()), b"{}".to_vec())],
    )
    .await
    .expect("produce");

    // On the wire: a child of the request's span, same trace id.
    let mut probe = edalab_bus::port::Bus::consumer(
        &fake,
        ConsumerConfig::new("probe", vec!["orders".to_owned()]),
    )
    .await
    .expect("consumer");
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while messages.len() < 2 && tokio::time::Instant::now() < deadline {
        messages.extend(probe.poll(Duration::from_secs(1)).await.expect("poll"));
    }
    assert_eq!(messages.len(), 2);
    // Sorted by produce order: same key, same partition.
    messages.sort_by_key(|m| m.offset);
    probe.close().await.expect("close probe");
    let on_wire: Vec<TraceParent> = messages
        .iter()
        .map(|m| {
            let header = m.header(TRACEPARENT).expect("traceparent header");
            std::str::from_utf8(header)
                .expect("ascii")
                .parse()
                .expect("valid traceparent")
        })
        .collect();
    assert_eq!(on_wire[0].trace_id, root.trace_id);
    assert_ne!(on_wire[0].span_id, root.span_id);
    assert_ne!(on_wire[1].trace_id, root.trace_id);

    // Consumed by the real consumer runtime through the measured handler.
    let recorder = Recorder::default();
    let config = RuntimeConfig::new(
        ConsumerConfig::new("consumer-svc", vec!["orders".to_owned()]),
        DlqRouting::to_topic("orders.dlq"),
    );
    let runtime = ConsumerRuntime::new(
        Arc::new(fake.clone()),
        config,
        PerMessage(Measured::new(
            "consumer-svc",
            "consumer-group",
            recorder.clone(),
        )),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + WAIT;
    while recorder.0.lock().unwrap().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages not handled in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    task.await.expect("join").expect("runtime");
    fake.close().await.expect("close the log");

    let seen = recorder.0.lock().unwrap().clone();
    let mut by_trace: Vec<[u8; 16]> = seen
        .iter()
        .map(|c| c.expect("a trace in the handler").trace_id)
        .collect();
    by_trace.sort();
    let mut expected = vec![on_wire[0].trace_id, on_wire[1].trace_id];
    expected.sort();
    assert_eq!(
        by_trace, expected,
        "the handler runs in the producer's trace"
    );
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn json_log_lines_carry_service_and_trace_id() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .event_format(JsonLine {
            service: "ledger".to_owned(),
        })
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let context = TraceParent::new_root();
    trace::scope(context, async {
        tracing::info!(account = "FR76", amount = 12, "deposit applied");
    })
    .await;
    tracing::warn!("outside any trace");

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["service"], "ledger");
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["message"], "deposit applied");
    assert_eq!(lines[0]["trace_id"], context.trace_id_hex());
    assert_eq!(lines[0]["account"], "FR76");
    assert_eq!(lines[0]["amount"], 12);
    assert_eq!(lines[1]["service"], "ledger");
    assert!(lines[1].get("trace_id").is_none());
}
