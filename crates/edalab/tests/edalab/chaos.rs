//! Crash safety (issue 7):
//!
//! 1. `edalab chaos --kills 20`: the real binary SIGKILLs a child `edalab up` 20 times
//!    during simulations; every acknowledged event must be decided exactly once, money
//!    conserved, no negative balance, the ledger check clean.
//! 2. S3-17's chaos case: the ledger consumer is stopped for 10 s in the middle of a
//!    simulation, then restarted; every event is processed, none lost (the reconciliation
//!    finds every event on the topics decided once). The ledger is wired here the way
//!    `edalab up` wires it (`crates/edalab/src/ledger.rs::start`: group `ledger`, the seven
//!    banking topics from the earliest offset, positions in the store, DLQ `system.dlq`).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::runtime::{ConsumerRuntime, DlqRouting, RunSummary, RuntimeConfig, RuntimeError};
use edalab_bus::{Admin, Bus, TopicConfig};
use edalab_domain::events::topics;
use edalab_schema::SchemaCatalog;
use edalab_services::ledger::{LedgerHandler, LedgerPositions, check_ledger};
use edalab_services::simulator::{ControlOptions, SimulationControl, StartRequest};
use edalab_store::LedgerStore;
use edalab_store::sqlite::{SqliteConfig, SqliteLedgerStore};
use tokio::sync::watch;

fn edalab() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_edalab"));
    for (name, _) in std::env::vars() {
        if name.starts_with("EDALAB") {
            command.env_remove(name);
        }
    }
    command
}

#[test]
fn chaos_twenty_kills_lose_and_double_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Run from the temp dir so no config/local.yaml of the checkout is picked up.
    let output = edalab()
        .current_dir(dir.path())
        .args([
            "--data-dir",
            "data",
            "chaos",
            "--kills",
            "20",
            "--seed",
            "20261123",
        ])
        .args(["--uptime-ms-min", "200", "--uptime-ms-max", "900", "--json"])
        .output()
        .expect("run edalab chaos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "edalab chaos failed: {stderr}\n{stdout}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
    assert_eq!(report["kills"], 20, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["doubled"], 0, "{report}");
    assert_eq!(report["negative_balances"], 0, "{report}");
    assert_eq!(report["money_conserved"], true, "{report}");
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report}");
    let acknowledged = report["events_acknowledged"].as_u64().expect("a count");
    let by_status = report["events_acknowledged_by_status"]
        .as_u64()
        .expect("a count");
    assert!(
        acknowledged > 0 && by_status > 0,
        "the simulations produced events: {report}"
    );
    let applied = report["applied"].as_u64().expect("a count");
    let refused = report["refused"].as_u64().expect("a count");
    assert_eq!(
        applied + refused,
        acknowledged,
        "every acknowledged event decided once: {report}"
    );
    assert!(applied > 0, "{report}");

    // The checker itself must see what it guards against: on copies of the kept data
    // directory, one decided event is forgotten (a loss) and one transaction is written
    // twice (a double); `chaos --verify-only` must fail and count exactly that.
    let data = dir.path().join("data");
    let lost = dir.path().join("lost");
    copy_dir(&data, &lost);
    tamper(
        &lost,
        "DELETE FROM inbox WHERE seq = (SELECT min(seq) FROM inbox WHERE outcome = 'REJECTED')",
    );
    let report = verify_only_fails(dir.path(), "lost");
    assert_eq!(
        report["lost"], 1,
        "the forgotten event is reported lost: {report}"
    );
    assert_eq!(report["doubled"], 0, "{report}");

    let doubled = dir.path().join("doubled");
    copy_dir(&data, &doubled);
    tamper(
        &doubled,
        "INSERT INTO transactions (id, compte_id, type, montant_cents, devise, reference, created_at_us) \
         SELECT id || '-again', compte_id, type, montant_cents, devise, reference, created_at_us \
         FROM transactions WHERE rowid = (SELECT min(rowid) FROM transactions)",
    );
    let report = verify_only_fails(dir.path(), "doubled");
    assert_eq!(
        report["doubled"], 1,
        "the repeated transaction is reported doubled: {report}"
    );
    assert_eq!(report["lost"], 0, "{report}");

    // And the untouched directory still verifies.
    let output = edalab()
        .current_dir(dir.path())
        .args(["--data-dir", "data", "chaos", "--verify-only", "--json"])
        .output()
        .expect("run edalab chaos --verify-only");
    assert!(
        output.status.success(),
        "the kept directory verifies: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the data directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

fn tamper(dir: &std::path::Path, sql: &str) {
    let connection =
        rusqlite::Connection::open(dir.join("ledger.sqlite")).expect("open the kept ledger");
    let changed = connection.execute(sql, []).expect("tamper with the ledger");
    assert_eq!(changed, 1, "exactly one row changed by `{sql}`");
}

/// `chaos --verify-only` on `dir/name`: must fail; its JSON report.
fn verify_only_fails(dir: &std::path::Path, name: &str) -> serde_json::Value {
    let output = edalab()
        .current_dir(dir)
        .args(["--data-dir", name, "chaos", "--verify-only", "--json"])
        .output()
        .expect("run edalab chaos --verify-only");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the checker must fail on the {name} directory: {stdout}"
    );
    assert!(
        stderr.contains("data kept in") && stderr.contains(name),
        "the error names the directory: {stderr}"
    );
    serde_json::from_str(stdout.trim()).expect("one JSON report")
}

#[test]
fn chaos_rejects_bad_flags_with_their_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&[&str], &str); 5] = [
        (&["chaos", "--kills", "1", "--rate", "0"], "--rate"),
        (&["chaos", "--verify-only"], "--data-dir"),
        (
            &["--data-dir", "nothing-here", "chaos", "--verify-only"],
            "no ledger here",
        ),
        (&["chaos"], "--kills"),
        (
            &[
                "chaos",
                "--kills",
                "1",
                "--uptime-ms-min",
                "10",
                "--uptime-ms-max",
                "5",
            ],
            "--uptime-ms-min",
        ),
    ];
    for (args, named) in cases {
        let output = edalab()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run edalab chaos");
        assert!(!output.status.success(), "{args:?} must fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{args:?} names {named}: {stderr}");
    }
}

/// The ledger's consumer runtime as `edalab up` runs it, until `stop` turns true.
fn start_ledger(
    bus: &Arc<dyn Bus>,
    store: &Arc<dyn LedgerStore>,
    catalog: &Arc<SchemaCatalog>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<RunSummary, RuntimeError>> {
    let dlq = DlqRouting::to_topic(topics::SYSTEM_DLQ);
    let mut config = RuntimeConfig::new(edalab_services::ledger::consumer(), dlq);
    config.batch_size_max = 1_000;
    config.commit_interval_ms = 200;
    config.poll_timeout_ms = 200;
    let runtime = ConsumerRuntime::new(
        Arc::clone(bus),
        config,
        LedgerHandler::new(Arc::clone(store), Arc::clone(catalog)),
    )
    .with_position_store(Arc::new(LedgerPositions::new(Arc::clone(store))));
    tokio::spawn(runtime.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }))
}

async fn decided(store: &Arc<dyn LedgerStore>) -> u64 {
    let counts = store.counts().await.expect("counts");
    counts.inbox_applied + counts.inbox_rejected
}

async fn messages_on_banking_topics(bus: &Arc<dyn Bus>) -> u64 {
    let mut total = 0;
    for topic in topics::BANKING_EVENTS {
        let description = bus.describe_topic(topic).await.expect("describe");
        total += description
            .partitions
            .iter()
            .map(|p| p.high_watermark - p.log_start_offset)
            .sum::<u64>();
    }
    total
}

/// S3-17: stop the ledger consumer for 10 s during a simulation, restart it: every event
/// processed, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_consumer_stopped_for_ten_seconds_catches_up_losing_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let embedded = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open bus");
    for topic in topics::BANKING_ALL {
        embedded
            .create_topic(topic, TopicConfig::with_partitions(3))
            .await
            .expect("create topic");
    }
    let bus: Arc<dyn Bus> = Arc::new(embedded.clone());
    let store: Arc<dyn LedgerStore> = Arc::new(
        SqliteLedgerStore::open(SqliteConfig::new(dir.path().join("ledger.sqlite")))
            .await
            .expect("open store"),
    );
    let catalog = Arc::new(SchemaCatalog::builtin().expect("catalog"));
    let simulator = SimulationControl::new(
        Arc::clone(&bus),
        ControlOptions {
            scenarios_dir: None,
            ..ControlOptions::default()
        },
    )
    .expect("simulator");
    simulator
        .start(StartRequest {
            scenario: "banking-day".into(),
            rate: Some(300.0),
            duration: Some(16.0),
            pattern: Some("constant".to_owned()),
            seed: Some(317),
        })
        .await
        .expect("start the simulation");

    // The ledger runs for 3 s, then is stopped (drained, positions committed).
    let (stop_tx, stop_rx) = watch::channel(false);
    let first = start_ledger(&bus, &store, &catalog, stop_rx);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_tx.send(true).expect("stop");
    first
        .await
        .expect("ledger task")
        .expect("the first ledger run stops cleanly");
    let decided_at_stop = decided(&store).await;
    let on_topics_at_stop = messages_on_banking_topics(&bus).await;
    assert!(
        decided_at_stop > 0,
        "the ledger applied events before it stopped"
    );

    // 10 s without a ledger consumer, while the simulation goes on.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        decided(&store).await,
        decided_at_stop,
        "nothing is decided while the consumer is stopped"
    );
    let on_topics_after_pause = messages_on_banking_topics(&bus).await;
    assert!(
        on_topics_after_pause > on_topics_at_stop + 1_000,
        "the simulation kept producing during the outage ({on_topics_at_stop} → {on_topics_after_pause})"
    );

    // Restart: it resumes from the stored positions and catches up.
    let (stop_tx, stop_rx) = watch::channel(false);
    let second = start_ledger(&bus, &store, &catalog, stop_rx);
    simulator.wait().await;
    let status = simulator.status();
    assert!(status.error.is_none(), "{:?}", status.error);
    let deadline = Instant::now() + Duration::from_secs(90);
    let report = loop {
        let report = check_ledger(&*store, &*bus, &catalog)
            .await
            .expect("reconcile");
        if report.is_ok() {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "the ledger did not catch up: {:?}",
            &report.mismatches[..report.mismatches.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    stop_tx.send(true).expect("stop");
    second
        .await
        .expect("ledger task")
        .expect("the second ledger run stops cleanly");

    // Every decodable event on the topics decided exactly once; nothing else decided.
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        (counts.inbox_applied + counts.inbox_rejected) as usize,
        report.events_replayed,
        "every event processed once"
    );
    assert_eq!(
        report.messages_read as u64,
        messages_on_banking_topics(&bus).await
    );
    assert!(
        report.events_replayed >= 3_000,
        "the run produced thousands of events ({} replayed)",
        report.events_replayed
    );
    embedded.close().await.expect("close bus");
}
