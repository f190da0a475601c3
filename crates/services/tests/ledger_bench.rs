//! The ledger benchmark, run by hand in release (`cargo test --release -p edalab-services
//! --test ledger_bench -- --ignored --nocapture`); `EDALAB_BENCH_EVENTS` sets the size.
//! A small smoke run stays in the normal suite.

use std::sync::Arc;

use edalab_services::ledger::bench::{BENCH_BATCH_SIZE_DEFAULT, bench_apply};
use edalab_store::LedgerStore;

fn events_n() -> usize {
    std::env::var("EDALAB_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000)
}

async fn run(store: Arc<dyn LedgerStore>, n: usize, batch: usize) {
    let stats = bench_apply(Arc::clone(&store), n, batch).await.unwrap();
    println!("{stats:?}");
    println!(
        "ledger bench {}: {} events in {:.2?} = {:.0} events/s (batch {}, applied {}, rejected {}, decode {:.2?})",
        stats.store,
        stats.events_total,
        stats.elapsed,
        stats.events_per_second,
        stats.batch_size,
        stats.applied_total,
        stats.rejected_total,
        stats.decode_elapsed
    );
    assert_eq!(
        stats.applied_total + stats.rejected_total,
        stats.events_total
    );
    let counts = store.counts().await.unwrap();
    assert_eq!(
        counts.inbox_applied + counts.inbox_rejected,
        stats.events_total
    );
}

#[tokio::test]
async fn smoke_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = edalab_store::testing::sqlite_store(dir.path())
        .await
        .unwrap();
    run(Arc::new(store), 3_000, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release by hand"]
async fn bench_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = edalab_store::testing::sqlite_store(dir.path())
        .await
        .unwrap();
    run(Arc::new(store), events_n(), BENCH_BATCH_SIZE_DEFAULT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release by hand"]
async fn bench_postgres() {
    let Some(url) = edalab_store::testing::postgres_url_or_skip("bench_postgres") else {
        return;
    };
    let db = edalab_store::testing::TestDatabase::create(&url)
        .await
        .unwrap();
    let store = db.store().await.unwrap();
    run(
        Arc::new(store.clone()),
        events_n() / 5,
        BENCH_BATCH_SIZE_DEFAULT,
    )
    .await;
    store.close().await;
}
