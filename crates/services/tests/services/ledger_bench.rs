//! A smoke run of the ledger benchmark's code path. The benchmark itself is
//! `edalab bench ledger --store sqlite|postgres` in a release build (docs/benchmarks.md).

use std::sync::Arc;

use edalab_services::ledger::bench::bench_apply;
use edalab_store::LedgerStore;

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

// The benchmark itself is `edalab bench ledger --store sqlite|postgres` (release build);
// figures in docs/benchmarks.md. This file only checks that the bench path runs.
