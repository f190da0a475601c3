//! across `kill -9`: a child process applies a stream of realistic banking
//! events (batches committed with their inbox rows and position); it is SIGKILLed mid-way,
//! restarted from a position rewound on purpose (so already-applied events are delivered
//! again), runs to the end, and the reconciliation then proves every event was applied
//! exactly once. On SQLite and on PostgreSQL.
//!
//! The child is this test binary itself, running the ignored `child_applies_a_stream`
//! test with `EDALAB_LEDGER_CRASH_STORE` set.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edalab_bus::port::Message;
use edalab_schema::SchemaCatalog;
use edalab_services::ledger::apply::{Source, SourcedEvent, commit_events, decode_event};
use edalab_services::ledger::bench::generate_events;
use edalab_services::ledger::reconcile;
use edalab_store::postgres::{PgConfig, PgLedgerStore};
use edalab_store::sqlite::{SqliteConfig, SqliteLedgerStore};
use edalab_store::{LedgerStore, PositionUpdate};

const STORE_VAR: &str = "EDALAB_LEDGER_CRASH_STORE";
const PROGRESS_VAR: &str = "EDALAB_LEDGER_CRASH_PROGRESS";
const REWIND_VAR: &str = "EDALAB_LEDGER_CRASH_REWIND";
const EVENTS_N: usize = 20_000;
const BATCH_SIZE: usize = 200;
const SEED: u64 = 0xC0FFEE;
const GROUP: &str = "crash-test";
const STREAM: &str = "stream";

async fn open_store(spec: &str) -> Arc<dyn LedgerStore> {
    if let Some(path) = spec.strip_prefix("sqlite:") {
        Arc::new(
            SqliteLedgerStore::open(SqliteConfig::new(path))
                .await
                .unwrap(),
        )
    } else if let Some(url) = spec.strip_prefix("postgres:") {
        Arc::new(PgLedgerStore::connect(&PgConfig::new(url)).await.unwrap())
    } else {
        panic!("bad {STORE_VAR}: {spec}")
    }
}

/// The stream: event `i` is at offset `i` of one partition.
fn stream() -> Vec<(&'static str, Vec<u8>)> {
    generate_events(EVENTS_N, SEED).unwrap()
}

#[tokio::test]
#[ignore = "child process of the kill -9 tests"]
async fn child_applies_a_stream() {
    let Ok(spec) = std::env::var(STORE_VAR) else {
        return;
    };
    let progress = std::env::var(PROGRESS_VAR).unwrap();
    let rewind: u64 = std::env::var(REWIND_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let store = open_store(&spec).await;
    let catalog = SchemaCatalog::builtin().unwrap();
    let events = stream();
    let position = store
        .positions(GROUP)
        .await
        .unwrap()
        .first()
        .map_or(0, |p| p.next_offset);
    let mut offset = position.saturating_sub(rewind) as usize;
    let mut batches = 0u64;
    while offset < events.len() {
        let end = (offset + BATCH_SIZE).min(events.len());
        let batch: Vec<SourcedEvent> = (offset..end)
            .filter_map(|i| {
                let (topic, bytes) = &events[i];
                decode_event(&catalog, topic, bytes)
                    .ok()
                    .map(|event| SourcedEvent {
                        event,
                        source: Source {
                            topic: (*topic).to_owned(),
                            partition: 0,
                            offset: i as u64,
                        },
                    })
            })
            .collect();
        let position = PositionUpdate {
            group: GROUP.to_owned(),
            topic: STREAM.to_owned(),
            partition: 0,
            next_offset: end as u64,
        };
        commit_events(&*store, &catalog, &batch, vec![position])
            .await
            .unwrap();
        batches += 1;
        std::fs::write(&progress, batches.to_string()).unwrap();
        offset = end;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    std::fs::write(&progress, "done").unwrap();
}

fn spawn_child(spec: &str, progress: &Path, rewind: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ledger_crash::child_applies_a_stream",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STORE_VAR, spec)
        .env(PROGRESS_VAR, progress)
        .env(REWIND_VAR, rewind.to_string())
        .spawn()
        .unwrap()
}

fn read_progress(progress: &Path) -> String {
    std::fs::read_to_string(progress).unwrap_or_default()
}

async fn kill_restart_reconcile(spec: &str, dir: &Path) {
    let progress = dir.join("progress");
    // 1. Start, let it commit some batches, SIGKILL it mid-stream.
    let mut child = spawn_child(spec, &progress, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let batches: u64 = read_progress(&progress).parse().unwrap_or(0);
        if batches >= 15 {
            break;
        }
        assert!(
            read_progress(&progress) != "done",
            "the child finished before the kill"
        );
        assert!(Instant::now() < deadline, "the child made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished: {status:?}");
    assert_ne!(read_progress(&progress), "done");

    let store = open_store(spec).await;
    let applied_at_kill = store.counts().await.unwrap();
    let decided_at_kill = applied_at_kill.inbox_applied + applied_at_kill.inbox_rejected;
    assert!(
        decided_at_kill > 0 && decided_at_kill < EVENTS_N as u64,
        "{applied_at_kill:?}"
    );

    // 2. Restart with the position rewound by 1 000 events: those are delivered again.
    let mut child = spawn_child(spec, &progress, 1_000);
    let status = child.wait().unwrap();
    assert!(status.success(), "restart failed: {status:?}");
    assert_eq!(read_progress(&progress), "done");

    // 3. Every event applied exactly once, and the balances are the events'.
    let catalog = SchemaCatalog::builtin().unwrap();
    let messages: Vec<Message> = stream()
        .into_iter()
        .enumerate()
        .map(|(i, (topic, value))| Message {
            topic: Arc::from(topic),
            partition: 0,
            offset: i as u64,
            key: None,
            value,
            headers: Vec::new(),
            timestamp_ms: 0,
        })
        .collect();
    let report = reconcile(&*store, &catalog, &messages).await.unwrap();
    assert!(
        report.is_ok(),
        "{:#?}",
        &report.mismatches[..report.mismatches.len().min(20)]
    );
    assert_eq!(report.events_replayed, EVENTS_N);
    let counts = store.counts().await.unwrap();
    assert_eq!(
        counts.inbox_applied + counts.inbox_rejected,
        EVENTS_N as u64
    );
    assert!(counts.inbox_rejected > 0, "the realistic mix has refusals");
    assert_eq!(
        store.positions(GROUP).await.unwrap()[0].next_offset,
        EVENTS_N as u64
    );
}

#[tokio::test]
async fn sqlite_kill_9_then_restart_applies_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("sqlite:{}", dir.path().join("ledger.db").display());
    kill_restart_reconcile(&spec, dir.path()).await;
}

#[tokio::test]
async fn postgres_kill_9_then_restart_applies_every_event_once() {
    let Some(url) = edalab_store::testing::postgres_url_or_skip("postgres_kill_9_then_restart")
    else {
        return;
    };
    let db = edalab_store::testing::TestDatabase::create(&url)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    kill_restart_reconcile(&format!("postgres:{}", db.url()), dir.path()).await;
}
