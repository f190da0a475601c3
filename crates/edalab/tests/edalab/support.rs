//! Process helpers shared by the tests that run `edalab` as a user does: a command with a
//! clean environment, a started process with its base URL, SIGTERM / SIGKILL, JSON bodies.
#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// `edalab` run in `dir`, without the `EDALAB*` variables of the test's own environment,
/// logging warnings, its standard output piped.
pub fn edalab(dir: &Path) -> Command {
    let mut command = program(Path::new(env!("CARGO_BIN_EXE_edalab")), dir);
    command
        .env("EDALAB__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

/// `program` (the binary, or a copy of it) run in `dir`, without the `EDALAB*` variables of
/// the test's own environment.
pub fn program(program: &Path, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("EDALAB") {
            command.env_remove(name);
        }
    }
    command
}

/// A started `edalab` process and its base URL.
pub struct Process {
    pub child: KillOnDrop,
    pub base: String,
    /// What it printed up to its API URL.
    pub printed: Vec<String>,
    /// Its further lines of standard output.
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Process {
    /// Starts `command` and waits for it to print its API URL.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start edalab");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = Vec::new();
        let base = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("edalab prints its URLs; printed so far: {printed:?}"));
            printed.push(line.clone());
            if let Some(rest) = line.trim().strip_prefix("API") {
                let url = rest.split_whitespace().next().expect("URL");
                break url.trim_end_matches("/api/v1").to_owned();
            }
        };
        Self {
            child: KillOnDrop(child),
            base,
            printed,
            lines,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then waits; returns what it printed after.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            assert!(Instant::now() < deadline, "did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut rest = String::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            rest.push_str(&line);
            rest.push('\n');
        }
        assert!(exit.success(), "exit status {exit}: {rest}");
        rest
    }
}

/// `POST /api/v1/events/produce` `{event_type, count}` on `process`, which must succeed;
/// its answer (`event_ids`, ...).
pub async fn produce_events(
    http: &reqwest::Client,
    process: &Process,
    event_type: &str,
    count: u64,
) -> Value {
    let response = http
        .post(process.url("/api/v1/events/produce"))
        .json(&json!({ "event_type": event_type, "count": count }))
        .send()
        .await
        .expect("POST /api/v1/events/produce");
    let (status, body) = json_of(response).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    body
}

/// The text at `url` (a `/metrics` page), which must answer.
pub async fn text_at(http: &reqwest::Client, url: &str) -> String {
    let response = http.get(url).send().await.expect("GET");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.text().await.expect("text")
}

pub async fn json_of(response: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    (status, value)
}

impl Process {
    /// SIGKILL: no chance to drain, commit or close anything.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

/// A child process killed when dropped: a test that fails before `stop` or `kill` must not
/// leave it running (it would hold the test harness's output pipe open and outlive the run).
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
