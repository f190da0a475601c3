//! Every consumer group of a live `edalab up` is observable the same way (issue 20): after
//! traffic on the five systems (S0 transactions, S1 calculator, S2 intake, the lab's
//! ledger, S4 orders), `/metrics` has the seed's series for each group, labelled with its
//! service and group, the process's own series, and `promtool check metrics` finds no
//! naming problem in the page.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Process, edalab};

/// (service, group) of every consumer `edalab up` runs on embedded defaults.
const GROUPS: [(&str, &str); 7] = [
    ("transactions", "transactions-processor"),
    ("transactions", "transaction-processors"),
    ("calculator", "calculator-workers"),
    ("intake", "tp-order-worker"),
    ("ledger", "ledger"),
    ("orders", "payment-service"),
    ("orders", "order-tracking"),
];

/// The series each group must have, by metric name (histograms by their `_count`).
const PER_GROUP: [&str; 4] = [
    "edalab_messages_consumed_total",
    "edalab_message_latency_seconds_count",
    "edalab_processing_latency_seconds_count",
    "edalab_bus_bytes_out_total",
];

const ORDER_FILE: &str = r#"{
  "order_id": "ORD-OBS-001", "customer_id": "CUST-1",
  "created_at": "2026-01-07T10:00:00Z", "currency": "EUR", "amount": 10.0,
  "items": [{"sku": "SKU-1", "qty": 1, "unit_price": 10.0}]
}"#;

#[tokio::test]
async fn every_consumer_group_exports_the_seed_metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"]);
    let up = Process::start(command);
    traffic_on_the_five_systems(&up, &dir.path().join("data")).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let (page, missing) = loop {
        let page = reqwest::get(up.url("/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("text");
        let missing = missing_series(&page);
        if missing.is_empty() || Instant::now() > deadline {
            break (page, missing);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        missing.is_empty(),
        "series missing or at 0: {missing:#?}\n{page}"
    );
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "edalab_tokio_alive_tasks",
    ] {
        assert!(
            value_of(&page, name, &[]).is_some_and(|v| v > 0.0),
            "{name} missing or 0:\n{page}"
        );
    }
    // In whole seconds (the `metrics` facade's counters are integers): present, maybe 0.
    assert!(
        value_of(&page, "process_cpu_seconds_total", &[]).is_some(),
        "process_cpu_seconds_total missing:\n{page}"
    );
    promtool_finds_no_problem(&page);
    up.stop();
}

/// One request (or file) per system, each of which some consumer group handles.
async fn traffic_on_the_five_systems(up: &Process, data: &std::path::Path) {
    let http = reqwest::Client::new();
    let posts = [
        (
            "/transactions",
            json!({"amount": 100.5, "currency": "CAD", "accountFrom": "ACC-1", "accountTo": "ACC-2"}),
        ),
        (
            "/api/v1/calculator",
            json!({"operation": "add", "a": 5, "b": 3}),
        ),
        (
            "/api/v1/events/produce",
            json!({"event_type": "CompteOuvert", "count": 2}),
        ),
        (
            "/orders",
            json!({"userId": "u-1", "amount": 10.0, "items": ["book"]}),
        ),
    ];
    for (path, body) in posts {
        let response = http
            .post(up.url(path))
            .json(&body)
            .send()
            .await
            .expect("POST");
        assert!(
            response.status().is_success(),
            "POST {path}: {}",
            response.status()
        );
    }
    // S2: a file renamed into the inbox, as writers should.
    let inbox = data.join("inbox/orders");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let aside = data.join("order.json.partial");
    std::fs::write(&aside, ORDER_FILE).expect("write");
    std::fs::rename(&aside, inbox.join("order.json")).expect("rename");
}

/// `(group, metric)` pairs without a series above 0 on `page`.
fn missing_series(page: &str) -> Vec<(String, String)> {
    let mut missing = Vec::new();
    for (service, group) in GROUPS {
        for metric in PER_GROUP {
            let labels = [("service", service), ("group", group)];
            if !value_of(page, metric, &labels).is_some_and(|v| v > 0.0) {
                missing.push((group.to_owned(), metric.to_owned()));
            }
        }
        // The error counter exists from the start, at 0 until a failure.
        let labels = [("service", service), ("group", group)];
        if value_of(page, "edalab_processing_errors_total", &labels).is_none() {
            missing.push((
                group.to_owned(),
                "edalab_processing_errors_total".to_owned(),
            ));
        }
    }
    missing
}

/// The sum of `metric`'s samples on `page` whose labels include `labels` (`None`: none).
fn value_of(page: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut sum = None;
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, found) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
            None => (series, BTreeMap::new()),
        };
        let matches = name == metric
            && labels
                .iter()
                .all(|(k, v)| found.get(*k).is_some_and(|f| f == v));
        if let (true, Ok(value)) = (matches, value.parse::<f64>()) {
            sum = Some(sum.unwrap_or(0.0) + value);
        }
    }
    sum
}

/// `a="x",b="y"` → {a: x, b: y} (edalab's label values hold no quote or comma).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

/// `promtool check metrics` on `page`: no naming problem (units, `_total` on counters, ...).
/// promtool comes with Debian's `prometheus` package (`make check-tools`); under CI a
/// missing promtool fails the test, elsewhere it is said and skipped.
fn promtool_finds_no_problem(page: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if std::env::var("CI").is_err() => {
            eprintln!("promtool not run ({error}): `make check-tools` installs it");
            return;
        }
        Err(error) => panic!("promtool is required under CI: {error}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}",
        output.status
    );
}
