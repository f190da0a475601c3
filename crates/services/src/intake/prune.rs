//! Pruning of `processed/` and `rejected/`: files older than
//! [`IntakeConfig::kept_file_age_ms_max`] are removed, then the oldest beyond
//! [`IntakeConfig::kept_files_max`], so the inbox's trail stays bounded however many files
//! arrive. Age is the file's modification time against the intake's injected clock.
//!
//! Owns nothing else: the inbox itself and what the store recorded are never touched.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{IntakeConfig, IntakeState};

/// The folders pruned, under the inbox.
const FOLDERS: [&str; 2] = ["processed", "rejected"];

/// Prunes both folders; failures are logged (the next round tries again).
pub(super) async fn prune_folders(state: &IntakeState, config: &IntakeConfig) {
    let now = SystemTime::from(state.clock.now());
    for folder in FOLDERS {
        let dir = state.inbox.join(folder);
        let (age_max, count_max) = (
            Duration::from_millis(config.kept_file_age_ms_max),
            config.kept_files_max,
        );
        let task = tokio::task::spawn_blocking(move || prune(&dir, now, age_max, count_max));
        match task.await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(folder, removed, "order files pruned"),
            Ok(Err(error)) => tracing::warn!(%error, folder, "pruning order files failed"),
            Err(error) => tracing::warn!(%error, folder, "pruning task failed"),
        }
    }
}

/// Removes the files of `dir` that [`to_remove`] picks; returns how many went.
pub(super) fn prune(
    dir: &Path,
    now: SystemTime,
    age_max: Duration,
    count_max: usize,
) -> std::io::Result<usize> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        if metadata.is_file() {
            files.push((entry.path(), metadata.modified()?));
        }
    }
    let doomed = to_remove(files, now, age_max, count_max);
    for path in &doomed {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(doomed.len())
}

/// The files older than `age_max` at `now`, then the oldest of the rest beyond `count_max`.
fn to_remove(
    mut files: Vec<(PathBuf, SystemTime)>,
    now: SystemTime,
    age_max: Duration,
    count_max: usize,
) -> Vec<PathBuf> {
    // Newest first; ties by name so the choice is deterministic.
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let cutoff = now.checked_sub(age_max).unwrap_or(SystemTime::UNIX_EPOCH);
    files
        .into_iter()
        .enumerate()
        .filter(|(rank, (_, modified))| *rank >= count_max || *modified < cutoff)
        .map(|(_, (path, _))| path)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn file_aged(dir: &Path, name: &str, modified: SystemTime) {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).expect("create");
        file.set_modified(modified).expect("set mtime");
    }

    #[test]
    fn removes_old_files_then_the_oldest_beyond_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        file_aged(dir.path(), "eight-days.json", now - 8 * DAY);
        file_aged(dir.path(), "six-days.json", now - 6 * DAY);
        file_aged(dir.path(), "two-days.json", now - 2 * DAY);
        file_aged(dir.path(), "one-day.json", now - DAY);
        file_aged(dir.path(), "now.json", now);

        // Age only: the eight-day-old file goes.
        assert_eq!(prune(dir.path(), now, 7 * DAY, 100).expect("prune"), 1);
        assert!(!dir.path().join("eight-days.json").exists());
        assert!(dir.path().join("six-days.json").exists());

        // Count: three kept, the oldest of the four left goes.
        assert_eq!(prune(dir.path(), now, 7 * DAY, 3).expect("prune"), 1);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["now.json", "one-day.json", "two-days.json"]);

        // The injected clock moves on two days: everything older than seven days goes.
        let later = now + 2 * DAY;
        assert_eq!(prune(dir.path(), later, 7 * DAY, 3).expect("prune"), 0);
        let much_later = now + 8 * DAY;
        assert_eq!(prune(dir.path(), much_later, 7 * DAY, 3).expect("prune"), 3);
    }
}
