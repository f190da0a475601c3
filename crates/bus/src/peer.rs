//! What the tests that run a real peer process share (tansu here, ministack in
//! `edalab-aws`): finding it or skipping (never under `CI=true`), a free loopback port, and a
//! scratch directory with the peer's log file.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;

/// `found`, or `None` after saying why the test passes without running; under `CI=true` a
/// missing peer fails the test instead (`what`: e.g. "a Kafka test").
pub fn found_or_skip(found: Option<PathBuf>, missing: String, what: &str) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{missing} (CI=true: {what} may not be skipped)");
    }
    eprintln!("SKIPPED (the test passes without running) {missing}");
    None
}

/// A port free right now on 127.0.0.1 (the OS picks it; released before the peer binds it).
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// A fresh scratch directory for `peer` on `port`, and its log file `<peer>.log` opened
/// twice (standard output, standard error).
pub fn scratch_with_log(peer: &str, port: u16) -> Result<(PathBuf, File, File), String> {
    let dir = std::env::temp_dir().join(format!(
        "edalab-{peer}-{}-{port}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let log_path = dir.join(format!("{peer}.log"));
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    Ok((dir, log, log_err))
}
