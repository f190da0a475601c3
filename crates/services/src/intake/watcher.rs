//! The validator role (`tp-order-validator`): scans the inbox, queues each order file on
//! `tp-orders-queue` (raw bytes; headers `file_name`, `intake_id`), then moves it to
//! `processed/` when it is a valid order or `rejected/` when not. The worker decides the
//! recorded status; the folder only says where the file went.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use edalab_domain::order::{Order, OrderFile};

use super::{INTAKE_QUEUE, IntakeConfig, IntakeState, order_record, register_metrics};
use crate::pipeline::{Task, signalled};

pub(super) fn spawn(
    state: IntakeState,
    config: IntakeConfig,
    shutdown: crate::pipeline::Shutdown,
) -> Task {
    let handle = tokio::spawn(async move {
        let stop = signalled(shutdown);
        tokio::pin!(stop);
        let mut pruned_at: Option<std::time::Instant> = None;
        loop {
            register_metrics();
            if let Err(error) = scan(&state, &config).await {
                // A bus error: the file stays in the inbox and is tried at the next scan.
                tracing::warn!(%error, "order intake scan failed");
            }
            if pruned_at
                .is_none_or(|at| at.elapsed() >= Duration::from_millis(config.prune_interval_ms))
            {
                pruned_at = Some(std::time::Instant::now());
                super::prune::prune_folders(&state, &config).await;
            }
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(config.scan_interval_ms)) => {}
            }
        }
    });
    Task {
        name: "tp-order-validator".to_owned(),
        handle,
    }
}

/// One scan: queues and moves up to `files_per_scan_max` files, oldest name first.
pub(super) async fn scan(state: &IntakeState, config: &IntakeConfig) -> Result<usize, String> {
    let mut files = Vec::new();
    let mut entries = tokio::fs::read_dir(&state.inbox)
        .await
        .map_err(|e| format!("{}: {e}", state.inbox.display()))?;
    while let Some(entry) = entries.next_entry().await.map_err(|e| e.to_string())? {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry
            .file_type()
            .await
            .map(|t| t.is_file())
            .unwrap_or(false);
        if is_file && !name.starts_with('.') && name.ends_with(".json") {
            files.push((name, path));
        }
    }
    files.sort();
    files.truncate(config.files_per_scan_max);
    let mut queued = 0;
    for (name, path) in files {
        let metadata = tokio::fs::metadata(&path)
            .await
            .map_err(|e| e.to_string())?;
        let mtime_ns = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let intake_id = format!("{name}@{mtime_ns}:{}", metadata.len());
        if metadata.len() > config.file_size_bytes_max {
            tracing::warn!(file = %name, size = metadata.len(), "order file too large; rejected unread");
            move_to(&state.inbox, &path, &name, "rejected").await?;
            continue;
        }
        let bytes = tokio::fs::read(&path).await.map_err(|e| e.to_string())?;
        let valid = OrderFile::from_json(&bytes)
            .and_then(|file| Order::parse(&file))
            .is_ok();
        let record = order_record(&name, &intake_id, bytes);
        state
            .queues
            .send(INTAKE_QUEUE, vec![record])
            .await
            .map_err(|e| e.to_string())?;
        state
            .counters
            .files_queued_total
            .fetch_add(1, Ordering::Relaxed);
        move_to(
            &state.inbox,
            &path,
            &name,
            if valid { "processed" } else { "rejected" },
        )
        .await?;
        queued += 1;
    }
    Ok(queued)
}

/// Moves `path` into `inbox/<folder>/`, never over an existing file of the same name.
async fn move_to(inbox: &Path, path: &Path, name: &str, folder: &str) -> Result<(), String> {
    let dir = inbox.join(folder);
    let mut target: PathBuf = dir.join(name);
    let mut n = 1;
    while tokio::fs::try_exists(&target).await.unwrap_or(false) {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    tokio::fs::rename(path, &target)
        .await
        .map_err(|e| format!("moving {} to {}: {e}", path.display(), target.display()))
}
