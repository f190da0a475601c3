//! OTLP export (`otlp.enabled`) to a real OTLP/HTTP collector in the test (axum on port 0,
//! decoding the protobuf the exporter POSTs to `/v1/traces`): a request carrying a
//! `traceparent` is exported as an `http.request` span of that trace, whose parent is the
//! caller's span; the context the gateway hands back names that exported span; a record
//! produced inside the request carries it, and its consumer's span continues the trace.
//!
//! Its own test binary: the subscriber is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::port::{Admin, Bus, Message, Record, TopicConfig};
use edalab_bus::runtime::{
    ConsumerRuntime, DlqRouting, Handler, Outcome, PerMessage, RuntimeConfig,
};
use edalab_gateway::GatewaySettings;
use edalab_gateway::config::{LogLevel, OtlpConfig};
use edalab_gateway::telemetry::{self, InstrumentedBus, Measured, TraceParent};
use edalab_gateway::{AppState, Mount};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// A span as the collector received it.
#[derive(Clone, Debug)]
struct Received {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A minimal OTLP/HTTP trace collector.
async fn spawn_collector() -> (String, Arc<Mutex<Vec<Received>>>) {
    let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = Arc::clone(&spans);
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut sink = sink.lock().unwrap();
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            sink.push(Received {
                                name: span.name,
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent_span_id: hex(&span.parent_span_id),
                            });
                        }
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}"), spans)
}

/// Produces one record to `orders` inside the request (through the instrumented bus).
fn produce_mount(bus: Arc<dyn Bus>) -> Mount {
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    /// Produces one record.
    #[utoipa::path(post, path = "/api/v1/test/produce", responses((status = 200, description = "Produced")))]
    async fn produce(
        axum::extract::State(bus): axum::extract::State<Arc<dyn Bus>>,
    ) -> &'static str {
        bus.produce(
            "orders",
            vec![Record::new(Some(b"k".to_vec()), b"{}".to_vec())],
        )
        .await
        .expect("produce");
        "ok"
    }
    Mount::new(
        "test",
        OpenApiRouter::new()
            .routes(routes!(produce))
            .with_state(bus),
    )
}

/// Remembers the trace each message was handled in.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Option<TraceParent>>>>);

#[async_trait::async_trait]
impl Handler for Seen {
    async fn handle(&self, _message: &Message) -> Outcome {
        self.0.lock().unwrap().push(telemetry::trace::current());
        Outcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_in_the_callers_trace() {
    let (collector, spans) = spawn_collector().await;
    let otlp = OtlpConfig {
        enabled: true,
        endpoint: collector.clone(),
        timeout_ms: 5_000,
    };
    let log = edalab_gateway::config::LogConfig {
        level: LogLevel::Warn,
        ..Default::default()
    };
    let guard = telemetry::init("otlp-test", &log, &otlp).expect("install telemetry");
    assert!(guard.exports());

    let dir = tempfile::tempdir().expect("temp dir");
    let embedded = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open bus");
    for topic in ["orders", "orders.dlq"] {
        embedded
            .create_topic(topic, TopicConfig::with_partitions(1))
            .await
            .expect("topic");
    }
    let raw: Arc<dyn Bus> = Arc::new(embedded.clone());
    let producer: Arc<dyn Bus> = Arc::new(InstrumentedBus::new(Arc::clone(&raw), "api"));
    let mut config = GatewaySettings::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    let state = AppState::builder(&config, Arc::clone(&raw))
        .mount(produce_mount(producer))
        .build()
        .expect("state");
    let gateway = edalab_gateway::Gateway::start(&config, state)
        .await
        .expect("start");

    // A consumer of `orders`, measured (continues the message's trace).
    let seen = Seen::default();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let runtime = ConsumerRuntime::new(
        Arc::clone(&raw),
        RuntimeConfig::new(
            edalab_bus::ConsumerConfig::new("otlp-test", vec!["orders".to_owned()]),
            DlqRouting::to_topic("orders.dlq"),
        ),
        PerMessage(Measured::new("worker", "worker-group", seen.clone())),
    );
    let consumer = tokio::spawn(runtime.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));

    let sent_trace = "0af7651916cd43dd8448eb211c80319c";
    let sent_span = "b7ad6b7169203331";
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/v1/test/produce", gateway.addr()))
        .header("traceparent", format!("00-{sent_trace}-{sent_span}-01"))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let handed_back: TraceParent = response.headers()["traceparent"]
        .to_str()
        .expect("text")
        .parse()
        .expect("valid");
    assert_eq!(handed_back.trace_id_hex(), sent_trace);

    // The consumer ran in the same trace.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.0.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the record was not consumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let consumed = seen.0.lock().unwrap()[0].expect("handled in a trace");
    assert_eq!(consumed.trace_id_hex(), sent_trace);

    // Exported: http.request (parent: the caller's span, id: the one handed back),
    // produce (child of http.request) and consume, all in the caller's trace.
    let deadline = Instant::now() + Duration::from_secs(60);
    let find = |name: &str| {
        spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.name == name && s.trace_id == sent_trace)
            .cloned()
    };
    loop {
        let g = &guard;
        tokio::task::block_in_place(|| g.flush());
        if find("http.request").is_some() && find("produce").is_some() && find("consume").is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spans not exported; received: {:?}",
            spans.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let http = find("http.request").unwrap();
    assert_eq!(http.parent_span_id, sent_span);
    assert_eq!(http.span_id, handed_back.span_id_hex());
    let produce = find("produce").unwrap();
    // Under http.request (the router's request-log span may sit in between).
    let received = spans.lock().unwrap().clone();
    let mut ancestor = produce.parent_span_id.clone();
    let mut chain = Vec::new();
    while ancestor != http.span_id {
        let parent = received
            .iter()
            .find(|s| s.span_id == ancestor)
            .unwrap_or_else(|| panic!("produce is not under http.request: {chain:?}"));
        chain.push(parent.name.clone());
        ancestor = parent.parent_span_id.clone();
    }
    let consume = find("consume").unwrap();
    assert_eq!(consume.parent_span_id, produce.span_id);
    assert_eq!(consume.span_id, consumed.span_id_hex());

    let _ = stop_tx.send(true);
    consumer.await.expect("join").expect("runtime");
    gateway.shutdown().await.expect("stop");
    embedded.close().await.expect("close");
    drop(guard);
}
