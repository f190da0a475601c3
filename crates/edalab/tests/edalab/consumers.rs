//! The consumer controls in one `edalab up` (issue 22), the seed's two pub/sub exercises:
//! the ledger paused, events produced wait as lag and are not applied; resumed, they are
//! applied and the lag returns to 0; scaled to 3 members, the banking topics' partitions
//! are split among the three (each held by exactly one), then back to 1. The CLI shows the
//! same; bad input is a 400 naming `members`, an unknown group a 404.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Process, edalab, json_of, produce_events};

async fn group(http: &reqwest::Client, up: &Process) -> Value {
    let (status, body) = json_of(
        http.get(up.url("/api/v1/consumers/ledger"))
            .send()
            .await
            .expect("GET group"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    body
}

/// The group once `done` holds for it (30 s at most).
async fn group_when(
    http: &reqwest::Client,
    up: &Process,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = group(http, up).await;
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{what}: {body:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every partition held by a member of this process, each by one only.
fn split_among(body: &Value, members: usize) -> bool {
    let held: Vec<&Value> = body["members"].as_array().into_iter().flatten().collect();
    let mut seen = BTreeSet::new();
    let each_holds = held.iter().all(|m| {
        let partitions = m["partitions"].as_array().cloned().unwrap_or_default();
        partitions.iter().all(|p| seen.insert(p.to_string())) && !partitions.is_empty()
    });
    let partitions = body["partitions"].as_array().map_or(0, Vec::len);
    held.len() == members && each_holds && seen.len() == partitions && partitions > 0
}

async fn control(http: &reqwest::Client, up: &Process, path: &str, body: Option<Value>) -> Value {
    let url = up.url(&format!("/api/v1/consumers/ledger{path}"));
    let request = match body {
        Some(body) => http.put(url).json(&body),
        None => http.post(url),
    };
    let (status, body) = json_of(request.send().await.expect("control")).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_pauses_resumes_and_scales_in_one_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"]);
    let up = Process::start(command);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");

    let one = group_when(&http, &up, "one member holds every partition", |g| {
        split_among(g, 1)
    })
    .await;
    assert_eq!(one["state"], "running", "{one}");
    assert_eq!(
        one["partitions"].as_array().map(Vec::len),
        Some(21),
        "7 topics × 3"
    );

    // Exercise 1: stop the consumer, produce, restart, observe that the events are applied.
    let paused = control(&http, &up, "/pause", None).await;
    assert_eq!(paused["state"], "paused", "{paused}");
    assert_eq!(paused["members"], json!([]), "{paused}");
    let produced = produce_events(&http, &up, "CompteOuvert", 20).await;
    assert_eq!(produced["events_produced"], 20, "{produced}");
    let waiting = group_when(&http, &up, "the lag shows the waiting events", |g| {
        g["lag_total"].as_u64() == Some(20)
    })
    .await;
    assert!(
        waiting["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .all(|p| p["member"].is_null()),
        "no member holds anything while paused: {waiting}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        group(&http, &up).await["lag_total"],
        20,
        "nothing applied while paused"
    );
    let resumed = control(&http, &up, "/resume", None).await;
    assert_eq!(resumed["state"], "running", "{resumed}");
    group_when(&http, &up, "the lag returns to 0", |g| {
        g["lag_total"].as_u64() == Some(0) && split_among(g, 1)
    })
    .await;

    // Exercise 2: three members split the partitions, then back to one.
    let three = control(&http, &up, "/members", Some(json!({"members": 3}))).await;
    assert_eq!(three["members_target"], 3, "{three}");
    let three = group_when(&http, &up, "three members split the partitions", |g| {
        split_among(g, 3)
    })
    .await;
    for member in three["members"].as_array().expect("members") {
        assert_eq!(
            member["partitions"].as_array().map(Vec::len),
            Some(7),
            "{three}"
        );
    }
    let status = edalab(dir.path())
        .args(["consumers", "status", "ledger", "--target", &up.base])
        .output()
        .expect("edalab consumers status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(
        text.starts_with("group ledger · running · 3 members (target 3) · lag 0"),
        "{text}"
    );
    produce_events(&http, &up, "CompteOuvert", 30).await;
    group_when(&http, &up, "three members apply everything", |g| {
        g["lag_total"].as_u64() == Some(0)
    })
    .await;
    let scaled = edalab(dir.path())
        .args(["consumers", "scale", "ledger", "1", "--target", &up.base])
        .output()
        .expect("edalab consumers scale");
    assert!(scaled.status.success(), "{scaled:?}");
    group_when(&http, &up, "one member again", |g| split_among(g, 1)).await;

    // Bad input names what is wrong.
    let (status, body) = json_of(
        http.put(up.url("/api/v1/consumers/ledger/members"))
            .json(&json!({"members": 0}))
            .send()
            .await
            .expect("PUT"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "members", "{body}");
    let (status, body) = json_of(
        http.post(up.url("/api/v1/consumers/nobody/pause"))
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("`nobody`"),
        "{body}"
    );
    every_group_is_listed_and_only_pools_are_controlled(&http, &up).await;
    let refused = edalab(dir.path())
        .args(["consumers", "scale", "ledger", "17", "--target", &up.base])
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("edalab consumers scale 17");
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(error.contains("members: "), "{error}");

    // Stopped cleanly, the ledger reconciles with the topics: nothing lost or doubled
    // across the pause, the scale-up and the scale-down.
    up.stop();
    let check = edalab(dir.path())
        .args(["--data-dir", "data", "check", "ledger"])
        .output()
        .expect("check ledger");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// `GET /api/v1/consumers` lists every group of the platform (issue 23 part 2): the ledger's
/// first, controllable, then the pipelines' groups as the bus sees them, observed — their
/// partitions and lag, no members, and a 409 naming `group` for a control.
async fn every_group_is_listed_and_only_pools_are_controlled(http: &reqwest::Client, up: &Process) {
    let (status, body) = json_of(
        http.get(up.url("/api/v1/consumers"))
            .send()
            .await
            .expect("GET consumers"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let groups = body["groups"].as_array().expect("groups");
    assert_eq!(groups[0]["group"], "ledger", "{body}");
    assert_eq!(groups[0]["controllable"], true, "{body}");
    for name in [
        "transactions-processor",
        "calculator-workers",
        "tp-order-worker",
    ] {
        let group = groups
            .iter()
            .find(|g| g["group"] == name)
            .unwrap_or_else(|| panic!("no group `{name}` in {body}"));
        assert_eq!(group["state"], "observed", "{group}");
        assert_eq!(group["controllable"], false, "{group}");
        assert_eq!(group["members"], json!([]), "{group}");
        assert!(
            !group["partitions"]
                .as_array()
                .expect("partitions")
                .is_empty(),
            "{group}"
        );
    }
    let (status, one) = json_of(
        http.get(up.url("/api/v1/consumers/calculator-workers"))
            .send()
            .await
            .expect("GET group"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{one}");
    assert_eq!(one["state"], "observed", "{one}");
    let (status, error) = json_of(
        http.post(up.url("/api/v1/consumers/calculator-workers/pause"))
            .send()
            .await
            .expect("POST pause"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CONFLICT, "{error}");
    assert_eq!(error["details"][0]["field"], "group", "{error}");
}
