//! `edalab simulate` as a user runs it, the real binary on fresh data directories: order
//! files land in the inbox, S0/S4 items are reported as not sent without `--target`, and
//! are POSTed to a running `edalab up` with it; a bad `--target` is an error naming the
//! flag. Also checks that `edalab up`'s simulator delivers S0/S4 items in process
//! (`POST /api/v1/events/produce`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn edalab(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_edalab"));
    for (name, _) in std::env::vars() {
        if name.starts_with("EDALAB") {
            c.env_remove(name);
        }
    }
    c.arg("--data-dir").arg(data_dir).stdin(Stdio::null());
    c
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("run edalab")
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// The summary's `type sent refused` rows.
fn table(summary: &str) -> BTreeMap<String, (u64, u64)> {
    let mut rows = BTreeMap::new();
    for line in summary.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [kind, sent, refused] = fields.as_slice()
            && let (Ok(sent), Ok(refused)) = (sent.parse(), refused.parse())
        {
            rows.insert((*kind).to_owned(), (sent, refused));
        }
    }
    rows
}

/// `NOT SENT: N items for POST /api/v1<path>` → N.
fn not_sent(summary: &str, path: &str) -> Option<u64> {
    summary.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("NOT SENT: ")?;
        let (n, rest) = rest.split_once(' ')?;
        rest.contains(&format!("POST /api/v1{path}:"))
            .then(|| n.parse().ok())
            .flatten()
    })
}

#[test]
fn offline_run_writes_order_files_and_reports_the_items_not_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let summary = stdout_of(edalab(d).args([
        "simulate",
        "--scenario",
        "banking-day",
        "--pattern",
        "constant",
        "--rate",
        "300",
        "--duration",
        "2",
        "--seed",
        "7",
        "--quiet",
    ]));
    let rows = table(&summary);
    let transactions = not_sent(&summary, "/transactions").expect(&summary);
    let orders = not_sent(&summary, "/orders").expect(&summary);
    assert!(transactions > 0 && orders > 0, "{summary}");
    assert!(summary.contains("--target http://HOST:PORT"), "{summary}");
    // Nothing else is skipped, and S0/S4 items are not counted as sent.
    assert!(
        !rows.contains_key("Transaction") && !rows.contains_key("Order"),
        "{summary}"
    );
    let (total, _) = rows["total"];
    let by_type: u64 = rows
        .iter()
        .filter(|(k, _)| k.as_str() != "total" && k.as_str() != "event")
        .map(|(_, (sent, _))| sent)
        .sum();
    assert_eq!(by_type, total, "{summary}");
    // Every generated item is either sent or reported as not sent: 300/s for 2 s.
    assert_eq!(total + transactions + orders, 600, "{summary}");

    // The order files are in the inbox, whole, for the intake at the next `edalab up`.
    let (files, _) = rows["OrderFile"];
    assert!(files > 0, "{summary}");
    let inbox = d.join("inbox/orders");
    let written: Vec<_> = std::fs::read_dir(&inbox)
        .expect("inbox")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(written.len() as u64, files, "{written:?}");
    for path in &written {
        let name = path.file_name().expect("name").to_string_lossy();
        assert!(name.ends_with(".json") && !name.starts_with('.'), "{name}");
    }
    assert!(summary.contains("order files written into"), "{summary}");
}

#[test]
fn a_bad_target_is_an_error_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    for target in [
        "ftp://example.org",
        "http://127.0.0.1:1/api",
        "not a url",
        "http://127.0.0.1:1",
    ] {
        let out = output(edalab(dir.path()).args([
            "simulate",
            "--scenario",
            "orders",
            "--duration",
            "1",
            "--quiet",
            "--target",
            target,
        ]));
        assert!(!out.status.success(), "{target} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--target"), "{target}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// `edalab up` in `dir` on a free port; answers the child and its base URL.
fn up(dir: &Path) -> (Child, String) {
    up_with(dir, &[])
}

/// [`up`] with extra environment variables.
fn up_with(dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = edalab(dir)
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("EDALAB__LOG__LEVEL", "warn")
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start edalab up");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let base = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("edalab up prints its URLs");
        if let Some(rest) = line.trim().strip_prefix("API") {
            let url = rest.split_whitespace().next().expect("URL");
            break url.trim_end_matches("/api/v1").to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    (child, base)
}

fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            assert!(exit.success(), "edalab up exited with {exit}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "edalab up did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_mode_posts_to_a_running_platform_and_up_delivers_in_process() {
    let platform_dir = tempfile::tempdir().expect("tempdir");
    let (child, base) = up(platform_dir.path());

    // `edalab up`'s own simulator delivers S0/S4/S2 items in process.
    let client = reqwest::Client::new();
    for (event_type, path) in [
        ("Order", "/api/v1/orders"),
        ("Transaction", "/api/v1/transactions"),
    ] {
        let answer: serde_json::Value = client
            .post(format!("{base}/api/v1/events/produce"))
            .json(&serde_json::json!({"event_type": event_type, "count": 2}))
            .send()
            .await
            .expect("produce")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["events_produced"], 2, "{event_type}: {answer}");
        assert_eq!(answer["events_skipped"], serde_json::json!({}), "{answer}");
        let id = answer["references"][0].as_str().expect("reference");
        let status = if path.ends_with("orders") {
            format!("{base}{path}/{id}/status")
        } else {
            format!("{base}{path}/{id}")
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(&status).await.expect("GET").status() != reqwest::StatusCode::OK {
            assert!(Instant::now() < deadline, "{status} never found");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The CLI posts the `orders` scenario's bodies to it, from the platform's own data
    // directory (held by it: only bus items could not go).
    let summary = stdout_of(edalab(platform_dir.path()).args([
        "simulate",
        "--scenario",
        "orders",
        "--rate",
        "50",
        "--duration",
        "2",
        "--seed",
        "3",
        "--quiet",
        "--target",
        &base,
    ]));
    let rows = table(&summary);
    let (sent, refused) = rows["Order"];
    assert_eq!(sent, 100, "{summary}");
    assert!(
        refused > 0,
        "the scenario asks for refused bodies: {summary}"
    );
    assert!(summary.contains(&format!("POSTed to {base}")), "{summary}");
    assert!(!summary.contains("NOT SENT"), "{summary}");
    // The accepted ones (and the 2 produced above) are tracked by the saga.
    let want = sent - refused + 2;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = get_json(&format!("{base}/api/v1/orders?limit=1000")).await;
        if list["count"] == want {
            break;
        }
        assert!(Instant::now() < deadline, "{want} orders expected: {list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Order files land in the running platform's inbox and its intake picks them up.
    let summary = stdout_of(edalab(platform_dir.path()).args([
        "simulate",
        "--scenario",
        "order-files",
        "--rate",
        "20",
        "--duration",
        "1",
        "--seed",
        "5",
        "--quiet",
        "--target",
        &base,
    ]));
    let (files, _) = table(&summary)["OrderFile"];
    assert_eq!(files, 20, "{summary}");
    assert!(
        summary.contains("the running platform's intake picks them up"),
        "{summary}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = get_json(&format!("{base}/api/v1/intake/stats")).await;
        if stats["files_queued_total"] == files {
            break;
        }
        assert!(Instant::now() < deadline, "{files} files expected: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Banking events cannot be written into a held bus: reported, with what to do.
    let summary = stdout_of(edalab(platform_dir.path()).args([
        "simulate",
        "--scenario",
        "default",
        "--rate",
        "20",
        "--duration",
        "1",
        "--quiet",
        "--target",
        &base,
    ]));
    assert!(summary.contains("NOT SENT: "), "{summary}");
    assert!(
        summary.contains("held by the running platform"),
        "{summary}"
    );
    assert!(summary.contains("/api/v1/simulation/start"), "{summary}");

    // Without --target, a held data directory is refused with a pointer to the REST API.
    let out = output(edalab(platform_dir.path()).args(["simulate", "--duration", "1", "--quiet"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/api/v1/simulation/start"), "{stderr}");
    stop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_mode_sends_the_token_a_platform_requires() {
    const TOKEN: &str = "simulate-test-token-0123456789";
    let platform_dir = tempfile::tempdir().expect("tempdir");
    let (child, base) = up_with(platform_dir.path(), &[("EDALAB__SECURITY__TOKEN", TOKEN)]);
    let simulate = |token: Option<&str>| {
        let mut command = edalab(platform_dir.path());
        command.args([
            "simulate",
            "--scenario",
            "orders",
            "--rate",
            "20",
            "--duration",
            "1",
            "--seed",
            "3",
            "--quiet",
            "--target",
            &base,
        ]);
        if let Some(token) = token {
            command.args(["--token", token]);
        }
        command
    };
    for (token, why) in [
        (None, "none given"),
        (Some("wrong-token-0123456789"), "refused"),
    ] {
        let out = output(&mut simulate(token));
        assert!(!out.status.success(), "{token:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--token") && stderr.contains(why),
            "{stderr}"
        );
    }
    let summary = stdout_of(&mut simulate(Some(TOKEN)));
    let (sent, refused) = table(&summary)["Order"];
    assert_eq!(sent, 20, "{summary}");
    assert!(
        refused < sent,
        "some orders accepted with the token: {summary}"
    );
    assert!(!summary.contains("401"), "{summary}");
    stop(child);
}
