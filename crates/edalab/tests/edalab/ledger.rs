//! The ledger wired into the real binary: a bus filled beforehand with 5 000 simulator
//! banking events (banking-day scenario), `edalab up` applies them (lag reaches 0, the
//! REST routes answer with decimal-string balances), stops cleanly on SIGTERM; then
//! `edalab check ledger` passes, and fails once a balance is corrupted in SQLite.

use std::collections::BTreeMap;
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::{Admin, Producer, Record, TopicConfig};
use edalab_domain::events::topics;
use edalab_services::simulator::items::BankingOperation;
use edalab_services::simulator::{ItemEncoder, ManualClock, Payload, Scenario, Simulator};

use crate::support::{Process, edalab};

const EVENTS_N: usize = 5_000;
const SEED: u64 = 42;

/// Produces `EVENTS_N` banking events keyed by account; returns the opened accounts.
async fn fill_bus(data_dir: &std::path::Path) -> Vec<String> {
    let bus = EmbeddedBus::open(data_dir, LogConfig::default()).expect("open bus");
    for topic in topics::BANKING_EVENTS {
        bus.create_topic(topic, TopicConfig::with_partitions(3))
            .await
            .expect("create topic");
    }
    let scenario = Scenario::builtin("banking-day").expect("scenario");
    let clock = ManualClock::stepping(ManualClock::default_start(), Duration::from_millis(1));
    let mut simulator = Simulator::new(scenario, SEED, clock).expect("simulator");
    let encoder = ItemEncoder::builtin().expect("encoder");
    let mut by_topic: BTreeMap<&'static str, Vec<Record>> = BTreeMap::new();
    let mut opened = Vec::new();
    let mut produced = 0;
    while produced < EVENTS_N {
        for item in simulator.next_batch(1_024) {
            if produced == EVENTS_N {
                break;
            }
            let Payload::Banking(operation) = &item.payload else {
                continue;
            };
            if let BankingOperation::OpenAccount { account_id, .. } = operation {
                opened.push(account_id.to_string());
            }
            let value = encoder.encode(&item).expect("encode");
            by_topic
                .entry(item.topic())
                .or_default()
                .push(Record::new(Some(item.key.clone().into_bytes()), value));
            produced += 1;
        }
    }
    for (topic, records) in by_topic {
        for chunk in records.chunks(1_000) {
            bus.produce(topic, chunk.to_vec()).await.expect("produce");
        }
    }
    bus.close().await.expect("close bus");
    assert!(!opened.is_empty(), "the scenario opens accounts");
    opened
}

fn check_ledger(dir: &std::path::Path) -> std::process::Output {
    edalab(dir)
        .args(["--data-dir", "data", "check", "ledger"])
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run edalab check ledger")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_applies_the_banking_stream_and_check_ledger_reconciles_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let opened = fill_bus(&data).await;

    let mut command = edalab(dir.path());
    command.args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"]);
    let Process {
        mut child,
        base,
        lines: lines_rx,
        ..
    } = Process::start(command);
    let health: serde_json::Value = reqwest::get(format!("{base}/api/v1/health"))
        .await
        .expect("GET health")
        .json()
        .await
        .expect("health JSON");
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["store"]["backend"], "sqlite", "{health}");
    assert_eq!(health["postgres"], "connected", "{health}");

    // Applied: the lag of the ledger group reaches 0.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last_metrics = String::new();
    loop {
        last_metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .unwrap_or(last_metrics);
        if edalab::ledger_lag(&last_metrics) == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ledger lag never reached 0:\n{}",
            last_metrics
                .lines()
                .filter(|l| l.contains("lag") || l.contains("ledger"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        last_metrics.contains("service=\"ledger\""),
        "ledger metrics are exported"
    );
    let applied: f64 = last_metrics
        .lines()
        .filter(|l| {
            l.starts_with("edalab_ledger_events_total{") && l.contains("outcome=\"applied\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        applied > 0.0,
        "edalab_ledger_events_total{{outcome=\"applied\"}} counts the applied events"
    );

    // REST: an opened account, under /api/v1 and /api/v1/bancaire.
    for prefix in ["/api/v1", "/api/v1/bancaire"] {
        let account = &opened[0];
        let response = reqwest::get(format!("{base}{prefix}/comptes/{account}"))
            .await
            .expect("GET compte");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{prefix}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        let solde = body["solde"].as_str().expect("solde is a decimal string");
        rust_decimal::Decimal::from_str(solde).expect("solde parses as a decimal");
        let response = reqwest::get(format!(
            "{base}{prefix}/comptes/{account}/transactions?limit=5"
        ))
        .await
        .expect("GET transactions");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{prefix}");
    }
    let openapi = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .expect("GET openapi")
        .text()
        .await
        .expect("openapi text");
    for path in [
        "/api/v1/comptes/{id}",
        "/api/v1/comptes/{id}/transactions",
        "/api/v1/clients/{client_id}/comptes",
        "/api/v1/bancaire/comptes/{id}",
    ] {
        assert!(
            openapi.contains(&format!("\"{path}\"")),
            "{path} documented"
        );
    }
    let missing = reqwest::get(format!(
        "{base}/api/v1/comptes/00000000-0000-0000-0000-000000000000"
    ))
    .await
    .expect("GET unknown");
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);

    // Graceful stop: exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "edalab up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    let rest: Vec<String> = lines_rx.try_iter().collect();
    assert!(rest.join("\n").contains("stopped cleanly"), "{rest:?}");

    // The check passes on the applied stream...
    let output = check_ledger(dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("events on topics   {EVENTS_N}")),
        "{stdout}"
    );
    assert!(stdout.contains("mismatches         0"), "{stdout}");

    // ...and fails on a corrupted balance, naming it.
    {
        let db = rusqlite::Connection::open(data.join("ledger.sqlite")).expect("open sqlite");
        let changed = db
            .execute(
                "UPDATE comptes SET solde_cents = solde_cents + 1234 WHERE id = ?1",
                [&opened[0]],
            )
            .expect("corrupt a balance");
        assert_eq!(changed, 1);
    }
    let output = check_ledger(dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "check passed on a corrupted balance:\n{stdout}"
    );
    assert!(
        stdout.contains(&opened[0]),
        "the mismatch names the account:\n{stdout}"
    );
    assert!(stderr.contains("mismatch"), "{stderr}");
}
