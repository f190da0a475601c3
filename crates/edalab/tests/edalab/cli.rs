//! The `edalab` binary's bus commands, run as real processes on a fresh data directory.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn edalab(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_edalab"));
    c.arg("--data-dir")
        .arg(data_dir)
        .env_remove("EDALAB_DATA_DIR");
    c
}

fn run(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn edalab");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_owned();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(data.as_bytes());
    });
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    out
}

fn ok(cmd: &mut Command, stdin: &str) -> String {
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

fn fails(cmd: &mut Command, stdin: &str) -> String {
    let out = run(cmd, stdin);
    assert!(!out.status.success(), "{cmd:?} should fail");
    let stderr = String::from_utf8(out.stderr).expect("utf8");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

const CREATE_PAYMENTS: [&str; 7] = [
    "topics",
    "create",
    "payments",
    "--partitions",
    "3",
    "--retention-ms",
    "60000",
];

#[test]
fn topics_produce_and_tail_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert_eq!(
        ok(edalab(d).args(CREATE_PAYMENTS), ""),
        "created topic payments\n"
    );
    assert!(ok(edalab(d).args(CREATE_PAYMENTS), "").contains("already exists"));
    let err = fails(
        edalab(d).args(["topics", "create", "payments", "--partitions", "4"]),
        "",
    );
    assert!(
        err.contains("payments") && err.contains("partitions 3 (requested 4)"),
        "{err}"
    );
    assert_eq!(ok(edalab(d).args(["topics", "list"]), ""), "payments\n");

    let out = ok(
        edalab(d).args([
            "produce",
            "payments",
            "--key",
            "acct-1",
            "--header",
            "event_type=Test",
        ]),
        "{\"amount\":\"12.50\"}\nplain text\n",
    );
    let acks: Vec<(u32, u64)> = out
        .lines()
        .map(|l| {
            let (p, o) = l.split_once(' ').expect("partition offset");
            (p.parse().expect("p"), o.parse().expect("o"))
        })
        .collect();
    // Same key: same partition (Kafka's murmur2), consecutive offsets.
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0].0, acks[1].0);
    assert_eq!(
        acks[0].0,
        edalab_bus::partitioner::partition_for_key(b"acct-1", 3)
    );
    assert_eq!((acks[0].1, acks[1].1), (0, 1));

    let out = ok(
        edalab(d).args(["tail", "payments", "--from-beginning", "--format", "json"]),
        "",
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    let mut keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "headers",
            "key",
            "offset",
            "partition",
            "timestamp",
            "topic",
            "value"
        ]
    );
    assert_eq!(first["topic"], "payments");
    assert_eq!(first["key"], "acct-1");
    assert_eq!(first["offset"], 0);
    assert_eq!(first["headers"]["event_type"], "Test");
    assert_eq!(first["value"]["amount"], "12.50", "JSON values are decoded");
    assert!(first["timestamp"].as_i64().expect("timestamp ms") > 1_600_000_000_000);
    assert_eq!(lines[1]["value"], "plain text");

    let described = ok(edalab(d).args(["topics", "describe", "payments"]), "");
    assert!(
        described.contains("partitions 3") && described.contains("retention_ms 60000"),
        "{described}"
    );
    // Default tail (last 10 per partition, text) exits at the end.
    let text = ok(edalab(d).args(["tail", "payments"]), "");
    assert_eq!(text.lines().count(), 2);
}

#[test]
fn bad_input_is_a_clear_error_never_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let err = fails(edalab(d).args(["tail", "ghost"]), "");
    assert!(err.contains("unknown topic `ghost`"), "{err}");
    let err = fails(edalab(d).args(["produce", "ghost"]), "x\n");
    assert!(err.contains("unknown topic `ghost`"), "{err}");
    let err = fails(
        edalab(d).args(["topics", "create", "z", "--partitions", "0"]),
        "",
    );
    assert!(err.contains("invalid partition count 0"), "{err}");
    let err = fails(
        edalab(d).args(["topics", "create", "z", "--partitions", "5000"]),
        "",
    );
    assert!(err.contains("invalid partition count 5000"), "{err}");
    let err = fails(edalab(d).args(["topics", "describe", "ghost"]), "");
    assert!(err.contains("ghost"), "{err}");
    ok(
        edalab(d).args(["topics", "create", "z", "--partitions", "1"]),
        "",
    );
    let big = format!("{}\n", "x".repeat((1 << 20) + 10));
    let err = fails(edalab(d).args(["produce", "z"]), &big);
    assert!(err.contains("exceeds the limit of 1048576 bytes"), "{err}");

    // Corrupt data file on start: named in the error.
    ok(edalab(d).args(["produce", "z"]), "hello\nworld\n");
    let seg = d.join("bus/topics/z/0/00000000000000000000.log");
    let mut bytes = std::fs::read(&seg).expect("segment");
    bytes[32] ^= 0xff;
    std::fs::write(&seg, bytes).expect("write");
    let err = fails(edalab(d).args(["produce", "z"]), "x\n");
    assert!(
        err.contains("corrupt data in") && err.contains("00000000000000000000.log"),
        "{err}"
    );
}

#[test]
fn a_running_platform_locks_writers_out_but_not_readers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut up = edalab(d)
        .args(["up", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn up");
    let mut lines = BufReader::new(up.stdout.take().expect("stdout")).lines();
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("stop with Ctrl-C") {
            break;
        }
    }
    assert!(banner.contains("embedded durable log"), "{banner}");

    let err = fails(edalab(d).args(["produce", "system.dlq"]), "x\n");
    assert!(
        err.contains("locked by another process") && err.contains(&format!("pid {}", up.id())),
        "{err}"
    );
    assert!(err.contains(&d.display().to_string()), "{err}");
    let err = fails(
        edalab(d).args(["topics", "create", "x", "--partitions", "1"]),
        "",
    );
    assert!(err.contains("locked"), "{err}");
    // Readers work next to it.
    let topics = ok(edalab(d).args(["topics", "list"]), "");
    for t in [
        "bancaire.compte.ouvert",
        "system.dlq",
        "transactions-events",
        "fraud-alerts",
        "notifications",
        "orders.created",
        "payments.dlq",
    ] {
        assert!(
            topics.lines().any(|l| l == t),
            "missing seed topic {t}: {topics}"
        );
    }
    let described = ok(
        edalab(d).args(["topics", "describe", "transactions-events"]),
        "",
    );
    assert!(
        described.contains("partitions 3")
            && described.contains("retention_ms 604800000")
            && described.contains("gzip"),
        "{described}"
    );
    ok(
        edalab(d).args(["tail", "system.dlq", "--from-beginning"]),
        "",
    );
    // DLQ inspection reads through a consumer group, so it needs the directory for writing.
    let err = fails(edalab(d).args(["dlq", "list", "system.dlq"]), "");
    assert!(err.contains("locked"), "{err}");

    // SIGTERM: clean stop, exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &up.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = up.wait().expect("wait up");
    assert!(status.success(), "edalab up exits 0 on SIGTERM: {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("stopped cleanly")),
        "{rest:?}"
    );
    // Once stopped, writers work again.
    let out = ok(edalab(d).args(["produce", "system.dlq"]), "after\n");
    assert_eq!(out.lines().count(), 1);
    let listed = ok(
        edalab(d).args(["dlq", "list", "system.dlq", "--format", "json"]),
        "",
    );
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains("invalid"),
        "a plain message is not a DLQ entry: {listed}"
    );
}

/// `bench bus` on the embedded profile measures a scratch log in the data directory and
/// removes it; its report names the bus it measured.
#[test]
fn bench_bus_measures_the_embedded_log_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ok(
        edalab(dir.path()).args([
            "bench",
            "bus",
            "--json",
            "--messages",
            "5000",
            "--latency-seconds",
            "1",
            "--rate-per-second",
            "1000",
        ]),
        "",
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON report");
    assert_eq!(report["profile"], "embedded", "{report}");
    assert_eq!(report["messages"], 5000, "{report}");
    assert_eq!(report["latency_messages"], 1000, "{report}");
    assert!(
        report["produce_per_second"].as_f64() > Some(0.0),
        "{report}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("data dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("bench-"))
        .collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
}

/// `bench bus --peer nats` runs the same two phases on NATS JetStream (issue 24) and reports
/// both, with the ratios; its streams are deleted afterwards.
#[test]
fn bench_bus_measures_nats_jetstream_beside_the_embedded_log() {
    let Ok(nats_url) = std::env::var("EDALAB_TEST_NATS_URL") else {
        eprintln!(
            "\n!!!!!!!!!! SKIPPED: EDALAB_TEST_NATS_URL is unset (make test sets it) !!!!!!!!!!\n"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ok(
        edalab(dir.path()).args([
            "bench",
            "bus",
            "--json",
            "--messages",
            "3000",
            "--latency-seconds",
            "1",
            "--rate-per-second",
            "1000",
            "--peer",
            "nats",
            "--nats-url",
            &nats_url,
        ]),
        "",
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON report");
    let peer = &report["peer"];
    assert!(
        peer["bus"]
            .as_str()
            .is_some_and(|b| b.starts_with("NATS JetStream")),
        "{report}"
    );
    assert_eq!(peer["messages"], 3000, "{report}");
    assert_eq!(peer["latency_messages"], 1000, "{report}");
    assert!(peer["consume_per_second"].as_f64() > Some(0.0), "{report}");
    assert!(peer["latency_ms_p99"].as_f64() > Some(0.0), "{report}");
    for ratio in ["produce_per_second", "consume_per_second", "latency_ms_p99"] {
        assert!(
            report["ratio"][ratio].as_f64() > Some(0.0),
            "{ratio}: {report}"
        );
    }
}

#[test]
fn bench_bus_names_an_unreachable_nats_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = fails(
        edalab(dir.path()).args([
            "bench",
            "bus",
            "--messages",
            "1000",
            "--latency-seconds",
            "1",
            "--rate-per-second",
            "100",
            "--peer",
            "nats",
            "--nats-url",
            "nats://127.0.0.1:1",
        ]),
        "",
    );
    assert!(stderr.contains("--nats-url nats://127.0.0.1:1"), "{stderr}");
}

/// `bench ledger` measures the backend's raw insert ceiling beside the ledger and reports
/// the ratio, on SQLite and on PostgreSQL (issue 24).
#[test]
fn bench_ledger_reports_the_raw_ceiling_beside_the_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut stores = vec![("sqlite", None)];
    if let Some(url) = edalab_store::testing::postgres_url_or_skip("bench ledger on postgres") {
        stores.push(("postgres", Some(url)));
    }
    for (store, url) in stores {
        let mut cmd = edalab(dir.path());
        cmd.args([
            "bench",
            "ledger",
            "--json",
            "--events",
            "3000",
            "--batch-size",
            "500",
        ])
        .args(["--store", store]);
        if let Some(url) = &url {
            cmd.args(["--postgres-url", url]);
        }
        let out = ok(&mut cmd, "");
        let report: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON report");
        assert_eq!(report["store"], store, "{report}");
        assert_eq!(report["events"], 3000, "{report}");
        let ceiling = report["ceiling_rows_per_second"].as_f64().unwrap_or(0.0);
        let rate = report["events_per_second"].as_f64().unwrap_or(0.0);
        assert!(ceiling > 0.0 && rate > 0.0, "{report}");
        let ratio = report["ceiling_ratio"].as_f64().unwrap_or(0.0);
        assert!((ratio - rate / ceiling).abs() < 0.002, "{report}");
    }
}

#[test]
fn bench_e2e_names_a_bad_fsync_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report");
    let stderr = fails(
        edalab(dir.path())
            .args([
                "bench",
                "e2e",
                "--quick",
                "--no-progress",
                "--fsync",
                "always,bogus",
                "--out",
            ])
            .arg(&out),
        "",
    );
    assert!(stderr.contains("--fsync"), "{stderr}");
    assert!(stderr.contains("bogus"), "{stderr}");
    // Refused before anything ran: no report.
    assert!(!out.join("report.md").exists());
}

/// Issue 16's reproduction through the binary: records produced and consumed by the
/// `ledger` group, the last segment cut by 7 bytes; `up` and `produce` refuse to open the
/// log, naming the partition, the lost offsets and `edalab log repair`; the repair moves
/// the end forward, new records get offsets at or past the old end and the group reads them.
#[test]
fn a_damaged_tail_is_refused_until_log_repair_and_no_offset_is_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let topic = "bancaire.depot.effectue";
    ok(
        edalab(d).args(["topics", "create", topic, "--partitions", "3"]),
        "",
    );
    let lines: String = (0..5).map(|i| format!("deposit-{i}\n")).collect();
    let acks = ok(
        edalab(d).args([
            "produce",
            topic,
            "--key",
            "acct-1",
            "--batch-records-max",
            "1",
        ]),
        &lines,
    );
    let partition = acks
        .lines()
        .last()
        .and_then(|l| l.split_once(' '))
        .map(|(p, _)| p.to_owned())
        .expect("an acknowledgement");
    assert!(acks.ends_with(&format!("{partition} 4\n")), "{acks}");
    let consumed = ok(
        edalab(d).args(["consume", topic, "--group", "ledger", "--max-messages", "5"]),
        "",
    );
    assert!(
        consumed.contains(&format!("committed {partition} 5")),
        "{consumed}"
    );
    let seg_dir = d.join(format!("bus/topics/{topic}/{partition}"));
    let mut segments: Vec<_> = std::fs::read_dir(&seg_dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segments.sort();
    let last = segments.pop().expect("a segment");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open segment");
    let len = f.metadata().expect("meta").len();
    f.set_len(len - 7).expect("cut 7 bytes");
    drop(f);

    let up = fails(
        edalab(d).args(["up", "--listen", "127.0.0.1:0", "--profile", "embedded"]),
        "",
    );
    for needle in [
        &format!("partition {topic}/{partition} recovered to offset 4"),
        "offsets 4..=4 were acknowledged",
        "consumer group `ledger` committed 5",
        &format!("edalab log repair --data-dir {}", d.display()),
    ] {
        assert!(up.contains(needle), "`{needle}` missing from: {up}");
    }
    let produce = fails(edalab(d).args(["produce", topic]), "refused\n");
    assert!(produce.contains("edalab log repair"), "{produce}");

    let repaired = ok(edalab(d).args(["log", "repair"]), "");
    assert!(
        repaired.contains(&format!("{topic}/{partition}: end moved 4 -> 5")),
        "{repaired}"
    );
    let acks = ok(
        edalab(d).args(["produce", topic, "--key", "acct-1"]),
        "after-0\nafter-1\nafter-2\n",
    );
    assert_eq!(
        acks,
        format!("{partition} 5\n{partition} 6\n{partition} 7\n"),
        "no offset below the old end is reused"
    );
    let consumed = ok(
        edalab(d).args(["consume", topic, "--group", "ledger", "--max-messages", "3"]),
        "",
    );
    for (offset, value) in [(5, "after-0"), (6, "after-1"), (7, "after-2")] {
        assert!(
            consumed.contains(&format!("message {partition} {offset} {value}")),
            "{consumed}"
        );
    }
    assert!(
        ok(edalab(d).args(["log", "repair"]), "").contains("nothing to repair"),
        "a repaired log needs nothing more"
    );
}

/// `tail --format json` shows what a banking topic holds as `kafka-avro-console-consumer`
/// would: a CompteOuvert (Avro, Confluent-framed, as the platform writes it) decoded through
/// the data directory's schema registry with its schema id, and bytes that are not an event
/// as base64 with the reason.
#[test]
fn tail_decodes_avro_events_through_the_registry() {
    use edalab_bus::{Producer, Record};
    use edalab_domain::events::BankingEvent;
    use edalab_domain::events::banking::samples;
    use edalab_schema::{EventSchema, SchemaCatalog, encode_banking, wire};

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let topic = "bancaire.compte.ouvert";
    ok(
        edalab(d).args(["topics", "create", topic, "--partitions", "1"]),
        "",
    );
    let opened = samples::account_opened();
    let catalog = SchemaCatalog::builtin().expect("catalog");
    let avro = encode_banking(&catalog, &BankingEvent::from(opened.clone())).expect("encode");
    let unknown_id = wire::frame(edalab_schema::SchemaId(424_242), b"\x02");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let bus = edalab_bus::log::EmbeddedBus::open(d, edalab_bus::log::LogConfig::default())
            .expect("open the bus");
        let values = [avro, vec![0xff, 0xfe, 0x01], unknown_id];
        let records = values.into_iter().map(|v| Record::new(None, v)).collect();
        bus.produce(topic, records).await.expect("produce");
        bus.close().await.expect("close");
    });

    let out = ok(
        edalab(d).args(["tail", topic, "--from-beginning", "--format", "json"]),
        "",
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    let event = &lines[0];
    assert_eq!(
        event["value_schema_id"],
        EventSchema::AccountOpened.builtin_id().0,
        "{event}"
    );
    assert_eq!(event["value"]["compte_id"], opened.account_id, "{event}");
    assert_eq!(event["value"]["client_id"], opened.client_id, "{event}");
    assert_eq!(
        event["value"]["event_id"],
        opened.event_id.to_string(),
        "{event}"
    );
    assert!(event.get("value_error").is_none(), "{event}");

    assert_eq!(lines[1]["value"]["base64"], "//4B", "{}", lines[1]);
    assert!(
        lines[1]["value_error"]
            .as_str()
            .is_some_and(|r| r.contains("0xff")),
        "{}",
        lines[1]
    );
    assert!(
        lines[2]["value_error"]
            .as_str()
            .is_some_and(|r| r.contains("schema id 424242")),
        "{}",
        lines[2]
    );
    assert!(lines[2].get("value_schema_id").is_none(), "{}", lines[2]);

    // Text shows the decoded event too.
    let text = ok(edalab(d).args(["tail", topic, "--from-beginning"]), "");
    assert!(
        text.lines().next().is_some_and(|l| {
            l.contains(&format!(
                "[schema {}]",
                EventSchema::AccountOpened.builtin_id()
            )) && l.contains(&format!("\"compte_id\":\"{}\"", opened.account_id))
        }),
        "{text}"
    );
}
