//! Confluent's own client against edalab (issue 21, part 5), on the kafka profile with a
//! real Kafka-protocol broker (tansu) and PostgreSQL. `scripts/interop/confluent_avro.py`
//! runs under the python of `confluent-kafka` (PyPI, librdkafka in its wheel; installed by
//! `scripts/ensure-tools.sh`) with its `schema_registry` client and Avro serde, pointed at
//! edalab's `/registry`:
//!
//! - records edalab produces are decoded by `AvroDeserializer` through edalab's registry;
//! - a record `AvroSerializer` writes with a newer compatible version of the deposit schema
//!   (which the client registers itself, at run time) is applied by edalab's ledger, which
//!   fetches that writer schema and resolves it to its own;
//! - an incompatible version (a field without a default) is refused with 409, naming the
//!   field, and the client writes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::kafka_profile::Peers;
use crate::support::{Process, edalab, json_of, produce_events};

/// The python that has `confluent-kafka`: `$EDALAB_CONFLUENT_PYTHON`, else the wrapper
/// `scripts/ensure-tools.sh` writes. Missing, the test is skipped — never under `CI=true`.
fn confluent_python_or_skip(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("EDALAB_CONFLUENT_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/edalab/bin/confluent-python"))
        })
        .filter(|p| p.is_file());
    let missing = format!(
        "{test}: confluent-kafka's python not found ($EDALAB_CONFLUENT_PYTHON, \
         ~/.cache/edalab/bin/confluent-python): run scripts/ensure-tools.sh"
    );
    edalab_bus::peer::found_or_skip(path, missing, "an interop test")
}

/// What one run of `confluent_avro.py` did.
struct Run {
    status: i32,
    lines: Vec<Value>,
    stderr: String,
}

/// `confluent_avro.py <args>` (off the async runtime), fed `stdin`.
async fn confluent(python: &Path, args: Vec<String>, stdin: String) -> Run {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/interop/confluent_avro.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command.spawn().expect("run confluent_avro.py");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).expect("write stdin");
        drop(input);
        let output = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&output.stdout);
        Run {
            status: output.status.code().unwrap_or(-1),
            lines: stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
                .collect(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("join")
}

const DEPOSITS: &str = "bancaire.depot.effectue";

/// The deposit schema with one more field, `agence`, with a default: a version 2 that the
/// subject's level (BACKWARD_TRANSITIVE) accepts and edalab's version 1 can read.
fn deposit_v2() -> String {
    let mut schema: Value =
        serde_json::from_str(edalab_schema::EventSchema::DepositMade.source()).expect("JSON");
    let fields = schema["fields"].as_array_mut().expect("fields");
    fields.push(json!({"name": "agence", "type": "string", "default": "siège"}));
    schema.to_string()
}

/// The deposit schema with a field without a default: version 1 data has no value for it,
/// so BACKWARD_TRANSITIVE refuses it (as Confluent's registry does).
fn deposit_incompatible() -> String {
    let mut schema: Value =
        serde_json::from_str(edalab_schema::EventSchema::DepositMade.source()).expect("JSON");
    let fields = schema["fields"].as_array_mut().expect("fields");
    fields.push(json!({"name": "guichetier", "type": "string"}));
    schema.to_string()
}

async fn get(http: &reqwest::Client, url: String) -> (reqwest::StatusCode, Value) {
    json_of(http.get(&url).send().await.expect("GET")).await
}

/// An amount such as `"1250.50"` in cents.
fn cents(amount: &Value) -> i64 {
    let text = amount
        .as_str()
        .unwrap_or_else(|| panic!("an amount: {amount}"));
    let (units, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let fraction = format!("{fraction:0<2}");
    let units: i64 = units.parse().expect("units");
    units * 100 + fraction[..2].parse::<i64>().expect("cents")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_clients_read_edalab_records_and_edalab_applies_theirs() {
    let test = "interop with confluent-kafka";
    let Some(python) = confluent_python_or_skip(test) else {
        return;
    };
    let Some(Peers {
        broker,
        database,
        dir,
    }) = Peers::start_or_skip(test).await
    else {
        return;
    };
    let mut command = edalab(dir.path());
    command
        .args(["up", "--listen", "127.0.0.1:0", "--profile", "kafka"])
        .args(["--brokers", broker.brokers()])
        .args(["--database-url", database.url()]);
    let platform = Process::start(command);
    let registry = platform.url("/registry");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let common = |verb: &str, topic: &str| -> Vec<String> {
        [
            verb,
            "--bootstrap",
            broker.brokers(),
            "--registry",
            &registry,
        ]
        .into_iter()
        .chain(["--topic", topic, "--timeout", "60"])
        .map(str::to_owned)
        .collect()
    };

    // edalab → Confluent: three accounts opened by edalab, decoded by AvroDeserializer.
    produce_events(&http, &platform, "CompteOuvert", 3).await;
    let mut args = common("consume", "bancaire.compte.ouvert");
    args.extend(["--count".to_owned(), "3".to_owned()]);
    let opened = confluent(&python, args, String::new()).await;
    assert_eq!(opened.status, 0, "{}", opened.stderr);
    assert_eq!(opened.lines.len(), 3, "{:?}", opened.lines);
    let (_, latest) = get(
        &http,
        format!("{registry}/subjects/bancaire.compte.ouvert-value/versions/latest"),
    )
    .await;
    for record in &opened.lines {
        assert_eq!(record["schema_id"], latest["id"], "{record} {latest}");
        assert!(record["value"]["compte_id"].is_string(), "{record}");
        assert_eq!(record["key"], record["value"]["compte_id"], "{record}");
    }
    let account = opened.lines[0]["value"]["compte_id"]
        .as_str()
        .expect("compte_id")
        .to_owned();

    // The ledger has opened it.
    let account_url = platform.url(&format!("/api/v1/comptes/{account}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        let (status, body) = get(&http, account_url.clone()).await;
        if status == reqwest::StatusCode::OK {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "account {account}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Confluent → edalab: a deposit written with version 2 (registered by the client now).
    let schemas = tempfile::tempdir().expect("dir");
    let v2 = schemas.path().join("depot-v2.avsc");
    std::fs::write(&v2, deposit_v2()).expect("write v2");
    let deposit = json!({
        "event_id": "0b9f6c1e-8a57-4d6e-9a43-5c1d2e3f4a5b",
        "timestamp": 1_796_000_000_000_i64,
        "compte_id": account,
        "montant": "125.50",
        "devise": before["devise"],
        "reference": "interop-v2",
        "canal": "GUICHET",
        "metadata": null,
        "agence": "Lyon Part-Dieu",
    });
    let mut args = common("produce", DEPOSITS);
    args.extend(["--schema".to_owned(), v2.display().to_string()]);
    args.extend(["--records", "-", "--key-field", "compte_id"].map(str::to_owned));
    let written = confluent(&python, args, format!("{deposit}\n")).await;
    assert_eq!(written.status, 0, "{}", written.stderr);
    assert_eq!(written.lines.len(), 1, "{:?}", written.lines);
    let v2_id = written.lines[0]["schema_id"].clone();
    let (_, versions) = get(
        &http,
        format!("{registry}/subjects/{DEPOSITS}-value/versions"),
    )
    .await;
    assert_eq!(versions, json!([1, 2]), "the client registered version 2");
    let (_, v2_registered) = get(
        &http,
        format!("{registry}/subjects/{DEPOSITS}-value/versions/2"),
    )
    .await;
    assert_eq!(v2_registered["id"], v2_id, "{v2_registered}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let (_, body) = get(&http, account_url.clone()).await;
        if body["solde"] != before["solde"] {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the ledger did not apply the version-2 deposit: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(cents(&after["solde"]) - cents(&before["solde"]), 12_550);
    let (_, history) = get(&http, format!("{account_url}/transactions")).await;
    let applied = history["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .filter(|t| t["reference"] == "interop-v2")
        .count();
    assert_eq!(applied, 1, "{history}");

    // An incompatible version is refused with 409; the client writes nothing.
    let broken = schemas.path().join("depot-broken.avsc");
    std::fs::write(&broken, deposit_incompatible()).expect("write");
    let mut args = common("produce", DEPOSITS);
    args.extend(["--schema".to_owned(), broken.display().to_string()]);
    args.extend(["--records", "-", "--key-field", "compte_id"].map(str::to_owned));
    let mut refused_deposit = deposit.clone();
    refused_deposit["reference"] = json!("interop-broken");
    refused_deposit["guichetier"] = json!("G-12");
    let refused = confluent(&python, args, format!("{refused_deposit}\n")).await;
    assert_eq!(refused.status, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("HTTP 409") && refused.stderr.contains("guichetier"),
        "{}",
        refused.stderr
    );
    assert!(refused.lines.is_empty(), "{:?}", refused.lines);
    let (_, versions) = get(
        &http,
        format!("{registry}/subjects/{DEPOSITS}-value/versions"),
    )
    .await;
    assert_eq!(versions, json!([1, 2]), "nothing registered");
    // Every deposit on the topic, read by Confluent's deserializer: only the version-2 one.
    let mut args = common("consume", DEPOSITS);
    args.extend([
        "--count".to_owned(),
        "2".to_owned(),
        "--timeout".to_owned(),
        "5".to_owned(),
    ]);
    let all = confluent(&python, args, String::new()).await;
    assert_eq!(
        all.status, 2,
        "one deposit only: {:?} {}",
        all.lines, all.stderr
    );
    assert_eq!(all.lines.len(), 1, "{:?}", all.lines);
    assert_eq!(all.lines[0]["value"]["agence"], "Lyon Part-Dieu");

    let rest = platform.stop();
    assert!(rest.contains("stopped cleanly"), "{rest}");
}
